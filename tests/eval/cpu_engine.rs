//! The CPU engine (`vgg_wgpu::cpu_engine`, the page's on CPU adapters) against the
//! oracle: its matrix product, its rows-times-weights product, its Winograd
//! convolution on awkward shapes and chunks, and whole networks' dense evaluation.

use crate::harness::*;
use crate::{images, small, weights};
use rand::rngs::StdRng;
use vgg_wgpu::cpu_engine::dot::{dot_rows, dot_rows_in_chunks};
use vgg_wgpu::cpu_engine::matmul::{matmul, packed_index, packed_len, NR};
use vgg_wgpu::cpu_engine::winograd::{chunk_tiles, conv3x3, Filters};
use vgg_wgpu::cpu_engine::{CpuModel, NoPause, Pause};
use vgg_wgpu::graph::dense_reference::dense_scores;
use vgg_wgpu::graph::reference::OracleState;
use vgg_wgpu::graph::{DensePlan, Network, ParamSet};
use vgg_wgpu::model::{Config, ModelSpec, WeightFile};
use vgg_wgpu::oracle::conv::conv2d_forward;
use vgg_wgpu::oracle::linear::linear_forward;
use vgg_wgpu::oracle::score_map::softmax;
use vgg_wgpu::shape::{ConvShape, LinearShape};

#[test]
fn matmul_equals_the_product_in_f64() {
    let mut rng = rng("cpu matmul");
    // Rows past the last whole panel, depths across the partial sums' blocks.
    for (m, k, n) in [
        (1, 1, NR),
        (5, 3, 2 * NR),
        (13, 130, 3 * NR),
        (64, 64, 5 * NR),
    ] {
        let a = random(&mut rng, m * k);
        let b = random(&mut rng, k * n);
        let mut packed = vec![0f32; packed_len(m, k)];
        for r in 0..m {
            for c in 0..k {
                packed[packed_index(r, c, k)] = a[r * k + c];
            }
        }
        // One row more than the product: nothing may be written past it.
        let mut c = vec![f32::NAN; (m + 1) * n];
        matmul(&packed, &b, &mut c, m, k, n);
        let expected: Vec<f32> = (0..m * n)
            .map(|i| {
                let (r, j) = (i / n, i % n);
                (0..k)
                    .map(|p| a[r * k + p] as f64 * b[p * n + j] as f64)
                    .sum::<f64>() as f32
            })
            .collect();
        check(&format!("matmul {m}×{k}×{n}"), &c[..m * n], &expected, 1e-6);
        assert!(
            c[m * n..].iter().all(|v| v.is_nan()),
            "matmul {m}×{k}×{n} wrote past C"
        );
    }
}

#[test]
fn dot_rows_equals_the_oracles_linear_layer() {
    let mut rng = rng("cpu dot rows");
    // Rows and outputs left over by the blocks, K short, odd and over several blocks.
    for (p, o, k) in [(1, 1, 3), (3, 5, 7), (4, 8, 300), (5, 9, 1030)] {
        let x = random(&mut rng, p * k);
        let w = random(&mut rng, o * k);
        let b = random(&mut rng, o);
        let s = LinearShape {
            batch: p,
            in_features: k,
            out_features: o,
        };
        for relu in [false, true] {
            let mut out = vec![f32::NAN; p * o];
            dot_rows(&x, &w, &b, relu, &mut out);
            let expected = linear_forward(&s, relu, &x, &w, &b);
            let magnitude = linear_forward(&s, false, &abs(&x), &abs(&w), &abs(&b));
            let name = format!("dot rows {p}×{k} by {o}, relu {relu}");
            check_scaled(&name, &out, &expected, &magnitude, 1e-6);
        }
    }
}

/// Counts the pauses it is given.
struct CountingPause(usize);

impl Pause for CountingPause {
    async fn pause(&mut self) {
        self.0 += 1;
    }
}

#[test]
fn dot_rows_in_chunks_equals_one_product_and_pauses_after_each_chunk() {
    let mut rng = rng("cpu dot rows in chunks");
    let (p, o, k) = (3, 10, 37);
    let x = random(&mut rng, p * k);
    let w = random(&mut rng, o * k);
    let b = random(&mut rng, o);
    let mut whole = vec![f32::NAN; p * o];
    dot_rows(&x, &w, &b, true, &mut whole);
    for (outputs, chunks) in [(1, 10), (3, 4), (10, 1), (64, 1)] {
        let mut out = vec![f32::NAN; p * o];
        let mut pause = CountingPause(0);
        pollster::block_on(dot_rows_in_chunks(
            &x, &w, &b, true, &mut out, outputs, &mut pause,
        ));
        assert_eq!(out, whole, "chunks of {outputs} outputs");
        assert_eq!(pause.0, chunks, "pauses with chunks of {outputs} outputs");
    }
}

fn check_winograd(rng: &mut StdRng, batch: usize, c_in: usize, c_out: usize, h: usize, w: usize) {
    let s = ConvShape {
        batch,
        in_channels: c_in,
        in_h: h,
        in_w: w,
        out_channels: c_out,
        kernel: 3,
        pad: 1,
    };
    let x = random(rng, batch * c_in * h * w);
    let weight = random(rng, c_out * c_in * 9);
    let bias = random(rng, c_out);
    let filters = pollster::block_on(Filters::new(&weight, c_out, c_in, &mut NoPause));
    let expected_plain = conv2d_forward(&s, false, &x, &weight, &bias);
    let magnitude = conv2d_forward(&s, false, &abs(&x), &abs(&weight), &abs(&bias));
    // One tile column per chunk, a few, and the engine's own choice.
    for chunk in [NR, 3 * NR, chunk_tiles(&filters)] {
        for relu in [false, true] {
            let y = pollster::block_on(conv3x3(
                &x,
                batch,
                h,
                w,
                &filters,
                &bias,
                relu,
                chunk,
                &mut NoPause,
            ));
            let expected: Vec<f32> = match relu {
                true => expected_plain.iter().map(|v| v.max(0.0)).collect(),
                false => expected_plain.clone(),
            };
            let name =
                format!("winograd {batch}×{c_in}→{c_out} @{h}×{w}, chunks of {chunk}, relu {relu}");
            check_scaled(&name, &y, &expected, &magnitude, FORWARD_TOLERANCE / 10.0);
        }
    }
}

#[test]
fn winograd_convolution_equals_the_oracle() {
    let mut rng = rng("cpu winograd");
    // Sides no multiple of 4, smaller than a tile, one pixel; 3 source channels (the
    // image); more tiles than a chunk; target channels no multiple of the panels.
    check_winograd(&mut rng, 1, 3, 8, 9, 7);
    check_winograd(&mut rng, 2, 6, 5, 13, 6);
    check_winograd(&mut rng, 2, 4, 4, 1, 1);
    check_winograd(&mut rng, 1, 70, 9, 3, 2);
    check_winograd(&mut rng, 3, 8, 16, 16, 20);
}

fn params(spec: &ModelSpec, w: &WeightFile) -> Vec<Vec<f32>> {
    OracleState::new(&Network::new(spec, 0.5), w).params
}

fn check_dense(spec: &ModelSpec, batch: usize, h: usize, w: usize) {
    let mut rng = rng("cpu dense");
    let file = weights(spec, &mut rng);
    let expected_params = params(spec, &file);
    let ctx = gpu();
    let on_gpu = ParamSet::upload(ctx, spec, &file, "test").unwrap();
    let model = CpuModel::new(file, "test", false).unwrap();
    let x = images(&mut rng, batch, h, w);
    let mut pause = CountingPause(0);
    let got = pollster::block_on(model.dense(&x, batch, h, w, &mut pause)).unwrap();
    let net = Network::new(spec, 0.5);
    let expected = dense_scores(&net, &expected_params, &x, batch, h, w);
    let name = format!(
        "{} input {} on {batch}×{h}×{w}",
        spec.config, spec.input_size
    );
    let side = spec.input_size / 32;
    let map = (got.map_shape.height, got.map_shape.width);
    assert_eq!(map, (h / 32 - side + 1, w / 32 - side + 1), "{name}: map");
    check(
        &format!("{name}: scores"),
        &got.output.scores,
        &expected,
        FORWARD_TOLERANCE,
    );
    let probabilities = softmax(spec.classes, &got.output.scores);
    check(
        &format!("{name}: posteriors"),
        &got.output.probabilities,
        &probabilities,
        1e-6,
    );
    assert!(
        pause.0 > net.dense_ops(h, w).len(),
        "{name}: {} pauses",
        pause.0
    );

    // The score map and the features, position by position, against the GPU's plan
    // (which tests/eval/dense.rs holds to the plain network).
    let plan = pollster::block_on(DensePlan::new(ctx, &net, &on_gpu, batch, h, w)).unwrap();
    let gpu_out = pollster::block_on(plan.run(ctx, &x)).unwrap();
    let gpu_map = pollster::block_on(plan.score_map(ctx)).unwrap();
    check(
        &format!("{name}: score map"),
        &got.map,
        &gpu_map,
        FORWARD_TOLERANCE,
    );
    check(
        &format!("{name}: features"),
        &got.output.features,
        &gpu_out.features,
        FORWARD_TOLERANCE,
    );

    // Its weight file gives the same model back.
    let again = CpuModel::new(model.weight_file(), "again", false).unwrap();
    let twice = pollster::block_on(again.dense(&x, batch, h, w, &mut NoPause)).unwrap();
    assert_eq!(
        twice.output.scores, got.output.scores,
        "{name}: from its weight file"
    );
}

#[test]
fn dense_evaluation_equals_the_sliding_classifier() {
    check_dense(&small(Config::A, 32, 7), 2, 32, 32); // every FC layer on one row
    check_dense(&small(Config::A, 32, 7), 2, 70, 97); // 2×3 windows, odd sides
    check_dense(&small(Config::ALrn, 32, 5), 1, 64, 40); // LRN by its reference
    check_dense(&small(Config::C, 64, 5), 2, 96, 64); // 1×1 convs; FC1 a 2×2 conv
}

#[test]
fn f16_weights_are_the_rounded_weights() {
    let spec = small(Config::A, 32, 7);
    let mut rng = rng("cpu f16 weights");
    let file = weights(&spec, &mut rng);
    let mut rounded = file.clone();
    for info in spec.parameters().iter().filter(|p| !p.is_bias) {
        let values = &mut rounded.tensors.get_mut(&info.name).unwrap().1;
        values
            .iter_mut()
            .for_each(|v| *v = half::f16::from_f32(*v).to_f32());
    }
    let x = images(&mut rng, 1, 40, 40);
    let run = |file: WeightFile, f16: bool| {
        let model = CpuModel::new(file, "test", f16).unwrap();
        pollster::block_on(model.dense(&x, 1, 40, 40, &mut NoPause))
            .unwrap()
            .output
            .scores
    };
    let f16 = run(file.clone(), true);
    assert_eq!(
        f16,
        run(rounded, false),
        "f16 storage rounds the weights, not the biases"
    );
    assert_ne!(
        f16,
        run(file, false),
        "rounding changed nothing: the test proves nothing"
    );
}

#[test]
fn an_image_smaller_than_the_training_size_is_refused() {
    let spec = small(Config::A, 32, 7);
    let file = weights(&spec, &mut rng("cpu refusal"));
    let model = CpuModel::new(file, "test", false).unwrap();
    let x = vec![0f32; 3 * 31 * 40];
    let err = pollster::block_on(model.dense(&x, 1, 31, 40, &mut NoPause))
        .err()
        .unwrap();
    assert!(err.to_string().contains("at least 32×32"), "{err}");
}

#[test]
fn an_image_too_large_for_the_page_is_refused_before_anything_is_allocated() {
    let spec = small(Config::A, 32, 7);
    let file = weights(&spec, &mut rng("cpu size refusal"));
    let model = CpuModel::new(file, "test", false).unwrap();
    // The first conv activation: 2 × 4 channels × 8192² × 4 bytes = 2 GiB.
    let err = model.check_input(2, 8192, 8192).err().unwrap();
    assert!(
        err.to_string().contains("2048 MiB, over the 1024 MiB"),
        "{err}"
    );
    model.check_input(2, 4096, 4096).unwrap(); // 512 MiB
}
