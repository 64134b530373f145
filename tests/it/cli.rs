//! The command line as a user sees it: exit codes, formats, output files, help.

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use vouch::exit;

use crate::support::{fixture, repo, vouch};

/// The attestation example, copied with its dates moved relative to today so the verdicts do not
/// depend on when the test runs: the pentest is 75 days old, the DR test 400, training missing.
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("examples/attestations");
    copy_dir(&src, dir.path());
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let ago = |days: i64| {
        today
            .checked_sub(jiff::Span::new().days(days))
            .unwrap()
            .to_string()
    };
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
    dir
}

fn copy_dir(from: &Path, to: &Path) {
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

fn check(dir: &Path) -> assert_cmd::Command {
    let mut cmd = vouch();
    cmd.current_dir(dir)
        .args(["check", "--controls", "controls.toml"]);
    cmd
}

fn report(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let out = check(dir)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON report")
}

#[test]
fn the_example_runs_with_the_expected_verdicts() {
    let dir = example();
    let r = report(dir.path(), &[]);
    let verdicts: Vec<(String, String)> = r["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().into(),
                c["verdict"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("APPSEC-PENTEST-ANNUAL".to_string(), "pass".to_string()),
            ("PEOPLE-TRAINING-ANNUAL".into(), "fail".into()),
            ("RES-DR-TEST-ANNUAL".into(), "fail".into()),
        ]
    );
    let dr = &r["controls"][2]["results"][0]["checks"][0];
    assert_eq!(dr["fact"], "performed_on");
    assert_eq!(dr["verdict"], "fail");
    let training = &r["controls"][1]["results"][0]["checks"][1];
    assert_eq!(
        (training["fact"].as_str(), training["observed"].as_bool()),
        (Some("evidence.exists"), Some(false))
    );
}

#[test]
fn json_output_matches_the_published_schema() {
    let dir = example();
    let r = report(dir.path(), &[]);
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("docs/report-schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema itself is valid");
    let errors: Vec<String> = validator
        .iter_errors(&r)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(r["schema"], "vouch.report/v1");
    assert_eq!(r["summary"]["controls"], 3);
    // Every result's observation is in the observations map, keyed by its digest.
    for c in r["controls"].as_array().unwrap() {
        for res in c["results"].as_array().unwrap() {
            let key = res["observation"].as_str().unwrap();
            assert!(r["observations"][key].is_object(), "{key}");
        }
    }
}

#[test]
fn exit_0_when_nothing_fails() {
    let dir = example();
    check(dir.path())
        .args(["--only", "APPSEC-PENTEST-ANNUAL"])
        .assert()
        .code(i32::from(exit::PASS));
}

#[test]
fn exit_1_when_something_fails_and_fail_on_raises_the_bar() {
    let dir = example();
    check(dir.path())
        .assert()
        .code(i32::from(exit::FAILED))
        .stdout(predicate::str::contains(
            "performed_on within 365d (observed",
        ));
    // The failing controls are medium: --fail-on high lets the run pass.
    check(dir.path())
        .args(["--fail-on", "high"])
        .assert()
        .code(i32::from(exit::PASS));
}

#[test]
fn exit_2_on_invalid_controls_with_every_problem_on_stderr() {
    vouch()
        .args([
            "validate",
            fixture("controls/six-mistakes.toml").to_str().unwrap(),
        ])
        .args([
            "--inventory",
            fixture("controls/inventory-for-six.toml").to_str().unwrap(),
        ])
        .assert()
        .code(i32::from(exit::INVALID))
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("six-mistakes.toml:6:1"))
        .stderr(predicate::str::contains("13 problems found"));
    let dir = example();
    check(dir.path())
        .args([
            "--controls",
            fixture("controls/six-mistakes.toml").to_str().unwrap(),
        ])
        .assert()
        .code(i32::from(exit::INVALID));
    check(dir.path())
        .args(["--only", "NO-SUCH-CONTROL"])
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("no such control"));
    vouch()
        .args(["check", "--format", "yaml"])
        .assert()
        .code(i32::from(exit::INVALID));
}

#[test]
fn exit_2_when_a_control_names_an_attestation_that_is_not_on_file() {
    let dir = example();
    let text = std::fs::read_to_string(dir.path().join("controls.toml"))
        .unwrap()
        .replace(
            "targets = [\"training-2026\"]",
            "targets = [\"training-2062\"]",
        );
    std::fs::write(dir.path().join("controls.toml"), text).unwrap();
    check(dir.path())
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("unknown-attestation"))
        .stderr(predicate::str::contains("training-2062"));
}

#[test]
fn exit_3_when_nothing_fails_but_something_could_not_be_observed() {
    let dir = example();
    // No inventory, so no attestations file: the probe cannot look, and says how to fix it.
    std::fs::remove_file(dir.path().join("vouch.toml")).unwrap();
    check(dir.path())
        .args(["--only", "APPSEC-PENTEST-ANNUAL"])
        .assert()
        .code(i32::from(exit::UNOBSERVED))
        .stdout(predicate::str::contains("ERROR"))
        .stdout(predicate::str::contains("hint: set `attestations"));
}

#[test]
fn output_files_are_written_whole_and_stdout_stays_empty() {
    let dir = example();
    let out: PathBuf = dir.path().join("out/report.json");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    check(dir.path())
        .args(["--format", "json", "--output", out.to_str().unwrap()])
        .assert()
        .code(i32::from(exit::FAILED))
        .stdout(predicate::str::is_empty());
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r["summary"]["fail"], 2);
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
}

#[test]
fn table_output_has_no_colour_when_piped_or_with_no_color() {
    let dir = example();
    let out = check(dir.path()).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\u{1b}'));
    let out = check(dir.path())
        .args(["--color", "always"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains('\u{1b}'),
        "--color always colours"
    );
}

#[test]
fn the_attestation_probe_spot_check_prints_its_facts() {
    let dir = example();
    vouch()
        .current_dir(dir.path())
        .args(["probe", "attestation", "pentest-2026"])
        .assert()
        .success()
        .stdout(predicate::str::contains("age_days").and(predicate::str::contains("75")));
    let out = vouch()
        .current_dir(dir.path())
        .args(["probe", "attestation", "pentest-2026", "--format", "json"])
        .output()
        .unwrap();
    let obs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(obs["probe"], "attestation");
    assert_eq!(obs["facts"]["evidence.exists"], true);
    assert_eq!(obs["facts"]["evidence.sha256"].as_str().unwrap().len(), 64);
    vouch()
        .current_dir(dir.path())
        .args(["probe", "attestation", "nope"])
        .assert()
        .code(i32::from(exit::UNOBSERVED))
        .stderr(predicate::str::contains("no attestation `nope`"));
}

#[test]
fn list_prints_claims_probes_and_criteria() {
    let dir = example();
    let out = vouch()
        .current_dir(dir.path())
        .args(["list", "--controls", "controls.toml", "--format", "json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &list[0];
    for key in ["id", "title", "claim", "probe", "severity", "frameworks"] {
        assert!(!first[key].is_null(), "{key}");
    }
    assert_eq!(first["frameworks"]["soc2"][0], "CC4.1");
    vouch()
        .current_dir(dir.path())
        .args(["list", "--controls", "controls.toml"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Annual third-party penetration test",
        ));
}

#[test]
fn help_has_examples_and_completions_are_generated() {
    for cmd in ["check", "probe", "validate", "list"] {
        vouch()
            .args([cmd, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:"));
    }
    vouch()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("vouch"));
}

#[test]
fn validate_counts_what_it_read() {
    vouch()
        .args([
            "validate",
            repo()
                .join("examples/attestations/controls.toml")
                .to_str()
                .unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 controls in 1 file are valid"));
}

#[test]
fn the_commented_example_inventory_is_valid() {
    let mut diags = vouch::diag::Diagnostics::new();
    let inv =
        vouch::inventory::Inventory::load(&repo().join("examples/inventory.toml"), &mut diags);
    assert!(!diags.has_errors(), "{}", diags.render_short());
    let inv = inv.unwrap();
    // Every group the built-in library names is shown in the example.
    let mut lib = vouch::diag::Diagnostics::new();
    let controls = vouch::control::load_controls(
        &vouch::control::builtin::sources(),
        &vouch::probe::Registry::builtin(),
        None,
        &mut lib,
    );
    for c in controls {
        if let vouch::control::Targets::Group(g) = &c.targets {
            assert!(
                inv.targets.contains_key(g),
                "examples/inventory.toml lacks group `{g}` ({})",
                c.id
            );
        }
    }
    assert_eq!(inv.aws.region.as_deref(), Some("eu-west-1"));
    assert!(inv.resolve.contains_key("app.opendoors.ai:443"));
}
