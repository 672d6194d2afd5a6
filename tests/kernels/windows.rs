use crate::harness::*;
use vgg_wgpu::kernels::conv::windows::{fold_positions, output_rows, unfold_windows, window_rows};
use vgg_wgpu::oracle;
use vgg_wgpu::shape::ConvShape;

/// Dense FC1 past the training size in miniature (a 3×3 filter over a 5×4 map: 3×2
/// positions), a 1×1 filter (FC2, FC3), and a single position.
const SHAPES: &[ConvShape] = &[
    ConvShape {
        batch: 2,
        in_channels: 5,
        in_h: 5,
        in_w: 4,
        out_channels: 7,
        kernel: 3,
        pad: 0,
    },
    ConvShape {
        batch: 3,
        in_channels: 6,
        in_h: 2,
        in_w: 3,
        out_channels: 4,
        kernel: 1,
        pad: 0,
    },
    ConvShape {
        batch: 1,
        in_channels: 3,
        in_h: 2,
        in_w: 2,
        out_channels: 9,
        kernel: 2,
        pad: 0,
    },
];

#[test]
fn unfold_and_fold_match_oracle() {
    // Pure copies: the GPU must give the oracle's values exactly.
    let ctx = gpu();
    for s in SHAPES {
        let mut rng = rng("windows");
        let x = random(&mut rng, s.input().iter().product());
        let rows = poisoned(ctx, "rows", &window_rows(s));
        run(
            ctx,
            &unfold_windows(ctx, s, &upload(ctx, "x", &s.input(), &x), &rows).unwrap(),
        );
        assert_eq!(
            read(ctx, &rows),
            oracle::windows::unfold(s, &x),
            "unfold {s:?}"
        );

        let out = random(&mut rng, output_rows(s).iter().product());
        let y = poisoned(ctx, "y", &s.output());
        let out_t = upload(ctx, "output rows", &output_rows(s), &out);
        run(ctx, &fold_positions(ctx, s, &out_t, &y).unwrap());
        assert_eq!(read(ctx, &y), oracle::windows::fold(s, &out), "fold {s:?}");
    }
}

#[test]
fn the_rows_times_the_filters_are_the_convolution() {
    // The oracle's side of the claim the launcher relies on: unfold, multiply each row
    // by the filters flattened as stored, fold, and the convolution comes out.
    for s in SHAPES {
        let mut rng = rng("windows as a convolution");
        let x = random(&mut rng, s.input().iter().product());
        let w = random(&mut rng, s.weight().iter().product());
        let b = random(&mut rng, s.out_channels);
        let rows = oracle::windows::unfold(s, &x);
        let [count, len] = window_rows(s);
        let mut out = Vec::with_capacity(count * s.out_channels);
        for r in 0..count {
            for o in 0..s.out_channels {
                let row = &rows[r * len..(r + 1) * len];
                let filter = &w[o * len..(o + 1) * len];
                let dot: f64 = row
                    .iter()
                    .zip(filter)
                    .map(|(&a, &b)| a as f64 * b as f64)
                    .sum();
                out.push((dot + b[o] as f64) as f32);
            }
        }
        let expected = oracle::conv::conv2d_forward(s, false, &x, &w, &b);
        let got = oracle::windows::fold(s, &out);
        let worst = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{s:?}: max difference {worst}");
    }
}
