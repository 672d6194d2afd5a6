use crate::harness::*;
use rand::Rng;
use vgg_wgpu::gpu::Tensor;
use vgg_wgpu::kernels::loss::{softmax_cross_entropy, LossOutputs};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::oracle;
use vgg_wgpu::shape::LossShape;

/// What the GPU loss wrote: (dlogits, per-sample stats, totals), read back.
struct LossRun {
    dlogits: Vec<f32>,
    stats: Vec<f32>,
    totals: Vec<f32>,
}

/// Runs the loss kernel on `logits` and `labels` into NaN-poisoned outputs.
fn run_loss(
    ctx: &GpuContext,
    s: &LossShape,
    grad_scale: f32,
    logits: &[f32],
    labels: &[u32],
) -> LossRun {
    let lt = upload(ctx, "logits", &s.logits(), logits);
    let yt = Tensor::from_u32(ctx, "labels", &s.labels(), labels).unwrap();
    let (dt, st, tt) = (
        poisoned(ctx, "dlogits", &s.logits()),
        poisoned(ctx, "stats", &s.stats()),
        poisoned(ctx, "totals", &[3]),
    );
    let out = LossOutputs {
        dlogits: &dt,
        stats: &st,
        totals: &tt,
    };
    run(
        ctx,
        &softmax_cross_entropy(ctx, s, grad_scale, &lt, &yt, &out).unwrap(),
    );
    LossRun {
        dlogits: read(ctx, &dt),
        stats: read(ctx, &st),
        totals: read(ctx, &tt),
    }
}

/// Runs the loss on the GPU and compares stats, dlogits and totals with the oracle.
/// `logits` is None for fresh random logits scaled by `scale`.
fn check_loss(
    ctx: &GpuContext,
    s: &LossShape,
    scale: f32,
    logits: Option<Vec<f32>>,
    seed_name: &str,
) {
    let mut rng = rng(seed_name);
    let logits = logits.unwrap_or_else(|| {
        random(&mut rng, s.batch * s.classes)
            .into_iter()
            .map(|v| v * scale)
            .collect()
    });
    let labels: Vec<u32> = (0..s.batch)
        .map(|_| rng.random_range(0..s.classes as u32))
        .collect();
    // A mean over a larger batch than this piece, as in gradient accumulation.
    let grad_scale = 1.0 / (2 * s.batch) as f32;

    let LossRun {
        dlogits,
        stats,
        totals,
    } = run_loss(ctx, s, grad_scale, &logits, &labels);
    let expected = oracle::loss::softmax_cross_entropy(s, grad_scale, &logits, &labels);

    let column = |v: &[f32], i: usize| v.iter().skip(i).step_by(3).copied().collect::<Vec<_>>();
    check(
        &format!("loss per sample {s:?} scale {scale}"),
        &column(&stats, 0),
        &column(&expected.stats, 0),
        FORWARD_TOLERANCE,
    );
    assert_eq!(column(&stats, 1), column(&expected.stats, 1), "top-1 hits");
    assert_eq!(column(&stats, 2), column(&expected.stats, 2), "top-5 hits");
    check(
        &format!("loss dlogits {s:?} scale {scale}"),
        &dlogits,
        &expected.dlogits,
        BACKWARD_TOLERANCE,
    );
    check(
        &format!("loss total {s:?} scale {scale}"),
        &totals[..1],
        &expected.totals[..1],
        FORWARD_TOLERANCE,
    );
    assert_eq!(totals[1..], expected.totals[1..], "hit totals");
}

#[test]
fn loss_matches_oracle() {
    for (batch, classes) in [
        (1, 1000),
        (3, 1000),
        (3, 10),
        (70, 7),
        (4, 1),
        (2, 5),
        (2000, 10),
    ] {
        check_loss(gpu(), &LossShape { batch, classes }, 4.0, None, "loss");
    }
}

#[test]
fn loss_is_stable_for_large_logits() {
    // exp(±200) overflows f32: only the max-subtracted form survives.
    for (batch, classes) in [(3, 1000), (5, 7)] {
        check_loss(
            gpu(),
            &LossShape { batch, classes },
            200.0,
            None,
            "loss large",
        );
    }
}

#[test]
fn loss_hits_break_ties_by_class_index() {
    // Logits from {−1, −0.5, 0, 0.5, 1}: nearly every label ties with other classes.
    let s = LossShape {
        batch: 40,
        classes: 10,
    };
    let mut rng = rng("loss ties");
    let logits = (0..s.batch * s.classes)
        .map(|_| rng.random_range(-2i32..=2) as f32 * 0.5)
        .collect();
    check_loss(gpu(), &s, 1.0, Some(logits), "loss ties");
}

#[test]
fn loss_with_chunked_tensors_matches_oracle() {
    // 64-byte chunks: logits and dlogits (28 B a sample) split every 2 samples, labels
    // every 16, stats (12 B a sample) every 5; totals (12 B) stay whole.
    let ctx = gpu_with_binding_limit(64);
    let s = LossShape {
        batch: 37,
        classes: 7,
    };
    check_loss(&ctx, &s, 4.0, None, "loss chunked");
}

#[test]
fn loss_of_out_of_range_label_is_nan() {
    let ctx = gpu();
    let s = LossShape {
        batch: 3,
        classes: 4,
    };
    let logits = random(&mut rng("loss bad label"), 12);
    let LossRun {
        dlogits,
        stats,
        totals,
    } = run_loss(ctx, &s, 1.0, &logits, &[1, 4, 0]);
    assert!(
        stats[3].is_nan() && stats[4] == 0.0 && stats[5] == 0.0,
        "{stats:?}"
    );
    assert!(dlogits[4..8].iter().all(|g| g.is_nan()), "{dlogits:?}");
    assert!(!stats[0].is_nan() && !stats[6].is_nan(), "{stats:?}");
    assert!(dlogits[..4]
        .iter()
        .chain(&dlogits[8..])
        .all(|g| g.is_finite()));
    assert!(
        totals[0].is_nan() && totals[1] <= 2.0 && totals[2] == 2.0,
        "{totals:?}"
    );
}

#[test]
fn loss_counts_non_finite_logits_as_wrong() {
    // Every label holds the row's largest finite logit, so ranking by comparisons alone
    // (NaN compares false) would count each row as a top-1 hit.
    let ctx = gpu();
    let s = LossShape {
        batch: 5,
        classes: 4,
    };
    let (nan, inf) = (f32::NAN, f32::INFINITY);
    #[rustfmt::skip]
    let logits = vec![
        3.0, 1.0, 0.0, -1.0,  // finite: the only hit
        3.0, nan, 0.0, -1.0,  // NaN beside the label
        nan, 1.0, 0.0, -1.0,  // NaN at the label
        inf, 1.0, 0.0, -1.0,  // +inf at the label
        3.0, 1.0, -inf, -1.0, // -inf beside the label
    ];
    let labels = [0u32; 5];
    let LossRun { stats, totals, .. } = run_loss(ctx, &s, 1.0, &logits, &labels);
    let expected = oracle::loss::softmax_cross_entropy(&s, 1.0, &logits, &labels);
    let hits = |v: &[f32]| v.chunks(3).map(|r| (r[1], r[2])).collect::<Vec<_>>();
    let only_first = [(1.0, 1.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0)];
    assert_eq!(hits(&stats), only_first, "GPU hits {stats:?}");
    assert_eq!(hits(&expected.stats), only_first, "oracle hits");
    assert_eq!(totals[1..], [1.0, 1.0], "GPU hit totals {totals:?}");
    assert_eq!(expected.totals[1..], [1.0, 1.0], "oracle hit totals");
    check(
        "loss of the finite row",
        &stats[..1],
        &expected.stats[..1],
        FORWARD_TOLERANCE,
    );
}

#[test]
fn loss_rejects_wrong_shapes() {
    let ctx = gpu();
    let s = LossShape {
        batch: 2,
        classes: 3,
    };
    let lt = Tensor::zeros(ctx, "logits", &[2, 4]).unwrap();
    let yt = Tensor::zeros(ctx, "labels", &[2]).unwrap();
    let (dt, st, tt) = (
        Tensor::zeros(ctx, "dlogits", &[2, 3]).unwrap(),
        Tensor::zeros(ctx, "stats", &[2, 3]).unwrap(),
        Tensor::zeros(ctx, "totals", &[3]).unwrap(),
    );
    let out = LossOutputs {
        dlogits: &dt,
        stats: &st,
        totals: &tt,
    };
    let err = softmax_cross_entropy(ctx, &s, 1.0, &lt, &yt, &out)
        .err()
        .expect("a shape error");
    assert!(err.to_string().contains("logits"), "{err}");
}
