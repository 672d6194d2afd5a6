use crate::harness::*;
use vgg_wgpu::kernels::score_map::{softmax, spatial_mean};
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::oracle;
use vgg_wgpu::shape::ScoreMapShape;

const SHAPES: &[ScoreMapShape] = &[
    ScoreMapShape {
        batch: 1,
        classes: 1000,
        height: 1,
        width: 1,
    },
    ScoreMapShape {
        batch: 3,
        classes: 7,
        height: 3,
        width: 5,
    },
    ScoreMapShape {
        batch: 3,
        classes: 1000,
        height: 2,
        width: 3,
    },
    ScoreMapShape {
        batch: 1,
        classes: 7,
        height: 5,
        width: 3,
    },
    ScoreMapShape {
        batch: 2,
        classes: 1,
        height: 1,
        width: 1,
    },
];

fn check_spatial_mean(ctx: &GpuContext, s: &ScoreMapShape, seed_name: &str) {
    let mut rng = rng(seed_name);
    let map = random(&mut rng, s.map().iter().product());
    let mt = upload(ctx, "score map", &s.map(), &map);
    let yt = poisoned(ctx, "class scores", &s.scores());
    run(ctx, &spatial_mean(ctx, s, &mt, &yt).unwrap());
    check_scaled(
        &format!("spatial mean {s:?}"),
        &read(ctx, &yt),
        &oracle::score_map::spatial_mean(s, &map),
        &oracle::score_map::spatial_mean(s, &abs(&map)),
        FORWARD_TOLERANCE,
    );
}

fn check_softmax(ctx: &GpuContext, batch: usize, classes: usize, scale: f32, seed_name: &str) {
    let mut rng = rng(seed_name);
    let scores: Vec<f32> = random(&mut rng, batch * classes)
        .into_iter()
        .map(|v| v * scale)
        .collect();
    let st = upload(ctx, "scores", &[batch, classes], &scores);
    let pt = poisoned(ctx, "probabilities", &[batch, classes]);
    run(ctx, &softmax(ctx, batch, classes, &st, &pt).unwrap());
    check(
        &format!("softmax ({batch}, {classes}) scale {scale}"),
        &read(ctx, &pt),
        &oracle::score_map::softmax(classes, &scores),
        FORWARD_TOLERANCE,
    );
}

#[test]
fn spatial_mean_matches_oracle() {
    for s in SHAPES {
        check_spatial_mean(gpu(), s, "spatial mean");
    }
}

#[test]
fn spatial_mean_with_chunked_tensors_matches_oracle() {
    // 256-byte chunks: the map (112 B a sample) splits every 2 samples, the scores
    // (28 B a sample) every 9.
    let ctx = gpu_with_binding_limit(256);
    let s = ScoreMapShape {
        batch: 11,
        classes: 7,
        height: 2,
        width: 2,
    };
    check_spatial_mean(&ctx, &s, "spatial mean chunked");
}

#[test]
fn softmax_matches_oracle() {
    for (batch, classes) in [(1, 1000), (3, 1000), (3, 7), (70, 7), (2, 1)] {
        check_softmax(gpu(), batch, classes, 4.0, "softmax");
    }
    // exp(±200) overflows f32: only the max-subtracted form survives.
    check_softmax(gpu(), 3, 1000, 200.0, "softmax large");
}

#[test]
fn softmax_with_chunked_tensors_matches_oracle() {
    // 64-byte chunks: 2 samples of 7 classes each.
    let ctx = gpu_with_binding_limit(64);
    check_softmax(&ctx, 9, 7, 4.0, "softmax chunked");
}

#[test]
fn softmax_refuses_to_run_in_place() {
    let ctx = gpu();
    let t = upload(ctx, "scores", &[2, 3], &[0.0; 6]);
    assert!(softmax(ctx, 2, 3, &t, &t).is_err());
}
