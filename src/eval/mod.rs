//! Testing a trained network as the paper does (Section 3.2):
//!
//! ```text
//! image ──rescale to Q──▶ Planes ──DensePlan (+ mirror)──▶ posterior ─┐
//!                               └──5×5 crops × 2 flips──▶ EvalPlan ──▶ posterior ─┼─ mean over scales, models ─▶ Tally (top-1/top-5)
//! ```
//!
//! - [`protocol`]: test scales, the crop grid, posterior means, error counts (pure).
//! - [`input`]: images rescaled and normalised, mirrored, cropped.
//! - [`model`]: a network under test with its plans cached per input shape.
//! - [`evaluate`]: one image through the protocols; the rows of Tables 3–5.
//! - [`test_set`]: the built-in validation set or an ImageNet-layout folder.
//! - [`heatmap`]: a class score map drawn over its image.

pub mod evaluate;
pub mod heatmap;
pub mod input;
pub mod model;
pub mod protocol;
pub mod test_set;

pub use evaluate::{evaluate_ensemble, evaluate_image, table_rows, ImagePosteriors, Protocol};
pub use model::{check_ensemble, TestModel, DENSE_PLANS_KEPT};
pub use protocol::{default_scales, Tally};
pub use test_set::{open_test_set, TestSet};
