//! A large zone reloaded again and again costs no more memory than reloaded once: the real
//! `meridian serve` in a process of its own, whose VmRSS the test reads (scripts/zone_memory
//! measures the same on the release binary, against Knot).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hickory_proto::rr::{RData, RecordType};

use crate::support::TempDir;
use crate::support::client::{self, Q};

/// Records in the zone: enough that a zone's worth of fragmentation stands well above the
/// process's other memory, few enough that a debug build loads it in about a second.
const RECORDS: usize = 40_000;
/// Reloads after the first. Before the fix RSS grew by a fifth at the second reload and kept
/// creeping; with it, it stays within a few hundred KiB.
const MORE_RELOADS: u32 = 3;
/// How far above its level after the first reload RSS may end: allocator noise, well below
/// the growth this test catches (over 20%).
const ALLOWED_GROWTH: f64 = 0.08;

/// The zone of `scripts/zone_memory`, smaller: A at every name, AAAA at every 4th, TXT at
/// every 10th, MX at every 20th.
fn big_zone(serial: u32) -> String {
    let mut zone = format!(
        "$ORIGIN big.test.\n$TTL 3600\n@ SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n\
         @ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n"
    );
    let (mut records, mut i) = (5, 0usize);
    while records < RECORDS {
        let [_, b, c, d] = u32::try_from(i).unwrap().to_be_bytes();
        writeln!(zone, "host{i} A 10.{b}.{c}.{d}").unwrap();
        records += 1;
        if i % 4 == 0 {
            writeln!(zone, "host{i} AAAA 2001:db8::{i:x}").unwrap();
            records += 1;
        }
        if i % 10 == 0 {
            writeln!(zone, "host{i} TXT \"v=spf1 ip4:10.{b}.{c}.0/24 -all\" \"id={i}\"").unwrap();
            records += 1;
        }
        if i % 20 == 0 {
            writeln!(zone, "host{i} MX 10 mail{}", i % 7).unwrap();
            records += 1;
        }
        i += 1;
    }
    zone
}

/// VmRSS of a process, in KiB.
fn rss_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).expect("read /proc/PID/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("VmRSS in kB")
}

fn serial(addr: SocketAddr) -> Option<u32> {
    let reply = client::udp(addr, &Q::new("big.test.", RecordType::SOA));
    reply.answers.iter().find_map(|r| if let RData::SOA(soa) = &r.data { Some(soa.serial) } else { None })
}

/// The child's log lines, as they come.
struct Log(mpsc::Receiver<String>);

impl Log {
    /// The next line holding one of `wanted` (earlier lines are passed over).
    fn wait_for(&self, wanted: &[&str], limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line =
                self.0.recv_timeout(left).unwrap_or_else(|_| panic!("no log line with {wanted:?} within {limit:?}"));
            if wanted.iter().any(|w| line.contains(w)) {
                return line;
            }
        }
    }
}

/// Kills the server however the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn reloading_a_large_zone_again_and_again_costs_no_more_memory_than_once() {
    let dir = TempDir::new("zone-memory");
    dir.write("big.test.zone", &big_zone(1));
    let config = dir.write(
        "meridian.toml",
        "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\n[[zone]]\nfile = \"big.test.zone\"\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start meridian serve");
    let stderr = child.stderr.take().unwrap();
    let server = Killed(child);
    let (lines, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let log = Log(log);
    let limit = Duration::from_secs(60); // a debug build on a busy machine; about 1 s when idle
    let listening = log.wait_for(&["addr="], limit);
    let addr: SocketAddr = listening.split("addr=").nth(1).and_then(|a| a.trim().parse().ok()).expect("an address");
    assert_eq!(serial(addr), Some(1));

    let mut rss = Vec::new();
    for serial_now in 2..=2 + MORE_RELOADS {
        dir.write("big.test.zone", &big_zone(serial_now));
        let pid = server.0.id().to_string();
        assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
        // Logged once the new snapshot is published and the writer has let go of the old
        // one (no query runs meanwhile to hold it): its zone has been freed by then.
        let line = log.wait_for(&["configuration reloaded", "reload rejected"], limit);
        assert!(line.contains("configuration reloaded"), "{line}");
        assert_eq!(serial(addr), Some(serial_now), "the reloaded zone answers");
        rss.push(rss_kib(&server.0));
    }
    let (first, last) = (rss[0] as f64, rss[rss.len() - 1] as f64);
    assert!(
        last <= first * (1.0 + ALLOWED_GROWTH),
        "VmRSS after each reload (KiB): {rss:?}: {:.1}% more after the last than after the first",
        (last / first - 1.0) * 100.0
    );
}
