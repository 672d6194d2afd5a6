//! The images a model is tested on: `builtin` (the synthetic data set's validation
//! split, seed 0, 1000 images at the model's input size, as `vgg-wgpu train` holds
//! them out by default), an ImageNet-layout folder's `val/` split, or every image of a
//! folder of class folders ([`ImageFolder::open_test`]).

use std::path::Path;

use crate::data::{Dataset, ImageFolder, Split, SyntheticDataset};
use crate::error::{Error, Result};

/// Labelled test images and a name for each (its file, or `builtin/val/<index>`).
pub struct TestSet {
    pub images: Box<dyn Dataset>,
    pub names: Vec<String>,
}

/// The validation images of `data`. Undecodable files are reported, not fatal.
pub fn open_test_set(data: &str, input_size: usize) -> Result<TestSet> {
    if data == "builtin" {
        let count = SyntheticDataset::DEFAULT_VAL;
        let val = SyntheticDataset::new(0, Split::Val, count, input_size as u32)?;
        return Ok(TestSet {
            images: Box::new(val),
            names: (0..count).map(|i| format!("builtin/val/{i}")).collect(),
        });
    }
    let val = ImageFolder::open_test(Path::new(data))?;
    let names = (0..val.len())
        .filter_map(|i| val.path(i))
        .map(|p| p.display().to_string())
        .collect();
    Ok(TestSet {
        images: Box::new(val),
        names,
    })
}

/// For each of the data set's labels, the model's, and whether they were matched by
/// name: by class name when the model names every class of the data set, else the same
/// index (torchvision's "class i" names follow the sorted folder names of ImageNet, as
/// an ImageFolder does).
pub fn label_map(data_classes: &[String], model_classes: &[String]) -> Result<(Vec<usize>, bool)> {
    let by_name: Option<Vec<usize>> = data_classes
        .iter()
        .map(|c| model_classes.iter().position(|m| m == c))
        .collect();
    match by_name {
        Some(map) => Ok((map, true)),
        None if data_classes.len() <= model_classes.len() => {
            Ok(((0..data_classes.len()).collect(), false))
        }
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
