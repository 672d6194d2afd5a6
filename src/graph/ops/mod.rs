//! Every op of a network describes itself through [`Operation`]: its geometry, its
//! parameters, its GPU launches forward and backward, its form in the fully
//! convolutional network of dense evaluation, and its CPU reference. [`Op`] is the
//! closed set of ops, generated from the one table at the end of this file: an op is its
//! own file plus a line there.

mod conv;
mod dropout;
mod linear;
mod lrn;
mod pool;

pub use conv::Conv2d;
pub use dropout::DropoutOp;
pub use linear::Linear;
pub use lrn::Lrn;
pub use pool::MaxPool2d;

use super::param_set::ParamSet;
use crate::error::Result;
use crate::gpu::Tensor;
use crate::kernels::dropout::DropoutRng;
use crate::kernels::GpuContext;
use crate::kernels::Launch;

/// What an op's forward launches read and write.
pub struct ForwardPass<'a> {
    pub batch: usize,
    pub params: &'a ParamSet,
    /// The op's input, batch first.
    pub x: &'a Tensor,
    /// The op's output, batch first.
    pub y: &'a Tensor,
    /// The dropout key when training; None at inference, where dropout records nothing
    /// and the plan makes its output the same tensor as its input.
    pub dropout: Option<&'a DropoutRng>,
}

/// What an op's backward launches read and write.
pub struct BackwardPass<'a> {
    pub batch: usize,
    pub params: &'a ParamSet,
    /// The parameter gradients the op writes.
    pub gradients: &'a ParamSet,
    /// Add to `gradients` (the later micro-batches of a step) rather than overwrite them.
    pub accumulate: bool,
    /// The op's forward input, batch first.
    pub x: &'a Tensor,
    /// The gradient of the op's output, its fused ReLU (if any) already passed back.
    pub dy: &'a Tensor,
    /// Where the gradient of the op's input goes; None when nothing needs it (the
    /// image).
    pub dx: Option<&'a Tensor>,
    /// Whether to pass back the ReLU fused at the op before too (only asked of ops whose
    /// [`Operation::passes_back_input_relu`] is true).
    pub input_relu: bool,
    pub dropout: &'a DropoutRng,
}

/// What the CPU reference of every op reads besides its tensors.
pub struct ReferencePass<'a> {
    pub batch: usize,
    /// Every parameter of the network, in [`crate::model::ModelSpec::parameters`] order.
    pub params: &'a [Vec<f32>],
    /// (seed, step) of the dropout masks when training; None at inference.
    pub dropout: Option<(u32, u32)>,
}

/// The CPU reference's gradients of one op.
pub struct ReferenceGradients {
    /// The gradient of the op's input.
    pub dx: Vec<f32>,
    /// (weight, bias) gradients of an op with parameters.
    pub params: Option<(Vec<f32>, Vec<f32>)>,
}

/// What every op of a network tells the plans and the CPU reference about itself.
pub trait Operation {
    /// A short name for profiles: "conv3 64→128 @56", "maxpool 64 @32", "fc 512→10".
    fn name(&self) -> String;

    /// The output's shape for `batch` images, batch first.
    fn output(&self, batch: usize) -> Vec<usize>;

    /// The weight's index in [`crate::model::ModelSpec::parameters`] (its bias follows
    /// it), for an op with parameters.
    fn param(&self) -> Option<usize> {
        None
    }

    /// Multiply-adds × 2 of one image's forward pass (only convs and FCs count: the rest
    /// is negligible).
    fn flops_per_image(&self) -> f64 {
        0.0
    }

    /// Whether a ReLU is fused at the op's output.
    fn fused_relu(&self) -> bool {
        false
    }

    /// Whether the op's backward pass can also pass back the ReLU fused at the op
    /// before it (zero where its input is), sparing that ReLU its own pass.
    fn passes_back_input_relu(&self) -> bool {
        false
    }

    /// Whether the op is the identity at inference (its output is then its input).
    fn inference_identity(&self) -> bool {
        false
    }

    /// The forward launches, in order.
    fn forward(&self, ctx: &GpuContext, pass: &ForwardPass) -> Result<Vec<Launch>>;

    /// The backward launches, in order: parameter gradients, then the input's.
    fn backward(&self, ctx: &GpuContext, pass: &BackwardPass) -> Result<Vec<Launch>>;

    /// The op in the fully convolutional network, for an input `input` (C, H, W) there
    /// where the plain network gives it `plain_input` ((C, H, W) or (features)); None
    /// where it is gone (dropout).
    fn dense(&self, plain_input: &[usize], input: &[usize]) -> Option<Op>;

    /// The CPU reference of the forward pass.
    fn reference_forward(&self, pass: &ReferencePass, x: &[f32]) -> Vec<f32>;

    /// The CPU reference of the backward pass, from the forward input `x`, output `y`
    /// and the output's gradient `dy` (the fused ReLU included).
    fn reference_backward(
        &self,
        pass: &ReferencePass,
        x: &[f32],
        y: &[f32],
        dy: &[f32],
    ) -> ReferenceGradients;

    /// How far the forward pass on `x` stays from the points where the op switches
    /// branch (a fused ReLU's zero, a max-pool's tie), in units of the values' RMS;
    /// infinite for ops without branches.
    fn reference_kink_margin(&self, _pass: &ReferencePass, _x: &[f32]) -> f64 {
        f64::INFINITY
    }
}

/// "@56" for a square input, "@48×64" otherwise.
fn at_size(height: usize, width: usize) -> String {
    match height == width {
        true => format!("@{height}"),
        false => format!("@{height}×{width}"),
    }
}

/// The [`Op`] enum, a `From` per variant, and a view of any op as its [`Operation`].
macro_rules! ops {
    ($($variant:ident($op:ty)),* $(,)?) => {
        /// One op of a network's chain; what it does is its [`Operation`], which every
        /// `Op` derefs to.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum Op {
            $($variant($op),)*
        }

        $(impl From<$op> for Op {
            fn from(op: $op) -> Op {
                Op::$variant(op)
            }
        })*

        // Deref rather than a hand-written delegation of every method: a new method of
        // the trait needs no change here.
        impl std::ops::Deref for Op {
            type Target = dyn Operation;
            fn deref(&self) -> &(dyn Operation + 'static) {
                match self {
                    $(Op::$variant(op) => op,)*
                }
            }
        }
    };
}

ops! {
    Conv(Conv2d),
    Lrn(Lrn),
    MaxPool(MaxPool2d),
    Linear(Linear),
    Dropout(DropoutOp),
}
