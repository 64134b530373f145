//! The demo estate: a small, real, local copy of the estate behind the Open Doors trust-center
//! page (`docs/trust-center.txt`), for `scripts/demo` and the demo test.
//!
//! It starts, on loopback, with a private CA it makes on the spot:
//! - `opendoors.ai`, `www`, `app`, `api` on one rustls server (TLS 1.2 + 1.3, valid chain,
//!   a preload-ready HSTS header, security.txt, a `/status` page), and plain HTTP that redirects
//!   to HTTPS on the same host;
//! - `files.opendoors.ai`: `openssl s_server` still accepting TLS 1.0 (the one that fails);
//! - `portal.opendoors.ai`: a certificate that expired last month;
//! - `opendoors.io`: a second primary domain with no HSTS and no redirect;
//! - `sso.opendoors.ai`: accepts connections and never answers (a black-holed load balancer),
//!   so its TLS versions cannot be proven and its controls are `error`, never `pass`;
//! - an attestations file dated relative to today: most fresh, the DR test expired;
//! - with an AWS endpoint (moto's server), the cloud estate seeded through the AWS SDK
//!   (see `aws.rs`), and in front of it a stand-in for the AWS Backup read calls moto lacks
//!   (`backup.rs`: restore history, protected resources, restore testing plans), which
//!   forwards every other request to moto;
//! - a stand-in for the GitHub REST API (`github.rs`): organisation `opendoors` requiring 2FA,
//!   repository `platform` that passes the SDLC controls, `website` that fails them, and an
//!   archived `legacy-billing` that `opendoors/*` skips.
//!
//! It writes `vouch.toml` into its folder, mapping the page's hostnames onto these servers with
//! `[resolve]`, then serves until stopped. Run: `cargo run --example demo-estate -- DIR [AWS_URL]`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rcgen::{CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

#[path = "aws.rs"]
mod aws;
#[path = "backup.rs"]
mod backup;
#[path = "github.rs"]
pub mod github;

/// The variable the demo inventory's `[github] token_env` names (`scripts/demo` sets it; the
/// stand-in accepts only this value).
pub const GITHUB_TOKEN_ENV: &str = "VOUCH_DEMO_GITHUB_TOKEN";
pub const GITHUB_TOKEN: &str = "demo-github-token";

/// The names on the trust-center page, and what each is served by.
pub const PRIMARY: &str = "opendoors.ai";
pub const SECOND_DOMAIN: &str = "opendoors.io";
const GOOD_NAMES: [&str; 4] = [
    "opendoors.ai",
    "www.opendoors.ai",
    "app.opendoors.ai",
    "api.opendoors.ai",
];

/// A running estate; dropping it stops every server.
pub struct Estate {
    pub dir: PathBuf,
    pub inventory: PathBuf,
    children: Vec<Child>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Estate {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

fn ca() -> Result<Ca> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "Open Doors Demo Root CA");
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let pem = params.self_signed(&key)?.pem();
    Ok(Ca { params, key, pem })
}

struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_pem: String,
    key_pem: String,
}

/// A leaf for `names`, valid from `from` to `until` days relative to today.
fn leaf(ca: &Ca, names: &[&str], from: i64, until: i64, rsa: bool) -> Result<Leaf> {
    let key = if rsa {
        // rcgen cannot generate RSA keys; openssl can (and the legacy server wants RSA suites).
        let out = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .output()
            .context("running openssl genpkey (apt-get install openssl)")?;
        if !out.status.success() {
            bail!("openssl genpkey failed");
        }
        KeyPair::from_pem_and_sign_algo(&String::from_utf8(out.stdout)?, &rcgen::PKCS_RSA_SHA256)?
    } else {
        KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?
    };
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name.push(DnType::CommonName, names[0]);
    let now = time_now();
    params.not_before = now + time::Duration::days(from);
    params.not_after = now + time::Duration::days(until);
    let cert = params.signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok(Leaf {
        chain: vec![cert.der().clone()],
        key: key_der,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn tls_config(leaf: &Leaf) -> Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(leaf.chain.clone(), leaf.key.clone_key())?;
    Ok(Arc::new(config))
}

/// How a site answers.
#[derive(Clone, Copy)]
enum Site {
    /// HTTPS with a preload-ready HSTS header, security.txt and a status page.
    PrimaryHttps,
    /// Plain HTTP that redirects to HTTPS on the same host.
    RedirectToHttps,
    /// HTTPS without HSTS.
    NoHsts,
    /// Plain HTTP answering 200 (no redirect).
    PlainOk,
}

fn respond(site: Site, host: &str, path: &str) -> String {
    let host = host.split(':').next().unwrap_or(host);
    let (status, headers, body): (&str, Vec<String>, String) = match site {
        Site::RedirectToHttps => (
            "301 Moved Permanently",
            vec![format!("Location: https://{host}{path}")],
            String::new(),
        ),
        Site::PlainOk | Site::NoHsts if path.starts_with("/.well-known/") => {
            ("404 Not Found", vec![], "not found".into())
        }
        Site::PlainOk | Site::NoHsts => ("200 OK", vec![], "<h1>Open Doors</h1>".into()),
        Site::PrimaryHttps => {
            let hsts = "Strict-Transport-Security: max-age=63072000; includeSubDomains; preload"
                .to_string();
            match path {
                "/.well-known/security.txt" => {
                    let expires = (time_now() + time::Duration::days(200))
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default();
                    (
                        "200 OK",
                        vec![hsts, "Content-Type: text/plain; charset=utf-8".into()],
                        format!(
                            "Contact: mailto:security@{PRIMARY}\nExpires: {expires}\nPolicy: https://{PRIMARY}/responsible-disclosure\nPreferred-Languages: en\n"
                        ),
                    )
                }
                "/status" => ("200 OK", vec![hsts], "All systems operational".into()),
                _ => ("200 OK", vec![hsts], "<h1>Open Doors</h1>".into()),
            }
        }
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        let _ = write!(out, "{h}\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out
}

async fn serve_http<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, site: Site) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let host = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("Host: ")
                .or_else(|| l.strip_prefix("host: "))
        })
        .unwrap_or(PRIMARY)
        .trim()
        .to_string();
    let _ = s.write_all(respond(site, &host, &path).as_bytes()).await;
    let _ = s.shutdown().await;
}

async fn listen() -> Result<(TcpListener, SocketAddr)> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let a = l.local_addr()?;
    Ok((l, a))
}

fn spawn_server(
    l: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    site: Site,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        loop {
            let Ok((sock, _)) = l.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    Some(a) => {
                        if let Ok(Ok(s)) =
                            tokio::time::timeout(Duration::from_secs(5), a.accept(sock)).await
                        {
                            serve_http(s, site).await;
                        }
                    }
                    None => serve_http(sock, site).await,
                }
            });
        }
    })
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `openssl s_server` accepting TLS 1.0 through 1.3 (Debian's OpenSSL needs SECLEVEL=0 for 1.0).
fn legacy_server(dir: &Path, leaf: &Leaf) -> Result<(Child, SocketAddr)> {
    std::fs::write(dir.join("files.pem"), &leaf.cert_pem)?;
    std::fs::write(dir.join("files.key"), &leaf.key_pem)?;
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let child = Command::new("openssl")
        .args(["s_server", "-accept", &addr.to_string(), "-www", "-quiet"])
        .arg("-cert")
        .arg(dir.join("files.pem"))
        .arg("-key")
        .arg(dir.join("files.key"))
        .args(["-cipher", "DEFAULT:@SECLEVEL=0", "-min_protocol", "TLSv1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting openssl s_server (apt-get install openssl)")?;
    let start = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        if start.elapsed() > Duration::from_secs(10) {
            bail!("openssl s_server did not listen on {addr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((child, addr))
}

/// Attestations dated relative to today, with their evidence files.
fn attestations(dir: &Path) -> Result<()> {
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let ago = |d: i64| {
        today
            .checked_sub(jiff::Span::new().days(d))
            .map(|d| d.to_string())
            .unwrap_or_default()
    };
    let ev = dir.join("evidence");
    std::fs::create_dir_all(&ev)?;
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/attestations.toml"),
    )?;
    let mut text = template;
    for (marker, days) in [
        ("{{pentest}}", 118),
        ("{{dr_test}}", 421),
        ("{{ir_test}}", 150),
        ("{{training}}", 40),
        ("{{access_review}}", 30),
        ("{{vendor_review}}", 60),
        ("{{background}}", 90),
        ("{{sdlc}}", 20),
        ("{{soc2}}", 200),
        ("{{app}}", 75),
        ("{{restore}}", 35),
        ("{{oncall}}", 7),
        ("{{uptime}}", 3),
    ] {
        text = text.replace(marker, &ago(days));
    }
    // Each attestation names its evidence file; write a small one for each, so their digests show.
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("evidence = \"") {
            let name = rest.trim_end_matches('"');
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(
                &path,
                format!("Demo evidence for {name}, kept by the Open Doors security team.\n"),
            )?;
        }
    }
    std::fs::write(dir.join("attestations.toml"), text)?;
    Ok(())
}

/// Starts the estate in `dir` and writes `dir/vouch.toml`.
pub async fn start(dir: &Path, aws_url: Option<&str>) -> Result<Estate> {
    std::fs::create_dir_all(dir)?;
    let ca = ca()?;
    std::fs::write(dir.join("demo-ca.pem"), &ca.pem)?;
    let good = leaf(&ca, &GOOD_NAMES, -30, 60, false)?;
    let expired = leaf(&ca, &["portal.opendoors.ai"], -120, -31, false)?;
    let second = leaf(&ca, &["opendoors.io", "www.opendoors.io"], -10, 80, false)?;
    let legacy = leaf(&ca, &["files.opendoors.ai"], -10, 80, true)?;

    let mut tasks = Vec::new();
    let (l, good_https) = listen().await?;
    tasks.push(spawn_server(
        l,
        Some(tls_config(&good)?),
        Site::PrimaryHttps,
    ));
    let (l, good_http) = listen().await?;
    tasks.push(spawn_server(l, None, Site::RedirectToHttps));
    let (l, expired_https) = listen().await?;
    tasks.push(spawn_server(
        l,
        Some(tls_config(&expired)?),
        Site::PrimaryHttps,
    ));
    let (l, second_https) = listen().await?;
    tasks.push(spawn_server(l, Some(tls_config(&second)?), Site::NoHsts));
    let (l, second_http) = listen().await?;
    tasks.push(spawn_server(l, None, Site::PlainOk));
    let (child, legacy_addr) = legacy_server(dir, &legacy)?;
    let (silent, silent_addr) = listen().await?;
    tasks.push(tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock); // accepted, never answered, never closed
        }
    }));

    let mut resolve: BTreeMap<String, SocketAddr> = BTreeMap::new();
    for n in GOOD_NAMES {
        resolve.insert(format!("{n}:443"), good_https);
        resolve.insert(format!("{n}:80"), good_http);
    }
    resolve.insert("portal.opendoors.ai:443".into(), expired_https);
    resolve.insert("files.opendoors.ai:443".into(), legacy_addr);
    resolve.insert("sso.opendoors.ai:443".into(), silent_addr);
    for n in ["opendoors.io", "www.opendoors.io"] {
        resolve.insert(format!("{n}:443"), second_https);
        resolve.insert(format!("{n}:80"), second_http);
    }

    attestations(dir)?;
    let gh = Arc::new(github::GitHub::new(vec![github::demo_org()], GITHUB_TOKEN));
    let (github_url, github_task) = github::serve(gh).await;
    tasks.push(github_task);
    let preload = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/preload-list.json");
    let aws_section = match aws_url {
        Some(moto) => {
            let seeded = aws::seed(moto).await.context("seeding the AWS emulator")?;
            // vouch talks to the AWS Backup stand-in, which answers the Backup calls moto
            // lacks and forwards every other request to moto.
            let moto_addr: SocketAddr = moto
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .parse()
                .with_context(|| format!("the AWS emulator's URL {moto} is not http://IP:PORT"))?;
            let (url, task) = backup::serve(backup::Backup::demo(
                moto_addr,
                aws::REGION,
                aws::VAULT,
                &seeded.vault_key,
                &seeded.uploads_fs_arn,
            ))
            .await?;
            tasks.push(task);
            format!(
                "[aws]\nregion = \"{}\"\nendpoint_url = \"{url}\"\n\
                 # What `*` covers for KMS, logs, RDS, DynamoDB and Backup.\n\
                 regions = [\"{}\", \"{}\"]\n",
                aws::REGION,
                aws::REGION,
                aws::DR_REGION
            )
        }
        None => String::new(),
    };

    let mut inv = String::from(
        "# Written by the demo estate: the trust-center page's names, mapped onto local servers.\n",
    );
    let _ = writeln!(inv, "attestations = \"attestations.toml\"\n");
    inv.push_str("[targets]\n");
    inv.push_str("public_endpoints = [\"app.opendoors.ai:443\", \"api.opendoors.ai:443\", \"files.opendoors.ai:443\", \"portal.opendoors.ai:443\", \"sso.opendoors.ai:443\"]\n");
    inv.push_str("primary_domains = [\"opendoors.ai\", \"opendoors.io\"]\n");
    inv.push_str("status_pages = [\"https://opendoors.ai/status\"]\n");
    inv.push_str(
        "source_repositories = [\"opendoors/*\"]\nsource_organizations = [\"opendoors\"]\n",
    );
    if aws_url.is_some() {
        inv.push_str("aws_buckets = [\"*\"]\naws_keys = [\"*\"]\naws_databases = [\"*\"]\naws_tables = [\"*\"]\naws_vaults = [\"*\"]\naws_protected = [\"protected:*\"]\naws_trails = [\"*\"]\naws_log_groups = [\"/security/*\"]\naws_account = [\"account\"]\n");
        inv.push_str("aws_load_balancers = [\"*\"]\naws_distributions = [\"*\"]\n");
        inv.push_str(
            "aws_backup_coverage = [\"coverage:*\"]\naws_backup_regions = [\"region:*\"]\n",
        );
        inv.push_str("aws_ebs_defaults = [\"ebs-default:*\"]\naws_block_storage = [\"*\"]\naws_db_snapshots = [\"snapshot:*\", \"cluster-snapshot:*\"]\naws_file_systems = [\"*\"]\naws_certificates = [\"*\"]\naws_secrets = [\"*\"]\n");
        // One region (GuardDuty's `*` would be every region the emulator lists). No edge
        // resources: the emulator cannot attach a web ACL to CloudFront.
        let _ = writeln!(inv, "aws_regions = [\"{}\"]\naws_edge = []", aws::REGION);
    }
    inv.push_str("\n[resolve]\n");
    for (k, v) in &resolve {
        let _ = writeln!(inv, "\"{k}\" = \"{v}\"");
    }
    let _ = write!(
        inv,
        "\n[tls]\nca_file = \"demo-ca.pem\"\n\n[http]\npreload_list = \"{}\"\n\n\
         [github]\napi_url = \"{github_url}\"\ntoken_env = \"{GITHUB_TOKEN_ENV}\"\n\n{aws_section}",
        preload.display()
    );
    let inventory = dir.join("vouch.toml");
    std::fs::write(&inventory, inv)?;
    Ok(Estate {
        dir: dir.to_path_buf(),
        inventory,
        children: vec![child],
        tasks,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .context("usage: demo-estate DIR [AWS_ENDPOINT_URL]")?,
    );
    let aws_url = args.next();
    let estate = start(&dir, aws_url.as_deref()).await?;
    std::fs::write(dir.join("ready"), "")?;
    eprintln!("demo estate ready: {}", estate.inventory.display());
    // Stop on Ctrl-C and on SIGTERM (what `kill` and scripts/demo's clean-up send; a background
    // job of a script ignores SIGINT): either way every server, and the `openssl s_server`
    // child, is stopped by dropping the estate, never left running.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    drop(estate);
    Ok(())
}
