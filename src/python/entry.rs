//! The one way a binding runs core work: without the GIL, on a thread pool
//! (cached per thread count and rebuilt after a fork), while the calling
//! thread polls for Ctrl-C and reports progress; warnings the work left are
//! raised as Python warnings afterwards.

use std::ffi::CString;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyUserWarning;
use pyo3::prelude::*;
use rayon::ThreadPool;

use crate::control::Control;
use crate::error::{Error, Result};
use crate::spec;

/// How often the calling thread looks for Ctrl-C and progress.
const POLL: Duration = Duration::from_millis(50);

/// A unit of core work and how to run it.
#[derive(Default)]
pub struct Job {
    threads: Option<usize>,
    progress: Option<Py<PyAny>>,
}

impl Job {
    pub fn new() -> Self {
        Job::default()
    }

    /// Threads as scikit-learn's `n_jobs` counts them (None: all cores).
    pub fn n_jobs(mut self, n_jobs: Option<i64>) -> Self {
        self.threads = spec::threads(n_jobs);
        self
    }

    /// A Python callable `callback(done, total)` for progress reports.
    pub fn progress(mut self, callback: Option<Py<PyAny>>) -> Self {
        self.progress = callback;
        self
    }

    /// Run `work` and return its result.  Ctrl-C cancels the work (it stops
    /// at its next check and its result is dropped) and raises
    /// `KeyboardInterrupt`.
    pub fn run<T: Send>(
        self,
        py: Python<'_>,
        work: impl FnOnce(&Control) -> Result<T> + Send,
    ) -> PyResult<T> {
        let pool = pool(self.threads)?;
        let ctl = Control::new();
        let finished = (Mutex::new(false), Condvar::new());
        let mut result: Option<Result<T>> = None;
        let polled: PyResult<()> = pool.in_place_scope(|scope| {
            let (ctl, finished, result) = (&ctl, &finished, &mut result);
            scope.spawn(move |_| {
                let _done = Finished(finished);
                *result = Some(work(ctl));
            });
            let mut reported = (u64::MAX, 0);
            loop {
                let done = py.detach(|| {
                    let guard = finished.0.lock().unwrap_or_else(|e| e.into_inner());
                    let (guard, _) = finished
                        .1
                        .wait_timeout_while(guard, POLL, |done| !*done)
                        .unwrap_or_else(|e| e.into_inner());
                    *guard
                });
                if let Err(interrupt) = py.check_signals() {
                    ctl.cancel();
                    return Err(interrupt);
                }
                self.report(py, ctl, &mut reported)?;
                if done {
                    return Ok(());
                }
            }
        });
        polled?;
        for message in ctl.take_warnings() {
            let category = py.get_type::<PyUserWarning>();
            let message = CString::new(message).unwrap_or_default();
            PyErr::warn(py, category.as_any(), &message, 2)?;
        }
        match result {
            Some(outcome) => Ok(outcome?),
            None => Err(Error::Interrupted.into()),
        }
    }

    fn report(&self, py: Python<'_>, ctl: &Control, reported: &mut (u64, u64)) -> PyResult<()> {
        let Some(callback) = &self.progress else {
            return Ok(());
        };
        let position = ctl.position();
        if position != *reported && position.1 > 0 {
            *reported = position;
            callback.call1(py, position)?;
        }
        Ok(())
    }
}

/// Marks the work finished when dropped, panic or not, so the polling
/// thread never waits forever.
struct Finished<'a>(&'a (Mutex<bool>, Condvar));

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        let (lock, condvar) = self.0;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        condvar.notify_all();
    }
}

/// Thread pools by thread count (0: rayon's default), with the process that
/// built them: a forked child (Spark and Dask workers) has none of its
/// parent's threads and builds its own.
static POOLS: Mutex<Vec<(usize, u32, Arc<ThreadPool>)>> = Mutex::new(Vec::new());

fn pool(threads: Option<usize>) -> Result<Arc<ThreadPool>> {
    let key = threads.unwrap_or(0);
    let pid = std::process::id();
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, _, pool)) = pools.iter().find(|p| p.0 == key && p.1 == pid) {
        return Ok(pool.clone());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(key)
        .thread_name(|i| format!("patronage-{i}"))
        .build()
        .map_err(|e| Error::argument("n_jobs", format!("could not start the threads: {e}")))?;
    let pool = Arc::new(pool);
    // Pools of a parent process are left alone (their threads do not exist here).
    let stale: Vec<_> = pools
        .iter()
        .filter(|p| p.1 != pid)
        .map(|p| p.2.clone())
        .collect();
    pools.retain(|p| p.1 == pid);
    std::mem::forget(stale);
    pools.push((key, pid, pool.clone()));
    Ok(pool)
}
