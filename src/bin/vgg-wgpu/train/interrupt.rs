//! Stopping a run from outside: SIGINT (Ctrl-C) and SIGTERM (`kill`, `docker stop`, a
//! batch system's time limit). The first asks the training loop to stop after its step
//! and write a checkpoint; a second exits at once, without one. An interrupted run exits
//! with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as a shell reports
//! a process that a signal ended, so scripts and schedulers see it did not finish.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};

pub struct Interrupt {
    /// Set by the first signal; the training loop reads it after each step.
    pub stop: Arc<AtomicBool>,
    /// The first signal received, 0 before.
    signal: Arc<AtomicI32>,
}

impl Interrupt {
    /// Starts listening for the signals. A system that refuses the handlers gets a note:
    /// the run trains on, and a signal ends it as it would any program.
    pub fn listen() -> Interrupt {
        let interrupt = Interrupt {
            stop: Arc::new(AtomicBool::new(false)),
            signal: Arc::new(AtomicI32::new(0)),
        };
        if let Err(e) = interrupt.install() {
            eprintln!("note: Ctrl-C and SIGTERM will end training without a checkpoint: {e}");
        }
        interrupt
    }

    /// The exit code of a run that stopped on request: 128 + the signal this process
    /// received, or SIGINT's 130 where another process of a distributed run received it.
    pub fn exit_code(&self) -> ExitCode {
        let signal = match self.signal.load(Ordering::SeqCst) {
            0 => SIGINT,
            signal => signal,
        };
        ExitCode::from((128 + signal) as u8)
    }

    /// A thread that reports each signal as it comes; it can print, which a signal
    /// handler cannot.
    #[cfg(unix)]
    fn install(&self) -> std::io::Result<()> {
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        let (stop, first) = (self.stop.clone(), self.signal.clone());
        std::thread::spawn(move || {
            for signal in signals.forever() {
                if stop.swap(true, Ordering::SeqCst) {
                    eprintln!("\ninterrupted twice: exiting without a checkpoint");
                    std::process::exit(128 + signal);
                }
                first.store(signal, Ordering::SeqCst);
                let again = match signal {
                    SIGINT => "Ctrl-C",
                    _ => "SIGTERM",
                };
                eprintln!(
                    "\nstopping after this step and saving a checkpoint ({again} again to abort)"
                );
            }
        });
        Ok(())
    }

    /// Without Unix's signal thread (Windows): the same stop and abort, unannounced, and
    /// an interrupted run exits 130 whichever signal stopped it.
    #[cfg(not(unix))]
    fn install(&self) -> std::io::Result<()> {
        use signal_hook::flag;
        for signal in [SIGINT, SIGTERM] {
            // Registered first, so it sees the flag as it was before this signal set it.
            flag::register_conditional_shutdown(signal, 128 + signal, self.stop.clone())?;
            flag::register(signal, self.stop.clone())?;
        }
        Ok(())
    }
}
