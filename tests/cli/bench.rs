//! `vgg-wgpu bench`: see tests/cli/main.rs. The measurements run on a tiny network
//! (VGG-A with widths ÷8 at 32×32) with `--min-seconds 0`, so each is timed once.

use serde_json::Value;

use super::{stderr, vgg_wgpu};

/// `bench TARGET` on the tiny network, quickly, with `extra` arguments after.
fn bench_tiny(target: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "bench",
        target,
        "--config",
        "A",
        "--width-divisor",
        "8",
        "--size",
        "32",
        "--classes",
        "10",
        "--batch",
        "2",
        "--no-cpu-reference",
    ];
    args.extend_from_slice(extra);
    vgg_wgpu(&args)
}

/// Each line of standard output as a JSON object.
fn json_lines(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("not a line of JSON ({e}): {line}"))
        })
        .collect()
}

#[test]
fn min_seconds_outside_its_range_is_a_usage_error_naming_the_value_and_the_range() {
    for value in ["nan", "-1", "inf", "1e30", "-inf", "soon"] {
        let joined = format!("--min-seconds={value}");
        for args in [vec!["--min-seconds", value], vec![joined.as_str()]] {
            let output = bench_tiny("kernels", &args);
            let message = stderr(&output);
            assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
            assert!(
                message.contains(&format!("'{value}'")) && message.contains("from 0 to 86400"),
                "{args:?}: {message}"
            );
        }
    }
}

#[test]
fn an_unknown_pass_is_a_usage_error_listing_the_passes() {
    let output = bench_tiny("kernels", &["--pass", "foo", "--min-seconds", "0"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("'foo'"), "{message}");
    for pass in ["forward", "data", "weight"] {
        assert!(message.contains(pass), "{message}");
    }
}

#[test]
fn the_kernels_table_names_the_network_it_measured() {
    let output = bench_tiny("kernels", &["--pass", "forward", "--min-seconds", "0"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("VGG-A (widths ÷8) conv layers, batch 2, input 32×32"),
        "{stdout}"
    );
    assert!(!stdout.contains("VGG-16"), "{stdout}");
    // One row per distinct conv layer (VGG-A's last two are alike), and only the pass
    // asked for.
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("conv")).collect();
    assert_eq!(rows.len(), 7, "{stdout}");
    assert!(rows.iter().all(|r| r.contains(" forward ")), "{stdout}");
}

#[test]
fn kernels_json_is_one_object_per_layer_and_pass() {
    let output = bench_tiny("kernels", &["--json", "--min-seconds", "0"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = json_lines(&output);
    assert_eq!(rows.len(), 7 * 3);
    for row in &rows {
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        for key in [
            "layer",
            "pass",
            "gflop",
            "seconds",
            "gflop_per_s",
            "ratio_to_numpy",
            "ratio_to_adapter_peak",
        ] {
            assert!(keys.contains(&key), "{row}");
        }
        assert!(
            row["gflop_per_s"].as_f64().is_some_and(|g| g > 0.0),
            "{row}"
        );
        assert!(row["ratio_to_numpy"].is_null(), "{row}");
    }
    let passes: Vec<&str> = rows[..3]
        .iter()
        .map(|r| r["pass"].as_str().unwrap())
        .collect();
    assert_eq!(passes, ["forward", "backward data", "backward weight"]);
    assert_eq!(rows[0]["layer"], "conv3-8 3→8 @32");
}

/// Dense evaluation at the training size is inference with FC1 on one position: the
/// dense plan's FLOPs must then be the network's.
#[test]
fn step_json_counts_dense_evaluation_flops_from_the_plan() {
    let output = bench_tiny("step", &["--json", "--min-seconds", "0"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = json_lines(&output);
    let passes: Vec<&str> = rows.iter().map(|r| r["pass"].as_str().unwrap()).collect();
    assert_eq!(
        passes,
        [
            "training step",
            "step, frozen features",
            "inference",
            "dense eval"
        ]
    );
    let gflop =
        |row: &Value| row["gflop_per_s"].as_f64().unwrap() * row["seconds"].as_f64().unwrap();
    let [step, frozen, inference, dense] = [0, 1, 2, 3].map(|i| gflop(&rows[i]));
    assert!(
        (dense / inference - 1.0).abs() < 0.02,
        "{inference} vs {dense}"
    );
    // A frozen step is the forward pass plus the FC layers' backward: more than
    // inference, far less than a whole step (the convs are nearly all of the work).
    assert!(
        inference < frozen && frozen < 0.5 * step,
        "{inference} {frozen} {step}"
    );
    for row in &rows {
        assert_eq!(row["config"], "A");
        assert_eq!(row["batch"], 2);
        assert!(row["pytorch_cpu_images_per_s"].is_null(), "{row}");
    }
}

#[test]
fn a_layer_filter_that_matches_nothing_is_refused_listing_the_layers() {
    let output = bench_tiny("kernels", &["--layer", "nomatch", "--min-seconds", "0"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("'nomatch'"), "{message}");
    assert!(
        message.contains("conv3-"),
        "the layers are listed: {message}"
    );
    assert!(output.stdout.is_empty(), "no empty table");
}

/// DIR/{train,val}/{a,b}/*.jpg: a few small JPEGs, four of each class for training.
fn tiny_jpeg_folder(name: &str) -> std::path::PathBuf {
    let root = super::scratch(name);
    for (split, count) in [("train", 4u32), ("val", 1)] {
        for (c, class) in ["a", "b"].into_iter().enumerate() {
            let folder = root.join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            for i in 0..count {
                let image = image::RgbImage::from_fn(40, 30, |x, y| {
                    image::Rgb([(x * 6) as u8, (y * 8) as u8, (c as u32 * 200 + i * 9) as u8])
                });
                image.save(folder.join(format!("{i}.jpg"))).unwrap();
            }
        }
    }
    root
}

#[test]
fn the_loader_table_has_a_row_of_positive_rates_for_each_worker_count() {
    let data = tiny_jpeg_folder("bench-loader");
    let args = [
        "bench",
        "loader",
        "--data",
        data.to_str().unwrap(),
        "--crop",
        "16",
        "--scale",
        "20:24",
        "--batch",
        "2",
        "--workers",
        "0,1,2",
        "--min-seconds",
        "0",
    ];
    let output = vgg_wgpu(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2 + 3, "{stdout}");
    assert!(
        lines[0].contains("(8 images), S in [20, 24], crop 16, batch 2"),
        "{stdout}"
    );
    let columns = "workers  cores used  images  seconds  images/s  images/s per core";
    assert_eq!(lines[1], columns, "{stdout}");
    for (row, workers) in lines[2..].iter().zip([0.0, 1.0, 2.0]) {
        let numbers: Vec<f64> = row
            .split_whitespace()
            .map(|n| {
                n.parse()
                    .unwrap_or_else(|_| panic!("not a number in: {row}"))
            })
            .collect();
        assert_eq!(numbers.len(), 6, "{row}");
        let (cores_used, images, per_s, per_core) =
            (numbers[1], numbers[2], numbers[4], numbers[5]);
        assert_eq!(numbers[0], workers, "{row}");
        assert!(
            (1.0..=f64::max(workers, 1.0)).contains(&cores_used),
            "{row}"
        );
        assert!(images >= 2.0 && images % 2.0 == 0.0, "whole batches: {row}");
        assert!(per_s > 0.0 && per_core > 0.0, "{row}");
        assert!(
            (per_core * cores_used - per_s).abs() <= 0.1 * cores_used,
            "{row}"
        );
    }
}

#[test]
fn the_loader_without_a_folder_asks_for_data() {
    let output = vgg_wgpu(&["bench", "loader", "--min-seconds", "0"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("--data DIR"), "{message}");
    assert!(
        !message.contains("adapter:"),
        "no adapter is opened: {message}"
    );
}

#[test]
fn the_loader_refuses_a_batch_larger_than_the_folder_before_printing_a_table() {
    let data = tiny_jpeg_folder("bench-loader-batch");
    let folder = data.to_str().unwrap();
    let args = ["bench", "loader", "--data", folder, "--batch", "9"];
    let output = vgg_wgpu(&args);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains("has 8 training images, no full batch of 9: lower --batch"),
        "{message}"
    );
    assert!(
        output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
