//! The geometry and static parameters of every op, as plain data with their
//! arithmetic: what the GPU launchers ([`crate::kernels`]), the networks
//! ([`crate::graph`]) and the CPU reference ([`crate::oracle`]) all speak. Nothing here
//! touches a GPU.

mod conv;
mod dropout;
mod linear;
mod loss;
mod lrn;
mod pool;
mod score_map;
mod sgd;

pub use conv::ConvShape;
pub use dropout::Dropout;
pub use linear::LinearShape;
pub use loss::{LossShape, STATS};
pub use lrn::LrnParams;
pub use pool::PoolShape;
pub use score_map::ScoreMapShape;
pub use sgd::SgdHyper;
