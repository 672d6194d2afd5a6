//! A run folder's `features.cache` (`train --cache-features`): its training and
//! validation [`FeatureCache`]s with the key of what they were computed from, so that
//! `--resume` reads them back instead of running the frozen layers again, but only
//! while the key is the same.
//!
//! Layout: a line naming the format, the header's length (u64), the header (JSON: the
//! key, and how many examples each cache holds), then the training cache's examples and
//! the validation cache's, each its label (u32) and its views' features (f32), all
//! little-endian.

use std::io::{BufReader, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::feature_cache::FeatureCache;
use crate::error::{Error, Result};
use crate::input_file::{self, InputKind};

const MAGIC: &[u8] = b"vgg-wgpu feature cache 1\n";

/// What a cache was computed from. Hashes are 64-bit FNV-1a, in hex.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheKey {
    /// The frozen tensors' names, shapes and values, hashed.
    pub frozen_weights: String,
    /// The data: its source options and seed, and each split's class names, number of
    /// images and every label in order, hashed (not the pixels: a photo replaced by
    /// another of the same class goes unseen).
    pub data: String,
    /// The transform of every view before the frozen layers.
    pub transform: String,
    /// Views of each training image.
    pub views: usize,
    /// The features of one view: the frozen layers' output shape.
    pub shape: Vec<usize>,
}

impl CacheKey {
    /// What changed since `then`, in words; `None` when nothing did.
    pub fn change_since(&self, then: &CacheKey) -> Option<&'static str> {
        if self.shape != then.shape || self.views != then.views {
            Some("it was computed for other frozen layers")
        } else if self.frozen_weights != then.frozen_weights {
            Some("the frozen layers' weights changed")
        } else if self.data != then.data {
            Some("the images or their classes changed")
        } else if self.transform != then.transform {
            Some("the transform of the images (scale, crop or normalisation) changed")
        } else {
            None
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    key: CacheKey,
    train: usize,
    val: usize,
}

/// Writes `train` and `val` under `key` to `path`, atomically.
pub fn save(path: &Path, key: &CacheKey, train: &FeatureCache, val: &FeatureCache) -> Result<()> {
    let header = Header {
        key: key.clone(),
        train: train.len(),
        val: val.len(),
    };
    let header = serde_json::to_vec(&header).expect("the header serialises");
    crate::atomic_file::write_streamed(path, |file| {
        file.write_all(MAGIC)?;
        file.write_all(&(header.len() as u64).to_le_bytes())?;
        file.write_all(&header)?;
        for cache in [train, val] {
            write_examples(file, cache)?;
        }
        Ok(())
    })
    .map_err(|source| Error::Io {
        path: path.to_path_buf(),
        what: "cannot write the feature cache".into(),
        source,
    })
}

fn write_examples(file: &mut dyn Write, cache: &FeatureCache) -> std::io::Result<()> {
    for (example, label) in cache.labels().iter().enumerate() {
        file.write_all(&label.to_le_bytes())?;
        for view in 0..cache.views {
            let bytes: Vec<u8> = cache
                .view(example, view)
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            file.write_all(&bytes)?;
        }
    }
    Ok(())
}

/// The caches kept in `path` if they were computed for `key`, read into `train` and
/// `val` (empty caches of the shapes, views and bounds expected); else why not, in
/// words.
pub fn load(
    path: &Path,
    key: &CacheKey,
    train: FeatureCache,
    val: FeatureCache,
) -> std::result::Result<(FeatureCache, FeatureCache), String> {
    let file = match input_file::open(path, InputKind::FeatureCache) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("there is none".into()),
        Err(e) => return Err(format!("it cannot be read ({e})")),
        Ok(file) => file,
    };
    let mut file = BufReader::new(file);
    let unreadable = |e: String| format!("it cannot be read ({e})");
    let header = read_header(&mut file).map_err(unreadable)?;
    if let Some(change) = key.change_since(&header.key) {
        return Err(change.into());
    }
    let train = read_examples(&mut file, train, header.train).map_err(unreadable)?;
    let val = read_examples(&mut file, val, header.val).map_err(unreadable)?;
    match file.read(&mut [0u8]) {
        Ok(0) => Ok((train, val)),
        _ => Err(unreadable("it is longer than its header says".into())),
    }
}

fn read_header(file: &mut impl Read) -> std::result::Result<Header, String> {
    let mut magic = vec![0u8; MAGIC.len()];
    file.read_exact(&mut magic).map_err(|e| e.to_string())?;
    if magic != MAGIC {
        return Err("it is not a vgg-wgpu feature cache".into());
    }
    let mut length = [0u8; 8];
    file.read_exact(&mut length).map_err(|e| e.to_string())?;
    let mut header = Vec::new();
    file.take(u64::from_le_bytes(length))
        .read_to_end(&mut header)
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&header).map_err(|e| format!("its header: {e}"))
}

/// `examples` examples read into `cache`, which checks them against its bound first.
fn read_examples(
    file: &mut impl Read,
    mut cache: FeatureCache,
    examples: usize,
) -> std::result::Result<FeatureCache, String> {
    cache.check_room(examples).map_err(|e| e.to_string())?;
    let mut bytes = vec![0u8; 4 * cache.views * cache.view_len()];
    let mut label = [0u8; 4];
    for _ in 0..examples {
        file.read_exact(&mut label)
            .and_then(|()| file.read_exact(&mut bytes))
            .map_err(|e| e.to_string())?;
        let views: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        cache
            .push(u32::from_le_bytes(label), &views)
            .map_err(|e| e.to_string())?;
    }
    Ok(cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CacheKey {
        CacheKey {
            frozen_weights: "0123".into(),
            data: "4567".into(),
            transform: "q 36 crop 32".into(),
            views: 2,
            shape: vec![2, 1, 1],
        }
    }

    fn empty(views: usize) -> FeatureCache {
        FeatureCache::new(vec![2, 1, 1], views, 1 << 20)
    }

    /// Read back whole under the same key; a changed key, a cut file and a missing one
    /// each give the reason the caller shows.
    #[test]
    fn caches_come_back_only_whole_and_under_their_key() {
        let dir =
            std::env::temp_dir().join(format!("vgg-wgpu-feature-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("features.cache");
        let mut train = empty(2);
        train.push(1, &[1.0, 2.0, 3.0, -4.5]).unwrap();
        train.push(0, &[5.0, 6.0, 7.0, 8.0]).unwrap();
        let mut val = empty(1);
        val.push(1, &[0.25, f32::MIN_POSITIVE]).unwrap();
        save(&path, &key(), &train, &val).unwrap();

        let (t, v) = load(&path, &key(), empty(2), empty(1)).unwrap();
        assert_eq!((t, v), (train, val.clone()));
        let other = CacheKey {
            frozen_weights: "89ab".into(),
            ..key()
        };
        let why = load(&path, &other, empty(2), empty(1)).unwrap_err();
        assert_eq!(why, "the frozen layers' weights changed");

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let why = load(&path, &key(), empty(2), empty(1)).unwrap_err();
        assert!(why.starts_with("it cannot be read"), "{why}");
        std::fs::write(&path, [bytes.as_slice(), b"x"].concat()).unwrap();
        let why = load(&path, &key(), empty(2), empty(1)).unwrap_err();
        assert!(why.contains("longer than its header says"), "{why}");
        std::fs::remove_file(&path).unwrap();
        let why = load(&path, &key(), empty(2), empty(1)).unwrap_err();
        assert_eq!(why, "there is none");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
