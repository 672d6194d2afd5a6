//! The training images that could not be read: the loader puts other images in their
//! places (see `data::loader`), and the run lists each of them once. Every process
//! meets only the images of its own share of a batch, but process 0 alone speaks, so
//! the processes first pool what they met.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::graph::Collective;

/// An index travels as two f32 halves below 2^20, each exact in an f32 (24 bits).
const HALF: usize = 1 << 20;

/// The unreadable images of a step's whole batch, in process order: `mine` (this
/// process's share) from every process. One sum of `processes()` counts each step,
/// and a second only when some share met an unreadable image.
pub(super) fn pooled(collective: &dyn Collective, mine: &[usize]) -> Result<Vec<usize>> {
    let mut counts = vec![0.0f32; collective.processes()];
    counts[collective.rank()] = mine.len() as f32;
    collective.all_reduce_sum(&mut counts)?;
    let counts: Vec<usize> = counts.iter().map(|&c| c as usize).collect();
    let total: usize = counts.iter().sum();
    if total == 0 {
        return Ok(Vec::new());
    }
    let start: usize = counts[..collective.rank()].iter().sum();
    let mut halves = vec![0.0f32; 2 * total];
    for (at, &index) in (start..).zip(mine) {
        halves[2 * at] = (index / HALF) as f32;
        halves[2 * at + 1] = (index % HALF) as f32;
    }
    collective.all_reduce_sum(&mut halves)?;
    Ok(halves
        .chunks(2)
        .map(|pair| pair[0] as usize * HALF + pair[1] as usize)
        .collect())
}

/// The note that lists training image `index` as unreadable, and what became of its
/// place (`fate`). The image is read again for its path and the reason: only indices
/// travel between processes.
pub(super) fn note(train_set: &dyn Dataset, index: usize, fate: &str) -> String {
    let what = match train_set.image(index) {
        Err(Error::BadImage { path, message }) => format!("{}: {message}", path.display()),
        Err(e) => e.to_string(),
        Ok(_) => format!("image {index} of the training set, readable again now"),
    };
    format!("unreadable training image, {fate}: {what}")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier, Mutex};

    use super::*;
    use crate::graph::SingleProcess;

    /// Processes played by threads: sums go through a shared buffer.
    struct Threads {
        rank: usize,
        processes: usize,
        sum: Arc<(Mutex<Vec<f32>>, Barrier)>,
    }

    impl Collective for Threads {
        fn rank(&self) -> usize {
            self.rank
        }
        fn processes(&self) -> usize {
            self.processes
        }
        fn all_reduce_sum(&self, values: &mut [f32]) -> Result<()> {
            let (sum, barrier) = &*self.sum;
            {
                let mut sum = sum.lock().unwrap();
                sum.resize(values.len(), 0.0);
                sum.iter_mut().zip(values.iter()).for_each(|(s, v)| *s += v);
            }
            barrier.wait();
            values.copy_from_slice(&sum.lock().unwrap());
            barrier.wait();
            sum.lock().unwrap().clear();
            barrier.wait();
            Ok(())
        }
        fn bytes_exchanged(&self, _: usize) -> u64 {
            0
        }
        fn agree(&self, _: &str) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_process_gets_every_share_in_process_order() {
        let shares: [&[usize]; 3] = [&[7, 3_000_000_123], &[], &[(1 << 40) + 5]];
        let sum = Arc::new((Mutex::new(Vec::new()), Barrier::new(3)));
        let pooled_by_each: Vec<Vec<usize>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..3)
                .map(|rank| {
                    let collective = Threads {
                        rank,
                        processes: 3,
                        sum: sum.clone(),
                    };
                    scope.spawn(move || pooled(&collective, shares[rank]).unwrap())
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for list in pooled_by_each {
            assert_eq!(list, [7, 3_000_000_123, (1 << 40) + 5]);
        }
        assert_eq!(pooled(&SingleProcess, &[4, 2]).unwrap(), [4, 2]);
        assert!(pooled(&SingleProcess, &[]).unwrap().is_empty());
    }
}
