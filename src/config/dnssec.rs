//! `dnssec = { ... }` on a `[[zone]]`: the zone's key files and its signatures' validity, as
//! written ([`FileDnssec`]) and checked ([`DnssecConfig`]). The keys are read with the zones
//! (`dnssec::load`), not here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::Problem;
use super::file::FileDuration;

/// `dnssec = { keys = [...], validity = "14d", refresh = "7d", inception_offset = "1h" }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDnssec {
    /// Key pairs in BIND's format: the path without `.key` / `.private`.
    #[serde(default)]
    pub keys: Vec<FileKey>,
    /// From a signing period's start to the signatures' expiration (default 14 days).
    pub validity: Option<FileDuration>,
    /// The least validity left when signatures are remade (default 7 days).
    pub refresh: Option<FileDuration>,
    /// How far before the period's start the inception lies (default 1 hour).
    pub inception_offset: Option<FileDuration>,
    /// Publish CDS and CDNSKEY for the key-signing keys (RFC 7344, RFC 8078); default true.
    pub cds: Option<bool>,
}

/// A key: its path, or `{ file = "...", publish_only = true }` for a key in the DNSKEY set
/// that signs nothing (pre-publication, RFC 7583 section 3.2).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FileKey {
    Path(String),
    Table(FileKeyTable),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileKeyTable {
    pub file: String,
    #[serde(default)]
    pub publish_only: bool,
}

/// A zone's signing, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnssecConfig {
    /// `zone[N].dnssec`, for messages.
    pub at: String,
    pub keys: Vec<KeyRef>,
    pub validity: Duration,
    pub refresh: Duration,
    pub inception_offset: Duration,
    pub cds: bool,
}

/// One key pair's files: `path` plus `.key` and `.private`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    pub path: PathBuf,
    pub publish_only: bool,
}

const DAY: u64 = 86_400;

/// Checks a zone's `dnssec` table; key paths are taken relative to `base`.
pub fn validate(at: &str, file: FileDnssec, base: &Path, problems: &mut Vec<Problem>) -> Option<DnssecConfig> {
    let at = format!("{at}.dnssec");
    let before = problems.len();
    if file.keys.is_empty() {
        problems.push(Problem::new(
            format!("{at}.keys"),
            "no keys: give at least one key pair (meridian keygen makes one)",
        ));
    }
    let keys: Vec<KeyRef> = file
        .keys
        .into_iter()
        .map(|k| match k {
            FileKey::Path(path) => KeyRef { path: base.join(strip_suffix(&path)), publish_only: false },
            FileKey::Table(t) => KeyRef { path: base.join(strip_suffix(&t.file)), publish_only: t.publish_only },
        })
        .collect();
    if !keys.is_empty() && keys.iter().all(|k| k.publish_only) {
        problems.push(Problem::new(format!("{at}.keys"), "every key is publish_only: at least one must sign"));
    }
    let mut duration = |value: Option<FileDuration>, key: &str, default: u64| match value {
        None => Some(Duration::from_secs(default)),
        Some(value) => long_duration(&value, &format!("{at}.{key}"), problems),
    };
    let validity = duration(file.validity, "validity", 14 * DAY);
    let refresh = duration(file.refresh, "refresh", 7 * DAY);
    let inception_offset = duration(file.inception_offset, "inception_offset", 3600);
    let (validity, refresh, inception_offset) = (validity?, refresh?, inception_offset?);
    if refresh >= validity || validity - refresh < Duration::from_secs(DAY) {
        problems.push(Problem::new(
            format!("{at}.refresh"),
            format!(
                "refresh ({}s) must be at least a day shorter than validity ({}s): signatures are remade once per \
                 validity less refresh, in whole days",
                refresh.as_secs(),
                validity.as_secs()
            ),
        ));
    }
    if validity > Duration::from_secs(365 * DAY) {
        problems.push(Problem::new(
            format!("{at}.validity"),
            "more than a year: a stolen signature would replay that long",
        ));
    }
    (problems.len() == before).then(|| DnssecConfig {
        at,
        keys,
        validity,
        refresh,
        inception_offset,
        cds: file.cds.unwrap_or(true),
    })
}

/// `Kexample.com.+013+12345.key` or `.private` names the same pair as without the suffix.
fn strip_suffix(path: &str) -> &str {
    path.strip_suffix(".key").or_else(|| path.strip_suffix(".private")).unwrap_or(path)
}

/// A duration of seconds to days: a number of seconds, or "90s", "30m", "1h", "14d".
fn long_duration(value: &FileDuration, at: &str, problems: &mut Vec<Problem>) -> Option<Duration> {
    let secs = match value {
        FileDuration::Secs(s) => u64::try_from(*s).ok(),
        FileDuration::Text(text) => {
            let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let unit_secs = match unit.trim() {
                "s" | "" => Some(1),
                "m" => Some(60),
                "h" => Some(3600),
                "d" => Some(DAY),
                _ => None,
            };
            number.parse::<u64>().ok().zip(unit_secs).map(|(n, u)| n.saturating_mul(u))
        }
    };
    if secs.is_none() {
        problems.push(Problem::new(
            at,
            format!("{value} is not a duration: a whole number of seconds, or a number and a unit (s, m, h or d) such as \"14d\""),
        ));
    }
    secs.map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml_text: &str) -> Result<DnssecConfig, Vec<Problem>> {
        let file: FileDnssec = toml::from_str(toml_text).expect("parses");
        let mut problems = Vec::new();
        validate("zone[0]", file, Path::new("/etc/meridian"), &mut problems).ok_or(problems)
    }

    #[test]
    fn keys_and_defaults() {
        let config =
            check("keys = [\"keys/Kexample.com.+013+00001.key\", { file = \"keys/K2\", publish_only = true }]")
                .unwrap();
        assert_eq!(config.keys[0].path, Path::new("/etc/meridian/keys/Kexample.com.+013+00001"));
        assert!(config.keys[1].publish_only && !config.keys[0].publish_only);
        assert_eq!((config.validity.as_secs(), config.refresh.as_secs()), (14 * DAY, 7 * DAY));
        assert!(config.cds);
    }

    #[test]
    fn problems_name_their_key() {
        let problems = check("keys = []\nvalidity = \"2d\"\nrefresh = \"2d\"").unwrap_err();
        let at: Vec<&str> = problems.iter().map(|p| p.at.as_str()).collect();
        assert_eq!(at, ["zone[0].dnssec.keys", "zone[0].dnssec.refresh"]);
        let problems = check("keys = [\"k\"]\nvalidity = \"two weeks\"").unwrap_err();
        assert_eq!(problems[0].at, "zone[0].dnssec.validity");
        let problems = check("keys = [{ file = \"k\", publish_only = true }]").unwrap_err();
        assert!(problems[0].message.contains("at least one must sign"));
    }
}
