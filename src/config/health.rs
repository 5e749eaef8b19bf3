//! Validation of health checks and manual states (`check = {...}`, `state = "drain"`).

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::file::{FileCheck, FileDuration, FileStatus};
use super::names::{shown, shown_duration};
use super::{Problem, bounded, bounded_in};

/// What a probe does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CheckKind {
    Tcp,
    Http,
    Https,
}

impl CheckKind {
    /// The kind as written in the configuration and shown by the API: `tcp`, `http` or `https`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckKind::Tcp => "tcp",
            CheckKind::Http => "http",
            CheckKind::Https => "https",
        }
    }
}

/// A validated health check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckConfig {
    pub kind: CheckKind,
    /// The local address probes are sent from (`server.probe_source`); `None`: any.
    pub source: Option<IpAddr>,
    /// The address to probe instead of the endpoint's.
    pub address: Option<IpAddr>,
    pub port: u16,
    pub path: String,
    pub host: Option<String>,
    pub method: String,
    /// Accepted status codes, as inclusive ranges.
    pub expect: Vec<(u16, u16)>,
    pub body: Option<String>,
    /// The most bytes of the body a probe reads looking for `body`.
    pub max_body_bytes: usize,
    pub verify_tls: bool,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    pub initial_up: bool,
    pub degraded_rtt: Option<Duration>,
    pub degraded_status: Vec<(u16, u16)>,
    pub flap_limit: u32,
    pub flap_window: Duration,
    pub hold_down: Duration,
    /// Where the probe reads the endpoint's load, if it does (set from the endpoint's `load`).
    pub load: Option<super::load::LoadRead>,
}

/// A state set by hand, over whatever the checks say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManualState {
    #[default]
    Auto,
    /// Never served.
    Drain,
    /// Served whatever the checks say.
    ForceUp,
}

impl ManualState {
    /// The state as written in the configuration and shown by the API: `auto`, `drain` or
    /// `force_up`.
    pub fn as_str(self) -> &'static str {
        match self {
            ManualState::Auto => "auto",
            ManualState::Drain => "drain",
            ManualState::ForceUp => "force_up",
        }
    }
}

/// When no endpoint of a pool can be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenAllDown {
    /// Answer with every configured endpoint (gdnsd, Route 53).
    #[default]
    FailOpen,
    ServFail,
    NoData,
}

/// The longest duration a setting may have. Every duration here is an interval, a timeout or a
/// hold of seconds to hours; a week keeps sums such as `now + hold` far from overflowing.
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses "500ms", "5s", "2m", "1h" or a number of seconds, up to a week.
pub fn duration(value: &FileDuration, at: &str, problems: &mut Vec<Problem>) -> Option<Duration> {
    let parsed = match value {
        FileDuration::Secs(s) if *s < 0 => {
            problems.push(Problem::new(at, format!("{s} is negative: a duration is 0 seconds or more")));
            return None;
        }
        FileDuration::Secs(s) => u64::try_from(*s).ok().and_then(|s| s.checked_mul(1_000)),
        FileDuration::Text(text) => {
            let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let unit_ms: Option<u64> = match unit.trim() {
                "ms" => Some(1),
                "s" | "" => Some(1_000),
                "m" => Some(60_000),
                "h" => Some(3_600_000),
                _ => None,
            };
            let Some((n, ms)) = number.parse::<u64>().ok().zip(unit_ms) else {
                problems.push(Problem::new(
                    at,
                    format!(
                        "{value} is not a duration: write a whole number and a unit (ms, s, m or h), such as \"500ms\", \"5s\", \"2m\" or \"1h\""
                    ),
                ));
                return None;
            };
            // Past u64 milliseconds is past a week all the same.
            Some(n.saturating_mul(ms))
        }
    };
    let parsed = parsed.map_or(Duration::MAX, Duration::from_millis);
    if parsed > MAX_DURATION {
        problems.push(Problem::new(
            at,
            format!("{value} is longer than a week ({}), the longest a duration may be", shown_duration(MAX_DURATION)),
        ));
        return None;
    }
    Some(parsed)
}

/// An optional duration with its default; a bad one is reported and the default used.
pub fn duration_or(value: Option<&FileDuration>, default: Duration, at: &str, problems: &mut Vec<Problem>) -> Duration {
    value.and_then(|v| duration(v, at, problems)).unwrap_or(default)
}

/// The status codes HTTP defines (RFC 9110 section 15).
const STATUS_CODES: RangeInclusive<u16> = 100..=599;

fn statuses(list: &[FileStatus], at: &str, problems: &mut Vec<Problem>) -> Vec<(u16, u16)> {
    let mut ranges = Vec::new();
    let code = |n: i64| u16::try_from(n).ok().filter(|c| STATUS_CODES.contains(c));
    for (i, status) in list.iter().enumerate() {
        let (range, rule) = match status {
            FileStatus::Code(c) => (code(*c).map(|c| (c, c)), "an HTTP status code is 100 to 599"),
            FileStatus::Range(text) => {
                let ends =
                    text.split_once('-').and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
                let range = ends.and_then(|(a, b): (i64, i64)| Some((code(a)?, code(b)?))).filter(|(a, b)| a <= b);
                (range, "a range is FIRST-LAST, both 100 to 599 and FIRST no greater than LAST, such as \"200-299\"")
            }
        };
        match range {
            Some(r) => ranges.push(r),
            None => problems.push(Problem::new(format!("{at}[{i}]"), format!("{status} is not a status code: {rule}"))),
        }
    }
    ranges
}

fn count(value: Option<i64>, default: u32, at: &str, problems: &mut Vec<Problem>) -> u32 {
    bounded(value, i64::from(default), 1..=100, at, problems) as u32
}

/// The state machine remembers 16 falls, so a hold can trigger at most after 15.
fn flap_limit(value: Option<i64>, at: &str, problems: &mut Vec<Problem>) -> u32 {
    bounded(value, 5, 1..=15, at, problems) as u32
}

/// The body bytes a probe reads looking for `body` unless told otherwise: a health page of a
/// few lines fits many times over, while a target streaming without end costs each probe this
/// much and no more. HAProxy's `tune.bufsize` (16 KiB) and Envoy's `response_buffer_size`
/// (1 KiB) bound their body matches in the same way.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// The most `max_body_bytes` may be: 64 probes at once, each holding at most this, stay far
/// below what a server has; a health page larger than this is not a health page.
const MAX_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

fn max_body_bytes(value: Option<i64>, at: &str, problems: &mut Vec<Problem>) -> usize {
    let (default, most) = (DEFAULT_MAX_BODY_BYTES as i64, MAX_MAX_BODY_BYTES as i64);
    // Within 1..=16 MiB, so the conversion cannot fail; the default stands in if it did.
    usize::try_from(bounded_in(value, default, 1..=most, " bytes", at, problems)).unwrap_or(DEFAULT_MAX_BODY_BYTES)
}

/// Validates a check; `at` is its path, e.g. `region[0].check`.
pub fn check(file: &FileCheck, at: &str, problems: &mut Vec<Problem>) -> Option<CheckConfig> {
    let before = problems.len();
    let kind = match file.kind.as_str() {
        "tcp" => CheckKind::Tcp,
        "http" => CheckKind::Http,
        "https" => CheckKind::Https,
        other => {
            problems
                .push(Problem::new(format!("{at}.type"), format!("{} is not one of tcp, http, https", shown(other))));
            CheckKind::Tcp
        }
    };
    let default_port = match kind {
        CheckKind::Https => 443,
        _ => 80,
    };
    let port = match file.port.unwrap_or(default_port) {
        p @ 1..=65535 => p as u16,
        p => {
            problems.push(Problem::new(format!("{at}.port"), format!("{p} is not a port: 1 to 65535")));
            0
        }
    };
    let address = file.address.as_ref().and_then(|a| match a.parse() {
        Ok(ip) => Some(ip),
        Err(_) => {
            problems.push(Problem::new(format!("{at}.address"), format!("{} is not an IP address", shown(a))));
            None
        }
    });
    let path = file.path.clone().unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        problems.push(Problem::new(format!("{at}.path"), format!("{} does not start with /", shown(&path))));
    }
    http_target(&path, file.host.as_deref(), at, problems);
    let method = file.method.clone().unwrap_or_else(|| "GET".into()).to_ascii_uppercase();
    if !["GET", "HEAD", "POST", "OPTIONS"].contains(&method.as_str()) {
        problems.push(Problem::new(
            format!("{at}.method"),
            format!("{} is not one of GET, HEAD, POST, OPTIONS", shown(&method)),
        ));
    }
    let mut expect = statuses(&file.expect, &format!("{at}.expect"), problems);
    if expect.is_empty() {
        expect.push((200, 399));
    }
    let secs = |v: &Option<FileDuration>, default: Duration, name: &str, problems: &mut Vec<Problem>| {
        v.as_ref().map_or(Some(default), |v| duration(v, &format!("{at}.{name}"), problems)).unwrap_or(default)
    };
    let interval = secs(&file.interval, Duration::from_secs(5), "interval", problems);
    let timeout = secs(&file.timeout, Duration::from_secs(2), "timeout", problems);
    interval_and_timeout(file, (interval, timeout), at, problems);
    let initial_up = match file.initial.as_deref() {
        None | Some("up") => true,
        Some("down") => false,
        Some(other) => {
            problems.push(Problem::new(format!("{at}.initial"), format!("{} is not one of up, down", shown(other))));
            true
        }
    };
    let degraded_rtt = file.degraded_rtt.as_ref().and_then(|v| duration(v, &format!("{at}.degraded_rtt"), problems));
    let config = CheckConfig {
        kind,
        source: None, // set from server.probe_source once the regions are validated
        address,
        port,
        path,
        host: file.host.clone(),
        method,
        expect,
        body: file.body.clone(),
        max_body_bytes: max_body_bytes(file.max_body_bytes, &format!("{at}.max_body_bytes"), problems),
        verify_tls: file.verify_tls.unwrap_or(true),
        interval,
        timeout,
        rise: count(file.rise, 2, &format!("{at}.rise"), problems),
        fall: count(file.fall, 3, &format!("{at}.fall"), problems),
        initial_up,
        degraded_rtt,
        degraded_status: statuses(&file.degraded_status, &format!("{at}.degraded_status"), problems),
        flap_limit: flap_limit(file.flap_limit, &format!("{at}.flap_limit"), problems),
        flap_window: secs(&file.flap_window, Duration::from_secs(300), "flap_window", problems),
        hold_down: secs(&file.hold_down, Duration::from_secs(60), "hold_down", problems),
        load: None,
    };
    (problems.len() == before).then_some(config)
}

/// The shortest interval between probes: shorter, and probes are load rather than checks.
const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// A probe's timeout is at most this many intervals (of at least a second), so that a target
/// that stops answering holds a few probes at once, not a pile of them.
const TIMEOUT_INTERVALS: u32 = 4;

/// Checks the interval and the timeout against each other; the messages quote the values as
/// written and state the limits with their numbers.
fn interval_and_timeout(
    file: &FileCheck,
    (interval, timeout): (Duration, Duration),
    at: &str,
    problems: &mut Vec<Problem>,
) {
    let written = |value: &Option<FileDuration>, parsed: Duration| match value {
        Some(value) => value.to_string(),
        None => format!("{} (the default)", shown_duration(parsed)),
    };
    if interval < MIN_INTERVAL {
        problems.push(Problem::new(
            format!("{at}.interval"),
            format!(
                "{} is shorter than {}, the shortest interval between probes",
                written(&file.interval, interval),
                shown_duration(MIN_INTERVAL)
            ),
        ));
    }
    let longest = interval.max(Duration::from_secs(1)) * TIMEOUT_INTERVALS;
    if timeout.is_zero() {
        problems.push(Problem::new(
            format!("{at}.timeout"),
            format!("{} leaves a probe no time: a timeout is longer than 0", written(&file.timeout, timeout)),
        ));
    } else if timeout > longest {
        let rule = if interval >= Duration::from_secs(1) {
            format!("{TIMEOUT_INTERVALS} intervals of {}", shown_duration(interval))
        } else {
            format!("{TIMEOUT_INTERVALS} × 1s, for an interval under 1s")
        };
        problems.push(Problem::new(
            format!("{at}.timeout"),
            format!(
                "{} is longer than {} ({rule}), the longest a timeout may be",
                written(&file.timeout, timeout),
                shown_duration(longest)
            ),
        ));
    }
}

/// The longest check path: a request line a target can be expected to read whole.
const MAX_PATH_BYTES: usize = 2_048;

/// Checks the path and `Host` a probe puts in its URL. Each goes into the request as written,
/// so each must mean only itself: a host with `@`, `/` or `:` would point the URL at another
/// server than the endpoint (reqwest would then resolve that one through DNS), and control
/// characters or spaces in either have no place in a request line or a header.
fn http_target(path: &str, host: Option<&str>, at: &str, problems: &mut Vec<Problem>) {
    if path.len() > MAX_PATH_BYTES || !path.bytes().all(|b| b.is_ascii_graphic()) {
        problems.push(Problem::new(
            format!("{at}.path"),
            format!("{} must be printable ASCII without spaces, at most {MAX_PATH_BYTES} bytes", shown(path)),
        ));
    }
    let is_host_name = |h: &str| {
        // A DNS name (RFC 1123 section 2.1), with '_' as some internal names have it.
        (1..=253).contains(&h.len())
            && h.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    };
    if let Some(host) = host.filter(|h| !is_host_name(h.strip_suffix('.').unwrap_or(h))) {
        problems.push(Problem::new(
            format!("{at}.host"),
            format!("{} is not a host name: letters, digits, '-' and '_' in dot-separated labels", shown(host)),
        ));
    }
}

pub fn manual_state(value: Option<&str>, at: &str, problems: &mut Vec<Problem>) -> ManualState {
    match value {
        None | Some("auto") => ManualState::Auto,
        Some("drain") => ManualState::Drain,
        Some("force_up") => ManualState::ForceUp,
        Some(other) => {
            problems.push(Problem::new(at, format!("{} is not one of auto, drain, force_up", shown(other))));
            ManualState::Auto
        }
    }
}

pub fn when_all_down(value: Option<&str>, at: &str, problems: &mut Vec<Problem>) -> WhenAllDown {
    match value {
        None | Some("fail_open") => WhenAllDown::FailOpen,
        Some("servfail") => WhenAllDown::ServFail,
        Some("nodata") => WhenAllDown::NoData,
        Some(other) => {
            problems.push(Problem::new(at, format!("{} is not one of fail_open, servfail, nodata", shown(other))));
            WhenAllDown::FailOpen
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(extra: &str) -> (Option<CheckConfig>, Vec<Problem>) {
        let file: FileCheck = toml::from_str(&format!("type = \"http\"\n{extra}")).expect("a check table");
        let mut problems = Vec::new();
        (check(&file, "region[0].check", &mut problems), problems)
    }

    #[test]
    fn max_body_bytes_defaults_to_64_kib_and_is_bounded() {
        assert_eq!(checked("").0.map(|c| c.max_body_bytes), Some(65_536));
        for (value, expected) in [("1", 1), ("4096", 4096), ("16777216", 16 * 1024 * 1024)] {
            let max = checked(&format!("max_body_bytes = {value}")).0.map(|c| c.max_body_bytes);
            assert_eq!(max, Some(expected), "{value}");
        }
        for value in ["0", "-1", "16777217", "9223372036854775807"] {
            let (config, problems) = checked(&format!("max_body_bytes = {value}"));
            assert_eq!(config, None, "{value}");
            assert_eq!(problems.len(), 1, "{value}: {problems:?}");
            assert_eq!(problems[0].at, "region[0].check.max_body_bytes", "{value}");
            assert_eq!(problems[0].message, format!("{value} is outside the range 1 to 16777216 bytes"));
        }
    }
}
