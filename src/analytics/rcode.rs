//! Fixed slots for response codes: the sixteen 4-bit RCODEs by name, the extended ones in an
//! `other` slot, so that counting one indexes an array and formats nothing. Shared by the
//! analytics' RCODE rates and the metrics' query counters (which sit above analytics).

/// Slots for RCODEs: 0 to 15, then `other` for the extended ones (RFC 6891 section 6.1.3:
/// BADVERS is 16, carried in the OPT record's upper bits).
pub const RCODE_SLOTS: usize = 17;

/// RCODE names from the IANA "DNS RCODEs" registry; 12 to 15 are unassigned.
const RCODE_NAMES: [&str; RCODE_SLOTS] = [
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
    "DSOTYPENI",
    "RCODE12",
    "RCODE13",
    "RCODE14",
    "RCODE15",
    "other",
];

/// The slot of a response code: 0 to 15 by value, anything larger in `other`.
pub fn rcode_slot(rcode: u16) -> usize {
    usize::from(rcode).min(RCODE_SLOTS - 1)
}

/// The name of an RCODE slot (`NOERROR`, ..., `other`).
///
/// # Panics
/// If `slot` is not below [`RCODE_SLOTS`].
pub fn rcode_label(slot: usize) -> &'static str {
    RCODE_NAMES[slot]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rcodes_map_to_their_slots() {
        let rcodes =
            [(0, "NOERROR"), (2, "SERVFAIL"), (3, "NXDOMAIN"), (5, "REFUSED"), (11, "DSOTYPENI"), (15, "RCODE15")];
        for (rcode, label) in rcodes.into_iter().chain([(16, "other"), (23, "other"), (4095, "other")]) {
            assert_eq!(rcode_label(rcode_slot(rcode)), label, "rcode {rcode}");
        }
    }
}
