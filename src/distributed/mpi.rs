//! [`MpiWorld`]: the ranks of an `mpirun` job and the collectives data-parallel
//! training needs, each bounded by a timeout.
//!
//! # Timeouts
//!
//! Every collective is started with MPI's nonblocking form (`MPI_Iallreduce`,
//! `MPI_Ibcast`, ...) and polled with `MPI_Test` until it completes or the call's
//! deadline passes (the timeout covers the whole call, all its pieces). On a timeout
//! the call returns [`Error::Distributed`] naming the rank, the operation and the
//! timeout. MPI cannot cancel a collective, so the request stays pending: its
//! buffers (internal copies, never the caller's) are leaked so that MPI may still
//! write them, the world is marked broken (every later call fails at once), and its
//! drop skips `MPI_Finalize`, which would wait for the missing peer. The process is
//! then expected to report the error and exit non-zero; `mpirun` ends the other
//! ranks when one exits without finalizing.
//!
//! # What Open MPI does when a rank dies
//!
//! A rank that exits (crash, `exit`, signal) before `MPI_Finalize` is noticed by
//! `mpirun` itself, which kills every other rank of the job at once and exits
//! non-zero with a message naming the rank that died. With Open MPI 4.1 (Debian 12),
//! measured by `tests/mpi.rs` on one machine, the job ends about a second after the
//! death, whatever the survivors' timeout:
//! - `exit(3)`: "mpirun detected that one or more processes exited with non-zero
//!   status ... Process name: [[..],1] Exit code: 3"; mpirun exits 3.
//! - a signal (`abort()`): "mpirun noticed that process rank 1 with PID .. exited on
//!   signal 6 (Aborted)"; mpirun exits 134.
//! - `exit(0)` without finalizing: "mpirun has exited due to process rank 1 ..
//!   exiting improperly ... exited without calling "finalize""; mpirun exits 1.
//!
//! The survivors are killed by mpirun in whatever call they are in,
//! and print nothing themselves: mpirun's message is the report. The timeout
//! matters for a rank that is alive but stuck (a hung GPU, a deadlock, a rank that
//! took another branch): MPI sees nothing wrong there, and without the deadline the
//! others would wait forever. MPI errors themselves keep MPI's default handler
//! (`MPI_ERRORS_ARE_FATAL`): an error inside MPI (a lost connection) aborts the
//! job with MPI's message.
//!
//! # Identical results on every rank
//!
//! [`MpiWorld::all_reduce_sum`] must give the same bits on every rank, or the
//! replicas drift apart. Floating-point sums depend on their order, and the MPI
//! standard only recommends (MPI-4.0, 6.9.1 "advice to implementors") that an
//! all-reduce give the same result on all processes. Open MPI's algorithms do:
//! reduce-then-broadcast and ring all-reduce compute each element's sum once and
//! copy it, and recursive doubling has both partners of each step add the same two
//! partial sums (IEEE addition is commutative, so `a + b` and `b + a` are the same
//! bits). The self-test (`tests/mpi.rs`) checks the bits on every rank; a trainer
//! can check its replicas with [`MpiWorld::agree`] on a hash of the weights.
//!
//! # Threads
//!
//! MPI is started with `MPI_THREAD_SERIALIZED`: a world may be moved to another
//! thread (it is `Send`, not `Sync`, so calls never overlap). Where the library
//! provides less, calls from a thread other than the one that called
//! [`MpiWorld::init`] fail with an error.

use std::cell::Cell;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::request::{Request, Scope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Threading;

use super::{describe_disagreement, timeout_message};
use crate::{Error, Result};

/// The largest piece one MPI call moves, in bytes: MPI counts are `i32`, and a
/// bounded piece bounds what a timeout leaks.
const PIECE_BYTES: usize = 64 << 20;

/// The processes of an `mpirun` job (`MPI_COMM_WORLD`). Started alone (not by
/// `mpirun`), the process is a world of size 1 whose collectives return at once.
///
/// MPI is finalized when the world is dropped (except after a timeout, see the
/// module docs); MPI can be started only once per process.
pub struct MpiWorld {
    // `None` only inside `drop`.
    universe: Option<Universe>,
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// Set by a timed-out collective: the operation that timed out.
    broken: Cell<Option<&'static str>>,
    /// The thread allowed to call MPI when the library is below SERIALIZED.
    only_thread: Option<ThreadId>,
}

// SAFETY: MPI is initialized with MPI_THREAD_SERIALIZED, which allows MPI calls from
// any thread as long as they do not overlap; `MpiWorld` is not `Sync` (the `Cell`),
// so its calls are serialized. Where the library provided less, `only_thread`
// confines every call to the initializing thread (checked in `usable`).
unsafe impl Send for MpiWorld {}

impl MpiWorld {
    /// Starts MPI (`MPI_Init_thread`). Under `mpirun`, the world is the job's ranks;
    /// started alone, a world of one rank.
    ///
    /// Errors when MPI was already started in this process. A failure inside
    /// `MPI_Init` itself (no `orted`, a broken installation) is reported by Open MPI
    /// on stderr and ends the process: MPI gives no way to return it.
    pub fn init() -> Result<MpiWorld> {
        let (universe, provided) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| Error::Distributed {
                message: "MPI was already initialized in this process (MpiWorld::init may be called once)"
                    .to_string(),
            })?;
        let world = universe.world();
        let (rank, size) = (world.rank(), world.size());
        let only_thread = (provided < Threading::Serialized).then(|| thread::current().id());
        Ok(MpiWorld {
            universe: Some(universe),
            world,
            rank: usize::try_from(rank).unwrap_or(0),
            size: usize::try_from(size).unwrap_or(1),
            broken: Cell::new(None),
            only_thread,
        })
    }

    /// This process's rank, `0..size()`. Rank 0 writes checkpoints and metrics.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks in the job.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Sums `values` over all ranks, in place: afterwards every rank holds the same
    /// sums, bit for bit (see the module docs). Every rank must call it with the same
    /// length, in the same order relative to the other collectives.
    ///
    /// # Shapes
    /// `values`: any length, the same on every rank.
    ///
    /// # Errors
    /// [`Error::Distributed`] "rank R: gradient exchange timed out after Ns: ..." when
    /// the ranks have not all joined within `timeout` (the whole call); `values` is
    /// then unchanged.
    pub fn all_reduce_sum(&self, values: &mut [f32], timeout: Duration) -> Result<()> {
        const WHAT: &str = "gradient exchange";
        self.usable(WHAT)?;
        if self.size == 1 {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let piece = PIECE_BYTES / size_of::<f32>();
        // One piece at a time through owned buffers: on a timeout they are leaked,
        // never `values`. Only complete results are copied back, so a timeout
        // leaves `values` as it was.
        let mut sums = Vec::with_capacity(values.len());
        for chunk in values.chunks(piece) {
            let send = chunk.to_vec();
            let mut recv = vec![0f32; chunk.len()];
            let done = mpi::request::scope(|scope| {
                let request = self.world.immediate_all_reduce_into(
                    scope,
                    &send[..],
                    &mut recv[..],
                    SystemOperation::sum(),
                );
                self.poll(request, WHAT, deadline, timeout)
            });
            if let Err(e) = done {
                std::mem::forget(send);
                std::mem::forget(recv);
                return Err(e);
            }
            sums.extend_from_slice(&recv);
        }
        values.copy_from_slice(&sums);
        Ok(())
    }

    /// Checks that every rank was started the same way. Each rank gives a
    /// `description` of its configuration (e.g. the serialized training config);
    /// `what` is a plural noun for the message ("configurations").
    ///
    /// # Errors
    /// On every rank, when the descriptions differ: [`Error::Distributed`] naming the
    /// first difference and the ranks, e.g. "ranks started with different
    /// configurations: rank 0 has `lr=0.01`, rank 1 has `lr=0.02`". A timeout as for
    /// [`Self::all_reduce_sum`].
    pub fn agree(&self, what: &str, description: &str, timeout: Duration) -> Result<()> {
        const WHAT: &str = "configuration check";
        self.usable(WHAT)?;
        if self.size == 1 {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        // Every rank's length, then every description padded to the longest.
        let length = [description.len() as u64];
        let mut lengths = vec![0u64; self.size];
        self.all_gather(&length[..], &mut lengths, WHAT, deadline, timeout)?;
        let longest = lengths.iter().copied().max().unwrap_or(0) as usize;
        if longest == 0 {
            // All empty. (Open MPI also rejects a gather of empty buffers, whose
            // dangling pointers are equal, as an in-place call without MPI_IN_PLACE.)
            return Ok(());
        }
        let mut padded = description.as_bytes().to_vec();
        padded.resize(longest, 0);
        let mut all = vec![0u8; longest * self.size];
        self.all_gather(&padded[..], &mut all, WHAT, deadline, timeout)?;
        let descriptions: Vec<String> = all
            .chunks(longest)
            .zip(&lengths)
            .map(|(bytes, &len)| String::from_utf8_lossy(&bytes[..len as usize]).into_owned())
            .collect();
        match describe_disagreement(what, &descriptions) {
            None => Ok(()),
            Some(message) => Err(Error::Distributed { message }),
        }
    }

    /// Sends `bytes` from rank `root` to every rank: afterwards `bytes` on every rank
    /// equals root's (resized as needed). Used at start to give every replica rank
    /// 0's checkpoint.
    ///
    /// # Errors
    /// `root` out of range; a timeout as for [`Self::all_reduce_sum`] (a non-root
    /// `bytes` is then unspecified).
    pub fn broadcast_bytes(
        &self,
        root: usize,
        bytes: &mut Vec<u8>,
        timeout: Duration,
    ) -> Result<()> {
        const WHAT: &str = "broadcast";
        self.usable(WHAT)?;
        if root >= self.size {
            return Err(Error::Distributed {
                message: format!(
                    "rank {}: broadcast from rank {root}, but the job has {} ranks",
                    self.rank, self.size
                ),
            });
        }
        if self.size == 1 {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let process = self.world.process_at_rank(root as i32);
        let mut length = vec![bytes.len() as u64];
        self.broadcast(&process, &mut length, WHAT, deadline, timeout)?;
        let length = length[0] as usize;
        if self.rank != root {
            bytes.clear();
            bytes.resize(length, 0);
        }
        for chunk in bytes.chunks_mut(PIECE_BYTES) {
            let mut piece = chunk.to_vec();
            self.broadcast(&process, &mut piece, WHAT, deadline, timeout)?;
            chunk.copy_from_slice(&piece);
        }
        Ok(())
    }

    /// Waits until every rank has reached it.
    ///
    /// # Errors
    /// A timeout as for [`Self::all_reduce_sum`].
    pub fn barrier(&self, timeout: Duration) -> Result<()> {
        const WHAT: &str = "barrier";
        self.usable(WHAT)?;
        if self.size == 1 {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let request = self.world.immediate_barrier();
        self.poll(request, WHAT, deadline, timeout)
    }

    /// Ends every rank of the job at once with `code` (`MPI_Abort`): for a rank that
    /// failed on its own (a data error) while the others wait in a collective.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    /// Errors when a timeout broke the world or the call comes from a thread MPI
    /// does not allow.
    fn usable(&self, what: &str) -> Result<()> {
        if let Some(earlier) = self.broken.get() {
            return Err(Error::Distributed {
                message: format!(
                    "rank {}: {what} after the {earlier} timed out: MPI can no longer be used in this process",
                    self.rank
                ),
            });
        }
        if let Some(only) = self.only_thread {
            if thread::current().id() != only {
                return Err(Error::Distributed {
                    message: format!(
                        "rank {}: {what} called from another thread than MpiWorld::init, which this MPI library does not support",
                        self.rank
                    ),
                });
            }
        }
        Ok(())
    }

    /// `MPI_Iallgather` of `send` into `recv` (`recv.len() == send.len() * size`),
    /// through owned buffers that a timeout leaks.
    fn all_gather<T: Equivalence + Copy + Default>(
        &self,
        send: &[T],
        recv: &mut [T],
        what: &'static str,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<()> {
        let send = send.to_vec();
        let mut buffer = vec![T::default(); recv.len()];
        let done = mpi::request::scope(|scope| {
            let request = self
                .world
                .immediate_all_gather_into(scope, &send[..], &mut buffer[..]);
            self.poll(request, what, deadline, timeout)
        });
        if let Err(e) = done {
            std::mem::forget(send);
            std::mem::forget(buffer);
            return Err(e);
        }
        recv.copy_from_slice(&buffer);
        Ok(())
    }

    /// `MPI_Ibcast` of `buffer` (owned, leaked on a timeout) from `root`.
    fn broadcast<T: Equivalence>(
        &self,
        root: &mpi::topology::Process<'_>,
        buffer: &mut Vec<T>,
        what: &'static str,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<()> {
        let done = mpi::request::scope(|scope| {
            let request = root.immediate_broadcast_into(scope, &mut buffer[..]);
            self.poll(request, what, deadline, timeout)
        });
        if done.is_err() {
            std::mem::forget(std::mem::take(buffer));
        }
        done
    }

    /// Polls `request` with `MPI_Test` until it completes or `deadline` passes. On a
    /// timeout the request is released from its scope without completing (its
    /// buffers must then be leaked by the caller) and the world is marked broken.
    fn poll<'a, D: ?Sized, S: Scope<'a>>(
        &self,
        request: Request<'a, D, S>,
        what: &'static str,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<()> {
        let mut request = request;
        let mut polls = 0u32;
        loop {
            match request.test() {
                Ok(_) => return Ok(()),
                Err(pending) => request = pending,
            }
            if Instant::now() >= deadline {
                // SAFETY: the raw request is never used again and never completed;
                // the caller leaks the buffers it refers to, so MPI may write them
                // at any later time.
                let _ = unsafe { request.into_raw() };
                self.broken.set(Some(what));
                return Err(Error::Distributed {
                    message: timeout_message(self.rank, what, timeout),
                });
            }
            // Spin briefly (buckets of a step complete within microseconds of each
            // other), then back off so a long wait does not hold a core.
            polls = polls.saturating_add(1);
            if polls < 1000 {
                std::hint::spin_loop();
            } else if polls < 2000 {
                thread::yield_now();
            } else {
                thread::sleep(Duration::from_micros(200));
            }
        }
    }
}

impl Drop for MpiWorld {
    fn drop(&mut self) {
        let universe = self.universe.take();
        if self.broken.get().is_some() {
            // MPI_Finalize would wait for the peer that never came; leave finalizing
            // undone (mpirun then ends the job) rather than hang at exit.
            std::mem::forget(universe);
        }
        // Otherwise dropping the universe calls MPI_Finalize.
    }
}
