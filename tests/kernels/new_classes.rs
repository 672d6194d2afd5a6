//! New classes taught to a trained network from images in memory (`train::new_classes`,
//! what the page's "teach it your own classes" runs): the bundled model of the page
//! learns three classes under new names from 8 examples each, with its features and
//! every layer but the new last one left exactly as they were.

use crate::harness::*;
use vgg_wgpu::data::{Dataset, ImageList, Split, SyntheticDataset};
use vgg_wgpu::eval::{default_scales, evaluate_image, Protocol, TestModel};
use vgg_wgpu::gpu::Storage;
use vgg_wgpu::graph::{Network, ParamSet, TrainPlan};
use vgg_wgpu::model::{describe, WeightFile};
use vgg_wgpu::shape::SgdHyper;
use vgg_wgpu::train::new_classes::{Head, NewClasses};

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
fn examples(set: &SyntheticDataset, per_class: usize) -> ImageList {
    let mut list = ImageList::new(names());
    for (new_label, (old_label, _)) in (0..).zip(TAUGHT) {
        let images = (0..set.len()).filter(|&i| set.label(i) == old_label);
        for i in images.take(per_class) {
            list.push(set.image(i).unwrap(), new_label).unwrap();
        }
    }
    list
}

#[test]
fn a_trained_net_learns_new_classes_from_a_few_examples_with_its_features_untouched() {
    let ctx = gpu();
    let source = bundled();
    let described = describe(&source, "model.safetensors").unwrap();
    let new = NewClasses::new(
        &source,
        &described.meta,
        "model.safetensors",
        names(),
        Head::LastLayer,
        1,
    )
    .unwrap();
    assert_eq!(new.spec.classes, 3);
    assert_eq!(new.meta.class_names, names());
    assert_eq!(new.meta.preprocessing, described.meta.preprocessing);
    assert_eq!(new.meta.train_scale, described.meta.train_scale);
    assert!(
        new.note.contains("new: classifier.6 (10 → 3 classes)"),
        "{}",
        new.note
    );

    let train_set = SyntheticDataset::new(5, Split::Train, 200, 32).unwrap();
    let loader = new.loader(&examples(&train_set, 8), 8, 1).unwrap();
    assert_eq!(loader.batches_per_epoch(), 3);
    let net = Network::new(&new.spec, 0.5)
        .with_trainable(new.trainable)
        .unwrap();
    let params = ParamSet::upload(ctx, &new.spec, &new.weights, "start").unwrap();
    let plan = pollster::block_on(TrainPlan::new(ctx, &net, params, 8, 1, 1)).unwrap();
    let hyper = SgdHyper {
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 5e-4,
        grad_scale: 1.0,
    };
    let mut losses = Vec::new();
    for epoch in 0..10 {
        for batch in loader.epoch(epoch, 0).unwrap() {
            let batch = batch.unwrap();
            let step = losses.len() as u32;
            let stats =
                pollster::block_on(plan.step(ctx, &batch.images, &batch.labels, &hyper, 1, step));
            losses.push(stats.unwrap().mean_loss());
        }
    }
    let mean = |l: &[f64]| l.iter().sum::<f64>() / l.len() as f64;
    let (first, last) = (mean(&losses[..3]), mean(&losses[losses.len() - 3..]));
    assert!(
        last < 0.5 * first,
        "the loss falls: {first:.3} in the first epoch, {last:.3} in the last"
    );

    let mut trained = pollster::block_on(plan.params.download(ctx)).unwrap();
    for (name, (_, values)) in &trained.tensors {
        let before = &new.weights.tensors[name].1;
        match name.starts_with("classifier.6.") {
            true => assert_ne!(values, before, "{name} was trained"),
            false => assert_eq!(values, before, "{name} is frozen"),
        }
    }

    // Held-out images of the taught classes, classified as `vgg-wgpu classify` does.
    new.meta.write(&mut trained);
    let mut model = TestModel::new(ctx, &trained, "taught", Storage::F32).unwrap();
    let protocol = Protocol {
        scales: default_scales(model.meta.train_scale, 32),
        dense: true,
        multi_crop: false,
        flip: true,
    };
    let val_set = SyntheticDataset::new(0, Split::Val, 200, 32).unwrap();
    let held_out = examples(&val_set, 5);
    let mut right = 0;
    for i in 0..held_out.len() {
        let image = held_out.image(i).unwrap();
        let p = pollster::block_on(evaluate_image(ctx, &mut model, &image, &protocol)).unwrap();
        let p = vgg_wgpu::eval::protocol::mean(&p.dense);
        let top = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        right += (top as u32 == held_out.label(i)) as usize;
    }
    println!("loss {first:.3} → {last:.3}; {right} of 15 held-out images recognised");
    assert!(right >= 13, "{right} of 15 held-out images recognised");
}

#[test]
fn new_classes_need_two_distinct_names_and_an_example_of_each() {
    let source = bundled();
    let meta = describe(&source, "m").unwrap().meta;
    let make = |names: &[&str]| {
        let names = names.iter().map(|n| n.to_string()).collect();
        NewClasses::new(&source, &meta, "m", names, Head::Classifier, 1)
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
    let mut list = ImageList::new(new.meta.class_names.clone());
    list.push(image::RgbImage::new(40, 40), 0).unwrap();
    list.push(image::RgbImage::new(40, 40), 2).unwrap();
    let message = match new.loader(&list, 4, 1) {
        Ok(_) => panic!("a class without examples is refused"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("no examples of b: add one at least to every class"),
        "{message}"
    );
}
