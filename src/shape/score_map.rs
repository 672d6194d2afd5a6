//! Class score map geometry for dense evaluation: map (N, classes, H, W), scores
//! (N, classes).

use crate::error::{Error, Result};

/// Geometry of a class score map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScoreMapShape {
    pub batch: usize,
    pub classes: usize,
    pub height: usize,
    pub width: usize,
}

impl ScoreMapShape {
    /// The score map: (N, classes, H, W)
    pub fn map(&self) -> [usize; 4] {
        [self.batch, self.classes, self.height, self.width]
    }
    /// Class scores or probabilities: (N, classes)
    pub fn scores(&self) -> [usize; 2] {
        [self.batch, self.classes]
    }
    pub fn validate(&self, op: &'static str) -> Result<()> {
        if self.map().contains(&0) {
            return Err(Error::Shape {
                op,
                message: format!("every dimension must be at least 1, got {:?}", self.map()),
            });
        }
        Ok(())
    }
}
