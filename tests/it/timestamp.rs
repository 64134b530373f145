//! RFC 3161 time-stamps of evidence bundles (`check --timestamp-url`, `verify --tsa-cert`),
//! against `openssl ts -reply` answering as the authority behind a tiny HTTP server on loopback.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use vouch::evidence::timestamp;

use crate::support::{repo, vouch};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (scripts/setup.d/60-evidence.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A time-stamping authority: its key, certificate and `openssl ts` configuration in a folder.
struct Tsa {
    dir: tempfile::TempDir,
    key: &'static str,
    cert: &'static str,
}

impl Tsa {
    fn new(ec: bool) -> Tsa {
        let dir = tempfile::tempdir().unwrap();
        let serial = dir.path().join("serial");
        std::fs::write(&serial, "01\n").unwrap();
        std::fs::write(
            dir.path().join("tsa.cnf"),
            format!(
                "[ req ]\ndistinguished_name = dn\nprompt = no\n[ dn ]\nCN = vouch test TSA\n\
                 [ tsa_ext ]\nbasicConstraints = critical,CA:false\n\
                 keyUsage = critical,digitalSignature\nextendedKeyUsage = critical,timeStamping\n\
                 subjectKeyIdentifier = hash\n\
                 [ plain_ext ]\nbasicConstraints = critical,CA:false\n\
                 [ tsa ]\ndefault_tsa = tsa_config1\n[ tsa_config1 ]\nserial = {}\n\
                 crypto_device = builtin\nsigner_digest = sha256\n\
                 default_policy = 1.3.6.1.4.1.99999.1\ndigests = sha256, sha384, sha512\n\
                 accuracy = secs:1\nordering = yes\ntsa_name = yes\ness_cert_id_chain = no\n\
                 ess_cert_id_alg = sha256\n",
                serial.display()
            ),
        )
        .unwrap();
        let p = dir.path();
        if ec {
            openssl(
                p,
                &[
                    "ecparam",
                    "-name",
                    "prime256v1",
                    "-genkey",
                    "-noout",
                    "-out",
                    "tsa.key",
                ],
            );
        } else {
            openssl(p, &["genrsa", "-out", "tsa.key", "2048"]);
        }
        for (out, ext, serial) in [
            ("tsa.pem", "tsa_ext", "4660"),
            // The same key and serial, without the time-stamping usage.
            ("plain.pem", "plain_ext", "4660"),
        ] {
            openssl(
                p,
                &[
                    "req",
                    "-x509",
                    "-new",
                    "-key",
                    "tsa.key",
                    "-out",
                    out,
                    "-days",
                    "30",
                    "-config",
                    "tsa.cnf",
                    "-extensions",
                    ext,
                    "-set_serial",
                    serial,
                ],
            );
        }
        // Another authority altogether.
        openssl(p, &["genrsa", "-out", "other.key", "2048"]);
        openssl(
            p,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "other.key",
                "-out",
                "other.pem",
                "-days",
                "30",
                "-config",
                "tsa.cnf",
                "-extensions",
                "tsa_ext",
            ],
        );
        Tsa {
            dir,
            key: "tsa.key",
            cert: "tsa.pem",
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `openssl ts -reply` for a DER TimeStampReq.
    fn reply(&self, query: &[u8]) -> Vec<u8> {
        let work = tempfile::tempdir().unwrap();
        let q = work.path().join("q.tsq");
        let r = work.path().join("r.tsr");
        std::fs::write(&q, query).unwrap();
        let out = Command::new("openssl")
            .args(["ts", "-reply", "-config"])
            .arg(self.path("tsa.cnf"))
            .arg("-queryfile")
            .arg(&q)
            .arg("-inkey")
            .arg(self.path(self.key))
            .arg("-signer")
            .arg(self.path(self.cert))
            .arg("-out")
            .arg(&r)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(&r).unwrap()
    }
}

/// An HTTP server on loopback that pipes each POSTed body through `openssl ts -reply` (or answers
/// `status` when it is not 200). Returns its URL and the count of requests served.
fn serve(tsa: Arc<Tsa>, status: u16) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsa", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let served = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head_end, length) = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (None, 0);
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (Some(i + 4), len);
                }
            };
            let Some(start) = head_end else { continue };
            while buf.len() < start + length {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            served.fetch_add(1, Ordering::SeqCst);
            let (code, body) = if status == 200 {
                (200, tsa.reply(&buf[start..start + length]))
            } else {
                (status, b"unavailable".to_vec())
            };
            let _ = write!(
                s,
                "HTTP/1.1 {code} X\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    (url, count)
}

fn attestation_example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("examples/attestations");
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            let sub = dir.path().join(e.file_name());
            std::fs::create_dir_all(&sub).unwrap();
            for f in std::fs::read_dir(e.path()).unwrap() {
                let f = f.unwrap();
                std::fs::copy(f.path(), sub.join(f.file_name())).unwrap();
            }
        } else {
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
    }
    dir
}

#[test]
fn a_bundle_is_time_stamped_by_the_authority_and_verify_prints_the_attested_time() {
    let tsa = Arc::new(Tsa::new(false));
    let (url, count) = serve(tsa.clone(), 200);
    let dir = attestation_example();
    let before = jiff::Timestamp::now();
    let out = vouch()
        .current_dir(dir.path())
        .args(["check", "--controls", "controls.toml", "--format", "json"])
        .args(["--evidence-dir", "bundle", "--timestamp-url", &url])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("time-stamp: MANIFEST stamped at"),
        "{stderr}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let bundle = dir.path().join("bundle");
    assert!(bundle.join("MANIFEST.tsr").is_file());

    // OpenSSL reads the token as vouch wrote it.
    let ok = Command::new("openssl")
        .current_dir(&bundle)
        .args([
            "ts",
            "-verify",
            "-in",
            "MANIFEST.tsr",
            "-data",
            "MANIFEST",
            "-CAfile",
        ])
        .arg(tsa.path("tsa.pem"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // vouch verify checks it against the authority's certificate and prints the time.
    let out = vouch()
        .args(["verify", "--allow-unsigned", "--tsa-cert"])
        .arg(tsa.path("tsa.pem"))
        .arg(&bundle)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("time-stamp: MANIFEST existed at "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let at: jiff::Timestamp = line["time-stamp: MANIFEST existed at ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let after = jiff::Timestamp::now();
    // genTime has whole seconds: it lies in the run's window, to the second.
    assert!(
        at.as_second() >= before.as_second() && at <= after,
        "{at} not within {before}..{after}"
    );
    assert!(line.contains("CN=vouch test TSA"), "{line}");

    // The token is not an extra file for the digest check, and without --tsa-cert verify says
    // it was not checked.
    let out = vouch()
        .args(["verify", "--allow-unsigned"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not checked: give --tsa-cert"));

    // Another authority's certificate, or one without the time-stamping usage, is refused.
    for (cert, why) in [
        ("other.pem", "another authority"),
        ("plain.pem", "not a time-stamping certificate"),
    ] {
        let out = vouch()
            .args(["verify", "--allow-unsigned", "--tsa-cert"])
            .arg(tsa.path(cert))
            .arg(&bundle)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{cert}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{cert}: {err}");
    }

    // A bundle without a token fails --tsa-cert.
    std::fs::remove_file(bundle.join("MANIFEST.tsr")).unwrap();
    let out = vouch()
        .args(["verify", "--allow-unsigned", "--tsa-cert"])
        .arg(tsa.path("tsa.pem"))
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not time-stamped"));
}

#[test]
fn a_token_for_another_manifest_or_altered_is_refused_for_rsa_and_ecdsa_authorities() {
    for ec in [false, true] {
        let tsa = Arc::new(Tsa::new(ec));
        let (url, _) = serve(tsa.clone(), 200);
        let manifest = b"sha256 1234 report.json\n".to_vec();
        let token = timestamp::fetch(&url, &manifest, Duration::from_secs(30)).unwrap();
        let cert = timestamp::load_certificate(&tsa.path("tsa.pem")).unwrap();
        let a = timestamp::verify(&token, &manifest, &cert).unwrap();
        assert_eq!(a.policy, "1.3.6.1.4.1.99999.1");
        assert!((jiff::Timestamp::now() - a.time).as_secs().abs() < 300);

        // Another MANIFEST: the imprint differs.
        let e = timestamp::verify(&token, b"sha256 5678 report.json\n", &cert).unwrap_err();
        assert!(e.contains("another digest"), "{e}");

        // One digit of genTime changed inside the signed TSTInfo: the signed digest breaks.
        let year = a.time.to_string()[..4].to_string();
        let at = token
            .windows(4)
            .position(|w| w == year.as_bytes())
            .expect("genTime in the token");
        let mut altered = token.clone();
        altered[at + 3] = if altered[at + 3] == b'9' {
            b'8'
        } else {
            altered[at + 3] + 1
        };
        let e = timestamp::verify(&altered, &manifest, &cert).unwrap_err();
        assert!(e.contains("altered") || e.contains("signature"), "{e}");

        // The signature itself flipped.
        let mut bad_sig = token.clone();
        let last = bad_sig.len() - 3;
        bad_sig[last] ^= 0x01;
        assert!(timestamp::verify(&bad_sig, &manifest, &cert).is_err());

        // Not a token at all.
        let e = timestamp::verify(b"garbage", &manifest, &cert).unwrap_err();
        assert!(e.contains("TimeStampResp"), "{e}");
    }
}

#[test]
fn an_unreachable_authority_warns_and_keeps_the_bundle_and_the_exit_code() {
    let tsa = Arc::new(Tsa::new(false));
    let (url, count) = serve(tsa, 503);
    let dir = attestation_example();
    let plain = vouch()
        .current_dir(dir.path())
        .args(["check", "--controls", "controls.toml", "--format", "json"])
        .args(["--evidence-dir", "plain"])
        .output()
        .unwrap();
    let out = vouch()
        .current_dir(dir.path())
        .args(["check", "--controls", "controls.toml", "--format", "json"])
        .args(["--evidence-dir", "bundle", "--timestamp-url", &url])
        .output()
        .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(out.status.code(), plain.status.code());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: no time-stamp") && err.contains("503"),
        "{err}"
    );
    assert!(dir.path().join("bundle/MANIFEST").is_file());
    assert!(!dir.path().join("bundle/MANIFEST.tsr").exists());
}

/// The run's bundle under `store/runs/…` (the one folder holding a MANIFEST).
fn stored_bundle(store: &Path) -> PathBuf {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.file_name().is_some_and(|n| n == "MANIFEST") {
                out.push(p.parent().unwrap().to_path_buf());
            }
        }
    }
    let mut found = Vec::new();
    walk(&store.join("runs"), &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// The wrong answer this prevents: runs filed in the audit-period store (`--store`, `[store]
/// timestamp_url`) carrying only a signature, which proves who and never when, while the same
/// flag stamps a plain `--evidence-dir` bundle.
#[test]
fn a_stored_run_is_time_stamped_from_the_flag_or_the_store_settings() {
    let tsa = Arc::new(Tsa::new(false));
    let (url, count) = serve(tsa.clone(), 200);
    let dir = attestation_example();
    let out = vouch()
        .current_dir(dir.path())
        .args(["check", "--controls", "controls.toml", "--format", "json"])
        .args(["--store", "flag-store", "--timestamp-url", &url])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("time-stamp: MANIFEST of run"), "{stderr}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let bundle = stored_bundle(&dir.path().join("flag-store"));
    assert!(bundle.join("MANIFEST.tsr").is_file());
    let out = vouch()
        .args(["verify", "--allow-unsigned", "--tsa-cert"])
        .arg(tsa.path("tsa.pem"))
        .arg(&bundle)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("time-stamp: MANIFEST existed at "),
        "{stdout}"
    );
    // The token is an allowed sidecar: the store and its chain still verify.
    let out = vouch()
        .args(["verify", "--allow-unsigned", "--store"])
        .arg(dir.path().join("flag-store"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // `[store] timestamp_url` in vouch.toml does the same without the flag.
    let inv = std::fs::read_to_string(dir.path().join("vouch.toml")).unwrap_or_default();
    std::fs::write(
        dir.path().join("vouch.toml"),
        format!("{inv}\n[store]\nlocation = \"toml-store\"\ntimestamp_url = \"{url}\"\n"),
    )
    .unwrap();
    let out = vouch()
        .current_dir(dir.path())
        .args(["check", "--controls", "controls.toml", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("time-stamp: MANIFEST of run"), "{stderr}");
    assert_eq!(count.load(Ordering::SeqCst), 2);
    let bundle = stored_bundle(&dir.path().join("toml-store"));
    assert!(bundle.join("MANIFEST.tsr").is_file());

    // A timestamp URL with nowhere to put the token is refused before anything runs.
    std::fs::write(dir.path().join("empty.toml"), "").unwrap();
    let out = vouch()
        .current_dir(dir.path())
        .args([
            "check",
            "--controls",
            "controls.toml",
            "--inventory",
            "empty.toml",
        ])
        .args(["--timestamp-url", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--timestamp-url stamps an evidence bundle"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);
}
