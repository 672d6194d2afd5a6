use crate::harness::*;
use vgg_wgpu::gpu::Tensor;
use vgg_wgpu::kernels::dropout::{dropout_backward, dropout_forward, DropoutRng};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::oracle;
use vgg_wgpu::shape::Dropout;

const SHAPES: &[&[usize]] = &[&[1, 4096], &[2, 64, 3, 5], &[3, 3, 1, 1], &[1, 3, 7, 9]];

/// The contents of a [`DropoutRng`]: (seed, step, sample_base).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Key {
    seed: u32,
    step: u32,
    sample_base: u32,
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Dropout's tensors and launches for one shape, built once; [`Planned::run`] only sets
/// the key and submits.
struct Planned {
    rng: DropoutRng,
    y: Tensor,
    dx: Tensor,
    launches: Vec<vgg_wgpu::kernels::Launch>,
}

impl Planned {
    /// Forward on x and backward on dy.
    fn new(ctx: &GpuContext, d: &Dropout, shape: &[usize], x: &[f32], dy: &[f32]) -> Planned {
        let rng = DropoutRng::new(ctx);
        let xt = upload(ctx, "x", shape, x);
        let dyt = upload(ctx, "dy", shape, dy);
        let y = poisoned(ctx, "y", shape);
        let dx = poisoned(ctx, "dx", shape);
        let mut launches = dropout_forward(ctx, d, &rng, &xt, &y).unwrap();
        launches.extend(dropout_backward(ctx, d, &rng, &dyt, &dx).unwrap());
        Planned {
            rng,
            y,
            dx,
            launches,
        }
    }

    /// Sets the key, runs the launches; returns (y, dx).
    fn run(&self, ctx: &GpuContext, k: Key) -> (Vec<f32>, Vec<f32>) {
        self.rng.set(ctx, k.seed, k.step, k.sample_base);
        run(ctx, &self.launches);
        (read(ctx, &self.y), read(ctx, &self.dx))
    }
}

/// Runs forward on x and backward on dy under key `k`; returns (y, dx).
fn run_dropout(
    ctx: &GpuContext,
    d: &Dropout,
    k: Key,
    shape: &[usize],
    x: &[f32],
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    Planned::new(ctx, d, shape, x, dy).run(ctx, k)
}

/// The oracle's (y, dx) for a tensor of `shape` under key `k`.
fn expected(d: &Dropout, k: Key, shape: &[usize], x: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let row_len = shape[1..].iter().product();
    (
        oracle::dropout::dropout_forward(d, k.seed, k.step, k.sample_base, row_len, x),
        oracle::dropout::dropout_backward(d, k.seed, k.step, k.sample_base, row_len, dy),
    )
}

/// GPU (y, dx) against the oracle, bit for bit (the mask is integer arithmetic and a
/// kept value is one f32 multiply).
#[allow(clippy::too_many_arguments)]
fn check_against_oracle(
    name: &str,
    d: &Dropout,
    k: Key,
    shape: &[usize],
    x: &[f32],
    dy: &[f32],
    y: &[f32],
    dx: &[f32],
) {
    let (expected_y, expected_dx) = expected(d, k, shape, x, dy);
    let name = format!("{name} {shape:?} {d:?} {k:?}");
    check(
        &format!("dropout forward {name}"),
        y,
        &expected_y,
        FORWARD_TOLERANCE,
    );
    check(
        &format!("dropout backward {name}"),
        dx,
        &expected_dx,
        BACKWARD_TOLERANCE,
    );
    assert_eq!(bits(y), bits(&expected_y), "dropout forward {name}");
    assert_eq!(bits(dx), bits(&expected_dx), "dropout backward {name}");
}

/// Fresh random x and dy, GPU against the oracle.
fn check_dropout(ctx: &GpuContext, d: &Dropout, k: Key, shape: &[usize], seed_name: &str) {
    let mut rng = rng(seed_name);
    let len = shape.iter().product();
    let x = random(&mut rng, len);
    let dy = random(&mut rng, len);
    let (y, dx) = run_dropout(ctx, d, k, shape, &x, &dy);
    check_against_oracle("random", d, k, shape, &x, &dy, &y, &dx);
}

/// Which elements survived (inputs are nonzero almost surely).
fn mask(v: &[f32]) -> Vec<bool> {
    v.iter().map(|&x| x != 0.0).collect()
}

/// How many elements survive in one and not the other.
fn mask_differences(a: &[f32], b: &[f32]) -> usize {
    mask(a)
        .iter()
        .zip(mask(b))
        .filter(|(a, b)| **a != *b)
        .count()
}

/// `n` random values shifted away from 0 by `shift`, so that a zero output means dropped.
fn nonzero(rng: &mut rand::rngs::StdRng, n: usize, shift: f32) -> Vec<f32> {
    random(rng, n).into_iter().map(|v| v + shift).collect()
}

#[test]
fn dropout_matches_oracle_exactly() {
    for (i, shape) in SHAPES.iter().enumerate() {
        let d = Dropout {
            p: [0.5, 0.1, 0.9, 0.0][i % 4],
        };
        let k = Key {
            seed: 0x5eed_0000 + i as u32,
            step: i as u32 * 1000,
            sample_base: [0, 3, 1000, u32::MAX][i % 4],
        };
        check_dropout(gpu(), &d, k, shape, "dropout");
    }
}

#[test]
fn dropout_keeps_about_one_minus_p() {
    let ctx = gpu();
    let shape = [25, 4000];
    let mut rng = rng("dropout fraction");
    let x = nonzero(&mut rng, 100_000, 2.0);
    for p in [0.5f32, 0.2] {
        let k = Key {
            seed: 42,
            step: 7,
            sample_base: 0,
        };
        let (y, _) = run_dropout(ctx, &Dropout { p }, k, &shape, &x, &x);
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
fn dropout_mask_depends_on_the_key() {
    let ctx = gpu();
    let shape = [4, 2500];
    let mut rng = rng("dropout mask");
    let x = nonzero(&mut rng, 10_000, 2.0);
    let dy = nonzero(&mut rng, 10_000, -2.0);
    let d = Dropout { p: 0.5 };
    let k = Key {
        seed: 1234,
        step: 56,
        sample_base: 8,
    };
    let (y1, dx1) = run_dropout(ctx, &d, k, &shape, &x, &dy);
    let (y2, _) = run_dropout(ctx, &d, k, &shape, &x, &dy);
    assert_eq!(bits(&y1), bits(&y2), "same key, different output");
    assert_eq!(mask(&y1), mask(&dx1), "backward mask differs from forward");

    // Independent masks with p = 0.5 differ at about half of the elements.
    for other in [
        Key { step: 57, ..k },
        Key { seed: 1235, ..k },
        Key {
            sample_base: 12,
            ..k
        },
    ] {
        let (y3, _) = run_dropout(ctx, &d, other, &shape, &x, &dy);
        let n = mask_differences(&y1, &y3);
        println!("dropout {other:?}: {n} of 10000 mask bits differ from {k:?}");
        assert!(
            (4000..6000).contains(&n),
            "{other:?}: only {n} mask bits differ"
        );
    }
}

#[test]
fn dropout_with_chunked_tensors_matches_oracle() {
    // 1200 B chunks: rows of 400 B go 3 to a chunk (3 + 3 + 1); the mask follows the
    // tensor's row and column, so it is the unchunked one.
    let ctx = gpu_with_binding_limit(1200);
    let shape = [7, 100];
    assert!(Tensor::zeros(&ctx, "x", &shape).unwrap().chunks.len() > 1);
    let k = Key {
        seed: 9,
        step: 2,
        sample_base: 5,
    };
    check_dropout(&ctx, &Dropout { p: 0.5 }, k, &shape, "dropout chunked");
}

#[test]
fn dropout_mask_does_not_depend_on_the_batch_split() {
    // A batch of 6 samples whole, then as two micro-batches (rows 0..2 at sample_base 0,
    // rows 2..6 at sample_base 2): bit-identical outputs and gradients.
    let ctx = gpu();
    let sample = [3, 5, 7];
    let row_len: usize = sample.iter().product();
    let shape = |rows: usize| [rows, sample[0], sample[1], sample[2]];
    let mut rng = rng("dropout split");
    let x = random(&mut rng, 6 * row_len);
    let dy = random(&mut rng, 6 * row_len);
    let d = Dropout { p: 0.4 };
    let key = |sample_base| Key {
        seed: 77,
        step: 3,
        sample_base,
    };

    let (y, dx) = run_dropout(ctx, &d, key(0), &shape(6), &x, &dy);
    check_against_oracle("whole batch", &d, key(0), &shape(6), &x, &dy, &y, &dx);

    let (mut y_split, mut dx_split) = (Vec::new(), Vec::new());
    for rows in [0..2, 2..6] {
        let elements = rows.start * row_len..rows.end * row_len;
        let (y_part, dx_part) = run_dropout(
            ctx,
            &d,
            key(rows.start as u32),
            &shape(rows.len()),
            &x[elements.clone()],
            &dy[elements],
        );
        y_split.extend(y_part);
        dx_split.extend(dx_part);
    }
    assert_eq!(bits(&y), bits(&y_split), "forward depends on the split");
    assert_eq!(bits(&dx), bits(&dx_split), "backward depends on the split");
}

#[test]
fn dropout_rng_set_changes_the_mask_without_new_launches() {
    let ctx = gpu();
    let shape = [5, 3, 11, 13];
    let len: usize = shape.iter().product();
    let mut rng = rng("dropout rng set");
    let x = nonzero(&mut rng, len, 2.0);
    let dy = nonzero(&mut rng, len, -2.0);
    let d = Dropout { p: 0.5 };
    let planned = Planned::new(ctx, &d, &shape, &x, &dy);
    let k = Key {
        seed: 2024,
        step: 10,
        sample_base: 0,
    };
    let next = Key { step: 11, ..k };

    let (y1, dx1) = planned.run(ctx, k);
    check_against_oracle("step 10", &d, k, &shape, &x, &dy, &y1, &dx1);
    let (y2, dx2) = planned.run(ctx, next);
    check_against_oracle("step 11", &d, next, &shape, &x, &dy, &y2, &dx2);
    let n = mask_differences(&y1, &y2);
    println!("dropout rng set: {n} of {len} mask bits differ between steps 10 and 11");
    assert!(
        (len * 2 / 5..len * 3 / 5).contains(&n),
        "only {n} of {len} mask bits changed with the step"
    );
    assert_eq!(mask(&y2), mask(&dx2), "backward mask differs from forward");

    let (y3, dx3) = planned.run(ctx, k);
    assert_eq!(
        bits(&y1),
        bits(&y3),
        "setting the step back: forward differs"
    );
    assert_eq!(
        bits(&dx1),
        bits(&dx3),
        "setting the step back: backward differs"
    );
}

#[test]
fn dropout_rejects_p_outside_0_1() {
    let ctx = gpu();
    let rng = DropoutRng::new(ctx);
    let t = Tensor::zeros(ctx, "x", &[2, 3]).unwrap();
    for p in [1.0, -0.1, f32::NAN] {
        assert!(
            dropout_forward(ctx, &Dropout { p }, &rng, &t, &t).is_err(),
            "p = {p} accepted"
        );
    }
}
