//! Which of a network's parameters training updates, and at what rate: fine-tuning a
//! pretrained net trains its new classifier and leaves the features alone (frozen), or
//! trains them at a fraction of the rate.

use crate::error::{Error, Result};
use crate::model::{ModelSpec, ParamInfo, ParamOwner};

/// The trainable part of a network: every parameterised layer (convs, then the FC
/// layers, in order) from `frozen_layers` on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trainable {
    /// Leading parameterised layers that training leaves exactly as they are: no
    /// gradient, no momentum, no update, and no backward pass below the lowest
    /// trainable layer.
    pub frozen_layers: usize,
    /// Multiplier on the learning rate of the conv layers (1: the same rate as the FC
    /// layers).
    pub conv_lr_scale: f32,
}

impl Default for Trainable {
    fn default() -> Trainable {
        Trainable::ALL
    }
}

impl Trainable {
    /// Every layer at the full rate.
    pub const ALL: Trainable = Trainable {
        frozen_layers: 0,
        conv_lr_scale: 1.0,
    };

    /// Checks that something of `spec` is left to train.
    pub fn validate(&self, spec: &ModelSpec) -> Result<()> {
        let layers = spec.parameters().len() / 2;
        if self.frozen_layers >= layers {
            return Err(Error::InvalidArgument {
                op: "--freeze",
                message: format!(
                    "freezes {} layers, but VGG-{} has {layers} (its convs and 3 FC layers): leave at least the last one to train",
                    self.frozen_layers, spec.config
                ),
            });
        }
        if !(self.conv_lr_scale.is_finite() && self.conv_lr_scale >= 0.0) {
            return Err(Error::InvalidArgument {
                op: "--lr-features",
                message: format!(
                    "must be a finite multiplier of at least 0, e.g. 0.1; got {}",
                    self.conv_lr_scale
                ),
            });
        }
        let convs = spec.conv_layers().len();
        if self.conv_lr_scale != 1.0 && self.frozen_layers >= convs {
            return Err(Error::InvalidArgument {
                op: "--lr-features",
                message: format!(
                    "{} would change nothing: --freeze freezes {} layers, every one of VGG-{}'s {convs} conv layers, \
                     so none trains at the features' rate; drop --lr-features, or freeze fewer than {convs} layers",
                    self.conv_lr_scale, self.frozen_layers, spec.config
                ),
            });
        }
        Ok(())
    }

    /// The index (in [`ModelSpec::parameters`] order) of the first trainable parameter;
    /// the ones before it are frozen.
    pub fn first_param(&self) -> usize {
        2 * self.frozen_layers
    }

    /// The learning-rate multiplier of a trainable parameter.
    pub fn lr_scale(&self, param: &ParamInfo) -> f32 {
        match param.owner {
            ParamOwner::Conv(_) => self.conv_lr_scale,
            ParamOwner::Fc(_) => 1.0,
        }
    }
}
