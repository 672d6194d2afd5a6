//! Weight files: safetensors with torchvision's names and layouts, plus metadata that
//! says which network the tensors belong to and how its inputs are preprocessed.
//! Files are written whole or not at all (`crate::atomic_file`), so an interrupted
//! write never leaves a half-written checkpoint behind.

use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensorError;

use super::config::ModelSpec;
#[cfg(not(target_arch = "wasm32"))]
use super::weight_reader::shapes_of_header;
use super::weight_reader::WeightReader;
use crate::error::{Error, Result};
#[cfg(not(target_arch = "wasm32"))]
use crate::input_file::{self, InputKind};

/// Tensors by name, each (shape, values), plus string metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WeightFile {
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    pub metadata: HashMap<String, String>,
    /// Tensors of a file read that are not F32, F16 or BF16, by name: their dtype.
    /// Skipped, not read (no VGG has one); a network that needs one refuses the file.
    pub unread: BTreeMap<String, String>,
}

impl WeightFile {
    /// Parses safetensors bytes (F32, F16 or BF16 tensors, read as f32). `origin` names
    /// the file in error messages.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<WeightFile> {
        let mut reader = WeightReader::new(origin);
        reader.push(bytes)?;
        reader.finish()
    }

    /// Serialises to safetensors bytes (F32, little-endian).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let raw: Vec<(&String, &Vec<usize>, &[u8])> = self
            .tensors
            .iter()
            .map(|(name, (shape, values))| (name, shape, bytemuck::cast_slice::<f32, u8>(values)))
            .collect();
        let views = raw
            .iter()
            .map(|(name, shape, bytes)| {
                TensorView::new(Dtype::F32, shape.to_vec(), bytes)
                    .map(|v| (name.to_string(), v))
                    .map_err(|e| unwritable(&format!("tensor '{name}'"), e))
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata = Some(self.metadata.clone());
        safetensors::tensor::serialize(views, metadata).map_err(|e| unwritable("the file", e))
    }

    /// The largest ‖self − other‖ / ‖other‖ over `other`'s tensors (each must be in
    /// `self` with the same length): how far two trainings of one model ended apart.
    pub fn max_relative_difference(&self, other: &WeightFile) -> f64 {
        let mut worst: f64 = 0.0;
        for (name, (_, values)) in &other.tensors {
            let ours = &self.tensors[name].1;
            assert_eq!(ours.len(), values.len(), "tensor {name}: lengths differ");
            let diff: f64 = ours
                .iter()
                .zip(values)
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum();
            let norm: f64 = values.iter().map(|b| (*b as f64).powi(2)).sum();
            worst = worst.max((diff / norm.max(f64::MIN_POSITIVE)).sqrt());
        }
        worst
    }

    /// Checks that every parameter of `spec` is present with its shape. The error names
    /// the first missing or mismatched tensor and both shapes.
    pub fn check_matches(&self, spec: &ModelSpec, origin: &str) -> Result<()> {
        self.check_matches_from(spec, origin, 0)
    }

    /// As [`Self::check_matches`], for `spec`'s parameters from index `first` on
    /// alone (those a part of the network uses).
    pub fn check_matches_from(&self, spec: &ModelSpec, origin: &str, first: usize) -> Result<()> {
        for p in spec.parameters().split_off(first) {
            match self.tensors.get(&p.name) {
                None if self.unread.contains_key(&p.name) => {
                    return Err(Error::WeightFile {
                        path: origin.to_string(),
                        message: format!(
                            "tensor '{}' has dtype {}; only F32, F16 and BF16 are supported",
                            p.name, self.unread[&p.name]
                        ),
                    })
                }
                None => {
                    return Err(Error::WeightFile {
                        path: origin.to_string(),
                        message: format!(
                            "has no tensor '{}' (shape {:?}) that a VGG-{} network needs; is it a weight file of another configuration?",
                            p.name, p.shape, spec.config
                        ),
                    })
                }
                Some((shape, _)) if *shape != p.shape => {
                    return Err(Error::WeightFile {
                        path: origin.to_string(),
                        message: format!(
                            "tensor '{}' has shape {:?}, but this VGG-{} network ({} classes, input {}, width ÷{}) needs {:?}",
                            p.name, shape, spec.config, spec.classes, spec.input_size, spec.width_divisor, p.shape
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Checks that every parameter of `spec` holds finite values: a network with a NaN
    /// or an infinity in any weight computes NaN for every image, which would otherwise
    /// surface only as meaningless posteriors. The error names the first such tensor in
    /// the network's order and its first bad value.
    pub fn check_finite(&self, spec: &ModelSpec, origin: &str) -> Result<()> {
        for p in spec.parameters() {
            let Some((_, values)) = self.tensors.get(&p.name) else {
                continue; // `check_matches` reports missing tensors
            };
            let Some(first) = values.iter().position(|v| !v.is_finite()) else {
                continue;
            };
            let count = values.iter().filter(|v| !v.is_finite()).count();
            return Err(Error::WeightFile {
                path: origin.to_string(),
                message: format!(
                    "tensor '{}' holds {count} non-finite values of {} (the first, at index {first}, is {}): the training that wrote it diverged or the file is damaged; use an earlier checkpoint",
                    p.name,
                    values.len(),
                    values[first]
                ),
            });
        }
        Ok(())
    }

    /// Reads the file at `path` in chunks, so only its values are held, not its bytes
    /// as well. Only a regular file within [`InputKind::WeightFile`]'s cap is read.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(path: &std::path::Path) -> Result<WeightFile> {
        use std::io::Read;
        let fail = |source: std::io::Error| Error::Io {
            path: path.to_path_buf(),
            what: "the weight file cannot be read".into(),
            source,
        };
        let mut file = input_file::open(path, InputKind::WeightFile).map_err(fail)?;
        let mut reader = WeightReader::new(&path.display().to_string());
        let mut chunk = vec![0u8; 8 << 20];
        loop {
            match file.read(&mut chunk) {
                Ok(0) => return reader.finish(),
                Ok(n) => reader.push(&chunk[..n])?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(fail(e)),
            }
        }
    }

    /// The names, shapes and metadata of the file at `path`, with no values: what a
    /// file holds, read from its header without reading (or holding) its tensors.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_shapes(path: &std::path::Path) -> Result<WeightFile> {
        use std::io::Read;
        let origin = path.display().to_string();
        let fail = |source: std::io::Error| Error::Io {
            path: path.to_path_buf(),
            what: "the weight file cannot be read".into(),
            source,
        };
        let mut file = input_file::open(path, InputKind::WeightFile).map_err(fail)?;
        let mut length = [0u8; 8];
        file.read_exact(&mut length).map_err(fail)?;
        let length = u64::from_le_bytes(length);
        let mut header = Vec::new();
        // safetensors caps its header at 100 MB; more means it is not one.
        file.take(length.min(100 << 20))
            .read_to_end(&mut header)
            .map_err(fail)?;
        shapes_of_header(&header, &origin)
    }

    /// Writes to `path` whole or not at all ([`crate::atomic_file`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        crate::atomic_file::write(path, &bytes).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            what: "the weight file cannot be written".into(),
            source,
        })
    }
}

/// The error for weights that safetensors cannot serialise; `what` names the tensor,
/// or the whole file.
fn unwritable(what: &str, e: SafeTensorError) -> Error {
    Error::WeightFormat {
        path: "<in memory>".into(),
        message: format!("cannot be written as safetensors: {what}: {e}"),
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Config, ModelSpec};

    fn small_spec() -> ModelSpec {
        ModelSpec {
            config: Config::A,
            classes: 10,
            input_size: 32,
            width_divisor: 16,
        }
    }

    fn filled(spec: &ModelSpec) -> WeightFile {
        let mut w = WeightFile::default();
        for (i, p) in spec.parameters().into_iter().enumerate() {
            let n: usize = p.shape.iter().product();
            let values = (0..n).map(|j| (i * 7919 + j) as f32 * 1e-3 - 0.5).collect();
            w.tensors.insert(p.name, (p.shape, values));
        }
        w.metadata.insert("config".into(), "A".into());
        w
    }

    #[test]
    fn round_trip_is_bit_exact() {
        let w = filled(&small_spec());
        let back = WeightFile::from_bytes(&w.to_bytes().unwrap(), "test").unwrap();
        assert_eq!(back, w);
    }

    #[test]
    fn mismatch_names_the_tensor_and_both_shapes() {
        let w = filled(&small_spec());
        let other = ModelSpec {
            classes: 7,
            ..small_spec()
        };
        let message = w
            .check_matches(&other, "w.safetensors")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("classifier.6.weight")
                && message.contains("[10, 256]")
                && message.contains("[7, 256]"),
            "{message}"
        );
        let deeper = ModelSpec {
            config: Config::B,
            ..small_spec()
        };
        let message = w
            .check_matches(&deeper, "w.safetensors")
            .unwrap_err()
            .to_string();
        assert!(message.contains("features.2.weight"), "{message}");
    }

    #[test]
    fn non_finite_values_name_the_first_bad_tensor() {
        let spec = small_spec();
        let mut w = filled(&spec);
        assert!(w.check_finite(&spec, "w.safetensors").is_ok());
        for (name, index, value) in [
            ("classifier.6.bias", 3, f32::INFINITY),
            ("features.3.weight", 5, f32::NAN),
        ] {
            w.tensors.get_mut(name).unwrap().1[index] = value;
        }
        let message = w
            .check_finite(&spec, "w.safetensors")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("w.safetensors")
                && message.contains("'features.3.weight' holds 1 non-finite")
                && message.contains("index 5, is NaN"),
            "{message}"
        );
    }

    /// A save that fails (here the rename: a folder of the file's name is in the way)
    /// names the file and leaves no temporary file beside it.
    #[test]
    fn a_failed_save_names_the_file_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("vgg-wgpu-save-fails-{}", std::process::id()));
        let path = dir.join("checkpoint.safetensors");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(path.join("in-the-way")).unwrap();
        let message = filled(&small_spec()).save(&path).unwrap_err().to_string();
        assert!(
            message.contains(&path.display().to_string()) && message.contains("cannot be written"),
            "{message}"
        );
        assert!(
            !dir.join("checkpoint.safetensors.tmp").exists(),
            "{message}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn truncated_and_foreign_files_are_errors() {
        let bytes = filled(&small_spec()).to_bytes().unwrap();
        for broken in [
            &bytes[..bytes.len() / 2],
            b"PK\x03\x04 a zip file".as_slice(),
            &[],
        ] {
            let message = WeightFile::from_bytes(broken, "bad.safetensors")
                .unwrap_err()
                .to_string();
            assert!(
                message.contains("bad.safetensors") && message.contains("safetensors"),
                "{message}"
            );
        }
    }
}
