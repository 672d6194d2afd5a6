//! The images a model is tested on: `builtin` (the synthetic data set's validation
//! split, seed 0, 1000 images at the model's input size, as `vgg-wgpu train` holds
//! them out by default) or an ImageNet-layout folder's `val/` split.

use std::path::Path;

use crate::data::{Dataset, ImageFolder, Split, SyntheticDataset};
use crate::error::{Error, Result};

/// The validation images of `data`. Undecodable files are reported, not fatal.
pub fn open_test_set(data: &str, input_size: usize) -> Result<Box<dyn Dataset>> {
    if data == "builtin" {
        let val = SyntheticDataset::new(
            0,
            Split::Val,
            SyntheticDataset::DEFAULT_VAL,
            input_size as u32,
        )?;
        return Ok(Box::new(val));
    }
    Ok(Box::new(ImageFolder::open(Path::new(data), false)?.val))
}

/// For each of the data set's labels, the model's: by class name when the model names
/// every class of the data set, else the same index (torchvision's "class i" names
/// follow the sorted folder names of ImageNet, as an ImageFolder does).
pub fn label_map(data_classes: &[String], model_classes: &[String]) -> Result<Vec<usize>> {
    let by_name: Option<Vec<usize>> = data_classes
        .iter()
        .map(|c| model_classes.iter().position(|m| m == c))
        .collect();
    match by_name {
        Some(map) => Ok(map),
        None if data_classes.len() <= model_classes.len() => Ok((0..data_classes.len()).collect()),
        None => Err(Error::InvalidArgument {
            op: "evaluation",
            message: format!(
                "the data set has {} classes but the model only {}",
                data_classes.len(),
                model_classes.len()
            ),
        }),
    }
}
