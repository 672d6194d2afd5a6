//! Inverted dropout on the CPU, with the Philox4x32-10 counter-based RNG that
//! `shaders/dropout.wgsl` implements bit for bit. Launchers: `src/kernels/dropout.rs`.

use crate::shape::Dropout;

const PHILOX_M0: u32 = 0xD251_1F53;
const PHILOX_M1: u32 = 0xCD9E_8D57;
const PHILOX_W0: u32 = 0x9E37_79B9; // golden ratio
const PHILOX_W1: u32 = 0xBB67_AE85; // sqrt(3) − 1

/// Philox4x32 with 10 rounds (Salmon, Moraes, Dror, Shaw: "Parallel random numbers:
/// as easy as 1, 2, 3", SC 2011): four 32-bit output words for a counter and a key.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(PHILOX_W0), k[1].wrapping_add(PHILOX_W1)];
        }
        let p0 = PHILOX_M0 as u64 * c[0] as u64;
        let p1 = PHILOX_M1 as u64 * c[2] as u64;
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// Whether element (`sample`, `column`) survives dropout with drop probability `p` under
/// key (`seed`, `step`): u = (philox4x32_10((column, sample, 0, 0), (seed, step)).word0
/// >> 8) · 2^-24, kept when u ≥ p.
pub fn keep(seed: u32, step: u32, sample: u32, column: u32, p: f32) -> bool {
    let bits = philox4x32_10([column, sample, 0, 0], [seed, step])[0];
    let u = (bits >> 8) as f32 * (1.0 / (1u32 << 24) as f32);
    u >= p
}

/// output = input · mask · 1/(1 − p); the same function serves both passes. `input` is
/// (rows, row_len), row r being sample `sample_base + r` of the step's batch.
fn apply(
    d: &Dropout,
    seed: u32,
    step: u32,
    sample_base: u32,
    row_len: usize,
    input: &[f32],
) -> Vec<f32> {
    let scale = d.scale();
    input
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let sample = sample_base.wrapping_add((i / row_len) as u32);
            let column = (i % row_len) as u32;
            if keep(seed, step, sample, column, d.p) {
                v * scale
            } else {
                0.0
            }
        })
        .collect()
}

/// y = x · mask · 1/(1 − p).
///
/// # Shapes
/// x (rows, row_len) → y (rows, row_len); row r is sample `sample_base + r`
pub fn dropout_forward(
    d: &Dropout,
    seed: u32,
    step: u32,
    sample_base: u32,
    row_len: usize,
    x: &[f32],
) -> Vec<f32> {
    apply(d, seed, step, sample_base, row_len, x)
}

/// dx = dy · mask · 1/(1 − p), with the forward pass's mask (the same arguments).
///
/// # Shapes
/// dy (rows, row_len) → dx (rows, row_len); row r is sample `sample_base + r`
pub fn dropout_backward(
    d: &Dropout,
    seed: u32,
    step: u32,
    sample_base: u32,
    row_len: usize,
    dy: &[f32],
) -> Vec<f32> {
    apply(d, seed, step, sample_base, row_len, dy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::gradcheck::{numeric_gradient, project, pseudo_random, relative_error};

    /// Random123's known-answer vectors (kat_vectors, "philox4x32 10" lines):
    /// counter, key, expected output.
    #[test]
    fn philox_matches_random123_known_answers() {
        let cases: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
            (
                [0, 0, 0, 0],
                [0, 0],
                [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
            ),
            (
                [u32::MAX; 4],
                [u32::MAX; 2],
                [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
            ),
            (
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0],
                [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
            ),
        ];
        for (counter, key, expected) in cases {
            assert_eq!(
                philox4x32_10(counter, key),
                expected,
                "counter {counter:08x?} key {key:08x?}"
            );
        }
    }

    #[test]
    fn backward_matches_finite_differences() {
        let d = Dropout { p: 0.5 };
        let (seed, step, sample_base, row_len) = (7, 3, 5, 16);
        let x = pseudo_random(64, 1);
        let r = pseudo_random(x.len(), 2);
        let dx = dropout_backward(&d, seed, step, sample_base, row_len, &r);
        let numeric = numeric_gradient(&x, 1e-2, |x| {
            project(
                &dropout_forward(&d, seed, step, sample_base, row_len, x),
                &r,
            )
        });
        let analytic: Vec<f64> = dx.iter().map(|&g| g as f64).collect();
        let err = relative_error(&analytic, &numeric);
        assert!(err < 1e-4, "dropout dx: relative error {err:e}");
    }
}
