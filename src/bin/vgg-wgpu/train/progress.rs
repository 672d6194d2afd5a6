//! `train`'s progress bar and the lines above it, drawn from the training loop's events.

use indicatif::{ProgressBar, ProgressStyle};
use vgg_wgpu::data::Split;
use vgg_wgpu::terminal::printable;
use vgg_wgpu::train::init::Init;
use vgg_wgpu::train::options::TrainOptions;
use vgg_wgpu::train::trainer::Event;

/// A training epoch's bar.
const EPOCH_TEMPLATE: &str = "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}";
/// `--cache-features`: the frozen layers' output computed before training.
const CACHING_TEMPLATE: &str = "features of {prefix} images [{bar:30}] {pos}/{len} ETA {eta}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("valid template")
        .progress_chars("=> ")
}

/// Prints a line above the progress bar; plain output when the bar is hidden (no TTY).
fn say(bar: &ProgressBar, line: String) {
    bar.suspend(|| eprintln!("{line}"));
}

/// The progress bar and the lines above it, drawn from the loop's events.
pub(super) struct Progress<'a> {
    opts: &'a TrainOptions,
    pub(super) bar: ProgressBar,
    quiet: bool,
    epochs: usize,
}

impl<'a> Progress<'a> {
    pub(super) fn new(opts: &'a TrainOptions, quiet: bool) -> Progress<'a> {
        let bar = match quiet {
            true => ProgressBar::hidden(),
            false => ProgressBar::new(0),
        };
        bar.set_style(style(EPOCH_TEMPLATE));
        Progress {
            opts,
            bar,
            quiet,
            epochs: 0,
        }
    }

    pub(super) fn show(&mut self, event: Event) {
        let bar = &self.bar;
        match event {
            _ if self.quiet => {}
            Event::Started {
                steps_per_epoch,
                epochs,
                epoch,
                next_batch,
                parameters,
                train_images,
                val_images,
                lr,
            } => {
                self.epochs = epochs;
                bar.set_style(style(EPOCH_TEMPLATE));
                bar.reset();
                let o = self.opts;
                say(bar, format!(
                    "VGG-{} (widths ÷{}, input {}), {:.2} M parameters; {train_images} training / {val_images} validation images; \
                     {steps_per_epoch} steps of {} images per epoch; learning rate {lr:.0e}{}",
                    o.config, o.width_divisor, o.crop, parameters as f64 / 1e6, o.batch * o.accumulate,
                    default_lr_note(o)
                ));
                if epoch > 0 || next_batch > 0 {
                    say(
                        bar,
                        format!("resuming at epoch {}, step {}", epoch + 1, next_batch + 1),
                    );
                }
                bar.set_length(steps_per_epoch as u64);
                bar.set_position(next_batch as u64);
                bar.set_prefix(format!("{}/{epochs}", epoch + 1));
            }
            Event::Step {
                epoch,
                batch,
                loss,
                top1_err,
                lr,
                images_per_s,
                ..
            } => {
                bar.set_prefix(format!("{}/{}", epoch + 1, self.epochs));
                bar.set_position(batch as u64 + 1);
                bar.set_message(format!(
                    "loss {loss:.3} acc {:.1}% lr {lr:.0e} {} img/s",
                    100.0 * (1.0 - top1_err),
                    rate(images_per_s)
                ));
            }
            Event::Caching {
                split,
                images_done,
                images,
            } => caching(bar, split, images_done, images),
            Event::Validating { images, .. } => {
                bar.set_message(format!("validating on {images} images"))
            }
            Event::Epoch(r) => {
                say(bar, format!(
                    "epoch {:>3}: train loss {:.4} top-1 err {:5.2}% | val loss {:.4} top-1 err {:5.2}% top-5 err {:5.2}% | {} img/s, {:.0} s",
                    r.epoch,
                    r.loss,
                    100.0 * r.train_top1_err,
                    r.val_loss,
                    100.0 * r.val_top1_err,
                    100.0 * r.val_top5_err,
                    rate(r.images_per_s),
                    r.seconds
                ));
                bar.reset();
            }
            // Notes quote class and file names (skipped images, images per class).
            Event::Note(text) => say(bar, printable(&text).into_owned()),
        }
    }
}

/// The bar while `--cache-features` runs the frozen layers over `split`'s images.
fn caching(bar: &ProgressBar, split: Split, images_done: usize, images: usize) {
    if images_done == 0 {
        bar.reset();
        bar.set_style(style(CACHING_TEMPLATE));
        bar.set_length(images as u64);
        bar.set_prefix(match split {
            Split::Train => "training",
            Split::Val => "validation",
        });
    }
    bar.set_position(images_done as u64);
}

/// Why the learning rate is what it is when --lr was not given to a fresh run.
fn default_lr_note(o: &TrainOptions) -> String {
    match (o.lr, &o.init, o.resume) {
        (None, Init::Pretrained(_), false) => format!(
            " (fine-tuning's default, a tenth of the paper's {:.0e} from scratch; --lr to change)",
            TrainOptions::PAPER_LR
        ),
        _ => String::new(),
    }
}

/// Images per second, whole above 10 (the small nets' hundreds), else to two figures
/// (a full-size VGG on a CPU adapter takes seconds per image).
fn rate(images_per_s: f64) -> String {
    match images_per_s >= 10.0 {
        true => format!("{images_per_s:.0}"),
        false => format!("{images_per_s:.2}"),
    }
}
