//! Reads the zone files a configuration names. The only code in `zone` that touches the disk.

use std::fs;
use std::path::{Path, PathBuf};

use hickory_proto::rr::{Name, RecordType};

use super::Zone;
use super::parse;
use crate::config::{Problem, ZoneSource};

/// Loads every zone of the configuration; reports every problem of every file.
///
/// # Errors
/// Files that cannot be read, syntax errors, invalid zones, two files for one origin.
pub fn load_all(sources: &[ZoneSource]) -> Result<Vec<Zone>, Vec<Problem>> {
    let mut zones: Vec<Zone> = Vec::new();
    let mut problems = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        for (at, path, origin) in expand(source, &mut problems) {
            match load_file(&path, origin) {
                Ok(mut zone) => {
                    zone.source = index;
                    if zones.iter().any(|z| z.origin_key == zone.origin_key) {
                        problems.push(Problem::new(
                            at,
                            format!("{}: zone {} is already loaded from another file", path.display(), zone.origin),
                        ));
                    } else {
                        zones.push(zone);
                    }
                }
                Err(messages) => problems.extend(messages.into_iter().map(|m| Problem::new(at.clone(), m))),
            }
        }
    }
    return_freed_memory();
    if problems.is_empty() { Ok(zones) } else { Err(problems) }
}

/// Hands the heap's free pages back to the system. A zone is built from many small
/// allocations (the file's text, its parsed records, the tree), and glibc keeps what is freed
/// among what stays, in the arena of the thread that built it: without this, a 250,000-record
/// zone left its loading peak as RSS, and each reload, built on another blocking thread, added
/// to it. Called after a load, and when the zones a reload replaced are dropped. What a trim
/// cannot return, free space sharing pages with live blocks, reloads avoid by building each
/// zone in an arena the live zone is not in (the controller's loading threads take turns).
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The files a source stands for: itself, or a directory's `*.zone` files in name order.
fn expand(source: &ZoneSource, problems: &mut Vec<Problem>) -> Vec<(String, PathBuf, Option<Name>)> {
    match source {
        ZoneSource::File { at, path, origin, .. } => vec![(at.clone(), path.clone(), origin.clone())],
        ZoneSource::Dir { at, path } => {
            let listing = match fs::read_dir(path) {
                Ok(listing) => listing,
                Err(e) => {
                    problems.push(Problem::new(at, format!("cannot read directory {}: {e}", path.display())));
                    return Vec::new();
                }
            };
            let mut files: Vec<PathBuf> = listing
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|ext| ext == "zone") && p.is_file())
                .collect();
            files.sort();
            if files.is_empty() {
                problems.push(Problem::new(at, format!("{} holds no *.zone file", path.display())));
            }
            files.into_iter().map(|p| (at.clone(), p, None)).collect()
        }
    }
}

/// The largest zone file read: several million records; past it, a file is not a zone.
pub const ZONE_FILE_LIMIT: u64 = 1024 * 1024 * 1024;

/// Reads, parses and builds one zone; messages name the file and, where known, the line.
fn load_file(path: &Path, origin: Option<Name>) -> Result<Zone, Vec<String>> {
    let shown = path.display();
    // Read by `check-config` as root too: no planted link followed, no FIFO waited on.
    let text =
        crate::files::read_to_string(path, ZONE_FILE_LIMIT).map_err(|e| vec![format!("cannot read {shown}: {e}")])?;
    let file = parse::parse(&text, origin).map_err(|e| vec![format!("{shown}:{}: {}", e.line, e.message)])?;
    // The origin is the first $ORIGIN, else the owner of the SOA record.
    let origin = file.origin.clone().or_else(|| {
        file.entries.iter().find(|e| e.record.record_type() == RecordType::SOA).map(|e| e.record.name.clone())
    });
    let Some(origin) = origin else {
        return Err(vec![format!("{shown}: no $ORIGIN and no SOA record to take the origin from")]);
    };
    Zone::build(origin, file.entries).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| match p.line {
                Some(line) => format!("{shown}:{line}: {}", p.message),
                None => format!("{shown}: {}", p.message),
            })
            .collect()
    })
}
