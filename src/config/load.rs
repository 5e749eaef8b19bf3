//! Validation of load reports (`load = { ... }` on a region or an endpoint) and of shedding
//! (`shed = { high, low }` on a pool): where an endpoint's load is read, what it is divided
//! by, how long a report counts and how it is smoothed.
//!
//! Pure: values in, values out.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Problem;
use super::file::FileDuration;
use super::health::{self, CheckConfig, CheckKind};
use super::names::shown;

/// The highest load a report may give, as a fraction of capacity: ten times full. A higher
/// figure is a broken feeder, not a busy endpoint; `shed.high` is bounded by it too.
pub const MAX_LOAD: f64 = 10.0;

/// The largest `capacity`: enough for any count of connections or requests.
const MAX_CAPACITY: f64 = 1e12;

/// How long a report counts without a check interval to scale from (push-only endpoints).
const UNCHECKED_MAX_AGE: Duration = Duration::from_secs(30);

/// The smoothing half-life without a check interval to take it from.
const UNCHECKED_SMOOTHING: Duration = Duration::from_secs(10);

/// The longest JSON pointer, header name or metric a load is read from.
const MAX_SELECTOR_BYTES: usize = 256;

/// `load = { json = "/connections", capacity = 1000 }`, as written.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileLoad {
    /// A JSON pointer (RFC 6901) into the health check's answer body.
    pub json: Option<String>,
    /// A header of the health check's answer.
    pub header: Option<String>,
    /// A Prometheus text page fetched at the check's interval, e.g. "http://10.0.0.5:9100/metrics".
    pub prometheus: Option<String>,
    /// With `prometheus`: the metric, e.g. "node_load1" or "conns{state=\"active\"}".
    pub metric: Option<String>,
    /// What the read value is divided by (1: the value is already a fraction).
    pub capacity: Option<f64>,
    /// How long a report counts (default 3 × the check interval; 30s unchecked).
    pub max_age: Option<FileDuration>,
    /// The smoothing half-life (default the check interval; 10s unchecked; 0: none).
    pub smoothing: Option<FileDuration>,
}

/// `shed = { high = 0.9, low = 0.75 }`, as written.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileShed {
    pub high: f64,
    pub low: f64,
}

/// Where a probe reads an endpoint's load: part of its check, so that endpoints reading
/// their load differently are probed apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoadRead {
    /// A JSON pointer into the answer's body.
    Json(String),
    /// A header of the answer (lowercase).
    Header(String),
    /// A Prometheus text page: where, and which sample.
    Prometheus { url: MetricsUrl, metric: String },
}

/// An `http://ADDRESS[:PORT]/PATH` URL of a metrics page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetricsUrl {
    pub socket: SocketAddr,
    pub path: String,
    /// As written, for messages and the `Host` header.
    pub text: String,
}

/// How an endpoint's load reports are taken: every endpoint has one, since a report may be
/// pushed to any endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadConfig {
    /// What a value read by a probe is divided by.
    pub capacity: f64,
    pub max_age: Duration,
    /// The half-life of the moving average; zero: each report stands as it is.
    pub smoothing: Duration,
}

/// Shedding thresholds of a pool, fractions of capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shed {
    pub high: f64,
    pub low: f64,
}

/// The endpoint's load settings (its own `load`, or its region's), and where a probe reads
/// the load, to be set on its check. `at` is the path of the `load` table.
pub fn load(
    file: Option<&FileLoad>,
    check: Option<&CheckConfig>,
    at: &str,
    problems: &mut Vec<Problem>,
) -> (LoadConfig, Option<LoadRead>) {
    let interval = check.map(|c| c.interval);
    let defaults = LoadConfig {
        capacity: 1.0,
        max_age: interval.map_or(UNCHECKED_MAX_AGE, |i| i * 3),
        smoothing: interval.unwrap_or(UNCHECKED_SMOOTHING),
    };
    let Some(file) = file else { return (defaults, None) };
    let capacity = file.capacity.unwrap_or(1.0);
    if !(capacity.is_finite() && capacity > 0.0 && capacity <= MAX_CAPACITY) {
        problems.push(Problem::new(
            format!("{at}.capacity"),
            format!("{capacity} is not a capacity: a number above 0, at most {MAX_CAPACITY}"),
        ));
    }
    let max_age = health::duration_or(file.max_age.as_ref(), defaults.max_age, &format!("{at}.max_age"), problems);
    if max_age.is_zero() {
        problems.push(Problem::new(format!("{at}.max_age"), "0s would let no report count: a max_age is above 0"));
    }
    let smoothing =
        health::duration_or(file.smoothing.as_ref(), defaults.smoothing, &format!("{at}.smoothing"), problems);
    let read = read(file, check, at, problems);
    (LoadConfig { capacity, max_age, smoothing }, read)
}

/// Where a probe reads the load, checked against the check it rides on.
fn read(file: &FileLoad, check: Option<&CheckConfig>, at: &str, problems: &mut Vec<Problem>) -> Option<LoadRead> {
    let sources = [file.json.is_some(), file.header.is_some(), file.prometheus.is_some()];
    if sources.iter().filter(|s| **s).count() > 1 {
        problems.push(Problem::new(at, "give one of json, header and prometheus: a load is read from one place"));
        return None;
    }
    if file.metric.is_some() && file.prometheus.is_none() {
        problems
            .push(Problem::new(format!("{at}.metric"), "metric names a sample of a prometheus page: add prometheus"));
    }
    let read = if let Some(pointer) = &file.json {
        json_pointer(pointer, &format!("{at}.json"), problems).map(LoadRead::Json)
    } else if let Some(name) = &file.header {
        header_name(name, &format!("{at}.header"), problems).map(LoadRead::Header)
    } else if let Some(url) = &file.prometheus {
        let url = metrics_url(url, &format!("{at}.prometheus"), problems);
        let metric = match &file.metric {
            Some(metric) => metric_selector(metric, &format!("{at}.metric"), problems),
            None => {
                problems.push(Problem::new(
                    format!("{at}.metric"),
                    "a prometheus page needs the metric to read, such as metric = \"node_load1\"",
                ));
                None
            }
        };
        url.zip(metric).map(|(url, metric)| LoadRead::Prometheus { url, metric })
    } else {
        return None; // reports are pushed only
    };
    let from_answer = matches!(read, Some(LoadRead::Json(_) | LoadRead::Header(_)));
    match check.map(|c| &c.kind) {
        None => problems.push(Problem::new(
            at,
            "a load read by the prober needs a health check (check = { ... }) to read it with and at its interval",
        )),
        Some(CheckKind::Tcp) if from_answer => problems.push(Problem::new(
            at,
            "json and header read the load from an HTTP answer: the check is tcp; use an http or https check",
        )),
        Some(_) => {}
    }
    read
}

/// An RFC 6901 pointer: empty, or `/`-separated tokens where `~` is followed by 0 or 1.
fn json_pointer(text: &str, at: &str, problems: &mut Vec<Problem>) -> Option<String> {
    let escapes_ok = |token: &str| {
        let bytes = token.as_bytes();
        bytes.iter().enumerate().all(|(i, b)| *b != b'~' || matches!(bytes.get(i + 1), Some(b'0' | b'1')))
    };
    let valid = text.len() <= MAX_SELECTOR_BYTES
        && (text.is_empty() || text.starts_with('/'))
        && text.split('/').all(escapes_ok)
        && !text.chars().any(char::is_control);
    if !valid {
        problems.push(Problem::new(
            at,
            format!(
                "{} is not a JSON pointer (RFC 6901): \"\" or \"/\"-separated keys such as \"/stats/connections\", \
                 with ~0 for ~ and ~1 for /, at most {MAX_SELECTOR_BYTES} bytes",
                shown(text)
            ),
        ));
        return None;
    }
    Some(text.to_owned())
}

/// An HTTP field name (RFC 9110 section 5.1: a token), lowercased.
fn header_name(text: &str, at: &str, problems: &mut Vec<Problem>) -> Option<String> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if text.is_empty() || text.len() > MAX_SELECTOR_BYTES || !text.bytes().all(tchar) {
        problems.push(Problem::new(
            at,
            format!("{} is not a header name: letters, digits and !#$%&'*+-.^_`|~, such as \"X-Load\"", shown(text)),
        ));
        return None;
    }
    Some(text.to_ascii_lowercase())
}

/// `http://ADDRESS[:PORT]/PATH`: an address, not a name, as health checks take addresses.
fn metrics_url(text: &str, at: &str, problems: &mut Vec<Problem>) -> Option<MetricsUrl> {
    let bad = |why: &str, problems: &mut Vec<Problem>| {
        problems.push(Problem::new(at, format!("{} is not a metrics URL: {why}", shown(text))));
        None
    };
    let Some(rest) = text.strip_prefix("http://") else {
        return bad("it starts with http:// (https and other schemes are not read)", problems);
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    if path.len() > 1024 || !path.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("its path is printable ASCII without spaces, at most 1024 bytes", problems);
    }
    let socket = authority
        .parse::<SocketAddr>()
        .ok()
        .or_else(|| authority.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 80)))
        .or_else(|| {
            let inner = authority.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 80))
        });
    match socket {
        Some(socket) if socket.port() > 0 => Some(MetricsUrl { socket, path: path.to_owned(), text: text.to_owned() }),
        _ => bad("its host is an IP address (the prober resolves no names), with a port from 1 to 65535", problems),
    }
}

/// A metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`), optionally with its labels as the page writes
/// them: `conns{state="active"}`.
fn metric_selector(text: &str, at: &str, problems: &mut Vec<Problem>) -> Option<String> {
    let (name, labels) = text.find('{').map_or((text, ""), |i| (&text[..i], &text[i..]));
    let name_ok = name
        .bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || b == b':' || (i > 0 && b.is_ascii_digit()))
        && !name.is_empty();
    let labels_ok = labels.is_empty()
        || (labels.ends_with('}') && labels.len() > 2 && !labels.bytes().any(|b| b.is_ascii_control()));
    if !name_ok || !labels_ok || text.len() > MAX_SELECTOR_BYTES {
        problems.push(Problem::new(
            at,
            format!(
                "{} is not a metric: a name of letters, digits, '_' and ':' not starting with a digit, optionally \
                 with its labels as the page writes them, such as conns{{state=\"active\"}}",
                shown(text)
            ),
        ));
        return None;
    }
    Some(text.to_owned())
}

/// A pool's `shed`: 0 ≤ low < high ≤ [`MAX_LOAD`].
pub fn shed(file: Option<&FileShed>, at: &str, problems: &mut Vec<Problem>) -> Option<Shed> {
    let file = file?;
    let (high, low) = (file.high, file.low);
    let in_range = |v: f64| v.is_finite() && (0.0..=MAX_LOAD).contains(&v);
    if !in_range(high) || !in_range(low) {
        problems.push(Problem::new(
            at,
            format!("high {high} and low {low} are fractions of capacity: 0 to {MAX_LOAD} (1 is full)"),
        ));
        return None;
    }
    if low >= high {
        problems.push(Problem::new(
            format!("{at}.low"),
            format!(
                "{low} is not below high ({high}): an endpoint leaves above high and comes back below low, so low < high"
            ),
        ));
        return None;
    }
    Some(Shed { high, low })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(file: FileLoad, check: Option<&CheckConfig>) -> Vec<String> {
        let mut problems = Vec::new();
        load(Some(&file), check, "region[0].load", &mut problems);
        problems.iter().map(ToString::to_string).collect()
    }

    fn blank() -> FileLoad {
        FileLoad {
            json: None,
            header: None,
            prometheus: None,
            metric: None,
            capacity: None,
            max_age: None,
            smoothing: None,
        }
    }

    #[test]
    fn load_sources_are_checked_and_named_by_their_path() {
        let cases: Vec<(FileLoad, &str)> = vec![
            (FileLoad { json: Some("connections".into()), ..blank() }, "region[0].load.json"),
            (FileLoad { json: Some("/a~2b".into()), ..blank() }, "region[0].load.json"),
            (FileLoad { header: Some("X Load".into()), ..blank() }, "region[0].load.header"),
            (
                FileLoad { prometheus: Some("https://10.0.0.5/metrics".into()), metric: Some("m".into()), ..blank() },
                "region[0].load.prometheus",
            ),
            (
                FileLoad {
                    prometheus: Some("http://host.example:9100/metrics".into()),
                    metric: Some("m".into()),
                    ..blank()
                },
                "region[0].load.prometheus",
            ),
            (
                FileLoad {
                    prometheus: Some("http://10.0.0.5:9100/metrics".into()),
                    metric: Some("1bad".into()),
                    ..blank()
                },
                "region[0].load.metric",
            ),
            (FileLoad { prometheus: Some("http://10.0.0.5:9100/metrics".into()), ..blank() }, "region[0].load.metric"),
            (FileLoad { json: Some("/l".into()), capacity: Some(0.0), ..blank() }, "region[0].load.capacity"),
            (FileLoad { json: Some("/l".into()), capacity: Some(f64::NAN), ..blank() }, "region[0].load.capacity"),
            (FileLoad { json: Some("/l".into()), header: Some("x".into()), ..blank() }, "region[0].load"),
        ];
        let mut check_problems = Vec::new();
        let check = health::check(
            &serde_json::from_value(serde_json::json!({ "type": "http" })).unwrap(),
            "c",
            &mut check_problems,
        );
        for (file, at) in cases {
            let problems = problems_of(file.clone(), check.as_ref());
            assert!(problems.iter().any(|p| p.starts_with(at)), "{file:?}: {problems:?}");
        }
        let ok = FileLoad {
            prometheus: Some("http://[::1]:9100/metrics".into()),
            metric: Some("conns{state=\"active\"}".into()),
            capacity: Some(8.0),
            ..blank()
        };
        assert_eq!(problems_of(ok, check.as_ref()), Vec::<String>::new());
        let unchecked = problems_of(FileLoad { json: Some("/load".into()), ..blank() }, None);
        assert!(unchecked[0].contains("needs a health check"), "{unchecked:?}");
    }

    #[test]
    fn shedding_needs_low_below_high_within_range() {
        let mut problems = Vec::new();
        assert_eq!(
            shed(Some(&FileShed { high: 0.9, low: 0.75 }), "pool[0].shed", &mut problems),
            Some(Shed { high: 0.9, low: 0.75 })
        );
        assert!(shed(Some(&FileShed { high: 0.5, low: 0.5 }), "pool[0].shed", &mut problems).is_none());
        assert!(shed(Some(&FileShed { high: 11.0, low: 0.5 }), "pool[0].shed", &mut problems).is_none());
        assert!(shed(Some(&FileShed { high: 0.9, low: -0.1 }), "pool[0].shed", &mut problems).is_none());
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].to_string().starts_with("pool[0].shed.low"));
    }
}
