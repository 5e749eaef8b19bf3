//! Signing responses (RFC 8945 section 5.3): one response, or each message of a
//! multi-message TCP response (section 5.3.1), and the NOTAUTH answers of section 5.3.2.
//!
//! ```text
//!   first message:  MAC = HMAC(request MAC, message, TSIG variables)
//!   each next one:  MAC = HMAC(prior MAC, messages sent unsigned since, message, timers)
//! ```

use aws_lc_rs::hmac;

use super::{CLASS_ANY, FUDGE_SECS, Key, Mac, TSIG_TYPE, Tsig, TsigError, Verified};

/// RCODE NOTAUTH (RFC 8945 section 3: with a TSIG error).
const NOTAUTH: u8 = 9;
/// Messages a multi-message response may send unsigned in a row (RFC 8945 section 5.3.1:
/// "The TSIG MUST be included on all DNS messages that are ... the 100th message").
const MAX_UNSIGNED: usize = 99;

/// Signs the responses to one verified request: call [`Signer::sign`] on each message as it
/// is sent, or [`Signer::pass`] on one sent unsigned (never the first, at most 99 in a row).
/// Allocates nothing but what appending the TSIG record to a message may take.
pub struct Signer<'k> {
    key: &'k Key,
    /// The MAC the next digest starts with: the request's, then each signed message's.
    prior: Mac,
    /// The digest of the messages passed unsigned since the last signed one.
    pending: Option<hmac::Context>,
    unsigned: usize,
    first: bool,
}

impl std::fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("key", &self.key).field("unsigned", &self.unsigned).finish_non_exhaustive()
    }
}

/// A message that must be signed: the first, or the 100th after a signed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this message must carry a TSIG record (RFC 8945 section 5.3.1)")]
pub struct MustSign;

impl<'k> Signer<'k> {
    /// A signer for the responses to `request`.
    pub fn new(request: &Verified<'k>) -> Self {
        Self { key: request.key, prior: request.mac, pending: None, unsigned: 0, first: true }
    }

    /// The key the request was verified with (a zone transfer checks it is the zone's).
    pub fn key(&self) -> &'k Key {
        self.key
    }

    /// Octets the TSIG record [`Signer::sign`] appends takes: what a response must leave
    /// room for.
    pub fn record_len(&self) -> usize {
        record_len(self.key.wire_name(), self.key.algorithm.wire(), self.key.algorithm.mac_len(), 0)
    }

    /// Signs `message` (a whole response, ARCOUNT counting what it holds) at `now` (seconds
    /// since the Unix epoch): appends the TSIG record and counts it in ARCOUNT.
    pub fn sign(&mut self, message: &mut Vec<u8>, now: u64) {
        self.sign_as(message, now, FUDGE_SECS, 0, &[]);
    }

    /// Adds `message`, sent unsigned, to the next signed message's digest.
    ///
    /// # Errors
    /// It must be signed: the first message, or 99 were passed since the last signed one.
    pub fn pass(&mut self, message: &[u8]) -> Result<(), MustSign> {
        if self.first || self.unsigned >= MAX_UNSIGNED {
            return Err(MustSign);
        }
        let (key, prior) = (self.key, self.prior);
        self.pending.get_or_insert_with(|| start(key, &prior)).update(message);
        self.unsigned += 1;
        Ok(())
    }

    fn sign_as(&mut self, message: &mut Vec<u8>, time_signed: u64, fudge: u16, error: u16, other: &[u8]) {
        let mut digest = self.pending.take().unwrap_or_else(|| start(self.key, &self.prior));
        digest.update(message);
        let time = &time_signed.to_be_bytes()[2..];
        if self.first {
            // Section 4.3.3: the TSIG variables, names in canonical form.
            digest.update(self.key.wire_name());
            digest.update(&[0, 255, 0, 0, 0, 0]); // class ANY, TTL 0
            digest.update(self.key.algorithm.wire());
            digest.update(time);
            digest.update(&fudge.to_be_bytes());
            digest.update(&error.to_be_bytes());
            digest.update(&(other.len() as u16).to_be_bytes());
            digest.update(other);
        } else {
            // Section 4.3.2: only the timers.
            digest.update(time);
            digest.update(&fudge.to_be_bytes());
        }
        let mac = digest.sign();
        let fields = Fields { time_signed, fudge, mac: mac.as_ref(), error, other };
        append(message, self.key.wire_name(), self.key.algorithm.wire(), &fields);
        self.prior = Mac::new(mac.as_ref());
        self.pending = None;
        self.unsigned = 0;
        self.first = false;
    }
}

/// A digest under `key` that starts with a MAC as section 4.3.1 puts it: its size, then it.
fn start(key: &Key, mac: &Mac) -> hmac::Context {
    let mut digest = key.context();
    digest.update(&(mac.len as u16).to_be_bytes());
    digest.update(mac.as_slice());
    digest
}

/// The TSIG record's fields after its algorithm name.
struct Fields<'a> {
    time_signed: u64,
    fudge: u16,
    mac: &'a [u8],
    error: u16,
    other: &'a [u8],
}

fn record_len(name: &[u8], algorithm: &[u8], mac_len: usize, other_len: usize) -> usize {
    name.len() + 10 + algorithm.len() + 10 + mac_len + 6 + other_len
}

/// Appends a TSIG record to `message` and counts it in ARCOUNT; its Original ID is the
/// message's ID.
fn append(message: &mut Vec<u8>, name: &[u8], algorithm: &[u8], fields: &Fields<'_>) {
    let rdlen = record_len(name, algorithm, fields.mac.len(), fields.other.len()) - name.len() - 10;
    message.extend_from_slice(name);
    message.extend_from_slice(&TSIG_TYPE.to_be_bytes());
    message.extend_from_slice(&CLASS_ANY.to_be_bytes());
    message.extend_from_slice(&[0, 0, 0, 0]);
    message.extend_from_slice(&(rdlen as u16).to_be_bytes());
    message.extend_from_slice(algorithm);
    message.extend_from_slice(&fields.time_signed.to_be_bytes()[2..]);
    message.extend_from_slice(&fields.fudge.to_be_bytes());
    message.extend_from_slice(&(fields.mac.len() as u16).to_be_bytes());
    message.extend_from_slice(fields.mac);
    let id = [message[0], message[1]];
    message.extend_from_slice(&id);
    message.extend_from_slice(&fields.error.to_be_bytes());
    message.extend_from_slice(&(fields.other.len() as u16).to_be_bytes());
    message.extend_from_slice(fields.other);
    let additionals = u16::from_be_bytes([message[10], message[11]]).wrapping_add(1);
    message[10..12].copy_from_slice(&additionals.to_be_bytes());
}

/// Writes into `out` the NOTAUTH answer to `request` (its TSIG record `tsig`) for `error`:
/// the header (ID, opcode and RD as asked), the question when there is one, and a TSIG
/// record carrying the error. `signer` is the verified key for BADTIME and BADTRUNC, whose
/// answers are signed; BADKEY and BADSIG answers are not (RFC 8945 section 5.3.2: "MAC size
/// == 0 and empty MAC"), and carry the request's key and algorithm names back. A BADTIME
/// answer gives the request's Time Signed and Fudge, and the server's time `now` in Other
/// Data (section 5.2.3), so the client can verify it and see the difference.
pub fn write_error(
    request: &[u8],
    tsig: &Tsig<'_>,
    error: TsigError,
    signer: Option<&Verified<'_>>,
    now: u64,
    out: &mut Vec<u8>,
) {
    out.clear();
    let question = tsig.question.clone().and_then(|q| request.get(q));
    out.extend_from_slice(&request[..2]);
    out.push(0x80 | (request[2] & 0x79)); // QR; the opcode and RD as asked
    out.push(NOTAUTH);
    for count in [u16::from(question.is_some()), 0, 0, 0] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out.extend_from_slice(question.unwrap_or_default());
    let error = error as u16;
    match signer {
        Some(verified) => {
            let mut signer = Signer::new(verified);
            if error == TsigError::BadTime as u16 {
                signer.sign_as(out, verified.time_signed, verified.fudge, error, &now.to_be_bytes()[2..]);
            } else {
                signer.sign_as(out, now, FUDGE_SECS, error, &[]);
            }
        }
        None => {
            let fields = Fields { time_signed: tsig.time_signed, fudge: tsig.fudge, mac: &[], error, other: &[] };
            append(out, tsig.key_name.as_slice(), tsig.algorithm.as_slice(), &fields);
        }
    }
}
