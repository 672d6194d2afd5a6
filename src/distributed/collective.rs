//! [`MpiWorld`] as the trainer's [`Collective`]: every call bounded by one timeout.

use std::time::Duration;

use super::MpiWorld;
use crate::graph::Collective;
use crate::Result;

pub struct MpiCollective {
    pub world: MpiWorld,
    /// How long any collective may wait for the other processes.
    pub timeout: Duration,
}

impl Collective for MpiCollective {
    fn rank(&self) -> usize {
        self.world.rank()
    }

    fn processes(&self) -> usize {
        self.world.size()
    }

    fn all_reduce_sum(&self, values: &mut [f32]) -> Result<()> {
        self.world.all_reduce_sum(values, self.timeout)
    }

    /// A ring all-reduce, the algorithm Open MPI uses for large buffers, sends
    /// 2·(p−1)/p of the buffer and receives as much.
    fn bytes_exchanged(&self, elements: usize) -> u64 {
        let p = self.world.size() as u64;
        4 * (p - 1) * (elements as u64 * 4) / p
    }

    fn agree(&self, description: &str) -> Result<()> {
        self.world
            .agree("configurations", description, self.timeout)
    }
}
