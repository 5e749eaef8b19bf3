//! `[[key]]`: the TSIG keys (RFC 8945) requests may be signed with. Pure: the secret's file or
//! environment variable is named here and read when the snapshot is loaded (`tsig::Keys`),
//! so a reload reads it again. No secret is ever in a `Debug` or a message.

use std::fmt;
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use serde::Deserialize;

use super::Problem;
use super::names::{item_path, not_a_domain_name, shown};

/// `[[key]]` as written.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileKey {
    pub name: Option<String>,
    pub algorithm: Option<String>,
    /// A file holding the secret in base64, as `tsig-keygen` and `keymgr -t` print it.
    pub secret_file: Option<String>,
    /// An environment variable holding the secret in base64.
    pub secret_env: Option<String>,
}

/// Names where the secret comes from, never the secret (there is none here to show).
impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret_file", &self.secret_file)
            .field("secret_env", &self.secret_env)
            .finish()
    }
}

/// A TSIG algorithm (RFC 8945 section 6): the HMACs Meridian signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    /// Every algorithm, for lookups by name.
    pub const ALL: [Algorithm; 4] = [Self::HmacSha1, Self::HmacSha256, Self::HmacSha384, Self::HmacSha512];

    /// The name as configured and as the TSIG record's Algorithm Name gives it (without the
    /// final dot).
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacSha1 => "hmac-sha1",
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSha384 => "hmac-sha384",
            Self::HmacSha512 => "hmac-sha512",
        }
    }

    /// The Algorithm Name in wire form, lowercase (the canonical form RFC 8945 section
    /// 4.3.3 digests).
    pub fn wire(self) -> &'static [u8] {
        match self {
            Self::HmacSha1 => b"\x09hmac-sha1\x00",
            Self::HmacSha256 => b"\x0bhmac-sha256\x00",
            Self::HmacSha384 => b"\x0bhmac-sha384\x00",
            Self::HmacSha512 => b"\x0bhmac-sha512\x00",
        }
    }

    /// Octets of the full MAC: the hash's output.
    pub fn mac_len(self) -> usize {
        match self {
            Self::HmacSha1 => 20,
            Self::HmacSha256 => 32,
            Self::HmacSha384 => 48,
            Self::HmacSha512 => 64,
        }
    }

    /// The algorithm of a configured name, with or without the final dot, in any case.
    pub fn from_name(text: &str) -> Option<Self> {
        let text = text.strip_suffix('.').unwrap_or(text);
        Self::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(text))
    }
}

/// Where a key's secret comes from. `Debug` names the file or variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

/// A validated `[[key]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyConfig {
    /// The key's name, lowercase, in wire form (as TSIG records carry it, RFC 8945 section
    /// 4.2).
    pub wire_name: Vec<u8>,
    /// The key's name as written, for messages.
    pub name: String,
    pub algorithm: Algorithm,
    pub secret: SecretSource,
    /// Where the configuration gives it, for messages: `key[0] "xfr.example.com."`.
    pub at: String,
}

/// Validates the `[[key]]` tables: a name that is a domain name given once, a known
/// algorithm, and one secret source.
pub fn validate_keys(keys: Vec<FileKey>, base: &Path, problems: &mut Vec<Problem>) -> Vec<KeyConfig> {
    let mut valid: Vec<KeyConfig> = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        let at = item_path("key", i, key.name.as_deref());
        let before = problems.len();
        let wire_name = match key.name.as_deref() {
            None => {
                problems.push(Problem::new(format!("{at}.name"), "missing: the key's name, e.g. \"xfr.example.com.\""));
                Vec::new()
            }
            Some(text) => match Name::from_ascii(text) {
                Ok(name) => wire(&name),
                Err(e) => {
                    problems.push(Problem::new(format!("{at}.name"), not_a_domain_name(text, &e.to_string())));
                    Vec::new()
                }
            },
        };
        if let Some(same) = valid.iter().find(|k| !wire_name.is_empty() && k.wire_name == wire_name) {
            let message =
                format!("the name {} is given to {} too: each key needs a name of its own", shown(&same.name), same.at);
            problems.push(Problem::new(format!("{at}.name"), message));
        }
        let algorithm = match key.algorithm.as_deref() {
            None => Algorithm::HmacSha256,
            Some(text) => Algorithm::from_name(text).unwrap_or_else(|| {
                let message = format!(
                    "{} is not a TSIG algorithm Meridian has: hmac-sha256, hmac-sha384, hmac-sha512 or hmac-sha1",
                    shown(text)
                );
                problems.push(Problem::new(format!("{at}.algorithm"), message));
                Algorithm::HmacSha256
            }),
        };
        let secret = match (key.secret_file, key.secret_env) {
            (Some(file), None) if !file.is_empty() => Some(SecretSource::File(base.join(file))),
            (None, Some(env)) if !env.is_empty() => Some(SecretSource::Env(env)),
            (Some(_), Some(_)) => {
                problems.push(Problem::new(at.clone(), "give either secret_file or secret_env, not both"));
                None
            }
            _ => {
                let message = "missing: secret_file (the base64 secret, as tsig-keygen prints it) or secret_env";
                problems.push(Problem::new(format!("{at}.secret_file"), message));
                None
            }
        };
        if let (Some(secret), true) = (secret, problems.len() == before) {
            let name = key.name.unwrap_or_default();
            valid.push(KeyConfig { wire_name, name, algorithm, secret, at });
        }
    }
    valid
}

/// A name in lowercase wire form.
fn wire(name: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 1);
    for label in name.to_lowercase().iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(toml: &str) -> (Vec<KeyConfig>, Vec<Problem>) {
        #[derive(Deserialize)]
        struct Keys {
            key: Vec<FileKey>,
        }
        let file: Keys = toml::from_str(toml).unwrap();
        let mut problems = Vec::new();
        let keys = validate_keys(file.key, Path::new("/etc/meridian"), &mut problems);
        (keys, problems)
    }

    #[test]
    fn a_key_needs_a_name_a_known_algorithm_and_one_secret() {
        let (good, problems) = keys(
            "[[key]]\nname = \"Xfr.Example.COM\"\nsecret_file = \"xfr.key\"\n\
             [[key]]\nname = \"b.\"\nalgorithm = \"HMAC-SHA512.\"\nsecret_env = \"B_KEY\"\n",
        );
        assert_eq!(problems, []);
        assert_eq!(good[0].wire_name, b"\x03xfr\x07example\x03com\x00");
        assert_eq!(good[0].algorithm, Algorithm::HmacSha256, "the default");
        assert_eq!(good[0].secret, SecretSource::File("/etc/meridian/xfr.key".into()));
        assert_eq!((good[1].algorithm, &good[1].secret), (Algorithm::HmacSha512, &SecretSource::Env("B_KEY".into())));
        let (none, problems) = keys(
            "[[key]]\nsecret_env = \"A\"\n\
             [[key]]\nname = \"b.\"\nalgorithm = \"hmac-md5\"\nsecret_env = \"B\"\n\
             [[key]]\nname = \"c.\"\n\
             [[key]]\nname = \"d.\"\nsecret_env = \"D\"\nsecret_file = \"d\"\n\
             [[key]]\nname = \"e..\"\nsecret_env = \"E\"\n\
             [[key]]\nname = \"f.\"\nsecret_env = \"F\"\n[[key]]\nname = \"F\"\nsecret_env = \"G\"\n",
        );
        let at: Vec<&str> = problems.iter().map(|p| p.at.as_str()).collect();
        assert_eq!(
            at,
            [
                "key[0].name",
                "key[1] \"b.\".algorithm",
                "key[2] \"c.\".secret_file",
                "key[3] \"d.\"",
                "key[4] \"e..\".name",
                "key[6] \"F\".name"
            ],
            "{problems:?}"
        );
        assert!(problems[1].message.contains("hmac-md5"), "{}", problems[1].message);
        assert!(problems[5].message.contains("key[5] \"f.\""), "{}", problems[5].message);
        assert_eq!(none.len(), 1, "only f. is whole");
    }
}
