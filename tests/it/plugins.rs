//! External probes (`probe = "plugin:NAME"`, docs/plugins.md): the runner's fail-closed rules
//! against real misbehaving executables, load-time checking against the declaration, replay
//! without the plugin, and the two example plugins against loopback servers (BIND serving signed
//! zones; a PagerDuty-style schedule API stand-in).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{repo, require, spawn_on_free_port, verdicts, vouch};

const BOOL_FACT: &str = r#"{"name":"ok","type":"bool","description":"all is well"}"#;

/// Writes an executable `/bin/sh` plugin declaring `facts` whose `observe` runs `observe`.
fn plugin(dir: &Path, name: &str, facts: &str, observe: &str) -> PathBuf {
    let path = dir.join(name);
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\ndescribe) cat <<'EOF'\n{{\"protocol\":\"vouch.plugin/v1\",\"description\":\"test plugin\",\"target\":\"anything\",\"facts\":[{facts}]}}\nEOF\n;;\nobserve)\n{observe}\n;;\n*) echo \"unknown verb $1\" >&2; exit 2;;\nesac\n"
    );
    std::fs::write(&path, script).unwrap();
    chmod_x(&path);
    path
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A control file: one control on `plugin:NAME` for `targets` expecting `expect`.
fn controls(dir: &Path, name: &str, targets: &str, expect: &str) -> PathBuf {
    let path = dir.join("controls.toml");
    std::fs::write(
        &path,
        format!(
            "[[control]]\nid = \"PLUGIN-T\"\ntitle = \"plugin test\"\nseverity = \"high\"\nprobe = \"plugin:{name}\"\ntargets = {targets}\nexpect = [{expect}]\n"
        ),
    )
    .unwrap();
    path
}

/// `vouch check` of `controls` with `--plugin name=path`; the output and the JSON report.
fn check(
    controls: &Path,
    name: &str,
    exe: &Path,
    extra: &[&str],
) -> (std::process::Output, serde_json::Value) {
    let timeout: &[&str] = if extra.contains(&"--timeout") {
        &[]
    } else {
        &["--timeout", "2s"]
    };
    let out = vouch()
        .args(["check", "--format", "json"])
        .args(timeout)
        .arg("--controls")
        .arg(controls)
        .arg("--plugin")
        .arg(format!("{name}={}", exe.display()))
        .args(extra)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}

/// The first result of the only control.
fn result(report: &serde_json::Value) -> &serde_json::Value {
    &report["controls"][0]["results"][0]
}

fn assert_error(out: &std::process::Output, report: &serde_json::Value, needle: &str) {
    let r = result(report);
    assert_eq!(r["verdict"], "error", "{r:#}");
    let msg = r["error"].as_str().unwrap_or_default();
    assert!(msg.contains(needle), "error `{msg}` should say `{needle}`");
    assert_eq!(
        out.status.code(),
        Some(3),
        "exit 3: nothing failed, something unobserved"
    );
}

#[test]
fn a_well_behaved_plugin_passes_and_fails_on_what_it_prints() {
    // Guards against a runner that ignores the facts (always pass) or misreads them.
    let dir = tempfile::tempdir().unwrap();
    let exe = plugin(
        dir.path(),
        "p",
        BOOL_FACT,
        r#"read req; case "$req" in *'"target":"good"'*) echo '{"facts":{"ok":true}}';; *) echo '{"facts":{"ok":false}}';; esac"#,
    );
    let c = controls(
        dir.path(),
        "p",
        r#"["good", "bad"]"#,
        r#"{ fact = "ok", op = "==", value = true }"#,
    );
    let (out, report) = check(&c, "p", &exe, &[]);
    let v = verdicts(&report, "PLUGIN-T");
    assert_eq!(v["good"], "pass");
    assert_eq!(v["bad"], "fail");
    assert_eq!(out.status.code(), Some(1));
    // The evidence names the executable and its SHA-256, so an auditor knows which code spoke.
    let key = report["controls"][0]["results"][0]["observation"]
        .as_str()
        .unwrap();
    let prov = &report["observations"][key]["evidence"]["plugin"];
    let bytes = std::fs::read(&exe).unwrap();
    use sha2::Digest;
    assert_eq!(prov["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
    let exe_abs = std::fs::canonicalize(&exe).unwrap();
    assert_eq!(prov["path"], exe_abs.display().to_string());
    assert_eq!(
        report["run"]["context"]["plugin.p"]["sha256"],
        prov["sha256"]
    );
}

#[test]
fn a_plugin_that_hangs_is_an_error_and_its_process_group_is_killed() {
    // Guards against a hang, and against a grandchild outliving the timeout.
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let exe = plugin(
        dir.path(),
        "slow",
        BOOL_FACT,
        &format!(
            "sleep 300 &\necho $! > {}\nsleep 300\necho '{{\"facts\":{{\"ok\":true}}}}'",
            pidfile.display()
        ),
    );
    let c = controls(
        dir.path(),
        "slow",
        r#"["a"]"#,
        r#"{ fact = "ok", op = "==", value = true }"#,
    );
    let started = Instant::now();
    let (out, report) = check(&c, "slow", &exe, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "vouch waited for the plugin"
    );
    let r = result(&report);
    assert_eq!(r["verdict"], "error", "{r:#}");
    assert!(
        r["error"].as_str().unwrap().contains("within 2s"),
        "{}",
        r["error"]
    );
    assert_eq!(out.status.code(), Some(3));
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let alive = || Path::new(&format!("/proc/{}", pid.trim())).exists() && !is_zombie(pid.trim());
    let t = Instant::now();
    while alive() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(), "the plugin's child {pid} survived the timeout");
}

fn is_zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

#[test]
fn a_plugin_that_prints_garbage_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let exe = plugin(dir.path(), "junk", BOOL_FACT, "echo 'all good, trust me'");
    let c = controls(
        dir.path(),
        "junk",
        r#"["a"]"#,
        r#"{ fact = "ok", op = "==", value = true }"#,
    );
    let (out, report) = check(&c, "junk", &exe, &[]);
    assert_error(&out, &report, "malformed JSON");
    assert!(
        result(&report)["error"]
            .as_str()
            .unwrap()
            .contains("all good, trust me")
    );
}

#[test]
fn a_plugin_that_exits_1_is_an_error_with_its_own_message() {
    let dir = tempfile::tempdir().unwrap();
    let exe = plugin(
        dir.path(),
        "broken",
        BOOL_FACT,
        "echo 'idp.example.com: connection refused' >&2\necho '{\"facts\":{\"ok\":true}}'\nexit 1",
    );
    let c = controls(
        dir.path(),
        "broken",
        r#"["a"]"#,
        r#"{ fact = "ok", op = "==", value = true }"#,
    );
    let (out, report) = check(&c, "broken", &exe, &[]);
    // The facts it printed before failing are not believed: a non-zero exit is an error.
    assert_error(&out, &report, "idp.example.com: connection refused");
}

#[test]
fn a_plugin_error_object_keeps_its_kind_message_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let exe = plugin(
        dir.path(),
        "denied",
        BOOL_FACT,
        r#"echo '{"error":{"kind":"denied","message":"token lacks schedules:read","hint":"grant the read-only scope"}}'"#,
    );
    let c = controls(
        dir.path(),
        "denied",
        r#"["a"]"#,
        r#"{ fact = "ok", op = "==", value = true }"#,
    );
    let (out, report) = check(&c, "denied", &exe, &[]);
    assert_error(&out, &report, "token lacks schedules:read");
    assert_eq!(result(&report)["hint"], "grant the read-only scope");
}

#[test]
fn a_fact_declared_integer_but_printed_as_a_string_is_an_error_not_coerced() {
    // "30" would compare as 30 if coerced; the plugin broke its own declaration.
    let dir = tempfile::tempdir().unwrap();
    let exe = plugin(
        dir.path(),
        "typed",
        r#"{"name":"age_days","type":"integer","description":"age"}"#,
        r#"echo '{"facts":{"age_days":"30"}}'"#,
    );
    let c = controls(
        dir.path(),
        "typed",
        r#"["a"]"#,
        r#"{ fact = "age_days", op = "<=", value = 90 }"#,
    );
    let (out, report) = check(&c, "typed", &exe, &[]);
    assert_error(&out, &report, "nothing is coerced");
    assert!(
        result(&report)["error"]
            .as_str()
            .unwrap()
            .contains("age_days")
    );
}

#[test]
fn an_undeclared_fact_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let exe = plugin(
        dir.path(),
        "extra",
        BOOL_FACT,
        r#"echo '{"facts":{"ok":true,"surprise":1}}'"#,
    );
    let c = controls(
        dir.path(),
        "extra",
        r#"["a"]"#,
        r#"{ fact = "ok", op = "==", value = true }"#,
    );
    let (out, report) = check(&c, "extra", &exe, &[]);
    assert_error(&out, &report, "surprise");
}

#[test]
fn a_plugin_printing_100_mb_is_an_error_not_an_oom_or_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let exe = plugin(
        dir.path(),
        "flood",
        BOOL_FACT,
        "head -c 104857600 /dev/zero | tr '\\0' 'x'",
    );
    let c = controls(
        dir.path(),
        "flood",
        r#"["a"]"#,
        r#"{ fact = "ok", op = "==", value = true }"#,
    );
    let started = Instant::now();
    let (out, report) = check(&c, "flood", &exe, &[]);
    assert_error(&out, &report, "more than 8 MiB");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it read the flood to its end"
    );
}

#[test]
fn a_plugin_sees_no_secret_vouch_holds_only_the_allow_list_and_what_config_names() {
    // Guards against passing vouch's environment (AWS keys, GitHub token) through to plugins.
    let dir = tempfile::tempdir().unwrap();
    let exe = plugin(
        dir.path(),
        "snoop",
        r#"{"name":"env.names","type":"string_list","description":"variables seen"},
           {"name":"token.echo","type":"string","description":"the named token, echoed"}"#,
        r#"names=$(env | cut -d= -f1 | sort | sed 's/.*/"&"/' | paste -sd, -)
echo "debug: token is $PD_TOKEN" >&2
echo "{\"facts\":{\"env.names\":[$names],\"token.echo\":\"$PD_TOKEN\"},\"evidence\":{\"secret\":\"${AWS_SECRET_ACCESS_KEY:-none}\"}}""#,
    );
    let c = controls(
        dir.path(),
        "snoop",
        r#"["a"]"#,
        r#"{ fact = "env.names", op = "exists" }"#,
    );
    let inv = dir.path().join("vouch.toml");
    std::fs::write(
        &inv,
        format!(
            "[plugins.snoop]\npath = \"{}\"\nenv = [\"PD_TOKEN\"]\n",
            exe.display()
        ),
    )
    .unwrap();
    let out = vouch()
        .args(["-v", "check", "--format", "json", "--controls"])
        .arg(&c)
        .arg("--inventory")
        .arg(&inv)
        .env("AWS_SECRET_ACCESS_KEY", "aws-secret-value")
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("GITHUB_TOKEN", "ghp_secretvalue")
        .env("VOUCH_SIGNING_PASSPHRASE", "hunter2")
        .env("PD_TOKEN", "pd-token-value")
        .env("LANG", "C.UTF-8")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("debug: token is [redacted]"), "{log}");
    assert_eq!(result(&report)["verdict"], "pass", "{report:#}");
    let key = result(&report)["observation"].as_str().unwrap();
    let obs = &report["observations"][key];
    let names: Vec<&str> = obs["facts"]["env.names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for secret in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "GITHUB_TOKEN",
        "VOUCH_SIGNING_PASSPHRASE",
    ] {
        assert!(
            !names.contains(&secret),
            "{secret} leaked into the plugin: {names:?}"
        );
    }
    assert!(
        names.contains(&"PATH") && names.contains(&"LANG"),
        "{names:?}"
    );
    assert!(
        names.contains(&"PD_TOKEN"),
        "the named variable passes: {names:?}"
    );
    assert_eq!(obs["evidence"]["secret"], "none");
    // The token it was given is redacted where the plugin echoed it.
    assert_eq!(obs["facts"]["token.echo"], "[redacted]");
    for secret in [
        "aws-secret-value",
        "ghp_secretvalue",
        "hunter2",
        "pd-token-value",
    ] {
        assert!(!text.contains(secret), "{secret} reached the report");
        assert!(!log.contains(secret), "{secret} reached the log");
    }
}

#[test]
fn controls_are_checked_against_the_declaration_at_load_time() {
    // The same diagnostics and exit 2 as a built-in probe: nothing runs.
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("observed");
    let exe = plugin(
        dir.path(),
        "decl",
        r#"{"name":"ok","type":"bool","description":"d"},{"name":"count","type":"integer","description":"n"}"#,
        &format!(
            "touch {}\necho '{{\"facts\":{{\"ok\":true}}}}'",
            ran.display()
        ),
    );
    for (expect, code) in [
        (
            r#"{ fact = "okay", op = "==", value = true }"#,
            "unknown-fact",
        ),
        (
            r#"{ fact = "count", op = "matches", value = "x" }"#,
            "invalid-operator",
        ),
        (
            r#"{ fact = "count", op = ">", value = "many" }"#,
            "wrong-value",
        ),
    ] {
        let c = controls(dir.path(), "decl", r#"["a"]"#, expect);
        let out = vouch()
            .args(["check", "--controls"])
            .arg(&c)
            .arg("--plugin")
            .arg(format!("decl={}", exe.display()))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(code), "{code} missing from: {err}");
        let out = vouch()
            .arg("validate")
            .arg(&c)
            .arg("--plugin")
            .arg(format!("decl={}", exe.display()))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
    }
    assert!(!ran.exists(), "an invalid control set ran the plugin");
    // An unconfigured plugin names the fix.
    let c = controls(
        dir.path(),
        "nowhere",
        r#"["a"]"#,
        r#"{ fact = "ok", op = "exists" }"#,
    );
    let out = vouch().args(["validate"]).arg(&c).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("[plugins] nowhere"), "{err}");
}

#[test]
fn a_plugin_that_cannot_describe_itself_stops_the_run_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad");
    std::fs::write(
        &bad,
        "#!/bin/sh\necho '{\"protocol\":\"vouch.plugin/v1\",\"facts\":[{\"name\":\"x\",\"type\":\"number\",\"description\":\"d\"}]}'\n",
    )
    .unwrap();
    chmod_x(&bad);
    let c = controls(
        dir.path(),
        "bad",
        r#"["a"]"#,
        r#"{ fact = "x", op = "exists" }"#,
    );
    let inv = dir.path().join("vouch.toml");
    std::fs::write(&inv, "[plugins]\nbad = \"bad\"\n").unwrap();
    let out = vouch()
        .args(["check", "--controls"])
        .arg(&c)
        .arg("--inventory")
        .arg(&inv)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("plugin-unusable") && err.contains("string_list"),
        "{err}"
    );
    assert!(err.contains("vouch.toml:2:1"), "points at the entry: {err}");
}

#[test]
fn describe_runs_once_per_run_and_discovery_expands_star() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("describes");
    let path = dir.path().join("multi");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\ncase \"$1\" in\ndescribe) echo x >> {count}; echo '{{\"protocol\":\"vouch.plugin/v1\",\"description\":\"d\",\"target\":\"t\",\"discovers\":true,\"facts\":[{BOOL_FACT}]}}';;\ndiscover) echo '{{\"targets\":[\"one\",\"two\",\"three\"]}}';;\nobserve) echo '{{\"facts\":{{\"ok\":true}}}}';;\nesac\n",
            count = count.display()
        ),
    )
    .unwrap();
    chmod_x(&path);
    let c = controls(
        dir.path(),
        "multi",
        r#"["*"]"#,
        r#"{ fact = "ok", op = "==", value = true }"#,
    );
    let (out, report) = check(&c, "multi", &path, &[]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let v = verdicts(&report, "PLUGIN-T");
    assert_eq!(v.keys().collect::<Vec<_>>(), ["one", "three", "two"]);
    assert_eq!(std::fs::read_to_string(&count).unwrap().lines().count(), 1);
}

#[test]
fn replay_of_a_bundle_with_plugin_observations_needs_no_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let exe = plugin(
        dir.path(),
        "gone",
        r#"{"name":"age_days","type":"integer","description":"age"}"#,
        r#"echo '{"facts":{"age_days":30}}'"#,
    );
    let c = controls(
        dir.path(),
        "gone",
        r#"["a"]"#,
        r#"{ fact = "age_days", op = "<=", value = 90 }"#,
    );
    let bundle = dir.path().join("bundle");
    let (out, _) = check(
        &c,
        "gone",
        &exe,
        &["--evidence-dir", bundle.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    std::fs::remove_file(&exe).unwrap();
    let out = vouch()
        .args([
            "check",
            "--format",
            "json",
            "--allow-unsigned",
            "--from-evidence",
        ])
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdicts(&report, "PLUGIN-T")["a"], "pass");
    // A changed control is judged against the recorded facts, still without the plugin.
    let stricter = controls(
        dir.path(),
        "gone",
        r#"["a"]"#,
        r#"{ fact = "age_days", op = "<=", value = 7 }"#,
    );
    let out = vouch()
        .args(["check", "--format", "json", "--controls"])
        .arg(&stricter)
        .args(["--allow-unsigned", "--from-evidence"])
        .arg(&bundle)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdicts(&report, "PLUGIN-T")["a"], "fail");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn vouch_probe_spot_checks_a_plugin_and_lists_its_facts() {
    let dir = tempfile::tempdir().unwrap();
    let exe = plugin(
        dir.path(),
        "spot",
        r#"{"name":"ok","type":"bool","description":"all is well"},{"name":"age_days","type":"integer","description":"how old"}"#,
        r#"echo '{"facts":{"ok":true,"age_days":3}}'"#,
    );
    let spec = format!("spot={}", exe.display());
    let out = vouch()
        .args(["probe", "--facts", "plugin:spot", "--plugin", &spec])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("age_days") && text.contains("how old") && text.contains("integer"));
    // A bare file name is the file in the working directory, never a program found on PATH.
    let out = vouch()
        .args(["probe", "--facts", "plugin:spot", "--plugin", "spot=spot"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = vouch()
        .args(["probe", "plugin:spot", "thing", "--plugin", &spec])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("age_days") && text.contains('3'), "{text}");
    let out = vouch()
        .args([
            "probe",
            "plugin:spot",
            "thing",
            "--format",
            "json",
            "--plugin",
            &spec,
        ])
        .output()
        .unwrap();
    let obs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(obs["probe"], "plugin:spot");
    assert_eq!(obs["facts"]["age_days"], 3);
}

// ---- the example plugins --------------------------------------------------------------------

/// The venv with dnspython (scripts/setup.d/70-plugins.sh), put first on PATH so the example's
/// `#!/usr/bin/env python3` finds it.
fn plugin_path() -> String {
    let venv = std::env::var("VOUCH_TEST_PLUGINS_VENV")
        .ok()
        .map(PathBuf::from)
        .or_else(|| Some(repo().join(".venv/plugins")).filter(|p| p.exists()));
    let venv = require(
        venv.filter(|p| p.join("bin/python3").exists()),
        "a Python venv with dnspython",
        "set VOUCH_TEST_PLUGINS_VENV",
    );
    format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// BIND's named serving the zones of tests/it/plugins/dns-zones.sh; killed on drop.
struct Named {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn named() -> Named {
    let bin = ["/usr/sbin/named", "/usr/bin/named"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let bin = require(bin, "BIND's named", "apt-get install bind9 bind9-utils");
    let dir = tempfile::tempdir().unwrap();
    let script = repo().join("tests/it/plugins/dns-zones.sh");
    let root = dir.path().to_path_buf();
    let (child, port) = spawn_on_free_port("named", Duration::from_secs(20), |port| {
        let zones = root.join(port.to_string());
        let ok = std::process::Command::new("bash")
            .arg(&script)
            .arg(&zones)
            .arg(port.to_string())
            .status()
            .unwrap();
        assert!(ok.success(), "dns-zones.sh failed (needs bind9-utils)");
        let mut cmd = std::process::Command::new(&bin);
        cmd.arg("-g").arg("-c").arg(zones.join("named.conf"));
        cmd
    });
    Named { child, port, dir }
}

#[test]
fn the_dns_example_passes_a_signed_zone_with_caa_and_fails_the_others() {
    let path = plugin_path();
    let ns = named();
    let zones = ns.dir.path().join(ns.port.to_string());
    let anchors: Vec<String> = std::fs::read_to_string(zones.join("anchors.txt"))
        .unwrap()
        .lines()
        .map(|l| format!("{:?}", l.trim()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("vouch.toml");
    std::fs::write(
        &inv,
        format!(
            "[plugins.dns]\npath = \"{}\"\nconfig = {{ nameserver = \"127.0.0.1\", port = {}, trust_anchors = [{}] }}\n",
            repo().join("examples/plugins/dns/vouch-dns").display(),
            ns.port,
            anchors.join(", ")
        ),
    )
    .unwrap();
    let c = dir.path().join("dns.toml");
    std::fs::write(
        &c,
        r#"[[control]]
id = "DNS-CAA"
title = "CAA records restrict who may issue certificates"
severity = "medium"
probe = "plugin:dns"
targets = ["good.test", "www.good.test", "bare.test"]
expect = [{ fact = "caa.present", op = "==", value = true },
          { fact = "caa.issuers", op = "contains", value = "letsencrypt.org" }]

[[control]]
id = "DNS-DNSSEC"
title = "The zone is signed and validates from a trust anchor"
severity = "medium"
probe = "plugin:dns"
targets = ["good.test", "www.good.test", "bare.test", "stale.test", "wrongds.test"]
expect = [{ fact = "dnssec.validated", op = "==", value = true }]
"#,
    )
    .unwrap();
    let out = vouch()
        .args([
            "check",
            "--format",
            "json",
            "--timeout",
            "20s",
            "--controls",
        ])
        .arg(&c)
        .arg("--inventory")
        .arg(&inv)
        .env("PATH", &path)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let caa = verdicts(&report, "DNS-CAA");
    assert_eq!(caa["good.test"], "pass", "{report:#}");
    assert_eq!(
        caa["www.good.test"], "pass",
        "RFC 8659 climbs to the parent"
    );
    assert_eq!(caa["bare.test"], "fail");
    let sec = verdicts(&report, "DNS-DNSSEC");
    assert_eq!(sec["good.test"], "pass", "{report:#}");
    assert_eq!(sec["www.good.test"], "pass");
    assert_eq!(sec["bare.test"], "fail", "unsigned");
    assert_eq!(
        sec["stale.test"], "fail",
        "expired signatures never validate"
    );
    assert_eq!(
        sec["wrongds.test"], "fail",
        "a key the anchor does not name"
    );
    assert_eq!(out.status.code(), Some(1));
}

/// A PagerDuty-style schedule API on loopback: `GET /schedules/ID` answers the final schedule
/// from `entries(since, until)`; every request must carry `Authorization: Token token=TOKEN`.
fn schedule_api(token: &'static str) -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut authorized = false;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if h.to_ascii_lowercase().starts_with("authorization:")
                    && h.trim_end().ends_with(&format!("Token token={token}"))
                {
                    authorized = true;
                }
            }
            let (status, body) = if !authorized {
                (
                    "401 Unauthorized",
                    r#"{"error":{"message":"Unauthorized"}}"#.to_string(),
                )
            } else {
                schedule_answer(&target)
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, handle)
}

fn query_param(target: &str, name: &str) -> Option<jiff::Timestamp> {
    let q = target.split_once('?')?.1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .map(|v| v.replace("%3A", ":"))
        .and_then(|v| v.parse().ok())
}

/// FULL: two people alternating 12-hour shifts over the whole window. GAPPY: the same, minus
/// a 3-hour hole five days out. Both are rendered from `since` to `until`, as PagerDuty does.
fn schedule_answer(target: &str) -> (&'static str, String) {
    let path = target.split('?').next().unwrap_or("");
    if path == "/schedules" {
        return (
            "200 OK",
            r#"{"schedules":[{"id":"FULL"},{"id":"GAPPY"}],"more":false}"#.into(),
        );
    }
    let id = path.trim_start_matches("/schedules/");
    let (Some(since), Some(until)) = (query_param(target, "since"), query_param(target, "until"))
    else {
        return ("400 Bad Request", r#"{"error":"since/until"}"#.into());
    };
    let hole = since + jiff::SignedDuration::from_hours(5 * 24);
    let mut entries = Vec::new();
    let mut t = since - jiff::SignedDuration::from_hours(1);
    let mut n = 0;
    while t < until {
        let end = t + jiff::SignedDuration::from_hours(12);
        let user = if n % 2 == 0 { "PALICE" } else { "PBOB" };
        let mut push = |s: jiff::Timestamp, e: jiff::Timestamp| {
            entries.push(serde_json::json!({
                "start": s.to_string(), "end": e.to_string(), "user": {"id": user, "summary": user}
            }))
        };
        if id == "GAPPY" && t <= hole && hole < end {
            push(t, hole);
            push(hole + jiff::SignedDuration::from_hours(3), end);
        } else {
            push(t, end);
        }
        t = end;
        n += 1;
    }
    match id {
        "FULL" | "GAPPY" => (
            "200 OK",
            serde_json::json!({"schedule": {"id": id, "name": format!("{id} rota"),
                "final_schedule": {"name": "Final Schedule", "rendered_schedule_entries": entries}}})
            .to_string(),
        ),
        _ => ("404 Not Found", r#"{"error":{"message":"Not Found"}}"#.into()),
    }
}

#[test]
fn the_oncall_example_passes_a_full_rota_and_fails_one_with_a_gap() {
    let (port, _server) = schedule_api("pd-test-token");
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("vouch.toml");
    std::fs::write(
        &inv,
        format!(
            "[plugins.oncall]\npath = \"{}\"\nenv = [\"PD_TOKEN\"]\nconfig = {{ api_base = \"http://127.0.0.1:{port}\", token_env = \"PD_TOKEN\" }}\n",
            repo().join("examples/plugins/oncall/vouch-oncall").display()
        ),
    )
    .unwrap();
    let c = dir.path().join("oncall.toml");
    std::fs::write(
        &c,
        r#"[[control]]
id = "OPS-ONCALL-24x7"
title = "Someone is on call every minute of the next 14 days"
severity = "high"
probe = "plugin:oncall"
targets = ["*", "MISSING"]
expect = [{ fact = "coverage.uncovered_minutes", op = "==", value = 0 }]
"#,
    )
    .unwrap();
    let out = vouch()
        .args([
            "check",
            "--format",
            "json",
            "--timeout",
            "20s",
            "--controls",
        ])
        .arg(&c)
        .arg("--inventory")
        .arg(&inv)
        .env("PD_TOKEN", "pd-test-token")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let v = verdicts(&report, "OPS-ONCALL-24x7");
    assert_eq!(v["FULL"], "pass", "{report:#}");
    assert_eq!(v["GAPPY"], "fail");
    assert_eq!(
        v["MISSING"], "error",
        "a schedule that is not there is never a pass"
    );
    let gappy = report["controls"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == "GAPPY")
        .unwrap();
    assert_eq!(gappy["checks"][0]["observed"], 180, "{gappy:#}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("pd-test-token"));

    // Without the token the API says 401: an error naming it, never a pass.
    let out = vouch()
        .args(["check", "--format", "json", "--controls"])
        .arg(&c)
        .arg("--inventory")
        .arg(&inv)
        .env("PD_TOKEN", "wrong")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["controls"][0]["results"][0]["verdict"], "error");
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn the_example_control_files_validate_against_the_example_plugins() {
    // The controls in examples/plugins/ name facts the plugins really declare.
    for ex in ["dns", "oncall"] {
        let dir = repo().join("examples/plugins").join(ex);
        let out = vouch()
            .arg("validate")
            .arg(dir.join("controls.toml"))
            .arg("--inventory")
            .arg(dir.join("vouch.toml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{ex}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_plugins_stderr_goes_to_the_log_and_max_concurrency_is_honoured() {
    // Guards against swallowing the plugin's own words, and against running more copies of a
    // plugin at once than it declared it can take (a rate-limited API).
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let path = dir.path().join("serial");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\ncase \"$1\" in\ndescribe) echo '{{\"protocol\":\"vouch.plugin/v1\",\"description\":\"d\",\"target\":\"t\",\"max_concurrency\":1,\"facts\":[{BOOL_FACT}]}}';;\nobserve) echo start >> {t}; sleep 0.3; echo end >> {t}; echo 'note: looked at one device' >&2; echo '{{\"facts\":{{\"ok\":true}}}}';;\nesac\n",
            t = trace.display()
        ),
    )
    .unwrap();
    chmod_x(&path);
    let c = controls(
        dir.path(),
        "serial",
        r#"["a", "b", "c", "d"]"#,
        r#"{ fact = "ok", op = "==", value = true }"#,
    );
    let (out, report) = check(&c, "serial", &path, &["-v", "--timeout", "10s"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let lines: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 8);
    for pair in lines.chunks(2) {
        assert_eq!(pair, ["start", "end"], "two calls overlapped: {lines:?}");
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("note: looked at one device"), "{err}");
}
