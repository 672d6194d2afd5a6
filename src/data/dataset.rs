//! What every data set offers the loader: a length, class names, and image `i` with its
//! label. The three sources ([`SyntheticDataset`](super::SyntheticDataset),
//! [`ImageFolder`](super::ImageFolder), [`Cifar10`](super::Cifar10)) implement it.

use image::RgbImage;

use crate::error::{Error, Result};

/// Which half of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Val,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
        }
    }
}

/// The training and validation halves of one source, sharing class names.
#[derive(Clone, Debug)]
pub struct Splits<D> {
    pub train: D,
    pub val: D,
}

/// A list of labelled RGB images, read on demand.
///
/// `Send + Sync` so the loader's worker threads can share one data set.
pub trait Dataset: Send + Sync {
    /// Number of images.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Human-readable class names; label `l` is `class_names()[l]`.
    fn class_names(&self) -> &[String];

    fn num_classes(&self) -> usize {
        self.class_names().len()
    }

    /// The label of image `index`, in `0..num_classes()`. `index < len()`.
    fn label(&self, index: usize) -> u32;

    /// Image `index` as 8-bit RGB, `(height, width, 3)` row-major.
    ///
    /// A file that cannot be decoded gives [`Error::BadImage`] when the source skips such
    /// files (the loader then replaces or drops the sample), or [`Error::Data`] when it
    /// is strict.
    fn image(&self, index: usize) -> Result<RgbImage>;
}

/// The error for an index past the end; sources call it before touching storage.
pub(crate) fn check_index(what: &'static str, index: usize, len: usize) -> Result<()> {
    if index < len {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op: what,
            message: format!("image index {index} is out of range: the data set has {len} images"),
        })
    }
}
