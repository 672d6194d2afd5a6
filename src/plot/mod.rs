//! Training curves as an SVG picture: `curves.svg`, which the trainer redraws in its
//! run folder at each epoch end, and `vgg-wgpu plot`, which draws several runs side by
//! side. The page draws its own chart; this is native only.
//!
//! - [`run_log`]: a run's `metrics.jsonl` read, bad lines left out and said.
//! - [`metric`]: what can be drawn, and in which panel.
//! - [`series`]: records placed on the x-axis (images seen or epochs), smoothed, thinned.
//! - [`curves`]: what one run brings to a picture; [`names`]: its name there.
//! - [`picture`]: the drawing.

pub mod curves;
pub mod metric;
pub mod names;
pub mod picture;
pub mod run_log;
pub mod series;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::train::run_folder::curves_path;
use curves::RunCurves;
use metric::Metric;
use run_log::RunLog;
use series::XAxis;

/// Draws the runs at `runs` (their folders or their logs) into the SVG file `out`;
/// returns what was left out of the logs, to be said. A lone run is not named in the
/// legend; several are, each by the shortest distinct end of its path.
pub fn plot_runs(
    runs: &[PathBuf],
    metrics: &[Metric],
    axis: XAxis,
    out: &Path,
) -> Result<Vec<String>> {
    let logs = runs
        .iter()
        .map(|run| RunLog::read(run))
        .collect::<Result<Vec<RunLog>>>()?;
    check_out(&logs, out)?;
    let names = match runs.len() {
        1 => vec![String::new()],
        _ => names::distinct_names(runs),
    };
    let curves = names
        .into_iter()
        .zip(&logs)
        .map(|(name, log)| RunCurves::of(name, log, metrics, axis))
        .collect::<Result<Vec<RunCurves>>>()?;
    write_atomically(out, &picture::draw(&curves, metrics, axis)?)?;
    Ok(logs.into_iter().flat_map(|log| log.notes).collect())
}

/// The run folder's `curves.svg`, drawn anew from its whole log.
pub fn redraw_run(folder: &Path) -> Result<()> {
    let run = [folder.to_path_buf()];
    plot_runs(&run, &Metric::DEFAULT, XAxis::Images, &curves_path(folder)).map(drop)
}

/// Refuses an `out` that is one of the logs read or not an SVG file name (a typo must
/// not replace a model), and a log given twice.
fn check_out(logs: &[RunLog], out: &Path) -> Result<()> {
    let refuse = |op, message: String| Error::InvalidArgument { op, message };
    let same = crate::input_file::same_file;
    for (i, log) in logs.iter().enumerate() {
        if same(&log.path, out) {
            return Err(refuse(
                "--out",
                format!(
                    "'{}' is one of the runs' logs; write the picture elsewhere",
                    out.display()
                ),
            ));
        }
        if logs[..i]
            .iter()
            .any(|earlier| same(&earlier.path, &log.path))
        {
            return Err(refuse(
                "plot",
                format!("the run of {} is given twice", log.path.display()),
            ));
        }
    }
    let svg = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    if !svg || out.is_dir() {
        return Err(refuse(
            "--out",
            format!(
                "'{}' is not an .svg file name: the picture is SVG",
                out.display()
            ),
        ));
    }
    Ok(())
}

/// Writes `text` through a file of this process's own beside `path`, then renamed over
/// it, so that a reader never sees half a picture; the partial file is removed when
/// writing fails (a full disk).
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let partial = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let written = std::fs::File::create(&partial)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())
                .and_then(|_| file.sync_all())
        })
        .and_then(|_| std::fs::rename(&partial, path));
    written.map_err(|source| {
        let _ = std::fs::remove_file(&partial);
        Error::Io {
            path: path.to_path_buf(),
            what: "cannot write the picture".into(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_that_cannot_be_written_leaves_no_partial_file() {
        let dir = std::env::temp_dir().join(format!("vgg-wgpu-plot-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A folder where the picture should go: the rename fails after the write.
        let path = dir.join("curves.svg");
        std::fs::create_dir_all(path.join("inside")).unwrap();
        let err = write_atomically(&path, "<svg/>").unwrap_err().to_string();
        assert!(err.contains("cannot write the picture"), "{err}");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["curves.svg"], "no partial file left");
        std::fs::remove_dir_all(&path).unwrap();
        write_atomically(&path, "<svg/>").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "<svg/>");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
