//! New classes taught to a trained network from images in memory (`train::teaching`,
//! what the page's "teach it your own classes" runs): the bundled model of the page
//! learns three classes under new names from 8 examples each, on features its frozen
//! layers computed once per example and view (on the CPU engine, or on the GPU), the
//! frozen layers left exactly as they were.

use crate::harness::*;
use vgg_wgpu::cpu_engine::{CpuModel, NoPause};
use vgg_wgpu::data::{Dataset, ImageList, Split, SyntheticDataset};
use vgg_wgpu::eval::{default_scales, evaluate_image, Protocol, TestModel};
use vgg_wgpu::gpu::Storage;
use vgg_wgpu::model::{describe, WeightFile};
use vgg_wgpu::train::feature_cache::VIEWS;
use vgg_wgpu::train::new_classes::{Head, NewClasses};
use vgg_wgpu::train::teaching::{CpuFrozen, Examples, FrozenLayers, GpuFrozen, Teaching};

/// The built-in data set's classes taught under new names: built-in label → new label.
const TAUGHT: [(u32, &str); 3] = [(0, "first"), (3, "second"), (6, "third")];

fn bundled() -> WeightFile {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/web/model.safetensors");
    WeightFile::load(std::path::Path::new(path)).unwrap()
}

fn names() -> Vec<String> {
    TAUGHT.iter().map(|(_, n)| n.to_string()).collect()
}

/// Up to `per_class` images of each taught class from `set`, labelled with the new
/// labels.
fn examples_of(set: &SyntheticDataset, per_class: usize) -> ImageList {
    let mut list = ImageList::new(names());
    for (new_label, (old_label, _)) in (0..).zip(TAUGHT) {
        let images = (0..set.len()).filter(|&i| set.label(i) == old_label);
        for i in images.take(per_class) {
            list.push(set.image(i).unwrap(), new_label).unwrap();
        }
    }
    list
}

/// The bundled model taught the three classes from 8 examples each, its frozen layers
/// running on `frozen`: the taught network (whole, with its metadata), the losses, and
/// the views that ran through the frozen convolutions.
fn teach(
    frozen: &mut impl FrozenLayers,
    head: Head,
    steps: usize,
) -> (WeightFile, Vec<f64>, usize) {
    let ctx = gpu();
    let source = bundled();
    let described = describe(&source, "model.safetensors").unwrap();
    let new = NewClasses::new(
        source.clone(),
        &described.meta,
        "model.safetensors",
        names(),
        head,
    )
    .unwrap();
    let mut examples = Examples::new(&described.spec, &described.meta).unwrap();
    let train_set = SyntheticDataset::new(5, Split::Train, 200, 32).unwrap();
    let list = examples_of(&train_set, 8);
    for i in 0..list.len() {
        let image = list.image(i).unwrap();
        pollster::block_on(examples.add(ctx, frozen, &image, list.label(i))).unwrap();
    }
    assert_eq!(
        examples.front_passes,
        24 * VIEWS,
        "each view of each example ran once"
    );
    let meta = new.meta.clone();
    let mut teaching = pollster::block_on(Teaching::new(ctx, new, 8, 0.01, 1)).unwrap();
    assert_eq!(teaching.steps_per_epoch(&examples), 3);
    let mut losses = Vec::new();
    for _ in 0..steps {
        let step = pollster::block_on(teaching.step(ctx, frozen, &examples)).unwrap();
        losses.push(step.stats.mean_loss());
    }
    assert_eq!(
        examples.front_passes,
        24 * VIEWS,
        "and never again while teaching"
    );
    let head_weights = pollster::block_on(teaching.head_weights(ctx)).unwrap();
    let mut taught = source.clone();
    for (name, (_, values)) in &head_weights.tensors {
        let before = &taught.tensors[name].1;
        assert_ne!(values, before, "{name} was trained");
    }
    taught.tensors.extend(head_weights.tensors);
    meta.write(&mut taught);
    (taught, losses, examples.front_passes)
}

/// How many of 15 held-out images of the taught classes `taught` recognises, classified
/// as `vgg-wgpu classify` does.
fn held_out_recognised(taught: &WeightFile) -> usize {
    let ctx = gpu();
    let mut model = TestModel::new(ctx, taught, "taught", Storage::F32).unwrap();
    let protocol = Protocol {
        scales: default_scales(model.meta.train_scale, 32),
        dense: true,
        multi_crop: false,
        flip: true,
    };
    let val_set = SyntheticDataset::new(0, Split::Val, 200, 32).unwrap();
    let held_out = examples_of(&val_set, 5);
    let mut right = 0;
    for i in 0..held_out.len() {
        let image = held_out.image(i).unwrap();
        let p = pollster::block_on(evaluate_image(ctx, &mut model, &image, &protocol)).unwrap();
        let p = vgg_wgpu::eval::protocol::mean(&p.dense);
        let top = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        right += (top as u32 == held_out.label(i)) as usize;
    }
    right
}

fn mean(l: &[f64]) -> f64 {
    l.iter().sum::<f64>() / l.len() as f64
}

#[test]
fn a_trained_net_learns_new_classes_from_a_few_examples_on_cpu_engine_features() {
    let source = bundled();
    let model = CpuModel::new(source.clone(), "model.safetensors", false).unwrap();
    let mut frozen = CpuFrozen {
        model,
        pause: NoPause,
    };
    let (taught, losses, _) = teach(&mut frozen, Head::LastLayer, 30);
    let (first, last) = (mean(&losses[..3]), mean(&losses[losses.len() - 3..]));
    assert!(
        (losses[0] - 3f64.ln()).abs() < 1e-4,
        "the new layer starts at zero: {}",
        losses[0]
    );
    assert!(
        last < 0.5 * first,
        "the loss falls: {first:.3} in the first epoch, {last:.3} in the last"
    );
    for (name, (_, values)) in &source.tensors {
        if !name.starts_with("classifier.6.") {
            assert_eq!(values, &taught.tensors[name].1, "{name} is frozen");
        }
    }
    let right = held_out_recognised(&taught);
    println!("loss {first:.3} → {last:.3}; {right} of 15 held-out images recognised");
    assert!(right >= 13, "{right} of 15 held-out images recognised");
}

#[test]
fn the_whole_classifier_taught_on_gpu_features_learns_them_too() {
    let source = bundled();
    let ctx = gpu();
    let model = TestModel::new(ctx, &source, "model.safetensors", Storage::F32).unwrap();
    let (net, params) = model.network();
    let mut frozen = GpuFrozen::new(net, params);
    let (taught, losses, _) = teach(&mut frozen, Head::Classifier, 30);
    let (first, last) = (mean(&losses[..3]), mean(&losses[losses.len() - 3..]));
    assert!(last < 0.5 * first, "the loss falls: {first:.3} → {last:.3}");
    let right = held_out_recognised(&taught);
    println!("loss {first:.3} → {last:.3}; {right} of 15 held-out images recognised");
    assert!(right >= 13, "{right} of 15 held-out images recognised");
}

#[test]
fn new_classes_need_two_distinct_names_and_an_example_of_each() {
    let source = bundled();
    let described = describe(&source, "m").unwrap();
    let meta = described.meta;
    let make = |names: &[&str]| {
        let names = names.iter().map(|n| n.to_string()).collect();
        NewClasses::new(source.clone(), &meta, "m", names, Head::Classifier)
    };
    let error = |names: &[&str]| make(names).unwrap_err().to_string();
    assert!(
        error(&["cat"]).contains("need two classes at least"),
        "{}",
        error(&["cat"])
    );
    assert!(error(&["cat", "cat"]).contains("two classes are named 'cat'"));
    assert!(error(&["cat", " "]).contains("every class needs a name"));

    let new = make(&["a", "b", "c"]).unwrap();
    assert_eq!(
        new.trainable.frozen_layers, 8,
        "VGG-A's 8 convs frozen, its FC layers trained"
    );
    assert!(
        new.note.contains("new: classifier.6 (10 → 3 classes)"),
        "{}",
        new.note
    );
    let ctx = gpu();
    let model = CpuModel::new(source.clone(), "m", false).unwrap();
    let mut frozen = CpuFrozen {
        model,
        pause: NoPause,
    };
    let mut examples = Examples::new(&described.spec, &meta).unwrap();
    for label in [0, 2] {
        let image = image::RgbImage::new(40, 40);
        pollster::block_on(examples.add(ctx, &mut frozen, &image, label)).unwrap();
    }
    let mut teaching = pollster::block_on(Teaching::new(ctx, new, 4, 0.01, 1)).unwrap();
    let message = match pollster::block_on(teaching.step(ctx, &mut frozen, &examples)) {
        Ok(_) => panic!("a class without examples is refused"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("no examples of b: add one at least to every class"),
        "{message}"
    );
}
