//! Every WGSL kernel against the CPU oracle (`src/oracle/`), one module per shader family.

mod harness;

mod conv;
mod linear;
mod loss;
mod score_map;
mod sgd;
