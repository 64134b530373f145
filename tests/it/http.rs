//! The `http` probe against in-process HTTPS and HTTP servers on loopback: a test CA (rcgen)
//! handed to the probe as the inventory's `[tls] ca_file`, test names mapped with `[resolve]`,
//! one site per name with the behaviour the test is about. The servers speak plain HTTP/1.1
//! written by hand so a test can send what real servers get wrong (two HSTS headers, loops).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use vouch::inventory::Inventory;
use vouch::probe::http::HttpProbe;
use vouch::probe::{
    Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, ProbeOptions,
};

use crate::support;

const GOOD: &str = "max-age=31536000; includeSubDomains; preload";
const SECURITY_TXT: &str =
    "# vouch test\nContact: mailto:security@ready.test\nExpires: 2099-01-01T00:00:00Z\n";
const EXPIRED_TXT: &str = "Contact: https://expired.test/report\nExpires: 2020-01-01T00:00:00Z\n";

/// Names the test CA's server certificate covers (`www.short.test` deliberately not).
const CERT_NAMES: &[&str] = &[
    "nohsts.test",
    "short.test",
    "ready.test",
    "www.ready.test",
    "quoted.test",
    "dup.test",
    "repeat.test",
    "wwwfirst.test",
    "www.wwwfirst.test",
    "loop.test",
    "chain.test",
    "expired.test",
    "alt.test",
    "bigtxt.test",
    "sso.test",
];

/// What a site answers: status, headers, body.
fn route(scheme: &str, host: &str, path: &str) -> (u16, Vec<(&'static str, String)>, String) {
    let redirect = |status: u16, to: String| (status, vec![("Location", to)], String::new());
    let sts = |v: &str| vec![("Strict-Transport-Security", v.to_string())];
    let host = host.split(':').next().unwrap_or_default();
    if scheme == "http" {
        return match host {
            "wwwfirst.test" => redirect(301, "https://www.wwwfirst.test/".into()),
            "loop.test" => redirect(302, "http://loop.test/".into()),
            _ => redirect(301, format!("https://{host}{path}")),
        };
    }
    if path == "/.well-known/security.txt" {
        let plain = |body: &str| {
            (
                200,
                vec![("Content-Type", "text/plain; charset=utf-8".to_string())],
                body.to_string(),
            )
        };
        return match host {
            "ready.test" => plain(SECURITY_TXT),
            "expired.test" => plain(EXPIRED_TXT),
            // 2 MiB: read up to the 1 MiB cap, never all of it.
            "bigtxt.test" => plain(&format!("{SECURITY_TXT}{}", "#".repeat(2 * 1024 * 1024))),
            _ => (404, vec![], "not found".into()),
        };
    }
    match host {
        "nohsts.test" => (200, vec![], "hello".into()),
        "short.test" => (200, sts("max-age=300"), "hello".into()),
        "ready.test" => {
            let mut h = sts(GOOD);
            // A secret that must never reach evidence.
            h.push(("Set-Cookie", "session=hunter2-secret; Secure".into()));
            (200, h, "hello".into())
        }
        "quoted.test" => (
            200,
            sts("max-age=\"31536000\"; includeSubDomains; preload"),
            "hello".into(),
        ),
        "dup.test" => {
            let mut h = sts(GOOD);
            h.extend(sts(GOOD));
            (200, h, "hello".into())
        }
        "repeat.test" => (
            200,
            sts("max-age=31536000; max-age=31536000; includeSubDomains; preload"),
            "hello".into(),
        ),
        "chain.test" => {
            let next = match path {
                "/" => Some("/a"),
                "/a" => Some("/b"),
                "/b" => Some("/c"),
                _ => None,
            };
            match next {
                Some(n) => (
                    301,
                    [sts(GOOD), vec![("Location", n.into())]].concat(),
                    String::new(),
                ),
                None => (200, sts(GOOD), "end".into()),
            }
        }
        "sso.test" if path == "/" => (
            302,
            [
                sts(GOOD),
                vec![(
                    "Location",
                    "https://user:pa55word@sso.test/cb?code=topsecret&state=1".into(),
                )],
            ]
            .concat(),
            String::new(),
        ),
        _ => (200, sts(GOOD), "hello".into()),
    }
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

/// Reads one request head, answers it from [`route`], closes.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, scheme: &'static str) {
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
    let head = String::from_utf8_lossy(&buf);
    let mut lines = head.lines();
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let host = lines
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("host").then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let (status, headers, body) = route(scheme, &host, &path);
    let mut out = format!("HTTP/1.1 {status} {}\r\n", status_text(status));
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let _ = s.write_all(out.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// A peer that answers plain-HTTP requests with what no HTTP client should accept, by Host.
async fn hostile(mut s: tokio::net::TcpStream) {
    let mut buf = vec![0u8; 8192];
    let n = s.read(&mut buf).await.unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
    if head.contains("host: garbage.test") {
        let _ = s
            .write_all(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 not http\r\n\r\n")
            .await;
    } else if head.contains("host: manyheaders.test") {
        let mut out = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..1000 {
            out.push_str(&format!("X-Junk-{i}: {i}\r\n"));
        }
        out.push_str("Content-Length: 0\r\n\r\n");
        let _ = s.write_all(out.as_bytes()).await;
    } else if head.contains("host: endlessheader.test") {
        // One header that never ends: the client must give up, not buffer forever.
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nX-Endless: ").await;
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..256 {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
        }
    }
    let _ = s.shutdown().await;
}

/// The servers of one test, and an inventory that points the test names at them.
struct Sites {
    inventory: Inventory,
    _dir: tempfile::TempDir,
    /// Holds the "nothing listens here" port for as long as the sites live.
    _closed: tokio::net::TcpSocket,
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let a = l.local_addr().unwrap();
    (l, a)
}

async fn start() -> Sites {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // A test CA and one server certificate for every name.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "vouch http test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params =
        rcgen::CertificateParams::new(CERT_NAMES.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));

    let (https, https_addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = https.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve(tls, "https").await;
                }
            });
        }
    });
    let (http, http_addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = http.accept().await {
            tokio::spawn(serve(tcp, "http"));
        }
    });
    // Accepts and never answers: the slow server.
    let (silent, silent_addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = silent.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(120)).await;
                drop(tcp);
            });
        }
    });
    let (hostile_listener, hostile_addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = hostile_listener.accept().await {
            tokio::spawn(hostile(tcp));
        }
    });
    // Nothing listens here: connection refused. The port stays bound (never listening) for
    // the test's lifetime: a port merely released could be taken by another test's server,
    // which would turn "refused" into "connects, but TLS fails" at random.
    let closed = tokio::net::TcpSocket::new_v4().expect("socket");
    closed
        .bind("127.0.0.1:0".parse().unwrap())
        .expect("bind loopback");
    let closed_addr = closed.local_addr().unwrap();

    let mut inventory = Inventory::default();
    for name in CERT_NAMES.iter().filter(|n| !n.starts_with("www.")) {
        inventory.resolve.insert(format!("{name}:443"), https_addr);
        inventory.resolve.insert(format!("{name}:80"), http_addr);
        // No www unless a test says so: refused, as if nothing listened.
        inventory
            .resolve
            .insert(format!("www.{name}:443"), closed_addr);
    }
    inventory
        .resolve
        .insert("www.ready.test:443".into(), https_addr);
    inventory
        .resolve
        .insert("www.wwwfirst.test:443".into(), https_addr);
    // www exists, but its certificate does not name it.
    inventory
        .resolve
        .insert("www.short.test:443".into(), https_addr);
    // Served with a certificate that does not name it.
    inventory
        .resolve
        .insert("badcert.test:443".into(), https_addr);
    inventory
        .resolve
        .insert("badcert.test:80".into(), http_addr);
    inventory
        .resolve
        .insert("www.badcert.test:443".into(), closed_addr);
    // A plain-HTTP entry point on a non-default port.
    inventory.resolve.insert("alt.test:8080".into(), http_addr);
    for port in [443, 80] {
        inventory
            .resolve
            .insert(format!("slow.test:{port}"), silent_addr);
        inventory
            .resolve
            .insert(format!("closed.test:{port}"), closed_addr);
    }
    for name in ["garbage.test", "manyheaders.test", "endlessheader.test"] {
        inventory.resolve.insert(format!("{name}:80"), hostile_addr);
    }
    inventory.tls.ca_file = Some(ca_file);
    inventory.http.preload_list = Some(support::fixture("http/preload-list.json"));
    Sites {
        inventory,
        _dir: dir,
        _closed: closed,
    }
}

async fn observe_with(
    sites: &Sites,
    target: &str,
    timeout: Duration,
) -> Result<Observation, ProbeError> {
    let ctx = ProbeContext::new(
        Arc::new(sites.inventory.clone()),
        ProbeOptions {
            timeout,
            ..ProbeOptions::default()
        },
    );
    HttpProbe::default()
        .observe(target, &Params::new(), &ctx)
        .await
}

async fn observe(target: &str) -> Observation {
    let sites = start().await;
    observe_with(&sites, target, Duration::from_secs(10))
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

#[tokio::test]
async fn no_hsts_header() {
    let obs = observe("nohsts.test").await;
    assert_eq!(f(&obs, "hsts.present"), &json!(false));
    assert_eq!(f(&obs, "hsts.valid"), &json!(false));
    assert_eq!(f(&obs, "hsts.max_age"), &Value::Null);
    assert_eq!(f(&obs, "hsts.raw"), &Value::Null);
    assert_eq!(f(&obs, "preload.eligible"), &json!(false));
    assert_eq!(issues(&obs), ["response.no_header"]);
    assert_eq!(f(&obs, "redirect.http_to_https"), &json!(true));
    assert_eq!(f(&obs, "preload.listed"), &json!(false));
    assert_eq!(f(&obs, "preload.matched_entry"), &Value::Null);
}

#[tokio::test]
async fn short_max_age_is_valid_for_browsers_but_not_preloadable() {
    let obs = observe("short.test").await;
    assert_eq!(f(&obs, "hsts.valid"), &json!(true));
    assert_eq!(f(&obs, "hsts.max_age"), &json!(300));
    assert_eq!(f(&obs, "hsts.include_subdomains"), &json!(false));
    assert_eq!(
        issues(&obs),
        [
            "header.preloadable.include_sub_domains.missing",
            "header.preloadable.preload.missing",
            "header.preloadable.max_age.below_1_year",
            // www.short.test answers, but with a certificate that does not name it.
            "domain.www.no_tls",
        ]
    );
}

#[tokio::test]
async fn the_www_check_tries_every_address_not_only_the_first() {
    // Prevents: a www name whose first address refuses and whose second serves broken HTTPS
    // being called "absent" (no www issue), when Go's dialer, and so hstspreload.org, moves on
    // to the second address and finds HTTPS failing there.
    let mut sites = start().await;
    let https_addr = sites.inventory.resolve["short.test:443"];
    let closed_addr = sites.inventory.resolve["www.nohsts.test:443"];
    sites
        .inventory
        .resolve
        .insert("www.short.test:443".into(), closed_addr);
    sites
        .inventory
        .resolve_more
        .insert("www.short.test:443".into(), vec![https_addr]);
    let obs = observe_with(&sites, "short.test", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        issues(&obs).contains(&"domain.www.no_tls".to_string()),
        "{:?}",
        issues(&obs)
    );
    assert_eq!(
        obs.evidence["www"]["result"],
        json!("no_tls"),
        "{:?}",
        obs.evidence["www"]
    );
    // Only the refusing address: www is absent, no issue.
    sites.inventory.resolve_more.clear();
    let obs = observe_with(&sites, "short.test", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(!issues(&obs).contains(&"domain.www.no_tls".to_string()));
}

#[tokio::test]
async fn preload_ready_and_listed() {
    let obs = observe("ready.test").await;
    assert_eq!(f(&obs, "hsts.valid"), &json!(true));
    assert_eq!(f(&obs, "hsts.max_age"), &json!(31536000));
    assert_eq!(f(&obs, "hsts.include_subdomains"), &json!(true));
    assert_eq!(f(&obs, "hsts.preload"), &json!(true));
    assert_eq!(f(&obs, "hsts.errors"), &json!([]));
    assert_eq!(f(&obs, "hsts.raw"), &json!(GOOD));
    assert_eq!(
        f(&obs, "preload.eligible"),
        &json!(true),
        "{:?}",
        obs.evidence["preload.issues"]
    );
    assert_eq!(issues(&obs), Vec::<String>::new());
    assert_eq!(f(&obs, "preload.listed"), &json!(true));
    assert_eq!(f(&obs, "preload.include_subdomains"), &json!(true));
    assert_eq!(f(&obs, "preload.matched_entry"), &json!("ready.test"));
    let list = std::fs::read(support::fixture("http/preload-list.json")).unwrap();
    use sha2::Digest;
    assert_eq!(
        f(&obs, "preload.list_sha256"),
        &json!(hex::encode(sha2::Sha256::digest(&list)))
    );
    assert_eq!(f(&obs, "response.status"), &json!(200));
    assert_eq!(f(&obs, "response.final_url"), &json!("https://ready.test/"));
    assert_eq!(f(&obs, "redirect.http_to_https"), &json!(true));
    assert_eq!(
        f(&obs, "redirect.chain"),
        &json!([
            {"url": "http://ready.test/", "status": 301, "location": "https://ready.test/"},
            {"url": "https://ready.test/", "status": 200, "location": null},
        ])
    );
    assert_eq!(obs.evidence["www"], json!({"result": "ok"}));
    // Secrets never reach evidence.
    let all = serde_json::to_string(&obs).unwrap();
    assert!(
        !all.contains("hunter2"),
        "a cookie leaked into the observation"
    );
    assert!(all.contains("[redacted]"));
}

#[tokio::test]
async fn quoted_max_age_is_browser_valid_but_not_preloadable() {
    let obs = observe("quoted.test").await;
    assert_eq!(f(&obs, "hsts.valid"), &json!(true));
    assert_eq!(f(&obs, "hsts.max_age"), &json!(31536000));
    assert_eq!(
        issues(&obs),
        [
            "header.parse.max_age.non_digit_characters",
            "header.preloadable.max_age.missing",
        ]
    );
}

#[tokio::test]
async fn duplicate_headers_first_counts_for_browsers_and_preload_refuses() {
    let obs = observe("dup.test").await;
    assert_eq!(f(&obs, "hsts.valid"), &json!(true));
    assert_eq!(f(&obs, "hsts.raw"), &json!(GOOD));
    assert_eq!(issues(&obs), ["response.multiple_headers"]);
    assert_eq!(obs.evidence["hsts.source"]["headers"], json!([GOOD, GOOD]));
}

#[tokio::test]
async fn repeated_directive_invalidates_for_browsers_only() {
    let obs = observe("repeat.test").await;
    assert_eq!(f(&obs, "hsts.present"), &json!(true));
    assert_eq!(f(&obs, "hsts.valid"), &json!(false));
    assert_eq!(f(&obs, "hsts.max_age"), &Value::Null);
    assert_eq!(
        f(&obs, "hsts.errors"),
        &json!(["max-age appears more than once"])
    );
    // hstspreload.org only warns about a repeated max-age.
    assert_eq!(issues(&obs), Vec::<String>::new());
    let warnings = obs.evidence["preload.warnings"].to_string();
    assert!(
        warnings.contains("header.parse.repeated.max_age"),
        "{warnings}"
    );
}

#[tokio::test]
async fn http_url_redirecting_to_https_on_the_same_host() {
    let obs = observe("http://ready.test/").await;
    assert_eq!(f(&obs, "redirect.http_to_https"), &json!(true));
    assert_eq!(f(&obs, "redirect.chain").as_array().unwrap().len(), 2);
    assert_eq!(f(&obs, "hsts.valid"), &json!(true));
    assert_eq!(issues(&obs), Vec::<String>::new());
    assert_eq!(f(&obs, "response.final_url"), &json!("https://ready.test/"));
}

#[tokio::test]
async fn http_url_on_a_non_default_port() {
    let obs = observe("http://alt.test:8080/").await;
    assert_eq!(
        f(&obs, "redirect.chain")[0]["location"],
        json!("https://alt.test/")
    );
    assert_eq!(f(&obs, "redirect.http_to_https"), &json!(true));
    assert_eq!(f(&obs, "response.status"), &json!(200));
}

#[tokio::test]
async fn https_url_gets_the_header_checks() {
    let obs = observe("https://short.test/").await;
    assert_eq!(f(&obs, "hsts.max_age"), &json!(300));
    assert!(issues(&obs).contains(&"header.preloadable.max_age.below_1_year".to_string()));
    assert!(obs.unobserved.contains_key("redirect.http_to_https"));
}

#[tokio::test]
async fn http_redirecting_to_www_first_is_a_preload_issue() {
    let obs = observe("wwwfirst.test").await;
    assert_eq!(f(&obs, "redirect.http_to_https"), &json!(false));
    assert_eq!(issues(&obs), ["redirects.http.www_first"]);
    // Listed, yet no longer eligible: the list and the live site disagree.
    assert_eq!(f(&obs, "preload.listed"), &json!(true));
}

#[tokio::test]
async fn redirect_loop_on_a_url_target_stops_at_the_cap_with_an_error() {
    let sites = start().await;
    let e = observe_with(&sites, "http://loop.test/", Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProbeErrorKind::Protocol);
    assert!(e.message.contains("stopped after 10 requests"), "{e}");
}

#[tokio::test]
async fn redirect_loop_from_a_domains_http_is_a_preload_failure() {
    let obs = observe("loop.test").await;
    assert_eq!(f(&obs, "redirect.chain").as_array().unwrap().len(), 10);
    let codes = issues(&obs);
    assert!(
        codes.contains(&"redirects.too_many".to_string()),
        "{codes:?}"
    );
    assert_eq!(f(&obs, "redirect.http_to_https"), &json!(false));
}

#[tokio::test]
async fn four_hop_chain_is_recorded_and_too_long_to_preload() {
    let obs = observe("chain.test").await;
    let chain = f(&obs, "redirect.chain").as_array().unwrap().clone();
    let urls: Vec<&str> = chain.iter().map(|h| h["url"].as_str().unwrap()).collect();
    assert_eq!(
        urls,
        [
            "http://chain.test/",
            "https://chain.test/",
            "https://chain.test/a",
            "https://chain.test/b",
            "https://chain.test/c",
        ]
    );
    assert_eq!(
        f(&obs, "response.final_url"),
        &json!("https://chain.test/c")
    );
    assert_eq!(issues(&obs), ["redirects.too_many"]);
}

#[tokio::test]
async fn slow_server_times_out_as_an_error() {
    let sites = start().await;
    for target in ["slow.test", "https://slow.test/"] {
        let started = std::time::Instant::now();
        let e = observe_with(&sites, target, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ProbeErrorKind::Timeout, "{target}: {e}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{target} overran its timeout"
        );
    }
}

#[tokio::test]
async fn a_certificate_browsers_reject_is_a_preload_issue_and_voids_hsts() {
    for target in ["badcert.test", "https://badcert.test/"] {
        let obs = observe(target).await;
        assert_eq!(f(&obs, "hsts.present"), &json!(true), "{target}");
        assert_eq!(f(&obs, "hsts.raw"), &json!(GOOD), "{target}");
        assert_eq!(f(&obs, "hsts.valid"), &json!(false), "{target}");
        let errors = f(&obs, "hsts.errors").to_string();
        assert!(
            errors.contains("certificate is not valid"),
            "{target}: {errors}"
        );
        let codes = issues(&obs);
        assert_eq!(
            codes[0], "domain.tls.invalid_cert_chain",
            "{target}: {codes:?}"
        );
        assert_eq!(f(&obs, "preload.eligible"), &json!(false));
    }
}

#[tokio::test]
async fn refused_connection_is_an_error() {
    let sites = start().await;
    let e = observe_with(&sites, "closed.test", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ProbeErrorKind::Unreachable, "{e}");
    assert!(e.hint.is_some());
}

#[tokio::test]
async fn secrets_in_redirect_urls_never_reach_the_observation() {
    let obs = observe("sso.test").await;
    assert_eq!(f(&obs, "response.status"), &json!(200));
    assert_eq!(
        f(&obs, "response.final_url"),
        &json!("https://sso.test/cb?code=%5Bredacted%5D&state=1")
    );
    let all = serde_json::to_string(&obs).unwrap();
    assert!(
        !all.contains("topsecret") && !all.contains("pa55word"),
        "{all}"
    );
}

#[tokio::test]
async fn hostile_peers_are_errors_within_the_timeout() {
    let sites = start().await;
    for target in [
        "http://garbage.test/",
        "http://manyheaders.test/",
        "http://endlessheader.test/",
    ] {
        let started = std::time::Instant::now();
        let e = observe_with(&sites, target, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ProbeErrorKind::Protocol, "{target}: {e}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{target} took too long"
        );
    }
}

#[tokio::test]
async fn an_oversized_security_txt_is_read_up_to_the_cap() {
    let obs = observe("bigtxt.test").await;
    assert_eq!(f(&obs, "security_txt.present"), &json!(true));
    let errors = f(&obs, "security_txt.errors").to_string();
    assert!(errors.contains("larger than 1 MiB"), "{errors}");
    let kept = &obs
        .attachments
        .iter()
        .find(|a| a.name == "security.txt")
        .unwrap()
        .content;
    assert_eq!(kept.len(), 1024 * 1024);
}

#[tokio::test]
async fn security_txt_present_expired_and_missing() {
    let sites = start().await;
    let t = Duration::from_secs(10);
    let ready = observe_with(&sites, "ready.test", t).await.unwrap();
    assert_eq!(f(&ready, "security_txt.present"), &json!(true));
    assert_eq!(
        f(&ready, "security_txt.contact"),
        &json!(["mailto:security@ready.test"])
    );
    assert_eq!(
        f(&ready, "security_txt.expires"),
        &json!("2099-01-01T00:00:00Z")
    );
    assert_eq!(f(&ready, "security_txt.expired"), &json!(false));
    assert_eq!(f(&ready, "security_txt.errors"), &json!([]));
    assert!(ready.attachments.iter().any(|a| a.name == "security.txt"));

    let expired = observe_with(&sites, "expired.test", t).await.unwrap();
    assert_eq!(f(&expired, "security_txt.present"), &json!(true));
    assert_eq!(f(&expired, "security_txt.expired"), &json!(true));

    let missing = observe_with(&sites, "nohsts.test", t).await.unwrap();
    assert_eq!(f(&missing, "security_txt.present"), &json!(false));
    assert_eq!(f(&missing, "security_txt.contact"), &Value::Null);
    assert_eq!(f(&missing, "security_txt.expired"), &Value::Null);
}

#[tokio::test]
async fn without_a_preload_list_listing_is_unobserved_with_a_hint() {
    let mut sites = start().await;
    sites.inventory.http.preload_list = None;
    // Offline: the published list cannot be fetched (nothing listens there).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    sites.inventory.http.preload_list_url = Some(format!(
        "http://127.0.0.1:{port}/transport_security_state_static.json"
    ));
    let obs = observe_with(&sites, "ready.test", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(!obs.facts.contains_key("preload.listed"));
    let why = &obs.unobserved["preload.listed"];
    assert!(
        why.contains("[http] preload_list") && why.contains("--preload-list"),
        "{why}"
    );
    // The live checks still happen.
    assert_eq!(f(&obs, "preload.eligible"), &json!(true));
}

#[tokio::test]
async fn spot_check_rendering_shows_both_readings_and_list_status() {
    let obs = observe("short.test").await;
    let text = HttpProbe::default().render(&obs).unwrap();
    println!("{text}");
    for want in [
        "Redirect chain",
        "1. http://short.test/  301 -> https://short.test/",
        "HSTS as a browser reads it",
        "valid: max-age=300",
        "HSTS as hstspreload.org judges it",
        "header.preloadable.max_age.below_1_year: The max-age must be at least 31536000",
        "Preload list",
        "not listed",
        "security.txt",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn the_probe_is_registered_and_declares_its_facts() {
    let registry = vouch::probe::Registry::builtin();
    let probe = registry.get("http").expect("http probe registered");
    for path in [
        "response.status",
        "response.final_url",
        "redirect.chain",
        "redirect.http_to_https",
        "hsts.present",
        "hsts.valid",
        "hsts.max_age",
        "hsts.include_subdomains",
        "hsts.preload",
        "hsts.errors",
        "hsts.raw",
        "preload.eligible",
        "preload.issues",
        "preload.listed",
        "preload.include_subdomains",
        "preload.matched_entry",
        "preload.list_sha256",
        "security_txt.present",
        "security_txt.contact",
        "security_txt.expires",
        "security_txt.expired",
        "security_txt.errors",
    ] {
        assert!(probe.fact_spec(path).is_some(), "{path} not declared");
    }
    assert!(probe.check_target("example.com").is_ok());
    assert!(probe.check_target("ftp://example.com").is_err());
    let _: PathBuf = support::fixture("http/preload-list.json");
}

/// Writes the sites' inventory as a `vouch.toml` for the command line.
fn write_inventory(sites: &Sites, domains: &[&str]) -> PathBuf {
    let dir = sites._dir.path();
    let mut toml = String::from("[targets]\nprimary_domains = [");
    toml.push_str(
        &domains
            .iter()
            .map(|d| format!("\"{d}\""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    toml.push_str("]\n\n[resolve]\n");
    for (name, addr) in &sites.inventory.resolve {
        toml.push_str(&format!("\"{name}\" = \"{addr}\"\n"));
    }
    toml.push_str("\n[tls]\nca_file = \"ca.pem\"\n\n[http]\n");
    toml.push_str(&format!(
        "preload_list = \"{}\"\n",
        support::fixture("http/preload-list.json").display()
    ));
    let path = dir.join("vouch.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_preload_control_passes_only_on_the_ready_and_listed_domain() {
    let sites = start().await;
    let domains = [
        "ready.test",
        "nohsts.test",
        "short.test",
        "quoted.test",
        "dup.test",
        "repeat.test",
        "wwwfirst.test",
    ];
    let inventory = write_inventory(&sites, &domains);
    let controls = support::repo().join("examples/http/controls.toml");
    let out = tokio::task::spawn_blocking(move || {
        support::vouch()
            .arg("check")
            .arg("--controls")
            .arg(&controls)
            .arg("--inventory")
            .arg(&inventory)
            .args(["--only", "ENC-HSTS-PRELOAD", "--format", "json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit code; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).expect("a JSON report");
    let control = &report["controls"][0];
    assert_eq!(control["id"], json!("ENC-HSTS-PRELOAD"));
    assert_eq!(control["verdict"], json!("fail"));
    let results = control["results"].as_array().unwrap();
    assert_eq!(results.len(), domains.len());
    let verdict = |target: &str| -> (String, Value) {
        let r = results
            .iter()
            .find(|r| r["target"] == json!(target))
            .unwrap_or_else(|| panic!("no result for {target}"));
        let issues = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["fact"] == json!("preload.issues"))
            .map(|c| c["observed"].clone())
            .unwrap_or(Value::Null);
        (r["verdict"].as_str().unwrap().to_string(), issues)
    };
    assert_eq!(verdict("ready.test"), ("pass".into(), json!([])));
    let cases = [
        ("nohsts.test", "response.no_header"),
        ("short.test", "header.preloadable.max_age.below_1_year"),
        ("quoted.test", "header.parse.max_age.non_digit_characters"),
        ("dup.test", "response.multiple_headers"),
        ("wwwfirst.test", "redirects.http.www_first"),
    ];
    for (target, code) in cases {
        let (v, issues) = verdict(target);
        assert_eq!(v, "fail", "{target}");
        assert!(
            issues.as_array().is_some_and(|a| a.contains(&json!(code))),
            "{target}: expected {code} in the observed issues, got {issues}"
        );
    }
    // Preload-eligible by hstspreload.org's reading, but a browser ignores its header.
    assert_eq!(verdict("repeat.test").0, "fail");
    // The codes are in the report's observations too, with their messages in the evidence.
    let text = stdout.to_string();
    assert!(text.contains("Response error: No HSTS header is present on the response."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vouch_probe_http_prints_the_spot_check_with_flags_for_list_and_trust() {
    let sites = start().await;
    // The servers listen on ephemeral ports, which curl-style --resolve cannot express: the map
    // comes from an inventory file; the list and the CA come from the flags.
    let inventory = write_inventory(&sites, &["wwwfirst.test"]);
    std::fs::write(
        &inventory,
        std::fs::read_to_string(&inventory)
            .unwrap()
            .replace("[tls]\nca_file = \"ca.pem\"\n", "")
            .replace("[http]\npreload_list", "# preload_list"),
    )
    .unwrap();
    let written = std::fs::read_to_string(&inventory).unwrap();
    assert!(
        !written.contains("ca_file") && !written.contains("[http]"),
        "{written}"
    );
    let list = support::fixture("http/preload-list.json");
    let ca = sites._dir.path().join("ca.pem");
    let out = tokio::task::spawn_blocking(move || {
        support::vouch()
            .args(["probe", "http", "wwwfirst.test", "--inventory"])
            .arg(&inventory)
            .arg("--preload-list")
            .arg(&list)
            .arg("--ca-file")
            .arg(&ca)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "1. http://wwwfirst.test/  301 -> https://www.wwwfirst.test/",
        "redirects.http.www_first",
        "listed as wwwfirst.test (include_subdomains)",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_hsts_preload_control_reports_the_issue_codes_in_its_observations() {
    let sites = start().await;
    let domains = ["ready.test", "nohsts.test", "wwwfirst.test"];
    let inventory = write_inventory(&sites, &domains);
    let out = tokio::task::spawn_blocking(move || {
        support::vouch()
            .arg("check")
            .arg("--inventory")
            .arg(&inventory)
            .args(["--only", "ENC-TRANSIT-HSTS-PRELOAD", "--format", "json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    let control = &report["controls"][0];
    assert_eq!(control["id"], json!("ENC-TRANSIT-HSTS-PRELOAD"));
    for r in control["results"].as_array().unwrap() {
        let target = r["target"].as_str().unwrap();
        let key = r["observation"].as_str().unwrap();
        let facts = &report["observations"][key]["facts"];
        let (verdict, codes) = match target {
            "ready.test" => ("pass", json!([])),
            "nohsts.test" => ("fail", json!(["response.no_header"])),
            "wwwfirst.test" => ("fail", json!(["redirects.http.www_first"])),
            other => panic!("unexpected target {other}"),
        };
        assert_eq!(r["verdict"], json!(verdict), "{target}");
        assert_eq!(facts["preload.issues"], codes, "{target}");
    }
}
