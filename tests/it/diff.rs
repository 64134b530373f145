//! Drift through the real binary: `vouch diff OLD NEW` and `vouch check --baseline OLD
//! --fail-on-new`, on two runs of the attestation example with the estate changed in between.

use std::path::Path;

use predicates::prelude::*;
use vouch::exit;

use crate::evidence::{ago, check, example};

fn save_report(dir: &Path, name: &str) {
    check(dir)
        .args(["--format", "json", "--output", name])
        .assert()
        .code(i32::from(exit::FAILED));
}

/// Between the runs: the training roster appears (a fix), the pentest ages past a year (a
/// regression), the DR control is retired and a new control is added.
fn drift_the_estate(dir: &Path) {
    std::fs::write(dir.join("evidence/training-2026-roster.txt"), "all staff\n").unwrap();
    let att = dir.join("attestations.toml");
    let text = std::fs::read_to_string(&att).unwrap().replace(
        &format!("performed_on = {}", ago(75)),
        &format!("performed_on = {}", ago(500)),
    );
    std::fs::write(&att, text).unwrap();
    let controls = dir.join("controls.toml");
    let text = std::fs::read_to_string(&controls).unwrap();
    let text = text.replace(
        "id = \"RES-DR-TEST-ANNUAL\"",
        "id = \"RES-DR-TEST-BIENNIAL\"",
    );
    std::fs::write(&controls, text).unwrap();
}

#[test]
fn diff_lists_regressions_fixes_and_new_and_removed_controls() {
    let dir = example();
    save_report(dir.path(), "old.json");
    drift_the_estate(dir.path());
    save_report(dir.path(), "new.json");

    vouch()
        .current_dir(dir.path())
        .args(["diff", "old.json", "new.json"])
        .assert()
        .code(i32::from(exit::FAILED))
        .stdout(predicate::str::contains("regression"))
        .stdout(predicate::str::contains("APPSEC-PENTEST-ANNUAL"))
        .stdout(predicate::str::contains("new control"))
        .stdout(predicate::str::contains("removed control"))
        .stdout(predicate::str::contains(
            "2 regressions, 1 fix, 0 other changes, 1 new and 1 removed controls, 0 new and 0 removed targets",
        ));

    let out = vouch()
        .current_dir(dir.path())
        .args(["diff", "old.json", "new.json", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(i32::from(exit::FAILED)));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["schema"], "vouch.diff/v1");
    assert_eq!(
        d["regressions"],
        serde_json::json!([{"control": "APPSEC-PENTEST-ANNUAL", "target": "pentest-2026",
                            "severity": "high", "old": "pass", "new": "fail",
                            "reason": "it passed in the baseline"},
                           // A control the baseline had and the new run lacks regressed too.
                           {"control": "RES-DR-TEST-ANNUAL", "target": "",
                            "severity": "medium", "old": null, "new": null,
                            "reason": "the control is not in the new run"}])
    );
    assert_eq!(d["fixes"][0]["control"], "PEOPLE-TRAINING-ANNUAL");
    assert_eq!(d["fixes"][0]["old"], "fail");
    assert_eq!(
        d["new_controls"],
        serde_json::json!(["RES-DR-TEST-BIENNIAL"])
    );
    assert_eq!(
        d["removed_controls"],
        serde_json::json!(["RES-DR-TEST-ANNUAL"])
    );

    // Markdown, for a pull-request comment.
    vouch()
        .current_dir(dir.path())
        .args(["diff", "old.json", "new.json", "--format", "markdown"])
        .assert()
        .code(i32::from(exit::FAILED))
        .stdout(predicate::str::starts_with("### vouch drift"))
        .stdout(predicate::str::contains(
            "| **regression**: it passed in the baseline | `APPSEC-PENTEST-ANNUAL` | pentest-2026 | pass | fail |",
        ));
    // No drift: exit 0 and a plain sentence.
    vouch()
        .current_dir(dir.path())
        .args(["diff", "new.json", "new.json"])
        .assert()
        .code(i32::from(exit::PASS))
        .stdout(predicate::str::contains("no drift"));
    // Not a report: usage error.
    std::fs::write(dir.path().join("junk.json"), "{\"schema\": 1}").unwrap();
    vouch()
        .current_dir(dir.path())
        .args(["diff", "junk.json", "new.json"])
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("is not a vouch JSON report"));
}

#[test]
fn fail_on_new_exits_1_only_when_something_regressed() {
    let dir = example();
    save_report(dir.path(), "baseline.json");
    // Same estate: two known failures, no regression → 0, with the drift on stderr.
    check(dir.path())
        .args(["--baseline", "baseline.json", "--fail-on-new"])
        .assert()
        .code(i32::from(exit::PASS))
        .stderr(predicate::str::contains(
            "drift against baseline.json: 0 regressions",
        ));
    // Without --fail-on-new the baseline only informs: the usual exit code.
    check(dir.path())
        .args(["--baseline", "baseline.json"])
        .assert()
        .code(i32::from(exit::FAILED));
    drift_the_estate(dir.path());
    check(dir.path())
        .args(["--baseline", "baseline.json", "--fail-on-new"])
        .assert()
        .code(i32::from(exit::FAILED))
        .stderr(predicate::str::contains(
            "regression: APPSEC-PENTEST-ANNUAL on pentest-2026: pass → fail (it passed in the baseline)",
        ));
    // A regression below --fail-on does not gate.
    check(dir.path())
        .args([
            "--baseline",
            "baseline.json",
            "--fail-on-new",
            "--fail-on",
            "critical",
        ])
        .assert()
        .code(i32::from(exit::PASS));
    // --fail-on-new needs a baseline; a missing baseline is a usage error before any probe runs.
    check(dir.path()).args(["--fail-on-new"]).assert().code(2);
    check(dir.path())
        .args(["--baseline", "missing.json"])
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("missing.json"));
}

fn vouch() -> assert_cmd::Command {
    crate::support::vouch()
}
