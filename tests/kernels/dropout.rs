use crate::harness::*;
use vgg_wgpu::gpu::{GpuContext, Tensor};
use vgg_wgpu::kernels::dropout::{dropout_backward, dropout_forward, Dropout};
use vgg_wgpu::oracle;

const SHAPES: &[&[usize]] = &[&[1, 4096], &[2, 64, 3, 5], &[3, 3, 1, 1], &[1, 3, 7, 9]];

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Runs forward on x and backward on dy; returns (y, dx).
fn run_dropout(
    ctx: &GpuContext,
    d: &Dropout,
    shape: &[usize],
    x: &[f32],
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let xt = upload(ctx, "x", shape, x);
    let dyt = upload(ctx, "dy", shape, dy);
    let yt = poisoned(ctx, "y", shape);
    let dxt = poisoned(ctx, "dx", shape);
    run(ctx, &dropout_forward(ctx, d, &xt, &yt).unwrap());
    run(ctx, &dropout_backward(ctx, d, &dyt, &dxt).unwrap());
    (read(ctx, &yt), read(ctx, &dxt))
}

/// GPU against the oracle, bit for bit (the mask is integer arithmetic and a kept
/// value is one f32 multiply).
fn check_dropout(ctx: &GpuContext, d: &Dropout, shape: &[usize], seed_name: &str) {
    let mut rng = rng(seed_name);
    let len = shape.iter().product();
    let x = random(&mut rng, len);
    let dy = random(&mut rng, len);
    let (y, dx) = run_dropout(ctx, d, shape, &x, &dy);
    let expected_y = oracle::dropout::dropout_forward(d, &x);
    let expected_dx = oracle::dropout::dropout_backward(d, &dy);
    let name = format!("{shape:?} {d:?}");
    check(
        &format!("dropout forward {name}"),
        &y,
        &expected_y,
        FORWARD_TOLERANCE,
    );
    check(
        &format!("dropout backward {name}"),
        &dx,
        &expected_dx,
        BACKWARD_TOLERANCE,
    );
    assert_eq!(bits(&y), bits(&expected_y), "dropout forward {name}");
    assert_eq!(bits(&dx), bits(&expected_dx), "dropout backward {name}");
}

/// Which elements survived (inputs are nonzero almost surely).
fn mask(v: &[f32]) -> Vec<bool> {
    v.iter().map(|&x| x != 0.0).collect()
}

#[test]
fn dropout_matches_oracle_exactly() {
    for (i, shape) in SHAPES.iter().enumerate() {
        let d = Dropout {
            p: [0.5, 0.1, 0.9, 0.0][i % 4],
            seed: 0x5eed_0000 + i as u32,
            step: i as u32 * 1000,
        };
        check_dropout(gpu(), &d, shape, "dropout");
    }
}

#[test]
fn dropout_keeps_about_one_minus_p() {
    let ctx = gpu();
    let shape = [25, 4000];
    let mut rng = rng("dropout fraction");
    let x: Vec<f32> = random(&mut rng, 100_000)
        .into_iter()
        .map(|v| v + 2.0) // never 0, so that a zero output means dropped
        .collect();
    for p in [0.5f32, 0.2] {
        let d = Dropout {
            p,
            seed: 42,
            step: 7,
        };
        let (y, _) = run_dropout(ctx, &d, &shape, &x, &x);
        let kept = mask(&y).iter().filter(|&&k| k).count() as f64 / y.len() as f64;
        println!(
            "dropout p={p}: kept fraction {kept:.4} over {} elements",
            y.len()
        );
        assert!(
            (kept - (1.0 - p as f64)).abs() < 0.01,
            "p={p}: kept {kept}, expected {}",
            1.0 - p
        );
    }
}

#[test]
fn dropout_mask_depends_on_seed_and_step_only() {
    let ctx = gpu();
    let shape = [4, 2500];
    let mut rng = rng("dropout mask");
    let x: Vec<f32> = random(&mut rng, 10_000)
        .into_iter()
        .map(|v| v + 2.0)
        .collect();
    let dy: Vec<f32> = random(&mut rng, 10_000)
        .into_iter()
        .map(|v| v - 2.0)
        .collect();
    let d = Dropout {
        p: 0.5,
        seed: 1234,
        step: 56,
    };
    let (y1, dx1) = run_dropout(ctx, &d, &shape, &x, &dy);
    let (y2, _) = run_dropout(ctx, &d, &shape, &x, &dy);
    assert_eq!(bits(&y1), bits(&y2), "same (seed, step), different output");
    assert_eq!(mask(&y1), mask(&dx1), "backward mask differs from forward");

    let differing = |other: &Dropout| {
        let (y3, _) = run_dropout(ctx, other, &shape, &x, &dy);
        mask(&y1)
            .iter()
            .zip(mask(&y3))
            .filter(|(a, b)| *a != b)
            .count()
    };
    // Independent masks with p = 0.5 differ at about half of the elements.
    for other in [Dropout { step: 57, ..d }, Dropout { seed: 1235, ..d }] {
        let n = differing(&other);
        println!("dropout {other:?}: {n} of 10000 mask bits differ from {d:?}");
        assert!(
            (4000..6000).contains(&n),
            "{other:?}: only {n} mask bits differ"
        );
    }
}

#[test]
fn dropout_with_chunked_tensors_matches_oracle() {
    // 1200 B chunks: rows of 400 B go 3 to a chunk (3 + 3 + 1); the mask follows the
    // global element index, so it is the unchunked one.
    let ctx = gpu_with_binding_limit(1200);
    let shape = [7, 100];
    assert!(Tensor::zeros(&ctx, "x", &shape).unwrap().chunks.len() > 1);
    let d = Dropout {
        p: 0.5,
        seed: 9,
        step: 2,
    };
    check_dropout(&ctx, &d, &shape, "dropout chunked");
}

#[test]
fn dropout_rejects_p_outside_0_1() {
    let ctx = gpu();
    let t = Tensor::zeros(ctx, "x", &[2, 3]).unwrap();
    for p in [1.0, -0.1, f32::NAN] {
        let d = Dropout {
            p,
            seed: 0,
            step: 0,
        };
        assert!(
            dropout_forward(ctx, &d, &t, &t).is_err(),
            "p = {p} accepted"
        );
    }
}
