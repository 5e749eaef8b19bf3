//! Rewrites a flat country database (DB-IP lite, `{"country_code": "DE"}`) as a
//! GeoIP2-Country-shaped one (`{"country": {"iso_code": "DE"}, "continent": {"code": "EU"}}`,
//! database type `GeoIP2-Country`), network for network, so that gdnsd's geoip plugin and
//! Meridian can read the same data in the load benchmark (`bench/run`). The continent of a
//! country comes from Meridian's compiled-in table (`meridian::geo::country_facts`).
//!
//! ```text
//! cargo run --release --example reshape_mmdb -- IN.mmdb OUT.mmdb [--sample N SAMPLE.txt]
//! ```
//!
//! `--sample N FILE` also writes N client subnets for load generation, one a line:
//! `A.B.C.0/24 CONTINENT COUNTRY`. They are /24s inside IPv4 networks of the database whose
//! prefix is /24 or shorter (so the whole /24 has one record), spread evenly over the
//! continents present (one with fewer networks than its share leaves the rest to the others)
//! and over each continent's networks, in a shuffled order; the choice is deterministic (a
//! fixed seed), so every run of the benchmark queries the same subnets.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::fs;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use ipnet::IpNet;
use maxminddb::{Reader, WithinOptions};
use mmdb_writer::{Ipv4Aliasing, Value, Writer};
use serde::Deserialize;

/// The record shapes the input may have; GeoIP2-shaped input is passed through by country.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    country: Option<Named<'a>>,
}

#[derive(Deserialize)]
struct Named<'a> {
    iso_code: Option<&'a str>,
}

/// IPv4 networks (address, prefix length, country) by continent.
type ByContinent = BTreeMap<[u8; 2], Vec<(u32, u8, [u8; 2])>>;

struct Args {
    input: PathBuf,
    output: PathBuf,
    sample: Option<(usize, PathBuf)>,
}

fn args() -> Result<Args, String> {
    let usage = "usage: reshape_mmdb IN.mmdb OUT.mmdb [--sample N SAMPLE.txt]";
    let mut it = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut sample = None;
    while let Some(arg) = it.next() {
        if arg == "--sample" {
            let n = it.next().and_then(|n| n.parse().ok()).ok_or(usage)?;
            let file = it.next().ok_or(usage)?;
            sample = Some((n, PathBuf::from(file)));
        } else {
            positional.push(PathBuf::from(arg));
        }
    }
    match <[PathBuf; 2]>::try_from(positional) {
        Ok([input, output]) => Ok(Args { input, output, sample }),
        Err(_) => Err(usage.into()),
    }
}

/// xorshift64*: a fixed-seed generator, enough for picking sample subnets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = args()?;
    let reader = Reader::open_readfile(&args.input)?;
    let meta = reader.metadata();
    eprintln!(
        "reading {} ({}, {} nodes, built {})",
        args.input.display(),
        meta.database_type,
        meta.node_count,
        meta.build_epoch
    );
    let mut writer = Writer::builder("GeoIP2-Country")
        .description(&[("en", "DB-IP IP to Country Lite (CC BY 4.0), reshaped to GeoIP2-Country records")])
        .build_epoch(UNIX_EPOCH + Duration::from_secs(meta.build_epoch))
        // DB-IP has data of its own in 2001::/32 (Teredo), one of the spaces an aliasing
        // writer reserves for IPv4; both readers look IPv4 up at ::/96 anyway.
        .ipv4_aliasing(Ipv4Aliasing::Disabled)
        .build();

    // One record per country, built once (the writer stores each distinct record once anyway).
    let mut records: HashMap<String, (Value, Option<[u8; 2]>)> = HashMap::new();
    // IPv4 networks of /24 or shorter by continent, for the sample.
    let mut by_continent = ByContinent::new();
    let (mut networks, mut without_country, mut without_continent) = (0usize, 0usize, 0usize);

    for item in reader.networks(WithinOptions::default())? {
        let item = item?;
        let network = item.network()?;
        let Some(record) = item.decode::<Record<'_>>()? else { continue };
        let Some(country) = record.country_code.or(record.country.and_then(|c| c.iso_code)) else {
            without_country += 1;
            continue;
        };
        let (value, continent) = records
            .entry(country.to_owned())
            .or_insert_with(|| {
                let continent = meridian::geo::code(country).and_then(meridian::geo::country_facts).map(|f| f.0);
                let mut fields = vec![("country", Value::map([("iso_code", Value::from(country))]))];
                if let Some(c) = continent {
                    fields.push(("continent", Value::map([("code", Value::from(meridian::geo::code_str(&c)))])));
                }
                (Value::map(fields), continent)
            })
            .clone();
        if continent.is_none() {
            without_continent += 1;
        }
        let net = IpNet::new(network.ip(), network.prefix())?;
        writer.insert_value(net, value)?;
        networks += 1;
        if let (IpAddr::V4(addr), Some(continent)) = (network.ip(), continent) {
            let prefix = network.prefix();
            if (8..=24).contains(&prefix) {
                let cc = meridian::geo::code(country).unwrap_or(*b"??");
                by_continent.entry(continent).or_default().push((u32::from(addr), prefix, cc));
            }
        }
    }

    let bytes = writer.to_bytes()?;
    let tmp = args.output.with_extension("mmdb.tmp");
    fs::write(&tmp, &bytes)?;
    fs::rename(&tmp, &args.output)?;
    eprintln!(
        "wrote {}: {networks} networks, {} countries, {without_continent} networks without a continent, \
         {without_country} without a country (skipped), {} bytes",
        args.output.display(),
        records.len(),
        bytes.len()
    );

    if let Some((n, file)) = args.sample {
        write_sample(n, &file, &by_continent)?;
    }
    Ok(())
}

fn write_sample(n: usize, file: &Path, by_continent: &ByContinent) -> Result<(), Box<dyn Error>> {
    let mut rng = Rng(0x6d65_7269_6469_616e); // "meridian"
    // Equal shares, a continent with fewer networks than its share leaving the rest to others.
    let mut sizes: Vec<([u8; 2], usize)> = by_continent.iter().map(|(c, nets)| (*c, nets.len())).collect();
    sizes.sort_by_key(|&(_, len)| len);
    let (mut left, mut quota) = (n, HashMap::new());
    for (i, &(continent, len)) in sizes.iter().enumerate() {
        let take = len.min(left / (sizes.len() - i));
        quota.insert(continent, take);
        left -= take;
    }
    let mut lines = Vec::with_capacity(n);
    for (continent, nets) in by_continent {
        let take = quota[continent];
        if take == 0 {
            continue;
        }
        let stride = nets.len() as f64 / take as f64;
        for i in 0..take {
            let (addr, prefix, cc) = nets[(i as f64 * stride) as usize];
            // A /24 inside the network, chosen at random.
            let slots = 1u64 << (24 - prefix);
            let base = addr + ((rng.below(slots) as u32) << 8);
            let subnet = Ipv4Addr::from(base & 0xffff_ff00);
            lines.push(format!("{subnet}/24 {} {}", meridian::geo::code_str(continent), meridian::geo::code_str(&cc)));
        }
    }
    // Fisher-Yates, so consecutive queries come from different continents.
    for i in (1..lines.len()).rev() {
        lines.swap(i, rng.below(i as u64 + 1) as usize);
    }
    lines.truncate(n);
    let mut out = BufWriter::new(fs::File::create(file)?);
    for line in &lines {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in &lines {
        *counts.entry(line.split(' ').nth(1).unwrap_or("?")).or_default() += 1;
    }
    eprintln!("wrote {} sample subnets to {}: {counts:?}", lines.len(), file.display());
    Ok(())
}
