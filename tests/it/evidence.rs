//! Evidence bundles through the real binary: what a bundle holds, `vouch verify` against
//! tampering, signatures, keygen, atomic writing, and replay with no probe at all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use predicates::prelude::*;
use sha2::{Digest, Sha256};
use vouch::exit;

use crate::support::{repo, vouch};

/// The attestation example in a temp dir, dates moved relative to today: the pentest is 75 days
/// old (pass; its control gets `max_age = "92d"`), the DR test 400 days (fail), the training
/// roster missing (fail).
pub(crate) fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples/attestations"), dir.path());
    let path = dir.path().join("attestations.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "performed_on = 2026-09-14",
            &format!("performed_on = {}", ago(75)),
        )
        .replace(
            "performed_on = 2025-06-02",
            &format!("performed_on = {}", ago(400)),
        )
        .replace(
            "performed_on = 2026-02-01",
            &format!("performed_on = {}", ago(10)),
        );
    std::fs::write(path, text).unwrap();
    let controls = dir.path().join("controls.toml");
    let text = std::fs::read_to_string(&controls).unwrap().replacen(
        "targets = [\"pentest-2026\"]\n",
        "targets = [\"pentest-2026\"]\nmax_age = \"92d\"\n",
        1,
    );
    std::fs::write(controls, text).unwrap();
    dir
}

/// Today (UTC) minus `days`, as `YYYY-MM-DD`.
pub(crate) fn ago(days: i64) -> String {
    today()
        .checked_sub(jiff::Span::new().days(days))
        .unwrap()
        .to_string()
}

pub(crate) fn today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// `vouch check --controls controls.toml` in `dir`.
pub(crate) fn check(dir: &Path) -> assert_cmd::Command {
    let mut cmd = vouch();
    cmd.current_dir(dir)
        .args(["check", "--controls", "controls.toml"]);
    cmd
}

/// Runs a check writing a bundle to `dir/name`; returns the bundle path and the stdout report.
fn bundle(dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, serde_json::Value) {
    let out = check(dir)
        .args(["--format", "json", "--evidence-dir", name])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::FAILED)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    (dir.join(name), report)
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every regular file under `dir`, relative, '/'-separated.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

pub(crate) fn assert_matches_schema(report: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("docs/report-schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema itself is valid");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn a_bundle_holds_the_report_every_observation_by_its_digest_and_a_manifest_of_all() {
    let dir = example();
    let (ev, stdout_report) = bundle(dir.path(), "ev", &[]);
    let report = read_json(&ev.join("report.json"));
    assert_eq!(
        report, stdout_report,
        "report.json is the report the run printed"
    );
    assert_matches_schema(&report);

    let keys: Vec<&String> = report["observations"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3);
    let mut expected = vec![
        "MANIFEST".to_string(),
        "report.json".to_string(),
        "inputs/controls/000-controls.toml".to_string(),
    ];
    for k in &keys {
        let hex = k.strip_prefix("sha256:").unwrap();
        let path = format!("observations/sha256-{hex}.json");
        let bytes = std::fs::read(ev.join(&path)).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            hex,
            "{path} is named by its digest"
        );
        let obs: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(obs, report["observations"][k.as_str()]);
        expected.push(path);
    }
    expected.sort();
    assert_eq!(
        files(&ev),
        expected,
        "nothing else, no signature when unsigned"
    );
    assert_eq!(
        std::fs::read(ev.join("inputs/controls/000-controls.toml")).unwrap(),
        std::fs::read(dir.path().join("controls.toml")).unwrap(),
        "the controls the run used are kept verbatim"
    );

    // MANIFEST: header, then `sha256  size  path` for every other file, sorted.
    let manifest = std::fs::read_to_string(ev.join("MANIFEST")).unwrap();
    let mut lines = manifest.lines();
    assert_eq!(lines.next(), Some("vouch-manifest/v1"));
    let listed: Vec<String> = lines
        .map(|l| {
            let parts: Vec<&str> = l.splitn(3, "  ").collect();
            let bytes = std::fs::read(ev.join(parts[2])).unwrap();
            assert_eq!(parts[0], hex::encode(Sha256::digest(&bytes)));
            assert_eq!(parts[1], bytes.len().to_string());
            parts[2].to_string()
        })
        .collect();
    let mut all_but_manifest = expected.clone();
    all_but_manifest.retain(|f| f != "MANIFEST");
    assert_eq!(listed, all_but_manifest);

    // max_age = 92d on the pentest control: its evidence expires 92 days after it was observed.
    let pentest = &report["controls"][0];
    assert_eq!(pentest["id"], "APPSEC-PENTEST-ANNUAL");
    let r = &pentest["results"][0];
    let observed: jiff::Timestamp =
        report["observations"][r["observation"].as_str().unwrap()]["observed_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    let expires: jiff::Timestamp = r["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires.duration_since(observed).as_secs(), 92 * 86_400);
    assert!(
        report["controls"][1]["results"][0]
            .get("expires_at")
            .is_none(),
        "controls without max_age state no expiry"
    );
}

#[test]
fn verify_accepts_an_intact_bundle_and_names_a_changed_byte_a_missing_and_an_extra_file() {
    let dir = example();
    let (ev, report) = bundle(dir.path(), "ev", &[]);
    vouch()
        .args(["verify", "--allow-unsigned"])
        .arg(&ev)
        .assert()
        .code(i32::from(exit::PASS))
        .stdout(predicate::str::contains("ok: 5 files match MANIFEST"));

    let key = report["observations"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let obs_path = format!(
        "observations/sha256-{}.json",
        key.strip_prefix("sha256:").unwrap()
    );

    // One byte changed (same size): the digest catches it.
    let tampered = dir.path().join("tampered");
    copy_dir(&ev, &tampered);
    let p = tampered.join(&obs_path);
    let mut bytes = std::fs::read(&p).unwrap();
    let i = bytes.iter().position(|b| *b == b'7').unwrap_or(10);
    bytes[i] = if bytes[i] == b'7' { b'8' } else { b'x' };
    std::fs::write(&p, bytes).unwrap();
    vouch()
        .args(["verify", "--allow-unsigned"])
        .arg(&tampered)
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains(format!(
            "modified: {obs_path} has SHA-256"
        )))
        .stderr(predicate::str::contains("FAILED: 1 problem"));

    // A file deleted.
    let deleted = dir.path().join("deleted");
    copy_dir(&ev, &deleted);
    std::fs::remove_file(deleted.join("report.json")).unwrap();
    vouch()
        .args(["verify", "--allow-unsigned"])
        .arg(&deleted)
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains(
            "missing: report.json is in MANIFEST but not in the bundle",
        ));

    // A file added, and one appended to (size differs).
    let added = dir.path().join("added");
    copy_dir(&ev, &added);
    std::fs::write(added.join("observations/planted.json"), "{}").unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(added.join("report.json"))
        .unwrap();
    std::io::Write::write_all(&mut f, b" ").unwrap();
    vouch()
        .args(["verify", "--allow-unsigned"])
        .arg(&added)
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains(
            "extra: observations/planted.json is in the bundle but not in MANIFEST",
        ))
        .stderr(predicate::str::contains("modified: report.json is"))
        .stderr(predicate::str::contains("FAILED: 2 problems"));

    // An observation dropped and MANIFEST rewritten to match: the report still names it.
    let dropped = dir.path().join("dropped");
    copy_dir(&ev, &dropped);
    std::fs::remove_file(dropped.join(&obs_path)).unwrap();
    rewrite_manifest(&dropped);
    vouch()
        .args(["verify", "--allow-unsigned"])
        .arg(&dropped)
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains(format!(
            "content: report.json names observation {key}, but MANIFEST lists no {obs_path}"
        )));

    // No MANIFEST at all.
    let bare = dir.path().join("bare");
    copy_dir(&ev, &bare);
    std::fs::remove_file(bare.join("MANIFEST")).unwrap();
    vouch()
        .args(["verify", "--allow-unsigned"])
        .arg(&bare)
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains("manifest: cannot read"));
}

#[test]
fn a_signed_bundle_verifies_with_its_key_and_fails_with_another_or_after_a_rewrite() {
    let dir = example();
    for name in ["audit", "other"] {
        vouch()
            .current_dir(dir.path())
            .args(["keygen", "--out", name])
            .assert()
            .code(i32::from(exit::PASS))
            .stdout(predicate::str::contains(format!("{name}.key")));
    }
    let (ev, _) = bundle(dir.path(), "ev", &["--sign-key", "audit.key"]);
    assert!(ev.join("MANIFEST.sig").is_file());
    vouch()
        .current_dir(dir.path())
        .args(["verify", "ev", "--public-key", "audit.pub"])
        .assert()
        .code(i32::from(exit::PASS))
        .stdout(predicate::str::contains("signature valid"));
    // Signed, but no key given: nothing says whose key it is, so it is not a pass…
    vouch()
        .current_dir(dir.path())
        .args(["verify", "ev"])
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains("untrusted: signed by SHA256:"));
    // …unless asked to check the digests only, which says the signature was not checked.
    vouch()
        .current_dir(dir.path())
        .args(["verify", "ev", "--allow-unsigned"])
        .assert()
        .code(i32::from(exit::PASS))
        .stdout(predicate::str::contains("not checked"));
    // The key swapped: the signature no longer holds.
    vouch()
        .current_dir(dir.path())
        .args(["verify", "ev", "--public-key", "other.pub"])
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains(
            "signature: MANIFEST names signer SHA256:",
        ));
    // A forger edits the report and rewrites MANIFEST to match: only the signature catches it.
    let forged = dir.path().join("forged");
    copy_dir(&ev, &forged);
    let text = std::fs::read_to_string(forged.join("report.json"))
        .unwrap()
        .replacen("\"fail\"", "\"pass\"", 1);
    std::fs::write(forged.join("report.json"), &text).unwrap();
    rewrite_manifest(&forged);
    vouch()
        .args(["verify", "--allow-unsigned"])
        .arg(&forged)
        .assert()
        .code(i32::from(exit::PASS));
    vouch()
        .arg("verify")
        .arg(&forged)
        .arg("--public-key")
        .arg(dir.path().join("audit.pub"))
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains("signature:"));
    // An unsigned bundle checked against a key is a problem, not a pass.
    let (plain, _) = bundle(dir.path(), "plain", &[]);
    vouch()
        .arg("verify")
        .arg(&plain)
        .arg("--public-key")
        .arg(dir.path().join("audit.pub"))
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains("unsigned:"));
    // A private key where a public one is expected is a usage error.
    vouch()
        .current_dir(dir.path())
        .args(["verify", "ev", "--public-key", "audit.key"])
        .assert()
        .code(i32::from(exit::INVALID));
}

/// Recomputes MANIFEST after a test edited files (what a forger would do).
fn rewrite_manifest(dir: &Path) {
    use vouch::evidence::manifest::{Entry, Manifest};
    let entries = files(dir)
        .into_iter()
        .filter(|f| f != "MANIFEST" && f != "MANIFEST.sig")
        .map(|f| Entry::of(&f, &std::fs::read(dir.join(&f)).unwrap()))
        .collect();
    std::fs::write(dir.join("MANIFEST"), Manifest::new(entries).render()).unwrap();
}

#[test]
fn keygen_makes_a_private_key_only_its_owner_reads_and_never_overwrites_one() {
    let dir = tempfile::tempdir().unwrap();
    vouch()
        .current_dir(dir.path())
        .args(["keygen", "--out", "k"])
        .assert()
        .code(i32::from(exit::PASS));
    let key = std::fs::read_to_string(dir.path().join("k.key")).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    let public = std::fs::read_to_string(dir.path().join("k.pub")).unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("k.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    vouch()
        .current_dir(dir.path())
        .args(["keygen", "--out", "k"])
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("never overwrites"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("k.key")).unwrap(),
        key
    );
}

#[test]
fn a_bundle_is_complete_or_absent_and_never_overwrites_evidence() {
    let dir = example();
    let (ev, _) = bundle(dir.path(), "ev", &[]);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary folder left behind");
    let before = std::fs::read(ev.join("MANIFEST")).unwrap();
    check(dir.path())
        .args(["--evidence-dir", "ev"])
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("never overwritten"));
    assert_eq!(std::fs::read(ev.join("MANIFEST")).unwrap(), before);

    // A bad signing key stops the run before anything is written.
    std::fs::write(dir.path().join("bad.key"), "not a key").unwrap();
    check(dir.path())
        .args(["--evidence-dir", "ev2", "--sign-key", "bad.key"])
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("PKCS#8"));
    assert!(!dir.path().join("ev2").exists());

    // An empty folder made beforehand is fine: it is replaced whole.
    std::fs::create_dir(dir.path().join("ev3")).unwrap();
    check(dir.path())
        .args(["--evidence-dir", "ev3"])
        .assert()
        .code(i32::from(exit::FAILED));
    vouch()
        .current_dir(dir.path())
        .args(["verify", "--allow-unsigned", "ev3"])
        .assert()
        .code(i32::from(exit::PASS));
}

/// (control, target) → (verdict, checks, observation) of a report.
fn verdicts(report: &serde_json::Value) -> BTreeMap<(String, String), serde_json::Value> {
    let mut out = BTreeMap::new();
    for c in report["controls"].as_array().unwrap() {
        for r in c["results"].as_array().unwrap() {
            out.insert(
                (
                    c["id"].as_str().unwrap().to_string(),
                    r["target"].as_str().unwrap().to_string(),
                ),
                serde_json::json!([r["verdict"], r["checks"], r["observation"], r["expires_at"]]),
            );
        }
    }
    out
}

#[test]
fn replay_gives_the_original_verdicts_with_no_probe_and_no_inventory() {
    let dir = example();
    let (_, original) = bundle(dir.path(), "ev", &[]);

    // The auditor's machine: the bundle and the controls, no inventory, no attestations, no
    // evidence files. Any probe that ran would turn these results into `error`.
    let auditor = tempfile::tempdir().unwrap();
    copy_dir(&dir.path().join("ev"), &auditor.path().join("ev"));
    std::fs::copy(
        dir.path().join("controls.toml"),
        auditor.path().join("controls.toml"),
    )
    .unwrap();
    let out = check(auditor.path())
        .args([
            "--from-evidence",
            "ev",
            "--allow-unsigned",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(i32::from(exit::FAILED)));
    let replayed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdicts(&replayed), verdicts(&original));
    assert_eq!(replayed["summary"], original["summary"]);
    assert_eq!(replayed["observations"], original["observations"]);
    assert_eq!(
        replayed["run"]["replay"]["evaluated_at"],
        original["run"]["finished_at"]
    );
    assert_eq!(replayed["run"]["replay"]["bundle"], "ev");
    assert_matches_schema(&replayed);

    // Replay refuses a bundle that does not verify.
    let p = auditor.path().join("ev/report.json");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replacen("fail", "pass", 1);
    std::fs::write(&p, text).unwrap();
    check(auditor.path())
        .args(["--from-evidence", "ev", "--allow-unsigned"])
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("does not verify"));
}

#[test]
fn a_bundle_replays_on_its_own_with_its_controls_and_waivers() {
    let dir = example();
    std::fs::write(
        dir.path().join("waivers.toml"),
        format!(
            "[[waiver]]\ncontrol = \"RES-DR-TEST-ANNUAL\"\nreason = \"moved\"\nowner = \"o\"\n\
             approved_by = \"a\"\nexpires = {}\n",
            ago(-30)
        ),
    )
    .unwrap();
    let (_, original) = bundle(dir.path(), "ev", &["--waivers", "waivers.toml"]);
    assert_eq!(original["summary"]["waived"], 1);
    // The auditor has the bundle and nothing else: no control file, no waivers, no inventory.
    let auditor = tempfile::tempdir().unwrap();
    copy_dir(&dir.path().join("ev"), &auditor.path().join("ev"));
    let out = vouch()
        .current_dir(auditor.path())
        .args([
            "check",
            "--from-evidence",
            "ev",
            "--allow-unsigned",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::FAILED)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdicts(&replayed), verdicts(&original));
    assert_eq!(replayed["summary"], original["summary"]);
    assert_eq!(
        replayed["controls"][2]["results"][0]["waiver"],
        original["controls"][2]["results"][0]["waiver"]
    );
}

#[test]
fn a_changed_control_is_judged_against_the_recorded_evidence() {
    let dir = example();
    bundle(dir.path(), "ev", &[]);
    // Loosen the DR control to two years, tighten the pentest one to 30 days.
    let controls = dir.path().join("controls.toml");
    let text = std::fs::read_to_string(&controls)
        .unwrap()
        .replace("value = \"365d\"", "value = \"730d\"")
        .replacen("op = \"<=\", value = 365", "op = \"<=\", value = 30", 1);
    std::fs::write(&controls, text).unwrap();
    let out = check(dir.path())
        .args([
            "--from-evidence",
            "ev",
            "--allow-unsigned",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let v: Vec<(&str, &str)> = r["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        v,
        [
            ("APPSEC-PENTEST-ANNUAL", "fail"),
            ("PEOPLE-TRAINING-ANNUAL", "fail"),
            ("RES-DR-TEST-ANNUAL", "pass"),
        ]
    );
}

#[test]
fn replay_judges_within_at_the_original_run_time_unless_asked_for_now() {
    let dir = example();
    let (ev, _) = bundle(dir.path(), "ev", &[]);
    // Pretend the run ended 100 days ago: the DR test (400 days old today) was 300 days old then.
    // Rewrite the recorded evidence coherently (a replay needs a bundle that verifies).
    let p = ev.join("report.json");
    let mut report = read_json(&p);
    let then = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 100);
    report["run"]["finished_at"] = serde_json::json!(then.to_string());
    std::fs::write(&p, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    rewrite_manifest(&ev);
    let dr = |extra: &[&str]| -> String {
        let out = check(dir.path())
            .args([
                "--from-evidence",
                "ev",
                "--allow-unsigned",
                "--format",
                "json",
                "--only",
            ])
            .arg("RES-DR-TEST-ANNUAL")
            .args(extra)
            .output()
            .unwrap();
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        r["controls"][0]["verdict"].as_str().unwrap().to_string()
    };
    assert_eq!(dr(&[]), "pass", "judged at the original run's end");
    assert_eq!(dr(&["--replay-at", "original"]), "pass");
    assert_eq!(dr(&["--replay-at", "now"]), "fail", "judged today");
}

/// A probe that counts calls and never observes: replay must not touch it.
struct Tripwire {
    inner: vouch::probe::attestation::AttestationProbe,
    calls: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl vouch::probe::Probe for Tripwire {
    fn kind(&self) -> &'static str {
        "attestation"
    }
    fn description(&self) -> &'static str {
        self.inner.description()
    }
    fn target_syntax(&self) -> &'static str {
        self.inner.target_syntax()
    }
    fn facts(&self) -> &'static [vouch::probe::FactSpec] {
        self.inner.facts()
    }
    async fn observe(
        &self,
        _target: &str,
        _params: &vouch::probe::Params,
        _ctx: &vouch::probe::ProbeContext,
    ) -> Result<vouch::probe::Observation, vouch::probe::ProbeError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(vouch::probe::ProbeError::new(
            vouch::probe::ProbeErrorKind::Config,
            "replay called a probe",
        ))
    }
}

#[test]
fn the_replay_library_never_calls_a_probe() {
    let dir = example();
    let (ev, original) = bundle(dir.path(), "ev", &[]);
    let calls = Arc::new(AtomicUsize::new(0));
    let registry = vouch::probe::Registry::with(vec![Arc::new(Tripwire {
        inner: Default::default(),
        calls: calls.clone(),
    })]);
    let mut diags = vouch::diag::Diagnostics::new();
    let controls = vouch::control::load_controls(
        &[vouch::control::Source::Path(
            dir.path().join("controls.toml"),
        )],
        &registry,
        None,
        &mut diags,
    );
    assert!(!diags.has_errors(), "{}", diags.render_short());
    let recorded =
        vouch::evidence::replay::load(&ev, &vouch::evidence::Trust::digests_only()).unwrap();
    let mut report = vouch::evidence::replay::replay(
        &controls,
        &registry,
        &vouch::inventory::Inventory::default(),
        &recorded,
        &ev,
        vouch::evidence::replay::ReplayAt::Original,
    );
    vouch::evidence::stamp_expiry(&mut report, &controls);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let replayed = serde_json::to_value(&report).unwrap();
    assert_eq!(verdicts(&replayed), verdicts(&original));
}

/// The attestation probe plus a verbatim artefact, as the TLS probe attaches certificate PEMs.
struct WithAttachment(vouch::probe::attestation::AttestationProbe);

const PEM: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUDx\n-----END CERTIFICATE-----\n";

#[async_trait::async_trait]
impl vouch::probe::Probe for WithAttachment {
    fn kind(&self) -> &'static str {
        "attestation"
    }
    fn description(&self) -> &'static str {
        self.0.description()
    }
    fn target_syntax(&self) -> &'static str {
        self.0.target_syntax()
    }
    fn facts(&self) -> &'static [vouch::probe::FactSpec] {
        self.0.facts()
    }
    async fn observe(
        &self,
        target: &str,
        params: &vouch::probe::Params,
        ctx: &vouch::probe::ProbeContext,
    ) -> Result<vouch::probe::Observation, vouch::probe::ProbeError> {
        let mut obs = self.0.observe(target, params, ctx).await?;
        obs.attach("leaf.pem", "application/x-pem-file", PEM);
        Ok(obs)
    }
}

#[test]
fn attachments_are_stored_by_their_digest_and_listed_in_the_manifest() {
    let dir = example();
    let registry = vouch::probe::Registry::with(vec![Arc::new(WithAttachment(Default::default()))]);
    let mut diags = vouch::diag::Diagnostics::new();
    let controls = vouch::control::load_controls(
        &[vouch::control::Source::Path(
            dir.path().join("controls.toml"),
        )],
        &registry,
        None,
        &mut diags,
    );
    assert!(!diags.has_errors(), "{}", diags.render_short());
    let inventory = vouch::inventory::Inventory {
        attestations: Some(dir.path().join("attestations.toml")),
        ..Default::default()
    };
    let ctx = vouch::probe::ProbeContext::new(Arc::new(inventory), Default::default());
    let report = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(vouch::engine::run(
            &controls,
            &registry,
            &ctx,
            &Default::default(),
            None,
            None,
        ));
    let ev = dir.path().join("ev");
    let written = vouch::evidence::write_bundle(&ev, &report, &[], None).unwrap();
    let pem_path = format!(
        "attachments/sha256-{}.pem",
        hex::encode(Sha256::digest(PEM.as_bytes()))
    );
    assert_eq!(std::fs::read_to_string(ev.join(&pem_path)).unwrap(), PEM);
    // Three observations, one shared attachment (one file), report.json; MANIFEST not counted.
    assert_eq!(written.files, 3 + 1 + 1);
    assert!(
        std::fs::read_to_string(ev.join("MANIFEST"))
            .unwrap()
            .contains(&format!("  {}  {pem_path}\n", PEM.len()))
    );
    vouch()
        .args(["verify", "--allow-unsigned"])
        .arg(&ev)
        .assert()
        .code(i32::from(exit::PASS));
    std::fs::write(ev.join(&pem_path), PEM.replace("MII", "MIJ")).unwrap();
    vouch()
        .args(["verify", "--allow-unsigned"])
        .arg(&ev)
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains(format!("modified: {pem_path}")));
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn keys_and_signatures_interoperate_with_openssl() {
    let found = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .ok()
        .filter(|o| o.status.success());
    crate::support::require(
        found,
        "the openssl command",
        "install it (scripts/setup.d/60-evidence.sh)",
    );
    let dir = example();
    // A key made by OpenSSL signs a bundle that vouch verifies with OpenSSL's public key…
    assert!(
        openssl(
            dir.path(),
            &["genpkey", "-algorithm", "ed25519", "-out", "o.key"]
        )
        .status
        .success()
    );
    assert!(
        openssl(
            dir.path(),
            &["pkey", "-in", "o.key", "-pubout", "-out", "o.pub"]
        )
        .status
        .success()
    );
    let (ev, _) = bundle(dir.path(), "ev", &["--sign-key", "o.key"]);
    vouch()
        .current_dir(dir.path())
        .args(["verify", "ev", "--public-key", "o.pub"])
        .assert()
        .code(i32::from(exit::PASS));
    // …and OpenSSL verifies vouch's MANIFEST.sig as a plain Ed25519 signature of MANIFEST.
    let sig = hex::decode(
        std::fs::read_to_string(ev.join("MANIFEST.sig"))
            .unwrap()
            .trim_end(),
    )
    .unwrap();
    std::fs::write(dir.path().join("sig.bin"), sig).unwrap();
    let out = openssl(
        dir.path(),
        &[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "o.pub",
            "-rawin",
            "-in",
            "ev/MANIFEST",
            "-sigfile",
            "sig.bin",
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // `vouch keygen` keys are what OpenSSL expects, and the public key matches the private one.
    vouch()
        .current_dir(dir.path())
        .args(["keygen", "--out", "v"])
        .assert()
        .code(i32::from(exit::PASS));
    let derived = openssl(dir.path(), &["pkey", "-in", "v.key", "-pubout"]);
    assert!(derived.status.success());
    assert_eq!(
        String::from_utf8_lossy(&derived.stdout),
        std::fs::read_to_string(dir.path().join("v.pub")).unwrap()
    );
}

/// A folder with `n` attestations (each with its own evidence file) and one control over all of
/// them: a bundle of a few hundred files, so that writing it takes a while.
fn many_attestations(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("evidence")).unwrap();
    let mut attestations = String::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("review-{i:04}");
        std::fs::write(
            dir.path().join(format!("evidence/{id}.txt")),
            format!("{id}\n").repeat(1024),
        )
        .unwrap();
        attestations.push_str(&format!(
            "[[attestation]]\nid = \"{id}\"\nstatement = \"Vendor review {i}\"\n\
             performed_on = {}\nevidence = \"evidence/{id}.txt\"\nattested_by = \"Security\"\n\n",
            ago(10)
        ));
        ids.push(format!("\"{id}\""));
    }
    std::fs::write(dir.path().join("attestations.toml"), attestations).unwrap();
    std::fs::write(
        dir.path().join("controls.toml"),
        format!(
            "[[control]]\nid = \"VENDOR-REVIEWS\"\ntitle = \"Vendor reviews are current\"\n\
             severity = \"low\"\nprobe = \"attestation\"\ntargets = [{}]\n\
             expect = [{{ fact = \"age_days\", op = \"<=\", value = 365 }}]\n",
            ids.join(", ")
        ),
    )
    .unwrap();
    dir
}

#[test]
fn a_run_killed_while_writing_its_bundle_leaves_a_complete_bundle_or_none() {
    let dir = many_attestations(200);
    let run = |name: &str| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin!("vouch"))
            .current_dir(dir.path())
            .args(["check", "--controls", "controls.toml", "--attestations"])
            .arg("attestations.toml")
            .args(["--format", "json", "--evidence-dir", name])
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // One whole run, to know how long a run takes here.
    let started = std::time::Instant::now();
    let status = run("whole").wait().unwrap();
    let whole = started.elapsed();
    assert_eq!(status.code(), Some(i32::from(exit::PASS)));
    vouch()
        .current_dir(dir.path())
        .args(["verify", "--allow-unsigned", "whole"])
        .assert()
        .code(i32::from(exit::PASS));

    // SIGKILL at points spread over (and past) that time. Whatever the moment, the bundle
    // folder is either absent or a bundle that verifies: never a partial one.
    let (mut complete, mut absent) = (0, 0);
    for i in 0..16u32 {
        let name = format!("killed-{i}");
        let mut child = run(&name);
        std::thread::sleep(whole * i / 12);
        let _ = child.kill();
        let _ = child.wait();
        let bundle = dir.path().join(&name);
        if bundle.exists() {
            vouch()
                .current_dir(dir.path())
                .args(["verify", "--allow-unsigned", &name])
                .assert()
                .code(i32::from(exit::PASS));
            complete += 1;
        } else {
            absent += 1;
            // What a killed run leaves is a hidden `.NAME.partial-*` folder, never `NAME`,
            // and a new run to the same place succeeds.
            let status = run(&name).wait().unwrap();
            assert_eq!(
                status.code(),
                Some(i32::from(exit::PASS)),
                "rerun of {name}"
            );
            vouch()
                .current_dir(dir.path())
                .args(["verify", "--allow-unsigned", &name])
                .assert()
                .code(i32::from(exit::PASS));
        }
    }
    // Only the partial folders of killed runs may be left beside the bundles.
    let mut partial = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        partial += usize::from(name.contains(".partial-"));
        assert!(
            ["evidence", "attestations.toml", "controls.toml", "whole"].contains(&name.as_str())
                || name.starts_with("killed-")
                || (name.starts_with(".killed-") && name.contains(".partial-")),
            "unexpected {name}"
        );
    }
    eprintln!(
        "killed runs: {complete} left a complete bundle, {absent} none, {partial} of those \
         mid-write (a partial folder); a whole run takes {whole:?}"
    );
    assert!(
        absent >= 1,
        "the first kill comes before anything is written"
    );
}
