//! A warning, once per run, when the training loss climbs far above where it started:
//! the learning rate is too high for this start (fine-tuning a pretrained network at
//! the from-scratch rate, say). Short of NaN (which stops the run) nothing else says
//! so; the run goes on, and the user decides.

/// How far above the first step's loss an epoch's mean training loss may go.
pub const FACTOR: f64 = 2.0;

/// The warning for an epoch (1-based) whose mean training loss is over [`FACTOR`]
/// times the run's first step's, trained at `lr`; None when it is not.
pub fn warning(first_step_loss: f64, epoch: usize, epoch_loss: f64, lr: f32) -> Option<String> {
    (epoch_loss > FACTOR * first_step_loss).then(|| {
        format!(
            "warning: the training loss is climbing: epoch {epoch}'s mean {epoch_loss:.3} is over {FACTOR} × \
             the first step's {first_step_loss:.3} (the rule for this warning, given once). The learning rate \
             {lr:.0e} is likely too high for this start; consider a run with a lower --lr, e.g. {:.0e}",
            lr / 10.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_above_twice_the_first_loss_only() {
        assert_eq!(warning(2.3, 1, 1.1, 0.01), None, "falling");
        assert_eq!(warning(2.3, 1, 4.6, 0.01), None, "exactly twice");
        let text = warning(4.5, 2, 15.5, 0.01).expect("over twice");
        for said in [
            "epoch 2's mean 15.500",
            "over 2 × the first step's 4.500",
            "--lr, e.g. 1e-3",
        ] {
            assert!(text.contains(said), "no '{said}' in: {text}");
        }
    }
}
