//! The demo estate (`examples/demo/`), started in-process, checked with the built-in library:
//! every control's verdict is the one the estate was built to show, each for the right reason.

use std::collections::BTreeMap;

#[path = "../../examples/demo/estate.rs"]
pub(crate) mod estate;

use crate::support::{require, vouch};

fn verdicts(report: &serde_json::Value) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for c in report["controls"].as_array().unwrap() {
        for r in c["results"].as_array().unwrap() {
            out.insert(
                (
                    c["id"].as_str().unwrap().to_string(),
                    r["target"].as_str().unwrap().to_string(),
                ),
                r["verdict"].as_str().unwrap().to_string(),
            );
        }
    }
    out
}

/// The whole (control, target) → verdict table the demo estate must give, one line each, in
/// `fixtures/demo/verdicts.txt`. Targets the emulator names at random (key ids) are written with
/// `<uuid>`, EBS and EFS ids as `vol-<id>`, `snap-<id>`, `fs-<id>`, the time in an automated RDS
/// snapshot's name as `<time>`. Prevents: a built-in control whose verdict on the demo estate changes unnoticed (12
/// of 48 controls were asserted one by one before). After an intended change, regenerate with
/// `VOUCH_BLESS=1 cargo nextest run -E 'test(/the_demo_estate/)'` and review the diff.
fn pinned_table_holds(v: &BTreeMap<(String, String), String>) {
    let uuid =
        regex::Regex::new("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    // CloudFront distribution ids are the emulator's random choice too.
    let distribution = regex::Regex::new("^E?[A-Z0-9]{12,14}$").unwrap();
    // EBS volume and snapshot ids and EFS file system ids are random too.
    let resource_id = regex::Regex::new(r"\b(vol|snap|fs)-[0-9a-f]{8,17}\b").unwrap();
    // Automated RDS snapshots are named after the minute they were taken.
    let snapshot_time = regex::Regex::new(r"-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}$").unwrap();
    let mut actual: Vec<String> = v
        .iter()
        .map(|((id, target), verdict)| {
            let target = uuid.replace_all(target, "<uuid>");
            let target = distribution.replace(&target, "<distribution>");
            let target = resource_id.replace_all(&target, "$1-<id>");
            let target = snapshot_time.replace(&target, "-<time>");
            format!("{id}  {target}  {verdict}")
        })
        .collect();
    actual.sort();
    let path = crate::support::repo().join("fixtures/demo/verdicts.txt");
    let header = "# The demo estate's verdict per (control, target): see tests/it/demo.rs \
                  (pinned_table_holds) to regenerate.\n";
    if std::env::var_os("VOUCH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("{header}{}\n", actual.join("\n"))).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut expected: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect();
    expected.sort();
    let missing: Vec<&String> = expected.iter().filter(|l| !actual.contains(l)).collect();
    let extra: Vec<&String> = actual.iter().filter(|l| !expected.contains(l)).collect();
    let mut diff = String::new();
    for l in &missing {
        diff.push_str(&format!("- {l}\n"));
    }
    for l in &extra {
        diff.push_str(&format!("+ {l}\n"));
    }
    assert!(
        diff.is_empty() && actual == expected,
        "the demo estate's verdicts differ from {} (- expected, + got):\n{diff}",
        path.display()
    );
    let controls: std::collections::BTreeSet<&str> = v.keys().map(|(id, _)| id.as_str()).collect();
    let library = vouch::control::load_controls(
        &vouch::control::builtin::sources(),
        &vouch::probe::Registry::builtin(),
        None,
        &mut vouch::diag::Diagnostics::new(),
    );
    for c in &library {
        assert!(
            controls.contains(c.id.as_str()),
            "built-in control {} has no row in the demo report",
            c.id
        );
    }
}

fn result<'a>(report: &'a serde_json::Value, id: &str, target: &str) -> &'a serde_json::Value {
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .and_then(|c| {
            c["results"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["target"] == target)
        })
        .unwrap_or_else(|| panic!("no result for {id} on {target}"))
}

/// A moto server of the demo's own: the other AWS tests reset and fill the shared one.
struct OwnMoto {
    child: std::process::Child,
    url: String,
}

impl OwnMoto {
    fn start() -> OwnMoto {
        let bin = crate::support::repo().join(".venv/moto-resilience/bin/moto_server");
        let bin = require(
            bin.exists().then_some(bin),
            "moto's server",
            "source scripts/setup.d/31-moto-resilience.sh",
        );
        let (child, port) = crate::support::spawn_on_free_port(
            "moto_server",
            std::time::Duration::from_secs(30),
            |port| {
                let mut cmd = std::process::Command::new(&bin);
                cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                cmd
            },
        );
        OwnMoto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for OwnMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_estate_shows_each_verdict_for_the_right_reason() {
    let moto = OwnMoto::start();
    let dir = tempfile::tempdir().unwrap();
    let estate = estate::start(dir.path(), Some(&moto.url))
        .await
        .expect("demo estate starts");
    let inventory = estate.inventory.clone();
    let out = tokio::task::spawn_blocking(move || {
        vouch()
            // The emulator accepts any credentials.
            .env("AWS_ACCESS_KEY_ID", "demo")
            .env("AWS_SECRET_ACCESS_KEY", "demo")
            .env_remove("AWS_PROFILE")
            .env(estate::GITHUB_TOKEN_ENV, estate::GITHUB_TOKEN)
            .args([
                "check",
                "--format",
                "json",
                "--timeout",
                "5s",
                "--inventory",
            ])
            .arg(&inventory)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "failures present: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Every call the built-in library made is allowed by the least-privilege policy.
    let called = crate::support::assert_iam_policy_allows(&report);
    assert!(called.len() > 20, "{called:?}");
    let v = verdicts(&report);
    pinned_table_holds(&v);
    let expect = |id: &str, target: &str, verdict: &str| {
        assert_eq!(
            v.get(&(id.to_string(), target.to_string()))
                .map(String::as_str),
            Some(verdict),
            "{id} on {target}: {}",
            result(&report, id, target)
        );
    };
    // In transit.
    expect("ENC-TRANSIT-TLS12", "app.opendoors.ai:443", "pass");
    expect("ENC-TRANSIT-TLS12", "api.opendoors.ai:443", "pass");
    expect("ENC-TRANSIT-TLS12", "files.opendoors.ai:443", "fail");
    expect("ENC-TRANSIT-TLS12", "portal.opendoors.ai:443", "pass");
    expect("ENC-TRANSIT-TLS12", "sso.opendoors.ai:443", "error");
    let legacy = result(&report, "ENC-TRANSIT-TLS12", "files.opendoors.ai:443");
    assert_eq!(legacy["checks"][0]["observed"], "TLSv1.0");
    let silent = result(&report, "ENC-TRANSIT-TLS12", "sso.opendoors.ai:443");
    assert!(
        silent["checks"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not observed")
    );
    expect("ENC-TRANSIT-CERTIFICATE", "portal.opendoors.ai:443", "fail");
    expect("ENC-TRANSIT-CERTIFICATE", "app.opendoors.ai:443", "pass");
    expect("ENC-TRANSIT-HSTS-PRELOAD", "opendoors.ai", "pass");
    expect("ENC-TRANSIT-HSTS-PRELOAD", "opendoors.io", "fail");
    expect("ENC-TRANSIT-HTTPS-REDIRECT", "opendoors.ai", "pass");
    expect("ENC-TRANSIT-HTTPS-REDIRECT", "opendoors.io", "fail");
    expect("APPSEC-SECURITY-TXT", "opendoors.ai", "pass");
    expect("APPSEC-SECURITY-TXT", "opendoors.io", "fail");
    expect("RES-STATUS-PAGE", "https://opendoors.ai/status", "pass");
    // Attestations: fresh ones pass, the DR test is 421 days old.
    expect("APPSEC-PENTEST-ANNUAL", "pentest-annual", "pass");
    expect("RES-DR-TEST-ANNUAL", "dr-test", "fail");
    let dr = result(&report, "RES-DR-TEST-ANNUAL", "dr-test");
    assert_eq!(dr["checks"][0]["observed"], 421);
    expect("PEOPLE-SECURITY-TRAINING", "security-training", "pass");
    // The code host (the GitHub stand-in): `platform` passes, `website` fails, the archived
    // repository is skipped, the organisation requires 2FA.
    for id in [
        "APPSEC-SDLC-REVIEW",
        "APPSEC-DEPENDENCIES",
        "APPSEC-SAST",
        "KEY-NO-SECRETS-IN-CODE",
    ] {
        expect(id, "opendoors/platform", "pass");
        expect(id, "opendoors/website", "fail");
        assert!(
            !v.contains_key(&(id.to_string(), "opendoors/legacy-billing".to_string())),
            "{id}: the archived repository was not skipped"
        );
    }
    expect("ACCESS-WORKFORCE-2FA", "opendoors", "pass");
    // Storage and keys, seeded into the emulator through the SDK.
    expect("ENC-REST-S3", "opendoors-customer-data", "pass");
    expect("ENC-REST-S3", "opendoors-backups", "pass");
    expect("ENC-REST-S3", "opendoors-legacy-exports", "fail");
    expect("INFRA-BUCKETS-PRIVATE", "opendoors-customer-data", "pass");
    expect("INFRA-BUCKETS-PRIVATE", "opendoors-legacy-exports", "fail");
    // Where data flows: load balancers, databases and buckets in transit; the key behind a bucket.
    expect("ENC-TRANSIT-LOAD-BALANCERS", "opendoors-web", "pass");
    expect("ENC-TRANSIT-LOAD-BALANCERS", "opendoors-legacy-web", "fail");
    let lb = result(
        &report,
        "ENC-TRANSIT-LOAD-BALANCERS",
        "opendoors-legacy-web",
    );
    let lowest = lb["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["fact"] == "listeners.lowest_protocol")
        .unwrap_or_else(|| panic!("{lb}"));
    assert_eq!(lowest["observed"], "TLSv1.0", "{lb}");
    expect("ENC-TRANSIT-DATABASES", "opendoors-app-db", "pass");
    expect("ENC-TRANSIT-DATABASES", "opendoors-reporting-db", "fail");
    expect("ENC-TRANSIT-S3", "opendoors-customer-data", "pass");
    expect("ENC-TRANSIT-S3", "opendoors-legacy-exports", "fail");
    expect("ENC-REST-S3-CMK", "opendoors-customer-data", "pass");
    expect("ENC-REST-S3-CMK", "opendoors-backups", "fail");
    let cdn: Vec<&String> = v
        .iter()
        .filter(|((id, _), _)| id == "ENC-TRANSIT-CDN")
        .map(|(_, verdict)| verdict)
        .collect();
    assert_eq!(cdn, ["fail"], "the plain-HTTP distribution");
    let keys: Vec<(&String, &String)> = v
        .iter()
        .filter(|((id, _), _)| id == "KEY-ROTATION")
        .map(|((_, target), verdict)| (target, verdict))
        .collect();
    let mut verdicts: Vec<&str> = keys.iter().map(|(_, v)| v.as_str()).collect();
    verdicts.sort();
    assert_eq!(
        verdicts,
        ["fail", "pass", "pass"],
        "two home-region keys (one rotates, one does not) and the DR region's rotating key"
    );
    // The DR key lives outside the home region: found through `[aws] regions`, named by ARN.
    let far: Vec<&&String> = keys
        .iter()
        .map(|(t, _)| t)
        .filter(|t| t.starts_with("arn:aws:kms:us-east-1:"))
        .collect();
    assert_eq!(far.len(), 1, "{keys:?}");
    assert_eq!(
        report["run"]["context"]["aws.regions"]["regions"],
        serde_json::json!(["eu-west-1", "us-east-1"])
    );
    assert!(
        report["run"]["context"]["aws.caller_identity"].is_object(),
        "the account examined is recorded"
    );
    // Restore proof per resource, from the AWS Backup stand-in in front of the emulator: a
    // validated restore last month passes; a newest restore whose validation FAILED does not
    // count (the older validated one is 120 days old); a resource never restored fails.
    let rds = |id: &str| format!("arn:aws:rds:eu-west-1:123456789012:db:{id}");
    let sessions = "arn:aws:dynamodb:eu-west-1:123456789012:table/opendoors-sessions";
    expect("BACKUP-RESTORE-TESTED", &rds("opendoors-app-db"), "pass");
    expect(
        "BACKUP-RESTORE-TESTED",
        &rds("opendoors-reporting-db"),
        "fail",
    );
    expect("BACKUP-RESTORE-TESTED", sessions, "fail");
    let failed = result(
        &report,
        "BACKUP-RESTORE-TESTED",
        &rds("opendoors-reporting-db"),
    );
    let obs = &report["observations"][failed["observation"].as_str().unwrap()];
    assert_eq!(obs["facts"]["restore.validation_status"], "FAILED", "{obs}");
    assert!(
        obs["facts"]["restore.age_days"].as_i64().unwrap() <= 3,
        "the newest restore is recent, it just failed validation: {obs}"
    );
    let never = result(&report, "BACKUP-RESTORE-TESTED", sessions);
    assert!(never["checks"][0]["observed"].is_null(), "{never}");
    // Coverage: the table no backup plan selects fails as "not protected", never an error.
    let audit = "arn:aws:dynamodb:eu-west-1:123456789012:table/opendoors-audit-events";
    expect("BACKUP-COVERAGE", audit, "fail");
    expect("BACKUP-COVERAGE", &rds("opendoors-app-db"), "pass");
    let unprotected = result(&report, "BACKUP-COVERAGE", audit);
    assert_eq!(unprotected["checks"][0]["fact"], "backup.protected");
    assert_eq!(unprotected["checks"][0]["observed"], false);
    expect("BACKUP-RESTORE-TESTING-PLAN", "region:eu-west-1", "pass");
    expect("BACKUP-RESTORE-TESTING-PLAN", "region:us-east-1", "n/a");
    // The report says the AWS answers came from an overridden endpoint (the stand-in).
    assert!(
        report["run"]["context"]["aws.endpoint_override"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
        "{}",
        report["run"]["context"]
    );
    // Every attestation control ran against the file, and its evidence digest is recorded.
    for c in report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["probe"] == "attestation")
    {
        let r = &c["results"][0];
        let obs = &report["observations"][r["observation"].as_str().unwrap()];
        assert_eq!(
            obs["facts"]["evidence.sha256"].as_str().unwrap().len(),
            64,
            "{}",
            c["id"]
        );
    }
    drop(estate);
}

/// The processes whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    })
}

/// The wrong answer this prevents: `scripts/demo` ending (or being interrupted) and leaving the
/// estate's `openssl s_server` (the TLS 1.0 endpoint) running. The estate binary that
/// scripts/demo starts is stopped the way scripts/demo's clean-up stops it (SIGTERM) and the
/// way a terminal does (SIGINT); in both cases no child outlives it.
#[test]
fn the_demo_estate_stops_every_child_on_sigterm_and_sigint() {
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_vouch"))
        .parent()
        .unwrap()
        .join("examples/demo-estate");
    let bin = require(
        bin.exists().then_some(bin),
        "the demo-estate example binary",
        "cargo nextest builds it with the tests (cargo build --example demo-estate)",
    );
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let mut estate = std::process::Command::new(&bin)
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while !dir.path().join("ready").exists() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "the estate did not start"
            );
            assert!(estate.try_wait().unwrap().is_none(), "the estate exited");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let children = children_of(estate.id());
        assert!(
            !children.is_empty(),
            "the estate runs openssl s_server as a child"
        );
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), estate.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let start = std::time::Instant::now();
        while estate.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "SIG{signal}: the estate did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let left: Vec<u32> = children.into_iter().filter(|&c| alive(c)).collect();
        assert!(
            left.is_empty(),
            "SIG{signal}: children outlived the estate: {left:?}"
        );
    }
}

/// The processes of process group `pgid` still running (from /proc; zombies excluded).
fn group_members(pgid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid) {
            let comm = head.split_once('(').map(|(_, c)| c).unwrap_or_default();
            out.push((pid, comm.to_string()));
        }
    }
    out
}

/// Every loopback address the demo's inventory sends vouch to: each `[resolve]` address (the
/// estate's servers, among them `openssl s_server`) and `[aws] endpoint_url` (the AWS Backup
/// stand-in in front of moto).
fn demo_addresses(inventory: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(inventory).unwrap();
    let inv: toml::Table = toml::from_str(&text).unwrap();
    let mut out: Vec<String> = inv["resolve"]
        .as_table()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let endpoint = inv["aws"]["endpoint_url"].as_str().unwrap();
    out.push(endpoint.trim_start_matches("http://").to_string());
    out.sort();
    out.dedup();
    out
}

/// The wrong answer this prevents: `scripts/demo` ending, or being stopped by Ctrl-C (SIGINT to
/// its whole process group, as a terminal sends it) or by `kill` (SIGTERM to the script),
/// and leaving behind moto, the estate, its `openssl s_server` or the AWS Backup stand-in.
/// The demo runs in a process group of its own; afterwards no process of that group remains and
/// no port the inventory named still accepts connections.
#[test]
fn scripts_demo_leaves_no_process_and_no_port_behind() {
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};
    require(
        crate::support::repo()
            .join(".venv/moto-resilience/bin/moto_server")
            .exists()
            .then_some(()),
        "moto's server",
        "source scripts/setup.d/31-moto-resilience.sh",
    );
    for stop in ["finish", "INT-group", "TERM-script"] {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("demo");
        let mut demo = std::process::Command::new(crate::support::repo().join("scripts/demo"))
            .env("VOUCH_DEMO_DIR", &work)
            // The suite's own binaries: a `cargo build` here would relink them under the
            // tests running beside this one.
            .env("VOUCH_DEMO_PREBUILT", "1")
            .env_remove("VOUCH_TEST_MOTO_RESILIENCE_URL")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = demo.id();
        let start = Instant::now();
        while !work.join("ready").exists() {
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "{stop}: the demo estate did not start"
            );
            assert!(
                demo.try_wait().unwrap().is_none(),
                "{stop}: the demo exited"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let addresses = demo_addresses(&work.join("vouch.toml"));
        assert!(addresses.len() >= 5, "{addresses:?}");
        let running = group_members(pgid);
        for needed in ["demo-estate", "openssl", "moto_server"] {
            assert!(
                running.iter().any(|(_, c)| c.starts_with(needed)),
                "{stop}: no {needed} in the demo's group: {running:?}"
            );
        }
        match stop {
            "finish" => {}
            "INT-group" => {
                std::thread::sleep(Duration::from_secs(1)); // vouch check under way
                let sent = std::process::Command::new("kill")
                    .args(["-INT", "--", &format!("-{pgid}")])
                    .status()
                    .unwrap();
                assert!(sent.success());
            }
            _ => {
                std::thread::sleep(Duration::from_secs(1));
                let sent = std::process::Command::new("kill")
                    .args(["-TERM", &pgid.to_string()])
                    .status()
                    .unwrap();
                assert!(sent.success());
            }
        }
        let start = Instant::now();
        let status = loop {
            if let Some(s) = demo.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "{stop}: the demo did not end"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        if stop == "finish" {
            assert!(status.success(), "{stop}: {status:?}");
        }
        // The clean-up waits for each process it stopped: nothing is left once it returns
        // (a moment's grace for the kernel to reap).
        let start = Instant::now();
        let mut left = group_members(pgid);
        while !left.is_empty() && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(100));
            left = group_members(pgid);
        }
        if !left.is_empty() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
        }
        assert!(left.is_empty(), "{stop}: outlived the demo: {left:?}");
        for addr in &addresses {
            assert!(
                std::net::TcpStream::connect_timeout(
                    &addr.parse().unwrap(),
                    Duration::from_millis(500)
                )
                .is_err(),
                "{stop}: {addr} still accepts connections after the demo ended"
            );
        }
    }
}
