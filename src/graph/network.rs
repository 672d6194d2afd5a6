//! A VGG as a chain of ops with resolved shapes: what the plans compile.

use crate::model::{Layer, ModelSpec};
use crate::shape::{ConvShape, LinearShape, LrnParams, PoolShape};

/// One op of the chain. Shapes exclude the batch dimension; `param` indexes the
/// weight in [`ModelSpec::parameters`] (its bias follows it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Convolution with its ReLU fused; input and output (C, H, W).
    Conv {
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        size: usize,
        param: usize,
    },
    Lrn(LrnParams),
    /// 2×2 max-pool of a (channels, size, size) input.
    MaxPool {
        channels: usize,
        size: usize,
    },
    /// Fully connected, ReLU fused when `relu`. Reads its input flattened (C·H·W), which
    /// in NCHW is the same memory, in the same order as torchvision's `flatten`.
    Linear {
        in_features: usize,
        out_features: usize,
        relu: bool,
        param: usize,
    },
    /// Inverted dropout; the identity when not training.
    Dropout {
        p: f32,
        features: usize,
    },
}

impl Op {
    /// A short name for profiles: "conv3 64→128 @56", "maxpool 64 @32", "fc 512→10".
    pub fn name(&self) -> String {
        match *self {
            Op::Conv {
                in_channels,
                out_channels,
                kernel,
                size,
                ..
            } => format!("conv{kernel} {in_channels}→{out_channels} @{size}"),
            Op::Lrn(_) => "lrn".to_string(),
            Op::MaxPool { channels, size } => format!("maxpool {channels} @{size}"),
            Op::Linear {
                in_features,
                out_features,
                ..
            } => format!("fc {in_features}→{out_features}"),
            Op::Dropout { features, .. } => format!("dropout {features}"),
        }
    }
}

/// The ops of a network plus the shape of every activation.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub spec: ModelSpec,
    pub ops: Vec<Op>,
}

impl Network {
    /// The paper's network: convs (each + ReLU), LRN, pools, then FC–ReLU–dropout,
    /// FC–ReLU–dropout, FC. `dropout` is the drop probability of FC1 and FC2 (0.5).
    pub fn new(spec: &ModelSpec, dropout: f32) -> Network {
        let mut ops = Vec::new();
        let mut param = 0;
        let (mut channels, mut size) = (3, spec.input_size);
        let convs = spec.conv_layers();
        let mut conv = convs.iter();
        for layer in spec.config.layers() {
            match layer {
                Layer::Conv { .. } => {
                    let l = conv.next().expect("conv_layers follows layers()");
                    ops.push(Op::Conv {
                        in_channels: l.in_channels,
                        out_channels: l.out_channels,
                        kernel: l.kernel,
                        size,
                        param,
                    });
                    param += 2;
                    channels = l.out_channels;
                }
                Layer::Lrn => ops.push(Op::Lrn(LrnParams::default())),
                Layer::MaxPool => {
                    ops.push(Op::MaxPool { channels, size });
                    size /= 2;
                }
            }
        }
        for (i, (in_features, out_features)) in spec.fc_layers().into_iter().enumerate() {
            let last = i == 2;
            ops.push(Op::Linear {
                in_features,
                out_features,
                relu: !last,
                param,
            });
            param += 2;
            if !last {
                ops.push(Op::Dropout {
                    p: dropout,
                    features: out_features,
                });
            }
        }
        Network {
            spec: spec.clone(),
            ops,
        }
    }

    /// Shape of the activation feeding op `i` (`i == ops.len()`: the logits), batch `n`.
    pub fn activation_shape(&self, i: usize, n: usize) -> Vec<usize> {
        if i == 0 {
            return vec![n, 3, self.spec.input_size, self.spec.input_size];
        }
        match self.ops[i - 1] {
            Op::Conv {
                out_channels, size, ..
            } => vec![n, out_channels, size, size],
            Op::Lrn(_) => self.activation_shape(i - 1, n),
            Op::MaxPool { channels, size } => vec![n, channels, size / 2, size / 2],
            Op::Linear { out_features, .. } => vec![n, out_features],
            Op::Dropout { features, .. } => vec![n, features],
        }
    }

    pub fn conv_shape(op: &Op, n: usize) -> Option<ConvShape> {
        match *op {
            Op::Conv {
                in_channels,
                out_channels,
                kernel,
                size,
                ..
            } => Some(ConvShape {
                batch: n,
                in_channels,
                in_h: size,
                in_w: size,
                out_channels,
                kernel,
                pad: kernel / 2,
            }),
            _ => None,
        }
    }

    pub fn linear_shape(op: &Op, n: usize) -> Option<LinearShape> {
        match *op {
            Op::Linear {
                in_features,
                out_features,
                ..
            } => Some(LinearShape {
                batch: n,
                in_features,
                out_features,
            }),
            _ => None,
        }
    }

    pub fn pool_shape(op: &Op, n: usize) -> Option<PoolShape> {
        match *op {
            Op::MaxPool { channels, size } => Some(PoolShape {
                batch: n,
                channels,
                in_h: size,
                in_w: size,
            }),
            _ => None,
        }
    }

    /// Forward FLOPs of one image (convs and FCs; the rest is negligible).
    pub fn flops_per_image(&self) -> f64 {
        self.ops
            .iter()
            .map(|op| {
                Network::conv_shape(op, 1)
                    .map(|s| s.flops())
                    .or_else(|| Network::linear_shape(op, 1).map(|s| s.flops()))
                    .unwrap_or(0.0)
            })
            .sum()
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
            .position(|op| matches!(op, Op::Linear { .. }))
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
            if let Op::Conv {
                out_channels,
                in_channels,
                kernel,
                param,
                ..
            } = *op
            {
                assert_eq!(
                    infos[param].shape,
                    vec![out_channels, in_channels, kernel, kernel]
                );
            }
            if let Op::Linear {
                in_features,
                out_features,
                param,
                ..
            } = *op
            {
                assert_eq!(infos[param].shape, vec![out_features, in_features]);
            }
        }
    }
}
