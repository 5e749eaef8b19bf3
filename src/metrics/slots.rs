//! Fixed slots for the query counters' record types: a few by name, everything else in an
//! `other` slot, so a query indexes an array and formats nothing. The RCODE slots are
//! `analytics::rcode`'s, shared with the analytics.

/// Record types counted on their own, by their IANA number (RFC 1035, 3596, 2782, 3403,
/// 4034, 9460, 8659; 251-255 are the QTYPEs IXFR, AXFR and ANY).
pub(super) const QTYPES: [(u16, &str); 18] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (35, "NAPTR"),
    (43, "DS"),
    (48, "DNSKEY"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (257, "CAA"),
    (255, "ANY"),
    (252, "AXFR"),
    (251, "IXFR"),
];

/// Slots for record types: one per entry of `QTYPES`, then `other`.
pub const QTYPE_SLOTS: usize = QTYPES.len() + 1;

/// The slot of a question's record type; types not listed share the last slot. The tests
/// check that this agrees with `QTYPES`.
pub fn qtype_slot(qtype: u16) -> usize {
    // A match compiles to a jump table or a few compares: no search on the hot path.
    match qtype {
        1 => 0,
        2 => 1,
        5 => 2,
        6 => 3,
        12 => 4,
        15 => 5,
        16 => 6,
        28 => 7,
        33 => 8,
        35 => 9,
        43 => 10,
        48 => 11,
        64 => 12,
        65 => 13,
        257 => 14,
        255 => 15,
        252 => 16,
        251 => 17,
        _ => QTYPE_SLOTS - 1,
    }
}

/// The `qtype` label of a slot.
///
/// # Panics
/// If `slot` is not below [`QTYPE_SLOTS`].
pub fn qtype_label(slot: usize) -> &'static str {
    match QTYPES.get(slot) {
        Some((_, name)) => name,
        None if slot == QTYPE_SLOTS - 1 => "other",
        None => panic!("qtype slot {slot} is past the last, {}", QTYPE_SLOTS - 1),
    }
}
