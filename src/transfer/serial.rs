//! Serial number arithmetic (RFC 1982) and the serials `serial = "auto"` gives.

/// Whether `a` comes after `b` in serial number arithmetic (RFC 1982 section 3.2): "s1 is said
/// to be greater than s2 if ... (i1 < i2 and i2 - i1 > 2^(SERIAL_BITS - 1)) or (i1 > i2 and
/// i1 - i2 < 2^(SERIAL_BITS - 1))". Two serials 2^31 apart are not ordered: neither is after.
pub fn is_after(a: u32, b: u32) -> bool {
    let ahead = a.wrapping_sub(b);
    ahead != 0 && ahead < 1 << 31
}

/// The serial of a zone with `serial = "auto"`: the time in seconds since the Unix epoch
/// (so a restart never goes back), unless that is not after the serial served before, or
/// the one written in the file is later: then the later of those, served + 1 if need be
/// (RFC 1982 section 3.1 addition).
pub fn auto(written: u32, served: Option<u32>, now_unix: u64) -> u32 {
    // Unix time fits 32 bits until 2106; past it, serial arithmetic wraps as RFC 1982 allows.
    let mut serial = now_unix as u32;
    if is_after(written, serial) {
        serial = written;
    }
    match served {
        Some(served) if !is_after(serial, served) => served.wrapping_add(1),
        _ => serial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_compare_as_rfc_1982_says() {
        assert!(is_after(2, 1));
        assert!(!is_after(1, 1));
        assert!(is_after(0, u32::MAX), "wraps");
        assert!(is_after(5, u32::MAX - 5));
        assert!(!is_after(u32::MAX - 5, 5));
        assert!(!is_after(1 << 31, 0) && !is_after(0, 1 << 31), "2^31 apart: not ordered");
    }

    #[test]
    fn auto_takes_the_time_and_never_goes_back() {
        let now = 1_800_000_000;
        assert_eq!(auto(1, None, now), 1_800_000_000, "at start: the time");
        assert_eq!(auto(1, Some(1_700_000_000), now), 1_800_000_000);
        assert_eq!(auto(1, Some(1_800_000_000), now), 1_800_000_001, "twice in one second");
        assert_eq!(auto(1, Some(1_800_000_005), now), 1_800_000_006, "the clock went back");
        assert_eq!(auto(2_000_000_000, None, now), 2_000_000_000, "a later serial in the file wins");
    }
}
