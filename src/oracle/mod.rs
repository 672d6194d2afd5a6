//! The CPU reference of every op, forward and backward: plain loops, f64 accumulation,
//! written to be obviously right rather than fast. GPU kernels are tested against it,
//! and its backward passes are tested against [`gradcheck`]'s finite differences. It
//! speaks only [`crate::shape`]: nothing here knows of GPUs, kernels or networks (the
//! whole-network reference is [`crate::graph::reference`], composed of these).

pub mod conv;
pub mod dropout;
pub mod gradcheck;
pub mod kink;
pub mod linear;
pub mod loss;
pub mod lrn;
pub mod peak;
pub mod pool;
pub mod relu;
pub mod score_map;
pub mod sgd;
pub mod windows;
