//! Teaching a trained network new classes from a few examples (the page's "teach it
//! your own classes"): its features stay exactly as they are, a new last layer for the
//! user's classes starts at zero, and only the head trains ([`super::teaching`] runs
//! it on cached features). What the CLI's `--init pretrained:FILE --freeze` does, for
//! images held in memory.

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

impl Head {
    /// The layers of `spec` it leaves frozen: those before it.
    pub fn frozen_layers(self, spec: &ModelSpec) -> usize {
        match self {
            Head::LastLayer => spec.parameters().len() / 2 - 1,
            Head::Classifier => spec.conv_layers().len(),
        }
    }
}

/// A network set up to learn new classes.
#[derive(Clone, Debug)]
pub struct NewClasses {
    pub spec: ModelSpec,
    /// The user's class names, the source's preprocessing and training scale.
    pub meta: ModelMeta,
    /// The starting tensors of the trained layers (from parameter
    /// `trainable.first_param()` on): the source's, with a new last layer at zero sized
    /// for the new classes.
    pub weights: WeightFile,
    pub trainable: Trainable,
    /// What came from the source: "copied 30 tensors of …; new: classifier.6 (1000 → 3
    /// classes)".
    pub note: String,
}

impl NewClasses {
    /// The network of `source` (described by `source_meta`), set up to tell apart
    /// `class_names` (at least two, each distinct and non-empty), training `head`.
    /// `source` needs the tensors of the trained layers alone (the frozen ones stay
    /// the source's), and they are taken out of it, not copied; the new last layer
    /// starts at zero.
    pub fn new(
        mut source: WeightFile,
        source_meta: &ModelMeta,
        origin: &str,
        class_names: Vec<String>,
        head: Head,
    ) -> Result<NewClasses> {
        check_names(&class_names)?;
        let spec = ModelSpec {
            classes: class_names.len(),
            ..source_meta.spec()?
        };
        let params = spec.parameters();
        let trainable = Trainable {
            frozen_layers: head.frozen_layers(&spec),
            conv_lr_scale: 1.0,
        };
        trainable.validate(&spec)?;
        let last = params.len() - 2;
        // The trained layers below the last one start as the source's (checked first).
        let mut weights = WeightFile::default();
        for p in &params[trainable.first_param()..last] {
            let values = source_tensor(&mut source, origin, &p.name, &p.shape)?;
            weights
                .tensors
                .insert(p.name.clone(), (p.shape.clone(), values));
        }
        // The new last layer starts at zero: every class equally likely at first, rather
        // than random logits as large as the source's features, which the first steps
        // would have to undo (and whose gradients would shake the layers below).
        for p in &params[last..] {
            let zeros = vec![0.0; p.shape.iter().product()];
            weights
                .tensors
                .insert(p.name.clone(), (p.shape.clone(), zeros));
        }
        let layer = params[last].name.trim_end_matches(".weight");
        let note = format!(
            "copied {last} tensors of {origin}; new: {layer} ({} → {} classes)",
            source_meta.classes, spec.classes
        );
        let meta = ModelMeta::new(
            &spec,
            class_names,
            source_meta.preprocessing,
            source_meta.train_scale,
        );
        Ok(NewClasses {
            note,
            spec,
            meta,
            weights,
            trainable,
        })
    }
}

/// `source`'s tensor `name`, which must have `shape`, taken out of it.
fn source_tensor(
    source: &mut WeightFile,
    origin: &str,
    name: &str,
    shape: &[usize],
) -> Result<Vec<f32>> {
    match source.tensors.remove(name) {
        Some((s, values)) if s == shape => Ok(values),
        found => Err(Error::WeightFile {
            path: origin.to_string(),
            message: format!(
                "tensor '{name}' is {}, but the network taught needs it with shape {shape:?}",
                match found {
                    Some((s, _)) => format!("of shape {s:?}"),
                    None => "missing".to_string(),
                }
            ),
        }),
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
