//! A resource (the engine, the printer) owned by one worker thread, and the
//! way the interface hands it jobs.
//!
//! A job has two halves: `work` runs on the worker thread with the resource,
//! `apply` runs on the interface's thread with the result. In the
//! application the halves are joined by `slint::invoke_from_event_loop`, so
//! the interface thread never waits for SQLite, a signature check, a printer
//! or the network. Tests use [`Worker::inline`], which runs both halves at
//! once, so a test can click and then look at the screen.

use std::cell::RefCell;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Most jobs waiting for one worker. The interface sends one job per
/// operator action, so a full queue means the worker is stuck, not busy.
pub const WORKER_JOBS_QUEUED_MAX: usize = 32;

type Job<R> = Box<dyn FnOnce(&mut R) + Send>;

enum Mode<R: ?Sized + 'static> {
    Thread {
        jobs: Option<mpsc::SyncSender<Job<R>>>,
        thread: Option<JoinHandle<()>>,
    },
    Inline(RefCell<Box<R>>),
}

pub struct Worker<R: ?Sized + 'static> {
    mode: Mode<R>,
}

impl<R: ?Sized + Send + 'static> Worker<R> {
    /// Starts a thread named `name`; `open` runs on it and builds the resource there.
    pub fn spawn<F>(name: &str, open: F) -> std::io::Result<Worker<R>>
    where
        F: FnOnce() -> Box<R> + Send + 'static,
    {
        let (jobs, queue) = mpsc::sync_channel::<Job<R>>(WORKER_JOBS_QUEUED_MAX);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut resource = open();
                for job in queue {
                    job(&mut resource);
                }
            })?;
        Ok(Worker {
            mode: Mode::Thread {
                jobs: Some(jobs),
                thread: Some(thread),
            },
        })
    }

    /// Runs every job at once on the caller's thread (tests, screenshots).
    pub fn inline(resource: Box<R>) -> Worker<R> {
        Worker {
            mode: Mode::Inline(RefCell::new(resource)),
        }
    }

    /// Runs `work` with the resource, then `apply` with its result on the
    /// interface thread. Returns `false` when the job could not be queued.
    pub fn run<T, W, A>(&self, work: W, apply: A) -> bool
    where
        T: Send + 'static,
        W: FnOnce(&mut R) -> T + Send + 'static,
        A: FnOnce(T) + Send + 'static,
    {
        match &self.mode {
            Mode::Thread {
                jobs: Some(jobs), ..
            } => jobs
                .try_send(Box::new(move |resource: &mut R| {
                    let result = work(resource);
                    // Fails only when the event loop has ended: nobody is left to tell.
                    let _ = slint::invoke_from_event_loop(move || apply(result));
                }))
                .is_ok(),
            Mode::Thread { jobs: None, .. } => false,
            Mode::Inline(resource) => {
                let result = {
                    let mut resource = resource.borrow_mut();
                    work(&mut **resource)
                };
                apply(result);
                true
            }
        }
    }
}

impl<R: ?Sized + 'static> Drop for Worker<R> {
    fn drop(&mut self) {
        if let Mode::Thread { jobs, thread } = &mut self.mode {
            jobs.take();
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}
