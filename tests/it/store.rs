//! The evidence store (`check --store`, `verify --store`, `history`, `history --at`,
//! `--notify`): local folders and S3 (moto, with Object Lock). Year-long stores are built through
//! the library with explicit run times; `vouch check` itself has no clock setting.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use vouch::evidence::Trust;
use vouch::expect::Verdict;
use vouch::report::{self, ControlResult, Report, Run, Severity, Summary, TargetResult};
use vouch::store::history::{self, HistoryFormat, HistoryOptions, PeriodVerdict};
use vouch::store::{Location, Store, StoreSettings, Window};

use crate::support::vouch;

const CONTROLS: &str = "[[control]]\nid = \"X\"\ntitle = \"x\"\nseverity = \"high\"\n\
                        probe = \"attestation\"\ntargets = [\"a\"]\n\
                        expect = [{ fact = \"age_days\", op = \"<=\", value = 1 }]\n";

/// A report of one run at `t`: control → target → verdict.
fn report_at(t: Timestamp, results: &[(&str, &str, Verdict)]) -> Report {
    let mut controls: BTreeMap<&str, Vec<TargetResult>> = BTreeMap::new();
    for (c, target, v) in results {
        controls.entry(c).or_default().push(TargetResult {
            target: target.to_string(),
            account: None,
            verdict: *v,
            observation: None,
            checks: vec![],
            error: (*v == Verdict::Error).then(|| "timed out".to_string()),
            hint: None,
            waiver: None,
            expires_at: None,
            engine: None,
        });
    }
    let mut r = Report {
        schema: report::SCHEMA.into(),
        tool: report::Tool::default(),
        run: Run {
            started_at: t,
            finished_at: t + jiff::SignedDuration::from_secs(30),
            complete: true,
            fail_on: Severity::Low,
            context: BTreeMap::new(),
            replay: None,
            warnings: vec![],
            evidence: None,
            shard: None,
            merge: None,
        },
        summary: Summary::default(),
        controls: controls
            .into_iter()
            .map(|(id, results)| ControlResult {
                id: id.into(),
                title: format!("{id} title"),
                claim: String::new(),
                severity: Severity::High,
                probe: "attestation".into(),
                frameworks: BTreeMap::new(),
                tags: vec![],
                remediation: String::new(),
                verdict: Verdict::Pass,
                examined_nothing: false,
                require: Default::default(),
                satisfied_by: vec![],
                source: None,
                skipped: None,
                results,
            })
            .collect(),
        observations: vouch::report::ObservationStore::new(),
        coverage: vec![],
        unused_waivers: vec![],
    };
    r.summarise();
    r
}

fn day0() -> Timestamp {
    "2026-01-01T06:00:00Z".parse().unwrap()
}

fn at_day(d: i64) -> Timestamp {
    day0() + jiff::SignedDuration::from_hours(24 * d)
}

fn key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
}

fn put(store: &Store, report: &mut Report) -> vouch::store::StoredRun {
    let inputs = vec![(
        "inputs/controls/000-x.toml".to_string(),
        CONTROLS.as_bytes().to_vec(),
    )];
    store
        .put_run(
            report,
            &inputs,
            Some(&key()),
            Some(b"[targets]\n"),
            Timestamp::now(),
        )
        .unwrap()
}

fn local(dir: &Path) -> Store {
    Store::open(
        &Location::Local(dir.to_path_buf()),
        &StoreSettings::default(),
        &vouch::inventory::Inventory::default(),
    )
    .unwrap()
}

fn signer() -> String {
    vouch::evidence::sign::fingerprint(&key().verifying_key())
}

fn pinned() -> Trust {
    Trust {
        signer: Some(signer()),
        ..Trust::default()
    }
}

/// 200 daily runs of ENC on two targets and DR on one, with failures on known days and days
/// without any run (25-27: no evidence for 4 days).
fn year_store(dir: &Path) -> Store {
    let store = local(dir);
    for d in 0..200 {
        if (25..=27).contains(&d) {
            continue;
        }
        // app fails on days 10-14 (fixed on 15) and from 190 to the end (open).
        let app = if (10..15).contains(&d) || d >= 190 {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        // api errors on day 50 (no evidence, no exception), fails on day 100 only.
        let api = match d {
            50 => Verdict::Error,
            100 => Verdict::Fail,
            _ => Verdict::Pass,
        };
        let mut r = report_at(
            at_day(d),
            &[
                ("ENC", "app", app),
                ("ENC", "api", api),
                ("DR", "plan", Verdict::Pass),
            ],
        );
        put(&store, &mut r);
    }
    store
}

fn opts(from: &str, to: &str) -> HistoryOptions {
    HistoryOptions {
        window: Window {
            from: Some(from.parse().unwrap()),
            to: Some(to.parse().unwrap()),
        },
        controls: vec![],
        targets: vec![],
        expect_every: 86_400,
        max_exception: 2 * 86_400,
        now: "2027-01-01T00:00:00Z".parse().unwrap(),
    }
}

#[test]
fn store_history_of_200_daily_runs_gives_shares_exceptions_gaps_and_period_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let store = year_store(dir.path());
    // Days 0..=199 are 2026-01-01 .. 2026-07-19.
    let h = history::history(&store, &pinned(), &opts("2026-01-01", "2026-07-19")).unwrap();
    assert!(h.problems.is_empty(), "{:?}", h.problems);
    assert_eq!(h.runs, 197);
    let row = |c: &str, t: &str| {
        h.rows
            .iter()
            .find(|r| r.control == c && r.target == t)
            .unwrap()
    };

    let app = row("ENC", "app");
    assert_eq!(app.runs, 197);
    // 197 runs, 5 + 10 failing.
    assert!(
        (app.pass_share - 182.0 / 197.0).abs() < 1e-9,
        "{}",
        app.pass_share
    );
    assert_eq!(app.exceptions.len(), 2, "{:?}", app.exceptions);
    assert_eq!(app.exceptions[0].from, at_day(10));
    assert_eq!(app.exceptions[0].to, at_day(15));
    assert_eq!(app.exceptions[0].duration, "5d");
    assert!(!app.exceptions[0].open);
    assert_eq!(app.exceptions[1].from, at_day(190));
    assert!(app.exceptions[1].open);
    // Open to the end of the period: 2026-07-20T00:00Z.
    let end: Timestamp = "2026-07-20T00:00:00Z".parse().unwrap();
    assert_eq!(app.exceptions[1].to, end);
    // The open one counts as far as the period's end: 9d18h, longer than the closed 5d.
    assert_eq!(
        app.longest_to_remediate_seconds,
        Some(9 * 86_400 + 18 * 3_600)
    );
    // The 4-day hole (last run day 24, next day 28) is a gap for every row.
    assert_eq!(app.gaps.len(), 1, "{:?}", app.gaps);
    assert_eq!((app.gaps[0].from, app.gaps[0].to), (at_day(24), at_day(28)));
    assert_eq!(app.gaps[0].duration, "4d");
    assert_eq!(app.period_verdict, PeriodVerdict::NotEffective);

    let api = row("ENC", "api");
    // Day 50's error is no evidence, and not a pass either: 195 of 197 runs passed.
    assert!(
        (api.pass_share - 195.0 / 197.0).abs() < 1e-9,
        "{}",
        api.pass_share
    );
    assert_eq!(api.exceptions.len(), 1);
    assert_eq!(api.exceptions[0].duration, "1d");
    // day 49 -> day 51 without evidence is a second gap (2 days > 1d).
    assert_eq!(api.gaps.len(), 2, "{:?}", api.gaps);
    assert_eq!((api.gaps[1].from, api.gaps[1].to), (at_day(49), at_day(51)));
    assert_eq!(api.period_verdict, PeriodVerdict::NotEffective);

    // A window after the hole and before the failures: DR and api operated effectively.
    let h = history::history(&store, &pinned(), &opts("2026-03-01", "2026-04-09")).unwrap();
    assert_eq!(h.runs, 40);
    assert_eq!(
        row_of(&h, "DR", "plan").period_verdict,
        PeriodVerdict::Effective
    );
    assert_eq!(row_of(&h, "DR", "plan").pass_share, 1.0);
    assert_eq!(
        row_of(&h, "ENC", "api").period_verdict,
        PeriodVerdict::Effective
    );
    assert_eq!(h.exit_code(), 0);
    // ... but the api exception of day 100 (1d) breaks a 0s threshold, not a 2d one.
    let mut o = opts("2026-04-01", "2026-04-30");
    let h2 = history::history(&store, &pinned(), &o).unwrap();
    assert_eq!(
        row_of(&h2, "ENC", "api").period_verdict,
        PeriodVerdict::Effective
    );
    o.max_exception = 0;
    let h2 = history::history(&store, &pinned(), &o).unwrap();
    assert_eq!(
        row_of(&h2, "ENC", "api").period_verdict,
        PeriodVerdict::NotEffective
    );
    assert_eq!(h2.exit_code(), 1);

    // Every format renders; HTML has one SVG per control and no script.
    let html = h.render(HistoryFormat::Html).unwrap();
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(!html.contains("<script"));
    assert!(html.contains("default-src 'none'"));
    let oscal: serde_json::Value =
        serde_json::from_str(&h.render(HistoryFormat::Oscal).unwrap()).unwrap();
    let result = &oscal["assessment-results"]["results"][0];
    assert_eq!(result["start"], "2026-03-01T00:00:00Z");
    assert_eq!(result["end"], "2026-04-10T00:00:00Z");
    let json: serde_json::Value =
        serde_json::from_str(&h.render(HistoryFormat::Json).unwrap()).unwrap();
    assert_eq!(json["schema"], "vouch.history/v1");
    for f in [
        HistoryFormat::Table,
        HistoryFormat::Csv,
        HistoryFormat::Markdown,
    ] {
        assert!(h.render(f).unwrap().contains("ENC"));
    }

    // The CLI says the same, and `--at` samples the right run.
    let out = vouch()
        .args(["history", "--store"])
        .arg(dir.path())
        .args([
            "--from",
            "2026-01-01",
            "--to",
            "2026-07-19",
            "--format",
            "json",
            "--signer",
        ])
        .arg(signer())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cli_app = cli["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["control"] == "ENC" && r["target"] == "app")
        .unwrap();
    assert_eq!(cli_app["exceptions"].as_array().unwrap().len(), 2);
    assert_eq!(cli_app["period_verdict"], "not_effective");

    // Day 12 (a failing day) at noon: the newest run is day 12's 06:00 run.
    let out = vouch()
        .args(["history", "--store"])
        .arg(dir.path())
        .args(["--at", "2026-01-13T12:00Z", "--format", "json", "--signer"])
        .arg(signer())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let app = s["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["control"] == "ENC" && r["target"] == "app")
        .unwrap();
    assert_eq!(app["verdict"], "fail");
    assert_eq!(app["started_at"], "2026-01-13T06:00:00Z");
    assert_eq!(app["signature"], "verified");
    assert!(app["bundle"].as_str().unwrap().contains("runs/2026/01/13/"));
    // In the hole (day 26): the newest run is day 24's.
    let sample = history::sample(
        &store,
        &pinned(),
        at_day(26),
        &opts("2026-01-01", "2026-12-31"),
    )
    .unwrap();
    assert!(sample.rows.iter().all(|r| r.started_at == at_day(24)));
}

fn row_of<'h>(h: &'h history::History, c: &str, t: &str) -> &'h history::Row {
    h.rows
        .iter()
        .find(|r| r.control == c && r.target == t)
        .unwrap()
}

fn small_store(dir: &Path) -> (Store, Vec<vouch::store::StoredRun>) {
    let store = local(dir);
    let runs = (0..5)
        .map(|d| {
            put(
                &store,
                &mut report_at(at_day(d), &[("ENC", "app", Verdict::Pass)]),
            )
        })
        .collect();
    (store, runs)
}

fn verify_store(dir: &Path) -> (Option<i32>, String) {
    let out = vouch()
        .args(["verify", "--store"])
        .arg(dir)
        .args(["--signer", &signer()])
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn store_verify_reports_deleted_altered_and_reordered_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (_, runs) = small_store(dir.path());
    let (code, out) = verify_store(dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("5 ledger entries"), "{out}");
    let bundle = |i: usize| dir.path().join(&runs[i].entry.bundle);

    // A run's bundle deleted.
    let d = tempfile::tempdir().unwrap();
    crate::evidence::copy_dir(dir.path(), d.path());
    std::fs::remove_dir_all(d.path().join(&runs[2].entry.bundle)).unwrap();
    let (code, out) = verify_store(d.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("deleted:") && out.contains(&runs[2].run_id),
        "{out}"
    );

    // A run deleted with its ledger entry: the chain has a hole.
    let d = tempfile::tempdir().unwrap();
    crate::evidence::copy_dir(dir.path(), d.path());
    std::fs::remove_dir_all(d.path().join(&runs[2].entry.bundle)).unwrap();
    std::fs::remove_file(d.path().join("ledger/000000000003.json")).unwrap();
    let (code, out) = verify_store(d.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("ledger entry 3 is missing"), "{out}");
    assert!(out.contains("chain broken at seq 4"), "{out}");

    // A verdict altered in a report.
    let d = tempfile::tempdir().unwrap();
    crate::evidence::copy_dir(dir.path(), d.path());
    let rel = runs[1].entry.bundle.clone();
    let report = d.path().join(&rel).join("report.json");
    let text = std::fs::read_to_string(&report)
        .unwrap()
        .replace("\"pass\"", "\"fail\"");
    std::fs::write(&report, text).unwrap();
    let (code, out) = verify_store(d.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("modified: report.json"), "{out}");

    // A ledger entry rewritten (a summary made greener) breaks the link to it.
    let d = tempfile::tempdir().unwrap();
    crate::evidence::copy_dir(dir.path(), d.path());
    let e = d.path().join("ledger/000000000002.json");
    let text = std::fs::read_to_string(&e)
        .unwrap()
        .replacen("\"pass\": 1", "\"pass\": 2", 1);
    std::fs::write(&e, text).unwrap();
    let (code, out) = verify_store(d.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("chain broken at seq 3"), "{out}");

    // Two runs reordered: their ledger entries swapped.
    let d = tempfile::tempdir().unwrap();
    crate::evidence::copy_dir(dir.path(), d.path());
    let (a, b) = (
        d.path().join("ledger/000000000002.json"),
        d.path().join("ledger/000000000003.json"),
    );
    let (ta, tb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    std::fs::write(&a, tb).unwrap();
    std::fs::write(&b, ta).unwrap();
    let (code, out) = verify_store(d.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("reordered:"), "{out}");

    // Two runs' bundles swapped: each MANIFEST differs from what the ledger recorded.
    let d = tempfile::tempdir().unwrap();
    crate::evidence::copy_dir(dir.path(), d.path());
    let (a, b) = (
        d.path().join(&runs[3].entry.bundle),
        d.path().join(&runs[4].entry.bundle),
    );
    let tmp = d.path().join("swap");
    std::fs::rename(&a, &tmp).unwrap();
    std::fs::rename(&b, &a).unwrap();
    std::fs::rename(&tmp, &b).unwrap();
    let (code, out) = verify_store(d.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("altered: the MANIFEST"), "{out}");

    // A fork: a second entry claiming the same predecessor, written without the condition.
    let d = tempfile::tempdir().unwrap();
    crate::evidence::copy_dir(dir.path(), d.path());
    let mut e: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("ledger/000000000005.json")).unwrap())
            .unwrap();
    e["seq"] = 6.into();
    e["run_id"] = "forked".into();
    std::fs::write(
        d.path().join("ledger/000000000006.json"),
        serde_json::to_vec(&e).unwrap(),
    )
    .unwrap();
    let (code, out) = verify_store(d.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("fork: 2 entries claim the same previous entry"),
        "{out}"
    );

    // An unsigned verifier's pin is required: a different signer is refused.
    assert!(bundle(0).is_dir());
    let out = vouch()
        .args(["verify", "--store"])
        .arg(dir.path())
        .args(["--signer", &format!("SHA256:{}", "0".repeat(64))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn store_two_concurrent_runs_both_land_in_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let root = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let store = local(&root);
                for j in 0..5 {
                    put(
                        &store,
                        &mut report_at(at_day(i * 10 + j), &[("ENC", "app", Verdict::Pass)]),
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = local(dir.path());
    let v = store.verify(&pinned(), &Window::default()).unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!((v.entries, v.runs), (20, 20));
    // Also two `vouch check --store` processes at once.
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("controls.toml"), ATTESTED_CONTROLS).unwrap();
    write_attestations(work.path(), 1);
    let procs: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin!("vouch"))
                .current_dir(work.path())
                .env("NO_COLOR", "1")
                .args([
                    "check",
                    "--controls",
                    "controls.toml",
                    "--attestations",
                    "attestations.toml",
                    "--quiet",
                    "--store",
                ])
                .arg(dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut p in procs {
        assert_eq!(p.wait().unwrap().code(), Some(0));
    }
    let v = store
        .verify(&Trust::digests_only(), &Window::default())
        .unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!(v.entries, 22);
}

const ATTESTED_CONTROLS: &str = "[[control]]\nid = \"APPSEC-PENTEST\"\ntitle = \"Pentest\"\n\
    severity = \"high\"\nprobe = \"attestation\"\ntargets = [\"pentest\"]\n\
    expect = [{ fact = \"age_days\", op = \"<=\", value = 365 }]\n\n\
    [[control]]\nid = \"DR-TEST\"\ntitle = \"DR test\"\nseverity = \"medium\"\n\
    probe = \"attestation\"\ntargets = [\"dr\"]\n\
    expect = [{ fact = \"age_days\", op = \"<=\", value = 365 }]\n";

/// Attestations: the pentest `pentest_age` days old, the DR test 10 days.
fn write_attestations(dir: &Path, pentest_age: i64) {
    std::fs::write(dir.join("report.txt"), "ok").unwrap();
    std::fs::write(
        dir.join("attestations.toml"),
        format!(
            "[[attestation]]\nid = \"pentest\"\nstatement = \"Pentest\"\nperformed_on = {}\n\
             evidence = \"report.txt\"\nattested_by = \"CISO\"\n\n\
             [[attestation]]\nid = \"dr\"\nstatement = \"DR\"\nperformed_on = {}\n\
             evidence = \"report.txt\"\nattested_by = \"CISO\"\n",
            crate::evidence::ago(pentest_age),
            crate::evidence::ago(10)
        ),
    )
    .unwrap();
}

/// A loopback HTTP receiver answering `status` to every POST; returns its URL and the bodies.
fn receiver(status: u16) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook/SECRET", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break Some(buf[end + 4..end + 4 + len].to_vec());
                    }
                }
            };
            if let Some(b) = body {
                seen.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&b).unwrap());
            }
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, bodies)
}

#[test]
fn store_notify_posts_exactly_the_regressions_and_fixes() {
    let store = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("controls.toml"), ATTESTED_CONTROLS).unwrap();
    let (url, bodies) = receiver(200);
    let (bad_url, bad_bodies) = receiver(500);
    let run = |age: i64, urls: &[&str]| {
        write_attestations(work.path(), age);
        let mut cmd = vouch();
        cmd.current_dir(work.path())
            .args([
                "check",
                "--controls",
                "controls.toml",
                "--attestations",
                "attestations.toml",
                "--store",
            ])
            .arg(store.path());
        for u in urls {
            cmd.args(["--notify", u]);
        }
        cmd.output().unwrap()
    };
    // First run: nothing to compare with, nothing sent.
    let out = run(30, &[&url]);
    assert_eq!(out.status.code(), Some(0));
    // Same again: nothing changed, nothing sent.
    assert_eq!(run(30, &[&url]).status.code(), Some(0));
    assert!(bodies.lock().unwrap().is_empty());
    // The pentest goes stale: one regression, posted to both; the 500 receiver is a warning,
    // the run is stored and the exit code is the run's (1: a high failure).
    let out = run(400, &[&url, &bad_url]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: --notify http://127.0.0.1"),
        "{stderr}"
    );
    assert!(stderr.contains("500"), "{stderr}");
    assert!(
        !stderr.contains("SECRET"),
        "webhook paths are secrets: {stderr}"
    );
    assert_eq!(bad_bodies.lock().unwrap().len(), 1);
    {
        let b = bodies.lock().unwrap();
        assert_eq!(b.len(), 1);
        let m = &b[0];
        assert_eq!(m["regressions"].as_array().unwrap().len(), 1, "{m}");
        assert!(m["fixes"].as_array().unwrap().is_empty());
        let r = &m["regressions"][0];
        assert_eq!(
            (r["control"].as_str(), r["target"].as_str()),
            (Some("APPSEC-PENTEST"), Some("pentest"))
        );
        assert_eq!(
            (r["old"].as_str(), r["new"].as_str(), r["severity"].as_str()),
            (Some("pass"), Some("fail"), Some("high"))
        );
        assert!(
            r["check"]
                .as_str()
                .unwrap()
                .contains("age_days <= 365 (observed 400)"),
            "{r}"
        );
        assert!(
            m["text"]
                .as_str()
                .unwrap()
                .contains("REGRESSION [high] APPSEC-PENTEST on pentest"),
            "{m}"
        );
    }
    // Fixed: exactly one fix.
    assert_eq!(run(5, &[&url]).status.code(), Some(0));
    let b = bodies.lock().unwrap();
    assert_eq!(b.len(), 2);
    assert!(b[1]["regressions"].as_array().unwrap().is_empty());
    assert_eq!(b[1]["fixes"][0]["control"], "APPSEC-PENTEST");
    assert!(b[1]["text"].as_str().unwrap().contains("fixed"));
    // Every run landed, the one whose post failed included.
    let v = local(store.path())
        .verify(&Trust::digests_only(), &Window::default())
        .unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!(v.entries, 4);
}

// S3, on moto 5.2.5 (its Object Lock and conditional writes behave as S3's: 5.0.28 asks a
// locked put for Content-MD5 and ignores If-None-Match).

fn moto_url() -> String {
    crate::support::require(
        std::env::var("VOUCH_TEST_MOTO_RESILIENCE_URL").ok(),
        "moto 5.2.5's server (VOUCH_TEST_MOTO_RESILIENCE_URL)",
        "source scripts/setup.d/31-moto-resilience.sh",
    )
}

fn moto_aws() -> Arc<vouch::probe::aws::Aws> {
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    vouch::probe::aws::Aws::with_overrides(vouch::probe::aws::AwsOverrides {
        credentials: Some(SharedCredentialsProvider::new(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "vouch-tests",
        ))),
        ..Default::default()
    })
}

fn moto_inventory(url: &str) -> vouch::inventory::Inventory {
    let mut inv = vouch::inventory::Inventory::default();
    inv.aws.region = Some("us-east-1".into());
    inv.aws.endpoint_url = Some(url.into());
    inv
}

fn admin_s3(url: &str) -> (tokio::runtime::Runtime, aws_sdk_s3::Client) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "vouch-tests",
            ))
            .load(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .force_path_style(true)
            .build(),
    );
    (rt, s3)
}

fn s3_store(url: &str, bucket: &str, settings: &StoreSettings) -> Store {
    let backend = vouch::store::s3::S3Backend::open(
        bucket,
        "vouch/prod",
        settings,
        &moto_inventory(url),
        Some(moto_aws()),
    )
    .unwrap();
    Store::with_backend(
        Location::S3 {
            bucket: bucket.into(),
            prefix: "vouch/prod".into(),
        },
        Box::new(backend),
    )
}

#[test]
fn store_on_s3_with_object_lock_locks_every_object_and_refuses_rewrites() {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
        ObjectLockRule,
    };
    let url = moto_url();
    let (rt, s3) = admin_s3(&url);
    let bucket = format!(
        "vouch-store-{}",
        jiff::Timestamp::now().as_nanosecond() % 1_000_000_000
    );
    rt.block_on(async {
        s3.create_bucket()
            .bucket(&bucket)
            .object_lock_enabled_for_bucket(true)
            .send()
            .await
            .unwrap();
        s3.put_object_lock_configuration()
            .bucket(&bucket)
            .object_lock_configuration(
                ObjectLockConfiguration::builder()
                    .object_lock_enabled(ObjectLockEnabled::Enabled)
                    .rule(
                        ObjectLockRule::builder()
                            .default_retention(
                                DefaultRetention::builder()
                                    .mode(ObjectLockRetentionMode::Compliance)
                                    .days(30)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let store = s3_store(&url, &bucket, &StoreSettings::default());
    // Two writers at once, each with its own client: all their runs land, in one chain.
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let (url, bucket) = (url.clone(), bucket.clone());
            std::thread::spawn(move || {
                let store = s3_store(&url, &bucket, &StoreSettings::default());
                for j in 0..3 {
                    put(
                        &store,
                        &mut report_at(at_day(i * 5 + j), &[("ENC", "app", Verdict::Pass)]),
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let v = store.verify(&pinned(), &Window::default()).unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!((v.entries, v.runs), (6, 6));
    let h = history::history(&store, &pinned(), &opts("2026-01-01", "2026-01-08")).unwrap();
    assert_eq!(h.runs, 6);

    // Every object carries the bucket's default retention, explicitly, dated from the write.
    let ledger_key = "vouch/prod/ledger/000000000001.json";
    let head = rt
        .block_on(s3.head_object().bucket(&bucket).key(ledger_key).send())
        .unwrap();
    assert_eq!(
        head.object_lock_mode().map(|m| m.as_str()),
        Some("COMPLIANCE")
    );
    let until = head.object_lock_retain_until_date().unwrap().secs();
    let in_30d = jiff::Timestamp::now().as_second() + 30 * 86_400;
    assert!((until - in_30d).abs() < 600, "{until} vs {in_30d}");
    // A locked object cannot be deleted, and an entry is never replaced.
    let version = head.version_id().unwrap().to_string();
    let deleted = rt.block_on(
        s3.delete_object()
            .bucket(&bucket)
            .key(ledger_key)
            .version_id(&version)
            .send(),
    );
    assert!(deleted.is_err(), "a locked version was deleted");
    let rewrite = rt.block_on(
        s3.put_object()
            .bucket(&bucket)
            .key(ledger_key)
            .if_none_match("*")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"{}"))
            .send(),
    );
    assert_eq!(
        rewrite
            .unwrap_err()
            .raw_response()
            .map(|r| r.status().as_u16()),
        Some(412)
    );
    assert_eq!(store.ledger().unwrap().len(), 6);

    // `[store] retention_mode`/`retention_days` take precedence over the bucket's default.
    let settings = StoreSettings {
        location: None,
        retention_mode: Some(vouch::store::RetentionMode::Governance),
        retention_days: Some(2),
        timestamp_url: None,
    };
    let governed = s3_store(&url, &bucket, &settings);
    let run = put(
        &governed,
        &mut report_at(at_day(20), &[("ENC", "app", Verdict::Fail)]),
    );
    let head = rt
        .block_on(
            s3.head_object()
                .bucket(&bucket)
                .key(format!("vouch/prod/{}/MANIFEST", run.entry.bundle))
                .send(),
        )
        .unwrap();
    assert_eq!(
        head.object_lock_mode().map(|m| m.as_str()),
        Some("GOVERNANCE")
    );
    assert_eq!(run.entry.seq, 7);
    assert!(
        run.bundle
            .starts_with(&format!("s3://{bucket}/vouch/prod/runs/2026/01/21/"))
    );

    // An unconditional overwrite only adds a version: the locked original survives intact, and
    // `verify --store` (reading the current version) reports the altered entry.
    let original = store.ledger().unwrap()[1].digest.clone();
    rt.block_on(
        s3.put_object()
            .bucket(&bucket)
            .key("vouch/prod/ledger/000000000002.json")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(
                b"{\"forged\": true}",
            ))
            .send(),
    )
    .unwrap();
    let v = store.verify(&pinned(), &Window::default()).unwrap();
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("ledger/000000000002.json is not a ledger entry")),
        "{:?}",
        v.problems
    );
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("chain broken at seq 3")),
        "{:?}",
        v.problems
    );
    let versions = rt
        .block_on(
            s3.list_object_versions()
                .bucket(&bucket)
                .prefix("vouch/prod/ledger/000000000002.json")
                .send(),
        )
        .unwrap();
    let old = versions
        .versions()
        .iter()
        .find(|v| v.is_latest() == Some(false))
        .and_then(|v| v.version_id())
        .unwrap()
        .to_string();
    let body = rt.block_on(async {
        s3.get_object()
            .bucket(&bucket)
            .key("vouch/prod/ledger/000000000002.json")
            .version_id(&old)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
    });
    assert_eq!(
        format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body))
        ),
        original
    );
    let deleted = rt.block_on(
        s3.delete_object()
            .bucket(&bucket)
            .key("vouch/prod/ledger/000000000002.json")
            .version_id(&old)
            .send(),
    );
    assert!(deleted.is_err(), "the locked original was deleted");
}

#[test]
fn store_settings_are_checked_and_a_sign_key_needs_somewhere_to_sign() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("controls.toml"), ATTESTED_CONTROLS).unwrap();
    write_attestations(work.path(), 1);
    std::fs::write(
        work.path().join("vouch.toml"),
        "attestations = \"attestations.toml\"\n[store]\nlocation = \"gs://bucket\"\nretention_mode = \"forever\"\n",
    )
    .unwrap();
    let out = vouch()
        .current_dir(work.path())
        .args(["check", "--controls", "controls.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("s3://bucket/prefix"), "{stderr}");
    assert!(
        stderr.contains("\"GOVERNANCE\" or \"COMPLIANCE\""),
        "{stderr}"
    );
    // A relative [store] location is the inventory's neighbour; the run is filed there.
    std::fs::write(
        work.path().join("vouch.toml"),
        "attestations = \"attestations.toml\"\n[store]\nlocation = \"evidence-store\"\n",
    )
    .unwrap();
    let out = vouch()
        .current_dir(work.path())
        .args(["check", "--controls", "controls.toml", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        work.path()
            .join("evidence-store/ledger/000000000001.json")
            .is_file()
    );
    // Without a store or --evidence-dir, --sign-key has nothing to sign.
    std::fs::remove_file(work.path().join("vouch.toml")).unwrap();
    vouch()
        .current_dir(work.path())
        .args(["keygen", "--out", "k"])
        .assert()
        .success();
    let out = vouch()
        .current_dir(work.path())
        .args([
            "check",
            "--controls",
            "controls.toml",
            "--attestations",
            "attestations.toml",
        ])
        .args(["--sign-key", "k.key"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--evidence-dir DIR or --store LOCATION")
    );
    // --notify without a store is a usage error, before anything runs.
    let out = vouch()
        .current_dir(work.path())
        .args([
            "check",
            "--controls",
            "controls.toml",
            "--attestations",
            "attestations.toml",
        ])
        .args(["--notify", "http://127.0.0.1:9/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give --store LOCATION"));
}

#[test]
fn store_on_s3_through_the_command_line() {
    let url = moto_url();
    let (rt, s3) = admin_s3(&url);
    let bucket = format!(
        "vouch-cli-{}",
        jiff::Timestamp::now().as_nanosecond() % 1_000_000_000
    );
    rt.block_on(s3.create_bucket().bucket(&bucket).send())
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("controls.toml"), ATTESTED_CONTROLS).unwrap();
    write_attestations(work.path(), 1);
    std::fs::write(
        work.path().join("vouch.toml"),
        format!(
            "attestations = \"attestations.toml\"\n[aws]\nregion = \"us-east-1\"\n\
             endpoint_url = \"{url}\"\n[store]\nlocation = \"s3://{bucket}/evidence\"\n"
        ),
    )
    .unwrap();
    let cmd = |args: &[&str]| {
        vouch()
            .current_dir(work.path())
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .output()
            .unwrap()
    };
    vouch()
        .current_dir(work.path())
        .args(["keygen", "--out", "k"])
        .assert()
        .success();
    for _ in 0..2 {
        let out = cmd(&[
            "check",
            "--controls",
            "controls.toml",
            "--sign-key",
            "k.key",
            "--format",
            "json",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            report["run"]["evidence"]["bundle"]
                .as_str()
                .unwrap()
                .starts_with(&format!("s3://{bucket}/evidence/runs/")),
            "{report}"
        );
    }
    let out = cmd(&[
        "verify",
        "--store",
        &format!("s3://{bucket}/evidence"),
        "--public-key",
        "k.pub",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("2 ledger entries"), "{text}");
    let now = jiff::Timestamp::now().to_string();
    let out = cmd(&[
        "history",
        "--at",
        &now,
        "--public-key",
        "k.pub",
        "--format",
        "csv",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("APPSEC-PENTEST,pentest,pass"), "{text}");
    assert!(text.contains(",verified"), "{text}");
}

#[test]
fn store_readers_never_vouch_for_a_missing_or_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo");
    for args in [vec!["verify", "--store"], vec!["history", "--store"]] {
        let out = vouch()
            .args(&args)
            .arg(&missing)
            .arg("--allow-unsigned")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("there is no evidence store"));
        assert!(!missing.exists(), "a reader made the store");
    }
    let out = vouch()
        .args(["verify", "--store"])
        .arg(dir.path())
        .arg("--allow-unsigned")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no ledger entry"));
}
