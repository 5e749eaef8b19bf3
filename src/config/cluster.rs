//! `[cluster]`: several instances as one load balancer, sharing their API changes through a
//! NATS JetStream key-value bucket and their probe results as votes. Off unless present: then
//! everything behaves as a standalone instance. Pure: the credentials file is named here and
//! read by the cluster edge when it connects.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Problem;
use super::file::FileCluster;
use super::health::duration_or;

/// How many vantage points must say down for an endpoint to be down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quorum {
    /// More than half of those with fresh reports.
    Majority,
    /// At least this many.
    Count(u32),
    /// At least this fraction (0 < f <= 1) of those with fresh reports.
    Fraction(f64),
}

impl Quorum {
    /// The down votes needed among `voters` fresh reports (at least one). Pure.
    pub fn needed(self, voters: usize) -> usize {
        let needed = match self {
            Self::Majority => voters / 2 + 1,
            Self::Count(n) => n as usize,
            Self::Fraction(f) => (f * voters as f64).ceil() as usize,
        };
        needed.max(1)
    }
}

/// `[cluster]` after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    pub name: String,
    pub nats: Vec<String>,
    pub credentials_file: Option<PathBuf>,
    pub bucket: String,
    pub health_quorum: Quorum,
    pub report_max_age: Duration,
    pub replicas: usize,
}

/// The bucket's name when none is given.
pub const DEFAULT_BUCKET: &str = "meridian";

/// Validates `[cluster]`; `identity` is `server.identity`, the default name.
pub fn validate_cluster(
    cluster: FileCluster,
    identity: Option<&str>,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<ClusterConfig> {
    let before = problems.len();
    let name = match cluster.name.as_deref().or(identity) {
        Some(name) if is_token(name, 64) => name.to_owned(),
        Some(name) => {
            problems.push(Problem::new(
                "cluster.name",
                format!(
                    "{name:?} is not a vantage name: 1 to 64 letters, digits, '-' or '_' (it is part of NATS subjects)"
                ),
            ));
            String::new()
        }
        None => {
            problems.push(Problem::new("cluster.name", "missing: name this instance (or set server.identity)"));
            String::new()
        }
    };
    let nats = cluster.nats.unwrap_or_default();
    if nats.is_empty() {
        problems
            .push(Problem::new("cluster.nats", "missing: give one or more servers, e.g. [\"nats://127.0.0.1:4222\"]"));
    }
    for (i, url) in nats.iter().enumerate() {
        let scheme_ok = ["nats://", "tls://", "ws://", "wss://"].iter().any(|s| url.starts_with(s));
        if !scheme_ok || url.len() > 512 {
            problems.push(Problem::new(
                format!("cluster.nats[{i}]"),
                format!("{url:?} is not a NATS server URL such as nats://127.0.0.1:4222"),
            ));
        }
    }
    let bucket = cluster.bucket.unwrap_or_else(|| DEFAULT_BUCKET.to_owned());
    if !is_token(&bucket, 64) {
        problems.push(Problem::new(
            "cluster.bucket",
            format!("{bucket:?} is not a bucket name: 1 to 64 letters, digits, '-' or '_'"),
        ));
    }
    let health_quorum = match cluster.health_quorum {
        None => Quorum::Majority,
        Some(value) => quorum(&value).unwrap_or_else(|| {
            problems.push(Problem::new(
                "cluster.health_quorum",
                format!("{value} is not \"majority\", a count from 1 to 1000, or a fraction such as \"0.5\" (above 0, at most 1)"),
            ));
            Quorum::Majority
        }),
    };
    let report_max_age =
        duration_or(cluster.report_max_age.as_ref(), Duration::from_secs(5), "cluster.report_max_age", problems);
    if !(Duration::from_millis(100)..=Duration::from_secs(3600)).contains(&report_max_age) {
        problems
            .push(Problem::new("cluster.report_max_age", format!("{report_max_age:?} is not between 100ms and 1h")));
    }
    let credentials_file = cluster.credentials_file.map(|file| base.join(file));
    let replicas = match cluster.replicas {
        None if nats.len() >= 3 => 3,
        None => 1,
        Some(n @ 1..=5) => n as usize,
        Some(n) => {
            problems
                .push(Problem::new("cluster.replicas", format!("{n} is outside the range 1 to 5 (JetStream's limit)")));
            1
        }
    };
    (problems.len() == before).then_some(ClusterConfig {
        name,
        nats,
        credentials_file,
        bucket,
        health_quorum,
        report_max_age,
        replicas,
    })
}

fn quorum(value: &toml::Value) -> Option<Quorum> {
    match value {
        toml::Value::String(s) if s == "majority" => Some(Quorum::Majority),
        toml::Value::Integer(n) if (1..=1000).contains(n) => Some(Quorum::Count(*n as u32)),
        toml::Value::Float(f) if *f > 0.0 && *f <= 1.0 => Some(Quorum::Fraction(*f)),
        toml::Value::String(s) => s.parse::<f64>().ok().filter(|f| *f > 0.0 && *f <= 1.0).map(Quorum::Fraction),
        _ => None,
    }
}

/// Letters, digits, `-` and `_`: safe in a NATS subject token and a bucket name.
fn is_token(text: &str, most: usize) -> bool {
    !text.is_empty() && text.len() <= most && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_counts_the_votes_needed() {
        assert_eq!([1, 2, 3, 4].map(|n| Quorum::Majority.needed(n)), [1, 2, 2, 3]);
        assert_eq!(Quorum::Count(2).needed(3), 2);
        assert_eq!(Quorum::Fraction(0.5).needed(3), 2);
        assert_eq!(Quorum::Fraction(0.18).needed(0), 1, "never zero: no votes never call a target down");
    }

    #[test]
    fn cluster_settings_are_checked_with_their_paths() {
        let mut problems = Vec::new();
        let file = FileCluster {
            name: Some("eu 1".into()),
            nats: Some(vec!["127.0.0.1:4222".into()]),
            bucket: Some("a.b".into()),
            health_quorum: Some(toml::Value::String("most".into())),
            ..FileCluster::default()
        };
        assert!(validate_cluster(file, None, Path::new("/"), &mut problems).is_none());
        let at: Vec<&str> = problems.iter().map(|p| p.at.as_str()).collect();
        assert_eq!(at, ["cluster.name", "cluster.nats[0]", "cluster.bucket", "cluster.health_quorum"]);
        let mut problems = Vec::new();
        let file = FileCluster { nats: Some(vec!["nats://127.0.0.1:4222".into()]), ..FileCluster::default() };
        let config = validate_cluster(file, Some("eu-1"), Path::new("/"), &mut problems).expect("valid");
        assert_eq!((config.name.as_str(), config.bucket.as_str()), ("eu-1", DEFAULT_BUCKET));
        assert_eq!((config.health_quorum, config.report_max_age), (Quorum::Majority, Duration::from_secs(5)));
    }
}
