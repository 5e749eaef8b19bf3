//! Where reloads are built: two threads that take turns, so that a new zone is never built in
//! the heap that holds the zone it replaces.
//!
//! glibc's malloc serves each thread from an arena of its own (while it has one to give: eight
//! per core), and a zone is hundreds of thousands of small blocks. Built on the thread that
//! built the zone it replaces, a new zone filled the holes around the live one; once the old
//! zone was freed, what it left and the new zone shared pages, which no `malloc_trim` can
//! return. A 250,000-record zone took 68 MiB after the first reload and 115 MiB after ten
//! (`malloc_stats`: 48 MB in use in 130 MB of that thread's arena, the free space in 140,000
//! pieces between live blocks). Taking turns, a load finds its thread's arena empty, the zone
//! built there two loads ago freed and trimmed, and lays the zone out as compactly as the first
//! load: 68 MiB after ten reloads. One long-lived thread, or fewer arenas (`M_ARENA_MAX`), grows
//! as before. Under another allocator the turns are merely two threads.
//!
//! Only the writer loads, one load at a time, so a turn's thread is always idle when its turn
//! comes. The threads start at the first reload and end when the writer is dropped.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;

use tokio::sync::oneshot;
use tracing::warn;

type Job = Box<dyn FnOnce() + Send>;

/// Two: the arena of the live zone, and the one the next load is built in.
const TURNS: usize = 2;

/// The loading threads, started on first use.
#[derive(Default)]
pub struct Loaders {
    threads: [Option<mpsc::Sender<Job>>; TURNS],
    next: usize,
}

impl Loaders {
    /// Runs `load` on the thread whose turn it is, off the runtime's threads (which serve TCP
    /// and the API meanwhile), and waits for its result.
    ///
    /// # Panics
    /// With `load`'s panic, if it panics, as a `spawn_blocking` task's would be resumed.
    pub async fn run<T: Send + 'static>(&mut self, load: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(panic::catch_unwind(AssertUnwindSafe(load)));
        });
        let turn = self.next;
        self.next = (turn + 1) % TURNS;
        if let Err(job) = self.send(turn, job) {
            // No thread of its own (one could not be started): tokio's blocking pool, which
            // loads all the same, into whichever arena its thread has.
            drop(tokio::task::spawn_blocking(job));
        }
        // The job always sends: its thread runs every job it is given, and catches its panic.
        match result.await.expect("a loading job sends its result before it is dropped") {
            Ok(loaded) => loaded,
            Err(panicked) => panic::resume_unwind(panicked),
        }
    }

    /// Hands `job` to the thread of `turn`, starting the thread if it has not started.
    fn send(&mut self, turn: usize, job: Job) -> Result<(), Job> {
        if self.threads[turn].is_none() {
            let (jobs, inbox) = mpsc::channel::<Job>();
            let started = thread::Builder::new().name(format!("meridian-load-{turn}")).spawn(move || {
                for job in inbox {
                    job();
                }
            });
            match started {
                Ok(_) => self.threads[turn] = Some(jobs),
                Err(error) => {
                    warn!(%error, "cannot start a loading thread; loading on the blocking pool");
                    return Err(job);
                }
            }
        }
        let thread = self.threads[turn].as_ref().expect("started above");
        thread.send(job).map_err(|unsent| unsent.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().expect("a runtime")
    }

    #[test]
    fn loads_take_turns_on_two_threads_of_their_own() {
        let mut loaders = Loaders::default();
        let names: Vec<String> = runtime().block_on(async {
            let mut names = Vec::new();
            for _ in 0..4 {
                names.push(loaders.run(|| thread::current().name().unwrap_or_default().to_owned()).await);
            }
            names
        });
        assert_eq!(names, ["meridian-load-0", "meridian-load-1", "meridian-load-0", "meridian-load-1"]);
    }

    #[test]
    fn a_panicking_load_panics_the_caller_and_the_thread_loads_again() {
        let mut loaders = Loaders::default();
        let runtime = runtime();
        let panicked = panic::catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(loaders.run(|| -> u32 { panic!("bad zone") }));
        }));
        let message = panicked.expect_err("the load's panic reaches the caller");
        assert_eq!(message.downcast_ref::<&str>(), Some(&"bad zone"));
        loaders.next = 0; // the same thread's turn again
        assert_eq!(runtime.block_on(loaders.run(|| 7)), 7);
    }
}
