//! `vgg-wgpu plot`: the training curves of one run or several side by side, as the
//! SVG picture `train` keeps in its run folder. Reads logs only: opens no GPU.

use std::path::PathBuf;

use clap::Args;
use vgg_wgpu::plot::metric::Metric;
use vgg_wgpu::plot::plot_runs;
use vgg_wgpu::plot::series::XAxis;

#[derive(Args)]
pub struct PlotArgs {
    /// Training runs: the --out folders of `vgg-wgpu train`, or their metrics.jsonl.
    /// Each run gets a colour and is named by the shortest distinct end of its path.
    #[arg(required = true, value_name = "RUN")]
    runs: Vec<PathBuf>,
    /// The picture to write (SVG); never one of the runs' logs.
    #[arg(long, default_value = "curves.svg", value_name = "FILE")]
    out: PathBuf,
    /// Draw only this metric (repeat for more): loss, val_loss, train_top1_err,
    /// val_top1_err, val_top5_err, images_per_s [default: all but train_top1_err].
    #[arg(long = "metric", value_name = "NAME")]
    metrics: Vec<Metric>,
    /// The x-axis: images (images seen, which compares runs of different batch sizes)
    /// or epochs.
    #[arg(long, default_value = "images", value_name = "AXIS")]
    x: XAxis,
}

pub fn run(args: &PlotArgs) -> vgg_wgpu::Result<()> {
    let mut metrics: Vec<Metric> = Vec::new();
    for &metric in &args.metrics {
        if !metrics.contains(&metric) {
            metrics.push(metric);
        }
    }
    if metrics.is_empty() {
        metrics = Metric::DEFAULT.to_vec();
    }
    for note in plot_runs(&args.runs, &metrics, args.x, &args.out)? {
        eprintln!("note: {note}");
    }
    println!(
        "wrote {} ({} run(s); choose the file with --out)",
        args.out.display(),
        args.runs.len()
    );
    Ok(())
}
