//! Each run of a picture named by the shortest end of its path that no other run's
//! path ends with: `sweep/a/run` and `sweep/b/run` become `a/run` and `b/run`.

use std::path::{Component, Path, PathBuf};

pub fn distinct_names(runs: &[PathBuf]) -> Vec<String> {
    let parts: Vec<Vec<String>> = runs.iter().map(|run| parts_of(run)).collect();
    // The last `k` parts of a path, or all of them when it has fewer.
    let end = |parts: &[String], k: usize| parts[parts.len().saturating_sub(k)..].to_vec();
    parts
        .iter()
        .enumerate()
        .map(|(i, mine)| {
            let distinct = |k: &usize| {
                parts
                    .iter()
                    .enumerate()
                    .all(|(j, theirs)| j == i || end(theirs, *k) != end(mine, *k))
            };
            let k = (1..=mine.len()).find(distinct).unwrap_or(mine.len());
            match k {
                0 => runs[i].display().to_string(),
                _ => end(mine, k).join("/"),
            }
        })
        .collect()
}

/// The path's named parts, without `.` and without the log's own file name (a run is
/// its folder, whether the folder or its `metrics.jsonl` was given).
fn parts_of(run: &Path) -> Vec<String> {
    let mut parts: Vec<String> = run
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    if parts.len() > 1 && parts.last().is_some_and(|name| name == "metrics.jsonl") {
        parts.pop();
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(paths: &[&str]) -> Vec<String> {
        distinct_names(&paths.iter().map(PathBuf::from).collect::<Vec<_>>())
    }

    #[test]
    fn the_shortest_distinct_end_names_each_run() {
        assert_eq!(
            names(&[
                "runs/scratch",
                "runs/fine-tuned/",
                "./runs/frozen/metrics.jsonl"
            ]),
            ["scratch", "fine-tuned", "frozen"]
        );
        assert_eq!(
            names(&["sweep/a/run", "sweep/b/run", "c"]),
            ["a/run", "b/run", "c"]
        );
        assert_eq!(
            names(&["run", "x/run"]),
            ["run", "x/run"],
            "a whole path is a name"
        );
        assert_eq!(names(&["one"]), ["one"]);
    }
}
