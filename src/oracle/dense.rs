//! Dense evaluation on the CPU, written as what it replaces: the plain network's
//! classifier slid over the image. GPU: `src/graph/dense_plan.rs`.
//!
//! The conv part runs once on the whole image (H, W at least the training size); then
//! every s×s window of its last feature map (s = input_size / 32), at stride 1 there
//! and so stride 32 in the image, is flattened and sent through FC1, FC2 and FC3
//! exactly as the plain net sends its one window; the logits of all windows are
//! averaged. (Sliding the whole plain net over 32-pixel-spaced crops of the image would
//! differ near each crop's border, where the crop sees zero padding instead of the
//! neighbouring pixels: the paper's reason why dense and multi-crop evaluation
//! complement each other.)

use super::{conv, linear, lrn, pool};
use crate::graph::{Network, Op};
use crate::shape::{ConvShape, PoolShape};

/// Averaged class scores (N, classes) of `images` (N, 3, height, width).
pub fn dense_scores(
    net: &Network,
    params: &[Vec<f32>],
    images: &[f32],
    n: usize,
    height: usize,
    width: usize,
) -> Vec<f32> {
    let (mut x, mut c, mut h, mut w) = (images.to_vec(), 3, height, width);
    let mut head = Vec::new();
    for op in &net.ops {
        match *op {
            Op::Conv {
                out_channels,
                kernel,
                param,
                ..
            } => {
                let s = ConvShape {
                    batch: n,
                    in_channels: c,
                    in_h: h,
                    in_w: w,
                    out_channels,
                    kernel,
                    pad: kernel / 2,
                };
                x = conv::conv2d_forward(&s, true, &x, &params[param], &params[param + 1]);
                c = out_channels;
            }
            Op::Lrn(l) => x = lrn::lrn_forward([n, c, h, w], &l, &x),
            Op::MaxPool { .. } => {
                let s = PoolShape {
                    batch: n,
                    channels: c,
                    in_h: h,
                    in_w: w,
                };
                x = pool::maxpool2d_forward(&s, &x);
                (h, w) = (s.out_h(), s.out_w());
            }
            Op::Linear { .. } => head.push(*op),
            Op::Dropout { .. } => {}
        }
    }

    let side = net.spec.input_size / 32;
    let windows: Vec<(usize, usize)> = (0..=h - side)
        .flat_map(|i| (0..=w - side).map(move |j| (i, j)))
        .collect();
    let classes = net.spec.classes;
    let mut sums = vec![0f64; n * classes];
    for &(i, j) in &windows {
        // The window (N, C, s, s), flattened per image as the plain net flattens.
        let mut v = Vec::with_capacity(n * c * side * side);
        for b in 0..n {
            for ch in 0..c {
                for y in i..i + side {
                    let row = ((b * c + ch) * h + y) * w;
                    v.extend_from_slice(&x[row + j..row + j + side]);
                }
            }
        }
        for op in &head {
            if let Op::Linear { relu, param, .. } = *op {
                let s = Network::linear_shape(op, n).expect("linear");
                v = linear::linear_forward(&s, relu, &v, &params[param], &params[param + 1]);
            }
        }
        for (sum, logit) in sums.iter_mut().zip(&v) {
            *sum += *logit as f64;
        }
    }
    sums.into_iter()
        .map(|s| (s / windows.len() as f64) as f32)
        .collect()
}
