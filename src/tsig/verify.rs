//! The server's checks of a signed request (RFC 8945 section 5.2), in the order the RFC
//! gives: key, MAC (its size first, section 5.2.2.1), time, truncation policy.

use aws_lc_rs::constant_time;

use super::{Key, Keys, Mac, Tsig};

/// A TSIG error (RFC 8945 section 3, the TSIG Error field), sent with RCODE NOTAUTH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsigError {
    /// The MAC does not verify.
    BadSig = 16,
    /// No such key, or not for that algorithm.
    BadKey = 17,
    /// Signed too long ago or too far ahead for the fudge.
    BadTime = 18,
    /// A truncated MAC, shorter than Meridian's policy takes.
    BadTrunc = 22,
}

/// A request that verified: the key and MAC its response is signed with.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'k> {
    pub key: &'k Key,
    /// The request's MAC, as sent (truncated or not): the response's digest starts with it.
    pub(super) mac: Mac,
    /// The request's Time Signed and Fudge, which a BADTIME answer gives back.
    pub time_signed: u64,
    pub fudge: u16,
}

/// Why a signed request is not answered, and how the NOTAUTH answer is signed.
#[derive(Debug, Clone, Copy)]
pub enum Rejection<'k> {
    /// BADKEY or BADSIG: the answer is unsigned (RFC 8945 section 5.3.2: it "MUST NOT send
    /// back a signed error message").
    Unsigned(TsigError),
    /// BADTIME or BADTRUNC: the MAC verified, so the answer is signed with the key (section
    /// 5.3.2: "the server SHOULD send back a signed error message").
    Signed(TsigError, Verified<'k>),
    /// A MAC of a size no signer may send (section 5.2.2.1): FORMERR.
    FormErr,
}

/// Verifies the TSIG record `tsig` of `message` against `keys` at `now` (seconds since the
/// Unix epoch).
///
/// # Errors
/// The first check that fails, as section 5.2 orders them.
pub fn verify<'k>(keys: &'k Keys, message: &[u8], tsig: &Tsig<'_>, now: u64) -> Result<Verified<'k>, Rejection<'k>> {
    // 5.2.1: an unknown key, or an algorithm that is not the key's.
    let Some(key) = keys.find(tsig.key_name.as_slice(), tsig.algorithm.as_slice()) else {
        return Err(Rejection::Unsigned(TsigError::BadKey));
    };
    // 5.2.2.1: a MAC longer than the hash, or shorter than the larger of 10 octets and half
    // the hash, "MUST cause the DNS message to be dropped and RCODE 1 (FORMERR) to be
    // returned".
    let full = key.algorithm.mac_len();
    let size = tsig.mac.len();
    if size > full || size < (full / 2).max(10) {
        return Err(Rejection::FormErr);
    }
    // 5.2.2: the MAC over the message as it was before the TSIG record was added (section
    // 4.3.1: ARCOUNT one less, the original ID) and the TSIG variables (section 4.3.3).
    let mut digest = key.context();
    let mut header = [0u8; 12];
    header.copy_from_slice(&message[..12]);
    header[..2].copy_from_slice(&tsig.original_id.to_be_bytes());
    let additionals = u16::from_be_bytes([header[10], header[11]]).saturating_sub(1);
    header[10..12].copy_from_slice(&additionals.to_be_bytes());
    digest.update(&header);
    digest.update(&message[12..tsig.start]);
    digest.update(tsig.key_name.as_slice());
    digest.update(&[0, 255, 0, 0, 0, 0]); // class ANY, TTL 0
    digest.update(tsig.algorithm.as_slice());
    digest.update(&tsig.time_signed.to_be_bytes()[2..]);
    digest.update(&tsig.fudge.to_be_bytes());
    digest.update(&tsig.error.to_be_bytes());
    digest.update(&(tsig.other.len() as u16).to_be_bytes());
    digest.update(tsig.other);
    let computed = digest.sign();
    // Only the octets sent are compared (a truncated MAC is the first octets of the full
    // one), in constant time.
    if constant_time::verify_slices_are_equal(&computed.as_ref()[..size], tsig.mac).is_err() {
        return Err(Rejection::Unsigned(TsigError::BadSig));
    }
    let verified = Verified { key, mac: Mac::new(tsig.mac), time_signed: tsig.time_signed, fudge: tsig.fudge };
    // 5.2.3: the server's time must be within Time Signed plus or minus Fudge.
    if now.abs_diff(tsig.time_signed) > u64::from(tsig.fudge) {
        return Err(Rejection::Signed(TsigError::BadTime, verified));
    }
    // 5.2.4: a truncation the RFC allows but local policy does not. Meridian's policy is the
    // full MAC: it costs a few octets and keeps every forgery at the hash's strength.
    if size < full {
        return Err(Rejection::Signed(TsigError::BadTrunc, verified));
    }
    Ok(verified)
}
