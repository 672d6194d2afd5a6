//! The batch a timed training step runs on: constant images, labels cycling through the
//! classes, and a zero learning rate so that the weights stay put however many steps
//! the timer takes.

use vgg_wgpu::shape::SgdHyper;

use super::args::BenchArgs;

pub struct StepInputs {
    /// (batch, 3, size, size)
    pub images: Vec<f32>,
    /// (batch)
    pub labels: Vec<u32>,
    pub hyper: SgdHyper,
}

impl StepInputs {
    pub fn new(args: &BenchArgs) -> StepInputs {
        StepInputs {
            images: vec![0.5f32; args.batch * 3 * args.size * args.size],
            labels: (0..args.batch).map(|i| (i % args.classes) as u32).collect(),
            hyper: SgdHyper {
                lr: 0.0,
                momentum: 0.9,
                weight_decay: 0.0,
                grad_scale: 1.0,
            },
        }
    }
}
