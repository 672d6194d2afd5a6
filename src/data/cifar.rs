//! CIFAR-10 in its binary distribution (`cifar-10-binary.tar.gz`, unpacked):
//!
//! ```text
//! dir/data_batch_1.bin .. data_batch_5.bin   training, 10 000 records each
//! dir/test_batch.bin                         validation, 10 000 records
//! dir/batches.meta.txt                       class names, one a line (optional)
//! ```
//!
//! A record is 3073 bytes: 1 label byte, then the 32×32 image as three planes
//! (1024 red, 1024 green, 1024 blue bytes, each row-major). The files are read whole
//! at open (150 MB for training).

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

use super::dataset::{check_index, Dataset, Splits};
use crate::error::{Error, Result};
use crate::input_file::{self, InputKind};

pub const SIDE: u32 = 32;
const PLANE: usize = (SIDE * SIDE) as usize; // 1024
/// 1 label byte + 3 planes.
pub const RECORD: usize = 1 + 3 * PLANE; // 3073

pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
pub const TEST_FILE: &str = "test_batch.bin";

/// The names in the official `batches.meta.txt`, used when the file is absent.
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// One split of CIFAR-10, held in memory.
#[derive(Clone, Debug)]
pub struct Cifar10 {
    /// Records back to back: (len, 3073) bytes.
    records: Vec<u8>,
    class_names: Vec<String>,
}

fn data_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads and checks the record files of one split, concatenated.
fn read_records(dir: &Path, names: &[&str], classes: usize) -> Result<Vec<u8>> {
    let mut records = Vec::new();
    for name in names {
        let path = dir.join(name);
        let bytes = input_file::read(&path, InputKind::CifarBatch).map_err(|source| Error::Io {
            path: path.clone(),
            what: "cannot read the CIFAR-10 batch file".into(),
            source,
        })?;
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            return Err(data_error(
                &path,
                format!(
                    "truncated or not a CIFAR-10 binary batch: {} bytes is not a whole number of \
                     {RECORD}-byte records (1 label + 3072 pixels); download cifar-10-binary.tar.gz again",
                    bytes.len()
                ),
            ));
        }
        for (r, record) in bytes.chunks_exact(RECORD).enumerate() {
            if record[0] as usize >= classes {
                return Err(data_error(
                    &path,
                    format!(
                        "record {r} has label {} but there are {classes} classes",
                        record[0]
                    ),
                ));
            }
        }
        records.extend_from_slice(&bytes);
    }
    Ok(records)
}

/// The folder that holds the batch files: `dir` itself or the archive's
/// `cifar-10-batches-bin/` inside it.
fn batch_dir(dir: &Path) -> Result<PathBuf> {
    let inner = dir.join("cifar-10-batches-bin");
    if !dir.join(TEST_FILE).exists() && inner.join(TEST_FILE).exists() {
        return Ok(inner);
    }
    if !dir.is_dir() {
        return Err(data_error(
            dir,
            "CIFAR-10 folder does not exist: check the path",
        ));
    }
    let missing: Vec<&str> = TRAIN_FILES
        .iter()
        .chain([TEST_FILE].iter())
        .copied()
        .filter(|f| !dir.join(f).exists())
        .collect();
    if !missing.is_empty() {
        return Err(data_error(
            dir,
            format!(
                "missing CIFAR-10 batch files {}: unpack cifar-10-binary.tar.gz (the binary version, not python or matlab) here",
                missing.join(", ")
            ),
        ));
    }
    Ok(dir.to_path_buf())
}

impl Cifar10 {
    /// Opens the five training batches as `train` and the test batch as `val`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Splits<Cifar10>> {
        let dir = batch_dir(dir.as_ref())?;
        let meta = dir.join("batches.meta.txt");
        let class_names: Vec<String> =
            match input_file::read_to_string(&meta, InputKind::Text) {
                Ok(text) => text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    CLASS_NAMES.iter().map(|s| s.to_string()).collect()
                }
                Err(source) => return Err(Error::Io {
                    path: meta,
                    what:
                        "cannot read the class names (delete it to use the standard CIFAR-10 names)"
                            .into(),
                    source,
                }),
            };
        if class_names.is_empty() {
            return Err(data_error(
                &meta,
                "has no class names: delete it to use the standard CIFAR-10 names",
            ));
        }
        Ok(Splits {
            train: Cifar10 {
                records: read_records(&dir, &TRAIN_FILES, class_names.len())?,
                class_names: class_names.clone(),
            },
            val: Cifar10 {
                records: read_records(&dir, &[TEST_FILE], class_names.len())?,
                class_names,
            },
        })
    }

    fn record(&self, index: usize) -> &[u8] {
        &self.records[index * RECORD..(index + 1) * RECORD]
    }
}

impl Dataset for Cifar10 {
    fn len(&self) -> usize {
        self.records.len() / RECORD
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn label(&self, index: usize) -> u32 {
        self.record(index)[0] as u32
    }

    fn image(&self, index: usize) -> Result<RgbImage> {
        check_index("CIFAR-10", index, self.len())?;
        // planes: (3, 32, 32) after the label byte
        let planes = &self.record(index)[1..];
        Ok(RgbImage::from_fn(SIDE, SIDE, |x, y| {
            let i = (y * SIDE + x) as usize;
            Rgb([planes[i], planes[PLANE + i], planes[2 * PLANE + i]])
        }))
    }
}
