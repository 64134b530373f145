//! Memory that does not grow with the estate: `vouch check` (the real binary) over a few dozen and
//! over a few hundred loopback TLS endpoints, each writing its evidence bundle and a JSON report
//! file; the larger run's peak RSS may exceed the smaller's by only a few KiB per extra endpoint.
//! Observation bodies are spooled to disk as they complete and read back one at a time, so what
//! stays in memory per endpoint is its result rows and its observation's key; holding the
//! bodies (parsed JSON: tens of KiB each) would exceed the bound several times over.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// One tokio-rustls server (TLS 1.2 and 1.3) on a free loopback port.
async fn server() -> SocketAddr {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = CertificateParams::new(vec!["memory.test".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
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
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

const CONTROLS: &str = r#"
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
"#;

/// The largest resident set of any child waited for so far, in KiB (Linux's `ru_maxrss`).
fn children_max_rss_kib() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given; RUSAGE_CHILDREN is always valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    usage.ru_maxrss as u64
}

/// `vouch check` over `n` endpoint names (each its own target and observation, all resolved to
/// `addr`), with a bundle and a JSON report file; returns (peak RSS KiB so far, bytes of the
/// bundle's observation files).
fn run(dir: &Path, addr: SocketAddr, n: usize) -> (u64, u64) {
    let work = dir.join(format!("n{n}"));
    std::fs::create_dir_all(&work).unwrap();
    let names: Vec<String> = (0..n).map(|i| format!("h{i:04}.memory.test:443")).collect();
    let mut inv = String::from("[targets]\nendpoints = [");
    inv.push_str(
        &names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    inv.push_str("]\n\n[resolve]\n");
    for name in &names {
        inv.push_str(&format!("\"{name}\" = \"{addr}\"\n"));
    }
    std::fs::write(work.join("vouch.toml"), inv).unwrap();
    std::fs::write(work.join("controls.toml"), CONTROLS).unwrap();
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("vouch"))
        .current_dir(&work)
        .env("NO_COLOR", "1")
        .args([
            "check",
            "--controls",
            "controls.toml",
            "--inventory",
            "vouch.toml",
        ])
        .args(["-q", "--timeout", "20s", "--evidence-dir", "bundle"])
        .args(["--output", "json=report.json"])
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert!(
        [0, 1, 3].contains(&code),
        "exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every endpoint was observed, and its observation is in the bundle and the report.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("report.json")).unwrap()).unwrap();
    let observations = report["observations"].as_object().unwrap();
    assert_eq!(observations.len(), n, "one observation per endpoint");
    assert!(
        observations
            .values()
            .all(|o| o["facts"]["protocols.lowest"] == "TLSv1.2"),
        "each observation read back whole"
    );
    let mut bytes = 0;
    for e in std::fs::read_dir(work.join("bundle/observations")).unwrap() {
        bytes += e.unwrap().metadata().unwrap().len();
    }
    (children_max_rss_kib(), bytes)
}

#[test]
fn peak_memory_grows_by_a_few_kib_per_endpoint_not_by_its_observation() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(server());
    let dir = tempfile::tempdir().unwrap();
    let (small_n, large_n) = (40usize, 320usize);
    let (small_rss, _) = run(dir.path(), addr, small_n);
    let (large_rss, obs_bytes) = run(dir.path(), addr, large_n);
    let per_endpoint_kib = large_rss.saturating_sub(small_rss) as f64 / (large_n - small_n) as f64;
    let obs_kib = obs_bytes as f64 / 1024.0 / large_n as f64;
    eprintln!(
        "peak RSS {small_rss} KiB for {small_n} endpoints, {large_rss} KiB for {large_n}: \
         {per_endpoint_kib:.1} KiB per endpoint (observation files {obs_kib:.1} KiB each)"
    );
    // Measured (debug build): about 4 KiB per endpoint with bodies spooled; holding them was
    // about 40 KiB (each observation file is about 7 KiB of JSON, several times that parsed).
    assert!(
        per_endpoint_kib < 16.0,
        "peak RSS grew {per_endpoint_kib:.1} KiB per endpoint ({small_rss} KiB for {small_n}, \
         {large_rss} KiB for {large_n}; observation files average {obs_kib:.1} KiB): memory \
         grows with the estate"
    );
}
