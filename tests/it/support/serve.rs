//! `meridian serve` as a child process: its listening addresses and every line it logs,
//! killed on drop. The CLI, cluster, pool-health and open-files tests start the real binary
//! through it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// A `meridian serve` child process, killed on drop.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
    /// Listening addresses logged after the first: (is the admin API, address).
    more: mpsc::Receiver<(bool, SocketAddr)>,
    /// Every line it has logged so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl Served {
    /// The admin API's address, once it is logged.
    pub fn api(&self) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.more.recv_timeout(left).expect("serve logs its API listener") {
                (true, addr) => return addr,
                (false, _) => continue,
            }
        }
    }

    /// The lines logged so far that contain `text`.
    pub fn lines(&self, text: &str) -> Vec<String> {
        self.log.lock().unwrap().iter().filter(|l| l.contains(text)).cloned().collect()
    }

    /// The lines logged so far that contain `text`, once there are at least `count` of them;
    /// panics, showing the log, when there are not within `limit`.
    pub fn wait_for_log(&self, text: &str, count: usize, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            let found = self.lines(text);
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{count} line(s) with {text:?} not logged within {limit:?}; the log:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `meridian serve` (`args`, in `dir`, at log level info) from `command`, prepared by
/// the caller (its environment, say), and waits for its first listening line.
pub fn serve_command(mut command: Command, args: &[&str], dir: &std::path::Path) -> Served {
    let mut child = command
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start meridian serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let log = Arc::new(Mutex::new(Vec::new()));
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("addr=").nth(1) {
                let _ = tx.send((line.contains("admin API"), addr.trim().parse::<SocketAddr>().expect("an address")));
            }
            lines.lock().unwrap().push(line);
        }
    });
    let (_, addr) = rx.recv_timeout(Duration::from_secs(20)).expect("serve logs its listener");
    Served { child, addr, more: rx, log }
}
