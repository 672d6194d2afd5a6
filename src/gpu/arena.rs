//! Memory reuse by lifetime: tensors assigned to the same slot never live at the same
//! time, so they share one set of buffers, each as large as the largest chunk any of
//! them puts there. Used for gradients in training (two slots ping-pong down the
//! network) and for activations in evaluation.

use std::ops::Range;

use super::tensor::{chunk_layout, new_storage_buffer};
use super::{GpuDevice, Tensor};
use crate::error::Result;

type Layout = Vec<(Range<usize>, u64)>;

/// Collects tensor requests per slot, then allocates every slot once.
#[derive(Default)]
pub struct Arena {
    slots: Vec<Vec<(String, Vec<usize>, Layout)>>,
}

/// Where a requested tensor will be: (slot, index within the slot).
#[derive(Clone, Copy, Debug)]
pub struct Reservation(usize, usize);

impl Arena {
    pub fn new(slot_count: usize) -> Arena {
        Arena {
            slots: (0..slot_count).map(|_| Vec::new()).collect(),
        }
    }

    pub fn reserve(
        &mut self,
        ctx: &GpuDevice,
        slot: usize,
        label: &str,
        shape: &[usize],
    ) -> Result<Reservation> {
        let layout = chunk_layout(ctx, label, shape)?;
        self.slots[slot].push((label.to_string(), shape.to_vec(), layout));
        Ok(Reservation(slot, self.slots[slot].len() - 1))
    }

    /// Allocates each slot's buffers and returns the tensors in reservation order per slot.
    pub fn allocate(self, ctx: &GpuDevice) -> ArenaTensors {
        let tensors = self
            .slots
            .into_iter()
            .enumerate()
            .map(|(slot, requests)| {
                let chunks = requests.iter().map(|(_, _, l)| l.len()).max().unwrap_or(0);
                let buffers: Vec<wgpu::Buffer> = (0..chunks)
                    .map(|c| {
                        let bytes = requests
                            .iter()
                            .filter_map(|(_, _, l)| l.get(c).map(|x| x.1))
                            .max()
                            .unwrap_or(4);
                        new_storage_buffer(ctx, &format!("arena slot {slot}"), bytes)
                    })
                    .collect();
                requests
                    .iter()
                    .map(|(label, shape, layout)| Tensor::view(label, shape, layout, &buffers))
                    .collect()
            })
            .collect();
        ArenaTensors { tensors }
    }
}

pub struct ArenaTensors {
    tensors: Vec<Vec<Tensor>>,
}

impl ArenaTensors {
    pub fn get(&self, r: Reservation) -> &Tensor {
        &self.tensors[r.0][r.1]
    }
}
