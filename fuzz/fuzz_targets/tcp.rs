//! Fuzz target `tcp`: see `meridian::fuzz::tcp` for what it feeds and the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meridian::fuzz::tcp(data));
