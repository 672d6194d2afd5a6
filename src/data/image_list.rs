//! A data set held in memory: labelled images handed over one by one (the page's
//! examples of the classes a user teaches it), not read from files.

use image::RgbImage;

use super::dataset::{check_index, Dataset};
use crate::error::{Error, Result};

/// Images with their labels, in the order they were added.
#[derive(Clone, Debug, Default)]
pub struct ImageList {
    class_names: Vec<String>,
    images: Vec<(RgbImage, u32)>,
}

impl ImageList {
    /// An empty list of images of these classes (label `l` is `class_names[l]`).
    pub fn new(class_names: Vec<String>) -> ImageList {
        ImageList {
            class_names,
            images: Vec::new(),
        }
    }

    /// Adds `image` with `label`.
    pub fn push(&mut self, image: RgbImage, label: u32) -> Result<()> {
        if label as usize >= self.class_names.len() {
            return Err(Error::InvalidArgument {
                op: "image list",
                message: format!(
                    "label {label} names no class: there are {} ({})",
                    self.class_names.len(),
                    self.class_names.join(", ")
                ),
            });
        }
        if image.width() == 0 || image.height() == 0 {
            return Err(Error::Shape {
                op: "image list",
                message: "the image is empty (0 pixels wide or high)".into(),
            });
        }
        self.images.push((image, label));
        Ok(())
    }

    /// Images of each class, in label order.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.class_names.len()];
        for &(_, label) in &self.images {
            counts[label as usize] += 1;
        }
        counts
    }

    /// The list repeated until it holds at least `len` images (it is returned as it is
    /// when it holds that many already): a few examples still make a full batch, and
    /// each copy is augmented apart, as the loader keys its random choices by index.
    pub fn repeated_to(&self, len: usize) -> ImageList {
        let mut images = self.images.clone();
        if !self.images.is_empty() {
            while images.len() < len {
                let next = self.images[images.len() % self.images.len()].clone();
                images.push(next);
            }
        }
        ImageList {
            class_names: self.class_names.clone(),
            images,
        }
    }
}

impl Dataset for ImageList {
    fn len(&self) -> usize {
        self.images.len()
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn label(&self, index: usize) -> u32 {
        self.images[index].1
    }

    fn image(&self, index: usize) -> Result<RgbImage> {
        check_index("image list", index, self.images.len())?;
        Ok(self.images[index].0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> ImageList {
        let mut list = ImageList::new(vec!["a".into(), "b".into()]);
        list.push(RgbImage::from_pixel(2, 3, image::Rgb([1, 2, 3])), 1)
            .unwrap();
        list.push(RgbImage::from_pixel(4, 1, image::Rgb([9, 9, 9])), 0)
            .unwrap();
        list
    }

    #[test]
    fn holds_images_with_their_labels_in_order() {
        let list = list();
        assert_eq!(list.len(), 2);
        assert_eq!(list.num_classes(), 2);
        assert_eq!((list.label(0), list.label(1)), (1, 0));
        assert_eq!(list.image(1).unwrap().dimensions(), (4, 1));
        assert_eq!(list.counts(), [1, 1]);
        assert!(list.image(2).is_err());
    }

    #[test]
    fn refuses_a_label_past_the_classes_and_an_empty_image() {
        let mut list = list();
        let message = list.push(RgbImage::new(1, 1), 2).unwrap_err().to_string();
        assert!(
            message.contains("label 2 names no class: there are 2 (a, b)"),
            "{message}"
        );
        assert!(list.push(RgbImage::new(0, 5), 0).is_err());
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn repeats_round_robin_to_a_length() {
        let list = list().repeated_to(5);
        let labels: Vec<u32> = (0..list.len()).map(|i| list.label(i)).collect();
        assert_eq!(labels, [1, 0, 1, 0, 1]);
        assert_eq!(list.counts(), [2, 3]);
        assert_eq!(super::tests::list().repeated_to(1).len(), 2);
        assert_eq!(ImageList::new(vec!["a".into()]).repeated_to(3).len(), 0);
    }
}
