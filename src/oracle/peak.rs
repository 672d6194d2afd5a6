//! The adapter-ceiling kernels on the CPU. GPU: `shaders/peak.wgsl`, launchers:
//! `src/kernels/peak.rs`.

/// The multipliers of the multiply-add chains (chain c uses them rotated by c mod 4).
pub const Y: [f32; 4] = [0.999, 0.998, 0.997, 0.996];

/// `fma_peak`: for each start value x, 16 chains of vec4 multiply-adds, `iterations` ×
/// two steps, summed over chains and lanes.
pub fn fma_peak(x: &[f32], iterations: u32) -> Vec<f32> {
    x.iter()
        .map(|&x0| {
            let mut x = x0 as f64;
            let mut a = [[0f64; 4]; 16];
            for (c, chain) in a.iter_mut().enumerate() {
                *chain = [x + c as f64; 4];
            }
            for _ in 0..iterations {
                for scale in [0.99991f32, 0.99992] {
                    for (c, chain) in a.iter_mut().enumerate() {
                        for (lane, v) in chain.iter_mut().enumerate() {
                            *v += x * Y[(lane + c) % 4] as f64;
                        }
                    }
                    x *= scale as f64;
                }
            }
            a.iter().flatten().sum::<f64>() as f32
        })
        .collect()
}

/// `load_peak`: out[i] = Σ_{k < 4 · iterations} src[(i + k · count) mod src.len()].
pub fn load_peak(src: &[f32], count: usize, iterations: u32) -> Vec<f32> {
    (0..count)
        .map(|i| {
            (0..4 * iterations as usize)
                .map(|k| src[(i + k * count) % src.len()] as f64)
                .sum::<f64>() as f32
        })
        .collect()
}
