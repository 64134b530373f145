//! The `http` probe's verdicts where they once differed from Chromium, hstspreload.org and RFC
//! 9116 (issue #15), one loopback test per wrong answer, named for it; then hstspreload's own test
//! tables (header, redirects, domain format) ported as tables: the pure ones against the
//! functions, the ones upstream runs against live sites against loopback sites built the same way.
//!
//! The servers write HTTP by hand (blank `Location:`, a byte-order mark, a 10 KB header) on one
//! HTTPS and one HTTP listener, routing by Host; an HTTP/2-only listener, a listener that answers
//! every ClientHello with a handshake_failure alert, and a refused port complete the estate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use vouch::inventory::Inventory;
use vouch::probe::http::HttpProbe;
use vouch::probe::http::hsts::{
    Issues, domain_issues, domain_level_issues, preload_parse, preloadable_header,
};
use vouch::probe::{Observation, Params, Probe, ProbeContext, ProbeError, ProbeOptions};

use crate::support;

const GOOD: &str = "max-age=31536000; includeSubDomains; preload";
const TXT: &str = "Contact: mailto:security@example.test\nExpires: 2099-01-01T00:00:00Z\n";
const PLAIN_UTF8: &str = "text/plain; charset=utf-8";

/// Every name the test certificate covers.
const NAMES: &[&str] = &[
    "notxtcontact.test",
    "offsite.test",
    "elsewhere.test",
    "ready2.test",
    "other.ready2.test",
    "app.ready2.test",
    "x.app.ready2.test",
    "pins.ready2.test",
    "blankloc.test",
    "bom.test",
    "httpsonly.test",
    "plainok.test",
    "farexpiry.test",
    "nocharset.test",
    "looseexpires.test",
    "httppolicy.test",
    "txtoffhttps.test",
    "bigheader.test",
    "overflow.test",
    "creds.test",
    "github.io",
    "bofa.test",
    "www.bank.test",
    "sameorigin.test",
    "blogger.test",
    "www.blogger.test",
    "nohstsfirst.test",
    "redir3.test",
    "redir4.test",
    "insecure.test",
    "indirect.test",
    "port.test",
    "uselesshdr.test",
    "noredirect.test",
    "examplelike.test",
];

/// Set when any request carries an Authorization header (credentials forwarded from a URL).
static AUTHORIZATION_SEEN: AtomicBool = AtomicBool::new(false);

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn reply(status: u16, headers: Vec<(&'static str, String)>, body: impl Into<Vec<u8>>) -> Reply {
    Reply {
        status,
        headers,
        body: body.into(),
    }
}

fn sts(v: &str) -> Vec<(&'static str, String)> {
    vec![("Strict-Transport-Security", v.to_string())]
}

fn to(status: u16, location: &str) -> Reply {
    reply(status, vec![("Location", location.to_string())], "")
}

fn to_with_sts(location: &str, hsts: &str) -> Reply {
    reply(
        301,
        vec![
            ("Location", location.to_string()),
            ("Strict-Transport-Security", hsts.to_string()),
        ],
        "",
    )
}

fn txt(content_type: &str, body: &str) -> Reply {
    reply(200, vec![("Content-Type", content_type.to_string())], body)
}

/// What plain HTTP answers, by host.
fn route_http(host: &str, path: &str) -> Reply {
    match host {
        "offsite.test" => to(301, "https://elsewhere.test/"),
        // "Location:" with nothing after it.
        "blankloc.test" => to(301, ""),
        "plainok.test" | "noredirect.test" | "examplelike.test" | "badcertnohsts.test" => {
            reply(200, vec![], "plain page")
        }
        "bofa.test" => to(301, "https://www.bank.test/vanity/redirect?src=/"),
        "sameorigin.test" if path == "/" => to(301, "http://sameorigin.test/fandom"),
        "sameorigin.test" => to(301, "https://sameorigin.test/"),
        "blogger.test" => to(301, "http://www.blogger.test/"),
        "www.blogger.test" => to(301, "https://www.blogger.test/a"),
        "nohstsfirst.test" => to(301, "https://nohstsfirst.test/landing"),
        "uselesshdr.test" => to_with_sts("https://elsewhere.test/", GOOD),
        "insecure.test" | "indirect.test" if path == "/plain" => reply(200, vec![], "plain"),
        _ => to(301, &format!("https://{host}{path}")),
    }
}

/// What HTTPS answers, by host and path.
fn route_https(host: &str, path: &str) -> Reply {
    let good = || reply(200, sts(GOOD), "hello");
    if path == "/.well-known/security.txt" {
        return match host {
            "notxtcontact.test" => txt(PLAIN_UTF8, "Expires: 2099-01-01T00:00:00Z\n"),
            // The host an http:// target redirects to publishes a good file; the target does not.
            "elsewhere.test" => txt(PLAIN_UTF8, TXT),
            "bom.test" => txt(
                PLAIN_UTF8,
                &format!(
                    "\u{feff}Contact: mailto:security@bom.test\nExpires: {}\n",
                    in_days(100)
                ),
            ),
            "farexpiry.test" => txt(
                PLAIN_UTF8,
                &format!(
                    "Contact: mailto:security@farexpiry.test\nExpires: {}\n",
                    in_days(800)
                ),
            ),
            "nocharset.test" => txt(
                "text/plain",
                &format!(
                    "Contact: mailto:a@nocharset.test\nExpires: {}\n",
                    in_days(100)
                ),
            ),
            "looseexpires.test" => txt(
                PLAIN_UTF8,
                "Contact: mailto:a@looseexpires.test\nExpires: 2027-01-01 00:00:00Z\n",
            ),
            "httppolicy.test" => txt(
                PLAIN_UTF8,
                &format!(
                    "Contact: mailto:a@httppolicy.test\nExpires: {}\nPolicy: http://httppolicy.test/policy\n",
                    in_days(100)
                ),
            ),
            "txtoffhttps.test" => to(301, "http://txtoffhttps.test/security.txt"),
            "httpsonly.test" | "plainok.test" => txt(
                PLAIN_UTF8,
                &format!("Contact: mailto:a@{host}\nExpires: {}\n", in_days(100)),
            ),
            _ => reply(404, vec![], "not found"),
        };
    }
    match (host, path) {
        ("elsewhere.test", _) | ("www.bank.test", _) => good(),
        ("blankloc.test", _) => reply(301, [sts(GOOD), vec![("Location", "".into())]].concat(), ""),
        ("bigheader.test", _) => reply(
            200,
            sts(&format!("{GOOD}; {}", "x".repeat(10_000))),
            "hello",
        ),
        ("overflow.test", _) => reply(
            200,
            sts("max-age=99999999999999999999999; includeSubDomains; preload"),
            "hello",
        ),
        ("creds.test", "/") => reply(
            302,
            [
                sts(GOOD),
                vec![("Location", "https://user:pa55word@creds.test/cb".into())],
            ]
            .concat(),
            "",
        ),
        ("www.blogger.test", "/a") => to(301, "https://www.blogger.test/b"),
        ("www.blogger.test", "/b") => to(301, "https://www.blogger.test/c"),
        ("www.blogger.test", "/c") => to(301, "https://www.blogger.test/d"),
        ("nohstsfirst.test", "/landing") => reply(200, vec![], "landing, no HSTS"),
        ("redir3.test" | "redir4.test", "/") => reply(
            301,
            [sts(GOOD), vec![("Location", "/relative-redirect/3".into())]].concat(),
            "",
        ),
        ("redir3.test", "/relative-redirect/3") => to(301, "/relative-redirect/2"),
        ("redir4.test", "/relative-redirect/3") => to(301, "/relative-redirect/2"),
        ("redir3.test", "/relative-redirect/2") => to(301, "/get"),
        ("redir4.test", "/relative-redirect/2") => to(301, "/relative-redirect/1"),
        ("redir4.test", "/relative-redirect/1") => to(301, "/get"),
        ("insecure.test", "/") => reply(
            301,
            [
                sts(GOOD),
                vec![("Location", "http://insecure.test/plain".into())],
            ]
            .concat(),
            "",
        ),
        ("indirect.test", "/") => reply(
            301,
            [
                sts(GOOD),
                vec![("Location", "https://indirect.test/hop".into())],
            ]
            .concat(),
            "",
        ),
        ("indirect.test", "/hop") => to(301, "http://indirect.test/plain"),
        ("port.test", "/") => reply(
            301,
            [
                sts(GOOD),
                vec![("Location", "https://port.test:1011/landing".into())],
            ]
            .concat(),
            "",
        ),
        ("examplelike.test" | "badcertnohsts.test", _) => reply(200, vec![], "no header here"),
        _ => good(),
    }
}

/// An RFC 3339 date `days` from now.
fn in_days(days: i64) -> String {
    let t = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .unwrap();
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        404 => "Not Found",
        _ => "Other",
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, https: bool) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.lines();
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let mut host = String::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("host") {
                host = v.trim().split(':').next().unwrap_or_default().to_string();
            }
            if k.eq_ignore_ascii_case("authorization") {
                AUTHORIZATION_SEEN.store(true, Ordering::SeqCst);
            }
        }
    }
    let r = if https {
        route_https(&host, &path)
    } else {
        route_http(&host, &path)
    };
    let mut out = format!("HTTP/1.1 {} {}\r\n", r.status, status_text(r.status)).into_bytes();
    for (k, v) in r.headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            r.body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&r.body);
    let _ = s.write_all(&out).await;
    let _ = s.shutdown().await;
}

struct Estate {
    inventory: Inventory,
    dir: tempfile::TempDir,
    _closed: tokio::net::TcpSocket,
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let a = l.local_addr().unwrap();
    (l, a)
}

fn server_config(
    leaf: &rcgen::Certificate,
    key: &rcgen::KeyPair,
    alpn: &[&[u8]],
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// An HTTP/2-only server (ALPN `h2` and nothing else): every request gets 200 with HSTS.
async fn serve_h2<S: AsyncRead + AsyncWrite + Unpin>(s: S) {
    let Ok(mut conn) = h2::server::handshake(s).await else {
        return;
    };
    while let Some(Ok((_req, mut respond))) = conn.accept().await {
        let response = http::Response::builder()
            .status(200)
            .header("strict-transport-security", GOOD)
            .body(())
            .unwrap();
        if let Ok(mut body) = respond.send_response(response, false) {
            let _ = body.send_data(bytes::Bytes::from_static(b"h2 only"), true);
        }
    }
}

async fn start() -> Estate {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "vouch http verdicts CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    names.push("h2only.test".into());
    let leaf = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();

    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(&leaf, &leaf_key, &[b"http/1.1"]));
    let (https, https_addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = https.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve(tls, true).await;
                }
            });
        }
    });
    let (http, http_addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = http.accept().await {
            tokio::spawn(serve(tcp, false));
        }
    });
    let h2_acceptor = tokio_rustls::TlsAcceptor::from(server_config(&leaf, &leaf_key, &[b"h2"]));
    let (h2, h2_addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = h2.accept().await {
            let acceptor = h2_acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve_h2(tls).await;
                }
            });
        }
    });
    // Answers any ClientHello with a fatal handshake_failure alert, as a server with nothing
    // in common with a modern client does.
    let (alert, alert_addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = alert.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tcp.read(&mut buf).await;
                let _ = tcp
                    .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
                    .await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    // Refuses connections (bound, never listening) for the estate's lifetime.
    let closed = tokio::net::TcpSocket::new_v4().expect("socket");
    closed.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let closed_addr = closed.local_addr().unwrap();

    let mut inventory = Inventory::default();
    for name in NAMES {
        inventory.resolve.insert(format!("{name}:443"), https_addr);
        inventory.resolve.insert(format!("{name}:80"), http_addr);
        if !name.starts_with("www.") {
            inventory
                .resolve
                .insert(format!("www.{name}:443"), closed_addr);
        }
    }
    inventory
        .resolve
        .insert("www.bank.test:443".into(), https_addr);
    inventory
        .resolve
        .insert("www.blogger.test:443".into(), https_addr);
    inventory
        .resolve
        .insert("port.test:1011".into(), https_addr);
    // An HTTPS-only site: nothing listens on port 80.
    inventory
        .resolve
        .insert("httpsonly.test:80".into(), closed_addr);
    inventory.resolve.insert("h2only.test:443".into(), h2_addr);
    inventory
        .resolve
        .insert("h2only.test:80".into(), closed_addr);
    inventory
        .resolve
        .insert("www.h2only.test:443".into(), closed_addr);
    // Served with a certificate that does not name it.
    for name in ["selfsigned.test", "badcertnohsts.test"] {
        inventory.resolve.insert(format!("{name}:443"), https_addr);
        inventory.resolve.insert(format!("{name}:80"), http_addr);
        inventory
            .resolve
            .insert(format!("www.{name}:443"), closed_addr);
    }
    inventory
        .resolve
        .insert("notls.test:443".into(), alert_addr);
    inventory.resolve.insert("notls.test:80".into(), http_addr);
    inventory
        .resolve
        .insert("www.notls.test:443".into(), closed_addr);
    inventory.tls.ca_file = Some(dir.path().join("ca.pem"));
    inventory.http.preload_list = Some(support::fixture("http/preload-list.json"));
    Estate {
        inventory,
        dir,
        _closed: closed,
    }
}

async fn try_observe(estate: &Estate, target: &str) -> Result<Observation, ProbeError> {
    let ctx = ProbeContext::new(
        Arc::new(estate.inventory.clone()),
        ProbeOptions {
            timeout: Duration::from_secs(10),
            ..ProbeOptions::default()
        },
    );
    HttpProbe::default()
        .observe(target, &Params::new(), &ctx)
        .await
}

async fn observe(estate: &Estate, target: &str) -> Observation {
    try_observe(estate, target)
        .await
        .unwrap_or_else(|e| panic!("observing {target}: {e}"))
}

fn f<'a>(obs: &'a Observation, path: &str) -> &'a Value {
    obs.facts
        .get(path)
        .unwrap_or_else(|| panic!("fact {path} missing; unobserved: {:?}", obs.unobserved))
}

fn issues(obs: &Observation) -> Vec<String> {
    serde_json::from_value(f(obs, "preload.issues").clone()).unwrap()
}

fn warnings(obs: &Observation) -> Vec<String> {
    obs.evidence["preload.warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap().to_string())
        .collect()
}

/// Runs one built-in control over `domains` through the command line; verdict per target.
async fn builtin_verdicts(
    estate: &Estate,
    control: &str,
    domains: &[&str],
) -> Vec<(String, String, String)> {
    let mut toml = String::from("[targets]\nprimary_domains = [");
    toml.push_str(
        &domains
            .iter()
            .map(|d| format!("\"{d}\""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    toml.push_str("]\n\n[resolve]\n");
    for (name, addr) in &estate.inventory.resolve {
        toml.push_str(&format!("\"{name}\" = \"{addr}\"\n"));
    }
    toml.push_str("\n[tls]\nca_file = \"ca.pem\"\n");
    let inventory = estate.dir.path().join(format!("{control}.toml"));
    std::fs::write(&inventory, toml).unwrap();
    let control = control.to_string();
    let out = tokio::task::spawn_blocking(move || {
        support::vouch()
            .arg("check")
            .arg("--inventory")
            .arg(&inventory)
            .args(["--only", &control, "--format", "json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    report["controls"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
                r["checks"].to_string(),
            )
        })
        .collect()
}

/// The verdict for `target`, and its checks for the failure message.
fn verdict_of(verdicts: &[(String, String, String)], target: &str) -> String {
    let (_, verdict, checks) = verdicts
        .iter()
        .find(|(t, _, _)| t == target)
        .unwrap_or_else(|| panic!("no result for {target} in {verdicts:?}"));
    println!("{target}: {verdict} {checks}");
    verdict.clone()
}

// ---------------------------------------------------------------------------------------------
// The eight wrong verdicts
// ---------------------------------------------------------------------------------------------

/// Item 1: `security_txt.contact = []` satisfied `exists`, so a file with no Contact passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_txt_without_contact_does_not_pass() {
    let estate = start().await;
    let obs = observe(&estate, "notxtcontact.test").await;
    assert_eq!(f(&obs, "security_txt.present"), &json!(true));
    assert_eq!(f(&obs, "security_txt.contact"), &Value::Null);
    assert!(
        f(&obs, "security_txt.errors")
            .to_string()
            .contains("no Contact"),
        "{}",
        f(&obs, "security_txt.errors")
    );
    let v = builtin_verdicts(
        &estate,
        "APPSEC-SECURITY-TXT",
        &["notxtcontact.test", "bom.test"],
    )
    .await;
    assert_eq!(verdict_of(&v, "notxtcontact.test"), "fail");
    // The control still passes a good file (a BOM and all).
    assert_eq!(verdict_of(&v, "bom.test"), "pass");
}

/// Item 2: a JSON file without `entries` loaded as an empty list: "not preloaded" for every
/// domain instead of "could not judge".
#[tokio::test]
async fn a_wrong_preload_file_is_an_error_not_nothing_preloaded() {
    let mut estate = start().await;
    for (content, want) in [
        ("{\"pinsets\": []}\n", "entries"),
        ("{\"entries\": []}\n", "force-https"),
        (
            "{\"entries\": [{\"name\": \"ready2.test\", \"pins\": \"x\"}]}\n",
            "force-https",
        ),
    ] {
        let path = estate.dir.path().join("wrong-list.json");
        std::fs::write(&path, content).unwrap();
        estate.inventory.http.preload_list = Some(path);
        let obs = observe(&estate, "https://ready2.test/").await;
        assert!(
            !obs.facts.contains_key("preload.listed"),
            "{content}: listed = {:?}",
            obs.facts.get("preload.listed")
        );
        let why = &obs.unobserved["preload.listed"];
        assert!(why.contains(want), "{content}: {why}");
    }
}

/// Item 3: for an http:// target redirected to another host, that host's HSTS header and
/// security.txt were credited to the target.
#[tokio::test]
async fn another_hosts_headers_are_not_credited_to_an_http_target() {
    let estate = start().await;
    let obs = observe(&estate, "http://offsite.test/").await;
    assert_eq!(
        f(&obs, "response.final_url"),
        &json!("https://elsewhere.test/")
    );
    assert_eq!(f(&obs, "hsts.present"), &json!(false));
    assert_eq!(f(&obs, "hsts.valid"), &json!(false));
    assert_eq!(f(&obs, "hsts.raw"), &Value::Null);
    let errors = f(&obs, "hsts.errors").to_string();
    assert!(errors.contains("offsite.test"), "{errors}");
    assert!(
        obs.evidence["hsts.source"]["note"]
            .as_str()
            .unwrap()
            .contains("never from another host"),
        "{}",
        obs.evidence["hsts.source"]
    );
    // offsite.test's own security.txt (404), not elsewhere.test's good file.
    assert_eq!(f(&obs, "security_txt.present"), &json!(false));
    assert_eq!(
        obs.evidence["security_txt.requests"]["start"],
        json!("https://offsite.test/.well-known/security.txt")
    );
    // The same chain's own-host case still reads the header.
    let own = observe(&estate, "http://elsewhere.test/").await;
    assert_eq!(f(&own, "hsts.valid"), &json!(true));
    assert_eq!(f(&own, "security_txt.present"), &json!(true));
}

/// Item 4: the lookup stopped at the first ancestor with include_subdomains; Chromium lets the
/// most specific entry decide.
#[tokio::test]
async fn the_most_specific_preload_entry_decides() {
    let mut estate = start().await;
    let list = estate.dir.path().join("list.json");
    std::fs::write(
        &list,
        r#"// test list
{ "entries": [
  { "name": "ready2.test", "policy": "custom", "mode": "force-https", "include_subdomains": true },
  { "name": "app.ready2.test", "policy": "custom", "mode": "force-https" },
  { "name": "pins.ready2.test", "policy": "custom", "pins": "test", "include_subdomains": true }
] }
"#,
    )
    .unwrap();
    estate.inventory.http.preload_list = Some(list);
    for (target, listed, entry) in [
        ("https://other.ready2.test/", true, json!("ready2.test")),
        ("https://app.ready2.test/", true, json!("app.ready2.test")),
        // A closer entry without include_subdomains hides the parent's.
        ("https://x.app.ready2.test/", false, Value::Null),
        // A pins-only entry is no HSTS preload, though its parent has include_subdomains.
        ("https://pins.ready2.test/", false, Value::Null),
    ] {
        let obs = observe(&estate, target).await;
        assert_eq!(f(&obs, "preload.listed"), &json!(listed), "{target}");
        assert_eq!(f(&obs, "preload.matched_entry"), &entry, "{target}");
    }
}

/// Item 5: a blank Location was followed as a redirect to the same URL, ten times, then a
/// redirect loop (an error on a URL target).
#[tokio::test]
async fn a_blank_location_is_no_redirect_not_a_loop() {
    let estate = start().await;
    let obs = observe(&estate, "http://blankloc.test/").await;
    assert_eq!(f(&obs, "response.status"), &json!(301));
    assert_eq!(f(&obs, "redirect.chain").as_array().unwrap().len(), 1);
    assert_eq!(f(&obs, "redirect.chain")[0]["location"], Value::Null);
    assert_eq!(f(&obs, "redirect.http"), &json!("no_redirect"));
    let https = observe(&estate, "https://blankloc.test/").await;
    assert_eq!(
        f(&https, "response.final_url"),
        &json!("https://blankloc.test/")
    );
    let domain = observe(&estate, "blankloc.test").await;
    assert_eq!(issues(&domain), ["redirects.http.no_redirect"]);
}

/// Item 6: a UTF-8 byte-order mark made the first field `\u{feff}Contact`, an unknown field.
#[tokio::test]
async fn a_byte_order_mark_does_not_hide_the_first_field() {
    let estate = start().await;
    let obs = observe(&estate, "bom.test").await;
    assert_eq!(
        f(&obs, "security_txt.contact"),
        &json!(["mailto:security@bom.test"])
    );
    assert_eq!(f(&obs, "security_txt.errors"), &json!([]));
}

/// Item 7: an HTTPS-only site (port 80 closed) failed the redirect control with "observed none".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_only_site_satisfies_the_redirect_control() {
    let estate = start().await;
    let obs = observe(&estate, "httpsonly.test").await;
    assert_eq!(f(&obs, "redirect.http"), &json!("closed"));
    assert_eq!(f(&obs, "redirect.http_to_https"), &Value::Null);
    assert!(warnings(&obs).contains(&"redirects.http.does_not_exist".to_string()));
    assert_eq!(issues(&obs), Vec::<String>::new());
    let text = HttpProbe::default().render(&obs).unwrap();
    assert!(text.contains("plain HTTP: closed"), "{text}");
    let plain = observe(&estate, "plainok.test").await;
    assert_eq!(f(&plain, "redirect.http"), &json!("no_redirect"));
    let v = builtin_verdicts(
        &estate,
        "ENC-TRANSIT-HTTPS-REDIRECT",
        &[
            "httpsonly.test",
            "plainok.test",
            "elsewhere.test",
            "offsite.test",
        ],
    )
    .await;
    assert_eq!(verdict_of(&v, "httpsonly.test"), "pass");
    assert_eq!(verdict_of(&v, "elsewhere.test"), "pass");
    // Plain HTTP served without a redirect, or redirected to another host: still failures.
    assert_eq!(verdict_of(&v, "plainok.test"), "fail");
    assert_eq!(verdict_of(&v, "offsite.test"), "fail");
}

/// Item 8: RFC 9116 rules vouch did not check: Expires over a year ahead, the exact media type
/// with charset=utf-8, strict RFC 3339, https:// web URIs and HTTPS-only retrieval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_txt_rfc9116_rules_that_passed_unchecked() {
    let estate = start().await;
    let far = observe(&estate, "farexpiry.test").await;
    let days = f(&far, "security_txt.expires_in_days").as_i64().unwrap();
    assert!((799..=800).contains(&days), "{days}");
    let near = observe(&estate, "bom.test").await;
    let days = f(&near, "security_txt.expires_in_days").as_i64().unwrap();
    assert!((99..=100).contains(&days), "{days}");
    for (target, want) in [
        ("nocharset.test", "no charset"),
        ("looseexpires.test", "not an RFC 3339"),
        ("httppolicy.test", "http:// URI"),
        ("txtoffhttps.test", "off HTTPS"),
    ] {
        let obs = observe(&estate, target).await;
        let errors = f(&obs, "security_txt.errors").to_string();
        assert!(errors.contains(want), "{target}: {errors}");
    }
    let v = builtin_verdicts(
        &estate,
        "APPSEC-SECURITY-TXT",
        &[
            "bom.test",
            "farexpiry.test",
            "nocharset.test",
            "looseexpires.test",
            "httppolicy.test",
            "txtoffhttps.test",
        ],
    )
    .await;
    assert_eq!(verdict_of(&v, "bom.test"), "pass");
    for t in [
        "farexpiry.test",
        "nocharset.test",
        "looseexpires.test",
        "httppolicy.test",
        "txtoffhttps.test",
    ] {
        assert_eq!(verdict_of(&v, t), "fail", "{t}");
    }
}

// ---------------------------------------------------------------------------------------------
// Parity with hstspreload.org
// ---------------------------------------------------------------------------------------------

/// A public suffix was `internal.domain.name.cannot_compute_etld1` plus every live check; upstream
/// reports `domain.format.public_suffix` and stops there.
#[tokio::test]
async fn a_public_suffix_is_reported_with_upstreams_code_and_nothing_else() {
    let estate = start().await;
    let obs = observe(&estate, "github.io").await;
    assert_eq!(issues(&obs), ["domain.format.public_suffix"]);
    // The browser's reading is still observed.
    assert_eq!(f(&obs, "hsts.valid"), &json!(true));
}

/// After an invalid certificate hstspreload.org reports only `domain.tls.invalid_cert_chain`.
#[tokio::test]
async fn an_invalid_certificate_is_the_only_preload_issue() {
    let estate = start().await;
    let obs = observe(&estate, "badcertnohsts.test").await;
    assert_eq!(issues(&obs), ["domain.tls.invalid_cert_chain"]);
}

/// A TLS handshake that fails for another reason than the certificate was a probe error;
/// upstream's `domain.tls.cannot_connect` is the observation.
#[tokio::test]
async fn a_failed_tls_handshake_is_cannot_connect() {
    let estate = start().await;
    let obs = observe(&estate, "notls.test").await;
    assert_eq!(issues(&obs), ["domain.tls.cannot_connect"]);
    assert_eq!(f(&obs, "preload.eligible"), &json!(false));
    assert!(obs.unobserved.contains_key("hsts.valid"));
}

/// An HTTP/2-only server was unreachable (ALPN offered only http/1.1).
#[tokio::test]
async fn an_http2_only_server_is_reachable() {
    let estate = start().await;
    let obs = observe(&estate, "https://h2only.test/").await;
    assert_eq!(f(&obs, "response.status"), &json!(200));
    assert_eq!(f(&obs, "hsts.valid"), &json!(true));
}

/// A redirect's user:password was followed and sent as Basic auth to the next request.
#[tokio::test]
async fn credentials_in_a_location_are_never_forwarded() {
    AUTHORIZATION_SEEN.store(false, Ordering::SeqCst);
    let estate = start().await;
    let obs = observe(&estate, "https://creds.test/").await;
    assert_eq!(
        f(&obs, "response.final_url"),
        &json!("https://creds.test/cb")
    );
    assert!(
        !AUTHORIZATION_SEEN.load(Ordering::SeqCst),
        "credentials from a Location header were sent"
    );
    assert!(!serde_json::to_string(&obs).unwrap().contains("pa55word"));
}

/// A 10 KB header value was kept whole in `hsts.raw`, the evidence and issue messages.
#[tokio::test]
async fn header_values_are_capped_in_facts_and_evidence() {
    let estate = start().await;
    let obs = observe(&estate, "bigheader.test").await;
    let raw = f(&obs, "hsts.raw").as_str().unwrap();
    assert!(raw.len() < 2100 && raw.ends_with("…[cut]"), "{}", raw.len());
    let source = obs.evidence["hsts.source"]["headers"][0].as_str().unwrap();
    assert!(source.len() < 2100, "{}", source.len());
    for w in obs.evidence["preload.warnings"].as_array().unwrap() {
        assert!(w["message"].as_str().unwrap().len() < 2100);
    }
    // The whole value was still read: the policy is valid.
    assert_eq!(f(&obs, "hsts.valid"), &json!(true));
}

/// `max-age` beyond any integer was reported as i64::MAX; Chromium clips it to its one-year cap.
#[tokio::test]
async fn an_overflowing_max_age_is_reported_as_chromium_clips_it() {
    let estate = start().await;
    let obs = observe(&estate, "https://overflow.test/").await;
    assert_eq!(f(&obs, "hsts.max_age"), &json!(31_536_000));
    assert_eq!(
        issues(&obs),
        [
            "header.parse.max_age.parse_int_error",
            "header.preloadable.max_age.missing"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// hstspreload's test tables
// ---------------------------------------------------------------------------------------------

fn codes(i: &Issues) -> (Vec<&'static str>, Vec<&'static str>) {
    (
        i.errors().map(|x| x.code).collect(),
        i.warnings().map(|x| x.code).collect(),
    )
}

/// header_test.go: TestParseHeaderString, TestParseHeaderStringWithErrors (errors, warnings,
/// and the parsed max-age / includeSubDomains / preload).
#[test]
fn hstspreload_parse_header_table() {
    type Row = (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        Option<(Option<u64>, bool, bool)>,
    );
    let rows: &[Row] = &[
        (
            "includeSubDomains; max-age=1337",
            &[],
            &[],
            Some((Some(1337), true, false)),
        ),
        (
            "preload; max-age=1337",
            &[],
            &[],
            Some((Some(1337), false, true)),
        ),
        (
            "preload; includeSubDomains",
            &[],
            &[],
            Some((None, true, true)),
        ),
        (
            "max-age=31536000; includeSubDomains; preload",
            &[],
            &[],
            Some((Some(31536000), true, true)),
        ),
        (
            "includeSubDomains; preload; max-age=4321",
            &[],
            &[],
            Some((Some(4321), true, true)),
        ),
        (
            "   max-age=10886400  ;     includeSubDomains    ;     preload      ",
            &[],
            &[],
            Some((Some(10886400), true, true)),
        ),
        (
            "includeSubDomains; preload; max-age=12345678",
            &[],
            &[],
            Some((Some(12345678), true, true)),
        ),
        (
            "max-age=10886400; preload; includeSubDomains",
            &[],
            &[],
            Some((Some(10886400), true, true)),
        ),
        (
            "max-age=10886400; includeSubDomains",
            &[],
            &[],
            Some((Some(10886400), true, false)),
        ),
        (
            "inCLUDESUBDomaINs; max-AGe=12345678",
            &[],
            &[],
            Some((Some(12345678), true, false)),
        ),
        ("", &[], &["header.parse.empty"], Some((None, false, false))),
        (
            "preload; includeSubDomains; preload; max-age=12345678; preload",
            &[],
            &["header.parse.repeated.preload"],
            Some((Some(12345678), true, true)),
        ),
        (
            "includeSubDomains; max-age=12345678; preload; extraDirective",
            &[],
            &["header.parse.unknown_directive"],
            Some((Some(12345678), true, true)),
        ),
        (
            "max-age=12345678; extra; includeSubDomains; directives; preload",
            &[],
            &[
                "header.parse.unknown_directive",
                "header.parse.unknown_directive",
            ],
            Some((Some(12345678), true, true)),
        ),
        (
            ";",
            &[],
            &["header.parse.empty_directive"],
            Some((None, false, false)),
        ),
        (
            "max-age=10886400; includeSubDomains; preload;",
            &[],
            &["header.parse.empty_directive"],
            Some((Some(10886400), true, true)),
        ),
        (
            "; max-age=10886400; includeSubDomains; preload",
            &[],
            &["header.parse.empty_directive"],
            Some((Some(10886400), true, true)),
        ),
        (
            "max-age=01234",
            &[],
            &["header.parse.max_age.leading_zero"],
            Some((Some(1234), false, false)),
        ),
        (
            "max-age=",
            &["header.parse.max_age.parse_int_error"],
            &[],
            None,
        ),
        (
            "max-age",
            &["header.parse.invalid.max_age.no_value"],
            &[],
            None,
        ),
        (
            "max-age=-101",
            &["header.parse.max_age.non_digit_characters"],
            &[],
            None,
        ),
        (
            "max-age=+101",
            &["header.parse.max_age.non_digit_characters"],
            &[],
            None,
        ),
        (
            "max-age;",
            &["header.parse.invalid.max_age.no_value"],
            &["header.parse.empty_directive"],
            None,
        ),
        (
            "includeDomains; max-age;",
            &["header.parse.invalid.max_age.no_value"],
            &[
                "header.parse.unknown_directive",
                "header.parse.empty_directive",
            ],
            None,
        ),
    ];
    for (header, errors, warnings, parsed) in rows {
        let (h, issues) = preload_parse(header);
        let (e, w) = codes(&issues);
        assert_eq!(&e, errors, "errors of {header:?}");
        assert_eq!(&w, warnings, "warnings of {header:?}");
        if let Some((max_age, subs, preload)) = parsed {
            assert_eq!(
                (h.max_age, h.include_subdomains, h.preload),
                (*max_age, *subs, *preload),
                "{header:?}"
            );
        }
    }
    let (_, i) = preload_parse("max-age=-101");
    assert_eq!(
        i.errors().next().unwrap().message,
        "The header's max-age value contains characters that are not digits: `max-age=-101`"
    );
}

/// header_test.go: TestPreloadableHeaderString.
#[test]
fn hstspreload_preloadable_header_table() {
    let rows: &[(&str, &[&str], &[&str])] = &[
        ("max-age=31536000; includeSubDomains; preload", &[], &[]),
        (
            "max-age=315360001; preload; includeSubDomains",
            &[],
            &["header.preloadable.max_age.over_10_years"],
        ),
        (
            "",
            &[
                "header.preloadable.include_sub_domains.missing",
                "header.preloadable.preload.missing",
                "header.preloadable.max_age.missing",
            ],
            &["header.parse.empty"],
        ),
        (
            "includeSubDomains; max-age=31536000",
            &["header.preloadable.preload.missing"],
            &[],
        ),
        (
            "preload; max-age=31536000",
            &["header.preloadable.include_sub_domains.missing"],
            &[],
        ),
        (
            "includeSubDomains; preload",
            &["header.preloadable.max_age.missing"],
            &[],
        ),
        (
            "preload",
            &[
                "header.preloadable.include_sub_domains.missing",
                "header.preloadable.max_age.missing",
            ],
            &[],
        ),
        (
            "includeSubDomains",
            &[
                "header.preloadable.preload.missing",
                "header.preloadable.max_age.missing",
            ],
            &[],
        ),
        (
            "max-age=123456789",
            &[
                "header.preloadable.include_sub_domains.missing",
                "header.preloadable.preload.missing",
            ],
            &[],
        ),
        (
            "includeSubDomains; preload; max-age",
            &[
                "header.parse.invalid.max_age.no_value",
                "header.preloadable.max_age.missing",
            ],
            &[],
        ),
        (
            "includeSubDomains; preload; max-age=0",
            &["header.preloadable.max_age.zero"],
            &[],
        ),
        (
            "includeSubDomains; preload; max-age=100",
            &["header.preloadable.max_age.below_1_year"],
            &[],
        ),
        (
            "includeSubDomains; preload; max-age=10886400",
            &["header.preloadable.max_age.below_1_year"],
            &[],
        ),
        (
            "max-age=315360001; includeSubDomains",
            &["header.preloadable.preload.missing"],
            &["header.preloadable.max_age.over_10_years"],
        ),
        // Upstream dropped its capitalisation warning.
        ("max-age=31536000; includesubdomains; preload", &[], &[]),
    ];
    for (header, errors, warnings) in rows {
        let (e, w) = codes(&preloadable_header(header));
        assert_eq!(&e, errors, "errors of {header:?}");
        assert_eq!(&w, warnings, "warnings of {header:?}");
    }
    let i = preloadable_header("max-age=315360001; preload; includeSubDomains");
    assert_eq!(
        i.warnings().next().unwrap().message,
        "FYI: The max-age (315360001 seconds) is longer than 10 years, which is an unusually long value."
    );
}

/// domain_test.go: TestCheckDomainFormat and TestPreloadableDomainLevel.
#[test]
fn hstspreload_domain_format_table() {
    let rows: &[(&str, &[&str])] = &[
        (".example.com", &["domain.format.begins_with_dot"]),
        ("example.com.", &["domain.format.ends_with_dot"]),
        ("example..com", &["domain.format.contains_double_dot"]),
        ("example", &["domain.format.public_suffix"]),
        ("co.uk", &["domain.format.public_suffix"]),
        ("github.io", &["domain.format.public_suffix"]),
        ("example&co.com", &["domain.format.invalid_characters"]),
        ("192.0.2.1", &["domain.format.is_ip_address"]),
        ("example.com", &[]),
        ("example.co.uk", &[]),
        ("subdomain.example.com", &["domain.is_subdomain"]),
    ];
    for (domain, want) in rows {
        assert_eq!(&domain_issues(domain).error_codes(), want, "{domain}");
    }
    assert_eq!(
        domain_level_issues("github.io").error_codes(),
        ["internal.domain.name.cannot_compute_etld1"]
    );
    assert_eq!(
        domain_level_issues("subdomain.example.com").0[0].message,
        "`subdomain.example.com` is a subdomain. Please preload `example.com` instead. (Due to the size of the preload list and the behaviour of cookies across subdomains, we only accept automated preload list submissions of whole registered domains.)"
    );
}

/// redirects_test.go and domain_test.go's live cases, against loopback sites built the same
/// way: (domain, preload errors, warnings that must be among the warnings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hstspreload_redirect_and_domain_table() {
    let estate = start().await;
    let rows: &[(&str, &[&str], &[&str])] = &[
        // "different host": http://bofa.com -> https://www.bankofamerica.com/…
        (
            "bofa.test",
            &["redirects.http.first_redirect.insecure"],
            &[],
        ),
        // "same origin": http -> http on the same host first.
        (
            "sameorigin.test",
            &["redirects.http.first_redirect.insecure"],
            &[],
        ),
        // "www first and > 3 redirects".
        (
            "blogger.test",
            &["redirects.too_many", "redirects.http.www_first"],
            &[],
        ),
        // "correct origin but not HSTS": the first redirect's target has no header.
        (
            "nohstsfirst.test",
            &["redirects.http.first_redirect.no_hsts"],
            &[],
        ),
        // "almost too many redirects" (3) and "too many redirects" (4) from https://; the
        // http:// chain has one more hop, so 4 and 5.
        ("redir3.test", &["redirects.too_many"], &[]),
        (
            "redir4.test",
            &["redirects.too_many", "redirects.too_many"],
            &[],
        ),
        // TestInsecureRedirect / TestIndirectInsecureRedirect.
        (
            "insecure.test",
            &[
                "redirects.insecure.subsequent",
                "redirects.insecure.initial",
            ],
            &[],
        ),
        (
            "indirect.test",
            &[
                "redirects.insecure.subsequent",
                "redirects.insecure.subsequent",
            ],
            &[],
        ),
        // TestExplicitPortFirstRedirect: another port on the same host is fine.
        ("port.test", &[], &[]),
        // TestHTTPUnavailable.
        ("httpsonly.test", &[], &["redirects.http.does_not_exist"]),
        // TestHSTSOverHTTP.
        (
            "uselesshdr.test",
            &["redirects.http.first_redirect.insecure"],
            &["redirects.http.useless_header"],
        ),
        // TestHTTPNoRedirect.
        ("noredirect.test", &["redirects.http.no_redirect"], &[]),
        // domain_test.go "no HSTS" (example.com).
        (
            "examplelike.test",
            &["response.no_header", "redirects.http.no_redirect"],
            &[],
        ),
        // "self-signed" / "incomplete chain": nothing but the certificate.
        ("selfsigned.test", &["domain.tls.invalid_cert_chain"], &[]),
        // "bogus domain": no TLS at all.
        ("notls.test", &["domain.tls.cannot_connect"], &[]),
    ];
    for (domain, errors, must_warn) in rows {
        let obs = observe(&estate, domain).await;
        assert_eq!(&issues(&obs), errors, "{domain}");
        let w = warnings(&obs);
        for code in *must_warn {
            assert!(w.iter().any(|x| x == code), "{domain}: {code} not in {w:?}");
        }
    }
}

#[test]
fn the_new_facts_are_declared() {
    let registry = vouch::probe::Registry::builtin();
    let probe = registry.get("http").unwrap();
    for path in ["redirect.http", "security_txt.expires_in_days"] {
        assert!(probe.fact_spec(path).is_some(), "{path}");
    }
}
