//! `[rrl]`: response rate limiting (see `dns::rrl`). Off unless `enabled = true`.

use ipnet::IpNet;
use serde::Deserialize;

use super::names::shown;
use super::{Problem, bounded, bounded_in};

/// `[rrl]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRrl {
    pub enabled: Option<bool>,
    /// Identical responses a second to one client prefix (Knot's `rate-limit`).
    pub rate: Option<u32>,
    /// Responses allowed back to back before the rate applies; default: one second's worth.
    pub burst: Option<u32>,
    /// Every `slip`-th limited response goes out truncated (TC=1); 0 drops them all.
    pub slip: Option<u32>,
    pub ipv4_prefix: Option<u8>,
    pub ipv6_prefix: Option<u8>,
    /// Client prefixes never limited (Knot's `whitelist`), e.g. monitoring or your resolvers.
    pub exempt: Option<Vec<String>>,
}

/// `[rrl]` after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RrlConfig {
    pub enabled: bool,
    pub rate: u32,
    pub burst: u32,
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    pub exempt: Vec<IpNet>,
}

impl Default for RrlConfig {
    fn default() -> Self {
        validate_rrl(FileRrl::default(), &mut Vec::new())
    }
}

/// Defaults as Knot's and BIND's: 20 responses a second, half of the limited ones slipped
/// (BIND's `slip 2`), prefixes of /24 and /56.
pub fn validate_rrl(rrl: FileRrl, problems: &mut Vec<Problem>) -> RrlConfig {
    // At most 65,536 a second: the table counts time in 1/65,536ths of a second.
    let rate = bounded_in(rrl.rate, 20, 1..=65_536, " responses a second", "rrl.rate", problems);
    let burst = bounded(rrl.burst, rate, 1..=1_000_000, "rrl.burst", problems);
    let slip = bounded(rrl.slip, 2, 0..=10, "rrl.slip", problems);
    let ipv4_prefix = bounded_in(rrl.ipv4_prefix, 24, 8..=32, " bits", "rrl.ipv4_prefix", problems);
    let ipv6_prefix = bounded_in(rrl.ipv6_prefix, 56, 16..=128, " bits", "rrl.ipv6_prefix", problems);
    let mut exempt = Vec::new();
    for (i, text) in rrl.exempt.unwrap_or_default().iter().enumerate() {
        // A bare address is its own /32 or /128.
        match text.parse::<IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from)) {
            Ok(net) => exempt.push(net.trunc()),
            Err(_) => problems.push(Problem::new(
                format!("rrl.exempt[{i}]"),
                format!("{} is not an address or CIDR prefix such as 192.0.2.0/24", shown(text)),
            )),
        }
    }
    RrlConfig { enabled: rrl.enabled.unwrap_or(false), rate, burst, slip, ipv4_prefix, ipv6_prefix, exempt }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_with_knots_and_binds_defaults() {
        let rrl = RrlConfig::default();
        assert!(!rrl.enabled);
        assert_eq!((rrl.rate, rrl.burst, rrl.slip, rrl.ipv4_prefix, rrl.ipv6_prefix), (20, 20, 2, 24, 56));
    }

    #[test]
    fn bad_values_are_named() {
        let mut problems = Vec::new();
        let file = FileRrl {
            rate: Some(0),
            slip: Some(11),
            ipv4_prefix: Some(33),
            exempt: Some(vec!["192.0.2.0/24".into(), "2001:db8::1".into(), "nope".into()]),
            ..FileRrl::default()
        };
        let rrl = validate_rrl(file, &mut problems);
        let at: Vec<&str> = problems.iter().map(|p| p.at.as_str()).collect();
        assert_eq!(at, ["rrl.rate", "rrl.slip", "rrl.ipv4_prefix", "rrl.exempt[2]"]);
        assert_eq!(rrl.exempt.len(), 2);
    }
}
