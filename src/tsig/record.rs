//! Finding a message's TSIG record and reading its fields (RFC 8945 section 4.2), without
//! allocating: every query passes through [`find`], and most carry no TSIG.

use std::ops::Range;

use super::{CLASS_ANY, TSIG_TYPE, WireName};

/// Octets of a DNS header (RFC 1035 section 4.1.1).
const HEADER_LEN: usize = 12;
/// Pointers followed in one name at most: more is a loop.
const MAX_POINTERS: usize = 16;

/// What [`find`] made of a message.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // boxed, a signed request would cost an allocation; the rest write the tag alone
pub enum Found<'m> {
    /// No TSIG record (or a message too broken to tell, which the decoder answers).
    Unsigned,
    /// One TSIG record, last in the additional section, readable.
    Signed(Tsig<'m>),
    /// A TSIG record elsewhere, more than one, one whose fields cannot be read, or octets
    /// after it: FORMERR (RFC 8945 section 5.2).
    Malformed,
}

/// The TSIG record of a request, as read.
#[derive(Debug, Clone)]
pub struct Tsig<'m> {
    /// Where the record starts: the message before it, with ARCOUNT one less, is what was
    /// signed.
    pub start: usize,
    /// The question section (RFC 8945 says nothing of error responses' sections; Meridian
    /// echoes the question, as BIND and Knot do), when the message has exactly one question.
    pub question: Option<Range<usize>>,
    /// The key's name, lowercase.
    pub key_name: WireName,
    /// The algorithm's name, lowercase.
    pub algorithm: WireName,
    /// Seconds since the Unix epoch, 48 bits.
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: &'m [u8],
    pub original_id: u16,
    pub error: u16,
    pub other: &'m [u8],
}

/// Finds the TSIG record of `message`. A message with no record past its questions is
/// never walked further than its header.
pub fn find(message: &[u8]) -> Found<'_> {
    let Some(header) = message.get(..HEADER_LEN) else { return Found::Unsigned };
    let count = |i: usize| usize::from(u16::from_be_bytes([header[i], header[i + 1]]));
    let (questions, answers, authorities, additionals) = (count(4), count(6), count(8), count(10));
    let records = answers + authorities + additionals;
    if records == 0 {
        return Found::Unsigned;
    }
    let mut at = HEADER_LEN;
    for _ in 0..questions {
        let Some(end) = skip_name(message, at) else { return Found::Unsigned };
        at = end + 4;
    }
    if at > message.len() {
        return Found::Unsigned;
    }
    let question = (questions == 1).then_some(HEADER_LEN..at);
    for index in 0..records {
        let start = at;
        let Some(fixed) = skip_name(message, at) else { return Found::Unsigned };
        let Some(head) = message.get(fixed..fixed + 10) else { return Found::Unsigned };
        let rtype = u16::from_be_bytes([head[0], head[1]]);
        let rdlen = usize::from(u16::from_be_bytes([head[8], head[9]]));
        at = fixed + 10 + rdlen;
        if at > message.len() {
            return if rtype == TSIG_TYPE { Found::Malformed } else { Found::Unsigned };
        }
        if rtype != TSIG_TYPE {
            continue;
        }
        // RFC 8945 section 5.1: "If multiple TSIG records are detected or a TSIG record is
        // present in any other position, the DNS message is dropped and a response with RCODE
        // 1 (FORMERR) MUST be returned." The last record is in the additional section.
        if index != records - 1 || additionals == 0 || at != message.len() {
            return Found::Malformed;
        }
        let class = u16::from_be_bytes([head[2], head[3]]);
        let ttl = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if class != CLASS_ANY || ttl != 0 {
            return Found::Malformed;
        }
        return match read(message, start, fixed + 10, question) {
            Some(tsig) => Found::Signed(tsig),
            None => Found::Malformed,
        };
    }
    Found::Unsigned
}

/// Reads the TSIG record at `start`, whose RDATA starts at `rdata` and ends the message.
fn read(message: &[u8], start: usize, rdata: usize, question: Option<Range<usize>>) -> Option<Tsig<'_>> {
    let key_name = read_name(message, start)?.0;
    let (algorithm, at) = read_name(message, rdata)?;
    let fixed = message.get(at..at + 10)?;
    let time_signed = u64::from_be_bytes([0, 0, fixed[0], fixed[1], fixed[2], fixed[3], fixed[4], fixed[5]]);
    let fudge = u16::from_be_bytes([fixed[6], fixed[7]]);
    let mac_len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let mac = message.get(at + 10..at + 10 + mac_len)?;
    let at = at + 10 + mac_len;
    let tail = message.get(at..at + 6)?;
    let original_id = u16::from_be_bytes([tail[0], tail[1]]);
    let error = u16::from_be_bytes([tail[2], tail[3]]);
    let other_len = usize::from(u16::from_be_bytes([tail[4], tail[5]]));
    let other = message.get(at + 6..at + 6 + other_len)?;
    if at + 6 + other_len != message.len() {
        return None; // the RDATA's fields do not fill its length
    }
    Some(Tsig { start, question, key_name, algorithm, time_signed, fudge, mac, original_id, error, other })
}

/// Where the name at `at` ends (after its root label or its pointer).
fn skip_name(message: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *message.get(at)?;
        match len {
            0 => return Some(at + 1),
            1..=63 => at += 1 + usize::from(len),
            0xc0..=0xff => return (at + 2 <= message.len()).then_some(at + 2),
            _ => return None, // a reserved label type
        }
    }
}

/// The name at `at`, lowercase and uncompressed, and where it ends in the message.
fn read_name(message: &[u8], mut at: usize) -> Option<(WireName, usize)> {
    let mut name = WireName { octets: [0; 255], len: 0 };
    let mut end = None;
    let mut pointers = 0;
    loop {
        let len = *message.get(at)?;
        match len {
            0 => {
                *name.octets.get_mut(name.len)? = 0;
                name.len += 1;
                return Some((name, end.unwrap_or(at + 1)));
            }
            1..=63 => {
                let label = message.get(at..at + 1 + usize::from(len))?;
                let into = name.octets.get_mut(name.len..name.len + label.len())?;
                into.copy_from_slice(label);
                into.make_ascii_lowercase();
                name.len += label.len();
                at += label.len();
            }
            0xc0..=0xff => {
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return None;
                }
                let low = *message.get(at + 1)?;
                end.get_or_insert(at + 2);
                at = usize::from(u16::from_be_bytes([len & 0x3f, low]));
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `a.` A with the given extra records (already in wire form) and counts.
    fn message(counts: [u16; 3], records: &[&[u8]]) -> Vec<u8> {
        let mut m = vec![0, 7, 0, 0, 0, 1];
        for c in counts {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        for r in records {
            m.extend_from_slice(r);
        }
        m
    }

    /// A TSIG record for key `k.` with a MAC of `mac_len` octets.
    fn tsig(mac_len: u8) -> Vec<u8> {
        let mut r = b"\x01K\x00\x00\xfa\x00\xff\x00\x00\x00\x00".to_vec();
        let mut rdata = b"\x0bHMAC-SHA256\x00".to_vec();
        rdata.extend_from_slice(&[0, 0, 0x5f, 0x5e, 0x10, 0x00, 0x01, 0x2c, 0, mac_len]);
        rdata.extend(std::iter::repeat_n(0xab, usize::from(mac_len)));
        rdata.extend_from_slice(&[0, 7, 0, 0, 0, 0]);
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(&rdata);
        r
    }

    const OPT: &[u8] = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00";

    #[test]
    fn a_tsig_record_is_found_only_last_and_alone() {
        let one = tsig(32);
        let signed = message([0, 0, 2], &[OPT, &one]);
        let Found::Signed(found) = find(&signed) else { panic!("after an OPT record") };
        assert_eq!(found.start, 12 + 7 + OPT.len());
        assert_eq!(found.question, Some(12..19));
        assert_eq!(found.key_name.as_slice(), b"\x01k\x00", "lowercase");
        assert_eq!(found.algorithm.as_slice(), b"\x0bhmac-sha256\x00");
        assert_eq!((found.time_signed, found.fudge, found.mac.len()), (0x5f5e1000, 300, 32));
        assert!(matches!(find(&message([0, 0, 0], &[])), Found::Unsigned));
        assert!(matches!(find(&message([0, 0, 1], &[OPT])), Found::Unsigned));
        type Case<'a> = (&'a str, [u16; 3], Vec<&'a [u8]>);
        let table: [Case<'_>; 5] = [
            ("not last", [0, 0, 2], vec![&one, OPT]),
            ("two", [0, 0, 2], vec![&one, &one]),
            ("in the answer section", [1, 0, 0], vec![&one]),
            ("in the authority section", [0, 1, 1], vec![&one, OPT]),
            ("octets after it", [0, 0, 1], vec![&one, b"\x00"]),
        ];
        for (what, counts, records) in table {
            assert!(matches!(find(&message(counts, &records)), Found::Malformed), "{what}");
        }
        let mut short = one.clone();
        short.truncate(short.len() - 1);
        assert!(matches!(find(&message([0, 0, 1], &[&short])), Found::Malformed), "cut short");
    }

    #[test]
    fn names_are_read_through_pointers_lowercase_and_loops_end() {
        let m = b"\x00\x00\x03ABC\x00\xc0\x02\xc0\x07";
        let (name, end) = read_name(m, 7).unwrap();
        assert_eq!((name.as_slice(), end), (&b"\x03abc\x00"[..], 9));
        assert_eq!(read_name(m, 9).unwrap().0.as_slice(), b"\x03abc\x00", "a pointer to a pointer");
        assert!(read_name(b"\xc0\x00", 0).is_none(), "a pointer to itself");
    }
}
