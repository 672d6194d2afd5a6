//! Oracle for `shaders/conv_windows.wgsl`: a convolution's windows as rows, and rows of
//! outputs back into the map.

use crate::shape::ConvShape;

/// x (N, C, H, W) → rows (N·P, C·k·k), P = out_h·out_w (no padding).
pub fn unfold(s: &ConvShape, x: &[f32]) -> Vec<f32> {
    let (oh, ow, k) = (s.out_h(), s.out_w(), s.kernel);
    let mut rows = Vec::with_capacity(s.batch * oh * ow * s.in_channels * k * k);
    for n in 0..s.batch {
        for r in 0..oh {
            for c0 in 0..ow {
                for c in 0..s.in_channels {
                    for kh in 0..k {
                        for kw in 0..k {
                            rows.push(
                                x[((n * s.in_channels + c) * s.in_h + r + kh) * s.in_w + c0 + kw],
                            );
                        }
                    }
                }
            }
        }
    }
    rows
}

/// rows (N·P, O) → y (N, O, out_h, out_w).
pub fn fold(s: &ConvShape, rows: &[f32]) -> Vec<f32> {
    let positions = s.out_h() * s.out_w();
    let mut y = Vec::with_capacity(s.batch * s.out_channels * positions);
    for n in 0..s.batch {
        for o in 0..s.out_channels {
            for p in 0..positions {
                y.push(rows[(n * positions + p) * s.out_channels + o]);
            }
        }
    }
    y
}
