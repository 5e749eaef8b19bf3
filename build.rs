//! What `meridian --version` tells besides the version: the git commit it was built from
//! (`unknown` when built from a tarball, or without git) and the build date, UTC. The date is
//! `SOURCE_DATE_EPOCH` when set (reproducible builds), else the day the build ran.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

// A build script is an edge: the build date is read from the clock when not given.
#[allow(clippy::disallowed_methods)]
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    // Run again when HEAD moves: a commit, a checkout. Only files that exist are named, since
    // a missing one would make Cargo run this script on every build.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &head]));
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    for path in watched.into_iter().flatten().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
    let now = || SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let secs = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) => text.trim().parse::<u64>().unwrap_or_else(|_| {
            println!("cargo:warning=SOURCE_DATE_EPOCH {text:?} is not a number of seconds; using today's date");
            now()
        }),
        Err(_) => now(),
    };
    println!("cargo:rustc-env=MERIDIAN_COMMIT={commit}");
    println!("cargo:rustc-env=MERIDIAN_BUILD_DATE={}", utc_date(secs));
}

/// A git command's trimmed output, if git is there, this is a checkout, and it succeeded.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok().filter(|o| o.status.success())?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// YYYY-MM-DD of a Unix time, UTC (the days-to-civil algorithm of Howard Hinnant's
/// `chrono`-compatible date library, for the proleptic Gregorian calendar).
fn utc_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
