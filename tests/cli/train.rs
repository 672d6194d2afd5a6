//! `vgg-wgpu train`: see tests/cli/main.rs.

use super::{stderr, vgg_wgpu};

/// Hyper-parameters that cannot train are refused while parsing, before any set-up,
/// with a message naming the option and the allowed range.
#[test]
fn hyper_parameters_out_of_range_are_refused_at_parse_time() {
    for (option, value, expected) in [
        ("--lr", "-1", "positive finite"),
        ("--lr", "nan", "positive finite"),
        ("--lr", "0", "positive finite"),
        ("--momentum", "nan", "below 1"),
        ("--momentum", "1", "below 1"),
        ("--dropout", "1.5", "below 1"),
        ("--weight-decay", "-1e-4", "positive finite"),
        ("--accumulate", "0", "at least 1"),
        ("--checkpoint-every", "0", "at least 1"),
    ] {
        let output = vgg_wgpu(&[
            "train",
            option,
            value,
            "--out",
            "/nonexistent/never-written",
        ]);
        let message = stderr(&output);
        assert!(!output.status.success(), "{option} {value} accepted");
        assert!(
            message.contains(option) && message.contains(expected),
            "{option} {value}: {message}"
        );
        assert!(
            !message.contains("adapter:"),
            "{option} {value} was refused only after opening the GPU: {message}"
        );
    }
}
