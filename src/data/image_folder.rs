//! ImageNet's folder layout (also torchvision's `ImageFolder`):
//!
//! ```text
//! root/train/<class>/*.{jpg,jpeg,png}
//! root/val/<class>/*.{jpg,jpeg,png}
//! ```
//!
//! Class names are the sorted names of the `train/` subfolders, and label `l` means the
//! same class in both splits. A folder of class folders without the split (`root/<class>/*.jpg`,
//! the way people keep their photos) is split by [`ImageFolder::split`]. Opening only lists files; images are decoded when asked
//! for, so a data set of a million files opens in seconds. Grayscale, CMYK and alpha
//! images come out as RGB (alpha is dropped). A file that cannot be decoded is, by
//! default, reported as [`Error::BadImage`], and the loader replaces it in training
//! batches and leaves it out of evaluation ones; with `strict` it is an [`Error::Data`]
//! that stops training. So is an entry with an image's name that is not a regular file
//! (a link to /dev/zero, a FIFO): see [`crate::input_file`].

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{ImageError, ImageFormat, ImageReader, Limits, RgbImage};

use super::dataset::{check_index, Dataset, Splits};
use super::rng::Rng;
use crate::error::{Error, Result};
use crate::input_file::{self, InputKind};

/// File extensions read as images (compared without case).
pub const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// One split of an image folder.
#[derive(Clone, Debug)]
pub struct ImageFolder {
    /// Every image of the split with its label, sorted by class then file name.
    files: Vec<(PathBuf, u32)>,
    class_names: Vec<String>,
    strict: bool,
}

fn unreadable_folder(dir: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: dir.to_path_buf(),
        what: "cannot read the folder".into(),
        source,
    }
}

fn data_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The visible entries of `dir`, sorted by name, as (path, is folder).
fn list(dir: &Path) -> Result<Vec<(PathBuf, bool)>> {
    let read = fs::read_dir(dir).map_err(|source| unreadable_folder(dir, source))?;
    let mut entries = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| unreadable_folder(dir, source))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue; // .DS_Store, .ipynb_checkpoints, ...
        }
        let is_dir = path.is_dir(); // follows symbolic links
        entries.push((path, is_dir));
    }
    entries.sort();
    Ok(entries)
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .map(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
        .unwrap_or(false)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The images in one class folder; an empty folder is an error that names it.
fn class_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let images: Vec<PathBuf> = list(dir)?
        .into_iter()
        .filter(|(p, is_dir)| !is_dir && is_image(p))
        .map(|(p, _)| p)
        .collect();
    if images.is_empty() {
        return Err(data_error(
            dir,
            "class folder has no .jpg, .jpeg or .png images: add images or remove the folder",
        ));
    }
    Ok(images)
}

/// The class folders of a split folder; none is an error that says what was found.
fn class_folders(split_dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = list(split_dir)?;
    let loose = entries.iter().filter(|(p, d)| !d && is_image(p)).count();
    let folders: Vec<PathBuf> = entries
        .into_iter()
        .filter(|(_, d)| *d)
        .map(|(p, _)| p)
        .collect();
    if folders.is_empty() {
        let found = if loose > 0 {
            format!("found {loose} images directly inside it but no class folders")
        } else {
            "no images found".to_string()
        };
        return Err(data_error(
            split_dir,
            format!(
                "{found}: put each class's images in its own subfolder, <split>/<class name>/*.jpg"
            ),
        ));
    }
    Ok(folders)
}

/// The images of `dir/<class>/*`, each labelled with its folder's position among
/// `class_names`. A split may lack some classes, but may not invent new ones.
fn images_of_known_classes(dir: &Path, class_names: &[String]) -> Result<Vec<(PathBuf, u32)>> {
    let mut images = Vec::new();
    for class_dir in class_folders(dir)? {
        let name = file_name(&class_dir);
        let label = class_names.iter().position(|c| *c == name).ok_or_else(|| {
            data_error(
                &class_dir,
                format!(
                    "class folder '{name}' is not among the {} classes of train/: rename or remove it",
                    class_names.len()
                ),
            )
        })?;
        images.extend(
            class_images(&class_dir)?
                .into_iter()
                .map(|p| (p, label as u32)),
        );
    }
    Ok(images)
}

fn split_dir(root: &Path, name: &str) -> Result<PathBuf> {
    let dir = root.join(name);
    if !dir.is_dir() {
        return Err(data_error(
            &dir,
            format!(
                "no {name}/ folder: put the {name} images in {}/<class name>/*.jpg, one folder per class{}",
                dir.display(),
                if name == "val" { ", named as in train/" } else { "" }
            ),
        ));
    }
    Ok(dir)
}

impl ImageFolder {
    /// Opens `root/train` and `root/val`. With `strict`, an undecodable image is an
    /// error; without, an [`Error::BadImage`] for the loader to replace or leave out.
    pub fn open(root: impl AsRef<Path>, strict: bool) -> Result<Splits<ImageFolder>> {
        let root = root.as_ref();
        if !root.exists() {
            return Err(data_error(
                root,
                "data set folder does not exist: check the path (expected root/train/<class>/*.jpg and root/val/<class>/*.jpg)",
            ));
        }
        if !root.is_dir() {
            return Err(data_error(
                root,
                "is a file, not a folder: give the folder that holds train/ and val/",
            ));
        }
        let split = root.join("train").is_dir() || root.join("val").is_dir();
        if !split && !class_folders(root).unwrap_or_default().is_empty() {
            return Err(data_error(
                root,
                "has class folders but no train/ and val/: to hold out part of each class for validation, add --val-split 0.1",
            ));
        }
        let train_dir = split_dir(root, "train")?;
        let val_dir = split_dir(root, "val")?;

        let mut class_names = Vec::new();
        let mut train = Vec::new();
        for (label, dir) in class_folders(&train_dir)?.into_iter().enumerate() {
            train.extend(class_images(&dir)?.into_iter().map(|p| (p, label as u32)));
            class_names.push(file_name(&dir));
        }

        let val = images_of_known_classes(&val_dir, &class_names)?;
        Ok(Splits {
            train: ImageFolder {
                files: train,
                class_names: class_names.clone(),
                strict,
            },
            val: ImageFolder {
                files: val,
                class_names,
                strict,
            },
        })
    }

    /// The images to test a model on: `root/val/<class>/*` (with `root/train/`'s class
    /// folders, where there is one, giving the labels, as in training), or, in a folder
    /// without `val/` and `train/`, every image of `root/<class>/*`. Never strict: the
    /// evaluation reports and skips what it cannot read.
    pub fn open_test(root: impl AsRef<Path>) -> Result<ImageFolder> {
        let root = root.as_ref();
        let expected =
            "give a folder with val/<class>/*.jpg, or a folder of class folders (<class>/*.jpg)";
        if !root.exists() {
            return Err(data_error(
                root,
                format!("data set folder does not exist: check the path, or {expected}"),
            ));
        }
        if !root.is_dir() {
            return Err(data_error(
                root,
                format!("is a file, not a folder: {expected}"),
            ));
        }
        let (train_dir, val_dir) = (root.join("train"), root.join("val"));
        if train_dir.is_dir() && !val_dir.is_dir() {
            return Err(data_error(
                root,
                "has train/ but no val/: put the images to test in val/<class name>/*.jpg, one folder per class named as in train/",
            ));
        }
        let classes_dir = match (train_dir.is_dir(), val_dir.is_dir()) {
            (true, _) => train_dir,
            (false, true) => val_dir.clone(),
            (false, false) => root.to_path_buf(),
        };
        if classes_dir == root && class_folders(root).is_err() {
            return Err(data_error(
                root,
                "has no val/ folder and no class folders: put the images to test in val/<class name>/*.jpg or <class name>/*.jpg, one folder per class",
            ));
        }
        let class_names: Vec<String> = class_folders(&classes_dir)?
            .iter()
            .map(|dir| file_name(dir))
            .collect();
        let images_dir = if val_dir.is_dir() { &val_dir } else { root };
        Ok(ImageFolder {
            files: images_of_known_classes(images_dir, &class_names)?,
            class_names,
            strict: false,
        })
    }

    /// Opens `root/<class>/*` and holds out `val_fraction` of each class's images for
    /// validation (at least one of a class with two or more, never all), chosen by
    /// `seed`: the same seed gives the same split.
    pub fn split(
        root: impl AsRef<Path>,
        val_fraction: f32,
        seed: u64,
        strict: bool,
    ) -> Result<Splits<ImageFolder>> {
        let root = root.as_ref();
        if root.join("train").is_dir() {
            return Err(data_error(
                root,
                "already has a train/ folder: leave out --val-split to use its train/ and val/",
            ));
        }
        let (mut train, mut val, mut class_names) = (Vec::new(), Vec::new(), Vec::new());
        for (label, dir) in class_folders(root)?.into_iter().enumerate() {
            let mut images = class_images(&dir)?;
            let mut rng = Rng::from_key(&[seed, label as u64, 0x5_9117]);
            for i in (1..images.len()).rev() {
                images.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let n = images.len();
            let share = (val_fraction * n as f32).round() as usize;
            let held_out = match n {
                0 | 1 => 0, // a class of one image trains on it
                _ => share.clamp(1, n - 1),
            };
            let mut taken: Vec<_> = images.into_iter().map(|p| (p, label as u32)).collect();
            let mut rest = taken.split_off(held_out);
            taken.sort();
            rest.sort();
            val.extend(taken);
            train.extend(rest);
            class_names.push(file_name(&dir));
        }
        let folder = |files| ImageFolder {
            files,
            class_names: class_names.clone(),
            strict,
        };
        Ok(Splits {
            train: folder(train),
            val: folder(val),
        })
    }

    /// The file of image `index`.
    pub fn path(&self, index: usize) -> Option<&Path> {
        self.files.get(index).map(|(p, _)| p.as_path())
    }
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn label(&self, index: usize) -> u32 {
        self.files[index].1
    }

    fn image(&self, index: usize) -> Result<RgbImage> {
        check_index("image folder", index, self.files.len())?;
        let path = &self.files[index].0;
        read_image(path).map_err(|reason| {
            if self.strict {
                data_error(
                    path,
                    format!("{reason}. Delete or replace the file, or open the data set without strict mode to go on without such files"),
                )
            } else {
                Error::BadImage {
                    path: path.clone(),
                    message: reason,
                }
            }
        })
    }
}

/// Reads and decodes the image file at `path`, or says why it cannot be: not a regular
/// file, over [`InputKind::Image`]'s cap, or not a decodable image.
pub fn read_image(path: &Path) -> std::result::Result<RgbImage, String> {
    let bytes = input_file::read(path, InputKind::Image)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    decode(&bytes)
}

/// Decodes JPEG or PNG bytes (format from the content, not the name) into RGB.
pub fn decode(bytes: &[u8]) -> std::result::Result<RgbImage, String> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read the image: {}", e.to_string().trim_end()))?;
    if reader.format() == Some(ImageFormat::Jpeg) && jpeg_is_truncated(bytes) {
        // The JPEG decoder usually decodes a cut-off scan without complaint, filling
        // the missing part; see the test below.
        return Err("truncated JPEG: no end-of-image marker after the last scan".into());
    }
    let image = reader.decode().map_err(|e| match e {
        ImageError::Limits(_) => over_memory_limit(bytes),
        // The decoder's own text may end in a newline, which would split our message.
        e => format!("cannot decode the image: {}", e.to_string().trim_end()),
    })?;
    Ok(image.to_rgb8())
}

/// Why the decoder refused to allocate: the image's size against its memory limit
/// (the decoder itself says only "Memory limit exceeded").
fn over_memory_limit(bytes: &[u8]) -> String {
    let limit = Limits::default().max_alloc.unwrap_or(u64::MAX) as f64 / (1 << 20) as f64;
    let size = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok());
    match size {
        Some((w, h)) => format!(
            "the image is {w}×{h} pixels: decoding it takes at least {:.1} GiB, over the decoder's limit of {limit:.0} MiB per image (a decompression bomb, or far more pixels than any test scale needs: shrink it first)",
            w as f64 * h as f64 * 3.0 / (1u64 << 30) as f64
        ),
        None => format!("decoding it would take more than the decoder's limit of {limit:.0} MiB per image"),
    }
}

/// True when no end-of-image marker (FF D9) follows the last start-of-scan marker
/// (FF DA). Neither pair can occur inside entropy-coded data (an FF there is always
/// followed by 00 or a restart marker), so a file cut inside its image data fails this,
/// while trailing bytes after the end marker are allowed.
fn jpeg_is_truncated(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_scan {
        Some(start) => !bytes[start..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false, // no scan at all: let the decoder report it
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, Rgb};

    #[test]
    fn decoder_errors_are_one_line() {
        let reason = decode(b"\xff\xd8\xff\xe0garbage").unwrap_err();
        assert!(
            reason.starts_with("cannot decode") && !reason.contains('\n'),
            "{reason:?}"
        );
    }

    /// Without the end-marker check, the decoder accepted every cut past the headers.
    #[test]
    fn every_cut_of_a_jpeg_is_rejected() {
        let img = RgbImage::from_fn(200, 150, |x, y| {
            Rgb([(x * 3) as u8, (y * 5) as u8, (x * y % 251) as u8])
        });
        let mut bytes = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(img)
            .write_to(&mut bytes, ImageFormat::Jpeg)
            .unwrap();
        let bytes = bytes.into_inner();
        assert!(decode(&bytes).is_ok());
        let mut with_trailer = bytes.clone();
        with_trailer.extend_from_slice(b"trailing bytes after the end marker");
        assert!(
            decode(&with_trailer).is_ok(),
            "bytes after the end marker are allowed"
        );
        for cut in (0..bytes.len()).step_by(97).chain([bytes.len() - 1]) {
            assert!(
                decode(&bytes[..cut]).is_err(),
                "{cut} of {} bytes decoded",
                bytes.len()
            );
        }
    }
}
