//! Builds an ASN database for `[geoip] asn_database` from the CSV files of an open data set,
//! as ip-location-db publishes them (`@ip-location-db/asn` on npm: `asn-ipv4.csv` and
//! `asn-ipv6.csv`, one range a line, `first,last,asn,organisation`, the organisation quoted
//! when it holds a comma). Each range is cut into the CIDR networks that cover it exactly,
//! and each network gets a GeoLite2-ASN-shaped record, `autonomous_system_number` and
//! `autonomous_system_organization`, which Meridian reads as it reads GeoLite2-ASN.
//!
//! ```text
//! cargo run --release --example asn_mmdb -- OUT.mmdb asn-ipv4.csv [asn-ipv6.csv ...]
//! ```
//!
//! `geoip/fetch-asn.sh` fetches the data set and runs this. Lines that do not parse are
//! counted and skipped, never guessed at.

use std::error::Error;
use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use mmdb_writer::{Ipv4Aliasing, Value, Writer};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [output, inputs @ ..] = args.as_slice() else {
        return Err("usage: asn_mmdb OUT.mmdb IN.csv [IN.csv ...]".into());
    };
    if inputs.is_empty() {
        return Err("usage: asn_mmdb OUT.mmdb IN.csv [IN.csv ...]".into());
    }
    let mut writer = Writer::builder("GeoLite2-ASN")
        .description(&[("en", "Autonomous systems from an open data set, for Meridian's asn_database")])
        .ipv4_aliasing(Ipv4Aliasing::Disabled)
        .build();
    let (mut ranges, mut networks, mut skipped) = (0usize, 0usize, 0usize);
    for input in inputs {
        let text = fs::read_to_string(input).map_err(|e| format!("{input}: {e}"))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Some((first, last, asn, organisation)) = parse_line(line) else {
                skipped += 1;
                continue;
            };
            ranges += 1;
            let record = Value::map([
                ("autonomous_system_number", Value::from(asn)),
                ("autonomous_system_organization", Value::from(organisation.as_str())),
            ]);
            for net in cidrs(first, last) {
                writer.insert_value(net, record.clone())?;
                networks += 1;
            }
        }
    }
    let bytes = writer.to_bytes()?;
    let output = PathBuf::from(output);
    // Replaced by rename: a reload reads the old file or the new one whole.
    let tmp = output.with_extension("mmdb.tmp");
    fs::write(&tmp, &bytes)?;
    fs::rename(&tmp, &output)?;
    eprintln!("{}: {ranges} ranges as {networks} networks, {skipped} lines skipped", output.display());
    Ok(())
}

/// `first,last,asn,organisation` (the organisation may be quoted, with `""` for a quote).
fn parse_line(line: &str) -> Option<(IpAddr, IpAddr, u32, String)> {
    let mut fields = line.splitn(4, ',');
    let first: IpAddr = fields.next()?.trim().parse().ok()?;
    let last: IpAddr = fields.next()?.trim().parse().ok()?;
    let asn: u32 = fields.next()?.trim().parse().ok().filter(|&n| n > 0)?;
    let rest = fields.next().unwrap_or("").trim();
    let organisation = match rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => rest.to_owned(),
    };
    (first.is_ipv4() == last.is_ipv4()).then_some((first, last, asn, organisation))
}

/// The fewest CIDR networks that cover `first..=last` exactly (none when `last < first`).
fn cidrs(first: IpAddr, last: IpAddr) -> Vec<IpNet> {
    let (bits, mut at, end) = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (32u32, u128::from(u32::from(a)), u128::from(u32::from(b))),
        (IpAddr::V6(a), IpAddr::V6(b)) => (128u32, u128::from(a), u128::from(b)),
        _ => return Vec::new(),
    };
    let mut nets = Vec::new();
    while at <= end {
        // The largest block aligned at `at` (its trailing zero bits) that stays within the
        // range (its count of addresses, as a power of two).
        let aligned = if at == 0 { bits } else { at.trailing_zeros().min(bits) };
        let fits = match (end - at).checked_add(1) {
            Some(count) => 127 - count.leading_zeros(),
            None => 128, // the whole IPv6 space
        };
        let size_bits = aligned.min(fits);
        let address = if bits == 32 { IpAddr::V4((at as u32).into()) } else { IpAddr::V6(at.into()) };
        nets.push(IpNet::new(address, (bits - size_bits) as u8).expect("a prefix within the family's width"));
        match 1u128.checked_shl(size_bits).and_then(|size| at.checked_add(size)) {
            Some(next) => at = next,
            None => break, // the end of the IPv6 space
        }
    }
    nets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_the_networks_that_cover_them_exactly() {
        let v4 = |a: &str, b: &str| {
            cidrs(a.parse().unwrap(), b.parse().unwrap()).iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        assert_eq!(v4("192.0.2.0", "192.0.2.255"), ["192.0.2.0/24"]);
        assert_eq!(v4("192.0.2.1", "192.0.2.6"), ["192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/31", "192.0.2.6/32"]);
        assert_eq!(v4("0.0.0.0", "255.255.255.255"), ["0.0.0.0/0"]);
        assert_eq!(v4("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), ["2001:db8::/32"]);
        assert!(v4("192.0.2.9", "192.0.2.1").is_empty());
    }

    #[test]
    fn lines_are_read_with_quoted_organisations() {
        let (first, last, asn, org) = parse_line("1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"").unwrap();
        assert_eq!(
            (first.to_string(), last.to_string(), asn, org.as_str()),
            ("1.0.0.0".into(), "1.0.0.255".into(), 13335, "Cloudflare, Inc.")
        );
        assert!(parse_line("1.0.0.0,1.0.0.255,0,Reserved").is_none());
        assert!(parse_line("not,a,line").is_none());
    }
}
