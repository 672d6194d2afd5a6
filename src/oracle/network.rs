//! A whole training step of a [`Network`] on the CPU, composed of the oracle's ops:
//! what the GPU [`TrainPlan`](crate::graph::TrainPlan) is tested against.

use super::{conv, dropout, linear, loss, lrn, pool, relu, sgd};
use crate::graph::{Network, Op};
use crate::model::WeightFile;
use crate::shape::{Dropout, LossShape, SgdHyper};

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
    let mut acts = vec![images.to_vec()];
    for op in &net.ops {
        let x = acts.last().expect("at least the input");
        let y = match *op {
            Op::Conv { param, .. } => {
                let s = Network::conv_shape(op, n).expect("conv");
                conv::conv2d_forward(&s, true, x, &params[param], &params[param + 1])
            }
            Op::Lrn(l) => {
                let shape: [usize; 4] = net
                    .activation_shape(acts.len() - 1, n)
                    .try_into()
                    .expect("NCHW");
                lrn::lrn_forward(shape, &l, x)
            }
            Op::MaxPool { .. } => {
                pool::maxpool2d_forward(&Network::pool_shape(op, n).expect("pool"), x)
            }
            Op::Linear { relu, param, .. } => {
                let s = Network::linear_shape(op, n).expect("linear");
                linear::linear_forward(&s, relu, x, &params[param], &params[param + 1])
            }
            Op::Dropout { p, features } => match dropout {
                Some((seed, step)) => {
                    dropout::dropout_forward(&Dropout { p }, seed, step, 0, features, x)
                }
                None => x.clone(),
            },
        };
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
    let acts = forward(net, &state.params, images, n, Some((seed, step)));
    let shape = LossShape {
        batch: n,
        classes: net.spec.classes,
    };
    let result = loss::softmax_cross_entropy(&shape, 1.0 / n as f32, &acts[net.ops.len()], labels);

    let mut grads: Vec<Vec<f32>> = state.params.iter().map(|p| vec![0.0; p.len()]).collect();
    let mut g = result.dlogits;
    for (i, op) in net.ops.iter().enumerate().rev() {
        let (x, y) = (&acts[i], &acts[i + 1]);
        g = match *op {
            Op::Conv { param, .. } => {
                let s = Network::conv_shape(op, n).expect("conv");
                let dz = relu::relu_backward(y, &g);
                let c = conv::conv2d_backward(&s, x, &state.params[param], &dz);
                grads[param] = c.dweight;
                grads[param + 1] = c.dbias;
                c.dx
            }
            Op::Linear {
                relu: fused, param, ..
            } => {
                let s = Network::linear_shape(op, n).expect("linear");
                let dz = if fused { relu::relu_backward(y, &g) } else { g };
                let l = linear::linear_backward(&s, x, &state.params[param], &dz);
                grads[param] = l.dweight;
                grads[param + 1] = l.dbias;
                l.dx
            }
            Op::MaxPool { .. } => {
                pool::maxpool2d_backward(&Network::pool_shape(op, n).expect("pool"), x, &g)
            }
            Op::Lrn(l) => {
                let shape: [usize; 4] = net.activation_shape(i, n).try_into().expect("NCHW");
                lrn::lrn_backward(shape, &l, x, &g)
            }
            Op::Dropout { p, features } => {
                dropout::dropout_backward(&Dropout { p }, seed, step, 0, features, &g)
            }
        };
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

/// How far a training forward pass on `images` stays from the points where ReLU and
/// max-pool switch branch, in units of each layer's RMS: the smallest |pre-activation|
/// of a ReLU, and the smallest gap between a pool window's maximum and its runner-up
/// (exact ties, such as zeros after a ReLU, are excluded: both sides send them to the
/// first maximum). fp32 rounding moves values by about 1e-7 of that scale; where the
/// margin is far above it the GPU and the oracle take the same branches, so their
/// gradients agree to rounding, while one flipped branch changes a gradient by a term.
pub fn kink_margin(
    net: &Network,
    params: &[Vec<f32>],
    images: &[f32],
    n: usize,
    dropout: Option<(u32, u32)>,
) -> f64 {
    let acts = forward(net, params, images, n, dropout);
    let mut margin = f64::INFINITY;
    for (i, op) in net.ops.iter().enumerate() {
        let x = &acts[i];
        let pre_activation = match *op {
            Op::Conv { param, .. } => {
                let s = Network::conv_shape(op, n).expect("conv");
                Some(conv::conv2d_forward(
                    &s,
                    false,
                    x,
                    &params[param],
                    &params[param + 1],
                ))
            }
            Op::Linear {
                relu: true, param, ..
            } => {
                let s = Network::linear_shape(op, n).expect("linear");
                Some(linear::linear_forward(
                    &s,
                    false,
                    x,
                    &params[param],
                    &params[param + 1],
                ))
            }
            Op::MaxPool { .. } => {
                let s = Network::pool_shape(op, n).expect("pool");
                margin = margin.min(pool_gap(&s, x) / rms(x));
                None
            }
            _ => None,
        };
        if let Some(z) = pre_activation {
            let smallest = z
                .iter()
                .map(|v| v.abs() as f64)
                .fold(f64::INFINITY, f64::min);
            margin = margin.min(smallest / rms(&z));
        }
    }
    margin
}

fn rms(values: &[f32]) -> f64 {
    let sum: f64 = values.iter().map(|&v| (v as f64).powi(2)).sum();
    (sum / values.len().max(1) as f64)
        .sqrt()
        .max(f64::MIN_POSITIVE)
}

/// The smallest gap between the largest and second-largest values of any 2×2 window
/// whose two largest values differ.
fn pool_gap(s: &crate::shape::PoolShape, x: &[f32]) -> f64 {
    let mut gap = f64::INFINITY;
    for plane in 0..s.batch * s.channels {
        for oh in 0..s.out_h() {
            for ow in 0..s.out_w() {
                let mut window: Vec<f32> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|(dh, dw)| {
                        x[plane * s.in_h * s.in_w + (2 * oh + dh) * s.in_w + 2 * ow + dw]
                    })
                    .collect();
                window.sort_by(|a, b| b.total_cmp(a));
                if window[0] != window[1] {
                    gap = gap.min((window[0] - window[1]) as f64);
                }
            }
        }
    }
    gap
}
