//! Adoption (#22): the built-in library tailored by `[[override]]` tables instead of copied,
//! `--controls builtin` / `builtin:PACK`, `vouch controls export`.

use std::path::Path;

use predicates::prelude::*;
use vouch::control::{Source, load_controls};
use vouch::diag::Diagnostics;
use vouch::probe::Registry;

use crate::support::vouch;

/// An estate with no network: the personnel pack's attestations, all recent with evidence.
fn personnel_estate() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let recent = today.checked_sub(jiff::Span::new().days(30)).unwrap();
    std::fs::create_dir(d.join("evidence")).unwrap();
    let mut atts = String::new();
    for id in ["background-checks", "security-training", "access-review"] {
        std::fs::write(d.join(format!("evidence/{id}.txt")), id).unwrap();
        atts.push_str(&format!(
            "[[attestation]]\nid = \"{id}\"\nstatement = \"{id} done\"\nperformed_on = {recent}\nevidence = \"evidence/{id}.txt\"\nattested_by = \"Head of People\"\n\n"
        ));
    }
    std::fs::write(d.join("attestations.toml"), atts).unwrap();
    std::fs::write(
        d.join("vouch.toml"),
        "attestations = \"attestations.toml\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("overrides.toml"),
        r#"# Tailoring the built-in library without copying it.
[[override]]
control = "PEOPLE-VENDOR-RISK"
skip = true
reason = "no subprocessors: every system is run in-house"
owner = "ciso@example.com"

[[override]]
control = "PEOPLE-ACCESS-REVIEW"
severity = "critical"
max_age = "400d"
"#,
    )
    .unwrap();
    dir
}

fn check(dir: &Path, format: &str) -> (Option<i32>, String) {
    let out = vouch()
        .current_dir(dir)
        .args([
            "check",
            "--controls",
            "builtin:personnel",
            "--controls",
            "overrides.toml",
            "--format",
            format,
        ])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn override_skip_is_na_with_reason_and_owner_and_severity_is_changed() {
    let dir = personnel_estate();
    let (code, out) = check(dir.path(), "json");
    assert_eq!(code, Some(0), "{out}");
    let json = &out[..out.rfind('}').unwrap() + 1];
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    let controls = report["controls"].as_array().unwrap();
    assert_eq!(controls.len(), 4, "a skipped control is never dropped");
    let vendor = controls
        .iter()
        .find(|c| c["id"] == "PEOPLE-VENDOR-RISK")
        .unwrap();
    assert_eq!(vendor["verdict"], "n/a");
    assert_eq!(
        vendor["skipped"]["reason"],
        "no subprocessors: every system is run in-house"
    );
    assert_eq!(vendor["skipped"]["owner"], "ciso@example.com");
    assert!(
        vendor["skipped"]["source"]
            .as_str()
            .unwrap()
            .ends_with("overrides.toml:2"),
        "{vendor}"
    );
    assert_eq!(vendor["results"].as_array().unwrap().len(), 1);
    assert_eq!(vendor["results"][0]["engine"], "skipped");
    assert!(
        vendor["results"][0]["observation"].is_null(),
        "nothing was observed"
    );
    assert!(vendor.get("examined_nothing").is_none(), "{vendor}");
    let review = controls
        .iter()
        .find(|c| c["id"] == "PEOPLE-ACCESS-REVIEW")
        .unwrap();
    assert_eq!(review["severity"], "critical");
    assert_eq!(review["verdict"], "pass");
    assert!(
        review["results"][0]["expires_at"].is_string(),
        "max_age override applies"
    );
    assert_eq!(report["summary"]["n/a"], 1);
}

#[test]
fn a_skipped_control_shows_its_reason_and_owner_in_every_format() {
    let dir = personnel_estate();
    let reason = "no subprocessors: every system is run in-house";
    for format in [
        "table", "json", "junit", "markdown", "html", "csv", "sarif", "oscal",
    ] {
        let (code, out) = check(dir.path(), format);
        assert_eq!(code, Some(0), "{format}: {out}");
        assert!(out.contains("PEOPLE-VENDOR-RISK"), "{format}: {out}");
        assert!(
            out.contains("ciso@example.com"),
            "{format}: owner missing: {out}"
        );
        // Table cells wrap; the others keep the reason whole.
        if format == "table" {
            assert!(out.contains("no subprocessors"), "{format}: {out}");
        } else {
            assert!(out.contains(reason), "{format}: reason missing: {out}");
        }
    }
    let (_, junit) = check(dir.path(), "junit");
    let case = junit
        .split("<testsuite ")
        .find(|s| s.contains("name=\"PEOPLE-VENDOR-RISK\""))
        .unwrap();
    assert!(case.contains("<skipped"), "{case}");
    let (_, sarif) = check(dir.path(), "sarif");
    let sarif: serde_json::Value =
        serde_json::from_str(&sarif[..sarif.rfind('}').unwrap() + 1]).unwrap();
    let run = &sarif["runs"][0];
    let ov = &run["invocations"][0]["ruleConfigurationOverrides"][0];
    assert_eq!(ov["descriptor"]["id"], "PEOPLE-VENDOR-RISK");
    assert_eq!(ov["configuration"]["enabled"], false);
    let index = ov["descriptor"]["index"].as_u64().unwrap() as usize;
    assert_eq!(
        run["tool"]["driver"]["rules"][index]["id"],
        "PEOPLE-VENDOR-RISK"
    );
    let (_, csv) = check(dir.path(), "csv");
    let row = csv
        .lines()
        .find(|l| l.contains("PEOPLE-VENDOR-RISK"))
        .unwrap();
    assert!(row.contains("n/a"), "{row}");
    let (_, oscal) = check(dir.path(), "oscal");
    assert!(oscal.contains("skipped-reason"), "{oscal}");
}

fn load(files: &[(&str, &str)], builtin: bool) -> (Diagnostics, Vec<vouch::control::Control>) {
    let dir = tempfile::tempdir().unwrap();
    let mut sources = if builtin {
        vouch::control::builtin::sources()
    } else {
        Vec::new()
    };
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        sources.push(Source::Path(p));
    }
    let mut diags = Diagnostics::new();
    let controls = load_controls(&sources, &Registry::builtin(), None, &mut diags);
    (diags, controls)
}

fn codes_at(diags: &Diagnostics) -> Vec<(String, String)> {
    diags
        .sorted()
        .iter()
        .map(|d| {
            let at = diags.location(d.file, d.span.start);
            let at = at.rsplit('/').next().unwrap().to_string();
            (d.code.to_string(), at)
        })
        .collect()
}

#[test]
fn override_mistakes_are_spanned_diagnostics() {
    let (diags, _) = load(
        &[(
            "o.toml",
            r#"[[override]]
control = "ENC-TRANSIT-TLS1"
severity = "high"

[[override]]
control = "ENC-TRANSIT-TLS12"
severity = 3
min_population = "many"

[[override]]
control = "PEOPLE-VENDOR-RISK"
skip = true

[[override]]
control = "PEOPLE-ACCESS-REVIEW"
severity = "low"
colour = "red"

[[override]]
control = "PEOPLE-ACCESS-REVIEW"
severity = "high"

[[override]]
control = "PEOPLE-SECURITY-TRAINING"
reason = "not a skip"

[[override]]
control = "PEOPLE-BACKGROUND-CHECKS"

[[override]]
control = "ENC-TRANSIT-TLS12"
params = { no_such_param = 1 }
"#,
        )],
        true,
    );
    assert_eq!(
        codes_at(&diags),
        [
            ("unknown-control".into(), "o.toml:2:11".into()),
            ("wrong-type".into(), "o.toml:7:12".into()),
            ("wrong-type".into(), "o.toml:8:18".into()),
            ("skip-without-reason".into(), "o.toml:12:8".into()),
            ("unknown-key".into(), "o.toml:17:1".into()),
            ("duplicate-override".into(), "o.toml:21:1".into()),
            ("reason-without-skip".into(), "o.toml:25:10".into()),
            ("empty-override".into(), "o.toml:27:1".into()),
            ("unknown-param".into(), "o.toml:32:12".into()),
        ] as [(String, String); 9],
        "{}",
        diags.render_short()
    );
    let text = diags.render_short();
    assert!(text.contains("did you mean `ENC-TRANSIT-TLS12`?"), "{text}");
    // The duplicate points at the first override of the field too.
    let dup = diags
        .items
        .iter()
        .find(|d| d.code == "duplicate-override")
        .unwrap();
    let (f, span, _) = &dup.secondary[0];
    assert!(diags.location(*f, span.start).ends_with("o.toml:16:1"));
}

#[test]
fn overrides_adjust_targets_params_require_and_a_file_may_hold_only_overrides() {
    let (diags, controls) = load(
        &[(
            "o.toml",
            r#"[[override]]
control = "ENC-TRANSIT-TLS12"
targets = ["app.example.com:443"]
require = "any"
min_population = 0
"#,
        )],
        true,
    );
    assert!(!diags.has_errors(), "{}", diags.render_short());
    let c = controls
        .iter()
        .find(|c| c.id == "ENC-TRANSIT-TLS12")
        .unwrap();
    assert_eq!(
        c.targets,
        vouch::control::Targets::List(vec!["app.example.com:443".into()])
    );
    assert_eq!(c.require, vouch::control::Require::Any);
    assert_eq!(c.min_population, Some(0));
    // A target the probe cannot take is a spanned error at the override.
    let (diags, _) = load(
        &[(
            "o.toml",
            "[[override]]\ncontrol = \"ENC-TRANSIT-TLS12\"\ntargets = [\"app.example.com:99999\"]\n",
        )],
        true,
    );
    assert_eq!(
        codes_at(&diags),
        [("invalid-target".to_string(), "o.toml:3:12".to_string())],
        "{}",
        diags.render_short()
    );
}

#[test]
fn controls_builtin_and_packs_combine_with_files() {
    let all = vouch()
        .args(["list", "--controls", "builtin", "--format", "json"])
        .output()
        .unwrap();
    let all: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    let default = vouch().args(["list", "--format", "json"]).output().unwrap();
    let default: serde_json::Value = serde_json::from_slice(&default.stdout).unwrap();
    assert_eq!(all, default, "`builtin` is the default library");
    let pack = vouch()
        .args([
            "list",
            "--controls",
            "builtin:personnel",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let pack: serde_json::Value = serde_json::from_slice(&pack.stdout).unwrap();
    let ids: Vec<&str> = pack
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "PEOPLE-ACCESS-REVIEW",
            "PEOPLE-BACKGROUND-CHECKS",
            "PEOPLE-SECURITY-TRAINING",
            "PEOPLE-VENDOR-RISK"
        ]
    );
    vouch()
        .args(["list", "--controls", "builtin:nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no built-in pack `nope`"))
        .stderr(predicate::str::contains("personnel"));
    // builtin + a file of one more control + an override of a built-in one.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ours.toml"),
        "[[control]]\nid = \"OURS-1\"\ntitle = \"t\"\nseverity = \"low\"\nprobe = \"attestation\"\ntargets = [\"x\"]\nexpect = [{ fact = \"age_days\", op = \"<=\", value = 1 }]\n\n[[override]]\ncontrol = \"ENC-TRANSIT-TLS12\"\nseverity = \"info\"\n",
    )
    .unwrap();
    let out = vouch()
        .current_dir(dir.path())
        .args([
            "list",
            "--controls",
            "builtin",
            "--controls",
            "ours.toml",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let both: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let both = both.as_array().unwrap();
    assert_eq!(both.len(), all.as_array().unwrap().len() + 1);
    let tls = both
        .iter()
        .find(|c| c["id"] == "ENC-TRANSIT-TLS12")
        .unwrap();
    assert_eq!(tls["severity"], "info");
    vouch()
        .current_dir(dir.path())
        .args(["validate", "builtin", "ours.toml"])
        .assert()
        .success();
}

#[test]
fn controls_export_writes_the_library_and_never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lib");
    vouch()
        .args(["controls", "export"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("02-encryption.toml"));
    for (name, text) in vouch::control::builtin::FILES {
        let file = out.join(name.rsplit('/').next().unwrap());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), *text);
    }
    // The exported files are the library: same controls.
    let a = vouch()
        .args(["list", "--format", "json", "--controls"])
        .arg(&out)
        .output()
        .unwrap();
    let b = vouch().args(["list", "--format", "json"]).output().unwrap();
    let ids = |o: &[u8]| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(o).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&a.stdout), ids(&b.stdout));
    let edited = out.join("02-encryption.toml");
    std::fs::write(&edited, "# mine\n").unwrap();
    vouch()
        .args(["controls", "export"])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("kept"))
        .stderr(predicate::str::contains("02-encryption.toml"));
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "# mine\n");
    vouch()
        .args(["controls", "export", "--force"])
        .arg(&out)
        .assert()
        .success();
    assert_ne!(std::fs::read_to_string(&edited).unwrap(), "# mine\n");
}

// ---- vouch init, discovery -------------------------------------------------------------------

fn read_all(dir: &Path) -> Vec<(String, String)> {
    [
        "vouch.toml",
        "attestations.toml",
        "waivers.toml",
        ".github/workflows/vouch.yml",
    ]
    .iter()
    .map(|f| {
        (
            f.to_string(),
            std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")),
        )
    })
    .collect()
}

/// `vouch` with no way to reach AWS's instance metadata (never a target here).
fn vouch_offline() -> assert_cmd::Command {
    let mut cmd = vouch();
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("VOUCH_INVENTORY");
    cmd
}

#[test]
fn init_into_an_empty_folder_validates_and_a_second_init_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("estate");
    vouch_offline()
        .args(["init", "--no-aws"])
        .arg(&d)
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote").and(predicate::str::contains("vouch.toml")));
    let first = read_all(&d);
    let inv = &first[0].1;
    // Every group the built-in library names is offered, with the controls that use it.
    for group in [
        "public_endpoints",
        "primary_domains",
        "aws_buckets",
        "source_repositories",
    ] {
        assert!(
            inv.contains(&format!("# {group} = ")),
            "{group} missing:\n{inv}"
        );
    }
    assert!(inv.contains("ENC-TRANSIT-TLS12"), "{inv}");
    assert!(
        inv.contains("# [aws]"),
        "no credentials: [aws] commented out\n{inv}"
    );
    let yml = &first[3].1;
    assert!(
        yml.contains("upload-sarif") && yml.contains("GITHUB_STEP_SUMMARY"),
        "{yml}"
    );
    // validate (the built-in library and the discovered inventory and its files) passes.
    vouch_offline()
        .current_dir(&d)
        .arg("validate")
        .assert()
        .success();
    vouch_offline()
        .current_dir(&d)
        .args(["validate", "builtin"])
        .assert()
        .success();
    // A second init keeps every file, byte for byte, and says so; an edit survives it.
    let edited = format!("{inv}\n# mine\n");
    std::fs::write(d.join("vouch.toml"), &edited).unwrap();
    vouch_offline()
        .current_dir(&d)
        .args(["init", "--no-aws"])
        .assert()
        .success()
        .stdout(predicate::str::contains("kept").and(predicate::str::contains("wrote").not()));
    let second = read_all(&d);
    assert_eq!(second[0].1, edited);
    assert_eq!(second[1..], first[1..]);
}

#[test]
fn init_fills_aws_from_the_credentials_that_resolve() {
    let moto = crate::support::require(
        std::env::var("VOUCH_TEST_MOTO_URL").ok(),
        "moto's server (VOUCH_TEST_MOTO_URL)",
        "source scripts/setup.d/30-moto.sh",
    );
    let dir = tempfile::tempdir().unwrap();
    vouch_offline()
        .current_dir(dir.path())
        .env("AWS_ENDPOINT_URL", &moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing-secret-never-written")
        .env("AWS_REGION", "eu-west-3")
        .arg("init")
        .assert()
        .success();
    let inv = std::fs::read_to_string(dir.path().join("vouch.toml")).unwrap();
    assert!(inv.contains("\n[aws]\n"), "{inv}");
    assert!(inv.contains("region = \"eu-west-3\""), "{inv}");
    // moto's account.
    assert!(inv.contains("account_id = \"123456789012\""), "{inv}");
    assert!(
        inv.contains("\naws_buckets = [\"*\"]"),
        "AWS groups switched on\n{inv}"
    );
    for f in [
        "vouch.toml",
        "attestations.toml",
        "waivers.toml",
        ".github/workflows/vouch.yml",
    ] {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert!(!text.contains("testing-secret"), "a secret in {f}");
        assert!(!text.contains(&moto), "the endpoint is not the estate: {f}");
    }
    vouch_offline()
        .current_dir(dir.path())
        .arg("validate")
        .assert()
        .success();
}

#[test]
fn the_inventory_is_found_in_a_parent_folder_or_from_vouch_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("vouch.toml"),
        "[targets]\nsecurity_reviews = [\"pentest\"]\n",
    )
    .unwrap();
    let sub = root.join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    let control = |group: &str| {
        format!(
            "[[control]]\nid = \"X\"\ntitle = \"t\"\nseverity = \"low\"\nprobe = \"attestation\"\ntargets = \"{group}\"\nexpect = [{{ fact = \"age_days\", op = \"<=\", value = 1 }}]\n"
        )
    };
    std::fs::write(sub.join("ok.toml"), control("security_reviews")).unwrap();
    std::fs::write(sub.join("bad.toml"), control("security_review")).unwrap();
    vouch_offline()
        .current_dir(&sub)
        .args(["validate", "ok.toml"])
        .assert()
        .success();
    // The group is checked against the parent's vouch.toml: found, not defaulted to nothing.
    vouch_offline()
        .current_dir(&sub)
        .args(["validate", "bad.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown-target-group"))
        .stderr(predicate::str::contains("did you mean `security_reviews`"));
    // VOUCH_INVENTORY names the inventory instead of the one found.
    let other = root.join("other.toml");
    std::fs::write(&other, "[targets]\nsecurity_review = [\"pentest\"]\n").unwrap();
    vouch_offline()
        .current_dir(&sub)
        .env("VOUCH_INVENTORY", &other)
        .args(["validate", "bad.toml"])
        .assert()
        .success();
    vouch_offline()
        .current_dir(&sub)
        .env("VOUCH_INVENTORY", &other)
        .args(["validate", "ok.toml"])
        .assert()
        .code(2);
}

// ---- conventions: man page, ISO 27001, OSCAL UUIDs, --timeout 500ms, verify sidecars ----------

#[test]
fn the_man_page_renders_with_man() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("vouch.1");
    let out = vouch().arg("man").output().unwrap();
    assert!(out.status.success());
    std::fs::write(&page, &out.stdout).unwrap();
    let man = crate::support::require(
        which("man"),
        "man (man-db) and groff",
        "source scripts/setup.d/15-man.sh",
    );
    let rendered = std::process::Command::new(man)
        .args(["-P", "cat", "-l"])
        .arg(&page)
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let text = String::from_utf8_lossy(&rendered.stdout);
    for want in [
        "NAME", "vouch", "SYNOPSIS", "check", "controls", "init", "VERSION",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    // One page per command with --dir.
    vouch()
        .args(["man", "--dir"])
        .arg(dir.path().join("man1"))
        .assert()
        .success();
    assert!(dir.path().join("man1/vouch-check.1").is_file());
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

#[test]
fn the_iso27001_catalogue_has_the_93_annex_a_controls_and_every_id_the_library_names() {
    use vouch::report::coverage::Framework;
    let iso = Framework::find("iso27001").unwrap();
    assert_eq!(iso.criteria.len(), 93);
    let mut want = Vec::new();
    for (clause, n) in [(5, 37), (6, 8), (7, 14), (8, 34)] {
        for i in 1..=n {
            want.push(format!("A.{clause}.{i}"));
        }
    }
    let ids: Vec<&str> = iso.criteria.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, want);
    assert!(iso.criteria.iter().all(|c| !c.title.is_empty()));
    let titles: std::collections::BTreeMap<&str, &str> = iso
        .criteria
        .iter()
        .map(|c| (c.id.as_str(), c.title.as_str()))
        .collect();
    assert_eq!(titles["A.8.24"], "Use of cryptography");
    assert_eq!(
        titles["A.5.23"],
        "Information security for use of cloud services"
    );
    assert_eq!(titles["A.6.1"], "Screening");
    assert_eq!(titles["A.7.14"], "Secure disposal or re-use of equipment");
    let (_, controls) = load(&[], true);
    for c in &controls {
        for id in c.frameworks.get("iso27001").into_iter().flatten() {
            assert!(
                titles.contains_key(id.as_str()),
                "{}: {id} is not an Annex A id",
                c.id
            );
        }
    }
    vouch()
        .args(["coverage", "--framework", "iso27001"])
        .assert()
        .success()
        .stdout(predicate::str::contains("A.8.24"))
        .stderr(predicate::str::contains("is not a").not());
}

#[test]
fn oscal_uuids_are_rfc4122_v5_that_a_third_party_recomputes() {
    use sha2::Digest;
    let dir = personnel_estate();
    let out = vouch()
        .current_dir(dir.path())
        .args([
            "check",
            "--controls",
            "builtin:personnel",
            "--controls",
            "overrides.toml",
            "--format",
            "oscal",
            "--output",
            "json=report.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let oscal: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    // The documented recipe: SHA-256 of the report with sorted keys and no whitespace.
    let canonical = serde_json::to_vec(&vouch::report::canonical_json(report)).unwrap();
    let digest = hex::encode(sha2::Sha256::digest(&canonical));
    let ns = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"https://vouch.dev/ns/oscal");
    assert_eq!(ns.to_string(), "b5d2718a-0b5c-56b1-a148-2a476ba7b671");
    let findings = oscal["assessment-results"]["results"][0]["findings"]
        .as_array()
        .unwrap();
    let finding = findings
        .iter()
        .find(|f| f["target"]["target-id"] == "PEOPLE-ACCESS-REVIEW")
        .unwrap();
    let want = uuid::Uuid::new_v5(
        &ns,
        format!("{digest}/finding/PEOPLE-ACCESS-REVIEW").as_bytes(),
    );
    assert_eq!(finding["uuid"], want.to_string());
    let doc = uuid::Uuid::parse_str(oscal["assessment-results"]["uuid"].as_str().unwrap()).unwrap();
    assert_eq!(doc.get_version_num(), 5);
    assert_eq!(doc.get_variant(), uuid::Variant::RFC4122);
    assert_eq!(
        doc,
        uuid::Uuid::new_v5(&ns, format!("{digest}/document").as_bytes())
    );
}

#[test]
fn a_timeout_of_500ms_is_accepted_and_honoured() {
    // A listener that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().take(64) {
            held.push(s);
        }
    });
    let started = std::time::Instant::now();
    let out = vouch()
        .args([
            "probe",
            "tls",
            &format!("127.0.0.1:{port}"),
            "--timeout",
            "500ms",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    // Every version's hello goes unanswered: inconclusive (never "rejected"), within 500ms.
    let obs: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(obs["duration_ms"].as_u64().unwrap() <= 600, "{obs}");
    assert!(
        !obs["facts"]["protocols.inconclusive"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{obs}"
    );
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "took {elapsed:?}"
    );
    for bad in ["0ms", "0s", "5 parsecs", "ms"] {
        vouch()
            .args(["probe", "tls", "127.0.0.1:1", "--timeout", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--timeout"));
    }
    vouch()
        .args(["probe", "--facts", "tls", "--timeout", "1s500ms"])
        .assert()
        .success();
}

#[test]
fn verify_accepts_the_listed_manifest_sidecars_and_nothing_else() {
    let dir = personnel_estate();
    let out = vouch()
        .current_dir(dir.path())
        .args([
            "check",
            "--controls",
            "builtin:personnel",
            "--controls",
            "overrides.toml",
            "--format",
            "json",
            "--evidence-dir",
            "bundle",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = dir.path().join("bundle");
    let verify = || {
        let mut cmd = vouch();
        cmd.args(["verify", "--allow-unsigned"]).arg(&bundle);
        cmd
    };
    verify().assert().success();
    std::fs::write(bundle.join("MANIFEST.sigstore.json"), "{}").unwrap();
    std::fs::write(bundle.join("MANIFEST.tsr"), [0x30, 0x03, 0x02, 0x01, 0x00]).unwrap();
    verify()
        .assert()
        .success()
        .stdout(predicate::str::contains("sidecar: MANIFEST.sigstore.json"))
        .stdout(predicate::str::contains("sidecar: MANIFEST.tsr"));
    std::fs::write(bundle.join("MANIFEST.bak"), "x").unwrap();
    verify()
        .assert()
        .code(1)
        .stderr(predicate::str::contains("extra: MANIFEST.bak"));
    std::fs::remove_file(bundle.join("MANIFEST.bak")).unwrap();
    std::fs::remove_file(bundle.join("MANIFEST.tsr")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/hostname", bundle.join("MANIFEST.tsr")).unwrap();
        verify().assert().code(1).stderr(predicate::str::contains(
            "MANIFEST.tsr is not a regular file",
        ));
    }
}

// ---- HSTS preload list fetched out of the box --------------------------------------------------

/// A loopback HTTP/1.1 server: `/list.json` (counted), `/corrupt.json`, anything else a page.
struct ListServer {
    port: u16,
    list_hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

const PRELOAD_LIST: &str = "// Chromium's file has comment lines like this one.\n{\n  \"entries\": [\n    { \"name\": \"listed.test\", \"policy\": \"custom\", \"mode\": \"force-https\", \"include_subdomains\": true }\n  ]\n}\n";

fn list_server() -> ListServer {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let mut req = Vec::new();
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let body = match path.as_str() {
                "/list.json" => {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    PRELOAD_LIST.to_string()
                }
                "/corrupt.json" => PRELOAD_LIST[..PRELOAD_LIST.len() / 2].to_string(),
                _ => "hello".to_string(),
            };
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    ListServer {
        port,
        list_hits: hits,
    }
}

fn probe_with_list(cache: &Path, dir: &Path, port: u16, list_url: &str) -> serde_json::Value {
    let inv = dir.join("vouch.toml");
    std::fs::write(
        &inv,
        format!(
            "[resolve]\n\"listed.test:{port}\" = \"127.0.0.1:{port}\"\n\n[http]\npreload_list_url = \"{list_url}\"\n"
        ),
    )
    .unwrap();
    let out = vouch()
        .env("XDG_CACHE_HOME", cache)
        .args([
            "probe",
            "http",
            &format!("http://listed.test:{port}/"),
            "--format",
            "json",
            "--inventory",
        ])
        .arg(&inv)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn the_preload_list_is_fetched_once_a_day_into_the_cache_with_its_provenance() {
    use sha2::Digest;
    let server = list_server();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let url = format!("http://127.0.0.1:{}/list.json", server.port);
    let first = probe_with_list(&cache, dir.path(), server.port, &url);
    assert_eq!(first["facts"]["preload.listed"], true, "{first}");
    assert_eq!(first["facts"]["preload.matched_entry"], "listed.test");
    let sha = hex::encode(sha2::Sha256::digest(PRELOAD_LIST.as_bytes()));
    assert_eq!(first["facts"]["preload.list_sha256"], sha.as_str());
    let ev = &first["evidence"]["preload.list"];
    assert_eq!(ev["source"], url.as_str());
    assert_eq!(ev["sha256"], sha.as_str());
    let fetched_at: jiff::Timestamp = ev["fetched_at"].as_str().unwrap().parse().unwrap();
    assert!(jiff::Timestamp::now().duration_since(fetched_at).as_secs() < 60);
    assert!(
        ev["path"]
            .as_str()
            .unwrap()
            .starts_with(cache.join("vouch").to_str().unwrap())
    );
    assert_eq!(
        server.list_hits.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    // Within the day: the cached copy, not a second download.
    let second = probe_with_list(&cache, dir.path(), server.port, &url);
    assert_eq!(second["facts"]["preload.listed"], true);
    assert_eq!(
        second["evidence"]["preload.list"]["fetched_at"],
        ev["fetched_at"]
    );
    assert_eq!(
        server.list_hits.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    // A day old: fetched again.
    let meta = std::fs::read_dir(cache.join("vouch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".meta.json"))
        .unwrap();
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(25);
    m["fetched_at"] = serde_json::json!(old.to_string());
    std::fs::write(&meta, serde_json::to_vec(&m).unwrap()).unwrap();
    let third = probe_with_list(&cache, dir.path(), server.port, &url);
    assert_eq!(third["facts"]["preload.listed"], true);
    assert_eq!(
        server.list_hits.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}

#[test]
fn a_corrupt_or_unreachable_preload_list_is_an_error_never_not_listed() {
    let server = list_server();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let corrupt = format!("http://127.0.0.1:{}/corrupt.json", server.port);
    let obs = probe_with_list(&cache, dir.path(), server.port, &corrupt);
    assert!(obs["facts"].get("preload.listed").is_none(), "{obs}");
    let why = obs["unobserved"]["preload.listed"].as_str().unwrap();
    assert!(why.contains("not usable"), "{why}");
    let cached: Vec<_> = std::fs::read_dir(cache.join("vouch"))
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(
        cached.is_empty(),
        "a corrupt download is not cached: {cached:?}"
    );
    // Offline: nothing listens at the list's address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = closed.local_addr().unwrap().port();
    drop(closed);
    let offline = format!("http://127.0.0.1:{gone}/list.json");
    let obs = probe_with_list(&cache, dir.path(), server.port, &offline);
    let why = obs["unobserved"]["preload.listed"].as_str().unwrap();
    assert!(why.contains("cannot fetch the preload list"), "{why}");
    assert!(
        why.contains("--preload-list") && why.contains("[http] preload_list"),
        "{why}"
    );
}

// ---- VOUCH_* variables -----------------------------------------------------------------------

#[test]
fn every_flag_of_a_run_has_its_vouch_variable() {
    use clap::CommandFactory;
    let root = vouch::cli::Cli::command();
    let want = |long: &str| format!("VOUCH_{}", long.to_ascii_uppercase().replace('-', "_"));
    let mut checked = 0;
    let check = root.find_subcommand("check").unwrap().clone();
    for cmd in [&root, &check] {
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            // --help/--version are clap's; -v counts (VOUCH_LOG sets the log filter instead).
            if matches!(long, "help" | "version" | "verbose") {
                continue;
            }
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            assert_eq!(env, Some(want(long)), "--{long} of `{}`", cmd.get_name());
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} flags checked");
    // The shared inventory flags read the same variables in `vouch probe`.
    let probe = root.find_subcommand("probe").unwrap();
    let inv = probe
        .get_arguments()
        .find(|a| a.get_long() == Some("inventory"))
        .unwrap();
    assert_eq!(inv.get_env().unwrap(), "VOUCH_INVENTORY");
    // And --help lists them.
    vouch()
        .args(["check", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("VOUCH_FAIL_ON"))
        .stdout(predicate::str::contains("VOUCH_TIMEOUT"));
}

#[test]
fn a_vouch_variable_does_what_its_flag_does() {
    let dir = personnel_estate();
    let out = vouch()
        .current_dir(dir.path())
        .env("VOUCH_FORMAT", "csv")
        .env("VOUCH_CONTROLS", "builtin:personnel")
        .env("VOUCH_ONLY", "PEOPLE-ACCESS-REVIEW")
        .output()
        .unwrap();
    // no subcommand: usage error, nothing run
    assert_eq!(out.status.code(), Some(2));
    let out = vouch()
        .current_dir(dir.path())
        .env("VOUCH_FORMAT", "csv")
        .env("VOUCH_CONTROLS", "builtin:personnel")
        .env("VOUCH_ONLY", "PEOPLE-ACCESS-REVIEW")
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.lines().next().unwrap().contains(','), "{csv}");
    assert_eq!(
        csv.lines().filter(|l| l.contains("PEOPLE-")).count(),
        1,
        "{csv}"
    );
    // A flag on the command line wins over its variable.
    vouch()
        .current_dir(dir.path())
        .env("VOUCH_FORMAT", "csv")
        .args([
            "check",
            "--controls",
            "builtin:personnel",
            "--format",
            "json",
        ])
        .assert()
        .stdout(predicate::str::starts_with("{"));
}
