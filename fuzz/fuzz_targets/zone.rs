//! Fuzz target `zone`: see `meridian::fuzz::zone` for what it feeds and the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meridian::fuzz::zone(data));
