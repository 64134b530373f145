//! Fuzzes a controls file (`--controls FILE`: `[[control]]` and `[[override]]` tables), read as
//! `vouch check` reads it: UTF-8, the spanned TOML reader (`src/diag.rs`), validation against the
//! probe registry and an inventory's groups, and the rendered diagnostics.
//!
//! Goes through `vouch::fuzzing::controls` (vouch built with feature `fuzzing`): the loaders
//! validate against the whole probe registry, so this build instruments all of vouch. Nothing
//! reaches the network. Seeds: `fuzz/seed.sh`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vouch::fuzzing::controls(data);
});
