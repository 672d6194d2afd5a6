//! SGD's hyper-parameters, as the update kernel reads them from a uniform buffer.

/// PyTorch's SGD: g' = grad_scale·g + weight_decay·w; v = momentum·v + g'; w −= lr·v.
/// Mirrors `SgdHyper` in `shaders/sgd.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SgdHyper {
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    /// Multiplies the gradient first (e.g. 1 / number of batches accumulated in it).
    pub grad_scale: f32,
}
