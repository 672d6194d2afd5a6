use crate::harness::*;
use vgg_wgpu::kernels::peak::{fma_peak, load_peak};
use vgg_wgpu::oracle;

/// The bench's ceiling kernels compute what the oracle does (so no compiler can drop
/// their work), on a count that is not a multiple of the workgroup.
#[test]
fn fma_peak_matches_oracle() {
    let ctx = gpu();
    let mut rng = rng("fma_peak");
    let count = 131;
    let x = random(&mut rng, count);
    let xt = upload(ctx, "x", &[count], &x);
    for iterations in [0, 1, 37] {
        let out = poisoned(ctx, "out", &[count]);
        run(ctx, &fma_peak(ctx, &xt, &out, iterations).unwrap());
        let expected = oracle::peak::fma_peak(&x, iterations);
        check(
            &format!("fma peak, {iterations} iterations"),
            &read(ctx, &out),
            &expected,
            FORWARD_TOLERANCE,
        );
    }
}

#[test]
fn load_peak_matches_oracle() {
    let ctx = gpu();
    let mut rng = rng("load_peak");
    let src = random(&mut rng, 256);
    let st = upload(ctx, "src", &[256], &src);
    let count = 100;
    let out = poisoned(ctx, "out", &[count]);
    run(ctx, &load_peak(ctx, &st, &out, 7).unwrap());
    let expected = oracle::peak::load_peak(&src, count, 7);
    check("load peak", &read(ctx, &out), &expected, FORWARD_TOLERANCE);
}

#[test]
fn load_peak_refuses_a_source_that_is_not_a_power_of_two() {
    let ctx = gpu();
    let src = upload(ctx, "src", &[100], &[0.0; 100]);
    let out = poisoned(ctx, "out", &[10]);
    let err = load_peak(ctx, &src, &out, 1).err().expect("refused");
    assert!(err.to_string().contains("power of two"), "{err}");
}
