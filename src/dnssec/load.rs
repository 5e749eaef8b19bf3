//! Reads the key files a configuration names (through `files`: no link followed where
//! another user could plant one, bounded sizes).

use std::path::{Path, PathBuf};

use super::key::SigningKey;
use super::window::Validity;
use super::{ZoneKey, ZoneKeys};
use crate::config::dnssec::DnssecConfig;
use crate::config::{Problem, ZoneSource};

/// A key file is a few hundred octets.
const KEY_FILE_LIMIT: u64 = 64 * 1024;

/// Reads the keys of every signed zone of `sources`.
///
/// # Errors
/// Every key file that cannot be read or is not a key, and zones whose keys disagree on
/// the zone they are for.
pub fn load_all(sources: &[ZoneSource]) -> Result<Vec<ZoneKeys>, Vec<Problem>> {
    let mut zones = Vec::new();
    let mut problems = Vec::new();
    for source in sources {
        if let ZoneSource::File { dnssec: Some(config), .. } = source {
            match load_zone(config) {
                Ok(keys) => zones.push(keys),
                Err(mut found) => problems.append(&mut found),
            }
        }
    }
    if problems.is_empty() { Ok(zones) } else { Err(problems) }
}

fn load_zone(config: &DnssecConfig) -> Result<ZoneKeys, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut keys: Vec<ZoneKey> = Vec::new();
    for (i, key_ref) in config.keys.iter().enumerate() {
        let at = format!("{}.keys[{i}]", config.at);
        match read_pair(&key_ref.path) {
            Ok(key) => {
                if let Some(first) = keys.first()
                    && first.key.owner != key.owner
                {
                    problems.push(Problem::new(
                        at,
                        format!(
                            "{} is a key of {}, not of {}",
                            key_ref.path.display(),
                            key.owner_text,
                            first.key.owner_text
                        ),
                    ));
                    continue;
                }
                if keys.iter().any(|k| k.key.dnskey == key.dnskey) {
                    problems.push(Problem::new(at, format!("{} is listed twice", key_ref.path.display())));
                    continue;
                }
                keys.push(ZoneKey { key, publish_only: key_ref.publish_only, file: key_ref.path.clone() });
            }
            Err(message) => problems.push(Problem::new(at, message)),
        }
    }
    let Some(first) = keys.first().filter(|_| problems.is_empty()) else { return Err(problems) };
    let origin_name = hickory_proto::rr::Name::from_ascii(&first.key.owner_text)
        .map_err(|e| vec![Problem::new(config.at.clone(), format!("the keys' owner {}: {e}", first.key.owner_text))])?;
    let validity =
        Validity { inception_offset: config.inception_offset, lifetime: config.validity, refresh: config.refresh };
    Ok(ZoneKeys { origin: first.key.owner.clone(), origin_name, keys, validity, cds: config.cds })
}

/// Reads `<path>.key` and `<path>.private`.
fn read_pair(path: &Path) -> Result<SigningKey, String> {
    let with = |suffix: &str| {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        PathBuf::from(file)
    };
    let (public, private) = (with(".key"), with(".private"));
    let read = |file: &Path| {
        crate::files::read_to_string(file, KEY_FILE_LIMIT).map_err(|e| format!("cannot read {}: {e}", file.display()))
    };
    let (public_text, private_text) = (read(&public)?, read(&private)?);
    // The error never quotes the private file: its text is the secret.
    SigningKey::from_bind(&public_text, &private_text)
        .map_err(|e| format!("{} and {}: {e}", public.display(), private.display()))
}
