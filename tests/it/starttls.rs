//! The `tls` probe behind STARTTLS (real PostgreSQL and aiosmtpd servers, small in-test IMAP and
//! POP3 servers) and OCSP stapling (`openssl s_server -status_file` with responses made by
//! `openssl ocsp`), on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{CertificateParams, DnType, IsCa, Issuer, KeyPair, SerialNumber};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use vouch::inventory::Inventory;
use vouch::probe::tls::TlsProbe;
use vouch::probe::{Observation, Params, Probe, ProbeContext, ProbeError, ProbeOptions};

use crate::support::require;

// ---------------------------------------------------------------------------------------------
// Helpers: certificates on disk, the probe, child servers.

/// A test CA and a leaf for `names` it signed, with their PEMs written to a temp directory.
struct Pki {
    dir: tempfile::TempDir,
    ca_params: CertificateParams,
    ca_key: KeyPair,
    leaf_der: CertificateDer<'static>,
    leaf_key: KeyPair,
}

impl Pki {
    fn new(names: &[&str], serial: u64) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "vouch starttls test CA");
        ca_params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.serial_number = Some(SerialNumber::from(serial.to_be_bytes().to_vec()));
        let leaf = params
            .signed_by(&leaf_key, &Issuer::from_params(&ca_params, &ca_key))
            .unwrap();
        std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
        std::fs::write(dir.path().join("ca.key"), ca_key.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("leaf.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("leaf.key"), leaf_key.serialize_pem()).unwrap();
        Pki {
            dir,
            ca_params,
            ca_key,
            leaf_der: leaf.der().clone(),
            leaf_key,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn rustls_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(provider))
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![self.leaf_der.clone()], key)
                .unwrap(),
        )
    }
}

/// A probe context whose `[resolve]` maps `name:port` to `addr`, trusting the test CA.
fn ctx(ca: Option<&Pki>, name_port: &str, addr: SocketAddr) -> ProbeContext {
    let mut inv = Inventory::default();
    inv.tls.ca_file = ca.map(|p| p.path("ca.pem"));
    inv.resolve.insert(name_port.to_string(), addr);
    ProbeContext::new(
        Arc::new(inv),
        ProbeOptions {
            timeout: Duration::from_secs(8),
            ..ProbeOptions::default()
        },
    )
}

async fn observe(target: &str, ctx: &ProbeContext) -> Result<Observation, ProbeError> {
    let limit = ctx.options.timeout + Duration::from_secs(2);
    tokio::time::timeout(limit, TlsProbe.observe(target, &Params::new(), ctx))
        .await
        .unwrap_or_else(|_| panic!("the probe hung past {limit:?} on {target}"))
}

fn versions(o: &Observation) -> (Value, Value) {
    (
        o.facts["protocols.accepted"].clone(),
        o.facts["protocols.rejected"].clone(),
    )
}

/// A child process stopped when dropped: killed, or with `interrupt` first asked to stop with
/// SIGINT (PostgreSQL's fast shutdown, which also ends its backends and frees the data directory).
struct Server {
    child: Child,
    port: u16,
    interrupt: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.interrupt {
            let _ = Command::new("kill")
                .args(["-INT", &self.child.id().to_string()])
                .status();
            let until = std::time::Instant::now() + Duration::from_secs(15);
            while std::time::Instant::now() < until {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

// ---------------------------------------------------------------------------------------------
// SMTP: aiosmtpd (PyPI), a maintained RFC 5321 server with RFC 3207 STARTTLS.

fn aiosmtpd() -> PathBuf {
    let found = std::env::var_os("VOUCH_TEST_AIOSMTPD")
        .map(PathBuf::from)
        .or_else(|| {
            let p = crate::support::repo().join(".venv/aiosmtpd/bin/python");
            p.is_file().then_some(p)
        });
    require(
        found,
        "aiosmtpd (VOUCH_TEST_AIOSMTPD)",
        "run scripts/setup.d/25-starttls.sh",
    )
}

/// aiosmtpd on a free port; with `tls` it offers STARTTLS with the PKI's leaf.
fn smtp_server(tls: Option<&Pki>) -> Server {
    let python = aiosmtpd();
    let (child, port) =
        crate::support::spawn_on_free_port("aiosmtpd", Duration::from_secs(20), |port| {
            let mut cmd = Command::new(&python);
            cmd.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
            cmd.args(["-c", "aiosmtpd.handlers.Sink"]);
            if let Some(pki) = tls {
                cmd.arg("--tlscert")
                    .arg(pki.path("leaf.pem"))
                    .arg("--tlskey")
                    .arg(pki.path("leaf.key"))
                    .arg("--no-requiretls");
            }
            cmd
        });
    Server {
        child,
        port,
        interrupt: false,
    }
}

#[tokio::test]
async fn smtp_starttls_is_scanned_behind_the_upgrade_with_the_hosts_name() {
    let pki = Pki::new(&["mail.test"], 0x5e01);
    let server = smtp_server(Some(&pki));
    // smtp://mail.test takes port 25 by default; [resolve] sends it to the test server.
    let ctx = ctx(Some(&pki), "mail.test:25", loopback(server.port));
    let o = observe("smtp://mail.test", &ctx).await.unwrap();
    assert_eq!(o.facts["starttls.protocol"], "smtp");
    assert_eq!(o.facts["starttls.offered"], true);
    // Python's ssl on Debian: TLS 1.2 and 1.3 only. Each version was asked behind its own
    // upgrade; a plain hello to the SMTP port would have been answered with a 500, not TLS.
    let (accepted, rejected) = versions(&o);
    assert_eq!(accepted, json!(["TLSv1.2", "TLSv1.3"]), "{:#?}", o.evidence);
    assert_eq!(rejected, json!(["SSLv3", "TLSv1.0", "TLSv1.1"]));
    assert_eq!(o.facts["protocols.lowest"], "TLSv1.2");
    // SNI and the name check use the host, not the address.
    assert_eq!(o.facts["certificate.subject"], "CN=mail.test");
    assert_eq!(o.facts["certificate.hostname_matches"], true);
    assert_eq!(o.facts["certificate.valid"], true, "{:?}", o.facts);
    let transcript =
        o.evidence["starttls"]["addresses"][loopback(server.port).to_string()]["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect::<Vec<_>>();
    assert!(
        transcript.iter().any(|l| l == "C: STARTTLS"),
        "{transcript:?}"
    );
    assert!(
        transcript.iter().any(|l| l.starts_with("S: 220")),
        "{transcript:?}"
    );
}

#[tokio::test]
async fn smtp_without_starttls_is_offered_false_and_no_tls_fact_passes() {
    let server = smtp_server(None);
    let ctx = ctx(None, "mail.test:2525", loopback(server.port));
    // Not an error: the absence of STARTTLS is the observation.
    let o = observe("smtp://mail.test:2525", &ctx).await.unwrap();
    assert_eq!(o.facts["starttls.offered"], false);
    assert!(
        o.evidence["starttls"]["addresses"][loopback(server.port).to_string()]["detail"]
            .as_str()
            .unwrap()
            .contains("EHLO reply does not list"),
        "{:?}",
        o.evidence
    );
    // No TLS was seen, so no TLS fact can pass (e.g. `protocols.lowest >= TLSv1.2`).
    for f in [
        "protocols.lowest",
        "protocols.accepted",
        "versions.TLSv1.0",
        "certificate.valid",
        "certificate.ocsp_stapled",
    ] {
        assert!(!o.facts.contains_key(f), "{f} = {:?}", o.facts.get(f));
        assert!(
            o.unobserved[f].contains("STARTTLS is not offered"),
            "{f}: {:?}",
            o.unobserved.get(f)
        );
    }
}

#[test]
fn check_with_a_starttls_control_passes_and_fails_the_right_mail_servers() {
    let pki = Pki::new(&["mail.test"], 0x5e02);
    let with = smtp_server(Some(&pki));
    let without = smtp_server(None);
    let dir = tempfile::tempdir().unwrap();
    let controls = dir.path().join("controls.toml");
    std::fs::write(
        &controls,
        r#"
[[control]]
id = "MAIL-STARTTLS"
title = "Mail servers offer STARTTLS with TLS 1.2 or higher"
severity = "high"
probe = "tls"
targets = "mail"
expect = [
  { fact = "starttls.offered", op = "==", value = true },
  { fact = "protocols.lowest", op = ">=", value = "TLSv1.2" },
]
"#,
    )
    .unwrap();
    let inventory = dir.path().join("vouch.toml");
    std::fs::write(
        &inventory,
        format!(
            r#"
[targets]
mail = ["smtp://mx1.test", "smtp://mx2.test"]

[resolve]
"mx1.test:25" = "127.0.0.1:{}"
"mx2.test:25" = "127.0.0.1:{}"

[tls]
ca_file = "{}"
"#,
            with.port,
            without.port,
            pki.path("ca.pem").display()
        ),
    )
    .unwrap();
    let out = crate::support::vouch()
        .args(["check", "--controls"])
        .arg(&controls)
        .arg("--inventory")
        .arg(&inventory)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let v = crate::support::verdicts(&report, "MAIL-STARTTLS");
    assert_eq!(v["smtp://mx1.test"], "pass", "{report:#}");
    assert_eq!(v["smtp://mx2.test"], "fail", "{report:#}");
    assert_eq!(out.status.code(), Some(1));
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: Debian's server, SSLRequest.

fn pg_bin() -> PathBuf {
    let found = std::env::var_os("VOUCH_TEST_PG_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|d| d.join("initdb").is_file())
                .collect();
            dirs.sort();
            dirs.pop()
        });
    require(
        found,
        "PostgreSQL's initdb and postgres (VOUCH_TEST_PG_BIN)",
        "apt-get install postgresql, or run scripts/setup.d/25-starttls.sh",
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool as an unprivileged user: PostgreSQL refuses to run as root. setpriv
/// execs the tool (no process in between), so the child's pid is the server's.
fn pg_command(bin: &Path, tool: &str) -> Command {
    if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "--",
        ])
        .arg(bin.join(tool));
        cmd
    } else {
        Command::new(bin.join(tool))
    }
}

/// A fresh cluster in a temp directory (owned by the postgres user when run as root), with the
/// PKI's leaf as its server certificate.
fn pg_cluster(pki: &Pki) -> tempfile::TempDir {
    let bin = pg_bin();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (name, mode) in [("leaf.pem", 0o644), ("leaf.key", 0o600)] {
        let to = dir.path().join(name);
        std::fs::copy(pki.path(name), &to).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "chown to postgres failed");
    }
    let out = pg_command(&bin, "initdb")
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn pg_server(cluster: &tempfile::TempDir, ssl: bool) -> Server {
    let bin = pg_bin();
    let dir = cluster.path().to_path_buf();
    let (child, port) =
        crate::support::spawn_on_free_port("postgres", Duration::from_secs(30), |port| {
            let mut cmd = pg_command(&bin, "postgres");
            cmd.arg("-D")
                .arg(dir.join("data"))
                .args(["-p", &port.to_string()])
                .args(["-c", "listen_addresses=127.0.0.1"])
                .arg("-c")
                .arg(format!("unix_socket_directories={}", dir.display()))
                .args(["-c", &format!("ssl={}", if ssl { "on" } else { "off" })])
                .arg("-c")
                .arg(format!("ssl_cert_file={}", dir.join("leaf.pem").display()))
                .arg("-c")
                .arg(format!("ssl_key_file={}", dir.join("leaf.key").display()))
                .args(["-c", "ssl_min_protocol_version=TLSv1.2"])
                .args(["-c", "fsync=off"]);
            cmd
        });
    Server {
        child,
        port,
        interrupt: true,
    }
}

#[tokio::test]
async fn postgres_with_ssl_on_is_scanned_after_sslrequest_and_ssl_off_is_offered_false() {
    let pki = Pki::new(&["db.test"], 0x9001);
    let cluster = pg_cluster(&pki);
    {
        let server = pg_server(&cluster, true);
        let ctx = ctx(Some(&pki), "db.test:5432", loopback(server.port));
        let o = observe("postgres://app@db.test/appdb?sslmode=require", &ctx)
            .await
            .unwrap();
        assert_eq!(o.facts["starttls.protocol"], "postgres");
        assert_eq!(o.facts["starttls.offered"], true);
        // ssl_min_protocol_version = 'TLSv1.2': TLS 1.0 and 1.1 refused by the server itself.
        let (accepted, rejected) = versions(&o);
        assert_eq!(accepted, json!(["TLSv1.2", "TLSv1.3"]), "{:#?}", o.evidence);
        assert_eq!(rejected, json!(["SSLv3", "TLSv1.0", "TLSv1.1"]));
        assert_eq!(o.facts["protocols.lowest"], "TLSv1.2");
        assert_eq!(o.facts["certificate.subject"], "CN=db.test");
        assert_eq!(o.facts["certificate.valid"], true, "{:?}", o.facts);
    }
    let server = pg_server(&cluster, false);
    let ctx = ctx(Some(&pki), "db.test:5432", loopback(server.port));
    let o = observe("postgresql://db.test", &ctx).await.unwrap();
    assert_eq!(o.facts["starttls.offered"], false);
    assert!(o.unobserved["protocols.lowest"].contains("answered the SSLRequest with N"));
}

// ---------------------------------------------------------------------------------------------
// IMAP and POP3: small in-test servers that speak the dialogue, then TLS through rustls.

#[derive(Clone, Copy, PartialEq)]
enum Mail {
    Imap,
    ImapNoStarttls,
    Pop3,
    Pop3NoStls,
    /// Advertises STARTTLS, then answers `454 TLS not available`.
    SmtpRefuses,
    /// Answers the greeting with bytes that are not SMTP.
    SmtpGarbage,
    /// Accepts the connection and never says a word.
    Silent,
}

async fn mail_server(kind: Mail, pki: &Pki) -> SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.rustls_config());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut s = BufReader::new(tcp);
                let greeting: &[u8] = match kind {
                    Mail::Imap | Mail::ImapNoStarttls => b"* OK IMAP4rev1 ready\r\n",
                    Mail::Pop3 | Mail::Pop3NoStls => b"+OK POP3 ready\r\n",
                    Mail::SmtpRefuses => b"220 mx ESMTP\r\n",
                    Mail::SmtpGarbage => b"\x16\x03\x01 hello?\r\n",
                    Mail::Silent => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                };
                if s.get_mut().write_all(greeting).await.is_err() {
                    return;
                }
                loop {
                    let mut line = String::new();
                    if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end().to_string();
                    let (tag, cmd) = line.split_once(' ').unwrap_or(("", line.as_str()));
                    let reply: String = match (kind, cmd.to_ascii_uppercase().as_str()) {
                        (Mail::Imap, "CAPABILITY") => format!(
                            "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n{tag} OK done\r\n"
                        ),
                        (Mail::ImapNoStarttls, "CAPABILITY") => {
                            format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n")
                        }
                        (Mail::Imap, "STARTTLS") => format!("{tag} OK begin TLS now\r\n"),
                        (Mail::Pop3, _) if line == "CAPA" => {
                            "+OK\r\nTOP\r\nSTLS\r\nUIDL\r\n.\r\n".into()
                        }
                        (Mail::Pop3NoStls, _) if line == "CAPA" => {
                            "+OK\r\nTOP\r\nUSER\r\n.\r\n".into()
                        }
                        (Mail::Pop3, _) if line == "STLS" => "+OK begin TLS\r\n".into(),
                        (Mail::SmtpRefuses, _) if line.starts_with("EHLO") => {
                            "250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n".into()
                        }
                        (Mail::SmtpRefuses, _) if line == "STARTTLS" => {
                            "454 4.7.0 TLS not available due to temporary reason\r\n".into()
                        }
                        _ => "-ERR / BAD unknown\r\n".into(),
                    };
                    if s.get_mut().write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                    let upgrade = matches!(
                        (kind, line.as_str()),
                        (Mail::Imap, "b STARTTLS") | (Mail::Pop3, "STLS")
                    );
                    if upgrade {
                        if let Ok(mut tls) = acceptor.accept(s.into_inner()).await {
                            let _ = tls.write_all(b"* BYE\r\n").await;
                            let _ = tls.shutdown().await;
                        }
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn imap_and_pop3_upgrade_then_scan_and_without_the_capability_are_offered_false() {
    let pki = Pki::new(&["mail.test"], 0x1a01);
    for (kind, scheme, port) in [(Mail::Imap, "imap", 143), (Mail::Pop3, "pop3", 110)] {
        let addr = mail_server(kind, &pki).await;
        let ctx = ctx(Some(&pki), &format!("mail.test:{port}"), addr);
        let o = observe(&format!("{scheme}://mail.test"), &ctx)
            .await
            .unwrap();
        assert_eq!(o.facts["starttls.protocol"], scheme);
        assert_eq!(o.facts["starttls.offered"], true, "{scheme}");
        // rustls behind the upgrade: exactly TLS 1.2 and 1.3, proven version by version.
        let (accepted, rejected) = versions(&o);
        assert_eq!(
            accepted,
            json!(["TLSv1.2", "TLSv1.3"]),
            "{scheme}: {:#?}",
            o.evidence
        );
        assert_eq!(rejected, json!(["SSLv3", "TLSv1.0", "TLSv1.1"]), "{scheme}");
        assert_eq!(o.facts["certificate.hostname_matches"], true, "{scheme}");
        assert_eq!(o.facts["certificate.chain_trusted"], true, "{scheme}");
    }
    for (kind, scheme, why) in [
        (
            Mail::ImapNoStarttls,
            "imap",
            "CAPABILITY response does not list STARTTLS",
        ),
        (Mail::Pop3NoStls, "pop3", "CAPA response does not list STLS"),
    ] {
        let addr = mail_server(kind, &pki).await;
        let ctx = ctx(Some(&pki), "mail.test:1", addr);
        let o = observe(&format!("{scheme}://mail.test:1"), &ctx)
            .await
            .unwrap();
        assert_eq!(o.facts["starttls.offered"], false, "{scheme}");
        assert!(
            o.unobserved["protocols.lowest"].contains(why),
            "{:?}",
            o.unobserved
        );
    }
}

#[tokio::test]
async fn a_refused_upgrade_or_a_non_smtp_answer_is_an_error_never_offered_false_or_rejected() {
    let pki = Pki::new(&["mail.test"], 0x1a02);
    // STARTTLS advertised, then 454: the server may do TLS another time; nothing is proven.
    let addr = mail_server(Mail::SmtpRefuses, &pki).await;
    let e = observe("smtp://mail.test:1", &ctx(None, "mail.test:1", addr))
        .await
        .unwrap_err();
    assert!(e.message.contains("454"), "{e}");
    assert_eq!(serde_json::to_value(e.kind).unwrap(), "protocol", "{e}");
    let addr = mail_server(Mail::SmtpGarbage, &pki).await;
    let e = observe("smtp://mail.test:1", &ctx(None, "mail.test:1", addr))
        .await
        .unwrap_err();
    assert!(e.message.contains("not an SMTP reply"), "{e}");
    // A server that never greets: a timeout, within the probe's own time.
    let addr = mail_server(Mail::Silent, &pki).await;
    let started = std::time::Instant::now();
    let e = observe("imap://mail.test:1", &ctx(None, "mail.test:1", addr))
        .await
        .unwrap_err();
    assert_eq!(serde_json::to_value(e.kind).unwrap(), "timeout", "{e}");
    assert!(started.elapsed() < Duration::from_secs(8), "{e}");
}

#[test]
fn starttls_targets_parse_with_their_default_ports_and_bad_schemes_say_what_is_valid() {
    use vouch::probe::tls::parse_target;
    let t = |s: &str| parse_target(s).map(|t| (t.host, t.port, t.starttls.map(|s| s.name())));
    assert_eq!(
        t("smtp://mx.example.com"),
        Ok(("mx.example.com".into(), 25, Some("smtp")))
    );
    assert_eq!(
        t("smtp://mx.example.com:587"),
        Ok(("mx.example.com".into(), 587, Some("smtp")))
    );
    assert_eq!(t("imap://[::1]"), Ok(("::1".into(), 143, Some("imap"))));
    assert_eq!(
        t("pop3://10.0.0.1"),
        Ok(("10.0.0.1".into(), 110, Some("pop3")))
    );
    assert_eq!(
        t("postgres://user@db.example.com/app?sslmode=require"),
        Ok(("db.example.com".into(), 5432, Some("postgres")))
    );
    assert_eq!(t("example.com"), Ok(("example.com".into(), 443, None)));
    let e = parse_target("ftp://example.com").unwrap_err();
    assert!(e.contains("smtp://") && e.contains("postgres://"), "{e}");
    // The target string is copied into reports: a password in it is refused, not kept.
    let e = parse_target("postgres://app:s3cret@db.example.com/app").unwrap_err();
    assert!(e.contains("password"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// OCSP stapling: openssl s_server -status_file, responses made by openssl ocsp.

fn openssl() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("openssl"))
            .find(|p| p.is_file())
    });
    require(found, "the openssl CLI", "apt-get install openssl")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An OCSP response for `pki`'s leaf made by `openssl ocsp` from an index in which the leaf is
/// `status` ("V" valid, "R" revoked), signed by `signer` (the CA's files, or others).
fn ocsp_response(pki: &Pki, status: &str, signer: (&Path, &Path), out: &str) -> PathBuf {
    let serial = hex_serial(pki);
    let index = pki.path(&format!("{out}.index.txt"));
    let line = match status {
        "V" => format!("V\t301231000000Z\t\t{serial}\tunknown\t/CN=ocsp.test\n"),
        // The index knows another certificate only: the responder answers `unknown`.
        "U" => "V\t301231000000Z\t\t0BAD\tunknown\t/CN=other.test\n".to_string(),
        _ => format!(
            "R\t301231000000Z\t251001000000Z,keyCompromise\t{serial}\tunknown\t/CN=ocsp.test\n"
        ),
    };
    std::fs::write(&index, line).unwrap();
    let req = pki.path(&format!("{out}.req"));
    run(Command::new(openssl())
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(pki.path("ca.pem"))
        .arg("-cert")
        .arg(pki.path("leaf.pem"))
        .arg("-reqout")
        .arg(&req));
    let resp = pki.path(out);
    run(Command::new(openssl())
        .arg("ocsp")
        .arg("-index")
        .arg(&index)
        .arg("-CA")
        .arg(pki.path("ca.pem"))
        .arg("-rsigner")
        .arg(signer.0)
        .arg("-rkey")
        .arg(signer.1)
        .arg("-reqin")
        .arg(&req)
        .args(["-ndays", "7"])
        .arg("-respout")
        .arg(&resp));
    resp
}

fn hex_serial(pki: &Pki) -> String {
    let out = Command::new(openssl())
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(pki.path("leaf.pem"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .trim_start_matches("serial=")
        .to_string()
}

/// `openssl s_server` with the PKI's leaf and CA chain, stapling `status_file` when given.
fn stapling_server(pki: &Pki, status_file: Option<&Path>) -> Server {
    let openssl = openssl();
    let (child, port) =
        crate::support::spawn_on_free_port("openssl s_server", Duration::from_secs(10), |port| {
            let mut cmd = Command::new(&openssl);
            cmd.args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
                .args(["-www", "-quiet"])
                .arg("-cert")
                .arg(pki.path("leaf.pem"))
                .arg("-key")
                .arg(pki.path("leaf.key"))
                .arg("-cert_chain")
                .arg(pki.path("ca.pem"));
            if let Some(f) = status_file {
                cmd.arg("-status_file").arg(f);
            }
            cmd
        });
    Server {
        child,
        port,
        interrupt: false,
    }
}

async fn ocsp_observation(pki: &Pki, status_file: Option<&Path>) -> Observation {
    let server = stapling_server(pki, status_file);
    let ctx = ctx(Some(pki), "ocsp.test:443", loopback(server.port));
    observe("ocsp.test", &ctx).await.unwrap()
}

#[tokio::test]
async fn a_good_staple_is_read_with_its_times() {
    let pki = Pki::new(&["ocsp.test"], 0x0c01);
    let resp = ocsp_response(
        &pki,
        "V",
        (&pki.path("ca.pem"), &pki.path("ca.key")),
        "good.der",
    );
    let o = ocsp_observation(&pki, Some(&resp)).await;
    assert_eq!(
        o.facts["certificate.ocsp_stapled"], true,
        "{:#?}",
        o.evidence["ocsp"]
    );
    assert_eq!(
        o.facts["certificate.ocsp_status"], "good",
        "{:#?}",
        o.evidence["ocsp"]
    );
    let ts = |k: &str| -> jiff::Timestamp { o.facts[k].as_str().unwrap().parse().unwrap() };
    let now = jiff::Timestamp::now();
    let produced = ts("certificate.ocsp_produced_at");
    assert!((now - produced).as_secs().abs() < 600, "{produced}");
    // -ndays 7: nextUpdate a week after thisUpdate.
    let span = ts("certificate.ocsp_next_update").as_second()
        - ts("certificate.ocsp_this_update").as_second();
    assert_eq!(span, 7 * 86400);
}

#[tokio::test]
async fn a_revoked_staple_is_revoked_with_the_time_and_reason_as_evidence() {
    let pki = Pki::new(&["ocsp.test"], 0x0c02);
    let resp = ocsp_response(
        &pki,
        "R",
        (&pki.path("ca.pem"), &pki.path("ca.key")),
        "revoked.der",
    );
    let o = ocsp_observation(&pki, Some(&resp)).await;
    assert_eq!(o.facts["certificate.ocsp_stapled"], true);
    assert_eq!(o.facts["certificate.ocsp_status"], "revoked");
    let at = &o.evidence["ocsp"][o.evidence["ocsp"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()];
    assert_eq!(at["revocation_time"], "2025-10-01T00:00:00Z");
    assert_eq!(at["revocation_reason"], "keyCompromise");
}

#[tokio::test]
async fn no_staple_is_stapled_false_and_the_status_is_not_observed() {
    let pki = Pki::new(&["ocsp.test"], 0x0c03);
    let o = ocsp_observation(&pki, None).await;
    assert_eq!(o.facts["certificate.ocsp_stapled"], false);
    assert!(!o.facts.contains_key("certificate.ocsp_status"));
    assert!(o.unobserved["certificate.ocsp_status"].contains("no OCSP response was stapled"));
    assert_eq!(o.facts["certificate.valid"], true);
}

#[tokio::test]
async fn a_staple_for_another_certificate_or_by_another_signer_is_never_good() {
    let pki = Pki::new(&["ocsp.test"], 0x0c04);
    // A "good" response about a different certificate (another serial, same CA).
    let other_leaf = {
        let mut params = CertificateParams::new(vec!["other.test".to_string()]).unwrap();
        params.serial_number = Some(SerialNumber::from(vec![0x77, 0x77]));
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        params
            .signed_by(&key, &Issuer::from_params(&pki.ca_params, &pki.ca_key))
            .unwrap()
            .pem()
    };
    let twin = Pki::new(&["ocsp.test"], 0x0c04);
    // Same files as `pki`, except the leaf is the other certificate.
    for f in ["ca.pem", "ca.key", "leaf.key"] {
        std::fs::copy(pki.path(f), twin.path(f)).unwrap();
    }
    std::fs::write(twin.path("leaf.pem"), other_leaf).unwrap();
    let wrong_cert = ocsp_response(
        &twin,
        "V",
        (&pki.path("ca.pem"), &pki.path("ca.key")),
        "w.der",
    );
    let o = ocsp_observation(&pki, Some(&wrong_cert)).await;
    assert_eq!(o.facts["certificate.ocsp_stapled"], true);
    assert!(
        !o.facts.contains_key("certificate.ocsp_status"),
        "{:?}",
        o.facts
    );
    assert!(
        o.unobserved["certificate.ocsp_status"].contains("no entry for the served certificate"),
        "{:?}",
        o.unobserved
    );
    // A response about the right certificate, signed by a key the CA never certified.
    let rogue = Pki::new(&["rogue responder"], 0x0c06);
    let forged = ocsp_response(
        &pki,
        "V",
        (&rogue.path("ca.pem"), &rogue.path("ca.key")),
        "forged.der",
    );
    let o = ocsp_observation(&pki, Some(&forged)).await;
    assert_eq!(o.facts["certificate.ocsp_stapled"], true);
    assert!(
        !o.facts.contains_key("certificate.ocsp_status"),
        "{:?}",
        o.facts
    );
    assert!(
        o.unobserved["certificate.ocsp_status"].contains("signature verifies neither"),
        "{:?}",
        o.unobserved
    );
    // Signed by the server's own key: a certificate the CA issued, but not for OCSP signing
    // (RFC 6960 §4.2.2.2), so a server cannot vouch for its own revoked certificate.
    let own_key = ocsp_response(
        &pki,
        "V",
        (&pki.path("leaf.pem"), &pki.path("leaf.key")),
        "own.der",
    );
    let o = ocsp_observation(&pki, Some(&own_key)).await;
    assert!(
        !o.facts.contains_key("certificate.ocsp_status"),
        "{:?}",
        o.facts
    );
    assert!(o.unobserved["certificate.ocsp_status"].contains("signature verifies neither"));
}

#[tokio::test]
async fn a_staple_from_a_delegated_ocsp_responder_is_read() {
    let pki = Pki::new(&["ocsp.test"], 0x0c07);
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "vouch test OCSP responder");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::OcspSigning];
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params
        .signed_by(&key, &Issuer::from_params(&pki.ca_params, &pki.ca_key))
        .unwrap();
    std::fs::write(pki.path("responder.pem"), cert.pem()).unwrap();
    std::fs::write(pki.path("responder.key"), key.serialize_pem()).unwrap();
    let resp = ocsp_response(
        &pki,
        "R",
        (&pki.path("responder.pem"), &pki.path("responder.key")),
        "delegated.der",
    );
    let o = ocsp_observation(&pki, Some(&resp)).await;
    assert_eq!(
        o.facts["certificate.ocsp_status"], "revoked",
        "{:#?}",
        o.unobserved
    );
    let at = o.evidence["ocsp"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert!(
        at["signed_by"]
            .as_str()
            .unwrap()
            .contains("vouch test OCSP responder"),
        "{at}"
    );
}

#[test]
fn probe_spot_check_shows_the_upgrade_and_the_staple() {
    let pki = Pki::new(&["mail.test"], 0x5e03);
    let server = smtp_server(Some(&pki));
    let out = crate::support::vouch()
        .args(["probe", "tls", &format!("smtp://mail.test:{}", server.port)])
        .args(["--resolve", &format!("mail.test:{}:127.0.0.1", server.port)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("starttls   smtp: ✓ offered"), "{text}");
    assert!(text.contains("ocsp       ✗ no staple"), "{text}");
    assert!(text.contains("✓ TLSv1.2"), "{text}");
}

#[tokio::test]
async fn an_unknown_staple_is_unknown_never_good() {
    let pki = Pki::new(&["ocsp.test"], 0x0c08);
    let resp = ocsp_response(
        &pki,
        "U",
        (&pki.path("ca.pem"), &pki.path("ca.key")),
        "unknown.der",
    );
    let o = ocsp_observation(&pki, Some(&resp)).await;
    assert_eq!(o.facts["certificate.ocsp_stapled"], true);
    assert_eq!(
        o.facts["certificate.ocsp_status"], "unknown",
        "{:#?}",
        o.evidence["ocsp"]
    );
}
