#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    engram_fuzz::checkpoint(data);
});
