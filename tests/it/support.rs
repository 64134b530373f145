//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    repo().join("fixtures").join(rel)
}

/// The `vouch` binary built for this test run.
pub fn vouch() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("vouch").expect("vouch binary");
    cmd.env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

/// Fails the test when something it needs (a server, a tool) is missing. Never a skip: the
/// test command (`scripts/test`) installs and starts everything, so a missing piece is a bug.
pub fn require<T>(found: Option<T>, what: &str, how: &str) -> T {
    match found {
        Some(t) => t,
        None => {
            panic!("this test needs {what}, which was not found; {how} (scripts/test sets it up)")
        }
    }
}
