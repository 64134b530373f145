//! The `tls` probe against real servers on loopback: in-process tokio-rustls servers with rcgen
//! certificates, `openssl s_server` for the legacy versions, and hostile TCP servers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vouch::inventory::Inventory;
use vouch::probe::tls::TlsProbe;
use vouch::probe::{Observation, Params, Probe, ProbeContext, ProbeError, ProbeOptions};

use crate::support::{fixture, require};

// ---------------------------------------------------------------------------------------------
// Helpers: a test CA, rustls servers, openssl servers, hostile servers, running the probe.

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

fn test_ca() -> Ca {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "vouch test CA");
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let pem = params.self_signed(&key).unwrap().pem();
    Ca { params, key, pem }
}

/// A leaf for `names`, signed by `ca` (or self-signed), with `tweak` applied to its params.
fn leaf(
    ca: Option<&Ca>,
    names: &[&str],
    key: KeyPair,
    tweak: impl FnOnce(&mut CertificateParams),
) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
    tweak(&mut params);
    let cert = match ca {
        Some(ca) => params
            .signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))
            .unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (vec![cert.der().clone()], key_der)
}

fn p256() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

/// The RSA 2048 key made by `fixtures/tls/make.sh` (rcgen's ring backend cannot make RSA keys).
fn rsa2048() -> KeyPair {
    let pem = std::fs::read_to_string(fixture("tls/rsa2048.key")).unwrap();
    KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap()
}

/// A tokio-rustls server on a free loopback port speaking `versions`; each accepted connection
/// completes the handshake and is closed.
async fn rustls_server(
    versions: &[&'static rustls::SupportedProtocolVersion],
    cert: (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    p256_only: bool,
) -> SocketAddr {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if p256_only {
        provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::SECP256R1];
    }
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(cert.0, cert.1)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
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

fn ctx(
    ca_file: Option<PathBuf>,
    resolve: &[(&str, SocketAddr)],
    timeout: Duration,
) -> ProbeContext {
    let mut inv = Inventory::default();
    inv.tls.ca_file = ca_file;
    for (name, addr) in resolve {
        inv.resolve.insert(name.to_string(), *addr);
    }
    ProbeContext::new(
        Arc::new(inv),
        ProbeOptions {
            timeout,
            ..ProbeOptions::default()
        },
    )
}

async fn observe(target: &str, ctx: &ProbeContext) -> Result<Observation, ProbeError> {
    // A hang guard, not a timing goal: the probe must end within its own timeout.
    let limit = ctx.options.timeout + Duration::from_secs(2);
    tokio::time::timeout(limit, TlsProbe.observe(target, &Params::new(), ctx))
        .await
        .unwrap_or_else(|_| panic!("the probe hung past {limit:?} on {target}"))
}

fn ca_file(ca: &Ca) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &ca.pem).unwrap();
    (dir, path)
}

fn versions(o: &Observation) -> (Value, Value, Value) {
    (
        o.facts["protocols.accepted"].clone(),
        o.facts["protocols.rejected"].clone(),
        o.facts["protocols.inconclusive"].clone(),
    )
}

pub(crate) fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

/// `openssl s_server` on a free port; killed when dropped.
struct OpenSsl {
    child: Child,
    addr: SocketAddr,
}

impl Drop for OpenSsl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl_server(cert: &str, key: &str, version_args: &[&str]) -> OpenSsl {
    let openssl = require(
        which("openssl"),
        "the openssl CLI",
        "apt-get install openssl",
    );
    let (child, port) =
        crate::support::spawn_on_free_port("openssl s_server", Duration::from_secs(10), |port| {
            let mut cmd = Command::new(&openssl);
            cmd.args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
                .args(["-www", "-quiet"])
                .arg("-cert")
                .arg(fixture(&format!("tls/{cert}")))
                .arg("-key")
                .arg(fixture(&format!("tls/{key}")))
                .args(["-cipher", "DEFAULT:@SECLEVEL=0"])
                .args(version_args);
            cmd
        });
    OpenSsl {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    }
}

const ALL_13: &[&str] = &[
    "-ciphersuites",
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
];

#[derive(Clone, Copy)]
enum Hostile {
    Silent,
    Garbage,
    Http400,
    ResetAfterHello,
    Trickle,
    OversizedRecord,
    Flood,
}

async fn hostile_server(kind: Hostile) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                if !matches!(kind, Hostile::Silent) {
                    let _ = s.read(&mut buf).await;
                }
                match kind {
                    Hostile::Silent => tokio::time::sleep(Duration::from_secs(60)).await,
                    Hostile::Garbage => {
                        let junk: Vec<u8> =
                            (0..600u32).map(|i| (i * 131 % 251) as u8 | 0x80).collect();
                        let _ = s.write_all(&junk).await;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    Hostile::Http400 => {
                        let _ = s
                            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .await;
                    }
                    Hostile::ResetAfterHello => {
                        // SO_LINGER 0: closing sends a TCP reset instead of a FIN.
                        let _ = s.set_zero_linger();
                        drop(s);
                    }
                    Hostile::Trickle => {
                        let reply = [22u8, 3, 3, 0, 80, 2, 0, 0, 76, 3, 3];
                        for b in reply.iter().cycle().take(60) {
                            if s.write_all(&[*b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    Hostile::OversizedRecord => {
                        let mut reply = vec![22u8, 3, 3, 0xff, 0xff];
                        reply.extend(std::iter::repeat_n(0u8, 70_000));
                        let _ = s.write_all(&reply).await;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    Hostile::Flood => {
                        // Well-formed records holding one endless handshake message.
                        let mut first = vec![22u8, 3, 3, 0x40, 0x00, 2, 0x00, 0xff, 0xf0];
                        first.extend(std::iter::repeat_n(0u8, 0x4000 - 4));
                        if s.write_all(&first).await.is_err() {
                            return;
                        }
                        let mut next = vec![22u8, 3, 3, 0x40, 0x00];
                        next.extend(std::iter::repeat_n(0u8, 0x4000));
                        for _ in 0..1000 {
                            if s.write_all(&next).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

// ---------------------------------------------------------------------------------------------
// Version enumeration against rustls servers.

#[tokio::test]
async fn tls13_only_server_accepts_exactly_tls13() {
    let ca = test_ca();
    let addr = rustls_server(
        &[&rustls::version::TLS13],
        leaf(Some(&ca), &["app.test"], p256(), |_| {}),
        false,
    )
    .await;
    let (_d, ca_path) = ca_file(&ca);
    let o = observe(
        "app.test:443",
        &ctx(
            Some(ca_path),
            &[("app.test:443", addr)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        versions(&o),
        (
            json!(["TLSv1.3"]),
            json!(["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2"]),
            json!([])
        )
    );
    assert_eq!(o.facts["protocols.lowest"], "TLSv1.3");
    assert_eq!(o.facts["protocols.highest"], "TLSv1.3");
    assert_eq!(o.facts["negotiated.protocol"], "TLSv1.3");
    assert!(
        o.facts["negotiated.cipher"]
            .as_str()
            .unwrap()
            .starts_with("TLS_AES_")
            || o.facts["negotiated.cipher"]
                .as_str()
                .unwrap()
                .starts_with("TLS_CHACHA20")
    );
}

#[tokio::test]
async fn tls12_only_server_accepts_exactly_tls12() {
    let ca = test_ca();
    let addr = rustls_server(
        &[&rustls::version::TLS12],
        leaf(Some(&ca), &["app.test"], p256(), |_| {}),
        false,
    )
    .await;
    let (_d, ca_path) = ca_file(&ca);
    let o = observe(
        "app.test:443",
        &ctx(
            Some(ca_path),
            &[("app.test:443", addr)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        versions(&o),
        (
            json!(["TLSv1.2"]),
            json!(["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.3"]),
            json!([])
        )
    );
    assert_eq!(o.facts["protocols.lowest"], "TLSv1.2");
    assert_eq!(o.facts["protocols.highest"], "TLSv1.2");
    assert_eq!(o.facts["negotiated.protocol"], "TLSv1.2");
    assert!(
        o.facts["negotiated.cipher"]
            .as_str()
            .unwrap()
            .starts_with("TLS_ECDHE_ECDSA_WITH_")
    );
}

#[tokio::test]
async fn tls12_and_tls13_server_with_a_valid_chain_from_the_inventory_ca() {
    let ca = test_ca();
    let addr = rustls_server(
        &[&rustls::version::TLS13, &rustls::version::TLS12],
        leaf(Some(&ca), &["app.test", "*.app.test"], p256(), |_| {}),
        false,
    )
    .await;
    let (_d, ca_path) = ca_file(&ca);
    let o = observe(
        "https://app.test",
        &ctx(
            Some(ca_path),
            &[("app.test:443", addr)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        versions(&o),
        (
            json!(["TLSv1.2", "TLSv1.3"]),
            json!(["SSLv3", "TLSv1.0", "TLSv1.1"]),
            json!([])
        )
    );
    assert_eq!(o.facts["protocols.lowest"], "TLSv1.2");
    assert_eq!(o.facts["protocols.highest"], "TLSv1.3");
    assert_eq!(o.facts["versions.TLSv1.0"], "rejected");
    assert_eq!(o.facts["certificate.subject"], "CN=app.test");
    assert_eq!(o.facts["certificate.issuer"], "CN=vouch test CA");
    assert_eq!(
        o.facts["certificate.sans"],
        json!(["app.test", "*.app.test"])
    );
    assert_eq!(o.facts["certificate.hostname_matches"], true);
    assert_eq!(
        o.facts["certificate.chain_trusted"], true,
        "{:?}",
        o.facts["certificate.chain_error"]
    );
    assert_eq!(
        o.facts["certificate.valid"], true,
        "{:?}",
        o.facts["certificate.chain_error"]
    );
    assert_eq!(o.facts["certificate.chain_error"], Value::Null);
    assert_eq!(o.facts["certificate.self_signed"], false);
    assert_eq!(o.facts["certificate.key_type"], "EC");
    assert_eq!(o.facts["certificate.key_bits"], 256);
    assert_eq!(o.facts["certificate.key_curve"], "P-256");
    assert_eq!(
        o.facts["certificate.signature_algorithm"],
        "ecdsa-with-SHA256"
    );
    assert_eq!(
        o.facts["certificate.sha256_fingerprint"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert!(o.facts["certificate.days_remaining"].as_i64().unwrap() > 365);
    // Evidence: each hello's size, suite count and reply; the connection budget kept.
    let addr_ev = &o.evidence["addresses"][addr.to_string()];
    let hello = &addr_ev["versions"]["TLSv1.0"]["hellos"][0];
    assert!(hello["hello_bytes"].as_u64().unwrap() >= 512);
    assert!(hello["suites_offered"].as_u64().unwrap() > 10);
    assert_eq!(hello["reply"]["type"], "alert");
    assert_eq!(
        addr_ev["versions"]["TLSv1.3"]["hellos"][0]["reply"]["type"],
        "server_hello"
    );
    assert!(addr_ev["connections"].as_u64().unwrap() <= 8, "{addr_ev:#}");
    assert!(
        o.attachments
            .iter()
            .any(|a| a.name == "certificate.pem" && a.content.contains("BEGIN CERTIFICATE"))
    );
    assert!(o.attachments.iter().any(|a| a.name == "chain.pem"));
    // The spot-check table.
    let table = TlsProbe.render(&o).unwrap();
    assert!(table.contains("✓ TLSv1.3"), "{table}");
    assert!(table.contains("✗ TLSv1.0"), "{table}");
    assert!(table.contains("days left"), "{table}");
}

#[tokio::test]
async fn hello_retry_request_counts_as_tls13_acceptance() {
    let ca = test_ca();
    // Only P-256 on the server: vouch's x25519 key share draws a HelloRetryRequest.
    let addr = rustls_server(
        &[&rustls::version::TLS13],
        leaf(Some(&ca), &["app.test"], p256(), |_| {}),
        true,
    )
    .await;
    let o = observe(
        "app.test",
        &ctx(None, &[("app.test:443", addr)], Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(o.facts["versions.TLSv1.3"], "accepted");
    let reply =
        &o.evidence["addresses"][addr.to_string()]["versions"]["TLSv1.3"]["hellos"][0]["reply"];
    assert_eq!(reply["type"], "hello_retry_request");
}

/// A front for `backend` that never answers hellos asking for `silent_version` (its wire value),
/// and passes every other connection through: a server whose TLS 1.0 answer is lost.
async fn selectively_silent_front(backend: SocketAddr, silent_version: u16) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut first = vec![0u8; 8192];
                let Ok(n) = client.read(&mut first).await else {
                    return;
                };
                first.truncate(n);
                // Record header (5) + handshake header (4), then the client_version.
                if first.len() > 10 && u16::from_be_bytes([first[9], first[10]]) == silent_version {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                }
                let Ok(mut server) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                if server.write_all(&first).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_lost_tls10_answer_leaves_lowest_unobserved_never_a_silent_pass() {
    let ca = test_ca();
    let backend = rustls_server(
        &[&rustls::version::TLS13, &rustls::version::TLS12],
        leaf(Some(&ca), &["app.test"], p256(), |_| {}),
        false,
    )
    .await;
    let front = selectively_silent_front(backend, 0x0301).await;
    let o = observe(
        "app.test",
        &ctx(None, &[("app.test:443", front)], Duration::from_secs(3)),
    )
    .await
    .unwrap();
    // The accepted list is incomplete while TLS 1.0 is unanswered: unobserved, never [1.2, 1.3].
    assert!(!o.facts.contains_key("protocols.accepted"));
    assert_eq!(o.facts["protocols.inconclusive"], json!(["TLSv1.0"]));
    assert_eq!(o.facts["versions.TLSv1.0"], "inconclusive");
    assert!(!o.facts.contains_key("protocols.lowest"));
    let why = &o.unobserved["protocols.lowest"];
    assert!(why.contains("TLSv1.0: no answer in time"), "{why}");
    assert_eq!(o.facts["protocols.highest"], "TLSv1.3");
}

#[tokio::test]
async fn ipv6_literal_target_is_probed_and_matched_against_ip_sans() {
    let ca = test_ca();
    let cert = leaf(Some(&ca), &["::1"], p256(), |_| {});
    let mut provider_versions = vec![&rustls::version::TLS13];
    provider_versions.push(&rustls::version::TLS12);
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&provider_versions)
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(cert.0, cert.1)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = require(
        TcpListener::bind("[::1]:0").await.ok(),
        "an IPv6 loopback address",
        "enable IPv6 on lo",
    );
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    let (_d, ca_path) = ca_file(&ca);
    let o = observe(
        &format!("[::1]:{port}"),
        &ctx(Some(ca_path), &[], Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(o.facts["protocols.lowest"], "TLSv1.2");
    assert_eq!(o.facts["certificate.sans"], json!(["::1"]));
    assert_eq!(o.facts["certificate.hostname_matches"], true);
    assert_eq!(
        o.facts["certificate.valid"], true,
        "{:?}",
        o.facts["certificate.chain_error"]
    );
    assert!(
        o.evidence["addresses"]
            .get(format!("[::1]:{port}"))
            .is_some()
    );
}

// ---------------------------------------------------------------------------------------------
// Certificates.

async fn cert_observation(
    names: &[&str],
    key: KeyPair,
    tweak: impl FnOnce(&mut CertificateParams),
    signed: bool,
) -> Observation {
    let ca = test_ca();
    let cert = leaf(signed.then_some(&ca), names, key, tweak);
    let addr = rustls_server(
        &[&rustls::version::TLS13, &rustls::version::TLS12],
        cert,
        false,
    )
    .await;
    let (_d, ca_path) = ca_file(&ca);
    observe(
        "app.test",
        &ctx(
            Some(ca_path),
            &[("app.test:443", addr)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn expired_certificate_is_trusted_but_not_valid() {
    let o = cert_observation(
        &["app.test"],
        p256(),
        |p| {
            p.not_before = date_time_ymd(2020, 1, 1);
            p.not_after = date_time_ymd(2021, 1, 1);
        },
        true,
    )
    .await;
    assert_eq!(
        o.facts["certificate.chain_trusted"], true,
        "{:?}",
        o.facts["certificate.chain_error"]
    );
    assert_eq!(o.facts["certificate.valid"], false);
    assert!(o.facts["certificate.days_remaining"].as_i64().unwrap() < -1000);
    assert_eq!(o.facts["certificate.not_after"], "2021-01-01T00:00:00Z");
    let err = o.facts["certificate.chain_error"].as_str().unwrap();
    assert!(err.contains("expired on 2021-01-01"), "{err}");
}

#[tokio::test]
async fn not_yet_valid_certificate_is_trusted_but_not_valid() {
    let o = cert_observation(
        &["app.test"],
        p256(),
        |p| {
            p.not_before = date_time_ymd(2090, 1, 1);
            p.not_after = date_time_ymd(2091, 1, 1);
        },
        true,
    )
    .await;
    assert_eq!(
        o.facts["certificate.chain_trusted"], true,
        "{:?}",
        o.facts["certificate.chain_error"]
    );
    assert_eq!(o.facts["certificate.valid"], false);
    let err = o.facts["certificate.chain_error"].as_str().unwrap();
    assert!(err.contains("not valid before 2090-01-01"), "{err}");
}

#[tokio::test]
async fn wrong_hostname_is_trusted_but_does_not_match() {
    let o = cert_observation(&["other.test"], p256(), |_| {}, true).await;
    assert_eq!(o.facts["certificate.hostname_matches"], false);
    assert_eq!(o.facts["certificate.chain_trusted"], true);
    assert_eq!(o.facts["certificate.valid"], false);
    let err = o.facts["certificate.chain_error"].as_str().unwrap();
    assert!(
        err.contains("app.test is not among the certificate's names (other.test)"),
        "{err}"
    );
}

#[tokio::test]
async fn self_signed_certificate_is_not_trusted() {
    let o = cert_observation(&["app.test"], p256(), |_| {}, false).await;
    assert_eq!(o.facts["certificate.self_signed"], true);
    assert_eq!(o.facts["certificate.chain_trusted"], false);
    assert_eq!(o.facts["certificate.valid"], false);
    assert_eq!(o.facts["certificate.hostname_matches"], true);
    let err = o.facts["certificate.chain_error"].as_str().unwrap();
    assert!(err.contains("self-signed"), "{err}");
}

#[tokio::test]
async fn rsa_2048_certificate_reads_exactly() {
    let o = cert_observation(&["app.test"], rsa2048(), |_| {}, true).await;
    assert_eq!(o.facts["certificate.key_type"], "RSA");
    assert_eq!(o.facts["certificate.key_bits"], 2048);
    assert_eq!(o.facts["certificate.key_curve"], Value::Null);
    assert_eq!(
        o.facts["certificate.valid"], true,
        "{:?}",
        o.facts["certificate.chain_error"]
    );
}

#[tokio::test]
async fn certificate_without_the_inventory_ca_is_untrusted() {
    let ca = test_ca();
    let addr = rustls_server(
        &[&rustls::version::TLS13],
        leaf(Some(&ca), &["app.test"], p256(), |_| {}),
        false,
    )
    .await;
    let o = observe(
        "app.test",
        &ctx(None, &[("app.test:443", addr)], Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(o.facts["certificate.chain_trusted"], false);
    let err = o.facts["certificate.chain_error"].as_str().unwrap();
    assert!(err.contains("no path to a trusted root"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Legacy versions with openssl s_server.

#[tokio::test]
async fn openssl_tls10_only_server_is_read_with_raw_hellos_and_its_certificate() {
    let server = openssl_server("legacy.pem", "legacy.key", &["-tls1"]);
    let o = observe(
        "legacy.test",
        &ctx(
            Some(fixture("tls/ca.pem")),
            &[("legacy.test:443", server.addr)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap();
    let (accepted, rejected, inconclusive) = versions(&o);
    assert_eq!(accepted, json!(["TLSv1.0"]), "{:#}", o.evidence["versions"]);
    // Asked for 1.1 or 1.2, a 1.0-only server answers with a TLS 1.0 ServerHello: its highest
    // version (RFC 5246 E.1), so 1.1 and 1.2 are proven rejected and `highest` is observed.
    // Old rule (wrong answer prevented): "downgrade", 1.1/1.2 inconclusive, highest unobserved.
    assert_eq!(
        rejected,
        json!(["SSLv3", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
        "{:#}",
        o.evidence["versions"]
    );
    assert_eq!(inconclusive, json!([]));
    let why = o.evidence["versions"]["TLSv1.2"]["reason"]
        .as_str()
        .unwrap();
    assert!(why.contains("server's highest is TLSv1.0"), "{why}");
    assert_eq!(o.facts["protocols.lowest"], "TLSv1.0");
    assert_eq!(o.facts["protocols.highest"], "TLSv1.0");
    // rustls cannot connect; the chain comes from the plaintext Certificate message.
    assert_eq!(o.facts["certificate.subject"], "CN=legacy.test");
    assert_eq!(
        o.facts["certificate.chain_trusted"], true,
        "{:?}",
        o.facts["certificate.chain_error"]
    );
    assert_eq!(
        o.facts["certificate.valid"], true,
        "{:?}",
        o.facts["certificate.chain_error"]
    );
    assert!(
        o.evidence["chain_source"]
            .as_str()
            .unwrap()
            .contains("plaintext Certificate")
    );
    assert_eq!(o.facts["negotiated.protocol"], "TLSv1.0");
}

#[tokio::test]
async fn openssl_tls11_only_server_is_read_with_raw_hellos() {
    let server = openssl_server("legacy.pem", "legacy.key", &["-tls1_1"]);
    let o = observe(
        "legacy.test",
        &ctx(
            Some(fixture("tls/ca.pem")),
            &[("legacy.test:443", server.addr)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap();
    let (accepted, rejected, _) = versions(&o);
    assert_eq!(accepted, json!(["TLSv1.1"]), "{:#}", o.evidence["versions"]);
    assert_eq!(
        rejected,
        json!(["SSLv3", "TLSv1.0", "TLSv1.2", "TLSv1.3"]),
        "{:#}",
        o.evidence["versions"]
    );
    // A TLS 1.1 ServerHello to the TLS 1.2 hello: 1.1 is the server's highest.
    assert_eq!(o.facts["versions.TLSv1.2"], "rejected");
    assert_eq!(o.facts["protocols.lowest"], "TLSv1.1");
    assert_eq!(o.facts["protocols.highest"], "TLSv1.1");
    assert_eq!(o.facts["certificate.subject"], "CN=legacy.test");
}

#[tokio::test]
async fn openssl_tls10_to_tls13_server_accepts_all_four() {
    let mut args = vec!["-min_protocol", "TLSv1"];
    args.extend_from_slice(ALL_13);
    let server = openssl_server("legacy.pem", "legacy.key", &args);
    let o = observe(
        "legacy.test",
        &ctx(
            Some(fixture("tls/ca.pem")),
            &[("legacy.test:443", server.addr)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        versions(&o),
        (
            json!(["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
            json!(["SSLv3"]),
            json!([])
        ),
        "{:#}",
        o.evidence["versions"]
    );
    assert_eq!(o.facts["protocols.lowest"], "TLSv1.0");
    assert_eq!(o.facts["protocols.highest"], "TLSv1.3");
    assert_eq!(o.facts["negotiated.protocol"], "TLSv1.3");
    assert_eq!(o.facts["certificate.key_bits"], 2048);
    assert_eq!(
        o.facts["certificate.signature_algorithm"],
        "sha256WithRSAEncryption"
    );
}

/// Observes an openssl server of the fixture CA's certificate `cert` for `name`.
async fn observe_openssl(server: &OpenSsl, name: &str) -> Observation {
    observe(
        name,
        &ctx(
            Some(fixture("tls/ca.pem")),
            &[(&format!("{name}:443"), server.addr)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn ffdhe4096_only_tls13_server_is_accepted() {
    // Wrong answer prevented: a hello without ffdhe4096 among its groups is refused, and
    // TLS 1.3 was called rejected on a server that speaks it.
    let server = openssl_server(
        "legacy.pem",
        "legacy.key",
        &["-tls1_3", "-groups", "ffdhe4096"],
    );
    let o = observe_openssl(&server, "legacy.test").await;
    assert_eq!(
        versions(&o),
        (
            json!(["TLSv1.3"]),
            json!(["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2"]),
            json!([])
        ),
        "{:#}",
        o.evidence["versions"]
    );
    let reply = &o.evidence["addresses"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["versions"]["TLSv1.3"]["hellos"][0]["reply"];
    assert_eq!(reply["type"], "hello_retry_request", "{reply}");
}

#[tokio::test]
async fn brainpool_only_tls12_server_is_accepted() {
    // Only ECDHE suites, only brainpoolP256r1: a hello that does not offer that group is refused.
    let server = openssl_server(
        "legacy.pem",
        "legacy.key",
        &[
            "-tls1_2",
            "-groups",
            "brainpoolP256r1",
            "-cipher",
            "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA",
        ],
    );
    let o = observe_openssl(&server, "legacy.test").await;
    assert_eq!(
        o.facts["versions.TLSv1.2"], "accepted",
        "{:#}",
        o.evidence["versions"]
    );
    assert_eq!(o.facts["protocols.accepted"], json!(["TLSv1.2"]));
    assert_eq!(o.facts["protocols.highest"], "TLSv1.2");
    assert_eq!(o.facts["protocols.lowest"], "TLSv1.2");
}

#[tokio::test]
async fn rsa_pss_certificate_server_is_accepted_and_its_certificate_read() {
    // An RSA-PSS key signs only with rsa_pss_pss_* schemes; a hello without them is refused.
    let mut args = vec!["-min_protocol", "TLSv1.2"];
    args.extend_from_slice(ALL_13);
    let server = openssl_server("pss.pem", "pss.key", &args);
    let o = observe_openssl(&server, "pss.test").await;
    assert_eq!(
        versions(&o),
        (
            json!(["TLSv1.2", "TLSv1.3"]),
            json!(["SSLv3", "TLSv1.0", "TLSv1.1"]),
            json!([])
        ),
        "{:#}",
        o.evidence["versions"]
    );
    assert_eq!(o.facts["certificate.subject"], "CN=pss.test");
}

/// A front for `backend` that serves at most `cap` connections at once and resets the others:
/// a connection-capped server.
async fn capped_front(backend: SocketAddr, cap: usize) -> SocketAddr {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let busy = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            if busy.fetch_add(1, Ordering::SeqCst) >= cap {
                busy.fetch_sub(1, Ordering::SeqCst);
                let _ = client.set_zero_linger();
                drop(client);
                continue;
            }
            let busy = busy.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
                busy.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_reset_from_a_connection_cap_is_re_tested_not_called_rejected() {
    // Wrong answer prevented: TLS 1.2 or 1.3 "rejected" because the cap reset their hello.
    let mut args = vec!["-min_protocol", "TLSv1.2"];
    args.extend_from_slice(ALL_13);
    let server = openssl_server("legacy.pem", "legacy.key", &args);
    let front = capped_front(server.addr, 1).await;
    let o = observe(
        "legacy.test",
        &ctx(
            Some(fixture("tls/ca.pem")),
            &[("legacy.test:443", front)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        versions(&o),
        (
            json!(["TLSv1.2", "TLSv1.3"]),
            json!(["SSLv3", "TLSv1.0", "TLSv1.1"]),
            json!([])
        ),
        "{:#}",
        o.evidence["addresses"]
    );
    // The cap did bite (some hello was reset), and every reset version was asked again.
    let addr = o.evidence["addresses"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let mut retested = 0;
    for (v, r) in addr["versions"].as_object().unwrap() {
        let hellos = r["hellos"].as_array().unwrap();
        if hellos[0]["reply"]["type"] == "reset" {
            retested += 1;
            assert!(hellos.len() >= 2, "{v}: a reset was not re-tested: {r:#}");
            assert_ne!(
                hellos.last().unwrap()["reply"]["type"],
                "reset",
                "{v}: {r:#}"
            );
        }
    }
    assert!(retested > 0, "the cap never reset a hello: {addr:#}");
}

#[tokio::test]
async fn rsa_1024_certificate_is_read_exactly_and_not_valid() {
    let server = openssl_server("rsa1024.pem", "rsa1024.key", &[]);
    let o = observe(
        "weak.test",
        &ctx(
            Some(fixture("tls/ca.pem")),
            &[("weak.test:443", server.addr)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap();
    assert_eq!(o.facts["certificate.key_type"], "RSA");
    assert_eq!(o.facts["certificate.key_bits"], 1024);
    assert_eq!(
        o.facts["certificate.chain_trusted"], true,
        "{:?}",
        o.facts["certificate.chain_error"]
    );
    assert_eq!(o.facts["certificate.valid"], false);
    let err = o.facts["certificate.chain_error"].as_str().unwrap();
    assert!(err.contains("RSA key of 1024 bits"), "{err}");
}

#[tokio::test]
async fn sha1_signed_certificate_is_named_and_not_trusted() {
    let server = openssl_server("sha1.pem", "sha1.key", &[]);
    let o = observe(
        "sha1.test",
        &ctx(
            Some(fixture("tls/ca.pem")),
            &[("sha1.test:443", server.addr)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        o.facts["certificate.signature_algorithm"],
        "sha1WithRSAEncryption"
    );
    assert_eq!(o.facts["certificate.chain_trusted"], false);
    let err = o.facts["certificate.chain_error"].as_str().unwrap();
    assert!(err.contains("sha1WithRSAEncryption"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Hostile peers: never a panic, never past the timeout, never unbounded memory.

async fn hostile(kind: Hostile) -> Observation {
    let addr = hostile_server(kind).await;
    observe(&addr.to_string(), &ctx(None, &[], Duration::from_secs(3)))
        .await
        .expect("an observation with inconclusive facts")
}

#[tokio::test]
async fn silent_server_is_inconclusive_within_the_timeout() {
    let o = hostile(Hostile::Silent).await;
    // No answer is not "nothing accepted": the list is unobserved, so `not in` cannot pass.
    assert!(o.unobserved.contains_key("protocols.accepted"));
    assert_eq!(
        o.facts["protocols.inconclusive"],
        json!(["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"])
    );
    assert!(o.unobserved.contains_key("protocols.lowest"));
    assert!(o.unobserved.contains_key("certificate.valid"));
    assert!(
        o.evidence["versions"]["TLSv1.2"]["reason"]
            .as_str()
            .unwrap()
            .contains("no answer")
    );
}

#[tokio::test]
async fn garbage_is_not_a_tls_port() {
    let o = hostile(Hostile::Garbage).await;
    // Nothing accepted (the list is unobserved while a version is inconclusive).
    assert!(
        o.facts
            .get("protocols.accepted")
            .is_none_or(|l| l == &json!([]))
    );
    // Nothing rejected (the list is unobserved while a version is inconclusive).
    assert!(
        o.facts
            .get("protocols.rejected")
            .is_none_or(|l| l == &json!([]))
    );
    assert!(
        o.evidence["versions"]["TLSv1.2"]["reason"]
            .as_str()
            .unwrap()
            .contains("not a TLS port")
    );
}

#[tokio::test]
async fn http_400_is_not_a_tls_port() {
    let o = hostile(Hostile::Http400).await;
    assert_eq!(
        o.facts["protocols.inconclusive"],
        json!(["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"])
    );
    let reason = o.evidence["versions"]["TLSv1.0"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.contains("not a TLS port") && reason.contains("HTTP/1.1 400"),
        "{reason}"
    );
    assert!(o.unobserved.contains_key("protocols.lowest"));
}

#[tokio::test]
async fn reset_after_hello_is_survived() {
    let o = hostile(Hostile::ResetAfterHello).await;
    // Nothing accepted (the list is unobserved while a version is inconclusive).
    assert!(
        o.facts
            .get("protocols.accepted")
            .is_none_or(|l| l == &json!([]))
    );
    assert_eq!(
        o.evidence["addresses"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()["versions"]["TLSv1.2"]["hellos"][0]["reply"]["type"],
        "reset"
    );
}

#[tokio::test]
async fn one_byte_per_second_trickle_ends_at_the_timeout() {
    let o = hostile(Hostile::Trickle).await;
    // Nothing accepted (the list is unobserved while a version is inconclusive).
    assert!(
        o.facts
            .get("protocols.accepted")
            .is_none_or(|l| l == &json!([]))
    );
    assert!(
        o.evidence["versions"]["TLSv1.3"]["reason"]
            .as_str()
            .unwrap()
            .contains("in time")
    );
}

#[tokio::test]
async fn record_longer_than_16k_is_refused() {
    let o = hostile(Hostile::OversizedRecord).await;
    let reason = o.evidence["versions"]["TLSv1.2"]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("16 KiB"), "{reason}");
}

#[tokio::test]
async fn endless_handshake_message_stops_at_the_read_cap() {
    let o = hostile(Hostile::Flood).await;
    // Nothing accepted (the list is unobserved while a version is inconclusive).
    assert!(
        o.facts
            .get("protocols.accepted")
            .is_none_or(|l| l == &json!([]))
    );
    assert_eq!(o.facts["versions.TLSv1.2"], "inconclusive");
}

#[tokio::test]
async fn closed_port_is_an_unreachable_error() {
    // Bound but never listening: refused, and the port cannot go to another test meanwhile.
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = closed.local_addr().unwrap().port();
    let err = observe(
        &format!("127.0.0.1:{port}"),
        &ctx(None, &[], Duration::from_secs(3)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind, vouch::probe::ProbeErrorKind::Unreachable);
    assert!(err.hint.is_some());
}

#[test]
fn tls_probe_is_registered_with_its_facts() {
    let registry = vouch::probe::Registry::builtin();
    let tls = registry.get("tls").expect("tls registered");
    for f in [
        "protocols.lowest",
        "versions.TLSv1.0",
        "certificate.chain_trusted",
        "certificate.valid",
    ] {
        assert!(tls.fact_spec(f).is_some(), "{f}");
    }
    assert!(tls.check_target("https://app.example.com:8443").is_ok());
    assert!(tls.check_target("ftp://x").is_err());
}

// ---------------------------------------------------------------------------------------------
// End to end: a control on `protocols.lowest`, run with `vouch check`.

const MIN_TLS12_CONTROL: &str = r#"
[[control]]
id = "ENC-TRANSIT-TLS12"
title = "Endpoints accept only TLS 1.2 or higher"
claim = "In transit — TLS 1.2 or higher for every connection."
severity = "high"
probe = "tls"
targets = "public_endpoints"
remediation = "Disable SSLv3, TLS 1.0 and TLS 1.1 on the listener."
expect = [
  { fact = "protocols.lowest", op = ">=", value = "TLSv1.2" },
]
"#;

fn check_min_tls12(server: &OpenSsl) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let port = server.addr.port();
    std::fs::write(dir.path().join("controls.toml"), MIN_TLS12_CONTROL).unwrap();
    std::fs::write(
        dir.path().join("vouch.toml"),
        format!(
            "[targets]\npublic_endpoints = [\"legacy.test:{port}\"]\n\n[resolve]\n\"legacy.test:{port}\" = \"{}\"\n\n[tls]\nca_file = {:?}\n",
            server.addr,
            fixture("tls/ca.pem").display().to_string()
        ),
    )
    .unwrap();
    let out = crate::support::vouch()
        .current_dir(dir.path())
        .args([
            "check",
            "--controls",
            "controls.toml",
            "--inventory",
            "vouch.toml",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

#[test]
fn min_tls12_control_passes_on_a_tls12_and_tls13_server() {
    let mut args = vec!["-min_protocol", "TLSv1.2"];
    args.extend_from_slice(ALL_13);
    let server = openssl_server("legacy.pem", "legacy.key", &args);
    let (code, report) = check_min_tls12(&server);
    let result = &report["controls"][0]["results"][0];
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(result["verdict"], "pass");
    assert_eq!(result["checks"][0]["observed"], "TLSv1.2");
}

#[test]
fn min_tls12_control_fails_on_a_tls10_to_tls13_server_naming_the_version() {
    let mut args = vec!["-min_protocol", "TLSv1"];
    args.extend_from_slice(ALL_13);
    let server = openssl_server("legacy.pem", "legacy.key", &args);
    let (code, report) = check_min_tls12(&server);
    let result = &report["controls"][0]["results"][0];
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(result["verdict"], "fail");
    assert_eq!(result["checks"][0]["observed"], "TLSv1.0");
    // The observation behind the verdict is in the report, with its per-version evidence.
    let obs_id = result["observation"].as_str().unwrap();
    let obs = &report["observations"][obs_id];
    assert_eq!(obs["facts"]["versions.TLSv1.0"], "accepted");
    assert!(obs["evidence"]["addresses"].is_object());
}

// ---------------------------------------------------------------------------------------------
// Every address, every certificate.

/// A context mapping `name` to several addresses (a `[resolve]` list), scanning `family`.
fn ctx_multi(
    ca_file: Option<PathBuf>,
    name: &str,
    addrs: &[SocketAddr],
    family: vouch::inventory::IpFamily,
) -> ProbeContext {
    let mut inv = Inventory::default();
    inv.tls.ca_file = ca_file;
    inv.tls.ip_family = family;
    // As a `[resolve]` list maps it (per-address ports, which loopback servers need).
    inv.resolve.insert(name.to_string(), addrs[0]);
    inv.resolve_more
        .insert(name.to_string(), addrs[1..].to_vec());
    ProbeContext::new(
        Arc::new(inv),
        ProbeOptions {
            timeout: Duration::from_secs(10),
            ..ProbeOptions::default()
        },
    )
}

#[tokio::test]
async fn two_addresses_with_different_certificates_report_the_worst() {
    // Wrong answer prevented: `certificate.valid = true` from the first address while the
    // second serves an expired certificate.
    let ca = test_ca();
    let good = rustls_server(
        &[&rustls::version::TLS13],
        leaf(Some(&ca), &["app.test"], p256(), |_| {}),
        false,
    )
    .await;
    let expired = rustls_server(
        &[&rustls::version::TLS13],
        leaf(Some(&ca), &["app.test"], p256(), |p| {
            p.not_before = date_time_ymd(2020, 1, 1);
            p.not_after = date_time_ymd(2021, 1, 1);
        }),
        false,
    )
    .await;
    let (_d, ca_path) = ca_file(&ca);
    for addrs in [[good, expired], [expired, good]] {
        let o = observe(
            "app.test",
            &ctx_multi(
                Some(ca_path.clone()),
                "app.test:443",
                &addrs,
                vouch::inventory::IpFamily::Any,
            ),
        )
        .await
        .unwrap();
        assert_eq!(o.facts["addresses.scanned"].as_array().unwrap().len(), 2);
        assert_eq!(o.facts["certificate.valid"], false, "{addrs:?}");
        assert_eq!(o.facts["certificate.chain_trusted"], true);
        assert!(o.facts["certificate.days_remaining"].as_i64().unwrap() < 0);
        let why = o.facts["certificate.chain_error"].as_str().unwrap();
        assert!(
            why.contains("expired") && why.contains(&expired.to_string()),
            "{why}"
        );
        assert_eq!(o.evidence["certificates"].as_array().unwrap().len(), 2);
        assert_eq!(o.evidence["certificate_differs_between_addresses"], true);
    }
}

#[tokio::test]
async fn an_unroutable_address_beside_a_reachable_one_is_listed_and_left_out() {
    let ca = test_ca();
    let good = rustls_server(
        &[&rustls::version::TLS13, &rustls::version::TLS12],
        leaf(Some(&ca), &["app.test"], p256(), |_| {}),
        false,
    )
    .await;
    // TCP to the broadcast address: Linux answers ENETUNREACH at once.
    let nowhere: SocketAddr = "255.255.255.255:443".parse().unwrap();
    let (_d, ca_path) = ca_file(&ca);
    let o = observe(
        "app.test",
        &ctx_multi(
            Some(ca_path),
            "app.test:443",
            &[nowhere, good],
            vouch::inventory::IpFamily::Any,
        ),
    )
    .await
    .unwrap();
    let unreachable = o.facts["addresses.unreachable"].as_array().unwrap();
    assert_eq!(unreachable.len(), 1, "{unreachable:?}");
    assert!(
        unreachable[0]
            .as_str()
            .unwrap()
            .starts_with("255.255.255.255:443"),
        "{unreachable:?}"
    );
    assert_eq!(o.facts["addresses.scanned"], json!([good.to_string()]));
    // The unreachable address did not make the versions inconclusive.
    assert_eq!(o.facts["protocols.lowest"], "TLSv1.2");
    assert_eq!(o.facts["certificate.valid"], true);
}

#[tokio::test]
async fn ip_family_4_scans_only_the_ipv4_addresses() {
    let ca = test_ca();
    let good = rustls_server(
        &[&rustls::version::TLS13],
        leaf(Some(&ca), &["app.test"], p256(), |_| {}),
        false,
    )
    .await;
    // A closed IPv6 port: scanned, it would be refused and make the facts inconclusive.
    let v6: SocketAddr = "[::1]:9".parse().unwrap();
    let (_d, ca_path) = ca_file(&ca);
    let o = observe(
        "app.test",
        &ctx_multi(
            Some(ca_path.clone()),
            "app.test:443",
            &[v6, good],
            vouch::inventory::IpFamily::V4,
        ),
    )
    .await
    .unwrap();
    assert_eq!(o.facts["addresses.scanned"], json!([good.to_string()]));
    assert_eq!(o.facts["protocols.highest"], "TLSv1.3");
    // Family 6 with no IPv6 address but a closed one: nothing else is scanned.
    let err = observe(
        "app.test",
        &ctx_multi(
            Some(ca_path),
            "app.test:443",
            &[good],
            vouch::inventory::IpFamily::V6,
        ),
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("IP family"), "{}", err.message);
}

#[tokio::test]
async fn rsa_and_ecdsa_certificates_are_both_read() {
    let server = openssl_server(
        "legacy.pem",
        "legacy.key",
        &[
            "-dcert",
            &fixture("tls/ecdsa.pem").display().to_string(),
            "-dkey",
            &fixture("tls/ecdsa.key").display().to_string(),
        ],
    );
    let o = observe_openssl(&server, "legacy.test").await;
    let certs = o.evidence["certificates"].as_array().unwrap();
    let mut keys: Vec<&str> = certs
        .iter()
        .map(|c| c["chain"][0]["key"].as_str().unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, ["EC 256", "RSA 2048"], "{certs:#?}");
    assert_eq!(o.facts["certificate.valid"], true);
}

#[tokio::test]
async fn an_expired_extra_certificate_off_the_client_path_does_not_make_it_invalid() {
    // An old cross-sign: the CA's name and key, signed by a retired root, long expired. A client
    // builds leaf -> CA (a trusted root) and never uses it.
    let ca = test_ca();
    let old_root_key = p256();
    let mut old_root = CertificateParams::new(Vec::<String>::new()).unwrap();
    old_root
        .distinguished_name
        .push(DnType::CommonName, "retired root");
    old_root.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let mut cross = ca.params.clone();
    cross.not_before = date_time_ymd(2015, 1, 1);
    cross.not_after = date_time_ymd(2020, 1, 1);
    let cross = cross
        .signed_by(&ca.key, &Issuer::from_params(&old_root, &old_root_key))
        .unwrap();
    let (mut chain, key) = leaf(Some(&ca), &["app.test"], p256(), |_| {});
    chain.push(cross.der().clone());
    let addr = rustls_server(&[&rustls::version::TLS13], (chain, key), false).await;
    let (_d, ca_path) = ca_file(&ca);
    let o = observe(
        "app.test",
        &ctx(
            Some(ca_path),
            &[("app.test:443", addr)],
            Duration::from_secs(10),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        o.facts["certificate.valid"], true,
        "{:?}",
        o.facts["certificate.chain_error"]
    );
    assert_eq!(o.evidence["chain"][1]["on_trusted_path"], false);
}

const CERT_VALID_CONTROL: &str = r#"
[[control]]
id = "TLS-CERT-VALID"
title = "Certificates are valid"
severity = "high"
probe = "tls"
targets = "public_endpoints"
expect = [
  { fact = "certificate.valid", op = "==", value = true },
]
"#;

fn check_with_inventory(inventory: &str) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("controls.toml"), CERT_VALID_CONTROL).unwrap();
    std::fs::write(dir.path().join("vouch.toml"), inventory).unwrap();
    let out = crate::support::vouch()
        .current_dir(dir.path())
        .args([
            "check",
            "--controls",
            "controls.toml",
            "--inventory",
            "vouch.toml",
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), report, stderr)
}

#[test]
fn a_resolve_list_in_the_inventory_scans_every_address_and_fails_on_the_bad_one() {
    let good = openssl_server("legacy.pem", "legacy.key", &[]);
    let weak = openssl_server("rsa1024.pem", "rsa1024.key", &[]);
    let ca = fixture("tls/ca.pem").display().to_string();
    let inventory = format!(
        "[targets]\npublic_endpoints = [\"legacy.test:443\"]\n\n[resolve]\n\"legacy.test:443\" = [\"{}\", \"{}\"]\n\n[tls]\nca_file = {ca:?}\nip_family = \"4\"\n",
        good.addr, weak.addr
    );
    let (code, report, stderr) = check_with_inventory(&inventory);
    assert_eq!(code, 1, "{stderr}\n{report:#}");
    let result = &report["controls"][0]["results"][0];
    assert_eq!(result["verdict"], "fail");
    let obs = &report["observations"][result["observation"].as_str().unwrap()];
    assert_eq!(
        obs["facts"]["addresses.scanned"],
        json!([good.addr.to_string(), weak.addr.to_string()])
    );
}

#[test]
fn a_bad_ip_family_is_a_load_error_naming_the_valid_values() {
    let (code, _, stderr) = check_with_inventory(
        "[targets]\npublic_endpoints = [\"legacy.test:443\"]\n\n[tls]\nip_family = \"5\"\n",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("ip_family") && stderr.contains("\"4\", \"6\" or \"any\""),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Cipher suites.

async fn observe_ciphers(server: &OpenSsl) -> Observation {
    let ctx = ctx(
        Some(fixture("tls/ca.pem")),
        &[("legacy.test:443", server.addr)],
        Duration::from_secs(20),
    );
    let ctx = ctx.with_facts_used(
        [(
            "tls".to_string(),
            ["ciphers.TLSv1.2".to_string()].into_iter().collect(),
        )]
        .into(),
    );
    observe("legacy.test", &ctx).await.unwrap()
}

#[tokio::test]
async fn accepted_suites_are_exactly_the_configured_ones_in_server_order() {
    // Wrong answers prevented: a suite missed or invented, the server's order lost, CBC-SHA1
    // not called legacy, a NULL cipher not called weak, forward secrecy claimed with RSA key exchange.
    let server = openssl_server(
        "legacy.pem",
        "legacy.key",
        &[
            "-min_protocol",
            "TLSv1.2",
            "-cipher",
            "ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-NULL-SHA:@SECLEVEL=0",
            "-ciphersuites",
            "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
            "-serverpref",
        ],
    );
    let o = observe_ciphers(&server).await;
    assert_eq!(
        o.facts["ciphers.TLSv1.2"],
        json!([
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_NULL_SHA"
        ]),
        "{:#}",
        o.evidence["addresses"]
    );
    assert_eq!(
        o.facts["ciphers.TLSv1.3"],
        json!(["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384"])
    );
    assert_eq!(o.facts["ciphers.TLSv1.0"], json!([]));
    assert_eq!(o.facts["ciphers.server_preference"], true);
    assert_eq!(
        o.facts["ciphers.weak"],
        json!(["TLS_ECDHE_RSA_WITH_NULL_SHA"])
    );
    assert_eq!(
        o.facts["ciphers.legacy"],
        json!(["TLS_RSA_WITH_AES_128_CBC_SHA"])
    );
    assert_eq!(o.facts["ciphers.forward_secrecy_all"], false);
}

#[tokio::test]
async fn client_order_server_is_not_server_preference_and_fs_only_is_forward_secret() {
    let server = openssl_server(
        "legacy.pem",
        "legacy.key",
        &[
            "-tls1_2",
            "-cipher",
            "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384",
        ],
    );
    let o = observe_ciphers(&server).await;
    let mut got: Vec<String> = serde_json::from_value(o.facts["ciphers.TLSv1.2"].clone()).unwrap();
    got.sort();
    assert_eq!(
        got,
        [
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        ]
    );
    assert_eq!(o.facts["ciphers.server_preference"], false);
    assert_eq!(o.facts["ciphers.forward_secrecy_all"], true);
    assert_eq!(o.facts["ciphers.weak"], json!([]));
}

#[tokio::test]
async fn without_a_cipher_control_no_suite_is_enumerated() {
    let server = openssl_server("legacy.pem", "legacy.key", &["-tls1_2"]);
    let o = observe_openssl(&server, "legacy.test").await;
    assert!(o.unobserved.contains_key("ciphers.TLSv1.2"));
    // 5 hellos, the TLS 1.2 retry at most, the handshake and the other-family handshake.
    let connections = o.evidence["connections"].as_u64().unwrap();
    assert!(connections <= 8, "{connections} connections");
}

#[test]
fn vouch_probe_tls_ciphers_prints_the_suites() {
    let server = openssl_server(
        "legacy.pem",
        "legacy.key",
        &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
    );
    let out = crate::support::vouch()
        .args([
            "probe",
            "tls",
            &format!("legacy.test:{}", server.addr.port()),
        ])
        .args([
            "--resolve",
            &format!("legacy.test:{}:127.0.0.1", server.addr.port()),
        ])
        .args(["--ciphers", "--format", "json"])
        .output()
        .unwrap();
    let obs: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        obs["facts"]["ciphers.TLSv1.2"],
        json!(["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
    );
    // --ciphers also enumerates the groups: OpenSSL 3's default curves for TLS 1.2 ECDHE.
    let mut groups: Vec<String> =
        serde_json::from_value(obs["facts"]["groups.accepted"].clone()).unwrap();
    groups.sort();
    assert_eq!(
        groups,
        ["secp256r1", "secp384r1", "secp521r1", "x25519", "x448"]
    );
    // The on-call view shows them too (prevents: --ciphers enumerating suites the table hides).
    let out = crate::support::vouch()
        .args([
            "probe",
            "tls",
            &format!("legacy.test:{}", server.addr.port()),
        ])
        .args([
            "--resolve",
            &format!("legacy.test:{}:127.0.0.1", server.addr.port()),
        ])
        .arg("--ciphers")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("Cipher suites"), "{table}");
    assert!(
        table.contains("TLSv1.2  ✓        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        "{table}"
    );
    assert!(table.contains("x25519"), "{table}");
}

// ---------------------------------------------------------------------------------------------
// Key-exchange groups.

async fn observe_groups(server: &OpenSsl) -> Observation {
    let ctx = ctx(
        Some(fixture("tls/ca.pem")),
        &[("legacy.test:443", server.addr)],
        Duration::from_secs(20),
    );
    let ctx = ctx.with_facts_used(
        [(
            "tls".to_string(),
            ["groups.accepted".to_string()].into_iter().collect(),
        )]
        .into(),
    );
    observe("legacy.test", &ctx).await.unwrap()
}

fn sorted_list(v: &Value) -> Vec<String> {
    let mut got: Vec<String> =
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
    got.sort();
    got
}

#[tokio::test]
async fn accepted_groups_are_exactly_the_configured_ones_over_tls12_and_tls13() {
    // Wrong answers prevented: a group missed (only the first choice reported), a group invented
    // (everything offered reported), tls-parser's Rust names instead of the IANA ones.
    let server = openssl_server(
        "legacy.pem",
        "legacy.key",
        &["-min_protocol", "TLSv1.2", "-groups", "X25519:secp384r1"],
    );
    let o = observe_groups(&server).await;
    assert_eq!(
        sorted_list(&o.facts["groups.accepted"]),
        ["secp384r1", "x25519"],
        "{:#}",
        o.evidence["addresses"]
    );
    // Both versions were asked: TLS 1.3 by key share, TLS 1.2 by ECDHE ServerKeyExchange.
    let addr = o.evidence["addresses"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    for v in ["TLSv1.3", "TLSv1.2"] {
        assert_eq!(
            sorted_list(&addr["groups"][v]["accepted"]),
            ["secp384r1", "x25519"],
            "{v}: {:#}",
            addr["groups"]
        );
    }
    // No cipher control: no suite enumerated.
    assert!(o.unobserved.contains_key("ciphers.TLSv1.2"));
}

#[tokio::test]
async fn ffdhe_only_tls13_server_reports_its_finite_field_groups() {
    // Wrong answers prevented: [] (no x25519 key share accepted, so "nothing"), or x25519
    // because that is the share the hello carried.
    let server = openssl_server(
        "legacy.pem",
        "legacy.key",
        &["-tls1_3", "-groups", "ffdhe2048:ffdhe4096"],
    );
    let o = observe_groups(&server).await;
    assert_eq!(
        sorted_list(&o.facts["groups.accepted"]),
        ["ffdhe2048", "ffdhe4096"],
        "{:#}",
        o.evidence["addresses"]
    );
}

#[tokio::test]
async fn tls12_only_server_groups_come_from_the_server_key_exchange() {
    // Wrong answers prevented: the TLS 1.2 curve never read (only TLS 1.3 enumerated), a
    // brainpool or P-521 curve missed.
    let server = openssl_server(
        "legacy.pem",
        "legacy.key",
        &["-tls1_2", "-groups", "secp521r1:brainpoolP256r1"],
    );
    let o = observe_groups(&server).await;
    assert_eq!(
        sorted_list(&o.facts["groups.accepted"]),
        ["brainpoolP256r1", "secp521r1"],
        "{:#}",
        o.evidence["addresses"]
    );
}

#[tokio::test]
async fn without_a_group_control_no_group_is_enumerated() {
    let server = openssl_server("legacy.pem", "legacy.key", &["-tls1_2"]);
    let o = observe_openssl(&server, "legacy.test").await;
    assert!(o.unobserved.contains_key("groups.accepted"));
    let connections = o.evidence["connections"].as_u64().unwrap();
    assert!(connections <= 8, "{connections} connections");
}
