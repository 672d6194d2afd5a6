//! The one random number generator of the data pipeline: SplitMix64, seeded from a key
//! of integers such as `(seed, epoch, sample index)`.
//!
//! Every random choice (a synthetic image, a crop, a flip, an epoch's order) gets a
//! fresh generator from its own key, so the result is a pure function of that key and
//! never depends on which thread ran first. We keep our own 20-line generator rather than
//! `rand::rngs::StdRng` because `rand` documents that `StdRng`'s stream may change between
//! versions, and these streams define the data set itself.

/// SplitMix64 (Steele, Lea & Flood 2014): 64-bit state, passes BigCrush.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    /// Box-Muller makes normals in pairs; the second waits here.
    spare_normal: Option<f32>,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function: a bijection of u64 that scrambles every bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose stream is determined by `key` (order matters).
    pub fn from_key(key: &[u64]) -> Rng {
        let mut h = 0x243F_6A88_85A3_08D3; // digits of pi: any non-zero start will do
        for &word in key {
            h = mix(h ^ word).wrapping_add(GOLDEN);
        }
        Rng {
            state: h,
            spare_normal: None,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in [0, 1), 24 bits of precision.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Uniform in [0, 1), 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next_f32()
    }

    /// Uniform integer in [0, n); 0 when n is 0. (Multiply-shift: bias below 2^-32
    /// for the n used here.)
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform integer in [lo, hi], both ends included.
    pub fn range_inclusive(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as u32
    }

    pub fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }

    /// Standard normal N(0, 1) by the Box-Muller transform.
    pub fn normal(&mut self) -> f32 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let u1 = 1.0 - self.next_f64(); // (0, 1]: ln is finite
        let u2 = self.next_f64();
        let r = (-2.0 * u1.ln()).sqrt();
        let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare_normal = Some((r * sin) as f32);
        (r * cos) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(key: &[u64]) -> Vec<u64> {
        let mut r = Rng::from_key(key);
        (0..4).map(|_| r.next_u64()).collect()
    }

    #[test]
    fn same_key_same_stream_different_key_different_stream() {
        assert_eq!(stream(&[1, 2, 3]), stream(&[1, 2, 3]));
        assert_ne!(stream(&[1, 2, 3]), stream(&[1, 3, 2]));
        assert_ne!(stream(&[1, 2, 3]), stream(&[1, 2, 4]));
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut r = Rng::from_key(&[7]);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal() as f64).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn range_inclusive_hits_both_ends_only() {
        let mut r = Rng::from_key(&[9]);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = r.range_inclusive(3, 7);
            assert!((3..=7).contains(&v));
            seen[(v - 3) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
