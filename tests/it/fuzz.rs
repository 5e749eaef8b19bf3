//! The fuzz corpus on the stable toolchain: every committed input of every fuzz target
//! (`fuzz/corpus/<target>/`, seeds and what the fuzzer kept) and every crash ever found
//! (`fuzz/regressions/<target>/`) goes through the target's function in `meridian::fuzz`,
//! with its properties, so a regression fails `cargo test` without a fuzzer.

use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 5] = [
    ("answer", meridian::fuzz::answer),
    ("tcp", meridian::fuzz::tcp),
    ("zone", meridian::fuzz::zone),
    ("config", meridian::fuzz::config),
    ("edns", meridian::fuzz::edns),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn every_corpus_input_and_past_crash_keeps_its_properties() {
    for (name, target) in TARGETS {
        let corpus = inputs(&fuzz_dir().join("corpus").join(name));
        let regressions = inputs(&fuzz_dir().join("regressions").join(name));
        // The seeds are committed: an empty corpus means a broken checkout, not a pass.
        assert!(corpus.len() >= 5, "fuzz/corpus/{name} holds {} inputs", corpus.len());
        for path in corpus.iter().chain(&regressions) {
            // A fuzzer running in this checkout replaces corpus files as it goes.
            let bytes = match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("{}: {e}", path.display()),
            };
            let outcome = std::panic::catch_unwind(|| target(&bytes));
            assert!(outcome.is_ok(), "fuzz target {name} fails on {}", path.display());
        }
    }
}

/// Writes the structured seeds: the differential corpus's queries and the malformed-packet
/// table (for `answer`, whose first octet picks the client's address, `edns`, and pipelined for `tcp`), the zone
/// files, and configurations. Run by hand when the tables change:
/// `cargo test --test it write_fuzz_seeds -- --ignored`. Queries from dig and kdig come from
/// `fuzz/seeds.sh`.
#[test]
#[ignore = "writes fuzz/corpus; run by hand"]
fn write_fuzz_seeds() {
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    };
    let queries = crate::differential::corpus().into_iter().map(|(q, _)| q.bytes());
    let malformed = crate::malformed::table().into_iter().map(|(_, bytes, _)| bytes);
    let all: Vec<Vec<u8>> = queries.chain(malformed).collect();
    for (i, query) in all.iter().enumerate() {
        write("answer", &format!("{i:04}"), &[[(i % 4) as u8].as_slice(), query].concat());
        write("edns", &format!("{i:04}"), query);
    }
    // TCP: runs of eight messages pipelined on one connection, each with its length prefix,
    // after the octet that says where reads are cut.
    for (i, run) in all.chunks(8).enumerate() {
        let mut stream = vec![(i * 7 % 64) as u8];
        for query in run {
            stream.extend_from_slice(&(query.len() as u16).to_be_bytes());
            stream.extend_from_slice(query);
        }
        write("tcp", &format!("{i:04}"), &stream);
    }
    let mut zones = vec![("example.test".to_owned(), crate::support::TEST_ZONE.to_owned())];
    for path in inputs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("zones")) {
        zones.push((path.file_stem().unwrap().to_string_lossy().into(), std::fs::read_to_string(&path).unwrap()));
    }
    for (name, text) in zones {
        write("zone", &name, text.as_bytes());
    }
    let configs = [
        ("default", [&[0u8][..], meridian::config::DEFAULT_TOML.as_bytes()].concat()),
        ("api", [&[0u8][..], crate::support::API_TOML.as_bytes()].concat()),
        ("overlay", [&[1u8][..], br#"{"regions_added":[],"weights":{},"drained":[]}"#].concat()),
        (
            "region",
            [&[2u8][..], br#"{"name":"sa","countries":["BR"],"endpoints":[{"address":"192.0.2.9","weight":2}]}"#]
                .concat(),
        ),
        ("strategy", [&[2u8][..], br#"{"pool":"geo.example.test.","policy":"weighted"}"#].concat()),
    ];
    for (name, bytes) in configs {
        write("config", name, &bytes);
    }
}
