//! Signing keys: generated, read and written in BIND's key file format (the `.key` file's
//! DNSKEY record and the `.private` file's `PrivateKey:` line, as `dnssec-keygen` and
//! `ldns-keygen` write them), their key tags (RFC 4034 appendix B) and DS digests (RFC 4509).
//!
//! Pure: texts in, texts out; `control` reads the files (through `files`), `main` writes them.

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hickory_proto::rr::Name;

/// DNSKEY flags: the Zone Key bit (RFC 4034 section 2.1.1).
pub const ZONE_KEY: u16 = 256;
/// DNSKEY flags: the Secure Entry Point bit, set on key-signing keys and CSKs.
pub const SEP: u16 = 1;
/// DNSKEY protocol: always 3 (RFC 4034 section 2.1.2).
const PROTOCOL: u8 = 3;

/// The algorithms we sign with (RFC 8624 section 3.1 recommends both for signing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// 13: ECDSA over P-256 with SHA-256 (RFC 6605), the default.
    EcdsaP256Sha256,
    /// 15: Ed25519 (RFC 8080).
    Ed25519,
}

impl Algorithm {
    /// The number in DNSKEY, RRSIG and DS records.
    pub fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    /// BIND's mnemonic, as `dnssec-keygen -a` takes it and `.private` files show it.
    pub fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Algorithm::Ed25519 => "ED25519",
        }
    }

    /// The algorithm of a number or mnemonic (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "13" | "ecdsap256sha256" => Some(Algorithm::EcdsaP256Sha256),
            "15" | "ed25519" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    fn of_number(n: u8) -> Option<Self> {
        match n {
            13 => Some(Algorithm::EcdsaP256Sha256),
            15 => Some(Algorithm::Ed25519),
            _ => None,
        }
    }
}

/// Why a key could not be made, read or used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("no DNSKEY record in the .key file")]
    NoDnskey,
    #[error("the .key file's DNSKEY record is malformed: {0}")]
    Dnskey(String),
    #[error("algorithm {0} is not supported (13 ECDSAP256SHA256 and 15 ED25519 are)")]
    Algorithm(String),
    #[error("the .private file has no {0} line")]
    Missing(&'static str),
    #[error("the .private file's algorithm ({private}) is not the .key file's ({public})")]
    AlgorithmMismatch { private: u8, public: u8 },
    #[error("the .private file's key is not valid base64 or not a key of its algorithm")]
    PrivateKey,
    #[error("the private key does not go with the .key file's public key")]
    Mismatch,
    #[error("the key's flags ({0}) do not mark a zone key (256 or 257)")]
    NotZoneKey(u16),
    #[error("signing failed")]
    Sign,
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// One key pair of a zone, with its DNSKEY data.
pub struct SigningKey {
    /// The zone (the DNSKEY's owner), lowercase wire form: the RRSIG signer name.
    pub owner: Box<[u8]>,
    /// The owner as text, for messages and the files written.
    pub owner_text: String,
    pub algorithm: Algorithm,
    /// 256 (a ZSK) or 257 (a KSK or CSK: SEP set).
    pub flags: u16,
    /// The DNSKEY RDATA: flags, protocol, algorithm, public key (RFC 4034 section 2.1).
    pub dnskey: Box<[u8]>,
    /// The key tag (RFC 4034 appendix B).
    pub tag: u16,
    /// A hash of the DNSKEY data: two keys of one tag and algorithm (the tag is 16 bits)
    /// are told apart by it in the signature cache.
    pub id: u64,
    pair: Pair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        write!(f, "SigningKey({} {} {})", self.owner_text, self.algorithm.number(), self.tag)
    }
}

impl SigningKey {
    /// A new key pair for `zone`: with `sep`, flags 257 (a KSK, or a CSK when it is the
    /// zone's only key), else 256 (a ZSK).
    ///
    /// # Errors
    /// The system's random source failed.
    pub fn generate(zone: &Name, algorithm: Algorithm, sep: bool) -> Result<Self, KeyError> {
        let pair = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                Pair::Ecdsa(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| KeyError::Sign)?)
            }
            Algorithm::Ed25519 => Pair::Ed25519(Ed25519KeyPair::generate().map_err(|_| KeyError::Sign)?),
        };
        let flags = ZONE_KEY | if sep { SEP } else { 0 };
        Ok(Self::with_pair(zone, algorithm, flags, pair))
    }

    fn with_pair(zone: &Name, algorithm: Algorithm, flags: u16, pair: Pair) -> Self {
        let public = public_key(&pair);
        let mut dnskey = Vec::with_capacity(4 + public.len());
        dnskey.extend_from_slice(&flags.to_be_bytes());
        dnskey.extend_from_slice(&[PROTOCOL, algorithm.number()]);
        dnskey.extend_from_slice(&public);
        let tag = key_tag(&dnskey);
        let id = std::hash::BuildHasher::hash_one(&rustc_hash::FxBuildHasher, &dnskey);
        let owner = canonical_owner(zone);
        Self { owner, owner_text: zone.to_ascii(), algorithm, flags, dnskey: dnskey.into(), tag, id, pair }
    }

    /// Reads a key pair from the texts of its `.key` and `.private` files.
    ///
    /// # Errors
    /// Either file is malformed, of another algorithm, or the two do not go together.
    pub fn from_bind(key_text: &str, private_text: &str) -> Result<Self, KeyError> {
        let (owner, flags, number, public) = parse_key_file(key_text)?;
        let algorithm = Algorithm::of_number(number).ok_or_else(|| KeyError::Algorithm(number.to_string()))?;
        if flags & ZONE_KEY == 0 {
            return Err(KeyError::NotZoneKey(flags));
        }
        let fields = private_fields(private_text);
        let private_alg = fields.iter().find(|(k, _)| k.eq_ignore_ascii_case("Algorithm")).map(|(_, v)| *v);
        let private_alg = private_alg.ok_or(KeyError::Missing("Algorithm:"))?;
        let private_number: u8 = private_alg.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
        if private_number != number {
            return Err(KeyError::AlgorithmMismatch { private: private_number, public: number });
        }
        let secret = fields.iter().find(|(k, _)| k.eq_ignore_ascii_case("PrivateKey")).map(|(_, v)| *v);
        let secret = secret.ok_or(KeyError::Missing("PrivateKey:"))?;
        let secret: String = secret.split_whitespace().collect();
        let secret = BASE64.decode(secret.as_bytes()).map_err(|_| KeyError::PrivateKey)?;
        let pair = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let mut point = Vec::with_capacity(65);
                point.push(4); // SEC 1 uncompressed point: DNSSEC drops this octet (RFC 6605 section 4)
                point.extend_from_slice(&public);
                let pair =
                    EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, &secret, &point)
                        .map_err(|_| KeyError::Mismatch)?;
                Pair::Ecdsa(pair)
            }
            Algorithm::Ed25519 => Pair::Ed25519(
                Ed25519KeyPair::from_seed_and_public_key(&secret, &public).map_err(|_| KeyError::Mismatch)?,
            ),
        };
        Ok(Self::with_pair(&owner, algorithm, flags, pair))
    }

    /// Whether the SEP bit is set: a KSK, or a CSK.
    pub fn is_sep(&self) -> bool {
        self.flags & SEP != 0
    }

    /// Signs `data` (the RRSIG's signed data, RFC 4034 section 3.1.8.1). ECDSA signatures
    /// are randomized: two signatures of the same data differ, and both validate.
    ///
    /// # Errors
    /// The crypto library failed.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            // The fixed form is r then s, 32 octets each: DNSSEC's form (RFC 6605 section 4).
            Pair::Ecdsa(pair) => pair.sign(&SystemRandom::new(), data).map(|s| s.as_ref().to_vec()),
            Pair::Ed25519(pair) => pair.try_sign(data).map(|s| s.as_ref().to_vec()),
        }
        .map_err(|_| KeyError::Sign)
    }

    /// The SHA-256 digest of a DS record (RFC 4509): of the owner, then the DNSKEY RDATA.
    pub fn ds_digest(&self) -> Vec<u8> {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(&self.owner);
        context.update(&self.dnskey);
        context.finish().as_ref().to_vec()
    }

    /// The DS RDATA: key tag, algorithm, digest type 2 (SHA-256), digest (RFC 4034 section 5.1).
    pub fn ds_rdata(&self) -> Vec<u8> {
        let mut rdata = self.tag.to_be_bytes().to_vec();
        rdata.extend_from_slice(&[self.algorithm.number(), 2]);
        rdata.extend_from_slice(&self.ds_digest());
        rdata
    }

    /// The DS record in presentation form, as the parent's registrar takes it.
    pub fn ds_text(&self, ttl: Option<u32>) -> String {
        let ttl = ttl.map(|t| format!(" {t}")).unwrap_or_default();
        let digest: String = self.ds_digest().iter().map(|b| format!("{b:02X}")).collect();
        format!("{}{ttl} IN DS {} {} 2 {digest}", self.owner_text, self.tag, self.algorithm.number())
    }

    /// The DNSKEY record in presentation form.
    pub fn dnskey_text(&self) -> String {
        format!(
            "{} IN DNSKEY {} {PROTOCOL} {} {}",
            self.owner_text,
            self.flags,
            self.algorithm.number(),
            BASE64.encode(&self.dnskey[4..])
        )
    }

    /// BIND's file name stem: `K<zone>.+<alg>+<tag>` (the zone without its final dot but the
    /// root's), to which `.key` and `.private` are added.
    pub fn file_stem(&self) -> String {
        let zone = match self.owner_text.strip_suffix('.') {
            Some("") | None => self.owner_text.as_str(),
            Some(zone) => zone,
        };
        format!("K{zone}.+{:03}+{:05}", self.algorithm.number(), self.tag)
    }

    /// The `.key` file's text, as `dnssec-keygen` writes it; `created` is `YYYYMMDDHHMMSS`.
    pub fn key_file(&self, created: &str) -> String {
        let kind = if self.is_sep() { "key-signing" } else { "zone-signing" };
        format!(
            "; This is a {kind} key, keyid {}, for {}\n; Created: {created}\n; Publish: {created}\n; Activate: {created}\n{}\n",
            self.tag,
            self.owner_text,
            self.dnskey_text()
        )
    }

    /// The `.private` file's text (format v1.3, as BIND 9 writes it).
    ///
    /// # Errors
    /// The crypto library would not export the private key.
    pub fn private_file(&self, created: &str) -> Result<String, KeyError> {
        let secret = match &self.pair {
            Pair::Ecdsa(pair) => {
                let bin = pair.private_key().as_be_bytes().map_err(|_| KeyError::PrivateKey)?;
                BASE64.encode(bin.as_ref())
            }
            Pair::Ed25519(pair) => {
                let seed = pair.seed().map_err(|_| KeyError::PrivateKey)?;
                let bin = seed.as_be_bytes().map_err(|_| KeyError::PrivateKey)?;
                BASE64.encode(bin.as_ref())
            }
        };
        Ok(format!(
            "Private-key-format: v1.3\nAlgorithm: {} ({})\nPrivateKey: {secret}\nCreated: {created}\nPublish: {created}\nActivate: {created}\n",
            self.algorithm.number(),
            self.algorithm.mnemonic()
        ))
    }
}

/// The public key field of a DNSKEY: for P-256, x then y without SEC 1's leading 0x04 (RFC
/// 6605 section 4); for Ed25519, the 32-octet key (RFC 8080 section 3).
fn public_key(pair: &Pair) -> Vec<u8> {
    match pair {
        Pair::Ecdsa(pair) => pair.public_key().as_ref().get(1..).unwrap_or_default().to_vec(),
        Pair::Ed25519(pair) => pair.public_key().as_ref().to_vec(),
    }
}

/// A name in canonical wire form: lowercase, uncompressed (RFC 4034 section 6.2).
pub fn canonical_owner(name: &Name) -> Box<[u8]> {
    crate::zone::name::key_of(name)
}

/// The key tag of a DNSKEY RDATA (RFC 4034 appendix B): the one's-complement-like sum of
/// its 16-bit words.
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for (i, &b) in rdata.iter().enumerate() {
        sum += if i & 1 == 0 { u32::from(b) << 8 } else { u32::from(b) };
    }
    sum += (sum >> 16) & 0xffff;
    (sum & 0xffff) as u16
}

/// The owner, flags, algorithm and public key of the DNSKEY record in a `.key` file: the one
/// line that is not a comment, `owner [ttl] [class] DNSKEY flags protocol algorithm key...`.
fn parse_key_file(text: &str) -> Result<(Name, u16, u8, Vec<u8>), KeyError> {
    let mut tokens = Vec::new();
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or("");
        tokens.extend(line.split_whitespace().filter(|t| *t != "(" && *t != ")"));
    }
    let at = tokens.iter().position(|t| t.eq_ignore_ascii_case("DNSKEY")).ok_or(KeyError::NoDnskey)?;
    let owner = tokens.first().filter(|_| at > 0).ok_or_else(|| KeyError::Dnskey("no owner name".into()))?;
    let mut owner = Name::from_ascii(owner).map_err(|e| KeyError::Dnskey(format!("owner {owner}: {e}")))?;
    owner.set_fqdn(true);
    let field = |n: usize| tokens.get(at + n).ok_or_else(|| KeyError::Dnskey("too few fields".into()));
    let flags: u16 = field(1)?.parse().map_err(|_| KeyError::Dnskey(format!("flags {}", tokens[at + 1])))?;
    if field(2)? != &"3" {
        return Err(KeyError::Dnskey(format!("protocol {} (must be 3)", tokens[at + 2])));
    }
    let algorithm = field(3)?;
    let number =
        Algorithm::parse(algorithm).map(Algorithm::number).ok_or_else(|| KeyError::Algorithm(algorithm.to_string()))?;
    let key: String = tokens.get(at + 4..).unwrap_or_default().concat();
    let public = BASE64.decode(key.as_bytes()).map_err(|e| KeyError::Dnskey(format!("public key: {e}")))?;
    Ok((owner, flags, number, public))
}

/// The `Name: value` lines of a `.private` file.
fn private_fields(text: &str) -> Vec<(&str, &str)> {
    text.lines().filter_map(|line| line.split_once(':')).map(|(k, v)| (k.trim(), v.trim())).collect()
}

/// `YYYYMMDDHHMMSS` in UTC, as BIND's key files give times.
pub fn bind_time(unix_secs: u64) -> String {
    let rfc = crate::timestamp::rfc3339(unix_secs); // 2025-01-02T03:04:05Z
    rfc.chars().filter(char::is_ascii_digit).take(14).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Name {
        Name::from_ascii("example.com.").unwrap()
    }

    #[test]
    fn a_key_written_reads_back_the_same_for_both_algorithms() {
        for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
            let key = SigningKey::generate(&zone(), algorithm, true).unwrap();
            let read =
                SigningKey::from_bind(&key.key_file("20250101000000"), &key.private_file("20250101000000").unwrap())
                    .unwrap();
            assert_eq!((read.tag, &read.dnskey, read.flags), (key.tag, &key.dnskey, 257));
            assert_eq!(read.file_stem(), format!("Kexample.com.+{:03}+{:05}", algorithm.number(), key.tag));
        }
    }

    #[test]
    fn reads_a_bind_key_pair() {
        // Shaped as dnssec-keygen -a ECDSAP256SHA256 -f KSK writes them (keys BIND made are
        // read in tests/it/dnssec.rs); the two halves here are made up and do not match.
        let key = "; This is a key-signing key, keyid 30504, for example.com.\n\
                   example.com. IN DNSKEY 257 3 13 nZ6Y2FX4kLg1iIC5oSYqIHXMqKZ2uR4a/DrVcAm2FXhMqsUpoOlyNbfr P/PJUjI9NHW7PoqBnrXV7BmC1BvhSA==\n";
        let private = "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\n\
                       PrivateKey: w9J8u5j0+g6/wJpRLh6ehgoWtK/KsoFDcgNwvwGu4UQ=\n";
        assert_eq!(SigningKey::from_bind(key, private).unwrap_err(), KeyError::Mismatch);
        let made = SigningKey::generate(&zone(), Algorithm::EcdsaP256Sha256, false).unwrap();
        let other = SigningKey::generate(&zone(), Algorithm::EcdsaP256Sha256, false).unwrap();
        let err = SigningKey::from_bind(&made.key_file("x"), &other.private_file("x").unwrap()).unwrap_err();
        assert_eq!(err, KeyError::Mismatch);
        let ed = SigningKey::generate(&zone(), Algorithm::Ed25519, false).unwrap();
        let err = SigningKey::from_bind(&made.key_file("x"), &ed.private_file("x").unwrap()).unwrap_err();
        assert_eq!(err, KeyError::AlgorithmMismatch { private: 15, public: 13 });
        assert_eq!(SigningKey::from_bind("; nothing\n", "").unwrap_err(), KeyError::NoDnskey);
    }

    #[test]
    fn key_tag_follows_rfc_4034_appendix_b() {
        // RFC 4034 section 5.4's example: the DNSKEY of dskey.example.com. has tag 60485.
        let key = "dskey.example.com. 86400 IN DNSKEY 256 3 5 ( AQOeiiR0GOMYkDshWoSKz9Xz\
                   fwJr1AYtsmx3TGkJaNXVbfi/ 2pHm822aJ5iI9BMzNXxeYCmZ DRD99WYwYqUSdjMmmAphXdvx\
                   egXd/M5+X7OrzKBaMbCVdFLU Uh6DhweJBjEVv5f2wwjM9Xzc nOf+EPbtG9DMBmADjFDc2w/r\
                   ljwvFw== )";
        let (_, _, _, public) = parse_key_file(&key.replace(" 5 ", " 13 ")).unwrap();
        let mut rdata = vec![1, 0, 3, 5];
        rdata.extend_from_slice(&public);
        assert_eq!(key_tag(&rdata), 60485);
    }

    #[test]
    fn ds_of_a_known_key() {
        let key = SigningKey::generate(&zone(), Algorithm::Ed25519, true).unwrap();
        let text = key.ds_text(None);
        assert!(text.starts_with(&format!("example.com. IN DS {} 15 2 ", key.tag)), "{text}");
        assert_eq!(key.ds_rdata().len(), 4 + 32);
    }
}
