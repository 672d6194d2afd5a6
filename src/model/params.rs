//! The learnable tensors of a VGG, named as torchvision names them, so that its
//! published weights load without conversion.
//!
//! torchvision numbers every module of `features` (conv, ReLU, max-pool; here also
//! LRN) and of `classifier` (Linear 0, ReLU 1, Dropout 2, Linear 3, ReLU 4, Dropout 5,
//! Linear 6); a parameter's name is `<sequence>.<index>.weight|bias`.

use super::config::{Layer, ModelSpec};

/// What a parameter belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamOwner {
    /// The `i`-th conv layer (0-based, counting convs only).
    Conv(usize),
    /// FC1, FC2, FC3 as 0, 1, 2.
    Fc(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// e.g. `features.0.weight`, `classifier.6.bias`.
    pub name: String,
    /// Conv weights (O, C, K, K), FC weights (out, in), biases (O).
    pub shape: Vec<usize>,
    pub owner: ParamOwner,
    pub is_bias: bool,
}

impl ModelSpec {
    /// Every parameter in the order of the forward pass: weight then bias of each layer.
    pub fn parameters(&self) -> Vec<ParamInfo> {
        let mut out = Vec::new();
        let mut push = |name: String, weight_shape: Vec<usize>, owner: ParamOwner| {
            let bias_len = weight_shape[0];
            out.push(ParamInfo {
                name: format!("{name}.weight"),
                shape: weight_shape,
                owner,
                is_bias: false,
            });
            out.push(ParamInfo {
                name: format!("{name}.bias"),
                shape: vec![bias_len],
                owner,
                is_bias: true,
            });
        };
        let convs = self.conv_layers();
        let mut module = 0;
        let mut conv = 0;
        for layer in self.config.layers() {
            match layer {
                Layer::Conv { .. } => {
                    let l = convs[conv];
                    push(
                        format!("features.{module}"),
                        vec![l.out_channels, l.in_channels, l.kernel, l.kernel],
                        ParamOwner::Conv(conv),
                    );
                    conv += 1;
                    module += 2; // the conv and its ReLU
                }
                Layer::Lrn | Layer::MaxPool => module += 1,
            }
        }
        for (i, (inputs, outputs)) in self.fc_layers().into_iter().enumerate() {
            push(
                format!("classifier.{}", 3 * i),
                vec![outputs, inputs],
                ParamOwner::Fc(i),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Config, ModelSpec};

    #[test]
    fn vgg16_names_match_torchvision() {
        let names: Vec<String> = ModelSpec::paper(Config::D)
            .parameters()
            .into_iter()
            .map(|p| p.name)
            .collect();
        // torchvision vgg16: convs at features 0,2,5,7,10,12,14,17,19,21,24,26,28.
        let conv_modules = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];
        let mut expected: Vec<String> = conv_modules
            .iter()
            .flat_map(|i| [format!("features.{i}.weight"), format!("features.{i}.bias")])
            .collect();
        for i in [0, 3, 6] {
            expected.push(format!("classifier.{i}.weight"));
            expected.push(format!("classifier.{i}.bias"));
        }
        assert_eq!(names, expected);
    }

    #[test]
    fn parameter_shapes_sum_to_the_count() {
        for c in Config::ALL {
            let spec = ModelSpec::paper(c);
            let total: usize = spec
                .parameters()
                .iter()
                .map(|p| p.shape.iter().product::<usize>())
                .sum();
            assert_eq!(total, spec.parameter_count(), "{c}");
        }
    }
}
