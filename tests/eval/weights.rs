//! Weight files: torchvision's layout without metadata, round trips, and files that do
//! not fit.

use crate::harness::*;
use crate::{images, small, temp_dir, weights};
use vgg_wgpu::data::Preprocessing;
use vgg_wgpu::eval::{check_ensemble, TestModel};
use vgg_wgpu::gpu::Storage;
use vgg_wgpu::graph::dense_reference::dense_scores;
use vgg_wgpu::graph::reference::{self, OracleState};
use vgg_wgpu::graph::Network;
use vgg_wgpu::model::{Config, ModelMeta, WeightFile};

#[test]
fn a_torchvision_layout_file_loads_and_gives_the_oracles_logits() {
    let mut rng = rng("torchvision layout");
    let spec = small(Config::B, 64, 9);
    let file = weights(&spec, &mut rng);
    assert!(file.metadata.is_empty());
    let path = temp_dir("torchvision").join("vgg13.safetensors");
    file.save(&path).unwrap();
    let ctx = gpu();
    let mut model = TestModel::load(ctx, &path, Storage::F32).unwrap();
    assert_eq!(model.spec, spec, "spec inferred from names and shapes");
    assert_eq!(model.meta.preprocessing, Preprocessing::TORCHVISION);
    assert_eq!(model.meta.class_names[8], "class 8");

    let x = images(&mut rng, 2, 64, 64);
    let out = pollster::block_on(model.dense(ctx, &x, 2, 64, 64)).unwrap();
    let net = Network::new(&spec, 0.5);
    let params = OracleState::new(&net, &file).params;
    let logits = &reference::forward(&net, &params, &x, 2, None)[net.ops.len()];
    check(
        "torchvision-layout file: dense vs oracle logits",
        &out.scores,
        logits,
        FORWARD_TOLERANCE,
    );
    let scores = dense_scores(&net, &params, &x, 2, 64, 64);
    check(
        "sliding oracle on the training size vs plain oracle",
        &scores,
        logits,
        1e-6,
    );

    // Saved, loaded, saved again: bit for bit.
    let again = WeightFile::load(&path).unwrap();
    assert_eq!(again, file);
    assert_eq!(
        WeightFile::from_bytes(&again.to_bytes().unwrap(), "copy").unwrap(),
        file
    );
}

#[test]
fn a_model_with_f16_weights_gives_the_oracles_logits_on_its_rounded_weights() {
    // Dense evaluation (conv and FC layers, at a size where FC1 is a convolution) with
    // the weights stored as halves: the oracle on the same weights rounded to halves.
    let mut rng = rng("f16 weights");
    let spec = small(Config::A, 32, 9);
    let file = weights(&spec, &mut rng);
    let mut rounded = file.clone();
    for p in spec.parameters().iter().filter(|p| !p.is_bias) {
        for v in &mut rounded.tensors.get_mut(&p.name).unwrap().1 {
            *v = half::f16::from_f32(*v).to_f32();
        }
    }
    let ctx = gpu();
    let mut model = TestModel::new(ctx, &file, "f16", Storage::F16).unwrap();
    let x = images(&mut rng, 2, 48, 40);
    let out = pollster::block_on(model.dense(ctx, &x, 2, 48, 40)).unwrap();
    let net = Network::new(&spec, 0.5);
    let params = OracleState::new(&net, &rounded).params;
    check(
        "f16 weights: dense scores vs oracle on the rounded weights",
        &out.scores,
        &dense_scores(&net, &params, &x, 2, 48, 40),
        FORWARD_TOLERANCE,
    );
}

/// A file with our metadata for `meta_spec` but the tensors of `tensor_spec`.
fn mislabelled(meta_config: Config, meta_classes: usize) -> WeightFile {
    let mut rng = rng("mislabelled");
    let mut file = weights(&small(Config::A, 32, 7), &mut rng);
    let claimed = small(meta_config, 32, meta_classes);
    let names = (0..meta_classes).map(|i| format!("c{i}")).collect();
    ModelMeta::new(
        &claimed,
        names,
        Preprocessing::mean_only([0.0; 3]),
        [36, 36],
    )
    .write(&mut file);
    file
}

#[test]
fn weights_of_another_network_are_errors_naming_the_tensor() {
    let ctx = gpu();
    let refusal = |file: &WeightFile, name: &str| {
        let model = TestModel::new(ctx, file, name, Storage::F32);
        model.err().expect("an error").to_string()
    };
    let message = refusal(&mislabelled(Config::A, 5), "five.safetensors");
    assert!(
        message.contains("classifier.6.weight")
            && message.contains("[7, 256]")
            && message.contains("[5, 256]"),
        "{message}"
    );
    let message = refusal(&mislabelled(Config::B, 7), "b.safetensors");
    assert!(message.contains("features.2.weight"), "{message}");

    let seven = TestModel::new(
        ctx,
        &mislabelled(Config::A, 7),
        "seven.safetensors",
        Storage::F32,
    )
    .unwrap();
    let mut rng = rng("ensemble");
    let nine = TestModel::new(
        ctx,
        &weights(&small(Config::A, 32, 9), &mut rng),
        "nine",
        Storage::F32,
    )
    .unwrap();
    let message = check_ensemble(&[seven, nine]).unwrap_err().to_string();
    assert!(
        message.contains("9 classes") && message.contains("7"),
        "{message}"
    );
}

#[test]
fn truncated_and_foreign_files_are_errors() {
    let mut rng = rng("truncated");
    let bytes = weights(&small(Config::A, 32, 7), &mut rng)
        .to_bytes()
        .unwrap();
    let dir = temp_dir("truncated");
    for (name, content) in [
        ("half.safetensors", &bytes[..bytes.len() / 2]),
        (
            "picture.safetensors",
            b"\x89PNG\r\n\x1a\n not weights".as_slice(),
        ),
        ("empty.safetensors", &[]),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let message = TestModel::load(gpu(), &path, Storage::F32)
            .err()
            .unwrap()
            .to_string();
        assert!(
            message.contains(name) && message.contains("safetensors"),
            "{message}"
        );
    }
    let message = TestModel::load(gpu(), &dir.join("absent.safetensors"), Storage::F32)
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("cannot be read"), "{message}");
}
