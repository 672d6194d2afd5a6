//! Teaching a trained network new classes from a few examples (the page's "teach it
//! your own classes"): its features stay exactly as they are, a new last layer for the
//! user's classes starts fresh, and training sees the examples through the paper's
//! augmentation at the network's own training scale and preprocessing. What the CLI's
//! `--init pretrained:FILE --freeze` does, for images held in memory.

use std::sync::Arc;

use super::init::{random_weights, Init};
use super::pretrained::transfer;
use crate::data::{ColourStats, ImageList, Loader, LoaderConfig, TrainAugment, Transform};
use crate::error::{Error, Result};
use crate::graph::Trainable;
use crate::model::{ModelMeta, ModelSpec, WeightFile};

/// Which layers learn the new classes; every layer before them is frozen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// The new last layer alone: the least memory and time (VGG-16's 4096 × classes).
    LastLayer,
    /// All three FC layers (VGG-16's fc6 alone is 103 M parameters, each with a
    /// gradient and a momentum).
    Classifier,
}

/// A network set up to learn new classes.
#[derive(Clone, Debug)]
pub struct NewClasses {
    pub spec: ModelSpec,
    /// The user's class names, the source's preprocessing and training scale.
    pub meta: ModelMeta,
    /// The source's tensors, with a fresh last layer sized for the new classes.
    pub weights: WeightFile,
    pub trainable: Trainable,
    /// What came from the source: "copied 30 tensors of …; new: classifier.6 (1000 → 3
    /// classes)".
    pub note: String,
}

impl NewClasses {
    /// The network of `source` (described by `source_meta`), set up to tell apart
    /// `class_names` (at least two, each distinct and non-empty).
    pub fn new(
        source: &WeightFile,
        source_meta: &ModelMeta,
        origin: &str,
        class_names: Vec<String>,
        head: Head,
        seed: u64,
    ) -> Result<NewClasses> {
        check_names(&class_names)?;
        let spec = ModelSpec {
            classes: class_names.len(),
            ..source_meta.spec()?
        };
        let fresh = random_weights(&spec, &Init::Glorot, seed);
        let mut start = transfer(&spec, source, spec.config, origin, fresh)?;
        // The new last layer starts at zero: every class equally likely at first, rather
        // than random logits as large as the source's features, which the first steps
        // would have to undo (and whose gradients would shake the layers below).
        let params = spec.parameters();
        for p in &params[params.len() - 2..] {
            let (_, values) = start
                .weights
                .tensors
                .get_mut(&p.name)
                .expect("every parameter");
            values.fill(0.0);
        }
        let layers = spec.parameters().len() / 2;
        let trainable = Trainable {
            frozen_layers: match head {
                Head::LastLayer => layers - 1,
                Head::Classifier => spec.conv_layers().len(),
            },
            conv_lr_scale: 1.0,
        };
        trainable.validate(&spec)?;
        let meta = ModelMeta::new(
            &spec,
            class_names,
            source_meta.preprocessing,
            source_meta.train_scale,
        );
        Ok(NewClasses {
            note: start.describe(origin),
            spec,
            meta,
            weights: start.weights,
            trainable,
        })
    }

    /// Batches of `examples` (every class needs one at least): random crops of the
    /// network's input size from the image rescaled to the source's training scale,
    /// flips, colour noise along the examples' own principal components, the source's
    /// preprocessing. Fewer examples than `batch` are repeated to fill one batch.
    pub fn loader(&self, examples: &ImageList, batch: usize, seed: u64) -> Result<Loader> {
        let counts = examples.counts();
        let empty: Vec<&str> = self
            .meta
            .class_names
            .iter()
            .zip(&counts)
            .filter(|(_, &n)| n == 0)
            .map(|(name, _)| name.as_str())
            .collect();
        if !empty.is_empty() {
            return Err(Error::InvalidArgument {
                op: "new classes",
                message: format!(
                    "no examples of {}: add one at least to every class",
                    empty.join(", ")
                ),
            });
        }
        let examples = examples.repeated_to(batch);
        let stats = ColourStats::estimate(&examples, 1000)?;
        let [s_min, s_max] = self.meta.train_scale;
        let mut augment = TrainAugment::paper(&stats, s_min, s_max, self.spec.input_size as u32)?;
        augment.preprocessing = self.meta.preprocessing;
        Loader::new(
            Arc::new(examples),
            Transform::Train(augment),
            LoaderConfig {
                drop_last: true,
                workers: 0,
                ..LoaderConfig::train(batch, seed)
            },
        )
    }
}

fn check_names(names: &[String]) -> Result<()> {
    let bad = |message: String| {
        Err(Error::InvalidArgument {
            op: "new classes",
            message,
        })
    };
    if names.len() < 2 {
        return bad(format!(
            "need two classes at least to tell apart, got {}",
            names.len()
        ));
    }
    if names.iter().any(|n| n.trim().is_empty()) {
        return bad("every class needs a name".into());
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return bad(format!("two classes are named '{name}'"));
        }
    }
    Ok(())
}
