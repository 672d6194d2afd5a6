//! Safetensors read as its bytes arrive (a download in the page, a file read in chunks):
//! the header once it is whole, then each tensor's values converted to f32 as their
//! bytes come. The raw file is never held whole, so a model costs one copy of its
//! values in memory, not two.
//!
//! The layout: an 8-byte little-endian header length n, n bytes of JSON (each tensor's
//! `dtype`, `shape` and `data_offsets` into the data that follows, plus string
//! `__metadata__`), then the data. Tensors of a dtype other than F32, F16 and BF16
//! (integers: batch norm's step counter, say) are skipped and listed in
//! [`WeightFile::unread`]: no VGG has one, and a file with them is best named for the
//! network it holds.

use std::collections::HashMap;

use super::WeightFile;
use crate::error::{Error, Result};

/// safetensors caps its header at 100 MB; more means it is not one.
const MAX_HEADER: u64 = 100 << 20;

/// One tensor's place in the data.
#[derive(Clone, Debug)]
struct Slot {
    name: String,
    /// None: a dtype that is skipped, not read.
    dtype: Option<Dtype>,
    shape: Vec<usize>,
    /// Byte range in the data section.
    start: u64,
    end: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Dtype {
    F32,
    F16,
    Bf16,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
        }
    }

    /// The value of one element's little-endian bytes.
    fn decode(self, b: &[u8]) -> f32 {
        match self {
            Dtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Dtype::F16 => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            Dtype::Bf16 => half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
        }
    }
}

/// A weight file being read: [`WeightReader::push`] its bytes in order, any chunk sizes,
/// then [`WeightReader::finish`].
pub struct WeightReader {
    origin: String,
    /// Bytes waiting for the rest of their unit: the header length or header while it
    /// is incomplete, then at most one element split between chunks.
    pending: Vec<u8>,
    /// Tensors in data order, once the header is read.
    slots: Option<Vec<Slot>>,
    /// The tensor being filled.
    next: usize,
    /// Bytes of the data section consumed.
    offset: u64,
    file: WeightFile,
}

impl WeightReader {
    /// `origin` names the file in error messages.
    pub fn new(origin: &str) -> WeightReader {
        WeightReader {
            origin: origin.to_string(),
            pending: Vec::new(),
            slots: None,
            next: 0,
            offset: 0,
            file: WeightFile::default(),
        }
    }

    fn error(&self, message: String) -> Error {
        Error::WeightFile {
            path: self.origin.clone(),
            message,
        }
    }

    /// The next bytes of the file.
    pub fn push(&mut self, mut chunk: &[u8]) -> Result<()> {
        if self.slots.is_none() {
            chunk = self.read_header(chunk)?;
        }
        let Some(slots) = self.slots.take() else {
            return Ok(()); // the header is not whole yet
        };
        let result = self.read_data(&slots, chunk);
        self.slots = Some(slots);
        result
    }

    /// Takes header bytes from `chunk`; parses the header once it is whole. Returns the
    /// rest of the chunk.
    fn read_header<'a>(&mut self, chunk: &'a [u8]) -> Result<&'a [u8]> {
        let take = |pending: &mut Vec<u8>, want: usize, chunk: &'a [u8]| {
            let n = want.saturating_sub(pending.len()).min(chunk.len());
            pending.extend_from_slice(&chunk[..n]);
            &chunk[n..]
        };
        let mut rest = take(&mut self.pending, 8, chunk);
        if self.pending.len() < 8 {
            return Ok(rest);
        }
        let length = u64::from_le_bytes(self.pending[..8].try_into().expect("8 bytes"));
        if length > MAX_HEADER {
            return Err(self.error(format!(
                "is not a readable safetensors file (its first 8 bytes give a header of {length} bytes, over safetensors' 100 MB); is it another format?"
            )));
        }
        rest = take(&mut self.pending, 8 + length as usize, rest);
        if self.pending.len() < 8 + length as usize {
            return Ok(rest);
        }
        let (slots, file) = parse_header(&self.pending[8..], &self.origin)?;
        self.file = file;
        self.pending.clear();
        self.slots = Some(slots);
        Ok(rest)
    }

    /// Converts data bytes into the tensors they belong to.
    fn read_data(&mut self, slots: &[Slot], mut chunk: &[u8]) -> Result<()> {
        loop {
            // Tensors complete at this offset (empty ones, never converted, included).
            while let Some(slot) = slots.get(self.next).filter(|s| s.end == self.offset) {
                if slot.dtype.is_some() {
                    self.file
                        .tensors
                        .entry(slot.name.clone())
                        .or_insert_with(|| (slot.shape.clone(), Vec::new()));
                }
                self.next += 1;
            }
            let Some(slot) = slots.get(self.next) else {
                if !chunk.is_empty() {
                    return Err(self.error(format!(
                        "has bytes after its last tensor (the header's data ends at byte {}); is it damaged?",
                        self.offset
                    )));
                }
                return Ok(());
            };
            if chunk.is_empty() {
                return Ok(());
            }
            let n = ((slot.end - self.offset) as usize).min(chunk.len());
            let (bytes, rest) = chunk.split_at(n);
            if let Some(dtype) = slot.dtype {
                self.convert(slot, dtype, bytes);
            }
            self.offset += n as u64;
            chunk = rest;
        }
    }

    /// Appends the elements of `bytes` (the next bytes of `slot`) to its values; an
    /// element split between chunks waits in `pending`.
    fn convert(&mut self, slot: &Slot, dtype: Dtype, mut bytes: &[u8]) {
        let size = dtype.size();
        let entry = self
            .file
            .tensors
            .entry(slot.name.clone())
            .or_insert_with(|| {
                let elements = (slot.end - slot.start) as usize / size;
                (slot.shape.clone(), Vec::with_capacity(elements))
            });
        let values = &mut entry.1;
        if !self.pending.is_empty() {
            let n = (size - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.pending.len() < size {
                return;
            }
            values.push(dtype.decode(&self.pending));
            self.pending.clear();
        }
        let whole = bytes.len() / size * size;
        values.extend(bytes[..whole].chunks_exact(size).map(|b| dtype.decode(b)));
        self.pending.extend_from_slice(&bytes[whole..]);
    }

    /// The file, once every byte was pushed.
    pub fn finish(self) -> Result<WeightFile> {
        match &self.slots {
            None => Err(self.error(
                "is not a readable safetensors file (it ends inside its header); is it truncated or another format?"
                    .into(),
            )),
            Some(slots) if self.next < slots.len() => {
                let end = slots.last().map_or(0, |s| s.end);
                Err(self.error(format!(
                    "is truncated: its data ends at byte {} of {end}, inside tensor '{}'",
                    self.offset, slots[self.next].name
                )))
            }
            Some(_) => Ok(self.file),
        }
    }
}

/// A header's tensors in data order, checked to tile the data exactly, and a file
/// with its metadata and unread tensors (no values yet).
fn parse_header(header: &[u8], origin: &str) -> Result<(Vec<Slot>, WeightFile)> {
    #[derive(serde::Deserialize)]
    struct Entry {
        dtype: String,
        shape: Vec<usize>,
        data_offsets: [u64; 2],
    }
    let bad = |message: String| Error::WeightFile {
        path: origin.to_string(),
        message,
    };
    let unreadable = |e: serde_json::Error| {
        Error::WeightFormat {
        path: origin.to_string(),
        message: format!(
            "is not a readable safetensors file (its header: {e}); is it truncated or another format?"
        ),
        source: Box::new(e),
    }
    };
    let mut entries: HashMap<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(unreadable)?;
    let mut file = WeightFile::default();
    if let Some(m) = entries.remove("__metadata__") {
        file.metadata = serde_json::from_value(m).map_err(unreadable)?;
    }
    let mut slots = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        let entry: Entry = serde_json::from_value(entry).map_err(unreadable)?;
        let dtype = match entry.dtype.as_str() {
            "F32" => Some(Dtype::F32),
            "F16" => Some(Dtype::F16),
            "BF16" => Some(Dtype::Bf16),
            other => {
                file.unread.insert(name.clone(), other.to_string());
                None
            }
        };
        let [start, end] = entry.data_offsets;
        let elements: u64 = entry.shape.iter().map(|&d| d as u64).product();
        // An unread dtype's size is not known here; the tiling below still checks it.
        let bytes = dtype.map_or(end.saturating_sub(start), |d| elements * d.size() as u64);
        if end < start || end - start != bytes {
            return Err(bad(format!(
                "tensor '{name}' ({} of shape {:?}) has data offsets [{start}, {end}] that do not fit it; is the file damaged?",
                entry.dtype, entry.shape
            )));
        }
        slots.push(Slot {
            name,
            dtype,
            shape: entry.shape,
            start,
            end,
        });
    }
    slots.sort_by_key(|s| (s.start, s.end));
    let mut at = 0;
    for s in &slots {
        if s.start != at {
            return Err(bad(format!(
                "tensor '{}' starts at data byte {} where {at} was expected: tensors overlap or leave gaps; is the file damaged?",
                s.name, s.start
            )));
        }
        at = s.end;
    }
    Ok((slots, file))
}

/// The names, shapes and metadata of a header, with no values.
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn shapes_of_header(header: &[u8], origin: &str) -> Result<WeightFile> {
    let (slots, mut file) = parse_header(header, origin)?;
    file.tensors = slots
        .into_iter()
        .filter(|s| s.dtype.is_some())
        .map(|s| (s.name, (s.shape, Vec::new())))
        .collect();
    Ok(file)
}

#[cfg(test)]
mod tests {
    use safetensors::tensor::{serialize, Dtype as StDtype, TensorView};

    use super::*;

    /// A file of an F32 [2, 3] tensor, an F16 [3], a BF16 [2] and an empty F32 [0, 4],
    /// with metadata; and the values each holds.
    fn file() -> (Vec<u8>, WeightFile) {
        let a: Vec<f32> = vec![1.5, -2.0, 3.25, 0.0, 1e-3, -7.0];
        let h: Vec<u16> = vec![0x3c00, 0xc000, 0x3555];
        let b: Vec<u16> = vec![0x3f80, 0xc040]; // 1.0, -3.0
        let a_bytes: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
        let h_bytes: Vec<u8> = h.iter().flat_map(|v| v.to_le_bytes()).collect();
        let b_bytes: Vec<u8> = b.iter().flat_map(|v| v.to_le_bytes()).collect();
        let views = vec![
            (
                "a",
                TensorView::new(StDtype::F32, vec![2, 3], &a_bytes).unwrap(),
            ),
            (
                "h",
                TensorView::new(StDtype::F16, vec![3], &h_bytes).unwrap(),
            ),
            (
                "b",
                TensorView::new(StDtype::BF16, vec![2], &b_bytes).unwrap(),
            ),
            ("e", TensorView::new(StDtype::F32, vec![0, 4], &[]).unwrap()),
        ];
        let metadata = HashMap::from([("k".to_string(), "v".to_string())]);
        let bytes = serialize(views, Some(metadata.clone())).unwrap();
        let mut want = WeightFile {
            metadata,
            ..WeightFile::default()
        };
        want.tensors.insert("a".into(), (vec![2, 3], a));
        want.tensors
            .insert("h".into(), (vec![3], vec![1.0, -2.0, 0.333_251_95]));
        want.tensors.insert("b".into(), (vec![2], vec![1.0, -3.0]));
        want.tensors.insert("e".into(), (vec![0, 4], vec![]));
        (bytes, want)
    }

    fn read_in_chunks(bytes: &[u8], chunk: usize) -> Result<WeightFile> {
        let mut reader = WeightReader::new("t.safetensors");
        for part in bytes.chunks(chunk) {
            reader.push(part)?;
        }
        reader.finish()
    }

    #[test]
    fn reads_the_same_values_whatever_the_chunks() {
        let (bytes, want) = file();
        for chunk in (1..=9).chain([bytes.len()]) {
            assert_eq!(
                read_in_chunks(&bytes, chunk).unwrap(),
                want,
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn a_truncated_file_names_where_it_ends() {
        let (bytes, _) = file();
        let message = read_in_chunks(&bytes[..bytes.len() - 5], 7)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("is truncated: its data ends at byte"),
            "{message}"
        );
        let message = read_in_chunks(&bytes[..20], 7).unwrap_err().to_string();
        assert!(message.contains("it ends inside its header"), "{message}");
    }

    #[test]
    fn bytes_after_the_last_tensor_are_refused() {
        let (mut bytes, _) = file();
        bytes.extend_from_slice(&[0, 0]);
        let message = read_in_chunks(&bytes, 64).unwrap_err().to_string();
        assert!(
            message.contains("has bytes after its last tensor"),
            "{message}"
        );
    }

    fn with_header(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    /// The error of a file with this header and 8 bytes of data.
    fn refused(header: &str) -> String {
        match read_in_chunks(&with_header(header, &[0; 8]), 3) {
            Ok(_) => panic!("{header} is refused"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn offsets_that_do_not_tile_the_data_are_refused() {
        let overlap = r#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        let message = refused(overlap);
        assert!(
            message.contains("tensors overlap or leave gaps"),
            "{message}"
        );
        let message = refused(r#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#);
        assert!(
            message.contains("data offsets [0, 8] that do not fit it"),
            "{message}"
        );
    }

    /// A resnet's batch norm counter (I64) refused the whole file for its dtype; such
    /// tensors are now listed, unread, and the float ones read around them.
    #[test]
    fn tensors_of_other_dtypes_are_listed_unread() {
        let header = r#"{"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"x":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#;
        let mut data = 7i64.to_le_bytes().to_vec();
        data.extend_from_slice(&2.5f32.to_le_bytes());
        for chunk in [1, 3, 12] {
            let file = read_in_chunks(&with_header(header, &data), chunk).unwrap();
            assert_eq!(file.tensors.len(), 1);
            assert_eq!(file.tensors["x"], (vec![1], vec![2.5]));
            assert_eq!(file.unread["n"], "I64");
        }
        let shapes = shapes_of_header(header.as_bytes(), "t").unwrap();
        assert_eq!(shapes.tensors.keys().collect::<Vec<_>>(), ["x"]);
        assert_eq!(shapes.unread["n"], "I64");
        let truncated = read_in_chunks(&with_header(header, &data[..6]), 4);
        assert!(truncated
            .unwrap_err()
            .to_string()
            .contains("inside tensor 'n'"));
    }

    #[test]
    fn another_format_is_refused_by_its_header() {
        let message = WeightFile::from_bytes(b"not a weight file", "w.safetensors")
            .unwrap_err()
            .to_string();
        assert!(message.contains("over safetensors' 100 MB"), "{message}");
        let e = WeightFile::from_bytes(&with_header("not json", &[]), "w.safetensors").unwrap_err();
        let source = std::error::Error::source(&e).expect("a JSON error has a source");
        assert!(source.is::<serde_json::Error>(), "{source:?}");
        assert!(
            e.to_string()
                .starts_with("weight file 'w.safetensors' is not a readable safetensors file"),
            "{e}"
        );
    }

    #[test]
    fn half_precision_converts_exactly() {
        for (h, f) in [
            (0x3c00u16, 1.0f32),
            (0xc000, -2.0),
            (0x3555, 0.333_251_95),
            (0x0001, 5.960_464_5e-8),
            (0x7bff, 65504.0),
        ] {
            assert_eq!(Dtype::F16.decode(&h.to_le_bytes()), f, "{h:#x}");
        }
    }
}
