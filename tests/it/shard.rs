//! Sharded runs and `vouch merge` through the real binary: N processes (`--shard-from-env`,
//! `JOB_COMPLETION_INDEX=0..N-1`) against one loopback estate (TLS servers, a closed port,
//! attestations, a waiver, an empty group, a `require = "any"` control), merged, give the
//! verdicts and exit code of one unsharded run; tampered, foreign, duplicate and missing shards
//! are refused with exit 2 and the file named.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use vouch::exit;

use crate::evidence::{ago, copy_dir};
use crate::support::{repo, vouch};

/// A tokio-rustls server on a free loopback port speaking `versions`.
async fn server(versions: &[&'static rustls::SupportedProtocolVersion]) -> SocketAddr {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = CertificateParams::new(vec!["shard.test".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.write_all(b"hello\n").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

/// The estate: 12 endpoints on a TLS 1.2+1.3 server, a TLS 1.2-only server and a closed port;
/// the attestation example (a pass, a fail that a waiver covers, a fail); an empty group.
struct Estate {
    dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

fn estate() -> Estate {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let modern = rt.block_on(server(&[&rustls::version::TLS12, &rustls::version::TLS13]));
    let tls12 = rt.block_on(server(&[&rustls::version::TLS12]));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples/attestations"), dir.path());
    let att = dir.path().join("attestations.toml");
    let text = std::fs::read_to_string(&att)
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
    std::fs::write(att, text).unwrap();
    let mut names = Vec::new();
    let mut resolve = String::new();
    for i in 0..12 {
        let name = format!("h{i:02}.shard.test:443");
        let addr = match i % 4 {
            0 | 1 => modern,
            2 => tls12,
            _ => closed,
        };
        resolve.push_str(&format!("\"{name}\" = \"{addr}\"\n"));
        names.push(format!("\"{name}\""));
    }
    std::fs::write(
        dir.path().join("vouch.toml"),
        format!(
            "attestations = \"attestations.toml\"\nwaivers = \"waivers.toml\"\n\n[targets]\n\
             endpoints = [{}]\nnothing = []\n\n[resolve]\n{resolve}",
            names.join(", ")
        ),
    )
    .unwrap();
    let mut controls = std::fs::read_to_string(dir.path().join("controls.toml")).unwrap();
    controls.push_str(
        r#"
[[control]]
id = "TLS-LOWEST"
title = "TLS 1.2 or higher"
severity = "high"
probe = "tls"
targets = "endpoints"
expect = [ { fact = "protocols.lowest", op = ">=", value = "TLSv1.2" } ]

[[control]]
id = "TLS-13"
title = "TLS 1.3 offered"
severity = "low"
probe = "tls"
targets = "endpoints"
expect = [ { fact = "protocols.highest", op = "==", value = "TLSv1.3" } ]

[[control]]
id = "TLS-13-ANY"
title = "Some endpoint offers TLS 1.3"
severity = "low"
probe = "tls"
targets = "endpoints"
require = "any"
expect = [ { fact = "protocols.highest", op = "==", value = "TLSv1.3" } ]

[[control]]
id = "EMPTY-GROUP"
title = "A group with nothing in it"
severity = "low"
probe = "tls"
targets = "nothing"
expect = [ { fact = "protocols.lowest", op = ">=", value = "TLSv1.2" } ]
"#,
    );
    std::fs::write(dir.path().join("controls.toml"), controls).unwrap();
    std::fs::write(
        dir.path().join("waivers.toml"),
        format!(
            "[[waiver]]\ncontrol = \"RES-DR-TEST-ANNUAL\"\ntargets = [\"dr-test-2025\"]\n\
             reason = \"DR exercise moved to next month\"\nowner = \"sre\"\n\
             approved_by = \"ciso\"\nexpires = {}\n",
            ago(-30)
        ),
    )
    .unwrap();
    Estate { dir, _rt: rt }
}

/// `vouch check` in the estate, with `args`.
fn check(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("vouch"));
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("JOB_COMPLETION_INDEX")
        .args(["check", "--controls", "controls.toml", "--timeout", "5s"]);
    cmd
}

/// What must be equal between one run and a merge: per control its verdict, examined_nothing,
/// satisfied_by and each target's verdict, original verdict under a waiver, check verdicts and
/// error; the summary; the warnings.
fn verdicts(report: &Value) -> Value {
    let controls: Vec<Value> = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let rows: Vec<Value> = c["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "target": r["target"],
                        "verdict": r["verdict"],
                        "waived_from": r["waiver"]["original_verdict"],
                        "checks": r["checks"].as_array().unwrap().iter()
                            .map(|k| (k["fact"].clone(), k["verdict"].clone(), k["observed"].clone()))
                            .collect::<Vec<_>>(),
                        "error": r["error"],
                        "engine": r["engine"],
                        "observed": r["observation"].is_string(),
                    })
                })
                .collect();
            serde_json::json!({
                "id": c["id"], "verdict": c["verdict"], "examined_nothing": c["examined_nothing"],
                "satisfied_by": c["satisfied_by"], "results": rows,
            })
        })
        .collect();
    serde_json::json!({
        "controls": controls,
        "summary": report["summary"],
        "warnings": report["run"]["warnings"],
        "unused_waivers": report["unused_waivers"],
    })
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Runs the N shards as N concurrent processes with `JOB_COMPLETION_INDEX=0..N-1`, each writing
/// its bundle `shards-N/<index>`; returns the bundle paths.
fn run_shards(dir: &Path, n: u32, extra: &[&str]) -> Vec<PathBuf> {
    let base = dir.join(format!(
        "shards-{n}{}",
        if extra.is_empty() { "" } else { "-extra" }
    ));
    let children: Vec<_> = (0..n)
        .map(|i| {
            let out = base.join(i.to_string());
            let child = check(dir)
                .args(["--shard-from-env", "--shard-count", &n.to_string()])
                .args(["--format", "json", "--evidence-dir"])
                .arg(&out)
                .args(extra)
                .env("JOB_COMPLETION_INDEX", i.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (i, out, child)
        })
        .collect();
    children
        .into_iter()
        .map(|(i, out, child)| {
            let o = child.wait_with_output().unwrap();
            let code = o.status.code().unwrap();
            assert!(
                [0, 1, 3].contains(&code),
                "shard exited {code}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let report: Value = serde_json::from_slice(&o.stdout).unwrap();
            crate::evidence::assert_matches_schema(&report);
            assert_eq!(report["run"]["shard"]["count"], n);
            assert_eq!(report["run"]["shard"]["index"], i + 1);
            assert!(
                report["run"]["shard"]["plan"]["digest"]
                    .as_str()
                    .unwrap()
                    .starts_with("sha256:")
            );
            out
        })
        .collect()
}

fn merge(dir: &Path, inputs: &[PathBuf], extra: &[&str]) -> std::process::Output {
    vouch()
        .current_dir(dir)
        .arg("merge")
        .args(inputs)
        .args(["--allow-unsigned", "--format", "json"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn merged_shards_give_the_verdicts_and_exit_code_of_one_run_for_1_2_3_and_7_shards() {
    let estate = estate();
    let dir = estate.dir.path();
    let single = check(dir).args(["--format", "json"]).output().unwrap();
    let single_code = single.status.code().unwrap();
    let single_report: Value = serde_json::from_slice(&single.stdout).unwrap();
    assert_eq!(
        single_code,
        i32::from(exit::FAILED),
        "the estate has failures"
    );
    let expected = verdicts(&single_report);
    // The estate has every kind of row the merge must get right.
    let tls = crate::support::verdicts(&single_report, "TLS-13");
    assert_eq!(tls["h00.shard.test:443"], "pass");
    assert_eq!(tls["h02.shard.test:443"], "fail");
    assert_eq!(tls["h03.shard.test:443"], "error");
    assert_eq!(
        crate::support::verdicts(&single_report, "RES-DR-TEST-ANNUAL")["dr-test-2025"],
        "waived"
    );
    assert_eq!(
        single_report["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "EMPTY-GROUP")
            .unwrap()["examined_nothing"],
        true
    );

    for n in [1u32, 2, 3, 7] {
        let shards = run_shards(dir, n, &[]);
        // Every row is in exactly one shard.
        let rows: usize = shards
            .iter()
            .map(|s| {
                read_json(&s.join("report.json"))["summary"]["results"]["total"]
                    .as_u64()
                    .unwrap() as usize
            })
            .sum();
        assert_eq!(
            rows,
            single_report["summary"]["results"]["total"]
                .as_u64()
                .unwrap() as usize,
            "N = {n}"
        );
        let merged_dir = dir.join(format!("merged-{n}"));
        let out = merge(
            dir,
            &shards,
            &["--evidence-dir", merged_dir.to_str().unwrap()],
        );
        assert_eq!(
            out.status.code(),
            Some(single_code),
            "N = {n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let merged: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(verdicts(&merged), expected, "N = {n}");
        // Provenance: the plan, and each shard with its digests.
        let m = &merged["run"]["merge"];
        assert_eq!(m["shards"].as_array().unwrap().len(), n as usize);
        assert_eq!(
            m["plan"]["digest"],
            read_json(&shards[0].join("report.json"))["run"]["shard"]["plan"]["digest"]
        );
        for (i, s) in m["shards"].as_array().unwrap().iter().enumerate() {
            assert_eq!(s["index"], i + 1);
            assert!(
                s["manifest_sha256"]
                    .as_str()
                    .unwrap()
                    .starts_with("sha256:")
            );
        }
        assert!(merged["run"]["shard"].is_null());
        crate::evidence::assert_matches_schema(&merged);
        // The merged bundle verifies and replays to the same verdicts.
        vouch()
            .args(["verify", "--allow-unsigned"])
            .arg(&merged_dir)
            .assert()
            .success();
        assert_eq!(
            verdicts(&read_json(&merged_dir.join("report.json"))),
            expected
        );
    }

    // `--fail-on critical`: nothing fails at that level, errors remain: 3, sharded or not.
    let single = check(dir)
        .args(["--format", "json", "--fail-on", "critical"])
        .output()
        .unwrap();
    assert_eq!(single.status.code(), Some(i32::from(exit::UNOBSERVED)));
    let shards = run_shards(dir, 2, &["--fail-on", "critical"]);
    let out = merge(dir, &shards, &[]);
    assert_eq!(out.status.code(), Some(i32::from(exit::UNOBSERVED)));
}

#[test]
fn merge_refuses_a_tampered_shard_another_plan_a_duplicate_and_a_missing_shard() {
    let estate = estate();
    let dir = estate.dir.path();
    let shards = run_shards(dir, 2, &[]);

    let refused = |inputs: &[PathBuf], needle: &str, names: &Path| {
        let out = merge(dir, inputs, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(i32::from(exit::INVALID)),
            "{stderr}"
        );
        assert!(stderr.contains(needle), "{stderr}");
        assert!(
            stderr.contains(&names.display().to_string()),
            "names {}: {stderr}",
            names.display()
        );
        assert!(out.stdout.is_empty(), "no report on a refusal");
    };

    // Two copies of one shard.
    let copy = dir.join("copy-of-1");
    copy_dir(&shards[0], &copy);
    refused(
        &[shards[0].clone(), copy.clone(), shards[1].clone()],
        "two copies of shard 1/2",
        &copy,
    );
    // A missing shard.
    refused(&[shards[0].clone()], "shard 2/2 is missing", &shards[0]);
    // A tampered shard bundle: one observation changed.
    let tampered = dir.join("tampered-2");
    copy_dir(&shards[1], &tampered);
    // One observation changed by one byte (still valid JSON): its digest no longer matches.
    let obs = std::fs::read_dir(tampered.join("observations"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&obs)
        .unwrap()
        .replacen('{', "{ ", 1);
    std::fs::write(&obs, text).unwrap();
    refused(
        &[shards[0].clone(), tampered.clone()],
        "refusing to merge",
        &tampered,
    );
    // A shard of another plan: the same estate with one control's severity changed.
    let other = tempfile::tempdir().unwrap();
    copy_dir(dir, other.path());
    for d in ["shards-2", "copy-of-1", "tampered-2"] {
        let _ = std::fs::remove_dir_all(other.path().join(d));
    }
    let controls = other.path().join("controls.toml");
    let text = std::fs::read_to_string(&controls).unwrap().replacen(
        "severity = \"low\"",
        "severity = \"medium\"",
        1,
    );
    std::fs::write(&controls, text).unwrap();
    let foreign = run_shards(other.path(), 2, &[]);
    refused(
        &[shards[0].clone(), foreign[1].clone()],
        "is from another plan",
        &foreign[1],
    );
    // Prevents: merging shards cut by two vouch versions (their slicing may differ).
    let older = dir.join("older-2.json");
    let text = std::fs::read_to_string(shards[1].join("report.json")).unwrap();
    let ours = format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(text.contains(&ours), "the report names its tool version");
    std::fs::write(&older, text.replacen(&ours, "\"version\": \"0.0.1\"", 1)).unwrap();
    refused(
        &[shards[0].join("report.json"), older.clone()],
        "by one version",
        &older,
    );
    // A shard count that does not match.
    let three = run_shards(dir, 3, &[]);
    refused(
        &[shards[0].clone(), shards[1].clone(), three[2].clone()],
        "overlap",
        &three[2],
    );
    // And the right two merge.
    assert_eq!(
        merge(dir, &shards, &[]).status.code(),
        Some(i32::from(exit::FAILED))
    );
}

#[test]
fn shard_flags_say_what_is_valid() {
    let estate = estate();
    let dir = estate.dir.path();
    let out = check(dir).args(["--shard", "0/4"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("between 1 and 4"));
    let out = check(dir)
        .args(["--shard-from-env", "--shard-count", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JOB_COMPLETION_INDEX is not set"));
    let out = check(dir)
        .args(["--shard-from-env", "--shard-count", "2"])
        .env("JOB_COMPLETION_INDEX", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not below --shard-count 2"));
    // A report file is accepted only with --allow-unsigned, and merges like its bundle.
    let shards = run_shards(dir, 2, &[]);
    let reports: Vec<PathBuf> = shards.iter().map(|s| s.join("report.json")).collect();
    let out = vouch()
        .current_dir(dir)
        .arg("merge")
        .args(&reports)
        .args(["--controls", "controls.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("carries no signature"));
    let out = merge(
        dir,
        &reports,
        &["--controls", "controls.toml", "--waivers", "waivers.toml"],
    );
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::FAILED)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_bundles = merge(dir, &shards, &[]);
    assert_eq!(
        verdicts(&serde_json::from_slice(&out.stdout).unwrap()),
        verdicts(&serde_json::from_slice(&from_bundles.stdout).unwrap())
    );

    // Signed shards: merged with their key; refused with another's, naming the bundle.
    for prefix in ["audit", "other"] {
        vouch()
            .current_dir(dir)
            .args(["keygen", "--out", prefix])
            .assert()
            .success();
    }
    let signed = run_shards(dir, 2, &["--sign-key", "audit.key"]);
    let out = vouch()
        .current_dir(dir)
        .arg("merge")
        .args(&signed)
        .args(["--public-key", "audit.pub", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::FAILED)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        merged["run"]["merge"]["shards"][1]["signature"]["status"],
        "verified"
    );
    let out = vouch()
        .current_dir(dir)
        .arg("merge")
        .args(&signed)
        .args(["--public-key", "other.pub"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::INVALID)),
        "{stderr}"
    );
    assert!(
        stderr.contains(&signed[0].display().to_string()) && stderr.contains("not the given key"),
        "{stderr}"
    );
}
