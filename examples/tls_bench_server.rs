//! A benchmark target for `scripts/bench-tls.sh`: one process, one tokio-rustls server (TLS 1.2
//! and 1.3, an rcgen certificate from a throwaway CA) listening on N loopback ports, counting the
//! TCP connections each port accepts.
//!
//! `tls_bench_server N DIR` writes `DIR/vouch.toml` (N targets `bench-NNN.test:PORT`, each
//! resolved to its port, the CA as `[tls] ca_file`), `DIR/controls.toml` and `DIR/ca.pem`, prints
//! `ready`, and serves until its stdin closes; then it writes `DIR/connections.txt`
//! (`port count` per line) and exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .ok_or("usage: tls_bench_server N DIR")?
        .parse()?;
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: tls_bench_server N DIR")?);

    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "vouch bench CA");
    ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    std::fs::write(dir.join("ca.pem"), ca.self_signed(&ca_key)?.pem())?;
    // One key, and one leaf per endpoint naming only that endpoint, as real endpoints have: a
    // shared leaf naming all N would put N names into every observation.
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let issuer = Issuer::from_params(&ca, &ca_key);
    let acceptor_for =
        |name: &str| -> Result<tokio_rustls::TlsAcceptor, Box<dyn std::error::Error>> {
            let leaf = CertificateParams::new(vec![name.to_string()])?.signed_by(&key, &issuer)?;
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )?;
            Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
        };

    let mut inventory = String::from("[targets]\nbench = [\n");
    let mut resolve = String::from("\n[resolve]\n");
    let mut counters = Vec::new();
    for i in 0..n {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let name = format!("bench-{i:03}.test:{port}");
        inventory.push_str(&format!("  \"{name}\",\n"));
        resolve.push_str(&format!("\"{name}\" = \"127.0.0.1:{port}\"\n"));
        let count = Arc::new(AtomicUsize::new(0));
        counters.push((port, count.clone()));
        let acceptor = acceptor_for(&format!("bench-{i:03}.test"))?;
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::Relaxed);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
    }
    inventory.push_str("]\n");
    inventory.push_str(&resolve);
    inventory.push_str("\n[tls]\nca_file = \"ca.pem\"\n");
    std::fs::write(dir.join("vouch.toml"), inventory)?;
    std::fs::write(
        dir.join("controls.toml"),
        r#"[[control]]
id = "BENCH-TLS12"
title = "Endpoints accept only TLS 1.2 or higher, with a valid certificate"
claim = "TLS 1.2 or higher for every connection."
severity = "high"
probe = "tls"
targets = "bench"
expect = [
  { fact = "protocols.lowest", op = ">=", value = "TLSv1.2" },
  { fact = "certificate.valid", op = "==", value = true },
]
"#,
    )?;
    println!("ready");

    // Serve until stdin closes, then report the connection counts.
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(_)) = stdin.next_line().await {}
    let report: String = counters
        .iter()
        .map(|(port, c)| format!("{port} {}\n", c.load(Ordering::Relaxed)))
        .collect();
    std::fs::write(dir.join("connections.txt"), report)?;
    Ok(())
}
