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

/// `vouch check --controls builtin --only ID… --inventory INVENTORY --format json`: the shipped
/// library's own controls `only`, against an AWS emulator, with dummy credentials through the
/// standard chain's environment provider; the process output and the parsed report (a parse
/// failure shows stdout and stderr).
pub fn check_builtin_json_with_dummy_aws(
    only: &[&str],
    inventory: &std::path::Path,
) -> (std::process::Output, serde_json::Value) {
    let mut cmd = vouch();
    cmd.args(["check", "--controls", "builtin"]);
    for id in only {
        cmd.args(["--only", id]);
    }
    let out = cmd
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

/// The shipped library's controls `ids` (each must exist), loaded and validated as `vouch check
/// --controls builtin` loads them; a test runs them with a registry of its own.
pub fn builtin_controls(ids: &[&str]) -> Vec<vouch::control::Control> {
    let mut diags = vouch::diag::Diagnostics::new();
    let controls = vouch::control::load_controls(
        &vouch::control::builtin::sources(),
        &vouch::probe::Registry::builtin(),
        None,
        &mut diags,
    );
    assert!(!diags.has_errors(), "{}", diags.render(false));
    let picked: Vec<_> = controls
        .into_iter()
        .filter(|c| ids.contains(&c.id.as_str()))
        .collect();
    for id in ids {
        assert!(
            picked.iter().any(|c| c.id == *id),
            "no built-in control {id}"
        );
    }
    picked
}

/// Starts a server that takes its port on the command line (`openssl s_server`, moto) on a
/// free loopback port, and waits until it accepts connections; returns it and the port.
///
/// A free port is only free until someone takes it: another test's server may bind it between
/// our pick and the server's. Then the server exits (and a connect would reach the other
/// server), so a start counts only if the process still runs once the port accepts; otherwise
/// another port is tried, five in all.
pub fn spawn_on_free_port(
    what: &str,
    patience: std::time::Duration,
    mut command: impl FnMut(u16) -> std::process::Command,
) -> (std::process::Child, u16) {
    use std::time::{Duration, Instant};
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = command(port)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        let running = |child: &mut std::process::Child| child.try_wait().ok().flatten().is_none();
        let start = Instant::now();
        let mut listening = false;
        while running(&mut child) {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                listening = true;
                break;
            }
            assert!(start.elapsed() < patience, "{what} did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(20));
        if listening && running(&mut child) {
            return (child, port);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{what} could not bind a free port in five tries");
}

/// The actions `docs/iam-policy.json` and `docs/iam-policy-management.json` allow.
pub fn iam_policy_actions() -> std::collections::BTreeSet<String> {
    static POLICY: std::sync::OnceLock<std::collections::BTreeSet<String>> =
        std::sync::OnceLock::new();
    POLICY
        .get_or_init(|| {
            // The read-only policy of the audited role, and the management (or delegated
            // administrator) account's: listing the organisation, assuming the audit roles.
            let mut actions = std::collections::BTreeSet::new();
            for file in ["docs/iam-policy.json", "docs/iam-policy-management.json"] {
                let text = std::fs::read_to_string(repo().join(file)).unwrap();
                let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
                actions.extend(
                    doc["Statement"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|s| s["Action"].as_array().unwrap().iter())
                        .map(|a| a.as_str().unwrap().to_string()),
                );
            }
            actions
        })
        .clone()
}

/// Fails when an API call recorded anywhere in `evidence` (any `api_calls` list: an
/// observation's evidence, a report's observations or run context) is not allowed by
/// `docs/iam-policy.json`, the least-privilege policy the README tells users to attach.
/// Returns the IAM actions seen.
pub fn assert_iam_policy_allows(evidence: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if k == "api_calls" {
                        for call in v.as_array().into_iter().flatten() {
                            if let Some(a) = call["action"].as_str() {
                                out.push(vouch::probe::aws::error::iam_action(a).to_string());
                            }
                        }
                    } else {
                        walk(v, out);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut seen = Vec::new();
    walk(evidence, &mut seen);
    let policy = iam_policy_actions();
    for a in &seen {
        assert!(
            policy.contains(a),
            "vouch called {a}, which docs/iam-policy.json does not allow: add it there"
        );
    }
    seen
}
