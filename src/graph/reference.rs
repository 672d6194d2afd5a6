//! A whole training step of a [`Network`] on the CPU, composed of each op's reference
//! ([`Operation`]'s `reference_*` methods, built from [`crate::oracle`]): what the GPU
//! [`TrainPlan`](super::TrainPlan) is tested against.
//!
//! [`Operation`]: super::ops::Operation

use super::network::Network;
use super::ops::ReferencePass;
use crate::model::WeightFile;
use crate::oracle::{loss, sgd};
use crate::shape::{LossShape, SgdHyper};

/// Parameters and momenta in [`crate::model::ModelSpec::parameters`] order.
pub struct OracleState {
    pub params: Vec<Vec<f32>>,
    pub momenta: Vec<Vec<f32>>,
}

impl OracleState {
    pub fn new(net: &Network, weights: &WeightFile) -> OracleState {
        let params: Vec<Vec<f32>> = net
            .spec
            .parameters()
            .iter()
            .map(|p| weights.tensors[&p.name].1.clone())
            .collect();
        let momenta = params.iter().map(|p| vec![0.0; p.len()]).collect();
        OracleState { params, momenta }
    }
}

/// Forward pass: every activation, `acts[0]` the images and the last the logits.
/// `dropout` is (seed, step) when training, None for inference.
pub fn forward(
    net: &Network,
    params: &[Vec<f32>],
    images: &[f32],
    n: usize,
    dropout: Option<(u32, u32)>,
) -> Vec<Vec<f32>> {
    let pass = ReferencePass {
        batch: n,
        params,
        dropout,
    };
    let mut acts = vec![images.to_vec()];
    for op in &net.ops {
        let x = acts.last().expect("at least the input");
        let y = op.reference_forward(&pass, x);
        acts.push(y);
    }
    acts
}

/// One SGD step on (images, labels) with mean cross-entropy loss, updating `state` in
/// place; returns the summed loss of the batch.
pub fn train_step(
    net: &Network,
    state: &mut OracleState,
    images: &[f32],
    labels: &[u32],
    hyper: &SgdHyper,
    seed: u32,
    step: u32,
) -> f64 {
    let n = labels.len();
    let dropout = Some((seed, step));
    let acts = forward(net, &state.params, images, n, dropout);
    let shape = LossShape {
        batch: n,
        classes: net.spec.classes,
    };
    let result = loss::softmax_cross_entropy(&shape, 1.0 / n as f32, &acts[net.ops.len()], labels);

    let pass = ReferencePass {
        batch: n,
        params: &state.params,
        dropout,
    };
    let mut grads: Vec<Vec<f32>> = state.params.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut g = result.dlogits;
    for (i, op) in net.ops.iter().enumerate().rev() {
        let gradients = op.reference_backward(&pass, &acts[i], &acts[i + 1], &g);
        if let (Some(param), Some((dweight, dbias))) = (op.param(), gradients.params) {
            grads[param] = dweight;
            grads[param + 1] = dbias;
        }
        g = gradients.dx;
    }
    for ((w, g), v) in state
        .params
        .iter_mut()
        .zip(&grads)
        .zip(state.momenta.iter_mut())
    {
        sgd::sgd_step(hyper, w, g, v);
    }
    result.totals[0] as f64
}

/// How far a forward pass on `images` stays from the points where ReLU and max-pool
/// switch branch, in units of each layer's RMS: the smallest of every op's
/// `reference_kink_margin` (see [`crate::oracle::kink`]).
pub fn kink_margin(
    net: &Network,
    params: &[Vec<f32>],
    images: &[f32],
    n: usize,
    dropout: Option<(u32, u32)>,
) -> f64 {
    let acts = forward(net, params, images, n, dropout);
    let pass = ReferencePass {
        batch: n,
        params,
        dropout,
    };
    net.ops
        .iter()
        .zip(&acts)
        .map(|(op, x)| op.reference_kink_margin(&pass, x))
        .fold(f64::INFINITY, f64::min)
}
