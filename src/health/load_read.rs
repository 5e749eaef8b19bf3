//! Reading an endpoint's load from what a probe got back: a JSON body, a header, or a
//! Prometheus text page. Every read is bounded: a body up to the check's `max_body_bytes`, a
//! metrics page scanned a line at a time (a line up to [`MAX_LINE_BYTES`], the page up to
//! [`MAX_PAGE_BYTES`]), keeping nothing of it but the line being read.

use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;

use hyper::body::{Body, Incoming};
use hyper::client::conn::http1;
use hyper::header::{CONNECTION, HOST, HeaderMap, USER_AGENT as USER_AGENT_HEADER};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use super::probe::{MAX_HEAD_BYTES, MAX_HEADERS, USER_AGENT};
use crate::config::load::MetricsUrl;
use crate::config::names::shown;

/// The longest line of a metrics page: a sample with many labels is a few hundred bytes.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The most of a metrics page scanned for the metric: node_exporter's page is a few hundred
/// kilobytes.
pub const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

/// A value as read: a finite number of 0 or more.
fn value(number: f64, what: &str) -> Result<f64, String> {
    if number.is_finite() && number >= 0.0 {
        Ok(number)
    } else {
        Err(format!("{what} is {number}: a load is a finite number of 0 or more"))
    }
}

/// The body, up to `limit` bytes, and whether that was all of it.
pub async fn read_body(mut body: Incoming, limit: usize) -> Result<(Vec<u8>, bool), hyper::Error> {
    let mut read = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame?.into_data() {
            let room = limit - read.len();
            read.extend_from_slice(&data[..data.len().min(room)]);
            if data.len() > room {
                return Ok((read, false));
            }
        }
    }
    Ok((read, true))
}

/// The number at `pointer` in a JSON body (a number, or a string holding one).
pub fn from_json(body: &[u8], pointer: &str) -> Result<f64, String> {
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    match json.pointer(pointer) {
        None => Err(format!("the JSON body has nothing at {}", shown(pointer))),
        Some(serde_json::Value::Number(n)) => {
            value(n.as_f64().unwrap_or(f64::NAN), &format!("JSON {}", shown(pointer)))
        }
        Some(serde_json::Value::String(text)) => number(text, &format!("JSON {}", shown(pointer))),
        Some(other) => Err(format!("JSON {} is {}, not a number", shown(pointer), kind(other))),
    }
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
        serde_json::Value::Number(_) | serde_json::Value::String(_) => "a value",
    }
}

fn number(text: &str, what: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(n) => value(n, what),
        Err(_) => Err(format!("{what} is {}, not a number", shown(text))),
    }
}

/// The number a header of the answer holds.
pub fn from_header(headers: &HeaderMap, name: &str) -> Result<f64, String> {
    let what = format!("header {name}");
    match headers.get(name).map(|v| v.to_str()) {
        None => Err(format!("the answer has no {what}")),
        Some(Err(_)) => Err(format!("{what} is not text")),
        Some(Ok(text)) => number(text, &what),
    }
}

/// The value of `metric` on a Prometheus text page (exposition format 0.0.4): the first sample
/// whose name matches and, when `metric` gives labels, whose labels are written the same.
pub async fn scrape(url: &MetricsUrl, metric: &str, source: Option<IpAddr>) -> Result<f64, String> {
    let socket = url.socket;
    let stream = connect(socket, source).await.map_err(|e| format!("{}: {e}", url.text))?;
    let mut builder = http1::Builder::new();
    builder.max_buf_size(MAX_HEAD_BYTES).max_headers(MAX_HEADERS);
    let (mut sender, connection) =
        builder.handshake::<_, String>(TokioIo::new(stream)).await.map_err(|e| format!("{}: {e}", url.text))?;
    let host = match socket.ip() {
        IpAddr::V6(a) if socket.port() == 80 => format!("[{a}]"),
        IpAddr::V6(a) => format!("[{a}]:{}", socket.port()),
        IpAddr::V4(a) if socket.port() == 80 => a.to_string(),
        IpAddr::V4(a) => format!("{a}:{}", socket.port()),
    };
    let request = Request::builder()
        .method(Method::GET)
        .uri(&url.path)
        .header(HOST, host)
        .header(USER_AGENT_HEADER, USER_AGENT)
        .header(CONNECTION, "close")
        .body(String::new())
        .map_err(|e| format!("{}: {e}", url.text))?;
    let driven = async {
        let _ = connection.await;
        std::future::pending::<Result<f64, String>>().await
    };
    let asked = async {
        let response = sender.send_request(request).await.map_err(|e| format!("{}: {e}", url.text))?;
        if !response.status().is_success() {
            return Err(format!("{}: HTTP {}", url.text, response.status().as_u16()));
        }
        scan_page(response.into_body(), metric).await.map_err(|e| format!("{}: {e}", url.text))
    };
    tokio::select! {
        read = asked => read,
        read = driven => read,
    }
}

async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<tokio::net::TcpStream> {
    let Some(source) = source else { return tokio::net::TcpStream::connect(addr).await };
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

/// Reads the page a line at a time until the metric's sample.
async fn scan_page(mut body: Incoming, metric: &str) -> Result<f64, String> {
    let mut lines = PageScan::new(metric);
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data()
            && let Some(found) = lines.feed(&data)?
        {
            return Ok(found);
        }
    }
    lines.finish()
}

/// Looks for one metric's sample in a page that arrives in pieces.
#[derive(Debug)]
pub struct PageScan<'m> {
    metric: &'m str,
    line: Vec<u8>,
    read: usize,
}

impl<'m> PageScan<'m> {
    pub fn new(metric: &'m str) -> Self {
        Self { metric, line: Vec::new(), read: 0 }
    }

    /// Takes the next piece; the sample's value once found.
    ///
    /// # Errors
    /// A line or the page is too long, or the sample's value is no load.
    pub fn feed(&mut self, piece: &[u8]) -> Result<Option<f64>, String> {
        self.read += piece.len();
        if self.read > MAX_PAGE_BYTES {
            return Err(format!("no {} in the first {MAX_PAGE_BYTES} bytes of the page", shown(self.metric)));
        }
        for &b in piece {
            if b != b'\n' {
                if self.line.len() == MAX_LINE_BYTES {
                    return Err(format!("a line of the page is longer than {MAX_LINE_BYTES} bytes"));
                }
                self.line.push(b);
                continue;
            }
            let found = sample(&self.line, self.metric);
            self.line.clear();
            if let Some(found) = found {
                return found.map(Some);
            }
        }
        Ok(None)
    }

    /// The end of the page: its last line, if it had no newline.
    ///
    /// # Errors
    /// The metric is not on the page.
    pub fn finish(self) -> Result<f64, String> {
        sample(&self.line, self.metric)
            .unwrap_or_else(|| Err(format!("the page has no sample of {}", shown(self.metric))))
    }
}

/// The value of a sample line if it is `metric`'s: `name{labels} value [timestamp]`.
fn sample(line: &[u8], metric: &str) -> Option<Result<f64, String>> {
    let line = std::str::from_utf8(line).ok()?.trim();
    if line.starts_with('#') {
        return None;
    }
    let (series, rest) = match line.find('}') {
        Some(end) if line[..end].contains('{') => line.split_at(end + 1),
        _ => line.split_at(line.find([' ', '\t'])?),
    };
    let name = series.split('{').next()?;
    let wanted = if metric.contains('{') { series == metric } else { name == metric };
    if !wanted {
        return None;
    }
    let text = rest.split_whitespace().next().unwrap_or("");
    Some(number(text, &format!("sample {}", shown(metric))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_pointer_reads_a_number_or_a_numeric_string() {
        let body = br#"{"stats": {"connections": 730, "load": "0.25", "up": true}, "a/b": 3}"#;
        assert_eq!(from_json(body, "/stats/connections"), Ok(730.0));
        assert_eq!(from_json(body, "/stats/load"), Ok(0.25));
        assert_eq!(from_json(body, "/a~1b"), Ok(3.0));
        assert!(from_json(body, "/stats/up").unwrap_err().contains("a boolean"));
        assert!(from_json(body, "/nope").unwrap_err().contains("nothing at"));
        assert!(from_json(b"<html>", "/x").unwrap_err().contains("not JSON"));
        assert!(from_json(br#"{"l": -1}"#, "/l").unwrap_err().contains("0 or more"));
    }

    #[test]
    fn a_metrics_page_gives_the_first_sample_of_the_metric_across_pieces() {
        let page = "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load10 9\nnode_load1 2.5\n\
                    conns{state=\"idle\"} 4\nconns{state=\"active\"} 17 1700000000000\n";
        for (metric, expected) in [("node_load1", 2.5), ("conns{state=\"active\"}", 17.0), ("conns", 4.0)] {
            let mut scan = PageScan::new(metric);
            let found = page.as_bytes().chunks(7).find_map(|piece| scan.feed(piece).unwrap());
            assert_eq!(found, Some(expected), "{metric}");
        }
        let mut scan = PageScan::new("absent");
        assert_eq!(scan.feed(page.as_bytes()), Ok(None));
        assert!(scan.finish().unwrap_err().contains("no sample"));
        let mut last = PageScan::new("x");
        assert_eq!(last.feed(b"x 3"), Ok(None));
        assert_eq!(last.finish(), Ok(3.0), "a last line without a newline");
    }

    #[test]
    fn a_metrics_page_scan_keeps_one_line_and_stops_at_its_limits() {
        let mut scan = PageScan::new("m");
        assert!(scan.feed(&vec![b'x'; MAX_LINE_BYTES + 1]).unwrap_err().contains("longer than"));
        let mut scan = PageScan::new("m");
        let line = [b"y 1\n".as_slice(); 1000].concat();
        let mut result = Ok(None);
        for _ in 0..(MAX_PAGE_BYTES / line.len() + 2) {
            result = scan.feed(&line);
            if result.is_err() {
                break;
            }
            assert!(scan.line.capacity() <= 64, "kept {} bytes", scan.line.capacity());
        }
        assert!(result.unwrap_err().contains("first"));
    }
}
