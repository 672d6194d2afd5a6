//! The executor: a network is a chain of ops ([`network`]), each describing itself
//! ([`ops`]); a plan compiles it once into tensors, bind groups and launches
//! ([`train_plan`] for training with the backward pass derived from the forward chain,
//! [`eval_plan`] for inference, [`feature_plan`] for a frozen front's output, [`dense_plan`] for dense evaluation on whole images),
//! and a step only writes inputs and a few uniforms, records, and submits.
//! [`reference`] and [`dense_reference`] are the same networks on the CPU, composed of
//! each op's reference.

pub mod data_parallel;
pub mod dense_plan;
pub mod dense_reference;
pub mod eval_plan;
pub mod feature_plan;
mod forward;
pub mod network;
pub mod ops;
pub mod param_set;
#[cfg(not(target_arch = "wasm32"))]
pub mod profile;
pub mod reference;
pub mod step_stats;
pub mod train_plan;
pub mod trainable;

pub use data_parallel::{Collective, DataParallel, ExchangeStats, SingleProcess};
pub use dense_plan::{DenseOutput, DensePlan};
pub use eval_plan::EvalPlan;
pub use feature_plan::FeaturePlan;
pub use forward::Span;
pub use network::Network;
pub use ops::Op;
pub use param_set::ParamSet;
#[cfg(not(target_arch = "wasm32"))]
pub use profile::PlanProfile;
pub use step_stats::StepStats;
pub use train_plan::TrainPlan;
pub use trainable::Trainable;
