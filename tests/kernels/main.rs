//! Every WGSL kernel against the CPU oracle (`src/oracle/`), one module per shader family.

mod harness;

mod conv;
mod conv_tiled;
mod data_parallel;
mod dropout;
mod f16_weights;
mod feature_cache;
mod fine_tune;
mod linear;
mod long_sums;
mod loss;
mod lrn;
mod new_classes;
mod peak;
mod pool;
mod relu;
mod score_map;
mod sgd;
mod train_step;
mod windows;
