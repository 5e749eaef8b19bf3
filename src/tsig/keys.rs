//! The secrets of the `[[key]]` tables, read and ready to sign and verify with.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine;

use crate::config::{Algorithm, KeyConfig, Problem, SecretSource};

/// A secret file holds a line of base64, or a key block of a few lines: more is a mistake.
const SECRET_FILE_LIMIT: u64 = 64 * 1024;

/// The keys requests may be signed with, looked up by name and algorithm.
#[derive(Debug, Default)]
pub struct Keys {
    pub(super) keys: Vec<Key>,
}

/// One key, ready for HMAC. `Debug` shows its name and algorithm, never its secret.
pub struct Key {
    /// As configured, for messages.
    pub name: String,
    /// Lowercase wire form.
    wire_name: Vec<u8>,
    pub algorithm: Algorithm,
    secret: hmac::Key,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("name", &self.name).field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl Keys {
    /// Reads every key's secret, from its file (through [`crate::files`]) or its
    /// environment variable.
    ///
    /// # Errors
    /// Every secret that cannot be read or is not base64, each at its key's path; the
    /// secret itself is never in a message.
    pub fn read(configs: &[KeyConfig]) -> Result<Self, Vec<Problem>> {
        let mut keys = Vec::with_capacity(configs.len());
        let mut problems = Vec::new();
        for config in configs {
            match read_secret(config) {
                Ok(secret) => keys.push(Key::new(config, &secret)),
                Err(problem) => problems.push(problem),
            }
        }
        if problems.is_empty() { Ok(Self { keys }) } else { Err(problems) }
    }

    /// The key named `name` (canonical wire form) for the algorithm named `algorithm`
    /// (likewise): a key of that name for another algorithm is not it (RFC 8945 section
    /// 5.2.1: BADKEY).
    pub fn find(&self, name: &[u8], algorithm: &[u8]) -> Option<&Key> {
        self.keys.iter().find(|k| k.wire_name == name && k.algorithm.wire() == algorithm)
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl Key {
    /// A key from its configuration and its secret's octets.
    pub fn new(config: &KeyConfig, secret: &[u8]) -> Self {
        let algorithm = match config.algorithm {
            Algorithm::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha384 => hmac::HMAC_SHA384,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
        };
        Self {
            name: config.name.clone(),
            wire_name: config.wire_name.clone(),
            algorithm: config.algorithm,
            secret: hmac::Key::new(algorithm, secret),
        }
    }

    /// The key's name in lowercase wire form.
    pub fn wire_name(&self) -> &[u8] {
        &self.wire_name
    }

    /// A digest under this key.
    pub(super) fn context(&self) -> hmac::Context {
        hmac::Context::with_key(&self.secret)
    }
}

/// The secret's octets, from where the configuration says.
fn read_secret(config: &KeyConfig) -> Result<Vec<u8>, Problem> {
    let (text, from, at) = match &config.secret {
        SecretSource::File(path) => {
            let text = crate::files::read_to_string(path, SECRET_FILE_LIMIT).map_err(|e| {
                Problem::new(format!("{}.secret_file", config.at), format!("cannot read {}: {e}", path.display()))
            })?;
            (text, format!("the file {}", path.display()), "secret_file")
        }
        SecretSource::Env(name) => {
            let text = std::env::var(name).map_err(|_| {
                Problem::new(format!("{}.secret_env", config.at), format!("the environment variable {name} is not set"))
            })?;
            (text, format!("the environment variable {name}"), "secret_env")
        }
    };
    parse_secret(&text, config.algorithm)
        .map_err(|why| Problem::new(format!("{}.{at}", config.at), format!("{from}: {why}")))
}

/// The secret in `text`: bare base64 (as `tsig-keygen`'s and `keymgr -t`'s `secret` values,
/// whitespace and line breaks ignored), or the whole block `tsig-keygen` writes (`key "name"
/// { algorithm hmac-sha256; secret "..."; };`) or `keymgr -t` prints (`secret: ...` in its
/// YAML), whose algorithm, when given, must be the configured one. Lines starting with `#`
/// or `//` are comments. Messages never quote the text.
fn parse_secret(text: &str, algorithm: Algorithm) -> Result<Vec<u8>, String> {
    let lines: Vec<&str> =
        text.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.starts_with("//")).collect();
    let text = lines.join("\n");
    let value = |keyword: &str| -> Option<String> {
        // The keyword as a word of its own: a key named "secret-xfr" is not a secret.
        let (at, _) = text.match_indices(keyword).find(|&(i, _)| {
            (i == 0 || text[..i].ends_with(char::is_whitespace))
                && text[i + keyword.len()..].starts_with([' ', '\t', ':'])
        })?;
        let at = at + keyword.len();
        let rest = text[at..].trim_start_matches([':', ' ', '\t', '"']);
        Some(rest.chars().take_while(|c| !matches!(c, '"' | ';' | '\n' | '}')).collect::<String>().trim().to_owned())
    };
    if let Some(named) = value("algorithm")
        && Algorithm::from_name(&named) != Some(algorithm)
    {
        return Err(format!("the key there is for {}, but algorithm is {}", shown_algorithm(&named), algorithm.name()));
    }
    let encoded = match value("secret") {
        Some(secret) => secret,
        None => text.clone(),
    };
    let encoded: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    if encoded.is_empty() {
        return Err("no secret there".into());
    }
    let secret = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .map_err(|_| "the secret is not base64 (give it as tsig-keygen or keymgr -t prints it)".to_owned())?;
    if secret.is_empty() {
        return Err("the secret is empty".into());
    }
    Ok(secret)
}

/// An algorithm name from a key file, shortened: it is not secret, but it is the file's text.
fn shown_algorithm(name: &str) -> String {
    let short: String = name.chars().take(32).collect();
    format!("{short:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "c2VjcmV0IG9mIHRoaXJ0eS10d28gb2N0ZXRzLCBleGFjdGx5ISE=";

    #[test]
    fn secrets_are_read_bare_or_from_the_blocks_the_key_tools_write() {
        let want = base64::engine::general_purpose::STANDARD.decode(SECRET).unwrap();
        let sha256 = Algorithm::HmacSha256;
        let bind = format!("key \"secret-algorithm\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{SECRET}\";\n}};\n");
        let knot = format!(
            "# hmac-sha256:xfr.example.com:{SECRET}\nkey:\n  - id: xfr.example.com\n    algorithm: hmac-sha256\n    secret: {SECRET}\n"
        );
        for text in [SECRET.to_owned(), format!("  {SECRET}\n"), bind.clone(), knot] {
            assert_eq!(parse_secret(&text, sha256).as_deref(), Ok(want.as_slice()), "{text}");
        }
        let other = parse_secret(&bind, Algorithm::HmacSha512).unwrap_err();
        assert!(other.contains("hmac-sha256") && !other.contains(SECRET), "{other}");
        for bad in ["", "not base64!", "# only a comment\n"] {
            let why = parse_secret(bad, sha256).unwrap_err();
            assert!(!why.is_empty() && (bad.is_empty() || !why.contains(bad)), "{bad:?}: {why}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let config = KeyConfig {
            wire_name: b"\x01k\x00".to_vec(),
            name: "k.".into(),
            algorithm: Algorithm::HmacSha256,
            secret: SecretSource::Env("K".into()),
            at: "key[0]".into(),
        };
        let key = Key::new(&config, b"very secret octets");
        let keys = Keys { keys: vec![key] };
        let shown = format!("{keys:?}");
        assert!(
            shown.contains("k.") && !shown.contains("very secret") && !shown.contains("dmVyeSBzZWNyZXQ"),
            "{shown}"
        );
        assert!(keys.find(b"\x01k\x00", Algorithm::HmacSha256.wire()).is_some());
        assert!(keys.find(b"\x01k\x00", Algorithm::HmacSha512.wire()).is_none(), "the algorithm is part of the key");
    }
}
