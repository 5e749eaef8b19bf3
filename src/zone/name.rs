//! `NameKey`: a domain name as lowercase wire-format octets, the key of every lookup.
//!
//! Names compare case-insensitively (RFC 4343), so keys are folded to lowercase once: at load
//! for zone data, on the stack per query. Ancestors of a name are suffixes of its key that
//! start on a label boundary, so walking up the tree borrows and never allocates.

use hickory_proto::rr::Name;

/// The most octets a domain name takes on the wire (RFC 1035 section 2.3.4).
const MAX_NAME_LEN: usize = 255;
/// The most labels a 255-octet name can have, counting the root.
const MAX_LABELS: usize = 128;

/// A name as lowercase wire-format octets, held on the stack.
#[derive(Clone, PartialEq, Eq)]
pub struct NameKey {
    octets: [u8; MAX_NAME_LEN],
    len: u8,
}

impl std::fmt::Debug for NameKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NameKey({:?})", self.as_bytes())
    }
}

impl NameKey {
    /// The key of a name; letters are folded to lowercase.
    pub fn new(name: &Name) -> Self {
        let mut key = Self { octets: [0; MAX_NAME_LEN], len: 0 };
        let mut at = 0;
        for label in name.iter() {
            // hickory's Name enforces the 255-octet bound, so these writes stay in range.
            key.octets[at] = label.len() as u8;
            for (i, b) in label.iter().enumerate() {
                key.octets[at + 1 + i] = b.to_ascii_lowercase();
            }
            at += 1 + label.len();
        }
        key.octets[at] = 0;
        key.len = (at + 1) as u8;
        key
    }

    /// `*.` followed by `suffix` (a key or key suffix), for wildcard lookups (RFC 4592).
    pub fn wildcard_of(suffix: &[u8]) -> Option<Self> {
        if suffix.len() + 2 > MAX_NAME_LEN {
            return None;
        }
        let mut key = Self { octets: [0; MAX_NAME_LEN], len: 0 };
        key.octets[0] = 1;
        key.octets[1] = b'*';
        key.octets[2..2 + suffix.len()].copy_from_slice(suffix);
        key.len = (suffix.len() + 2) as u8;
        Some(key)
    }

    /// A key from an uncompressed wire-format name (as sent, or another key's octets), folded
    /// to lowercase as it is copied (label lengths are at most 63, below every ASCII letter,
    /// so folding leaves them alone).
    pub fn from_wire(octets: &[u8]) -> Option<Self> {
        if octets.is_empty() || octets.len() > MAX_NAME_LEN {
            return None;
        }
        let mut key = Self { octets: [0; MAX_NAME_LEN], len: octets.len() as u8 };
        for (to, from) in key.octets.iter_mut().zip(octets) {
            *to = from.to_ascii_lowercase();
        }
        Some(key)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.octets[..usize::from(self.len)]
    }

    /// Offsets of the labels of this name; the last one is the root label.
    pub fn labels(&self) -> Labels {
        let mut labels = Labels { starts: [0; MAX_LABELS], count: 0 };
        let mut at = 0usize;
        loop {
            labels.starts[labels.count] = at as u8;
            labels.count += 1;
            let len = usize::from(self.octets[at]);
            if len == 0 {
                return labels;
            }
            at += 1 + len;
        }
    }
}

/// Label start offsets of a [`NameKey`], root included.
pub struct Labels {
    starts: [u8; MAX_LABELS],
    count: usize,
}

impl Labels {
    /// Labels of the name, not counting the root: `www.example.com.` has 3.
    pub fn count(&self) -> usize {
        self.count - 1
    }

    /// The ancestor (or the name itself) with `n` labels, as a suffix of `key`.
    pub fn suffix<'k>(&self, key: &'k NameKey, n: usize) -> &'k [u8] {
        &key.as_bytes()[usize::from(self.starts[self.count() - n])..]
    }
}

/// The key of a name, on the heap, for maps built at load time.
pub fn key_of(name: &Name) -> Box<[u8]> {
    NameKey::new(name).as_bytes().into()
}

/// How many labels a key has, not counting the root.
pub fn label_count(key: &[u8]) -> usize {
    let (mut at, mut count) = (0, 0);
    while at < key.len() && key[at] != 0 {
        at += 1 + usize::from(key[at]);
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn keys_fold_case() {
        assert_eq!(
            NameKey::new(&name("WwW.ExAmple.COM.")).as_bytes(),
            NameKey::new(&name("www.example.com.")).as_bytes()
        );
        assert_eq!(NameKey::new(&name("a.b.")).as_bytes(), b"\x01a\x01b\x00");
        assert_eq!(NameKey::new(&Name::root()).as_bytes(), b"\x00");
    }

    #[test]
    fn suffixes_are_ancestors() {
        let key = NameKey::new(&name("www.example.com."));
        let labels = key.labels();
        assert_eq!(labels.count(), 3);
        assert_eq!(labels.suffix(&key, 3), key.as_bytes());
        assert_eq!(labels.suffix(&key, 2), b"\x07example\x03com\x00");
        assert_eq!(labels.suffix(&key, 0), b"\x00");
        assert_eq!(label_count(labels.suffix(&key, 2)), 2);
    }

    #[test]
    fn wildcard_prefixes_a_star_label() {
        let key = NameKey::wildcard_of(b"\x07example\x00").unwrap();
        assert_eq!(key.as_bytes(), b"\x01*\x07example\x00");
        assert!(NameKey::wildcard_of(&[0u8; 254]).is_none());
    }
}
