//! End-to-end training: the loss falls, an interrupted run resumes exactly, and bad
//! input gets errors that name the problem.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use vgg_wgpu::eval::TestModel;
use vgg_wgpu::gpu::{AdapterChoice, Storage};
use vgg_wgpu::graph::SingleProcess;
use vgg_wgpu::kernels::GpuContext;
use vgg_wgpu::model::{Config, ModelSpec, WeightFile};
use vgg_wgpu::train::checkpoint::Checkpoint;
use vgg_wgpu::train::data_source::DataSource;
use vgg_wgpu::train::init::{random_weights, Init};
use vgg_wgpu::train::options::{Freeze, Normalize, TrainOptions};
use vgg_wgpu::train::run_folder::{checkpoint_path, curves_path, features_path, model_path};
use vgg_wgpu::train::run_settings::RunSettings;
use vgg_wgpu::train::trainer::{train, Event, Outcome};

#[path = "data/unreadable_folder.rs"]
mod unreadable_folder;

fn gpu() -> GpuContext {
    pollster::block_on(GpuContext::new(&AdapterChoice::default()))
        .unwrap_or_else(|e| panic!("training tests need a GPU adapter: {e}"))
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vgg-wgpu-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A tiny run: 64 built-in images, 8 steps of 8 per epoch, two epochs.
fn tiny(out: PathBuf) -> TrainOptions {
    TrainOptions {
        config: Config::A,
        crop: 32,
        width_divisor: 16,
        data: DataSource::Builtin {
            train: 64,
            val: 24,
            size: 32,
        },
        epochs: 2,
        batch: 4,
        accumulate: 2,
        lr: Some(0.01),
        momentum: 0.9,
        weight_decay: 5e-4,
        dropout: 0.5,
        patience: 2,
        max_reductions: 3,
        scale: (32, 36),
        init: Init::Glorot,
        out,
        resume: false,
        overwrite: false,
        seed: 5,
        checkpoint_every: 3,
        log_every: 1,
        workers: 1,
        strict: false,
        normalize: Normalize::DataMean,
        freeze: Freeze::Nothing,
        lr_features: 1.0,
        cache_features: false,
    }
}

fn run(
    ctx: &GpuContext,
    opts: &TrainOptions,
    stop_after_steps: Option<usize>,
) -> (vgg_wgpu::Result<Outcome>, Vec<f64>) {
    run_on(std::slice::from_ref(ctx), opts, stop_after_steps)
}

/// As `run`, with one data-parallel replica on each of `devices`.
fn run_on(
    devices: &[GpuContext],
    opts: &TrainOptions,
    stop_after_steps: Option<usize>,
) -> (vgg_wgpu::Result<Outcome>, Vec<f64>) {
    let (outcome, losses, _) = run_noting(devices, opts, stop_after_steps);
    (outcome, losses)
}

/// As `run_on`, also returning the notes the run gave.
fn run_noting(
    devices: &[GpuContext],
    opts: &TrainOptions,
    stop_after_steps: Option<usize>,
) -> (vgg_wgpu::Result<Outcome>, Vec<f64>, Vec<String>) {
    let stop = AtomicBool::new(false);
    let (mut losses, mut notes) = (Vec::new(), Vec::new());
    let outcome =
        pollster::block_on(train(
            devices,
            &SingleProcess,
            opts,
            &stop,
            &mut |event| match event {
                Event::Step { loss, .. } => {
                    losses.push(loss);
                    if Some(losses.len()) == stop_after_steps {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
                Event::Note(text) => notes.push(text),
                _ => {}
            },
        ));
    (outcome, losses, notes)
}

#[test]
fn interrupted_run_resumes_to_identical_weights() {
    let ctx = gpu();
    let straight = tiny(out_dir("straight"));
    let (outcome, losses) = run(&ctx, &straight, None);
    assert_eq!(
        outcome.unwrap(),
        Outcome::Finished(model_path(&straight.out))
    );
    assert_eq!(losses.len(), 16);

    // Stop mid-epoch (after step 5, between the periodic checkpoints at 3 and 6), resume.
    let split = tiny(out_dir("split"));
    let (outcome, first) = run(&ctx, &split, Some(5));
    assert!(matches!(outcome.unwrap(), Outcome::Interrupted(_)));
    assert_eq!(first.len(), 5);
    let (outcome, rest) = run(
        &ctx,
        &TrainOptions {
            resume: true,
            ..split.clone()
        },
        None,
    );
    assert_eq!(outcome.unwrap(), Outcome::Finished(model_path(&split.out)));
    assert_eq!(first.len() + rest.len(), 16);
    assert_eq!([first, rest].concat(), losses, "same losses step by step");

    let a = WeightFile::load(&model_path(&straight.out)).unwrap();
    let b = WeightFile::load(&model_path(&split.out)).unwrap();
    assert_eq!(
        a.tensors, b.tensors,
        "resumed weights equal the uninterrupted run's bit for bit"
    );
    let lines = std::fs::read_to_string(split.out.join("metrics.jsonl")).unwrap();
    assert!(lines
        .lines()
        .filter(|l| l.contains("\"kind\":\"epoch\""))
        .all(|l| l.contains("val_top1_err") && l.contains("val_top5_err")));
    assert_eq!(
        picture_but_speed(&split.out),
        picture_but_speed(&straight.out),
        "the resumed run's curves.svg, redrawn from its whole log, is the uninterrupted run's"
    );
}

/// The run's curves.svg without its speed panel (its only part that differs between
/// two runs of the same steps), after checking that it holds one series per metric.
fn picture_but_speed(out: &Path) -> String {
    let text = std::fs::read_to_string(curves_path(out)).expect("train draws curves.svg");
    let svg = roxmltree::Document::parse(&text).expect("curves.svg is XML");
    let mut metrics: Vec<&str> = svg
        .descendants()
        .filter(|node| node.attribute("class") == Some("series"))
        .filter_map(|node| node.attribute("data-metric"))
        .collect();
    metrics.sort();
    assert_eq!(
        metrics,
        [
            "images_per_s",
            "loss",
            "val_loss",
            "val_top1_err",
            "val_top5_err"
        ]
    );
    let speed = svg
        .descendants()
        .find(|node| node.attribute("id") == Some("panel-timing"))
        .expect("a speed panel")
        .range();
    format!("{}{}", &text[..speed.start], &text[speed.end..])
}

#[test]
fn two_devices_train_like_one_and_resume_on_one() {
    let one = tiny(out_dir("one-device"));
    let (outcome, losses) = run(&gpu(), &one, None);
    assert!(matches!(outcome.unwrap(), Outcome::Finished(_)));

    // 2 replicas (each 2 images of every pass of 4) until step 5, then 1 device.
    let two = tiny(out_dir("two-devices"));
    let (outcome, first) = run_on(&[gpu(), gpu()], &two, Some(5));
    assert!(matches!(outcome.unwrap(), Outcome::Interrupted(_)));
    let resumed = TrainOptions {
        resume: true,
        ..two.clone()
    };
    let (outcome, rest) = run(&gpu(), &resumed, None);
    assert!(matches!(outcome.unwrap(), Outcome::Finished(_)));
    let all = [first, rest].concat();
    assert_eq!(all.len(), losses.len());
    for (step, (a, b)) in all.iter().zip(&losses).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * b.abs(),
            "step {step}: loss {a} vs {b}"
        );
    }
    let difference = WeightFile::load(&model_path(&two.out))
        .unwrap()
        .max_relative_difference(&WeightFile::load(&model_path(&one.out)).unwrap());
    println!("2 devices then 1 vs 1 device: weights differ by {difference:.2e} (relative)");
    assert!(difference <= 1e-5, "weights differ by {difference:e}");
}

#[test]
fn a_batch_that_does_not_split_over_the_devices_is_refused() {
    let opts = TrainOptions {
        batch: 3,
        ..tiny(out_dir("uneven"))
    };
    let (outcome, _) = run_on(&[gpu(), gpu()], &opts, None);
    let message = outcome.unwrap_err().to_string();
    assert!(
        message.contains("--batch 3") && message.contains("multiple of 2"),
        "{message}"
    );
}

#[test]
fn loss_falls_on_a_tiny_net() {
    let ctx = gpu();
    // One class-balanced batch seen again and again must be learned.
    let opts = one_batch_again(0.003, tiny(out_dir("falls")));
    let (outcome, losses) = run(&ctx, &opts, None);
    outcome.unwrap();
    assert_loss_falls(&losses);
}

#[test]
fn resuming_with_another_config_names_the_tensor() {
    let ctx = gpu();
    let opts = TrainOptions {
        epochs: 1,
        ..tiny(out_dir("other-config"))
    };
    run(&ctx, &opts, None).0.unwrap();
    let deeper = TrainOptions {
        config: Config::B,
        resume: true,
        epochs: 2,
        ..opts
    };
    let err = run(&ctx, &deeper, None).0.unwrap_err().to_string();
    assert!(
        err.contains("checkpoint.safetensors") && err.contains("features.2.weight"),
        "{err}"
    );
}

/// A checkpoint written before runs recorded their options still resumes: the check
/// is skipped with a note, and the resumed run's checkpoints record them.
#[test]
fn a_checkpoint_without_recorded_options_resumes_with_a_note() {
    let ctx = gpu();
    let opts = TrainOptions {
        epochs: 1,
        ..tiny(out_dir("unrecorded-options"))
    };
    run(&ctx, &opts, None).0.unwrap();
    let path = checkpoint_path(&opts.out);
    let mut old = Checkpoint::load(&path).unwrap();
    old.state.settings = None;
    old.save(&path).unwrap();

    let resumed = TrainOptions {
        resume: true,
        epochs: 2,
        ..opts
    };
    let stop = AtomicBool::new(false);
    let mut notes = Vec::new();
    let outcome = pollster::block_on(train(
        std::slice::from_ref(&ctx),
        &SingleProcess,
        &resumed,
        &stop,
        &mut |event| {
            if let Event::Note(text) = event {
                notes.push(text);
            }
        },
    ));
    assert_eq!(
        outcome.unwrap(),
        Outcome::Finished(model_path(&resumed.out))
    );
    assert!(notes.iter().any(|n| n.contains("not checked")), "{notes:?}");
    let recorded = Checkpoint::load(&path).unwrap().state.settings;
    assert_eq!(recorded, Some(RunSettings::of(&resumed)));
}

#[test]
fn bad_input_gets_clear_errors() {
    let ctx = gpu();
    let missing = TrainOptions {
        data: DataSource::Path("/no/such/dataset".into()),
        ..tiny(out_dir("missing"))
    };
    let err = run(&ctx, &missing, None).0.unwrap_err().to_string();
    assert!(
        err.contains("/no/such/dataset") && err.contains("does not exist"),
        "{err}"
    );

    let no_checkpoint = TrainOptions {
        resume: true,
        ..tiny(out_dir("no-checkpoint"))
    };
    let err = run(&ctx, &no_checkpoint, None).0.unwrap_err().to_string();
    assert!(err.contains("no checkpoint to resume"), "{err}");

    let bad_init = TrainOptions {
        config: Config::D,
        init: Init::FromCheckpoint("/no/such/a.safetensors".into()),
        ..tiny(out_dir("bad-init"))
    };
    let err = run(&ctx, &bad_init, None).0.unwrap_err().to_string();
    assert!(err.contains("/no/such/a.safetensors"), "{err}");
}

/// A diverged run stops with an error at its first non-finite loss instead of scoring
/// NaN weights as perfect, and writes neither a model nor a NaN checkpoint.
#[test]
fn a_diverging_run_stops_and_keeps_no_nan_weights() {
    let opts = TrainOptions {
        lr: Some(1e6),
        epochs: 1,
        ..tiny(out_dir("diverges"))
    };
    let (outcome, losses) = run(&gpu(), &opts, None);
    let message = outcome.unwrap_err().to_string();
    assert!(
        message.contains("diverged") && message.contains("--lr") && message.contains("step"),
        "{message}"
    );
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(!model_path(&opts.out).exists(), "no model of NaN weights");
    let metrics = std::fs::read_to_string(opts.out.join("metrics.jsonl")).unwrap_or_default();
    assert!(!metrics.contains("null"), "no NaN in the log: {metrics}");
    let checkpoint = opts.out.join("checkpoint.safetensors");
    if checkpoint.exists() {
        let weights = WeightFile::load(&checkpoint).unwrap();
        assert!(weights
            .tensors
            .values()
            .all(|(_, values)| values.iter().all(|v| v.is_finite())));
    }
}

/// After a kill, the log holds steps past the last checkpoint; resuming drops them, so
/// every step is logged once.
#[test]
fn resuming_after_a_kill_logs_every_step_once() {
    let ctx = gpu();
    let opts = tiny(out_dir("killed"));
    let (outcome, _) = run(&ctx, &opts, Some(5));
    assert!(matches!(outcome.unwrap(), Outcome::Interrupted(_)));
    // What a run killed after step 7 (its checkpoint still at step 5) leaves behind.
    let log = opts.out.join("metrics.jsonl");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("{\"kind\":\"step\",\"epoch\":0,\"step\":6,\"loss\":2.0}\n");
    text.push_str("{\"kind\":\"step\",\"epoch\":0,\"step\":7,\"loss\":2.0}\n{\"kind\":\"st");
    std::fs::write(&log, text).unwrap();
    let resumed = TrainOptions {
        resume: true,
        ..opts.clone()
    };
    run(&ctx, &resumed, None).0.unwrap();
    let steps: Vec<u64> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "step")
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, (1..=16).collect::<Vec<u64>>());
}

#[test]
fn a_fine_tuning_run_resumes_mid_epoch_to_identical_weights() {
    // Frozen leading layers have no momenta in the checkpoint; the features' own rate
    // is recorded with the run. The frozen layers come from a file, as they must.
    let spec = ModelSpec {
        config: Config::A,
        classes: 10,
        input_size: 32,
        width_divisor: 16,
    };
    let source = out_dir("fine-tune-source").with_extension("safetensors");
    random_weights(&spec, &Init::Kaiming, 1)
        .save(&source)
        .unwrap();
    let fine_tune = |name: &str| TrainOptions {
        init: Init::Pretrained(source.display().to_string()),
        freeze: Freeze::Layers(3),
        lr_features: 0.1,
        ..tiny(out_dir(name))
    };
    let straight = fine_tune("fine-tune-straight");
    let (outcome, losses) = run(&gpu(), &straight, None);
    assert!(matches!(outcome.unwrap(), Outcome::Finished(_)));
    let split = fine_tune("fine-tune-split");
    let (outcome, first) = run(&gpu(), &split, Some(5));
    assert!(matches!(outcome.unwrap(), Outcome::Interrupted(_)));
    let resumed = TrainOptions {
        resume: true,
        ..split.clone()
    };
    let (outcome, rest) = run(&gpu(), &resumed, None);
    assert!(matches!(outcome.unwrap(), Outcome::Finished(_)));
    assert_eq!([first, rest].concat(), losses, "same losses step by step");
    let a = WeightFile::load(&model_path(&straight.out)).unwrap();
    let b = WeightFile::load(&model_path(&split.out)).unwrap();
    assert_eq!(a.tensors, b.tensors, "bit for bit");
    let checkpoint = Checkpoint::load(&checkpoint_path(&split.out)).unwrap();
    assert_eq!(
        checkpoint.momenta.tensors.len(),
        2 * (11 - 3),
        "none for frozen layers"
    );
}

/// Four unreadable images among 40 cost up to 4 of the 5 steps of every epoch. Now
/// other images take their places: every step is taken, each image is listed once in
/// the run (also across a resume), and the resumed run equals the straight one.
#[test]
fn unreadable_images_cost_no_step_and_are_listed_once_per_run() {
    let ctx = gpu();
    let data = out_dir("unreadable-data");
    let broken = unreadable_folder::write(&data);
    let with_data = |name: &str| TrainOptions {
        data: DataSource::Path(data.clone()),
        ..tiny(out_dir(name))
    };
    let straight = with_data("unreadable-straight");
    let (outcome, losses, notes) = run_noting(std::slice::from_ref(&ctx), &straight, None);
    outcome.unwrap();
    assert_eq!(losses.len(), 10, "5 steps of 8 in each of 2 epochs");
    let logged = std::fs::read_to_string(straight.out.join("metrics.jsonl")).unwrap();
    assert_eq!(logged.matches("\"kind\":\"step\"").count(), 10);
    let listed_once_each = |notes: &[String]| {
        for path in &broken {
            let shown = path.display().to_string();
            let listed = notes.iter().filter(|n| n.contains(&shown)).count();
            assert_eq!(listed, 1, "{shown} in {notes:#?}");
        }
        for epoch in [1, 2] {
            let note = format!("epoch {epoch}: 4 unreadable image(s) replaced");
            let count = notes.iter().filter(|n| n.contains(&note)).count();
            assert_eq!(count, 1, "{note} in {notes:#?}");
        }
        let about_them = notes.iter().filter(|n| n.contains("unreadable")).count();
        assert_eq!(about_them, 4 + 2, "{notes:#?}");
    };
    listed_once_each(&notes);

    // Stop after step 3 of epoch 1, resume.
    let split = with_data("unreadable-split");
    let (outcome, first, first_notes) = run_noting(std::slice::from_ref(&ctx), &split, Some(3));
    assert!(matches!(outcome.unwrap(), Outcome::Interrupted(_)));
    assert!(
        !first_notes.is_empty(),
        "the first part meets some: {first_notes:?}"
    );
    let resumed = TrainOptions {
        resume: true,
        ..split.clone()
    };
    let (outcome, rest, rest_notes) = run_noting(std::slice::from_ref(&ctx), &resumed, None);
    outcome.unwrap();
    listed_once_each(&[first_notes, rest_notes].concat());
    assert_eq!([first, rest].concat(), losses, "same losses step by step");
    let a = WeightFile::load(&model_path(&straight.out)).unwrap();
    let b = WeightFile::load(&model_path(&split.out)).unwrap();
    assert_eq!(a.tensors, b.tensors, "bit for bit");
    let _ = std::fs::remove_dir_all(&data);
}

/// A VGG-A (widths ÷16, 32 px, 10 classes) saved as a pretrained file in `name`, for
/// runs that freeze its layers.
fn pretrained_source(name: &str) -> (PathBuf, WeightFile) {
    let spec = ModelSpec {
        config: Config::A,
        classes: 10,
        input_size: 32,
        width_divisor: 16,
    };
    let weights = random_weights(&spec, &Init::Glorot, 1);
    let path = out_dir(name).with_extension("safetensors");
    weights.save(&path).unwrap();
    (path, weights)
}

/// `tiny`, fine-tuning the classifier of `source` on its cached features.
fn cached(source: &Path, name: &str) -> TrainOptions {
    TrainOptions {
        init: Init::Pretrained(source.display().to_string()),
        freeze: Freeze::Features,
        cache_features: true,
        ..tiny(out_dir(name))
    }
}

/// A cached run's model is whole (its frozen convs as the file gave them, its
/// classifier trained) and loads for classification; stopped mid-epoch and resumed,
/// it reads its features back and ends with the same weights bit for bit.
#[test]
fn a_cached_run_writes_a_whole_model_and_resumes_to_identical_weights() {
    let ctx = gpu();
    let (source, weights) = pretrained_source("cached-source");
    let straight = cached(&source, "cached-straight");
    let (outcome, losses, notes) = run_noting(std::slice::from_ref(&ctx), &straight, None);
    outcome.unwrap();
    assert_eq!(losses.len(), 16, "8 steps of 8 in each of 2 epochs");
    assert!(
        notes.iter().any(|n| n.starts_with(
            "features computed: 64 training images × 2 views and 24 validation images"
        )),
        "{notes:?}"
    );
    assert!(features_path(&straight.out).exists());
    let model = WeightFile::load(&model_path(&straight.out)).unwrap();
    assert_eq!(model.tensors.len(), weights.tensors.len());
    for (name, tensor) in &model.tensors {
        match name.starts_with("features.") {
            true => assert_eq!(tensor, &weights.tensors[name], "{name} is frozen"),
            false => assert_ne!(tensor.1, weights.tensors[name].1, "{name} trained"),
        }
    }
    let loaded = TestModel::load(&ctx, &model_path(&straight.out), Storage::F32).unwrap();
    assert_eq!(loaded.meta.class_names.len(), 10);

    let split = cached(&source, "cached-split");
    let (outcome, first) = run(&ctx, &split, Some(5));
    assert!(matches!(outcome.unwrap(), Outcome::Interrupted(_)));
    let resumed = TrainOptions {
        resume: true,
        ..split.clone()
    };
    let (outcome, rest, notes) = run_noting(std::slice::from_ref(&ctx), &resumed, None);
    outcome.unwrap();
    assert!(
        notes.iter().any(|n| n.contains("features.cache reused")),
        "{notes:?}"
    );
    assert_eq!([first, rest].concat(), losses, "same losses step by step");
    let b = WeightFile::load(&model_path(&split.out)).unwrap();
    assert_eq!(model.tensors, b.tensors, "bit for bit");
    let checkpoint = Checkpoint::load(&checkpoint_path(&split.out)).unwrap();
    assert_eq!(checkpoint.params.tensors, b.tensors, "a whole network");
    assert_eq!(checkpoint.momenta.tensors.len(), 6, "the FC layers' alone");
}

/// One class-balanced batch of cached features seen again and again is learned.
#[test]
fn loss_falls_on_cached_features() {
    let (source, _) = pretrained_source("cached-falls-source");
    let opts = one_batch_again(0.01, cached(&source, "cached-falls"));
    let (outcome, losses) = run(&gpu(), &opts, None);
    outcome.unwrap();
    assert_loss_falls(&losses);
}

/// The features of other frozen weights are not reused: the resumed run says why and
/// computes them again. `--overwrite` by a run without the cache removes it.
#[test]
fn cached_features_of_other_frozen_weights_are_computed_again() {
    let ctx = gpu();
    let (source, _) = pretrained_source("cached-changed-source");
    let opts = TrainOptions {
        epochs: 1,
        ..cached(&source, "cached-changed")
    };
    let (outcome, _) = run(&ctx, &opts, Some(2));
    assert!(matches!(outcome.unwrap(), Outcome::Interrupted(_)));
    let path = checkpoint_path(&opts.out);
    let mut checkpoint = Checkpoint::load(&path).unwrap();
    let (_, conv1) = checkpoint
        .params
        .tensors
        .get_mut("features.0.weight")
        .unwrap();
    conv1[0] += 0.5;
    checkpoint.save(&path).unwrap();
    let before = std::fs::read(features_path(&opts.out)).unwrap();
    let resumed = TrainOptions {
        resume: true,
        ..opts.clone()
    };
    let (outcome, _, notes) = run_noting(std::slice::from_ref(&ctx), &resumed, None);
    outcome.unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("not reused, the frozen layers' weights changed")),
        "{notes:?}"
    );
    assert_ne!(std::fs::read(features_path(&opts.out)).unwrap(), before);

    let uncached = TrainOptions {
        overwrite: true,
        ..tiny(opts.out.clone())
    };
    let uncached = TrainOptions {
        epochs: 1,
        ..uncached
    };
    run(&ctx, &uncached, None).0.unwrap();
    assert!(!features_path(&opts.out).exists(), "replaced with the run");
}

#[test]
fn cache_features_without_frozen_layers_or_with_lr_features_is_refused() {
    let ctx = gpu();
    let (source, _) = pretrained_source("cached-refused-source");
    let nothing_frozen = TrainOptions {
        freeze: Freeze::Nothing,
        ..cached(&source, "cached-nothing-frozen")
    };
    let err = run(&ctx, &nothing_frozen, None).0.unwrap_err().to_string();
    assert!(
        err.starts_with("--cache-features") && err.contains("--freeze features"),
        "{err}"
    );
    let lr_features = TrainOptions {
        lr_features: 0.1,
        ..cached(&source, "cached-lr-features")
    };
    let err = run(&ctx, &lr_features, None).0.unwrap_err().to_string();
    assert!(err.starts_with("--lr-features"), "{err}");
}

/// 1.1 million images of 2 views of pool1's output (4×16×16 floats) would take 8.4 GiB:
/// refused before any image is read, naming the cost and the fix.
#[test]
fn a_cache_over_its_bound_is_refused_before_any_work() {
    let (source, _) = pretrained_source("cached-bound-source");
    let opts = TrainOptions {
        data: DataSource::Builtin {
            train: 1_100_000,
            val: 10,
            size: 32,
        },
        freeze: Freeze::Layers(1),
        ..cached(&source, "cached-bound")
    };
    let (outcome, losses) = run(&gpu(), &opts, None);
    let err = outcome.unwrap_err().to_string();
    assert!(
        err.contains("1100000 images × 2 views × 1024 floats")
            && err.contains("over the cache's bound of 8192 MiB")
            && err.contains("leave out --cache-features"),
        "{err}"
    );
    assert!(losses.is_empty());
    assert!(!opts.out.join("metrics.jsonl").exists(), "nothing written");
}

/// The 4 unreadable images among 40 are left out of the cached features (36 make 4
/// steps of 8) and named once in the run, also across a resume.
#[test]
fn unreadable_images_are_left_out_of_cached_features_and_named_once() {
    let ctx = gpu();
    let data = out_dir("cached-unreadable-data");
    let broken = unreadable_folder::write(&data);
    let (source, _) = pretrained_source("cached-unreadable-source");
    let opts = TrainOptions {
        data: DataSource::Path(data.clone()),
        ..cached(&source, "cached-unreadable")
    };
    let (outcome, first, first_notes) = run_noting(std::slice::from_ref(&ctx), &opts, Some(2));
    assert!(matches!(outcome.unwrap(), Outcome::Interrupted(_)));
    let resumed = TrainOptions {
        resume: true,
        ..opts.clone()
    };
    let (outcome, rest, rest_notes) = run_noting(std::slice::from_ref(&ctx), &resumed, None);
    outcome.unwrap();
    assert_eq!(first.len() + rest.len(), 2 * 4);
    let notes = [first_notes, rest_notes].concat();
    for path in &broken {
        let shown = path.display().to_string();
        let listed: Vec<&String> = notes.iter().filter(|n| n.contains(&shown)).collect();
        assert_eq!(listed.len(), 1, "{shown} in {notes:#?}");
        assert!(
            listed[0].contains("left out of the cached features"),
            "{listed:?}"
        );
    }
    assert!(
        notes
            .iter()
            .any(|n| n.contains("36 training images × 2 views")),
        "{notes:#?}"
    );
    let _ = std::fs::remove_dir_all(&data);
}

/// `base` trained on one batch of 16 built-in images for 15 epochs at rate `lr`, without
/// dropout, scale jitter or a schedule: what a working loop must learn.
fn one_batch_again(lr: f32, base: TrainOptions) -> TrainOptions {
    TrainOptions {
        data: DataSource::Builtin {
            train: 16,
            val: 8,
            size: 32,
        },
        epochs: 15,
        batch: 16,
        accumulate: 1,
        lr: Some(lr),
        dropout: 0.0,
        patience: 100,
        scale: (32, 32),
        ..base
    }
}

/// The mean of the last three steps' losses is under 3/4 of the first three's (single
/// steps are noisy).
fn assert_loss_falls(losses: &[f64]) {
    println!("losses: {losses:?}");
    let mean = |l: &[f64]| l.iter().sum::<f64>() / l.len() as f64;
    let (first, last) = (mean(&losses[..3]), mean(&losses[losses.len() - 3..]));
    assert!(
        last < 0.75 * first,
        "loss went from {first} to {last} (means of 3 steps)"
    );
}
