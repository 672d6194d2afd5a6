//! `vgg-wgpu plot`: see tests/cli/main.rs. The pictures are read as XML: each series
//! is a group that names its run and metric.

use std::path::Path;

use serde_json::json;

use super::{scratch, stderr, vgg_wgpu, vgg_wgpu_in};

/// A run's metrics.jsonl as `train` writes it: `epochs` epochs of 10 steps of `batch`
/// images, the rate divided after the first; the loss falls, or grows tenfold when
/// `diverging`.
fn write_run(dir: &Path, batch: u64, epochs: u64, diverging: bool) {
    let steps = 10;
    let loss = |step: u64| match diverging {
        true => 0.5 * (1.0 + 9.0 * step as f64 / (epochs * steps) as f64),
        false => 2.0 / (1.0 + step as f64 / 5.0),
    };
    let mut lines = Vec::new();
    for epoch in 0..epochs {
        let lr = if epoch == 0 { 0.01 } else { 0.001 };
        for step in epoch * steps + 1..=(epoch + 1) * steps {
            let record = json!({"kind": "step", "epoch": epoch, "step": step,
                "images": step * batch, "loss": loss(step), "top1_err": 0.5, "lr": lr,
                "images_per_s": 100.0 + step as f64, "exchange_bytes": 0, "exchange_seconds": 0.0});
            lines.push(record.to_string());
        }
        let step = (epoch + 1) * steps;
        let record = json!({"kind": "epoch", "epoch": epoch + 1, "step": step,
            "images": step * batch, "loss": loss(step), "lr": lr, "images_per_s": 100.0,
            "train_top1_err": 0.5, "val_loss": loss(step) * 1.2, "val_top1_err": 0.4,
            "val_top5_err": 0.2, "seconds": 1.0});
        lines.push(record.to_string());
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("metrics.jsonl"), lines.join("\n") + "\n").unwrap();
}

/// The (run, metric) of every series group in the picture at `path`, sorted; it must
/// parse as XML with an `svg` root.
fn series_in(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let svg = roxmltree::Document::parse(&text).expect("the picture is XML");
    assert_eq!(svg.root_element().tag_name().name(), "svg");
    let mut series: Vec<(String, String)> = svg
        .descendants()
        .filter(|node| node.attribute("class") == Some("series"))
        .map(|node| {
            let attribute = |name| node.attribute(name).unwrap_or_default().to_string();
            (attribute("data-run"), attribute("data-metric"))
        })
        .collect();
    series.sort();
    series
}

fn expected(runs: &[&str], metrics: &[&str]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = runs
        .iter()
        .flat_map(|run| metrics.iter().map(|m| (run.to_string(), m.to_string())))
        .collect();
    pairs.sort();
    pairs
}

/// Runs of different batch sizes and lengths, one diverging with a null value and a
/// line cut short: each run gets every metric once, named by the shortest distinct
/// end of its path; what was left out is said; no GPU adapter is opened (an adapter
/// that does not exist is asked for).
#[test]
fn plot_draws_one_series_per_run_and_metric_without_a_gpu() {
    let dir = scratch("plot-runs");
    write_run(&dir.join("sweep/a/run"), 32, 3, false);
    write_run(&dir.join("sweep/b/run"), 64, 2, true);
    write_run(&dir.join("frozen"), 32, 1, false);
    let log = dir.join("sweep/b/run/metrics.jsonl");
    let text =
        std::fs::read_to_string(&log)
            .unwrap()
            .replacen("\"loss\":", "\"loss\":null,\"x\":", 1);
    std::fs::write(&log, text + "{\"kind\":\"st").unwrap();

    let out = dir.join("runs.svg");
    let runs = ["sweep/a/run", "sweep/b/run", "frozen"].map(|r| dir.join(r));
    let runs: Vec<&str> = runs.iter().map(|r| r.to_str().unwrap()).collect();
    let mut args = vec!["--adapter", "no-such-adapter", "plot"];
    args.extend(&runs);
    args.extend(["--out", out.to_str().unwrap()]);
    let output = vgg_wgpu(&args);
    let message = stderr(&output);
    assert!(output.status.success(), "{message}");
    assert!(!message.contains("adapter"), "plot opened a GPU: {message}");
    assert!(
        message.contains("not whole records") && message.contains("null"),
        "the cut line and the null value are said: {message}"
    );
    let default_metrics = [
        "loss",
        "val_loss",
        "val_top1_err",
        "val_top5_err",
        "images_per_s",
    ];
    assert_eq!(
        series_in(&out),
        expected(&["a/run", "b/run", "frozen"], &default_metrics)
    );

    let chosen = [
        "--metric",
        "val_top5_err",
        "--metric",
        "loss",
        "--x",
        "epochs",
    ];
    args.extend(chosen);
    let output = vgg_wgpu(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        series_in(&out),
        expected(&["a/run", "b/run", "frozen"], &["loss", "val_top5_err"])
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains("panel-timing"),
        "no speed panel unless asked for"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without --out the picture is curves.svg in the current folder, and says so.
#[test]
fn plot_writes_curves_svg_here_unless_told_and_says_so() {
    let dir = scratch("plot-default-out");
    write_run(&dir.join("run"), 8, 2, false);
    let output = vgg_wgpu_in(&dir, &["plot", "run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("wrote curves.svg"), "{said}");
    let metrics = [
        "loss",
        "val_loss",
        "val_top1_err",
        "val_top5_err",
        "images_per_s",
    ];
    assert_eq!(
        series_in(&dir.join("curves.svg")),
        expected(&[""], &metrics)
    );
    let help = String::from_utf8_lossy(&vgg_wgpu(&["plot", "--help"]).stdout).into_owned();
    assert!(help.contains("[default: curves.svg]"), "{help}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each mistake is refused with what to do instead, and nothing a user gave is
/// written over.
#[test]
fn plot_refuses_what_it_cannot_draw_with_the_way_on() {
    let dir = scratch("plot-refusals");
    write_run(&dir.join("run"), 8, 2, false);
    let run = dir.join("run");
    let log = run.join("metrics.jsonl");
    let model = run.join("model.safetensors");
    std::fs::write(&model, b"weights").unwrap();
    let before = std::fs::read(&log).unwrap();
    let (run, log_text, model_text) = (
        run.to_str().unwrap(),
        log.to_str().unwrap(),
        model.to_str().unwrap(),
    );
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let old = dir.join("old");
    write_run(&old, 8, 2, false);
    let old_log = old.join("metrics.jsonl");
    let without_images = std::fs::read_to_string(&old_log).unwrap();
    let without_images: Vec<String> = without_images
        .lines()
        .map(|line| {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            record.as_object_mut().unwrap().remove("images");
            record.to_string()
        })
        .collect();
    std::fs::write(&old_log, without_images.join("\n")).unwrap();
    let (empty, old) = (empty.to_str().unwrap(), old.to_str().unwrap());
    let out = dir.join("out.svg");
    let out = out.to_str().unwrap();

    for (args, exit_code, said) in [
        (
            vec!["plot", run, "--metric", "val_acc"],
            2,
            "unknown metric 'val_acc'; known: loss, val_loss, train_top1_err",
        ),
        (
            vec!["plot", run, "--out", log_text],
            1,
            "is one of the runs' logs",
        ),
        (
            vec!["plot", run, "--out", model_text],
            1,
            "not an .svg file name",
        ),
        (
            vec!["plot", run, empty, "--out", out],
            1,
            "holds no metrics.jsonl",
        ),
        (vec!["plot", run, log_text, "--out", out], 1, "given twice"),
        (vec!["plot", old, "--out", out], 1, "--x epochs"),
        (vec!["plot", "--out", out], 2, "<RUN>"),
    ] {
        let output = vgg_wgpu(&args);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(exit_code), "{args:?}: {message}");
        assert!(message.contains(said), "{args:?}: {message}");
    }
    assert_eq!(std::fs::read(&log).unwrap(), before, "the log is untouched");
    assert_eq!(std::fs::read(&model).unwrap(), b"weights");
    assert!(
        !Path::new(out).exists(),
        "no picture from a refused command"
    );

    let output = vgg_wgpu(&["plot", old, "--x", "epochs", "--out", out]);
    assert!(
        output.status.success(),
        "an old log on epochs: {}",
        stderr(&output)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
