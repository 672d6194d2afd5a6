//! How `vgg-wgpu bench` writes a measurement for scripts: one JSON object a line,
//! numbers rounded to what the measurement can tell.

use serde::{Serialize, Serializer};
use vgg_wgpu::{Error, Result};

/// A number written with at most `DECIMALS` decimals; a non-finite one (a division by
/// a zero time) as null, which JSON can hold where NaN cannot.
#[derive(Clone, Copy)]
pub struct Rounded<const DECIMALS: i32>(pub f64);

impl<const DECIMALS: i32> Serialize for Rounded<DECIMALS> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let scale = 10f64.powi(DECIMALS);
        let rounded = (self.0 * scale).round() / scale;
        match rounded.is_finite() {
            true => serializer.serialize_f64(rounded),
            false => serializer.serialize_none(),
        }
    }
}

/// Prints `row` as one line of JSON.
pub fn print_json(row: &impl Serialize) -> Result<()> {
    let line = serde_json::to_string(row).map_err(|source| Error::Json {
        what: "bench: cannot write a measurement as JSON",
        source,
    })?;
    println!("{line}");
    Ok(())
}
