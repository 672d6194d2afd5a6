//! The one error type of the crate. Each variant names what was wrong and, where
//! there is one, the fix; one that wraps an underlying error keeps it as its `source`.
//!
//! There is no "device lost" kind: no error of wgpu 30 says that the device was lost
//! (the failed buffer map that follows carries no cause), so a lost device arrives as
//! [`Error::Readback`].

use std::path::PathBuf;

use thiserror::Error;

use crate::terminal::printable;

#[derive(Debug, Error)]
pub enum Error {
    /// `found` lists the adapters there are (the filter left them out); only when there
    /// are none does the message suggest installing a driver.
    #[error("{}", no_adapter_message(filter, found))]
    NoAdapter { filter: String, found: Vec<String> },

    #[error("could not open the GPU device on adapter '{adapter}': {reason}")]
    RequestDevice { adapter: String, reason: String },

    /// A tensor, image or problem size does not fit the op: wrong rank or shape, an
    /// empty dimension, a kernel larger than its input, a batch of the wrong length.
    /// `message` names the tensor and what was expected.
    #[error("{op}: {message}")]
    Shape { op: &'static str, message: String },

    /// A value given by the user or the calling code (a command-line option, a model
    /// configuration, an op's parameter such as the LRN size) is out of its range or
    /// does not go with another one. `message` says what is accepted.
    #[error("{op}: {message}")]
    InvalidArgument { op: &'static str, message: String },

    /// The GPU could not allocate the buffers `what` needs (wgpu's out-of-memory error
    /// scope caught it, see [`crate::gpu::error_scope`]). `fix` says how to ask for less.
    #[error("{what} does not fit in the GPU's memory; {fix}")]
    OutOfMemory { what: String, fix: String },

    /// The GPU rejected work that the crate built (wgpu's validation error scope caught
    /// it): a bug, or a limit of the adapter that no check caught earlier.
    #[error("{op}: the GPU rejected {message}")]
    Gpu { op: &'static str, message: String },

    #[error(
        "tensor '{label}': one row of {row_bytes} bytes exceeds the device's storage binding limit of {limit} bytes"
    )]
    RowTooLarge {
        label: String,
        row_bytes: u64,
        limit: u64,
    },

    /// A weight file is malformed or does not fit the network (missing tensor, wrong
    /// shape, non-finite values). `message` says which tensor and the fix.
    #[error("weight file '{path}' {message}")]
    WeightFile { path: String, message: String },

    /// A weight file or checkpoint that its parser rejects: the safetensors container,
    /// or the JSON metadata inside it (also a file that cannot be serialised). `message`
    /// says what and the fix; `source` is the parser's error.
    #[error("weight file '{path}' {message}")]
    WeightFormat {
        path: String,
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Reading or writing a file failed. `what` says what was being done (and the fix,
    /// where there is one); `source` is the operating system's error.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// Encoding or writing an image (a heat map) failed; `source` is the image crate's
    /// error.
    #[error("{}: {what}: {source}", path.display())]
    Image {
        path: PathBuf,
        what: String,
        #[source]
        source: image::ImageError,
    },

    /// Writing a value as JSON failed; `source` is serde_json's error.
    #[error("{what}: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// Reading a GPU buffer back to the host failed: the map callback reported an
    /// error or was dropped, or waiting for the queue failed. wgpu 30 reports a lost
    /// device only this way (its map error carries no cause), so `what` says so.
    #[error("GPU readback failed: {what}")]
    Readback {
        what: &'static str,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// One replica of data-parallel training (`crate::graph::data_parallel`) failed on
    /// its device; `source` is what went wrong there.
    #[error("replica {replica} on {device}: {source}")]
    Replica {
        replica: usize,
        device: String,
        #[source]
        source: Box<Error>,
    },

    /// Training produced a non-finite loss or weights: `what` says which, at which step
    /// (counted from 1) and epoch, under which learning rate. The checkpoint in
    /// `checkpoint` is the last good one: the run stops before it is overwritten.
    #[error(
        "training diverged: {what} at step {step} (epoch {epoch}, learning rate {lr:e}). Lower --lr and start again; {} is left as it was",
        checkpoint.display()
    )]
    Diverged {
        what: String,
        step: u64,
        epoch: usize,
        lr: f32,
        checkpoint: PathBuf,
    },

    /// A data set file or folder is missing or malformed. `message` says what and the fix.
    #[error("{}: {message}", path.display())]
    Data { path: PathBuf, message: String },

    /// Training curves cannot be drawn (`crate::plot`): `what` is the run's metrics
    /// log (missing, empty, or without what the chosen axis needs) or the picture;
    /// `message` says what and the fix.
    #[error("{what}: {message}")]
    Plot { what: String, message: String },

    /// One image could not be decoded (the non-strict policy). The loader replaces it
    /// in a training batch, leaves it out of an evaluation batch, and lists it in
    /// `Batch::unreadable`.
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

impl Error {
    /// The message as printed for people: control characters from the names in it
    /// escaped ([`printable`]), line breaks included, except those of
    /// [`Error::NoAdapter`], the one message of several lines, which escapes its names
    /// itself.
    pub fn for_terminal(&self) -> String {
        match self {
            Error::NoAdapter { .. } => self.to_string(),
            e => printable(&e.to_string()).into_owned(),
        }
    }
}

/// The one message of several lines: printed as it is, so the names in it are escaped
/// here (see `crate::terminal`).
fn no_adapter_message(filter: &str, found: &[String]) -> String {
    let filter = printable(filter);
    if found.is_empty() {
        return format!(
            "no GPU adapter found{filter}.\n  On Linux without a GPU, install Mesa's software Vulkan driver (lavapipe):\n      sudo apt-get install -y mesa-vulkan-drivers\n  then run `vgg-wgpu info` to see the adapters."
        );
    }
    let list: Vec<String> = found
        .iter()
        .map(|a| format!("      {}", printable(a)))
        .collect();
    format!(
        "no GPU adapter{filter}. The adapters found:\n{}\n  Choose one of these with --adapter (part of its name) and --backend, or give neither.",
        list.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::Error;

    #[test]
    fn a_file_error_keeps_the_io_error_as_its_source() {
        let e = Error::Io {
            path: "weights.safetensors".into(),
            what: "the weight file cannot be read".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let source = e.source().expect("an I/O error has a source");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the source is the io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        assert!(e.to_string().contains("weights.safetensors"), "{e}");
    }

    /// A class folder named with ESC and a line break reached the terminal raw.
    #[test]
    fn printed_messages_escape_control_characters_but_keep_their_own_lines() {
        let e = Error::Data {
            path: "train/cat\x1b[2J\nerror: forged".into(),
            message: "class folder has no images".into(),
        };
        assert_eq!(
            e.for_terminal(),
            "train/cat\\x1b[2J\\x0aerror: forged: class folder has no images"
        );
        let e = Error::NoAdapter {
            filter: " matching 'gpu\x07'".into(),
            found: vec!["lavapipe\x1b]0;x".into()],
        };
        let shown = e.for_terminal();
        assert!(
            shown.contains("gpu\\x07") && shown.contains("lavapipe\\x1b]0;x"),
            "{shown}"
        );
        assert_eq!(shown.lines().count(), 3, "{shown}");
        assert!(
            !shown.contains('\x1b') && !shown.contains('\x07'),
            "{shown}"
        );
    }

    #[test]
    fn out_of_memory_names_the_fix() {
        let e = Error::OutOfMemory {
            what: "training plan: a micro-batch of 64 images".into(),
            fix: "use a smaller --batch with --accumulate".into(),
        };
        let message = e.to_string();
        assert!(
            message.contains("does not fit in the GPU's memory"),
            "{message}"
        );
        assert!(message.contains("use a smaller --batch"), "{message}");
    }
}
