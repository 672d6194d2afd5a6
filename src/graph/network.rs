//! A VGG as a chain of ops with resolved shapes: what the plans compile.

use super::ops::{Conv2d, DropoutOp, Linear, Lrn, MaxPool2d, Op};
use super::trainable::Trainable;
use crate::error::{Error, Result};
use crate::model::{Layer, ModelSpec, IMAGE_CHANNELS};
use crate::shape::{Dropout, LrnParams};

/// The ops of a network plus the shape of every activation. Each op's `param` indexes
/// its weight in [`ModelSpec::parameters`] (its bias follows it).
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub spec: ModelSpec,
    pub ops: Vec<Op>,
    /// The shape of one sample of the input: (3, S, S) images for a whole network; for
    /// a [part](Network::part) of one, the activation where the part starts.
    pub input: Vec<usize>,
    /// What a training plan of this network updates (evaluation ignores it).
    pub trainable: Trainable,
}

impl Network {
    /// The paper's network: convs (each + ReLU), LRN, pools, then FC–ReLU–dropout,
    /// FC–ReLU–dropout, FC. `dropout` is the drop probability of FC1 and FC2 (0.5).
    pub fn new(spec: &ModelSpec, dropout: f32) -> Network {
        let mut ops = Vec::new();
        let mut param = 0;
        let (mut channels, mut size) = (IMAGE_CHANNELS, spec.input_size);
        let convs = spec.conv_layers();
        let mut conv = convs.iter();
        for layer in spec.config.layers() {
            let op = match layer {
                Layer::Conv { .. } => {
                    let l = conv.next().expect("conv_layers follows layers()");
                    let op = Conv2d::same(l.in_channels, l.out_channels, l.kernel, size, param);
                    param += 2;
                    Op::from(op)
                }
                Layer::Lrn => Op::from(Lrn {
                    params: LrnParams::default(),
                    channels,
                    height: size,
                    width: size,
                }),
                Layer::MaxPool => Op::from(MaxPool2d {
                    channels,
                    height: size,
                    width: size,
                }),
            };
            // The next layer's input: a feature layer's output is (batch, C, H, H).
            let output = op.output(1);
            (channels, size) = (output[1], output[2]);
            ops.push(op);
        }
        let fcs = spec.fc_layers();
        for (i, &(in_features, out_features)) in fcs.iter().enumerate() {
            let last = i + 1 == fcs.len();
            ops.push(Op::from(Linear {
                in_features,
                out_features,
                relu: !last,
                param,
            }));
            param += 2;
            if !last {
                ops.push(Op::from(DropoutOp {
                    dropout: Dropout { p: dropout },
                    features: out_features,
                }));
            }
        }
        Network {
            spec: spec.clone(),
            ops,
            input: vec![IMAGE_CHANNELS, spec.input_size, spec.input_size],
            trainable: Trainable::ALL,
        }
    }

    /// Ops `range` of this network as a network of their own, its input the activation
    /// that feeds op `range.start`: the frozen layers whose output a
    /// [`crate::train::FeatureCache`] keeps, or the layers trained on that output. Ops
    /// keep their parameter indices into the whole network's [`ModelSpec::parameters`].
    pub fn part(&self, range: std::ops::Range<usize>) -> Network {
        Network {
            spec: self.spec.clone(),
            input: self.activation_shape(range.start, 1)[1..].to_vec(),
            ops: self.ops[range].to_vec(),
            trainable: self.trainable,
        }
    }

    /// Where the frozen ops end whose output stays the same from one step to the next
    /// for the same input: before the first trained op, and before any dropout that
    /// feeds it (a random mask each step). What comes before can be computed once per
    /// image and kept.
    pub fn frozen_end(&self) -> usize {
        let mut end = self.first_trained_op();
        while end > 0 && matches!(self.ops[end - 1], Op::Dropout(_)) {
            end -= 1;
        }
        end
    }

    /// The index of the first parameter its ops use (its parameters are that one and
    /// every later one of the spec): 0 for a whole network.
    pub fn first_param(&self) -> usize {
        self.ops.iter().find_map(|op| op.param()).unwrap_or(0)
    }

    /// The same network, trained only as `trainable` says (checked against the spec).
    pub fn with_trainable(self, trainable: Trainable) -> Result<Network> {
        trainable.validate(&self.spec)?;
        Ok(Network { trainable, ..self })
    }

    /// The index of the lowest op whose parameters train: the backward pass stops there.
    pub fn first_trained_op(&self) -> usize {
        let first = self.trainable.first_param();
        self.ops
            .iter()
            .position(|op| op.param().is_some_and(|p| p >= first))
            .expect("Trainable::validate leaves a layer to train")
    }

    /// Shape of the activation feeding op `i` (`i == ops.len()`: the logits), batch `n`.
    pub fn activation_shape(&self, i: usize, n: usize) -> Vec<usize> {
        match i {
            0 => [vec![n], self.input.clone()].concat(),
            _ => self.ops[i - 1].output(n),
        }
    }

    /// Checks a dense evaluation's input: at least one image, both sides at least the
    /// network's input size (so that FC1's window fits at least once). `op` names the
    /// evaluation in the error.
    pub fn check_dense_input(
        &self,
        op: &'static str,
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<()> {
        let size = self.spec.input_size;
        if batch == 0 || height < size || width < size {
            return Err(Error::Shape {
                op,
                message: format!(
                    "needs a batch of at least 1 and images at least {size}×{size} (the training size), got {batch} of {height}×{width}"
                ),
            });
        }
        Ok(())
    }

    /// The fully convolutional chain of dense evaluation for images (IMAGE_CHANNELS,
    /// height, width): each op's [`dense`](super::ops::Operation::dense) form, dropout
    /// gone.
    pub fn dense_ops(&self, height: usize, width: usize) -> Vec<Op> {
        let mut input = vec![IMAGE_CHANNELS, height, width];
        let mut ops = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            let plain_input = &self.activation_shape(i, 1)[1..];
            if let Some(op) = op.dense(plain_input, &input) {
                input = op.output(1)[1..].to_vec();
                ops.push(op);
            }
        }
        ops
    }

    /// Forward FLOPs of one image (convs and FCs; the rest is negligible).
    pub fn flops_per_image(&self) -> f64 {
        self.ops.iter().map(|op| op.flops_per_image()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;

    #[test]
    fn vgg16_chain_shapes() {
        let net = Network::new(&ModelSpec::paper(Config::D), 0.5);
        // 13 convs, 5 pools, 3 FCs, 2 dropouts.
        assert_eq!(net.ops.len(), 13 + 5 + 3 + 2);
        let fc1 = net
            .ops
            .iter()
            .position(|op| matches!(op, Op::Linear(_)))
            .unwrap();
        assert_eq!(net.activation_shape(fc1, 2), vec![2, 512, 7, 7]);
        assert_eq!(net.activation_shape(net.ops.len(), 2), vec![2, 1000]);
        // VGG-16's forward pass is 15.5 G multiply-adds.
        let gmacs = net.flops_per_image() / 2e9;
        assert!((gmacs - 15.47).abs() < 0.05, "{gmacs}");
    }

    #[test]
    fn params_follow_spec_order() {
        let spec = ModelSpec {
            config: Config::ALrn,
            classes: 10,
            input_size: 32,
            width_divisor: 8,
        };
        let net = Network::new(&spec, 0.5);
        let infos = spec.parameters();
        for op in &net.ops {
            if let Op::Conv(c) = op {
                assert_eq!(
                    infos[c.param].shape,
                    vec![c.out_channels, c.in_channels, c.kernel, c.kernel]
                );
            }
            if let Op::Linear(l) = op {
                assert_eq!(infos[l.param].shape, vec![l.out_features, l.in_features]);
            }
        }
    }
}
