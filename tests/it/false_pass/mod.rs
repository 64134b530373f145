//! Verdicts that never pass falsely (issue #12): a table of small estates, each with the verdict
//! and exit code it must earn and, in one line, the wrong answer it prevents. `gates` holds the
//! gate, population, time, waiver, TLS-list, account and signal cases; `evidence` the bundle,
//! verify and replay cases.

mod evidence;
mod gates;

use std::path::PathBuf;

use crate::support::vouch;

/// A small estate on disk: control files, an inventory and whatever else a case writes.
pub struct Estate {
    pub dir: tempfile::TempDir,
}

impl Estate {
    pub fn new() -> Estate {
        Estate {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `rel` (relative to the estate) and returns its path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `vouch check --controls controls.toml --inventory vouch.toml --format json` in the
    /// estate, plus `extra`; dummy AWS credentials, no profile.
    pub fn check(&self, extra: &[&str]) -> assert_cmd::Command {
        let mut cmd = vouch();
        cmd.current_dir(self.dir.path())
            .args([
                "check",
                "--controls",
                "controls.toml",
                "--inventory",
                "vouch.toml",
                "--format",
                "json",
            ])
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_ENDPOINT_URL");
        cmd
    }
}

/// Runs `cmd`, returns its exit code, the parsed JSON report on stdout (Null when none) and
/// stderr.
pub fn run(cmd: &mut assert_cmd::Command) -> (i32, serde_json::Value, String) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

/// The one result of control `id` on `target`.
pub fn result<'r>(report: &'r serde_json::Value, id: &str, target: &str) -> &'r serde_json::Value {
    report["controls"]
        .as_array()
        .unwrap_or_else(|| panic!("no report: {report}"))
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no control {id} in {report}"))["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == target)
        .unwrap_or_else(|| panic!("no result {id} × {target} in {report}"))
}

/// Today (UTC) shifted by `days`.
pub fn day(days: i64) -> jiff::civil::Date {
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    today.checked_add(jiff::Span::new().days(days)).unwrap()
}

/// An attestations file with one entry performed on `performed_on` and attested by `by`, its
/// evidence file beside it.
pub fn attestation(
    estate: &Estate,
    id: &str,
    performed_on: jiff::civil::Date,
    by: &str,
) -> PathBuf {
    estate.write("evidence.txt", "signed report\n");
    estate.write(
        "attestations.toml",
        &format!(
            "[[attestation]]\nid = \"{id}\"\nstatement = \"Annual penetration test\"\n\
             performed_on = {performed_on}\nevidence = \"evidence.txt\"\nattested_by = \"{by}\"\n"
        ),
    )
}

/// A loopback TCP server that accepts and never answers (a black-holed port); it runs until
/// the test process ends.
pub fn silent_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    addr
}

/// A free loopback port nothing listens on (connections are refused).
pub fn refused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
