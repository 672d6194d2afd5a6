//! A network's learnable tensors on the GPU, in [`ModelSpec::parameters`] order; the
//! gradients and momenta of a fine-tuning plan hold only the trainable tail of them.

use crate::error::Result;
use crate::gpu::{Storage, Tensor};
use crate::kernels::GpuContext;
use crate::model::{ModelSpec, ParamInfo, WeightFile};

/// A clone shares the GPU tensors.
#[derive(Clone)]
pub struct ParamSet {
    /// The index of `tensors[0]` among `spec`'s parameters.
    pub first: usize,
    pub infos: Vec<ParamInfo>,
    pub tensors: Vec<Tensor>,
}

impl ParamSet {
    /// Zero-filled tensors (gradients, momenta) shaped like `spec`'s parameters.
    pub fn zeros(ctx: &GpuContext, spec: &ModelSpec, role: &str) -> Result<ParamSet> {
        Self::zeros_from(ctx, spec, role, 0)
    }

    /// Zero-filled tensors for `spec`'s parameters from index `first` on.
    pub fn zeros_from(
        ctx: &GpuContext,
        spec: &ModelSpec,
        role: &str,
        first: usize,
    ) -> Result<ParamSet> {
        Self::allocate(ctx, spec, role, first, Storage::F32)
    }

    /// Zero-filled tensors for `spec`'s parameters from index `first` on, the weights
    /// (not the biases) stored as `weights`.
    fn allocate(
        ctx: &GpuContext,
        spec: &ModelSpec,
        role: &str,
        first: usize,
        weights: Storage,
    ) -> Result<ParamSet> {
        let infos: Vec<ParamInfo> = spec.parameters().split_off(first);
        let tensors = infos
            .iter()
            .map(|p| {
                let storage = if p.is_bias { Storage::F32 } else { weights };
                Tensor::zeros_stored(ctx, &format!("{role} {}", p.name), &p.shape, storage)
            })
            .collect::<Result<_>>()?;
        Ok(ParamSet {
            first,
            infos,
            tensors,
        })
    }

    /// Parameter `param` (an index among all of the spec's parameters).
    pub fn get(&self, param: usize) -> &Tensor {
        &self.tensors[param - self.first]
    }

    /// Parameters from a weight file, checked against `spec` first.
    pub fn upload(
        ctx: &GpuContext,
        spec: &ModelSpec,
        weights: &WeightFile,
        origin: &str,
    ) -> Result<ParamSet> {
        Self::upload_stored(ctx, spec, weights, origin, Storage::F32)
    }

    /// Parameters from index `first` on (those of a [`super::Network::part`]) from a
    /// weight file of the whole network, checked against `spec` first.
    pub fn upload_from(
        ctx: &GpuContext,
        spec: &ModelSpec,
        weights: &WeightFile,
        origin: &str,
        first: usize,
    ) -> Result<ParamSet> {
        weights.check_matches_from(spec, origin, first)?;
        let set = Self::allocate(ctx, spec, "param", first, Storage::F32)?;
        set.write(ctx, weights)?;
        Ok(set)
    }

    /// As [`Self::upload`], with the weights (not the biases) stored as `storage`: F16
    /// halves their memory, for inference only (no backward kernel reads them).
    pub fn upload_stored(
        ctx: &GpuContext,
        spec: &ModelSpec,
        weights: &WeightFile,
        origin: &str,
        storage: Storage,
    ) -> Result<ParamSet> {
        weights.check_matches(spec, origin)?;
        let set = Self::allocate(ctx, spec, "param", 0, storage)?;
        set.write(ctx, weights)?;
        Ok(set)
    }

    /// Overwrites every tensor with the same-named one of `weights`.
    pub fn write(&self, ctx: &GpuContext, weights: &WeightFile) -> Result<()> {
        for (info, tensor) in self.infos.iter().zip(&self.tensors) {
            if let Some((_, values)) = weights.tensors.get(&info.name) {
                tensor.write_f32(ctx, values)?;
            }
        }
        Ok(())
    }

    /// Reads every tensor back into a weight file (no metadata).
    pub async fn download(&self, ctx: &GpuContext) -> Result<WeightFile> {
        self.download_from(ctx, self.first).await
    }

    /// Every parameter of `spec` (this set's network, new classes say): this set's
    /// tensors before index `first` (shared, not copied), `head`'s from it on (uploaded).
    pub fn with_head(
        &self,
        ctx: &GpuContext,
        spec: &ModelSpec,
        head: &WeightFile,
        origin: &str,
        first: usize,
    ) -> Result<ParamSet> {
        let uploaded = Self::upload_from(ctx, spec, head, origin, first)?;
        let kept = self.tensors[..first - self.first].iter().cloned();
        Ok(ParamSet {
            first: self.first,
            infos: spec.parameters().split_off(self.first),
            tensors: kept.chain(uploaded.tensors).collect(),
        })
    }

    /// The tensors from index `first` on read back (no metadata).
    pub async fn download_from(&self, ctx: &GpuContext, first: usize) -> Result<WeightFile> {
        let mut file = WeightFile::default();
        let skip = first - self.first;
        for (info, tensor) in self.infos.iter().zip(&self.tensors).skip(skip) {
            let values = tensor.read_f32(ctx).await?;
            file.tensors
                .insert(info.name.clone(), (info.shape.clone(), values));
        }
        Ok(file)
    }

    /// The weight and bias tensors of the op whose weight is parameter `param`.
    pub fn pair(&self, param: usize) -> (&Tensor, &Tensor) {
        (self.get(param), self.get(param + 1))
    }
}
