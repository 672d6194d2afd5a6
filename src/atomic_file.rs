//! Files written whole or not at all: the bytes go to a temporary file beside the
//! destination, are synced to disk, and the temporary file is renamed over the
//! destination. A reader, or a process killed mid-write, finds the old file or the new
//! one, never part of one. A write that fails (a full disk, a rename refused) removes
//! its temporary file, so a failure does not keep the disk full.

use std::fs::File;
use std::io::{Result, Write};
use std::path::{Path, PathBuf};

/// Where [`write`] puts the bytes before renaming: `path` with `.tmp` added.
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces `path` with `bytes` through [`temporary_path`].
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_via(&temporary_path(path), path, bytes)
}

/// As [`write`], through `temporary`: a name of the writer's own where several
/// processes may write `path` at once.
pub fn write_via(temporary: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    write_streamed_via(temporary, path, |file| file.write_all(bytes))
}

/// As [`write`], the bytes written by `fill` as it makes them: for files too large
/// to hold twice in memory.
pub fn write_streamed(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    write_streamed_via(&temporary_path(path), path, fill)
}

fn write_streamed_via(
    temporary: &Path,
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    // On failure to create there is nothing to remove.
    let mut file = std::io::BufWriter::new(File::create(temporary)?);
    let filled = fill(&mut file).and_then(|()| file.flush());
    let synced = filled.and_then(|()| file.get_ref().sync_all());
    drop(file); // closed before the rename: Windows renames no open file
    let written = synced.and_then(|()| std::fs::rename(temporary, path));
    if written.is_err() {
        // The write's own error is the one to report.
        let _ = std::fs::remove_file(temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("vgg-wgpu-atomic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_write_replaces_the_file_and_leaves_nothing_beside_it() {
        let dir = folder("replace");
        let path = dir.join("model.safetensors");
        write(&path, b"first").unwrap();
        write(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(names(&dir), ["model.safetensors"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The rename fails (the destination is a folder that is not empty): the error is
    /// returned, the temporary file is gone and the destination is as it was.
    #[test]
    fn a_failed_write_removes_its_temporary_file() {
        let dir = folder("fails");
        let path = dir.join("checkpoint.safetensors");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("kept"), b"kept").unwrap();
        assert_eq!(
            temporary_path(&path),
            dir.join("checkpoint.safetensors.tmp")
        );

        assert!(write(&path, &[0u8; 4096]).is_err());
        assert_eq!(names(&dir), ["checkpoint.safetensors"]);
        assert_eq!(std::fs::read(path.join("kept")).unwrap(), b"kept");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
