//! The read side: a window's counts summed over its buckets, as shares the API can show.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Serialize, Serializer};

use super::bucket::{Bucket, CONTINENT_COUNTERS, COUNTRY_COUNTERS, ENDPOINT_COUNTERS, NO_REGION, REGION_COUNTERS};
use super::rcode::{RCODE_SLOTS, rcode_label};
use crate::config::names::shown;
use crate::geo::CONTINENTS;

/// A sliding window, ending with the current (partial) bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    OneMinute,
    FifteenMinutes,
    OneHour,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::OneMinute, Window::FifteenMinutes, Window::OneHour];

    /// How many 10-second buckets it spans, the current one included.
    pub fn buckets(self) -> u64 {
        let minutes = match self {
            Window::OneMinute => 1,
            Window::FifteenMinutes => 15,
            Window::OneHour => 60,
        };
        minutes * 6
    }

    /// `1m`, `15m` or `1h`.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::OneMinute => "1m",
            Window::FifteenMinutes => "15m",
            Window::OneHour => "1h",
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A window that is not `1m`, `15m` or `1h`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a window: use 1m, 15m or 1h", shown(.0))]
pub struct WindowError(pub String);

impl FromStr for Window {
    type Err = WindowError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Window::ALL.into_iter().find(|w| w.as_str() == text).ok_or_else(|| WindowError(text.to_owned()))
    }
}

impl Serialize for Window {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A pool's answers over one window. Every list is sorted by count, largest first (ties by
/// name), and leaves out zeros.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    #[schema(value_type = String)]
    pub window: Window,
    pub answers: u64,
    /// Shares of `answers`. `(none)` counts answers no region could serve (failing open),
    /// `(other)` regions past the pool's slots (or slots never named).
    pub regions: Vec<Share>,
    /// Shares of all endpoint records given: an answer with three endpoints counts once for
    /// each. Labels are `region/address`; `(other)` gathers endpoints past the pool's slots.
    pub endpoints: Vec<Share>,
    /// Shares of `answers` by the client's country (ISO 3166-1 alpha-2) or `unknown`.
    pub countries: Vec<Place>,
    /// Shares of `answers` by the client's continent or `unknown`.
    pub continents: Vec<Place>,
    pub rcodes: Vec<Rate>,
}

/// A named part of the answers.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Share {
    pub name: String,
    pub answers: u64,
    /// From 0 to 1.
    pub share: f64,
}

/// A country or continent's part of the answers.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Place {
    pub code: String,
    pub answers: u64,
    pub share: f64,
}

/// How often an RCODE was answered.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rate {
    pub rcode: &'static str,
    pub count: u64,
    /// From 0 to 1, of all answers.
    pub rate: f64,
}

/// Counts summed over buckets.
pub(super) struct Totals {
    regions: [u64; REGION_COUNTERS],
    endpoints: [u64; ENDPOINT_COUNTERS],
    countries: [u64; COUNTRY_COUNTERS],
    continents: [u64; CONTINENT_COUNTERS],
    rcodes: [u64; RCODE_SLOTS],
}

impl Default for Totals {
    fn default() -> Self {
        Self {
            regions: [0; REGION_COUNTERS],
            endpoints: [0; ENDPOINT_COUNTERS],
            countries: [0; COUNTRY_COUNTERS],
            continents: [0; CONTINENT_COUNTERS],
            rcodes: [0; RCODE_SLOTS],
        }
    }
}

impl Totals {
    /// Replaces these totals with one bucket's counts.
    pub(super) fn load(&mut self, bucket: &Bucket) {
        fn copy(into: &mut [u64], from: &[AtomicU32]) {
            into.iter_mut().zip(from).for_each(|(n, c)| *n = u64::from(c.load(Ordering::Relaxed)));
        }
        copy(&mut self.regions, &bucket.regions);
        copy(&mut self.endpoints, &bucket.endpoints);
        copy(&mut self.countries, &bucket.countries);
        copy(&mut self.continents, &bucket.continents);
        copy(&mut self.rcodes, &bucket.rcodes);
    }

    pub(super) fn add(&mut self, other: &Totals) {
        fn add(into: &mut [u64], from: &[u64]) {
            into.iter_mut().zip(from).for_each(|(n, m)| *n += m);
        }
        add(&mut self.regions, &other.regions);
        add(&mut self.endpoints, &other.endpoints);
        add(&mut self.countries, &other.countries);
        add(&mut self.continents, &other.continents);
        add(&mut self.rcodes, &other.rcodes);
    }

    /// The summary, with region and endpoint slots named by `regions` and `endpoints`.
    pub(super) fn summarize(&self, window: Window, regions: &[String], endpoints: &[String]) -> Summary {
        let answers: u64 = self.rcodes.iter().sum();
        let records: u64 = self.endpoints.iter().sum();
        let other = || "(other)".to_owned();
        let region_name = |slot| match slot {
            NO_REGION => "(none)".to_owned(),
            slot => regions.get(slot).cloned().unwrap_or_else(other),
        };
        let endpoint_name = |slot| endpoints.get(slot).cloned().unwrap_or_else(other);
        Summary {
            window,
            answers,
            regions: sorted(&self.regions, answers, region_name),
            endpoints: sorted(&self.endpoints, records, endpoint_name),
            countries: sorted(&self.countries, answers, country_code),
            continents: sorted(&self.continents, answers, continent_code),
            rcodes: sorted(&self.rcodes, answers, rcode_label),
        }
    }
}

/// An entry of a summary list: a name, its count and that count's fraction of the total.
trait Entry<N> {
    fn new(name: N, count: u64, fraction: f64) -> Self;
}

impl Entry<String> for Share {
    fn new(name: String, answers: u64, share: f64) -> Self {
        Share { name, answers, share }
    }
}

impl Entry<String> for Place {
    fn new(code: String, answers: u64, share: f64) -> Self {
        Place { code, answers, share }
    }
}

impl Entry<&'static str> for Rate {
    fn new(rcode: &'static str, count: u64, rate: f64) -> Self {
        Rate { rcode, count, rate }
    }
}

/// The non-zero counts as entries, largest first, ties by name.
fn sorted<N: Ord, T: Entry<N>>(counts: &[u64], total: u64, name: impl Fn(usize) -> N) -> Vec<T> {
    let mut named: Vec<(N, u64)> =
        counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(slot, n)| (name(slot), *n)).collect();
    named.sort_by(|(a, m), (b, n)| n.cmp(m).then_with(|| a.cmp(b)));
    named.into_iter().map(|(name, n)| T::new(name, n, fraction(n, total))).collect()
}

fn fraction(part: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { part as f64 / total as f64 }
}

/// The code of a country slot: `AA` to `ZZ`, then `unknown`.
fn country_code(slot: usize) -> String {
    if slot >= 26 * 26 {
        return "unknown".to_owned();
    }
    // Both quotients are below 26, so they fit a u8.
    let letter = |i: usize| char::from(b'A' + i as u8);
    [letter(slot / 26), letter(slot % 26)].into_iter().collect()
}

fn continent_code(slot: usize) -> String {
    CONTINENTS.get(slot).map_or("unknown", |c| c).to_owned()
}
