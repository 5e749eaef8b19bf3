//! Fuzz target `answer`: see `meridian::fuzz::answer` for what it feeds and the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meridian::fuzz::answer(data));
