//! Fuzzes an inventory (`vouch.toml`), read as `vouch check` reads it: UTF-8, the spanned TOML
//! reader (`src/diag.rs`), validation, and the rendered diagnostics.
//!
//! Goes through `vouch::fuzzing::inventory` (vouch built with feature `fuzzing`): the loaders
//! validate against the whole probe registry, so this build instruments all of vouch. Nothing
//! reaches the network. Seeds: `fuzz/seed.sh`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vouch::fuzzing::inventory(data);
});
