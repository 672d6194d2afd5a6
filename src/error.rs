//! The one error type of the crate. Each variant names what was wrong and, where
//! there is one, the fix.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// `found` lists the adapters there are (the filter left them out); only when there
    /// are none does the message suggest installing a driver.
    #[error("{}", no_adapter_message(filter, found))]
    NoAdapter { filter: String, found: Vec<String> },

    #[error("could not open the GPU device on adapter '{adapter}': {reason}")]
    RequestDevice { adapter: String, reason: String },

    #[error("{op}: tensor '{tensor}' has shape {got:?}, expected {expected:?}")]
    Shape {
        op: &'static str,
        tensor: &'static str,
        expected: Vec<usize>,
        got: Vec<usize>,
    },

    #[error("{op}: {message}")]
    InvalidArgument { op: &'static str, message: String },

    #[error(
        "tensor '{label}': one row of {row_bytes} bytes exceeds the device's storage binding limit of {limit} bytes"
    )]
    RowTooLarge {
        label: String,
        row_bytes: u64,
        limit: u64,
    },

    #[error("weight file '{path}' {message}")]
    WeightFile { path: String, message: String },

    #[error("{path}: {message}")]
    Io { path: String, message: String },

    #[error("GPU readback failed: {0}")]
    Readback(String),

    /// A data set file or folder is missing or malformed. `message` says what and the fix.
    #[error("{}: {message}", path.display())]
    Data { path: PathBuf, message: String },

    /// One image could not be decoded and was skipped (the non-strict policy). The
    /// loader drops such samples from their batch and lists them in `Batch::skipped`.
    #[error("skipped {}: {message}", path.display())]
    BadImage { path: PathBuf, message: String },

    /// A background loader thread stopped without sending its batch.
    #[error("data loader: {0}")]
    Loader(String),

    /// Data-parallel training across processes (`crate::distributed`): MPI could not
    /// start, a collective timed out (a peer died or hung), or the ranks disagree.
    /// `message` names the rank(s) involved.
    #[error("{message}")]
    Distributed { message: String },
}

pub type Result<T> = std::result::Result<T, Error>;

fn no_adapter_message(filter: &str, found: &[String]) -> String {
    if found.is_empty() {
        return format!(
            "no GPU adapter found{filter}.\n  On Linux without a GPU, install Mesa's software Vulkan driver (lavapipe):\n      sudo apt-get install -y mesa-vulkan-drivers\n  then run `vgg-wgpu info` to see the adapters."
        );
    }
    let list: Vec<String> = found.iter().map(|a| format!("      {a}")).collect();
    format!(
        "no GPU adapter{filter}. The adapters found:\n{}\n  Choose one of these with --adapter (part of its name) and --backend, or give neither.",
        list.join("\n")
    )
}
