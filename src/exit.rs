//! Exit codes, documented once. `main` maps the run's outcome onto these and nothing else.

/// Nothing failed at or above `--fail-on`, and everything could be observed.
pub const PASS: u8 = 0;
/// At least one result failed at or above `--fail-on` (or `vouch verify` found a problem).
pub const FAILED: u8 = 1;
/// Usage, configuration or validation error: nothing was checked.
pub const INVALID: u8 = 2;
/// Nothing failed, but something could not be observed (an `error` verdict).
pub const UNOBSERVED: u8 = 3;
