//! Zone transfers out, NOTIFY and serials: each zone source's `transfer`, `notify`, `serial`
//! and `journal_max`, and the top-level `catalog`, as written and validated.
//!
//! A `[[zone]]` table's settings apply to its file, or to every file of its `zones_dir`; the
//! top-level `zones_dir` has none (no transfers, no NOTIFY, serials as written).

use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::Name;
use ipnet::IpNet;
use serde::Deserialize;

use super::Problem;

/// Serials of the versions whose differences are kept for IXFR, by default.
pub const DEFAULT_JOURNAL_MAX: usize = 20;
/// The most a zone may ask for: each kept difference holds its records.
const MOST_JOURNAL: u64 = 1_000;
/// The most NOTIFY targets of one zone source.
const MOST_NOTIFY: usize = 64;

/// `transfer = { allow = [...], key = "..." }` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTransfer {
    /// Addresses and prefixes that may transfer the zone.
    #[serde(default)]
    pub allow: Vec<String>,
    /// The TSIG key a transfer must be signed with.
    pub key: Option<String>,
}

/// How a zone's serial follows its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerialPolicy {
    /// As the file says: a reload that changes the data must raise it, else the zone's
    /// change is refused and the served version kept.
    #[default]
    AsWritten,
    /// Raised by the server when the data changes (see `transfer::serial`).
    Auto,
}

/// Who may transfer a zone: an address in `allow` and, when `key` is given, a request
/// signed with that key; both when both are given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferAcl {
    pub allow: Vec<IpNet>,
    /// A TSIG key name (lowercase, absolute).
    pub key: Option<Name>,
}

impl TransferAcl {
    /// Whether a request from `source`, verified with the key named `key` (none when it was
    /// unsigned), may transfer. No `allow` list and no key: nobody may.
    pub fn permits(&self, source: IpAddr, key: Option<&Name>) -> bool {
        if self.allow.is_empty() && self.key.is_none() {
            return false;
        }
        let source = source.to_canonical();
        let address_ok = self.allow.is_empty() || self.allow.iter().any(|net| net.contains(&source));
        let key_ok = match &self.key {
            None => true,
            Some(wanted) => key.is_some_and(|k| k.eq_ignore_root_case(wanted)),
        };
        address_ok && key_ok
    }
}

/// The transfer settings of one zone source, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneSettings {
    /// `None`: nobody may transfer the zone.
    pub transfer: Option<TransferAcl>,
    /// Secondaries told of a new serial (RFC 1996).
    pub notify: Vec<SocketAddr>,
    pub serial: SerialPolicy,
    /// Versions whose differences are kept for IXFR.
    pub journal_max: usize,
}

impl ZoneSettings {
    /// The settings of the top-level `zones_dir`: no transfers.
    pub fn none() -> Self {
        Self { journal_max: DEFAULT_JOURNAL_MAX, ..Self::default() }
    }
}

/// A zone source's transfer keys as written, validated into [`ZoneSettings`].
pub fn validate_settings(
    at: &str,
    transfer: Option<FileTransfer>,
    notify: Option<Vec<String>>,
    serial: Option<String>,
    journal_max: Option<u64>,
    problems: &mut Vec<Problem>,
) -> ZoneSettings {
    let transfer = transfer.map(|t| validate_acl(&format!("{at}.transfer"), t, problems));
    let notify = notify.unwrap_or_default();
    if notify.len() > MOST_NOTIFY {
        problems.push(Problem::new(format!("{at}.notify"), format!("at most {MOST_NOTIFY} addresses")));
    }
    let notify = notify
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            let parsed =
                text.parse::<SocketAddr>().ok().or_else(|| text.parse::<IpAddr>().ok().map(|ip| (ip, 53).into()));
            if parsed.is_none() {
                problems.push(Problem::new(
                    format!("{at}.notify[{i}]"),
                    format!(
                        "{text:?} is not an address with an optional port, such as 192.0.2.53:53 or [2001:db8::53]:53"
                    ),
                ));
            }
            parsed
        })
        .collect();
    let serial = match serial.as_deref() {
        None | Some("file") => SerialPolicy::AsWritten,
        Some("auto") => SerialPolicy::Auto,
        Some(other) => {
            problems.push(Problem::new(
                format!("{at}.serial"),
                format!("{other:?} is not a serial policy: \"auto\" (raised by the server) or \"file\" (as written, the default)"),
            ));
            SerialPolicy::AsWritten
        }
    };
    let journal_max = match journal_max {
        None => DEFAULT_JOURNAL_MAX,
        Some(n @ 0..=MOST_JOURNAL) => n as usize,
        Some(n) => {
            problems.push(Problem::new(
                format!("{at}.journal_max"),
                format!("{n} is outside the range 0 to {MOST_JOURNAL}"),
            ));
            DEFAULT_JOURNAL_MAX
        }
    };
    ZoneSettings { transfer, notify, serial, journal_max }
}

fn validate_acl(at: &str, transfer: FileTransfer, problems: &mut Vec<Problem>) -> TransferAcl {
    let allow = transfer
        .allow
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            let parsed = text.parse::<IpNet>().or_else(|_| text.parse::<IpAddr>().map(IpNet::from)).ok();
            if parsed.is_none() {
                problems.push(Problem::new(
                    format!("{at}.allow[{i}]"),
                    format!("{text:?} is not an address or prefix, such as 192.0.2.0/24 or 2001:db8::1"),
                ));
            }
            parsed.map(|net| net.trunc())
        })
        .collect::<Vec<_>>();
    let key = transfer.key.as_deref().and_then(|text| match Name::from_ascii(text) {
        Ok(name) => Some(absolute(name)),
        Err(e) => {
            problems.push(Problem::new(format!("{at}.key"), format!("{text:?} is not a key name: {e}")));
            None
        }
    });
    if allow.is_empty() && key.is_none() {
        problems.push(Problem::new(at, "give allow (addresses), key, or both: as written nobody could transfer"));
    }
    TransferAcl { allow, key }
}

/// The top-level `catalog = "..."`: the name of the catalog zone (RFC 9432).
pub fn validate_catalog(catalog: Option<&str>, problems: &mut Vec<Problem>) -> Option<Name> {
    let text = catalog?;
    match Name::from_ascii(text) {
        Ok(name) if !name.is_root() => Some(absolute(name)),
        Ok(_) => {
            problems.push(Problem::new("catalog", "the root cannot be a catalog zone"));
            None
        }
        Err(e) => {
            problems.push(Problem::new("catalog", format!("{text:?} is not a zone name: {e}")));
            None
        }
    }
}

/// The name lowercased and absolute, as names are compared.
fn absolute(name: Name) -> Name {
    let mut name = name.to_lowercase();
    name.set_fqdn(true);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acl_needs_the_address_and_the_key_when_both_are_given() {
        let key: Name = "xfr.example.".parse().unwrap();
        let mut problems = Vec::new();
        let both = validate_acl(
            "zone[0].transfer",
            FileTransfer { allow: vec!["192.0.2.0/24".into()], key: Some("XFR.example".into()) },
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let inside: IpAddr = "192.0.2.7".parse().unwrap();
        let outside: IpAddr = "198.51.100.7".parse().unwrap();
        assert!(both.permits(inside, Some(&key)));
        assert!(!both.permits(inside, None), "unsigned");
        assert!(!both.permits(outside, Some(&key)), "outside the list");
        let only_addresses = TransferAcl { allow: both.allow.clone(), key: None };
        assert!(only_addresses.permits("::ffff:192.0.2.9".parse().unwrap(), None), "IPv4-mapped is IPv4");
        assert!(!TransferAcl::default().permits(inside, None), "nothing given: nobody");
    }

    #[test]
    fn bad_settings_are_named_by_their_path() {
        let mut problems = Vec::new();
        validate_settings(
            "zone[1]",
            Some(FileTransfer { allow: vec!["nonsense".into()], key: None }),
            Some(vec!["192.0.2.1:53".into(), "10.0.0.1".into(), "x".into()]),
            Some("sometimes".into()),
            Some(5_000),
            &mut problems,
        );
        let at: Vec<&str> = problems.iter().map(|p| p.at.as_str()).collect();
        assert_eq!(
            at,
            [
                "zone[1].transfer.allow[0]",
                "zone[1].transfer",
                "zone[1].notify[2]",
                "zone[1].serial",
                "zone[1].journal_max"
            ]
        );
    }
}
