//! Which shard a `(probe, target)` belongs to: a stable hash, so the same plan always splits the
//! same way (`vouch check --shard K/N`). Kept apart from [`crate::shard`] (which merges shards and
//! sits above the engine) so the engine can ask it without a cycle.

use sha2::{Digest, Sha256};

/// The shard key of `(probe, target)` (see the `shard` module's documentation).
pub fn key(probe: &str, target: &str) -> String {
    key_in(probe, target, None)
}

/// The shard key of `(probe, target)` examined in `account` (a multi-account run expands each
/// `*` and `account` target per account before slicing): an AWS row is keyed by the account it
/// is examined in, else by the account its target names, else by the run's one account (`aws\n`).
pub fn key_in(probe: &str, target: &str, account: Option<&str>) -> String {
    if probe.starts_with("aws.") {
        let account = account.or_else(|| aws_account(target)).unwrap_or_default();
        return format!("aws\n{account}");
    }
    format!("{probe}\n{target}")
}

/// The account id an AWS target names: an ARN's account field, or a 12-digit `ACCOUNT:`/
/// `ACCOUNT/` prefix.
pub(crate) fn aws_account(target: &str) -> Option<&str> {
    if let Some(rest) = target.strip_prefix("arn:") {
        let account = rest.split(':').nth(3)?;
        return (!account.is_empty()).then_some(account);
    }
    let head = target.get(..12)?;
    let sep = target[12..].chars().next();
    (head.bytes().all(|b| b.is_ascii_digit()) && matches!(sep, Some(':' | '/'))).then_some(head)
}

/// The 1-based slice of `count` that `(probe, target)` belongs to.
pub fn slice_of(probe: &str, target: &str, count: u32) -> u32 {
    slice_in(probe, target, None, count)
}

/// The 1-based slice of `count` that `(probe, target)` examined in `account` belongs to.
pub fn slice_in(probe: &str, target: &str, account: Option<&str>, count: u32) -> u32 {
    let digest = Sha256::digest(key_in(probe, target, account).as_bytes());
    let head = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    (head % u64::from(count.max(1))) as u32 + 1
}
