//! Verify and replay trust only what is proven (issue 12, item 6): a bundle anyone could have
//! written does not verify, a pinned signer catches a re-signed forgery, a replay judges only
//! what the bundle recorded, and a hostile bundle gets a named problem, never a hang.

use std::path::Path;
use std::time::Duration;

use predicates::prelude::*;
use vouch::evidence::manifest::{Entry, Manifest};
use vouch::exit;

use crate::evidence::{check, copy_dir, example};
use crate::support::vouch;

/// Runs the attestation example writing a bundle `name` (signed with `key` when given).
fn bundle(dir: &Path, name: &str, key: Option<&str>) -> (serde_json::Value, String) {
    let mut cmd = check(dir);
    cmd.args(["--format", "json", "--evidence-dir", name]);
    if let Some(k) = key {
        cmd.args(["--sign-key", k]);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(i32::from(exit::FAILED)));
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn keygen(dir: &Path, name: &str) {
    vouch()
        .current_dir(dir)
        .args(["keygen", "--out", name])
        .assert()
        .code(i32::from(exit::PASS));
}

/// Every regular file under `dir`, relative, '/'-separated, MANIFEST and its signature aside.
fn listed(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.retain(|f| f != "MANIFEST" && f != "MANIFEST.sig");
    out
}

/// What a forger does after editing files: a new MANIFEST, signed with their own key if given.
fn forge_manifest(dir: &Path, key: Option<&Path>) {
    let entries = listed(dir)
        .into_iter()
        .map(|f| Entry::of(&f, &std::fs::read(dir.join(&f)).unwrap()))
        .collect();
    let mut m = Manifest::new(entries);
    let _ = std::fs::remove_file(dir.join("MANIFEST.sig"));
    if let Some(k) = key {
        let key = vouch::evidence::sign::load_signing_key(k).unwrap();
        m = m.signed_by(key.verifying_key());
        let text = m.render();
        std::fs::write(
            dir.join("MANIFEST.sig"),
            vouch::evidence::sign::sign(&key, text.as_bytes()),
        )
        .unwrap();
    }
    std::fs::write(dir.join("MANIFEST"), m.render()).unwrap();
}

/// Edits the report of the bundle at `dir` with `f`.
fn edit_report(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("report.json");
    let mut r: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    f(&mut r);
    std::fs::write(&p, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
}

fn control<'a>(r: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    r["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no control {id}"))
}

fn control_mut<'a>(r: &'a mut serde_json::Value, id: &str) -> &'a mut serde_json::Value {
    r["controls"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["id"] == id)
        .unwrap()
}

/// Prevents: `vouch verify` exiting 0 on a bundle anyone could have written (the report edited
/// from fail to pass, MANIFEST recomputed, unsigned or signed with the forger's own key).
#[test]
fn a_forged_bundle_does_not_verify_without_a_trusted_key() {
    let dir = example();
    bundle(dir.path(), "ev", None);
    keygen(dir.path(), "forger");
    for (name, key) in [("unsigned", None), ("self-signed", Some("forger.key"))] {
        let forged = dir.path().join(name);
        copy_dir(&dir.path().join("ev"), &forged);
        edit_report(&forged, |r| {
            control_mut(r, "RES-DR-TEST-ANNUAL")["verdict"] = "pass".into();
        });
        forge_manifest(&forged, key.map(|k| dir.path().join(k)).as_deref());
        vouch()
            .arg("verify")
            .arg(&forged)
            .assert()
            .code(i32::from(exit::FAILED))
            .stderr(predicate::str::contains("untrusted:"))
            .stdout(predicate::str::is_empty());
        // A replay refuses it the same way (exit 2: nothing was judged).
        check(dir.path())
            .args(["--from-evidence", name])
            .assert()
            .code(i32::from(exit::INVALID))
            .stderr(predicate::str::contains("untrusted:"));
    }
}

/// Prevents: a report edited and re-signed with another key passing `verify --signer` pinned to
/// the real signer (the signature is valid, just not the auditor's signer's).
#[test]
fn a_report_re_signed_with_another_key_fails_the_pinned_signer() {
    let dir = example();
    keygen(dir.path(), "audit");
    keygen(dir.path(), "forger");
    let (report, stderr) = bundle(dir.path(), "ev", Some("audit.key"));
    // The signer's fingerprint: in the report, in MANIFEST, printed by check.
    let fp = report["run"]["evidence"]["signer"]
        .as_str()
        .expect("run.evidence.signer")
        .to_string();
    assert!(fp.starts_with("SHA256:") && fp.len() == 7 + 64, "{fp}");
    assert!(stderr.contains(&format!("signed by {fp}")), "{stderr}");
    let manifest = std::fs::read_to_string(dir.path().join("ev/MANIFEST")).unwrap();
    assert!(
        manifest
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("signer  {fp}  "))
    );
    // The same fingerprint as `openssl pkey -pubin -outform DER | sha256sum` would give.
    let der = {
        use ed25519_dalek::pkcs8::EncodePublicKey;
        vouch::evidence::sign::load_verifying_key(&dir.path().join("audit.pub"))
            .unwrap()
            .to_public_key_der()
            .unwrap()
    };
    use sha2::Digest;
    assert_eq!(
        fp,
        format!(
            "SHA256:{}",
            hex::encode(sha2::Sha256::digest(der.as_bytes()))
        )
    );

    vouch()
        .current_dir(dir.path())
        .args(["verify", "ev", "--signer", &fp])
        .assert()
        .code(i32::from(exit::PASS))
        .stdout(predicate::str::contains(format!("signed by {fp}")));

    let forged = dir.path().join("forged");
    copy_dir(&dir.path().join("ev"), &forged);
    edit_report(&forged, |r| {
        control_mut(r, "RES-DR-TEST-ANNUAL")["verdict"] = "pass".into();
    });
    forge_manifest(&forged, Some(&dir.path().join("forger.key")));
    vouch()
        .current_dir(dir.path())
        .args(["verify", "forged", "--signer", &fp])
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains(format!(
            "not by the pinned signer {fp}"
        )));
    vouch()
        .current_dir(dir.path())
        .args(["verify", "forged", "--public-key", "audit.pub"])
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains("signature:"));
    check(dir.path())
        .args(["--from-evidence", "forged", "--signer", &fp])
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("pinned signer"));
    // A malformed pin is a usage error that says what a pin looks like.
    vouch()
        .current_dir(dir.path())
        .args(["verify", "ev", "--signer", "abc"])
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("SHA256:"));

    // The replay of the real bundle records what was proven.
    let out = check(dir.path())
        .args(["--from-evidence", "ev", "--signer", &fp, "--format", "json"])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["run"]["replay"]["signature"]["status"], "verified");
    assert_eq!(r["run"]["replay"]["signature"]["signer"], fp.as_str());
    crate::evidence::assert_matches_schema(&r);
}

/// Prevents: a replay reporting `pass` for a row whose observation was removed from the report
/// (the original row kept its verdict with nothing behind it), or judging a row on another
/// target's observation.
#[test]
fn a_replayed_row_without_its_own_observation_is_error() {
    let dir = example();
    let (original, _) = bundle(dir.path(), "ev", None);
    assert_eq!(
        control(&original, "APPSEC-PENTEST-ANNUAL")["verdict"],
        "pass"
    );
    let pentest_obs =
        control(&original, "APPSEC-PENTEST-ANNUAL")["results"][0]["observation"].clone();

    let lost = dir.path().join("lost");
    copy_dir(&dir.path().join("ev"), &lost);
    edit_report(&lost, |r| {
        control_mut(r, "APPSEC-PENTEST-ANNUAL")["results"][0]["observation"] =
            serde_json::Value::Null;
    });
    forge_manifest(&lost, None);
    let out = check(dir.path())
        .args([
            "--from-evidence",
            "lost",
            "--allow-unsigned",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(i32::from(exit::FAILED)));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &control(&r, "APPSEC-PENTEST-ANNUAL")["results"][0];
    assert_eq!(row["verdict"], "error", "{row}");
    assert!(
        row["error"].as_str().unwrap().contains("no observation"),
        "{row}"
    );

    // The DR test (400 days old: fail) pointed at the pentest's observation (75 days: pass).
    let swapped = dir.path().join("swapped");
    copy_dir(&dir.path().join("ev"), &swapped);
    edit_report(&swapped, |r| {
        control_mut(r, "RES-DR-TEST-ANNUAL")["results"][0]["observation"] = pentest_obs.clone();
    });
    forge_manifest(&swapped, None);
    let out = check(dir.path())
        .args([
            "--from-evidence",
            "swapped",
            "--allow-unsigned",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &control(&r, "RES-DR-TEST-ANNUAL")["results"][0];
    assert_eq!(row["verdict"], "error", "{row}");
    assert!(
        row["error"].as_str().unwrap().contains("was made of"),
        "{row}"
    );
}

/// Prevents: `vouch verify` hanging (or reading a file outside the bundle) when report.json or
/// MANIFEST is a symlink, here to a FIFO nobody writes to.
#[test]
fn a_symlinked_report_or_manifest_is_a_clear_error_not_a_hang() {
    let dir = example();
    bundle(dir.path(), "ev", None);
    let fifo = dir.path().join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    for file in ["report.json", "MANIFEST"] {
        let b = dir.path().join(format!("link-{file}"));
        copy_dir(&dir.path().join("ev"), &b);
        std::fs::remove_file(b.join(file)).unwrap();
        std::os::unix::fs::symlink(&fifo, b.join(file)).unwrap();
        vouch()
            .arg("verify")
            .arg("--allow-unsigned")
            .arg(&b)
            .timeout(Duration::from_secs(30))
            .assert()
            .code(i32::from(exit::FAILED))
            .stderr(predicate::str::contains(file))
            .stderr(
                predicate::str::contains("not a regular file")
                    .or(predicate::str::contains("symbolic link")),
            );
        vouch()
            .current_dir(dir.path())
            .args(["check", "--allow-unsigned", "--from-evidence"])
            .arg(&b)
            .timeout(Duration::from_secs(30))
            .assert()
            .code(i32::from(exit::INVALID))
            .stderr(predicate::str::contains("does not verify"));
    }
    // A symlink to a regular copy is refused too: a bundle's files are never followed.
    let b = dir.path().join("link-copy");
    copy_dir(&dir.path().join("ev"), &b);
    std::fs::rename(b.join("report.json"), dir.path().join("outside.json")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("outside.json"), b.join("report.json")).unwrap();
    vouch()
        .args(["verify", "--allow-unsigned"])
        .arg(&b)
        .timeout(Duration::from_secs(30))
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains("not a regular file: report.json"));
}

/// Prevents: a replay applying waivers found in the auditor's working folder (an inventory's
/// `waivers = …`) that were never part of the evidence, and a replay that hides whether the
/// bundle was signed.
#[test]
fn a_replay_takes_no_waiver_from_the_working_folder_and_records_its_trust() {
    let dir = example();
    bundle(dir.path(), "ev", None);
    let auditor = tempfile::tempdir().unwrap();
    copy_dir(&dir.path().join("ev"), &auditor.path().join("ev"));
    std::fs::write(
        auditor.path().join("vouch.toml"),
        "waivers = \"waivers.toml\"\n",
    )
    .unwrap();
    std::fs::write(
        auditor.path().join("waivers.toml"),
        format!(
            "[[waiver]]\ncontrol = \"RES-DR-TEST-ANNUAL\"\nreason = \"r\"\nowner = \"o\"\n\
             approved_by = \"a\"\nexpires = {}\n",
            crate::evidence::ago(-30)
        ),
    )
    .unwrap();
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
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(control(&r, "RES-DR-TEST-ANNUAL")["verdict"], "fail");
    assert_eq!(r["run"]["replay"]["waivers"], "none");
    assert_eq!(r["run"]["replay"]["signature"]["status"], "unsigned");
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT signed"));
}

/// Prevents: a bundle whose `inputs/` hold a control file as it was edited after the run (read
/// again when the bundle is written) rather than the bytes the run judged.
#[test]
fn the_bundle_keeps_the_control_bytes_the_run_loaded() {
    let dir = tempfile::tempdir().unwrap();
    // A TLS endpoint that accepts and never answers: the run lasts the whole --timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let original = format!(
        "[[control]]\nid = \"SLOW\"\ntitle = \"slow\"\nseverity = \"low\"\nprobe = \"tls\"\n\
         targets = [\"{addr}\"]\nexpect = [ {{ fact = \"protocols.lowest\", op = \">=\", value = \"TLSv1.2\" }} ]\n"
    );
    std::fs::write(dir.path().join("controls.toml"), &original).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("vouch"))
        .current_dir(dir.path())
        .args([
            "check",
            "-q",
            "--controls",
            "controls.toml",
            "--timeout",
            "3s",
        ])
        .args(["--evidence-dir", "ev", "--format", "json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once the probe has connected, the controls were loaded: edit the file mid-run.
    silent.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let _held = loop {
        match silent.accept() {
            Ok((conn, _)) => break conn,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("vouch never connected to the silent endpoint: {e}"),
        }
    };
    std::fs::write(
        dir.path().join("controls.toml"),
        original.replace("TLSv1.2", "SSLv3"),
    )
    .unwrap();
    child.wait().unwrap();
    drop(silent);
    let kept = dir.path().join("ev/inputs/controls/000-controls.toml");
    assert_eq!(std::fs::read_to_string(kept).unwrap(), original);
}

/// Prevents: a report (and the bundle holding it) made against an AWS emulator, a `[resolve]`
/// look-alike estate or extra trust roots passing for one made against the real thing: every
/// format's header says what the run was pointed at.
#[test]
fn every_format_says_what_the_run_was_pointed_at() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::support::repo().join("fixtures/tls/ca.pem"),
        dir.path().join("ca.pem"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("vouch.toml"),
        "[targets]\nweb = [\"app.example.com:443\"]\n\n[resolve]\n\"app.example.com:443\" = \
         \"127.0.0.1:1\"\n\n[tls]\nca_file = \"ca.pem\"\n\n[aws]\nregion = \"us-east-1\"\n\
         endpoint_url = \"http://user:secret@127.0.0.1:1\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("controls.toml"),
        "[[control]]\nid = \"TLS\"\ntitle = \"t\"\nseverity = \"low\"\nprobe = \"tls\"\n\
         targets = \"web\"\nexpect = [ { fact = \"protocols.lowest\", op = \">=\", value = \"TLSv1.2\" } ]\n\n\
         [[control]]\nid = \"S3\"\ntitle = \"s\"\nseverity = \"low\"\nprobe = \"aws.s3\"\n\
         targets = [\"some-bucket\"]\nexpect = [ { fact = \"versioning.status\", op = \"==\", value = \"Enabled\" } ]\n",
    )
    .unwrap();
    let formats = [
        "table", "json", "junit", "markdown", "html", "csv", "sarif", "oscal",
    ];
    let mut cmd = vouch();
    cmd.current_dir(dir.path())
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .args(["check", "--controls", "controls.toml", "--timeout", "5s"]);
    for f in formats {
        cmd.args(["--output", &format!("{f}=out.{f}")]);
    }
    let out = cmd.timeout(Duration::from_secs(120)).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::UNOBSERVED)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in formats {
        let text = std::fs::read_to_string(dir.path().join(format!("out.{f}"))).unwrap();
        assert!(
            !text.contains("secret"),
            "{f}: the endpoint's password leaked"
        );
        if f == "json" {
            let r: serde_json::Value = serde_json::from_str(&text).unwrap();
            let ctx = &r["run"]["context"];
            assert_eq!(
                ctx["aws.endpoint_override"]["url"],
                "http://REDACTED@127.0.0.1:1"
            );
            assert_eq!(ctx["resolve"]["app.example.com:443"], "127.0.0.1:1");
            assert!(ctx["tls.ca_file"]["sha256"].as_str().unwrap().len() == 64);
            crate::evidence::assert_matches_schema(&r);
            continue;
        }
        for needle in [
            "AWS endpoint overridden: http://REDACTED@127.0.0.1:1",
            "Names resolved by the inventory, not DNS: app.example.com:443",
            "ca.pem (SHA-256 ",
        ] {
            assert!(text.contains(needle), "{f} lacks `{needle}`:\n{text}");
        }
    }
}
