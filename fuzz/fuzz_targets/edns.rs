//! Fuzz target `edns`: see `meridian::fuzz::edns` for what it feeds and the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meridian::fuzz::edns(data));
