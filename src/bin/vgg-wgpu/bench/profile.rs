//! `vgg-wgpu bench step --profile`: each op's and each kernel's share of one training
//! step and of one dense pass, the median of a few profiled runs so that one slow
//! dispatch does not count.

use serde::Serialize;
use vgg_wgpu::graph::PlanProfile;
use vgg_wgpu::kernels::ProfileClock;
use vgg_wgpu::Result;

use super::report::{print_json, Rounded};

/// Profiled steps; the median of each part is reported.
const RUNS: usize = 5;

/// What a row of the profile names: an op of the step or a kernel (shader entry point).
#[derive(Serialize)]
enum Part {
    #[serde(rename = "profile_op")]
    Op(String),
    #[serde(rename = "profile_kernel")]
    Kernel(String),
}

/// A row as a JSON line: {"profile_op": name, ...} or {"profile_kernel": name, ...}.
#[derive(Serialize)]
struct ProfileRow {
    #[serde(flatten)]
    part: Part,
    seconds: Rounded<6>,
    share: Rounded<4>,
    clock: String,
}

/// Prints the profile of `what` ("one training step"), of `dispatches` launches, that
/// `run` measures.
pub fn print(
    what: &str,
    dispatches: usize,
    run: impl Fn() -> Result<PlanProfile>,
    json: bool,
) -> Result<()> {
    let runs = (0..RUNS)
        .map(|_| run())
        .collect::<Result<Vec<PlanProfile>>>()?;
    let clock = runs[0].clock;
    let clock_name = match clock {
        ProfileClock::Timestamps => "GPU timestamps",
        ProfileClock::WallClock => "wall clock per dispatch (no timestamp queries)",
    };
    let by_op = medians(&runs, |p| &p.per_op);
    let by_kernel = medians(&runs, |p| &p.per_kernel);
    let kinds = [
        ("op", Part::Op as fn(String) -> Part, by_op),
        ("kernel", Part::Kernel, by_kernel),
    ];
    for (kind, part, rows) in kinds {
        let total: f64 = rows.iter().map(|(_, t)| t).sum();
        if !json {
            println!("{what} by {kind} ({dispatches} dispatches; {clock_name}; median of {RUNS}):");
        }
        for (name, seconds) in &rows {
            if json {
                print_json(&ProfileRow {
                    part: part(name.clone()),
                    seconds: Rounded(*seconds),
                    share: Rounded(seconds / total),
                    clock: format!("{clock:?}"),
                })?;
            } else {
                println!(
                    "  {name:<34} {:8.3} ms {:5.1}%",
                    seconds * 1e3,
                    100.0 * seconds / total
                );
            }
        }
        if !json {
            println!("  {:<34} {:8.3} ms", "sum", total * 1e3);
        }
    }
    Ok(())
}

/// (name, median seconds) of each part `pick` lists, in the first run's order.
fn medians(
    runs: &[PlanProfile],
    pick: fn(&PlanProfile) -> &Vec<(String, f64)>,
) -> Vec<(String, f64)> {
    pick(&runs[0])
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let mut seconds: Vec<f64> = runs.iter().map(|r| pick(r)[i].1).collect();
            seconds.sort_by(f64::total_cmp);
            (name.clone(), seconds[seconds.len() / 2])
        })
        .collect()
}
