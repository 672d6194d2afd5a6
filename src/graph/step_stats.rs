//! What a training step or an evaluation pass measured: loss and hit counts.

/// What one step measured, summed over its samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    pub samples: usize,
    pub loss_sum: f64,
    pub top1_hits: f64,
    pub top5_hits: f64,
}

impl StepStats {
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.samples.max(1) as f64
    }
    pub fn add(&mut self, other: &StepStats) {
        self.samples += other.samples;
        self.loss_sum += other.loss_sum;
        self.top1_hits += other.top1_hits;
        self.top5_hits += other.top5_hits;
    }
}
