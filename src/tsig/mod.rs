//! TSIG (RFC 8945): requests signed with a shared secret, verified before they are answered,
//! and their responses signed.
//!
//! - [`Keys`]: the `[[key]]` secrets, read when the snapshot is loaded (a reload reads them
//!   again); `Debug` never shows a secret.
//! - [`find`] (`record.rs`): the TSIG record of a message, if it has one, and whether it is
//!   where RFC 8945 section 5.1 puts it (last, alone); no allocation, so every query can go
//!   through it.
//! - [`verify`] (`verify.rs`): the checks of section 5.2 in their order (key, MAC, time,
//!   truncation), with time passed in.
//! - [`Signer`] (`sign.rs`): signs a response, or each message of a multi-message TCP
//!   response (section 5.3.1); [`write_error`] writes the NOTAUTH answers of section 5.3.2.
//!
//! Pure: no clock (the caller passes the time, read only for a request that carries a TSIG
//! record), no socket. Secrets are read from files through `files` and from the environment.

mod keys;
mod record;
mod sign;
mod verify;

pub use keys::{Key, Keys};
pub use record::{Found, Tsig, find};
pub use sign::{MustSign, Signer, write_error};
pub use verify::{Rejection, TsigError, Verified, verify};

/// The TSIG record type (RFC 8945 section 4.2).
pub const TSIG_TYPE: u16 = 250;
/// The class every TSIG record has: ANY (RFC 8945 section 4.2).
const CLASS_ANY: u16 = 255;
/// The fudge Meridian signs with: the seconds of clock difference it allows (RFC 8945 section
/// 10 recommends 300).
pub const FUDGE_SECS: u16 = 300;
/// The longest MAC: HMAC-SHA512's.
const MAX_MAC: usize = 64;

/// A MAC as sent, which the next digest starts from (RFC 8945 sections 5.3 and 5.3.1).
#[derive(Clone, Copy)]
struct Mac {
    octets: [u8; MAX_MAC],
    len: usize,
}

impl Mac {
    fn new(mac: &[u8]) -> Self {
        let mut octets = [0; MAX_MAC];
        let len = mac.len().min(MAX_MAC);
        octets[..len].copy_from_slice(&mac[..len]);
        Self { octets, len }
    }

    fn as_slice(&self) -> &[u8] {
        &self.octets[..self.len]
    }
}

/// Not shown: a MAC proves nothing to a reader of logs, but it is nobody's business either.
impl std::fmt::Debug for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mac({} octets)", self.len)
    }
}

/// A name in canonical form (RFC 8945 section 4.3.3: lowercase, uncompressed), as read from
/// a message into a fixed buffer.
#[derive(Clone, Copy)]
pub struct WireName {
    octets: [u8; 255],
    len: usize,
}

impl WireName {
    /// The name's octets, root label included.
    pub fn as_slice(&self) -> &[u8] {
        &self.octets[..self.len]
    }
}

impl std::fmt::Debug for WireName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = String::new();
        let mut at = 0;
        while let Some(&len) = self.as_slice().get(at).filter(|&&l| l > 0) {
            let label = &self.as_slice()[at + 1..at + 1 + usize::from(len)];
            text.push_str(&String::from_utf8_lossy(label));
            text.push('.');
            at += 1 + usize::from(len);
        }
        if text.is_empty() {
            text.push('.');
        }
        write!(f, "{text}")
    }
}

#[cfg(test)]
mod tests;
