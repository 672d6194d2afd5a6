//! The executor: a network is a chain of ops ([`network`]); a plan compiles it once
//! into tensors, bind groups and launches ([`train_plan`] for training with the backward
//! pass derived from the forward chain, [`eval_plan`] for inference, [`dense_plan`] for
//! dense evaluation on whole images), and a step only
//! writes inputs and a few uniforms, records, and submits.

pub mod data_parallel;
pub mod dense_plan;
pub mod eval_plan;
mod forward;
pub mod network;
pub mod param_set;
pub mod train_plan;

pub use data_parallel::{Collective, DataParallel, ExchangeStats, SingleProcess};
pub use dense_plan::{DenseOutput, DensePlan};
pub use eval_plan::EvalPlan;
pub use forward::Span;
pub use network::{Network, Op};
pub use param_set::ParamSet;
#[cfg(not(target_arch = "wasm32"))]
pub use train_plan::StepProfile;
pub use train_plan::{StepStats, TrainPlan};
