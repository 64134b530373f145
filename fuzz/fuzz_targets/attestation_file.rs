//! Fuzzes an attestations file (`attestations.toml`), read as `vouch check` reads it: UTF-8, the
//! spanned TOML reader (`src/diag.rs`), validation (evidence files are named, not read), and the
//! rendered diagnostics.
//!
//! Goes through `vouch::fuzzing::attestations` (vouch built with feature `fuzzing`): the loaders
//! validate against the whole probe registry, so this build instruments all of vouch. Nothing
//! reaches the network. Seeds: `fuzz/seed.sh`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vouch::fuzzing::attestations(data);
});
