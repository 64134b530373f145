//! Waivers through the real binary: a covered failure becomes `waived` with its original verdict,
//! expired and unused waivers are named, and bad waiver files stop the run with spans.

use std::path::Path;

use predicates::prelude::*;
use vouch::exit;

use crate::evidence::{ago, assert_matches_schema, check, example, today};

fn in_days(days: i64) -> String {
    today()
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
        .to_string()
}

fn waiver(control: &str, targets: Option<&str>, expires: &str) -> String {
    let targets = targets
        .map(|t| format!("targets = [\"{t}\"]\n"))
        .unwrap_or_default();
    format!(
        "[[waiver]]\ncontrol = \"{control}\"\n{targets}reason = \"DR exercise moved after the migration\"\n\
         owner = \"platform-team\"\napproved_by = \"CISO\"\nticket = \"SEC-42\"\nexpires = {expires}\n\n"
    )
}

fn run(dir: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = check(dir)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    (
        out.status.code(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn control<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
}

#[test]
fn a_waiver_turns_a_failure_into_waived_and_keeps_the_original_verdict() {
    let dir = example();
    std::fs::write(
        dir.path().join("waivers.toml"),
        waiver("RES-DR-TEST-ANNUAL", Some("dr-*"), &in_days(30)),
    )
    .unwrap();
    let (code, r, stderr) = run(dir.path(), &["--waivers", "waivers.toml"]);
    assert_eq!(code, Some(i32::from(exit::FAILED)), "training still fails");
    let dr = control(&r, "RES-DR-TEST-ANNUAL");
    assert_eq!(dr["verdict"], "waived");
    let w = &dr["results"][0]["waiver"];
    assert_eq!(w["original_verdict"], "fail");
    assert_eq!(w["owner"], "platform-team");
    assert_eq!(w["approved_by"], "CISO");
    assert_eq!(w["ticket"], "SEC-42");
    assert_eq!(w["expires"], in_days(30));
    assert_eq!(
        dr["results"][0]["checks"][0]["verdict"], "fail",
        "the failing check is still shown"
    );
    assert_eq!(r["summary"]["waived"], 1);
    assert_eq!(r["summary"]["fail"], 1);
    assert!(r.get("unused_waivers").is_none());
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_matches_schema(&r);

    // Waive the training failure too, through the inventory's `waivers = "…"`: nothing fails.
    let both = format!(
        "{}{}",
        waiver("RES-DR-TEST-ANNUAL", None, &in_days(30)),
        waiver("PEOPLE-TRAINING-ANNUAL", Some("training-*"), &in_days(1))
    );
    std::fs::write(dir.path().join("waivers.toml"), both).unwrap();
    let inv = dir.path().join("vouch.toml");
    let text = std::fs::read_to_string(&inv).unwrap();
    std::fs::write(
        &inv,
        text.replace(
            "attestations = ",
            "waivers = \"waivers.toml\"\nattestations = ",
        ),
    )
    .unwrap();
    let (code, r, _) = run(dir.path(), &[]);
    assert_eq!(code, Some(i32::from(exit::PASS)));
    assert_eq!(r["summary"]["waived"], 2);
}

#[test]
fn a_waiver_whose_globs_miss_the_target_does_not_apply_and_is_listed_unused() {
    let dir = example();
    std::fs::write(
        dir.path().join("waivers.toml"),
        waiver("RES-DR-TEST-ANNUAL", Some("prod-*"), &in_days(30)),
    )
    .unwrap();
    let (code, r, stderr) = run(dir.path(), &["--waivers", "waivers.toml"]);
    assert_eq!(code, Some(i32::from(exit::FAILED)));
    assert_eq!(control(&r, "RES-DR-TEST-ANNUAL")["verdict"], "fail");
    assert_eq!(r["unused_waivers"][0]["status"], "unused");
    assert_eq!(r["unused_waivers"][0]["targets"][0], "prod-*");
    assert!(
        stderr.contains(
            "warning: the waiver of RES-DR-TEST-ANNUAL at waivers.toml:1:1 covers no failing result"
        ),
        "{stderr}"
    );
    assert_matches_schema(&r);
}

#[test]
fn a_waiver_of_a_passing_control_is_listed_as_unused() {
    let dir = example();
    std::fs::write(
        dir.path().join("waivers.toml"),
        waiver("APPSEC-PENTEST-ANNUAL", None, &in_days(30)),
    )
    .unwrap();
    let (_, r, stderr) = run(dir.path(), &["--waivers", "waivers.toml"]);
    assert_eq!(control(&r, "APPSEC-PENTEST-ANNUAL")["verdict"], "pass");
    assert_eq!(r["unused_waivers"][0]["control"], "APPSEC-PENTEST-ANNUAL");
    assert!(stderr.contains("covers no failing result"), "{stderr}");
    // With --only another control, the waiver is neither used nor unused: nothing to say.
    let (_, r, stderr) = run(
        dir.path(),
        &["--waivers", "waivers.toml", "--only", "RES-DR-TEST-ANNUAL"],
    );
    assert!(r.get("unused_waivers").is_none());
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn an_expired_waiver_is_ignored_with_a_warning_naming_it() {
    let dir = example();
    std::fs::write(
        dir.path().join("waivers.toml"),
        format!(
            "# accepted last quarter\n{}",
            waiver("RES-DR-TEST-ANNUAL", None, &ago(1))
        ),
    )
    .unwrap();
    let (code, r, stderr) = run(dir.path(), &["--waivers", "waivers.toml"]);
    assert_eq!(code, Some(i32::from(exit::FAILED)));
    assert_eq!(control(&r, "RES-DR-TEST-ANNUAL")["verdict"], "fail");
    assert!(
        stderr.contains(&format!(
            "warning: the waiver of RES-DR-TEST-ANNUAL at waivers.toml:2:1 expired on {}; it was ignored",
            ago(1)
        )),
        "{stderr}"
    );
    assert_eq!(r["unused_waivers"][0]["status"], "expired");
    assert_matches_schema(&r);

    // A waiver is valid through its `expires` day.
    std::fs::write(
        dir.path().join("waivers.toml"),
        waiver("RES-DR-TEST-ANNUAL", None, &in_days(0)),
    )
    .unwrap();
    let (_, r, _) = run(dir.path(), &["--waivers", "waivers.toml"]);
    assert_eq!(control(&r, "RES-DR-TEST-ANNUAL")["verdict"], "waived");
}

#[test]
fn a_bad_waivers_file_stops_the_run_and_names_every_problem_with_its_place() {
    let dir = example();
    let text = format!(
        "[[waiver]]\ncontrol = \"RES-DR-TEST-ANUAL\"\nreason = \"r\"\nowner = \"o\"\napproved_by = \"a\"\n\
         expires = {}\n\n[[waiver]]\ncontrol = \"RES-DR-TEST-ANNUAL\"\nreason = \"r\"\napproved_by = \"a\"\n\
         expires = {}\ntargets = [\"dr-{{\"]\n",
        in_days(400),
        in_days(30)
    );
    std::fs::write(dir.path().join("waivers.toml"), text).unwrap();
    check(dir.path())
        .args(["--waivers", "waivers.toml"])
        .assert()
        .code(i32::from(exit::INVALID))
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("error[unknown-control]"))
        .stderr(predicate::str::contains(
            "did you mean `RES-DR-TEST-ANNUAL`?",
        ))
        .stderr(predicate::str::contains("error[waiver-too-long]"))
        .stderr(predicate::str::contains("waivers.toml:6:11"))
        .stderr(predicate::str::contains("error[missing-key]"))
        .stderr(predicate::str::contains("missing required key `owner`"))
        .stderr(predicate::str::contains("error[invalid-glob]"))
        .stderr(predicate::str::contains(
            "4 problems found; nothing was checked",
        ));

    // A missing waivers file named by the flag is a load error too.
    check(dir.path())
        .args(["--waivers", "nope.toml"])
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("cannot read waivers"));

    // `expires` is required.
    std::fs::write(
        dir.path().join("waivers.toml"),
        "[[waiver]]\ncontrol = \"RES-DR-TEST-ANNUAL\"\nreason = \"r\"\nowner = \"o\"\napproved_by = \"a\"\n",
    )
    .unwrap();
    check(dir.path())
        .args(["--waivers", "waivers.toml"])
        .assert()
        .code(i32::from(exit::INVALID))
        .stderr(predicate::str::contains("missing required key `expires`"));
}

#[test]
fn waivers_apply_again_on_replay_as_of_the_original_run() {
    let dir = example();
    check(dir.path())
        .args(["--evidence-dir", "ev"])
        .assert()
        .code(i32::from(exit::FAILED));
    std::fs::write(
        dir.path().join("waivers.toml"),
        waiver("RES-DR-TEST-ANNUAL", None, &in_days(5)),
    )
    .unwrap();
    let (_, r, _) = run(
        dir.path(),
        &[
            "--from-evidence",
            "ev",
            "--allow-unsigned",
            "--waivers",
            "waivers.toml",
        ],
    );
    assert_eq!(control(&r, "RES-DR-TEST-ANNUAL")["verdict"], "waived");
    assert_eq!(
        control(&r, "RES-DR-TEST-ANNUAL")["results"][0]["waiver"]["original_verdict"],
        "fail"
    );
}
