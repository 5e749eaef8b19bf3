//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per
//! family, then one `name{label="value",...} number` line per sample.
//!
//! "label_value can be any sequence of UTF-8 characters, but the backslash (`\`), double-quote
//! (`"`), and line feed (`\n`) characters have to be escaped as `\\`, `\"`, and `\n`,
//! respectively." HELP text escapes only the backslash and the line feed.

use std::fmt::Write;

/// The Content-Type the exporter serves the page with.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The type of a metric family, as its `# TYPE` line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A sample value: counts print as integers, everything else as a float.
#[derive(Debug, Clone, Copy)]
pub(super) enum Value {
    Count(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(count: u64) -> Self {
        Value::Count(count)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

/// A page being written. Writing to a `String` cannot fail, so results are ignored.
#[derive(Debug, Default)]
pub(super) struct Page {
    text: String,
}

impl Page {
    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub(super) fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let help = help.replace('\\', r"\\").replace('\n', r"\n");
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {}", kind.as_str());
    }

    /// One sample line. Label names are ours and valid; values are escaped.
    pub(super) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(label);
                self.text.push_str("=\"");
                push_escaped(&mut self.text, value);
                self.text.push('"');
            }
            self.text.push('}');
        }
        let _ = match value.into() {
            Value::Count(n) => writeln!(self.text, " {n}"),
            // Rust prints finite floats without an exponent, which Go's ParseFloat accepts.
            Value::Float(x) if x.is_nan() => writeln!(self.text, " NaN"),
            Value::Float(x) if x.is_infinite() => writeln!(self.text, " {}Inf", if x > 0.0 { '+' } else { '-' }),
            Value::Float(x) => writeln!(self.text, " {x}"),
        };
    }

    pub(super) fn finish(self) -> String {
        self.text
    }
}

/// Appends a label value escaped as the format requires.
pub(super) fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            c => out.push(c),
        }
    }
}
