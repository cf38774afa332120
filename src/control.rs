//! What a long computation shares with whoever started it: a cancel flag it
//! polls (Ctrl-C from Python sets it), progress it reports, and warnings it
//! leaves for the caller.
//!
//! Long loops call [`Control::check`] (or test [`Control::cancelled`] inside
//! parallel loops, then `check` after them) often enough to stop within a
//! fraction of a second; a cancelled computation returns
//! [`Error::Interrupted`] and its results are thrown away, so nothing the
//! caller owns is changed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};

#[derive(Debug, Default)]
pub struct Control {
    cancelled: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
    warnings: Mutex<Vec<String>>,
}

impl Control {
    pub fn new() -> Self {
        Control::default()
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// `Err(Interrupted)` once cancelled.
    pub fn check(&self) -> Result<()> {
        if self.cancelled() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Report `done` of `total` steps, and check for cancellation.
    pub fn progress(&self, done: usize, total: usize) -> Result<()> {
        self.total.store(total as u64, Ordering::Relaxed);
        self.done.store(done as u64, Ordering::Relaxed);
        self.check()
    }

    /// The last progress reported, `(done, total)`.
    pub fn position(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }

    /// Leave a warning for the caller (shown as a Python `UserWarning`).
    pub fn warn(&self, message: impl Into<String>) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(message.into());
        }
    }

    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }
}
