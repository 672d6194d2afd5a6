//! Conv2d on the CPU. GPU: `shaders/conv2d*.wgsl`, launchers: `src/kernels/conv/`.

use crate::shape::ConvShape;

/// Input value at (n, c, ih, iw) with zero padding outside the image.
fn input_at(s: &ConvShape, x: &[f32], n: usize, c: usize, ih: isize, iw: isize) -> f64 {
    if ih < 0 || iw < 0 || ih >= s.in_h as isize || iw >= s.in_w as isize {
        return 0.0;
    }
    x[((n * s.in_channels + c) * s.in_h + ih as usize) * s.in_w + iw as usize] as f64
}

fn weight_index(s: &ConvShape, o: usize, c: usize, kh: usize, kw: usize) -> usize {
    ((o * s.in_channels + c) * s.kernel + kh) * s.kernel + kw
}

/// y (N, O, OH, OW) = x ⋆ weight + bias, then ReLU if `relu`.
pub fn conv2d_forward(
    s: &ConvShape,
    relu: bool,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
) -> Vec<f32> {
    let (oh_n, ow_n) = (s.out_h(), s.out_w());
    let mut y = vec![0f32; s.batch * s.out_channels * oh_n * ow_n];
    for n in 0..s.batch {
        for o in 0..s.out_channels {
            for oh in 0..oh_n {
                for ow in 0..ow_n {
                    let mut acc = bias[o] as f64;
                    for c in 0..s.in_channels {
                        for kh in 0..s.kernel {
                            for kw in 0..s.kernel {
                                let ih = (oh + kh) as isize - s.pad as isize;
                                let iw = (ow + kw) as isize - s.pad as isize;
                                acc += weight[weight_index(s, o, c, kh, kw)] as f64
                                    * input_at(s, x, n, c, ih, iw);
                            }
                        }
                    }
                    if relu {
                        acc = acc.max(0.0);
                    }
                    y[((n * s.out_channels + o) * oh_n + oh) * ow_n + ow] = acc as f32;
                }
            }
        }
    }
    y
}

/// Gradients of a convolution (before any ReLU) given dy, the gradient of its output.
pub struct ConvGradients {
    /// (N, C, H, W)
    pub dx: Vec<f32>,
    /// (O, C, K, K)
    pub dweight: Vec<f32>,
    /// (O)
    pub dbias: Vec<f32>,
}

pub fn conv2d_backward(s: &ConvShape, x: &[f32], weight: &[f32], dy: &[f32]) -> ConvGradients {
    let (oh_n, ow_n) = (s.out_h(), s.out_w());
    let mut dx = vec![0f64; x.len()];
    let mut dweight = vec![0f64; weight.len()];
    let mut dbias = vec![0f64; s.out_channels];
    for n in 0..s.batch {
        for o in 0..s.out_channels {
            for oh in 0..oh_n {
                for ow in 0..ow_n {
                    let g = dy[((n * s.out_channels + o) * oh_n + oh) * ow_n + ow] as f64;
                    dbias[o] += g;
                    for c in 0..s.in_channels {
                        for kh in 0..s.kernel {
                            for kw in 0..s.kernel {
                                let ih = (oh + kh) as isize - s.pad as isize;
                                let iw = (ow + kw) as isize - s.pad as isize;
                                let wi = weight_index(s, o, c, kh, kw);
                                dweight[wi] += g * input_at(s, x, n, c, ih, iw);
                                if ih >= 0
                                    && iw >= 0
                                    && ih < s.in_h as isize
                                    && iw < s.in_w as isize
                                {
                                    let xi = ((n * s.in_channels + c) * s.in_h + ih as usize)
                                        * s.in_w
                                        + iw as usize;
                                    dx[xi] += g * weight[wi] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|g| g as f32).collect();
    ConvGradients {
        dx: to_f32(dx),
        dweight: to_f32(dweight),
        dbias: to_f32(dbias),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::gradcheck::{numeric_gradient, project, pseudo_random, relative_error};

    #[test]
    fn backward_matches_finite_differences() {
        let s = ConvShape {
            batch: 2,
            in_channels: 3,
            in_h: 5,
            in_w: 4,
            out_channels: 2,
            kernel: 3,
            pad: 1,
        };
        let x = pseudo_random(s.input().iter().product(), 1);
        let w = pseudo_random(s.weight().iter().product(), 2);
        let b = pseudo_random(s.out_channels, 3);
        let r = pseudo_random(s.output().iter().product(), 4);
        let grads = conv2d_backward(&s, &x, &w, &r);
        let as_f64 = |v: &[f32]| v.iter().map(|&g| g as f64).collect::<Vec<_>>();

        let num_dx = numeric_gradient(&x, 1e-2, |x| {
            project(&conv2d_forward(&s, false, x, &w, &b), &r)
        });
        let num_dw = numeric_gradient(&w, 1e-2, |w| {
            project(&conv2d_forward(&s, false, &x, w, &b), &r)
        });
        let num_db = numeric_gradient(&b, 1e-2, |b| {
            project(&conv2d_forward(&s, false, &x, &w, b), &r)
        });
        for (name, analytic, numeric) in [
            ("dx", &grads.dx, num_dx),
            ("dweight", &grads.dweight, num_dw),
            ("dbias", &grads.dbias, num_db),
        ] {
            let err = relative_error(&as_f64(analytic), &numeric);
            assert!(
                err < 1e-4,
                "conv {name}: relative error {err:e} against finite differences"
            );
        }
    }
}
