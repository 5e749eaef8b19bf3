//! NSEC records for compact denial of existence (RFC 9824): one NSEC at the name asked,
//! whose next name is the name's immediate successor (`\000.name`), so that it covers
//! nothing else and the zone cannot be walked.

use hickory_proto::rr::RecordType;

/// NXNAME (RFC 9824 section 2): in the bitmap of the NSEC of a name that does not exist.
pub const NXNAME: u16 = 128;

/// The NSEC type bitmap of `types` (RFC 4034 section 4.1.2): per window of 256 types in
/// use, its number, the octets up to the last type present, and those octets' bits.
pub fn type_bitmap(types: &[u16]) -> Vec<u8> {
    let mut sorted = types.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut at = 0;
    while at < sorted.len() {
        let window = sorted[at] >> 8;
        let mut bits = [0u8; 32];
        let mut used = 0;
        while at < sorted.len() && sorted[at] >> 8 == window {
            let low = usize::from(sorted[at] & 0xff);
            bits[low / 8] |= 0x80 >> (low % 8);
            used = low / 8 + 1;
            at += 1;
        }
        out.push(window as u8);
        out.push(used as u8);
        out.extend_from_slice(&bits[..used]);
    }
    out
}

/// The NSEC RDATA at `owner` (lowercase wire form) for compact denial: the next name is
/// `\000.owner` (RFC 9824 section 3), then the bitmap of `types` with NSEC and RRSIG added.
/// `None` when the successor would pass the 255 octets of a name (then the next name is the
/// owner itself, which RFC 4034 section 4.1.1 allows for the last name of a zone; it still
/// covers nothing).
pub fn compact_rdata(owner: &[u8], types: &[u16]) -> Vec<u8> {
    let mut rdata = Vec::with_capacity(owner.len() + 2 + 40);
    if owner.len() + 2 <= 255 {
        rdata.extend_from_slice(&[1, 0]);
    }
    rdata.extend_from_slice(owner);
    let mut all = types.to_vec();
    all.extend([u16::from(RecordType::NSEC), u16::from(RecordType::RRSIG)]);
    rdata.extend_from_slice(&type_bitmap(&all));
    rdata
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_of_rfc_4034_section_4_3() {
        // "alfa.example.com. 86400 IN NSEC host.example.com. ( A MX RRSIG NSEC TYPE1234 )"
        let bitmap = type_bitmap(&[1, 15, 46, 47, 1234]);
        // Window 0: six octets, A (1), MX (15), RRSIG (46), NSEC (47); window 4: 27 octets,
        // type 1234 = 4 * 256 + 210, bit 2 of octet 26.
        let mut expected = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        expected.extend([0u8; 26]);
        expected.push(0x20);
        assert_eq!(bitmap, expected);
    }

    #[test]
    fn compact_nsec_of_a_name_that_does_not_exist() {
        let owner = b"\x04nope\x07example\x00";
        let rdata = compact_rdata(owner, &[NXNAME]);
        let (next, bitmap) = rdata.split_at(2 + owner.len());
        assert_eq!(next, b"\x01\x00\x04nope\x07example\x00");
        // RRSIG (46) and NSEC (47) in octet 5; NXNAME (128) in octet 16.
        let mut bits = vec![0u8; 17];
        bits[5] = 0x03;
        bits[16] = 0x80;
        assert_eq!(bitmap, [&[0, 17][..], &bits].concat());
    }

    #[test]
    fn an_empty_non_terminal_has_only_nsec_and_rrsig() {
        let rdata = compact_rdata(b"\x00", &[]);
        assert_eq!(rdata, [1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0x03]);
    }
}
