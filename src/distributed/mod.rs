//! Data-parallel training across processes: the MPI layer.
//!
//! `mpirun -np N vgg-wgpu train --distributed ...` starts N processes (ranks). Each
//! holds a full replica of the network and its own shard of every batch; after
//! backward the gradients are summed over ranks on the host, in buckets, so every
//! rank applies the same update. Rank 0 alone writes checkpoints, metrics and
//! progress.
//!
//! `MpiWorld` (feature `mpi`, native only) is the whole interface to MPI: rank and
//! size, an all-reduce sum of `f32`s, a check that all ranks agree on a
//! configuration, a byte broadcast and a barrier. Every collective takes a timeout
//! and is polled against it, so a peer that hangs yields
//! [`Error::Distributed`](crate::Error::Distributed) instead of a job that waits
//! forever.
//!
//! What this module holds without the feature is the plain logic those calls share
//! (naming the first difference between configurations, the timeout message), so
//! that it is tested by the default `cargo test --lib`.

use std::time::Duration;

#[cfg(all(feature = "mpi", not(target_arch = "wasm32")))]
mod collective;
#[cfg(all(feature = "mpi", not(target_arch = "wasm32")))]
mod mpi;
#[cfg(all(feature = "mpi", not(target_arch = "wasm32")))]
pub use self::{collective::MpiCollective, mpi::MpiWorld};

/// The error of a collective that did not finish within `timeout` on `rank`.
/// `operation` names it for the user ("gradient exchange", "barrier", ...).
pub fn timeout_message(rank: usize, operation: &str, timeout: Duration) -> String {
    format!(
        "rank {rank}: {operation} timed out after {}: another rank died or hung; the last checkpoint is intact",
        format_duration(timeout)
    )
}

/// `3s`, `2.5s`, `250ms`.
fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Compares the descriptions every rank gave (index = rank) against rank 0's. `None`
/// when all are equal; otherwise a message naming the first difference between
/// rank 0 and the lowest rank that differs, and every rank that differs, e.g.
/// "ranks started with different configurations: rank 0 has `lr=0.01`, rank 1 has
/// `lr=0.02`".
///
/// `what` is a plural noun for the message ("configurations", "weights"). The
/// difference is shown as the field around the first differing character: the text
/// between the nearest separators (whitespace, `,` `;` `{` `}` `[` `]`) on either
/// side, on the first line that differs.
pub fn describe_disagreement(what: &str, descriptions: &[String]) -> Option<String> {
    let reference = descriptions.first()?;
    let differing: Vec<usize> = (1..descriptions.len())
        .filter(|&r| descriptions[r] != *reference)
        .collect();
    let &first = differing.first()?;
    let (ours, theirs) = first_difference(reference, &descriptions[first]);
    let mut message = format!(
        "ranks started with different {what}: rank 0 has {ours}, rank {first} has {theirs}"
    );
    if differing.len() > 1 {
        let list: Vec<String> = differing.iter().map(|r| r.to_string()).collect();
        message.push_str(&format!(
            " (ranks {} all differ from rank 0)",
            list.join(", ")
        ));
    }
    Some(message)
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ';' | '{' | '}' | '[' | ']')
}

/// The fields of `a` and `b` where they first differ, each quoted in backticks, or
/// `(nothing)` where one has no field there.
fn first_difference(a: &str, b: &str) -> (String, String) {
    // The byte offset of the first differing char (a char boundary in both, as they
    // agree before it).
    let start = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, ca), cb)| ca != cb)
        .map(|((i, _), _)| i)
        .unwrap_or_else(|| a.len().min(b.len()));
    let field_end = |s: &str| s.find(is_separator).unwrap_or(s.len());
    let quote = |text: &str| {
        if text.is_empty() {
            "(nothing)".to_string()
        } else {
            format!("`{}`", shorten(text))
        }
    };
    let at_boundary = |s: &str| s[start..].chars().next().is_none_or(is_separator);
    let (ours, theirs) = if at_boundary(a) && at_boundary(b) {
        // Both end a field here (e.g. one description has an extra field): show the
        // fields that follow.
        let next = |s: &str| {
            let rest = s[start..].trim_start_matches(is_separator);
            quote(&rest[..field_end(rest)])
        };
        (next(a), next(b))
    } else {
        // The field around the difference: it starts at the same offset in both.
        let field_start = a[..start]
            .char_indices()
            .rev()
            .find(|&(_, c)| is_separator(c))
            .map(|(i, c)| i + c.len_utf8())
            .unwrap_or(0);
        let around = |s: &str| {
            let rest = &s[field_start..];
            quote(&rest[..field_end(rest)])
        };
        (around(a), around(b))
    };
    if ours != theirs {
        return (ours, theirs);
    }
    // Only the separators differ: show the raw text from a little before the
    // difference.
    let from = a[..start]
        .char_indices()
        .rev()
        .nth(15)
        .map_or(0, |(i, _)| i);
    (quote(&a[from..]), quote(&b[from..]))
}

/// Long fields (a serialized array, a hash) cut to a readable length.
fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn equal_descriptions_agree() {
        let d = strings(&["lr=0.01 batch=32"; 3]);
        assert_eq!(describe_disagreement("configurations", &d), None);
        assert_eq!(describe_disagreement("configurations", &[]), None);
    }

    #[test]
    fn names_the_differing_field_and_ranks() {
        let d = strings(&["batch=32 lr=0.01 wd=5e-4", "batch=32 lr=0.02 wd=5e-4"]);
        assert_eq!(
            describe_disagreement("configurations", &d).unwrap(),
            "ranks started with different configurations: rank 0 has `lr=0.01`, rank 1 has `lr=0.02`"
        );
        let d = strings(&["a=1\nb=2", "a=1\nb=2", "a=1\nb=3", "a=9\nb=2"]);
        assert_eq!(
            describe_disagreement("configurations", &d).unwrap(),
            "ranks started with different configurations: rank 0 has `b=2`, rank 2 has `b=3` (ranks 2, 3 all differ from rank 0)"
        );
    }

    #[test]
    fn json_fields() {
        let d = strings(&[
            r#"{"model":"vgg11","lr":0.01,"epochs":74}"#,
            r#"{"model":"vgg16","lr":0.01,"epochs":74}"#,
        ]);
        assert_eq!(
            describe_disagreement("configurations", &d).unwrap(),
            r#"ranks started with different configurations: rank 0 has `"model":"vgg11"`, rank 1 has `"model":"vgg16"`"#
        );
    }

    #[test]
    fn one_description_longer() {
        let d = strings(&["lr=0.01", "lr=0.01 seed=3"]);
        assert_eq!(
            describe_disagreement("configurations", &d).unwrap(),
            "ranks started with different configurations: rank 0 has (nothing), rank 1 has `seed=3`"
        );
        let d = strings(&["lr=0.01", "lr=0.011"]);
        assert_eq!(
            describe_disagreement("configurations", &d).unwrap(),
            "ranks started with different configurations: rank 0 has `lr=0.01`, rank 1 has `lr=0.011`"
        );
    }

    #[test]
    fn only_separators_differ() {
        let d = strings(&["x=1, y=2", "x=1; y=2"]);
        assert_eq!(
            describe_disagreement("configurations", &d).unwrap(),
            "ranks started with different configurations: rank 0 has `x=1, y=2`, rank 1 has `x=1; y=2`"
        );
    }

    #[test]
    fn multibyte_text() {
        let d = strings(&["name=Größe x=1", "name=Größe x=2"]);
        assert_eq!(
            describe_disagreement("configurations", &d).unwrap(),
            "ranks started with different configurations: rank 0 has `x=1`, rank 1 has `x=2`"
        );
    }

    #[test]
    fn timeout_messages() {
        assert_eq!(
            timeout_message(1, "gradient exchange", Duration::from_secs(3)),
            "rank 1: gradient exchange timed out after 3s: another rank died or hung; the last checkpoint is intact"
        );
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }
}
