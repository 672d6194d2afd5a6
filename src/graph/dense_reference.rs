//! Dense evaluation on the CPU, written as what it replaces: the plain network's
//! classifier slid over the image. GPU: [`DensePlan`](super::DensePlan).
//!
//! The feature ops run once on the whole image (H, W at least the training size); then
//! every s×s window of their last feature map (s the side of the plain network's map
//! there), at stride 1 there and so at the pools' total stride in the image, is
//! flattened and sent through the classifier exactly as the plain net sends its one
//! window; the logits of all windows are averaged. (Sliding the whole plain net over
//! crops of the image spaced by that stride would differ near each crop's border, where
//! the crop sees zero padding instead of the neighbouring pixels: the paper's reason why
//! dense and multi-crop evaluation complement each other.)

use super::network::Network;
use super::ops::ReferencePass;
use crate::model::IMAGE_CHANNELS;

/// Averaged class scores (N, classes) of `images` (N, 3, height, width).
pub fn dense_scores(
    net: &Network,
    params: &[Vec<f32>],
    images: &[f32],
    n: usize,
    height: usize,
    width: usize,
) -> Vec<f32> {
    let pass = ReferencePass {
        batch: n,
        params,
        dropout: None,
    };
    // The classifier starts with the first op whose output is flat.
    let head = (0..net.ops.len())
        .find(|&i| net.activation_shape(i + 1, 1).len() == 2)
        .unwrap_or(net.ops.len());
    let (mut x, mut input) = (images.to_vec(), vec![IMAGE_CHANNELS, height, width]);
    for (i, op) in net.ops[..head].iter().enumerate() {
        let plain_input = &net.activation_shape(i, 1)[1..];
        if let Some(op) = op.dense(plain_input, &input) {
            x = op.reference_forward(&pass, &x);
            input = op.output(1)[1..].to_vec();
        }
    }
    let (c, h, w) = (input[0], input[1], input[2]);
    let side = net.activation_shape(head, 1)[2];

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
        for op in &net.ops[head..] {
            v = op.reference_forward(&pass, &v);
        }
        for (sum, logit) in sums.iter_mut().zip(&v) {
            *sum += *logit as f64;
        }
    }
    sums.into_iter()
        .map(|s| (s / windows.len() as f64) as f32)
        .collect()
}
