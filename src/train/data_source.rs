//! Where a training run's images come from: the built-in synthetic set, ImageNet's
//! folder layout or CIFAR-10's binary batches.

use std::path::PathBuf;
use std::sync::Arc;

use crate::data::{Cifar10, Dataset, ImageFolder, SyntheticDataset};
use crate::error::{Error, Result};

/// Where the images come from.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// The built-in synthetic data set: `train` and `val` images of `size` pixels.
    Builtin { train: usize, val: usize, size: u32 },
    /// ImageNet's layout (`train/<class>/…`, `val/<class>/…`) or CIFAR-10's binary
    /// batches, told apart by what the folder holds.
    Path(PathBuf),
    /// A folder of class folders (`<class>/…`), `val_split` of each class held out for
    /// validation.
    Split { path: PathBuf, val_split: f32 },
}

impl DataSource {
    /// Opens the training and validation sets, refusing data with one class: its loss
    /// is zero from the first step and the classifier learns nothing.
    pub fn open(&self, seed: u64, strict: bool) -> Result<(Arc<dyn Dataset>, Arc<dyn Dataset>)> {
        let (train, val) = self.open_splits(seed, strict)?;
        if let [only] = train.class_names() {
            return Err(Error::Data {
                path: self.path().unwrap_or_default(),
                message: format!(
                    "has one class ('{only}'): a classifier needs at least two; add a folder of images for each other class"
                ),
            });
        }
        Ok((train, val))
    }

    /// The folder the images come from; `None` for the built-in set.
    fn path(&self) -> Option<PathBuf> {
        match self {
            DataSource::Builtin { .. } => None,
            DataSource::Path(path) | DataSource::Split { path, .. } => Some(path.clone()),
        }
    }

    fn open_splits(&self, seed: u64, strict: bool) -> Result<(Arc<dyn Dataset>, Arc<dyn Dataset>)> {
        match self {
            DataSource::Builtin { train, val, size } => {
                let s = SyntheticDataset::splits(seed, *train, *val, *size)?;
                Ok((Arc::new(s.train), Arc::new(s.val)))
            }
            DataSource::Path(path) => {
                if !path.exists() {
                    return Err(Error::Data {
                        path: path.clone(),
                        message: "does not exist; give a folder with train/<class>/ and val/<class>/ image folders, \
                                  or CIFAR-10's binary batches, or leave --data out for the built-in data set"
                            .into(),
                    });
                }
                let is_cifar = path.join("data_batch_1.bin").exists()
                    || path.join("cifar-10-batches-bin").exists();
                if is_cifar {
                    let s = Cifar10::open(path)?;
                    Ok((Arc::new(s.train), Arc::new(s.val)))
                } else {
                    let s = ImageFolder::open(path, strict)?;
                    Ok((Arc::new(s.train), Arc::new(s.val)))
                }
            }
            DataSource::Split { path, val_split } => {
                let s = ImageFolder::split(path, *val_split, seed, strict)?;
                Ok((Arc::new(s.train), Arc::new(s.val)))
            }
        }
    }
}
