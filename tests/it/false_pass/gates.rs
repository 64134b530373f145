//! Gates, populations, time, waivers, TLS lists, the account pin and signals (issue #12 items
//! 1-5 and 7-9). Each case: a small estate, the verdict and exit code it must earn, and the wrong
//! answer it prevents.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::json;
use vouch::exit;

use super::{Estate, attestation, day, refused_port, result, run, silent_server};
use crate::support::{require, vouch};

const PENTEST: &str = r#"
[[control]]
id = "PENTEST"
title = "Annual penetration test"
severity = "high"
probe = "attestation"
targets = ["pentest"]
expect = [{ fact = "age_days", op = "<=", value = 365 }]
"#;

fn inventory(estate: &Estate, extra: &str) {
    estate.write(
        "vouch.toml",
        &format!("attestations = \"attestations.toml\"\n{extra}"),
    );
}

fn waiver(estate: &Estate, expires: jiff::civil::Date, extra: &str) {
    estate.write(
        "waivers.toml",
        &format!(
            "[[waiver]]\ncontrol = \"{}\"\nreason = \"accepted\"\nowner = \"sec\"\n\
             approved_by = \"CISO\"\nexpires = {expires}\n{extra}",
            if extra.contains("TLS") {
                "TLS"
            } else {
                "PENTEST"
            }
        ),
    );
}

/// A loopback "AWS" that denies every call (403 AccessDenied), like an account whose role lacks
/// s3:ListAllMyBuckets and sts:GetCallerIdentity.
fn deny_all_aws() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head and as much body as Content-Length says.
                loop {
                    let Ok(n) = s.read(&mut chunk) else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
                            <Message>Access Denied</Message><RequestId>1</RequestId></Error>";
                let _ = write!(
                    s,
                    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

#[test]
fn fail_on_new_fails_when_a_denied_discovery_makes_every_bucket_disappear() {
    // Prevents: `--fail-on-new` exiting 0 when ListBuckets is denied and every bucket the
    // baseline had silently becomes "removed".
    let estate = Estate::new();
    estate.write(
        "controls.toml",
        r#"
[[control]]
id = "S3-VERSIONING"
title = "Buckets keep versions"
severity = "high"
probe = "aws.s3"
targets = ["*"]
expect = [{ fact = "versioning.status", op = "==", value = "Enabled" }]
"#,
    );
    estate.write(
        "vouch.toml",
        &format!(
            "[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\n",
            deny_all_aws()
        ),
    );
    let (code, now, _) = run(&mut estate.check(&[]));
    assert_eq!(code, i32::from(exit::UNOBSERVED));
    assert_eq!(result(&now, "S3-VERSIONING", "*")["verdict"], "error");

    // The baseline: the same control passed on two buckets.
    let mut base = now.clone();
    let row = |t: &str| json!({"target": t, "verdict": "pass", "observation": null, "checks": [], "error": null});
    base["controls"][0]["results"] = json!([row("logs"), row("backups")]);
    base["controls"][0]["verdict"] = json!("pass");
    estate.write("baseline.json", &base.to_string());
    let (code, _, stderr) =
        run(&mut estate.check(&["--baseline", "baseline.json", "--fail-on-new"]));
    assert_eq!(code, i32::from(exit::FAILED), "{stderr}");
    assert!(stderr.contains("S3-VERSIONING on logs"), "{stderr}");
    assert!(stderr.contains("disappeared"), "{stderr}");
    assert!(stderr.contains("a new target that is error"), "{stderr}");

    // Nothing regressed against an identical baseline, but the run still has an error: exit 3.
    // Prevents: `--fail-on-new` exiting 0 on a run that observed nothing.
    estate.write("same.json", &now.to_string());
    let (code, _, stderr) = run(&mut estate.check(&["--baseline", "same.json", "--fail-on-new"]));
    assert_eq!(code, i32::from(exit::UNOBSERVED), "{stderr}");
}

#[test]
fn fail_on_new_counts_an_expired_waiver_and_n_a_to_fail() {
    // Prevents: a waiver that expires (waived → fail) or a target that comes into scope and
    // fails (n/a → fail) passing `--fail-on-new` as "not a regression".
    let estate = Estate::new();
    estate.write("controls.toml", PENTEST);
    inventory(&estate, "");
    attestation(&estate, "pentest", day(-500), "CISO");
    waiver(&estate, day(30), "");
    let (code, old, stderr) = run(&mut estate.check(&["--waivers", "waivers.toml"]));
    assert_eq!(code, i32::from(exit::PASS), "{stderr}");
    assert_eq!(result(&old, "PENTEST", "pentest")["verdict"], "waived");
    estate.write("old.json", &old.to_string());

    waiver(&estate, day(-1), "");
    let (code, new, stderr) = run(&mut estate.check(&[
        "--waivers",
        "waivers.toml",
        "--baseline",
        "old.json",
        "--fail-on-new",
    ]));
    assert_eq!(result(&new, "PENTEST", "pentest")["verdict"], "fail");
    assert_eq!(code, i32::from(exit::FAILED), "{stderr}");
    assert!(stderr.contains("waived in the baseline"), "{stderr}");
    // And without a baseline, an expired waiver is simply a failure.
    let (code, _, _) = run(&mut estate.check(&["--waivers", "waivers.toml"]));
    assert_eq!(code, i32::from(exit::FAILED));

    // n/a → fail: the attestation comes into the control's scope, and is too old.
    let scoped = PENTEST.replace(
        "expect =",
        "where = [{ fact = \"attested_by\", op = \"==\", value = \"CISO\" }]\nexpect =",
    );
    estate.write("controls.toml", &scoped);
    attestation(&estate, "pentest", day(-500), "CTO");
    let (code, old, stderr) = run(&mut estate.check(&[]));
    assert_eq!(result(&old, "PENTEST", "pentest")["verdict"], "n/a");
    // An n/a that comes from the control's own `where` examined something: not exit 3.
    assert_eq!(code, i32::from(exit::PASS), "{stderr}");
    estate.write("old.json", &old.to_string());
    attestation(&estate, "pentest", day(-500), "CISO");
    let (code, _, stderr) = run(&mut estate.check(&["--baseline", "old.json", "--fail-on-new"]));
    assert_eq!(code, i32::from(exit::FAILED), "{stderr}");
    assert!(stderr.contains("n/a in the baseline"), "{stderr}");
}

fn moto_url() -> String {
    require(
        std::env::var("VOUCH_TEST_MOTO_URL").ok(),
        "moto's server (VOUCH_TEST_MOTO_URL)",
        "source scripts/setup.d/30-moto.sh",
    )
}

/// KMS in a region no other test uses: moto starts every region empty. Named in `[aws] regions`
/// too (unset, `*` would cover every enabled region, where other tests' keys live).
const EMPTY_REGION: &str = "eu-south-2";

const ALL_KEYS: &str = r#"
[[control]]
id = "KMS-ROTATION"
title = "Keys rotate"
severity = "high"
probe = "aws.kms"
targets = ["*"]
expect = [{ fact = "rotation.enabled", op = "==", value = true }]
"#;

#[test]
fn an_empty_star_population_is_not_green() {
    // Prevents: a `*` control that found no key at all (wrong region, empty account) reporting
    // all-n/a with exit 0, as if every key rotated.
    let estate = Estate::new();
    estate.write(
        "vouch.toml",
        &format!(
            "[aws]\nregion = \"{EMPTY_REGION}\"\nregions = [\"{EMPTY_REGION}\"]\nendpoint_url = \"{}\"\n",
            moto_url()
        ),
    );
    estate.write("controls.toml", ALL_KEYS);
    let (code, report, stderr) = run(&mut estate.check(&[]));
    assert_eq!(
        result(&report, "KMS-ROTATION", "*")["verdict"],
        "n/a",
        "{stderr}"
    );
    assert_eq!(report["controls"][0]["examined_nothing"], true);
    assert_eq!(code, i32::from(exit::UNOBSERVED), "{stderr}");
    assert!(stderr.contains("KMS-ROTATION examined nothing"), "{stderr}");

    // Said explicitly, an empty population is acceptable.
    for opt in ["allow_empty = true", "min_population = 0"] {
        estate.write(
            "controls.toml",
            &ALL_KEYS.replace("targets = [\"*\"]", &format!("targets = [\"*\"]\n{opt}")),
        );
        let (code, report, stderr) = run(&mut estate.check(&[]));
        assert_eq!(code, i32::from(exit::PASS), "{opt}: {stderr}");
        assert!(report["controls"][0].get("examined_nothing").is_none());
    }
    // With an explicit minimum, too few is a failure.
    estate.write(
        "controls.toml",
        &ALL_KEYS.replace("targets = [\"*\"]", "targets = [\"*\"]\nmin_population = 1"),
    );
    let (code, report, _) = run(&mut estate.check(&[]));
    assert_eq!(result(&report, "KMS-ROTATION", "*")["verdict"], "fail");
    assert_eq!(code, i32::from(exit::FAILED));
}

#[test]
fn a_foreign_account_pin_makes_every_aws_result_an_error() {
    // Prevents: credentials for the wrong account (moto is 123456789012) producing a clean
    // report about an empty or foreign estate.
    let estate = Estate::new();
    estate.write("controls.toml", ALL_KEYS);
    let inv = |pin: &str| {
        estate.write(
            "vouch.toml",
            &format!(
                "[aws]\nregion = \"{EMPTY_REGION}\"\nregions = [\"{EMPTY_REGION}\"]\nendpoint_url = \"{}\"\naccount_id = {pin}\n",
                moto_url()
            ),
        );
    };
    inv("\"111111111111\"");
    let (code, report, stderr) = run(&mut estate.check(&["--only", "KMS-ROTATION"]));
    let row = result(&report, "KMS-ROTATION", "*");
    assert_eq!(row["verdict"], "error", "{stderr}");
    let why = row["error"].as_str().unwrap();
    assert!(
        why.contains("credentials are for account 123456789012, inventory expects 111111111111"),
        "{why}"
    );
    assert_eq!(code, i32::from(exit::UNOBSERVED));

    // The right account (in a list) is examined as usual.
    inv("[\"222222222222\", \"123456789012\"]");
    let (_, report, stderr) = run(&mut estate.check(&[]));
    let row = result(&report, "KMS-ROTATION", "*");
    assert_ne!(row["verdict"], "error", "{stderr}");

    // A malformed pin is a load error naming the place.
    inv("\"12345\"");
    let (code, _, stderr) = run(&mut estate.check(&[]));
    assert_eq!(code, i32::from(exit::INVALID));
    assert!(stderr.contains("12-digit"), "{stderr}");
}

#[test]
fn a_mistyped_group_warns_and_strict_exits_2() {
    // Prevents: a typo in vouch.toml (`public_endpoint`) turning a built-in control into a
    // silent n/a that nobody notices.
    let estate = Estate::new();
    estate.write(
        "vouch.toml",
        &format!(
            "[targets]\npublic_endpoint = [\"127.0.0.1:{}\"]\n",
            refused_port()
        ),
    );
    let check = |strict: bool| {
        let mut cmd = vouch();
        cmd.current_dir(estate.dir.path()).args([
            "check",
            "--inventory",
            "vouch.toml",
            "--only",
            "ENC-TRANSIT-TLS12",
            "--format",
            "json",
        ]);
        if strict {
            cmd.arg("--strict");
        }
        run(&mut cmd)
    };
    let (_, report, stderr) = check(false);
    assert!(
        stderr.contains("warning: the inventory defines no target group `public_endpoints`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `public_endpoint`?"),
        "{stderr}"
    );
    let warnings = report["run"]["warnings"].as_array().expect("run.warnings");
    assert!(warnings[0].as_str().unwrap().contains("public_endpoints"));

    let (code, report, stderr) = check(true);
    assert_eq!(code, i32::from(exit::INVALID), "{stderr}");
    assert!(stderr.contains("public_endpoints"), "{stderr}");
    assert!(
        report.is_null(),
        "nothing runs under --strict with a warning"
    );
}

#[test]
fn the_human_formats_show_the_warnings_not_only_stderr() {
    // Prevents: a table, Markdown or HTML report read on its own (a CI artifact, a PR comment)
    // looking green while the run warned that a control's group is undefined.
    let estate = Estate::new();
    estate.write(
        "vouch.toml",
        &format!(
            "[targets]\npublic_endpoint = [\"127.0.0.1:{}\"]\n",
            refused_port()
        ),
    );
    for (format, prefix) in [
        ("table", "warning: "),
        ("markdown", "> **Warning:** "),
        ("html", "<strong>Warning:</strong> "),
    ] {
        let out = vouch()
            .current_dir(estate.dir.path())
            .args([
                "check",
                "--inventory",
                "vouch.toml",
                "--only",
                "ENC-TRANSIT-TLS12",
                "--format",
                format,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!(
                "{prefix}the inventory defines no target group `public_endpoints`"
            )),
            "{format}: {text}"
        );
    }
}

#[test]
fn where_keeps_an_untagged_resource_in_scope() {
    // Prevents: `where = algorithm != "AES256"` (or `not in`) dropping a bucket with no
    // encryption at all out of scope, so it is never judged.
    use vouch::control::{Source, load_controls};
    use vouch::diag::Diagnostics;
    use vouch::probe::{Observation, Registry};
    let registry = Registry::builtin();
    for scope in [
        r#"{ fact = "encryption.algorithm", op = "!=", value = "AES256" }"#,
        r#"{ fact = "encryption.algorithm", op = "not in", value = ["AES256"] }"#,
    ] {
        let text = format!(
            "[[control]]\nid = \"KMS-ENC\"\ntitle = \"t\"\nseverity = \"high\"\nprobe = \"aws.s3\"\n\
             targets = [\"*\"]\nwhere = [{scope}]\n\
             expect = [{{ fact = \"encryption.enabled\", op = \"==\", value = true }}]\n"
        );
        let mut diags = Diagnostics::new();
        let source = Source::Text {
            name: "inline.toml".into(),
            text,
        };
        let controls = load_controls(&[source], &registry, None, &mut diags);
        assert!(!diags.has_errors(), "{}", diags.render_short());
        let mut obs = Observation::new("aws.s3", "plain-bucket");
        obs.fact("encryption.algorithm", serde_json::Value::Null)
            .fact("encryption.enabled", false);
        let r = vouch::engine::evaluate(&controls[0], &obs, None, jiff::Timestamp::now());
        assert_eq!(r.verdict, vouch::expect::Verdict::Fail, "{scope}: {r:?}");
    }
}

#[test]
fn a_future_dated_attestation_is_a_load_error() {
    // Prevents: `performed_on` next month giving a negative age that passes `age_days <= 365`.
    let estate = Estate::new();
    estate.write("controls.toml", PENTEST);
    inventory(&estate, "");
    attestation(&estate, "pentest", day(30), "CISO");
    let (code, report, stderr) = run(&mut estate.check(&[]));
    assert_eq!(code, i32::from(exit::INVALID), "{stderr}");
    assert!(report.is_null());
    assert!(stderr.contains("attestations.toml:4:"), "{stderr}");
    assert!(stderr.contains("is in the future"), "{stderr}");
    // Today is fine.
    attestation(&estate, "pentest", day(0), "CISO");
    let (code, _, stderr) = run(&mut estate.check(&[]));
    assert_eq!(code, i32::from(exit::PASS), "{stderr}");
}

#[test]
fn within_on_a_future_time_is_an_error_and_durations_never_wrap() {
    use std::collections::BTreeMap;
    use vouch::expect::{Expectation, Op, Verdict};
    use vouch::probe::FactType;
    let now = jiff::Timestamp::now();
    let within = |ty: FactType, limit: &str, observed: serde_json::Value| {
        let e = Expectation::new(
            "f",
            ty,
            Op::Within,
            Some(&toml::Value::String(limit.into())),
        )
        .unwrap();
        let facts = BTreeMap::from([("f".to_string(), observed)]);
        e.evaluate(&facts, &BTreeMap::new(), now)
    };
    // Prevents: a timestamp an hour ahead (clock skew, bad data) passing `within 90d`.
    let ahead = now + jiff::SignedDuration::from_hours(1);
    let c = within(FactType::Timestamp, "90d", json!(ahead.to_string()));
    assert_eq!(c.verdict, Verdict::Error);
    assert!(c.message.unwrap().contains("observed in the future"));
    // A date next week too; a timestamp two minutes ahead is skew and still passes.
    let next_week = day(7).to_string();
    assert_eq!(
        within(FactType::Date, "90d", json!(next_week)).verdict,
        Verdict::Error
    );
    let skew = now + jiff::SignedDuration::from_mins(2);
    assert_eq!(
        within(FactType::Timestamp, "90d", json!(skew.to_string())).verdict,
        Verdict::Pass
    );
    // Prevents: a duration above i64::MAX seconds wrapping negative and passing `within 1h`.
    let huge = json!(10_000_000_000_000_000_000u64);
    assert_eq!(
        within(FactType::Duration, "1h", huge).verdict,
        Verdict::Fail
    );
    // And an empty `in` list is refused at load: it could never be meant.
    let empty = Expectation::new(
        "f",
        FactType::String,
        Op::NotIn,
        Some(&toml::Value::Array(vec![])),
    );
    assert!(empty.is_err());
}

fn tls_control(target: &str, expect: &str) -> String {
    format!(
        "[[control]]\nid = \"TLS\"\ntitle = \"Only TLS 1.2+\"\nseverity = \"high\"\nprobe = \"tls\"\n\
         targets = [\"{target}\"]\nexpect = [{expect}]\n"
    )
}

#[test]
fn a_waiver_without_verdicts_leaves_an_error_an_error() {
    // Prevents: a waiver written for a failing control hiding that the target could not be
    // reached at all.
    let estate = Estate::new();
    let target = format!("127.0.0.1:{}", refused_port());
    estate.write(
        "controls.toml",
        &tls_control(
            &target,
            r#"{ fact = "protocols.lowest", op = ">=", value = "TLSv1.2" }"#,
        ),
    );
    inventory(&estate, "");
    waiver(&estate, day(30), "# TLS\n");
    let (code, report, stderr) = run(&mut estate.check(&["--waivers", "waivers.toml"]));
    assert_eq!(
        result(&report, "TLS", &target)["verdict"],
        "error",
        "{stderr}"
    );
    assert_eq!(code, i32::from(exit::UNOBSERVED));
    assert!(stderr.contains("covers no failing result"), "{stderr}");

    // Opting in to errors waives it.
    waiver(
        &estate,
        day(30),
        "# TLS\nverdicts = [\"fail\", \"error\"]\n",
    );
    let (code, report, stderr) = run(&mut estate.check(&["--waivers", "waivers.toml"]));
    assert_eq!(
        result(&report, "TLS", &target)["verdict"],
        "waived",
        "{stderr}"
    );
    assert_eq!(code, i32::from(exit::PASS));
}

#[test]
fn a_waiver_does_not_cover_a_denied_discovery_unless_it_names_it() {
    // Prevents: a blanket waiver (no targets, errors opted in) hiding that discovery itself was
    // denied, so not one bucket was examined.
    let estate = Estate::new();
    estate.write(
        "controls.toml",
        r#"
[[control]]
id = "S3-VERSIONING"
title = "Buckets keep versions"
severity = "high"
probe = "aws.s3"
targets = ["*"]
expect = [{ fact = "versioning.status", op = "==", value = "Enabled" }]
"#,
    );
    estate.write(
        "vouch.toml",
        &format!(
            "[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\n",
            deny_all_aws()
        ),
    );
    let w = |targets: &str| {
        estate.write(
            "waivers.toml",
            &format!(
                "[[waiver]]\ncontrol = \"S3-VERSIONING\"\n{targets}reason = \"r\"\nowner = \"o\"\n\
                 approved_by = \"CISO\"\nexpires = {}\nverdicts = [\"fail\", \"error\"]\n",
                day(30)
            ),
        );
    };
    w("");
    let (code, report, _) = run(&mut estate.check(&["--waivers", "waivers.toml"]));
    assert_eq!(result(&report, "S3-VERSIONING", "*")["verdict"], "error");
    assert_eq!(result(&report, "S3-VERSIONING", "*")["engine"], "discovery");
    assert_eq!(code, i32::from(exit::UNOBSERVED));
    w("targets = [\"*\"]\n");
    let (code, report, _) = run(&mut estate.check(&["--waivers", "waivers.toml"]));
    assert_eq!(result(&report, "S3-VERSIONING", "*")["verdict"], "waived");
    assert_eq!(code, i32::from(exit::PASS));
}

#[test]
fn a_tls10_timeout_under_not_in_is_an_error() {
    // Prevents: `protocols.accepted not in [SSLv3, TLSv1.0, TLSv1.1]` passing on a server that
    // never answered the TLS 1.0 hello (the accepted list was merely incomplete).
    let estate = Estate::new();
    let target = silent_server().to_string();
    estate.write(
        "controls.toml",
        &tls_control(
            &target,
            r#"{ fact = "protocols.accepted", op = "not in", value = ["SSLv3", "TLSv1.0", "TLSv1.1"] }"#,
        ),
    );
    inventory(&estate, "");
    let (code, report, stderr) = run(&mut estate.check(&["--timeout", "3s"]));
    let row = result(&report, "TLS", &target);
    assert_eq!(row["verdict"], "error", "{stderr}");
    assert!(
        row["checks"][0]["message"]
            .as_str()
            .unwrap()
            .contains("inconclusive"),
        "{row}"
    );
    assert_eq!(code, i32::from(exit::UNOBSERVED));
}

/// Starts `vouch check` in `estate`, writing the JSON report to report.json, and sends it
/// SIGTERM after `after`; returns the exit code and the report.
fn terminated(estate: &Estate, after: Duration) -> (Option<i32>, serde_json::Value) {
    let stopped = signalled(estate, &[], &[("TERM", after)]);
    let report = std::fs::read(estate.path("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (stopped.code, report)
}

/// How a signalled run ended.
struct Stopped {
    code: Option<i32>,
    /// From the last signal to the exit.
    after_last: Duration,
    stderr: String,
}

/// Starts `vouch check` in `estate` (JSON report to report.json, `extra` arguments, stderr to
/// stderr.txt) and sends it each `(signal, delay)` in turn; before each signal the run must still
/// be going. Waits at most 20 s after the last signal.
fn signalled(estate: &Estate, extra: &[&str], signals: &[(&str, Duration)]) -> Stopped {
    let stderr = std::fs::File::create(estate.path("stderr.txt")).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("vouch"))
        .current_dir(estate.dir.path())
        .args([
            "check",
            "--controls",
            "controls.toml",
            "--inventory",
            "vouch.toml",
            "--format",
            "json",
            "--output",
            "report.json",
            "--timeout",
            "60s",
        ])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    for (signal, delay) in signals {
        std::thread::sleep(*delay);
        if let Some(s) = child.try_wait().unwrap() {
            panic!(
                "vouch ended ({s}) before SIG{signal}: {}",
                std::fs::read_to_string(estate.path("stderr.txt")).unwrap_or_default()
            );
        }
        let killed = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
    }
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("vouch did not stop within 20s of its last signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Stopped {
        code: status.code(),
        after_last: start.elapsed(),
        stderr: std::fs::read_to_string(estate.path("stderr.txt")).unwrap_or_default(),
    }
}

#[test]
fn sigterm_mid_run_writes_an_incomplete_report_and_exits_3() {
    // Prevents: a CI runner or pod being stopped killing vouch with no report at all, or a
    // report that looks complete.
    let estate = Estate::new();
    let target = silent_server().to_string();
    estate.write(
        "controls.toml",
        &tls_control(
            &target,
            r#"{ fact = "protocols.lowest", op = ">=", value = "TLSv1.2" }"#,
        ),
    );
    inventory(&estate, "");
    let (code, report) = terminated(&estate, Duration::from_millis(1500));
    assert_eq!(code, Some(i32::from(exit::UNOBSERVED)), "{report}");
    assert_eq!(report["run"]["complete"], false);
    let row = result(&report, "TLS", &target);
    assert_eq!(row["verdict"], "error");
    assert!(row["error"].as_str().unwrap().contains("interrupted"));

    // During discovery (the handler is installed before it): an AWS endpoint that never answers.
    estate.write(
        "controls.toml",
        r#"
[[control]]
id = "S3-VERSIONING"
title = "Buckets keep versions"
severity = "high"
probe = "aws.s3"
targets = ["*"]
expect = [{ fact = "versioning.status", op = "==", value = "Enabled" }]
"#,
    );
    estate.write(
        "vouch.toml",
        &format!(
            "[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"http://{}\"\n",
            silent_server()
        ),
    );
    let _ = std::fs::remove_file(estate.path("report.json"));
    let (code, report) = terminated(&estate, Duration::from_millis(1500));
    assert_eq!(code, Some(i32::from(exit::UNOBSERVED)), "{report}");
    assert_eq!(report["run"]["complete"], false);
    let row = result(&report, "S3-VERSIONING", "*");
    assert_eq!(row["verdict"], "error");
    assert_eq!(row["engine"], "interrupted");
}

#[test]
fn a_second_signal_during_shutdown_exits_at_once() {
    // Prevents: an operator's second Ctrl-C (or a runner's second SIGTERM) being swallowed while
    // the interrupted run is still shutting down, here waiting up to 30 s on a time-stamp
    // authority that accepts and never answers, so the job is only ever stopped by SIGKILL.
    for (first, second) in [("TERM", "TERM"), ("INT", "INT"), ("INT", "TERM")] {
        let estate = Estate::new();
        let target = silent_server().to_string();
        estate.write(
            "controls.toml",
            &tls_control(
                &target,
                r#"{ fact = "protocols.lowest", op = ">=", value = "TLSv1.2" }"#,
            ),
        );
        inventory(&estate, "");
        let tsa = format!("http://{}/", silent_server());
        let stopped = signalled(
            &estate,
            &["--evidence-dir", "evidence", "--timestamp-url", &tsa],
            // The first signal mid-observation; the second once the bundle is written and the
            // run waits on the authority (the `signalled` helper checks it is still running).
            &[
                (first, Duration::from_millis(1500)),
                (second, Duration::from_millis(2000)),
            ],
        );
        let sig = format!("SIG{first}: writing what was observed");
        assert!(stopped.stderr.contains(&sig), "{}", stopped.stderr);
        assert!(
            stopped.stderr.contains("second signal: stopping at once"),
            "SIG{first} then SIG{second}: {}",
            stopped.stderr
        );
        assert!(
            stopped.after_last < Duration::from_secs(5),
            "SIG{first} then SIG{second}: still running {:?} after the second signal",
            stopped.after_last
        );
        assert_eq!(stopped.code, Some(i32::from(exit::UNOBSERVED)));
        // The bundle was written before the second signal; the wait was the authority's.
        assert!(estate.path("evidence/MANIFEST").is_file());
    }
}

#[test]
fn stale_evidence_is_an_error_on_replay_now() {
    // Prevents: a replay judged today passing on evidence older than the control's `max_age`.
    let estate = Estate::new();
    estate.write(
        "controls.toml",
        &PENTEST.replace("targets =", "max_age = \"1s\"\ntargets ="),
    );
    inventory(&estate, "");
    attestation(&estate, "pentest", day(-10), "CISO");
    let (code, report, stderr) = run(&mut estate.check(&["--evidence-dir", "bundle"]));
    assert_eq!(code, i32::from(exit::PASS), "{stderr}");
    assert_eq!(result(&report, "PENTEST", "pentest")["verdict"], "pass");
    std::thread::sleep(Duration::from_millis(2100));
    // At the original run's time the evidence was fresh; judged now, it is stale.
    let mut replay = vouch();
    replay.current_dir(estate.dir.path()).args([
        "check",
        "--allow-unsigned",
        "--from-evidence",
        "bundle",
        "--format",
        "json",
    ]);
    let (code, report, stderr) = run(&mut replay);
    assert_eq!(code, i32::from(exit::PASS), "{stderr}");
    assert_eq!(result(&report, "PENTEST", "pentest")["verdict"], "pass");
    replay.args(["--replay-at", "now"]);
    let (code, report, stderr) = run(&mut replay);
    let row = result(&report, "PENTEST", "pentest");
    assert_eq!(row["verdict"], "error", "{stderr}");
    assert!(
        row["error"].as_str().unwrap().contains("evidence stale"),
        "{row}"
    );
    assert_eq!(code, i32::from(exit::UNOBSERVED));
}

#[test]
fn n_a_is_never_satisfied_and_never_evidences_a_criterion() {
    // Prevents: OSCAL calling an all-n/a control "satisfied", and per-run coverage counting a
    // criterion as evidenced when its only control examined nothing.
    let estate = Estate::new();
    let scoped = PENTEST
        .replace(
            "expect =",
            "where = [{ fact = \"attested_by\", op = \"==\", value = \"CISO\" }]\nexpect =",
        )
        .replace("probe =", "frameworks = { soc2 = [\"CC4.1\"] }\nprobe =");
    estate.write("controls.toml", &scoped);
    inventory(&estate, "");
    attestation(&estate, "pentest", day(-10), "CTO");
    let (code, report, stderr) = run(&mut estate.check(&[]));
    assert_eq!(code, i32::from(exit::PASS), "{stderr}");
    assert_eq!(report["controls"][0]["verdict"], "n/a");
    let soc2 = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["framework"] == "soc2")
        .expect("soc2 coverage");
    let crit = soc2["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "CC4.1")
        .expect("CC4.1");
    assert_eq!(crit["evidenced"], false, "{crit}");
    assert_eq!(soc2["summary"]["evidenced"], 0);

    let mut cmd = vouch();
    cmd.current_dir(estate.dir.path()).args([
        "check",
        "--controls",
        "controls.toml",
        "--inventory",
        "vouch.toml",
        "--format",
        "oscal",
    ]);
    let (_, oscal, _) = run(&mut cmd);
    let findings = oscal["assessment-results"]["results"][0]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings: {oscal}"));
    let states: Vec<&str> = findings
        .iter()
        .map(|f| f["target"]["status"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["not-satisfied"]);

    // A pass evidences it.
    attestation(&estate, "pentest", day(-10), "CISO");
    let (_, report, _) = run(&mut estate.check(&[]));
    let soc2 = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["framework"] == "soc2")
        .unwrap();
    assert_eq!(soc2["summary"]["evidenced"], 1);
}
