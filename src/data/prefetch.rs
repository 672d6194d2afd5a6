//! Background batch preparation (native only: wasm32 has no threads). It knows
//! batches only by their index: the loader hands it the function that makes batch `k`.
//!
//! Worker `w` of `W` makes batches `start + w`, `start + w + W`, ... in that order and
//! sends each into its own bounded channel; the consumer takes batch `k` from worker
//! `(k - start) % W`. Each worker's channel holds at most `depth` finished batches, so
//! memory stays bounded, and the batches come out in epoch order whatever the threads'
//! timing. Dropping the [`Prefetch`] closes the channels; each worker notices at its next
//! send and exits, and the drop waits for them.

use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crate::error::{Error, Result};

pub(super) struct Prefetch<B> {
    start: usize,
    /// One per worker.
    receivers: Vec<Receiver<Result<B>>>,
    workers: Vec<JoinHandle<()>>,
}

impl<B: Send + 'static> Prefetch<B> {
    /// Starts `workers` threads making the batches `batches` with `make_batch`.
    pub(super) fn start<F>(
        make_batch: Arc<F>,
        batches: Range<usize>,
        workers: usize,
        depth: usize,
    ) -> Result<Prefetch<B>>
    where
        F: Fn(usize) -> Result<B> + Send + Sync + 'static,
    {
        let mut prefetch = Prefetch {
            start: batches.start,
            receivers: Vec::with_capacity(workers),
            workers: Vec::with_capacity(workers),
        };
        for w in 0..workers {
            let (send, receive) = sync_channel(depth);
            let make_batch = make_batch.clone();
            let mine = (batches.start + w..batches.end).step_by(workers);
            let handle = thread::Builder::new()
                .name(format!("vgg-loader-{w}"))
                .spawn(move || {
                    for k in mine {
                        let batch = make_batch(k);
                        let failed = batch.is_err();
                        if send.send(batch).is_err() || failed {
                            return; // consumer gone, or nothing more to do after an error
                        }
                    }
                })
                .map_err(|e| Error::Loader(format!("cannot start worker thread {w}: {e}")))?;
            prefetch.receivers.push(receive);
            prefetch.workers.push(handle);
        }
        Ok(prefetch)
    }

    /// Waits for batch `k`. Batches must be asked for in order.
    pub(super) fn recv(&self, k: usize) -> Result<B> {
        let w = (k - self.start) % self.receivers.len();
        self.receivers[w].recv().map_err(|_| {
            Error::Loader(format!(
                "worker thread {w} stopped before sending batch {k} (it panicked?)"
            ))
        })?
    }
}

impl<B> Drop for Prefetch<B> {
    fn drop(&mut self) {
        self.receivers.clear(); // workers' next send fails, and they return
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}
