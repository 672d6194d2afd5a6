//! Files a user gives as input: read with a bound, and never written over.
//!
//! [`open`], [`read`] and [`read_to_string`] accept only a regular file (a symbolic
//! link to one is followed) of at most [`InputKind::cap`] bytes. A device such as
//! `/dev/zero` would otherwise be read without end, and a FIFO would block forever
//! (its type is checked before it is opened, since opening one waits for a writer).
//! The cap holds while reading too, so a file that grows after the check is caught.
//!
//! [`check_not_an_input`] refuses an output that is one of the inputs: the same file
//! reached by another path (`./`, `..`, a symbolic link) or by another name (a hard
//! link). Every command checks each file it would write, generated names included.

use std::fs::{File, Metadata};
use std::io::{self, Read, Take};
use std::path::Path;

use crate::error::{Error, Result};

/// What an input file holds, which sets how large it may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A JPEG or PNG image.
    Image,
    /// A safetensors weight file or training checkpoint.
    WeightFile,
    /// One of CIFAR-10's binary batch files.
    CifarBatch,
    /// A text file: class names, one per line, or the kernel tuning cache.
    Text,
    /// A training run's `metrics.jsonl`.
    MetricsLog,
    /// A training run's `features.cache`.
    FeatureCache,
}

const MIB: u64 = 1 << 20;

impl InputKind {
    /// The most bytes a file of this kind may hold: far above any real one, far below
    /// what would exhaust a machine's memory.
    pub const fn cap(self) -> u64 {
        match self {
            // A camera's photo is a few MiB; the decoder refuses more than 512 MiB of
            // pixels anyway.
            InputKind::Image => 256 * MIB,
            // VGG-19 with the SGD momenta of a checkpoint is 1.1 GiB in f32 at 224
            // pixels; FC1 grows with the input's area, and a checkpoint this program
            // wrote must always load again (at 512 pixels: 4.5 GiB).
            InputKind::WeightFile => 32 * 1024 * MIB,
            // Each batch is 10,000 records of 3,073 bytes.
            InputKind::CifarBatch => 64 * MIB,
            // ImageNet-21k's class names are 0.5 MiB.
            InputKind::Text => 16 * MIB,
            // A line of about 200 bytes per logged step: ImageNet's 90 epochs logged
            // at every step take 110 MiB.
            InputKind::MetricsLog => 1024 * MIB,
            // Its features are bounded; its header and labels take little more.
            InputKind::FeatureCache => crate::train::feature_cache::RUN_MAX_BYTES + 64 * MIB,
        }
    }

    /// What is accepted, for the messages.
    fn accepted(self) -> &'static str {
        match self {
            InputKind::Image => "a JPEG or PNG file",
            InputKind::WeightFile => "a .safetensors file",
            InputKind::CifarBatch => "a CIFAR-10 binary batch file",
            InputKind::Text => "a text file",
            InputKind::MetricsLog => "a training run's metrics.jsonl",
            InputKind::FeatureCache => "a training run's features.cache",
        }
    }
}

/// An open input file that fails with an error once more than its kind's cap has
/// been read.
pub struct CappedFile {
    file: Take<File>,
    kind: InputKind,
    read: u64,
}

impl Read for CappedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read += n as u64;
        if self.read > self.kind.cap() {
            return Err(too_large(self.kind));
        }
        Ok(n)
    }
}

/// `path` opened for reading, once it (or what a symbolic link leads to) is known to
/// be a regular file within `kind`'s cap. The error says what the file is and what is
/// accepted; the caller adds the path.
pub fn open(path: &Path, kind: InputKind) -> io::Result<CappedFile> {
    // Before opening: opening a FIFO blocks until something writes to it.
    check(&std::fs::metadata(path)?, kind)?;
    let file = File::open(path)?;
    // Again on what was opened, in case the path was replaced in between.
    check(&file.metadata()?, kind)?;
    Ok(CappedFile {
        file: file.take(kind.cap() + 1),
        kind,
        read: 0,
    })
}

/// The bytes of `path`, read through [`open`].
pub fn read(path: &Path, kind: InputKind) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open(path, kind)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The text of `path` (UTF-8), read through [`open`].
pub fn read_to_string(path: &Path, kind: InputKind) -> io::Result<String> {
    let mut text = String::new();
    open(path, kind)?.read_to_string(&mut text)?;
    Ok(text)
}

fn check(meta: &Metadata, kind: InputKind) -> io::Result<()> {
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is {}, not a regular file: give {} (or a symbolic link to one)",
                type_name(meta),
                kind.accepted()
            ),
        ));
    }
    if meta.len() > kind.cap() {
        return Err(too_large(kind));
    }
    Ok(())
}

fn too_large(kind: InputKind) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "it is larger than the {} MiB accepted for {}",
            kind.cap() / MIB,
            kind.accepted()
        ),
    )
}

/// What a file that is not a regular one is, in words.
fn type_name(meta: &Metadata) -> &'static str {
    if meta.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

/// Refuses to write `written` (a file `option` names, or a name made from it) when it
/// is one of `inputs`, each given with what it is (e.g. "--weights", "the image"): the
/// same file by any path, `./` and `..`, symbolic links and hard links included. A
/// file that does not exist yet is none of them, and the inputs are then not looked at.
pub fn check_not_an_input<P: AsRef<Path>>(
    written: &Path,
    option: &'static str,
    inputs: impl IntoIterator<Item = (P, &'static str)>,
) -> Result<()> {
    for (input, what) in inputs {
        let input = input.as_ref();
        if same_file(written, input) {
            return Err(Error::InvalidArgument {
                op: option,
                message: format!(
                    "would write {}, the same file as {what} {}, destroying that input: give {option} another file name",
                    written.display(),
                    input.display()
                ),
            });
        }
    }
    Ok(())
}

/// Whether `a` and `b` are one existing file, by whatever paths (see [`identity`]).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (identity(a), identity(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// What makes a file the same file whatever the path to it: its device and inode on
/// Unix (which also tells hard links apart from copies), its canonical path elsewhere.
/// None when it does not exist.
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path) -> Option<std::path::PathBuf> {
    std::fs::canonicalize(path).ok()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("vgg-wgpu-input-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_device_is_refused_before_anything_is_read() {
        let message = read(Path::new("/dev/zero"), InputKind::Image)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("a character device, not a regular file")
                && message.contains("give a JPEG or PNG file"),
            "{message}"
        );
        let folder = read(Path::new("/"), InputKind::WeightFile).unwrap_err();
        assert!(folder.to_string().contains("a folder"), "{folder}");
    }

    #[test]
    fn a_symbolic_link_to_a_regular_file_is_read() {
        let dir = scratch("link");
        std::fs::write(dir.join("real.txt"), "tench").unwrap();
        std::os::unix::fs::symlink(dir.join("real.txt"), dir.join("link.txt")).unwrap();
        let text = read_to_string(&dir.join("link.txt"), InputKind::Text).unwrap();
        assert_eq!(text, "tench");
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero.txt")).unwrap();
        assert!(read(&dir.join("zero.txt"), InputKind::Text).is_err());
    }

    /// A file within the cap when it was opened that grows past it while being read.
    #[test]
    fn a_file_that_grows_past_its_cap_while_read_is_refused() {
        let dir = scratch("grows");
        let path = dir.join("grows.txt");
        std::fs::write(&path, "short").unwrap();
        let mut file = open(&path, InputKind::Text).unwrap();
        std::fs::write(&path, vec![b'x'; InputKind::Text.cap() as usize + 10]).unwrap();
        let mut bytes = Vec::new();
        let e = file.read_to_end(&mut bytes).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge, "{e}");
        assert!(bytes.len() as u64 <= InputKind::Text.cap() + 1);
        assert!(e.to_string().contains("larger than the 16 MiB"), "{e}");
        let e = read(&path, InputKind::Text).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge, "{e}");
    }

    /// `features --weights m.safetensors --out m.safetensors` destroyed the model; so
    /// would any other path to it.
    #[test]
    fn an_output_that_is_an_input_by_any_path_is_refused() {
        let dir = scratch("same");
        let input = dir.join("in.png");
        std::fs::write(&input, "photo").unwrap();
        std::fs::hard_link(&input, dir.join("hard.png")).unwrap();
        std::os::unix::fs::symlink(&input, dir.join("soft.png")).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        let other = dir.join("other.png");
        std::fs::write(&other, "photo").unwrap();
        let inputs = [(&other, "--weights"), (&input, "the image")];
        for output in [
            input.clone(),
            dir.join(".").join("in.png"),
            dir.join("sub").join("..").join("in.png"),
            dir.join("hard.png"),
            dir.join("soft.png"),
        ] {
            let e = check_not_an_input(&output, "--out", inputs).unwrap_err();
            let want = format!(
                "--out: would write {}, the same file as the image {}, destroying that input: give --out another file name",
                output.display(),
                input.display()
            );
            assert_eq!(e.to_string(), want);
        }
        std::fs::write(dir.join("copy.png"), "photo").unwrap();
        for free in ["copy.png", "new.png"] {
            check_not_an_input(&dir.join(free), "--out", inputs).unwrap();
        }
    }
}
