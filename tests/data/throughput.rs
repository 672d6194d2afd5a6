//! How fast the loader feeds training. Run with
//! `cargo test --test data -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::Instant;

use vgg_wgpu::data::{
    ColourStats, Dataset, Loader, LoaderConfig, SyntheticDataset, TrainAugment, Transform,
};

#[test]
#[ignore = "a measurement, not a check: run with --ignored --nocapture"]
fn loader_throughput_synthetic_32px() {
    let train = SyntheticDataset::default_splits(0).train;
    let stats = ColourStats::estimate(&train, ColourStats::DEFAULT_SAMPLE).unwrap();
    let augment = TrainAugment::paper(&stats, 32, 40, 32).unwrap();
    let dataset: Arc<dyn Dataset> = Arc::new(train);
    println!(
        "colour stats: mean {:?}, eigenvalues {:?}",
        stats.mean, stats.eigenvalues
    );
    let start = Instant::now();
    for i in 0..dataset.len() {
        dataset.image(i).unwrap();
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "drawing alone, 1 thread: {:.0} images/s",
        dataset.len() as f64 / seconds
    );
    for workers in [0, 1, 2, 4] {
        let config = LoaderConfig {
            workers,
            ..LoaderConfig::train(128, 1)
        };
        let loader = Loader::new(dataset.clone(), Transform::Train(augment), config).unwrap();
        let start = Instant::now();
        let mut images = 0;
        for batch in loader.epoch(0, 0).unwrap() {
            images += batch.unwrap().len();
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "workers {workers}: {images} images (32 px, S in [32, 40], crop 32, flip, colour noise) in {seconds:.2} s = {:.0} images/s",
            images as f64 / seconds
        );
    }
}

/// Writes a grid of synthetic images, one row per class, for a person to look at.
#[test]
#[ignore = "writes a picture for a person: run with --ignored --nocapture"]
fn synthetic_contact_sheet() {
    let d = SyntheticDataset::new(0, vgg_wgpu::data::Split::Train, 200, 32).unwrap();
    let (cols, side) = (12u32, 34u32);
    let mut sheet = image::RgbImage::new(cols * side, 10 * side);
    for i in 0..(10 * cols) as usize {
        let (row, col) = (d.label(i), (i / 10) as u32);
        image::imageops::replace(
            &mut sheet,
            &d.image(i).unwrap(),
            (col * side) as i64,
            (row * side) as i64,
        );
    }
    let sheet = image::imageops::resize(
        &sheet,
        sheet.width() * 3,
        sheet.height() * 3,
        image::imageops::FilterType::Nearest,
    );
    let path = std::env::temp_dir().join("vgg-wgpu-synthetic-sheet.png");
    sheet.save(&path).unwrap();
    println!(
        "rows are classes {:?}; wrote {}",
        d.class_names(),
        path.display()
    );
}
