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

/// Target → verdict of every result of control `id` in a JSON report.
pub fn verdicts(
    report: &serde_json::Value,
    id: &str,
) -> std::collections::BTreeMap<String, String> {
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no control {id} in the report"))["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `vouch check --controls CONTROLS --inventory INVENTORY --format json` against an AWS
/// emulator, with dummy credentials through the standard chain's environment provider; the
/// process output and the parsed report (a parse failure shows stdout and stderr).
pub fn check_json_with_dummy_aws(
    controls: &std::path::Path,
    inventory: &std::path::Path,
) -> (std::process::Output, serde_json::Value) {
    let out = vouch()
        .args(["check", "--controls"])
        .arg(controls)
        .arg("--inventory")
        .arg(inventory)
        .args(["--format", "json"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}
