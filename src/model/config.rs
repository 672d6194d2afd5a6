//! The paper's Table 1 as data: configurations A, A-LRN, B, C, D, E, plus the options
//! (classes, input size, width divisor) that make small experiments possible.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// One of the paper's six configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Config {
    A,
    ALrn,
    B,
    C,
    D,
    E,
}

/// One feature-extractor layer. Every conv is followed by ReLU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// conv `kernel`×`kernel` (3, or 1 in config C), `channels` outputs, stride 1,
    /// padding `kernel / 2`.
    Conv { channels: usize, kernel: usize },
    /// AlexNet's local response normalisation (A-LRN only).
    Lrn,
    /// 2×2 max-pool, stride 2.
    MaxPool,
}

const fn c3(channels: usize) -> Layer {
    Layer::Conv {
        channels,
        kernel: 3,
    }
}
const fn c1(channels: usize) -> Layer {
    Layer::Conv {
        channels,
        kernel: 1,
    }
}
const P: Layer = Layer::MaxPool;
const L: Layer = Layer::Lrn;

// Table 1, one column each.
#[rustfmt::skip]
const TABLE_A: &[Layer] = &[c3(64), P, c3(128), P, c3(256), c3(256), P, c3(512), c3(512), P, c3(512), c3(512), P];
#[rustfmt::skip]
const TABLE_A_LRN: &[Layer] = &[c3(64), L, P, c3(128), P, c3(256), c3(256), P, c3(512), c3(512), P, c3(512), c3(512), P];
#[rustfmt::skip]
const TABLE_B: &[Layer] = &[c3(64), c3(64), P, c3(128), c3(128), P, c3(256), c3(256), P, c3(512), c3(512), P, c3(512), c3(512), P];
#[rustfmt::skip]
const TABLE_C: &[Layer] = &[
    c3(64), c3(64), P, c3(128), c3(128), P, c3(256), c3(256), c1(256), P,
    c3(512), c3(512), c1(512), P, c3(512), c3(512), c1(512), P,
];
#[rustfmt::skip]
const TABLE_D: &[Layer] = &[
    c3(64), c3(64), P, c3(128), c3(128), P, c3(256), c3(256), c3(256), P,
    c3(512), c3(512), c3(512), P, c3(512), c3(512), c3(512), P,
];
#[rustfmt::skip]
const TABLE_E: &[Layer] = &[
    c3(64), c3(64), P, c3(128), c3(128), P, c3(256), c3(256), c3(256), c3(256), P,
    c3(512), c3(512), c3(512), c3(512), P, c3(512), c3(512), c3(512), c3(512), P,
];

impl Config {
    pub const ALL: [Config; 6] = [
        Config::A,
        Config::ALrn,
        Config::B,
        Config::C,
        Config::D,
        Config::E,
    ];

    /// The feature layers, column by column from Table 1.
    pub fn layers(self) -> &'static [Layer] {
        match self {
            Config::A => TABLE_A,
            Config::ALrn => TABLE_A_LRN,
            Config::B => TABLE_B,
            Config::C => TABLE_C,
            Config::D => TABLE_D,
            Config::E => TABLE_E,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Config::A => "A",
            Config::ALrn => "A-LRN",
            Config::B => "B",
            Config::C => "C",
            Config::D => "D",
            Config::E => "E",
        }
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Config {
    type Err = Error;
    fn from_str(s: &str) -> Result<Config> {
        Config::ALL
            .into_iter()
            .find(|c| {
                c.name().eq_ignore_ascii_case(s)
                    || (s.eq_ignore_ascii_case("alrn") && *c == Config::ALrn)
            })
            .ok_or_else(|| Error::InvalidArgument {
                op: "config",
                message: format!("unknown VGG configuration '{s}': use A, A-LRN, B, C, D or E"),
            })
    }
}

/// Channels of an input image (RGB).
pub const IMAGE_CHANNELS: usize = 3;

/// A concrete network: a configuration plus the options of a small experiment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    pub config: Config,
    pub classes: usize,
    /// Training input size (square); must be a multiple of 32 (five 2×2 pools).
    pub input_size: usize,
    /// Every conv width and the FC width are divided by this (1 = the paper's net).
    pub width_divisor: usize,
}

/// One conv layer with its geometry resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvLayer {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    /// Spatial size of its input (and output: padding keeps it).
    pub size: usize,
}

impl ModelSpec {
    pub fn paper(config: Config) -> ModelSpec {
        ModelSpec {
            config,
            classes: 1000,
            input_size: 224,
            width_divisor: 1,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| {
            Err(Error::InvalidArgument {
                op: "model",
                message,
            })
        };
        if self.input_size == 0 || !self.input_size.is_multiple_of(32) {
            return bad(format!(
                "input size {} is not a positive multiple of 32 (VGG has five 2×2 pools)",
                self.input_size
            ));
        }
        if self.width_divisor == 0 || 64 % self.width_divisor != 0 {
            return bad(format!(
                "width divisor {} must divide 64",
                self.width_divisor
            ));
        }
        if self.classes == 0 {
            return bad("the number of classes must be at least 1".into());
        }
        Ok(())
    }

    /// Width of FC1 and FC2 (4096 in the paper).
    pub fn fc_width(&self) -> usize {
        4096 / self.width_divisor
    }

    /// The conv layers in order, with channel counts and spatial sizes resolved.
    pub fn conv_layers(&self) -> Vec<ConvLayer> {
        let mut layers = Vec::new();
        let (mut channels, mut size) = (IMAGE_CHANNELS, self.input_size);
        for layer in self.config.layers() {
            match *layer {
                Layer::Conv {
                    channels: out,
                    kernel,
                } => {
                    let out = out / self.width_divisor;
                    layers.push(ConvLayer {
                        in_channels: channels,
                        out_channels: out,
                        kernel,
                        size,
                    });
                    channels = out;
                }
                Layer::MaxPool => size /= 2,
                Layer::Lrn => {}
            }
        }
        layers
    }

    /// (in_features, out_features) of FC1, FC2, FC3. FC1's input is 512·(size/32)².
    pub fn fc_layers(&self) -> [(usize, usize); 3] {
        let side = self.input_size / 32;
        let last_channels = 512 / self.width_divisor;
        [
            (last_channels * side * side, self.fc_width()),
            (self.fc_width(), self.fc_width()),
            (self.fc_width(), self.classes),
        ]
    }

    /// Number of weights and biases.
    pub fn parameter_count(&self) -> usize {
        let conv: usize = self
            .conv_layers()
            .iter()
            .map(|l| l.out_channels * (l.in_channels * l.kernel * l.kernel + 1))
            .sum();
        let fc: usize = self.fc_layers().iter().map(|(i, o)| o * (i + 1)).sum();
        conv + fc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table 2 of the paper, in millions: 133, 133, 133, 134, 138, 144.
    #[test]
    fn parameter_counts_match_table_2() {
        let expected = [
            (Config::A, 133),
            (Config::ALrn, 133),
            (Config::B, 133),
            (Config::C, 134),
            (Config::D, 138),
            (Config::E, 144),
        ];
        for (config, millions) in expected {
            let count = ModelSpec::paper(config).parameter_count();
            assert_eq!(
                (count as f64 / 1e6).round() as usize,
                millions,
                "{config}: {count} parameters"
            );
        }
        // torchvision's vgg16 has exactly this many.
        assert_eq!(ModelSpec::paper(Config::D).parameter_count(), 138_357_544);
    }

    #[test]
    fn config_names_parse() {
        for c in Config::ALL {
            assert_eq!(c.name().parse::<Config>().unwrap(), c);
        }
        assert!("F".parse::<Config>().is_err());
    }
}
