//! Fuzz target `config`: see `meridian::fuzz::config` for what it feeds and the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meridian::fuzz::config(data));
