//! The Mozilla server-side TLS profile packs (`builtin:mozilla-modern`, `-intermediate`,
//! `-old`): generated from Mozilla's guidelines JSON (v5.7, embedded under
//! `controls/packs/mozilla/`), and each judged against `openssl s_server` configured per its
//! profile and against one that is not.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;

use crate::support::{repo, require, spawn_on_free_port, verdicts, vouch};
use crate::tls::which;

const PROFILES: [&str; 3] = ["modern", "intermediate", "old"];

fn guidelines() -> Value {
    let text =
        std::fs::read_to_string(repo().join("controls/packs/mozilla/server-side-tls-5.7.json"))
            .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Mozilla's names → vouch's fact values. The guidelines use OpenSSL's spellings; the facts use
/// the IANA registry's (groups), RFC 8446's (versions) and NIST's (certificate curves).
fn version(v: &str) -> String {
    match v {
        "TLSv1" => "TLSv1.0".to_string(),
        other => other.to_string(),
    }
}
fn tls_group(g: &str) -> String {
    match g {
        "X25519" => "x25519".into(),
        "X448" => "x448".into(),
        "prime256v1" => "secp256r1".into(),
        other => other.into(),
    }
}
fn cert_curve(c: &str) -> String {
    match c {
        "prime256v1" | "secp256r1" => "P-256".into(),
        "secp384r1" => "P-384".into(),
        "secp521r1" => "P-521".into(),
        other => panic!("a certificate curve vouch does not name: {other}"),
    }
}
fn cert_type(t: &str) -> String {
    match t {
        "ecdsa" => "EC".into(),
        "rsa" => "RSA".into(),
        other => panic!("a certificate type vouch does not name: {other}"),
    }
}

/// The pack for one profile, as TOML.
fn generate(profile: &str, json: &Value) -> String {
    let p = &json["configurations"][profile];
    let guide_version = json["version"].as_f64().unwrap();
    let href = json["href"].as_str().unwrap();
    let up = profile.to_uppercase();
    let claim =
        format!("Mozilla server-side TLS guidelines {guide_version}, \"{profile}\" configuration.");
    let mut out = format!(
        "# Mozilla server-side TLS, \"{profile}\" configuration: `--controls builtin:mozilla-{profile}`.\n\
         # GENERATED from Mozilla's guidelines {guide_version} ({href};\n\
         # controls/packs/mozilla/, MPL-2.0) by tests/it/mozilla.rs; do not edit: VOUCH_BLESS=1 cargo nextest run -E\n\
         # 'test(/mozilla::packs_are_generated/)' rewrites it. Every control targets the inventory\n\
         # group `public_endpoints`; the HSTS control needs its entries as https:// URLs.\n"
    );
    let mut control = |id: &str,
                       title: &str,
                       severity: &str,
                       probe: &str,
                       remediation: &str,
                       where_: Option<String>,
                       expect: Vec<String>| {
        out.push_str(&format!(
            "\n[[control]]\nid = \"MOZ-{up}-{id}\"\ntitle = {title:?}\nclaim = {claim:?}\n\
             severity = \"{severity}\"\nframeworks = {{ soc2 = [\"CC6.7\"], iso27001 = [\"A.8.24\"] }}\n\
             tags = [\"tls\", \"mozilla\", \"mozilla-{profile}\"]\nprobe = \"{probe}\"\n\
             targets = \"public_endpoints\"\nremediation = {remediation:?}\n"
        ));
        if let Some(w) = where_ {
            out.push_str(&format!("where = [\n  {w},\n]\n"));
        }
        out.push_str("expect = [\n");
        for e in expect {
            out.push_str(&format!("  {e},\n"));
        }
        out.push_str("]\n");
    };

    let versions: Vec<String> = strings(&p["tls_versions"])
        .iter()
        .map(|v| version(v))
        .collect();
    let lowest = versions
        .iter()
        .min_by_key(|v| {
            ["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
                .iter()
                .position(|x| x == v)
        })
        .unwrap()
        .clone();
    control(
        "PROTOCOLS",
        &format!(
            "Only the protocol versions of Mozilla's {profile} profile ({})",
            versions.join(", ")
        ),
        "high",
        "tls",
        &format!(
            "Accept only {} (Mozilla's {profile} configuration).",
            versions.join(", ")
        ),
        None,
        vec![
            format!("{{ fact = \"protocols.lowest\", op = \">=\", value = \"{lowest}\" }}"),
            format!(
                "{{ fact = \"protocols.accepted\", op = \"in\", value = {} }}",
                toml_list(&versions)
            ),
        ],
    );

    let suites = strings(&p["ciphers"]["iana"]);
    let tls13 = strings(&p["ciphersuites"]);
    // `in` needs a value; a profile with no suite for TLS <= 1.2 (modern) wants none at all.
    let allowed = |fact: &str, list: &[String]| {
        if list.is_empty() {
            format!("{{ fact = \"{fact}\", op = \"==\", value = [] }}")
        } else {
            format!(
                "{{ fact = \"{fact}\", op = \"in\", value = {} }}",
                toml_list(list)
            )
        }
    };
    let mut expect: Vec<String> = ["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2"]
        .iter()
        .map(|v| allowed(&format!("ciphers.{v}"), &suites))
        .collect();
    expect.push(allowed("ciphers.TLSv1.3", &tls13));
    control(
        "CIPHERS",
        &format!("Only the cipher suites of Mozilla's {profile} profile"),
        "high",
        "tls",
        "Configure the cipher suites of Mozilla's generator (https://ssl-config.mozilla.org/) for this profile.",
        None,
        expect,
    );

    let groups: Vec<String> = strings(&p["tls_curves"])
        .iter()
        .map(|g| tls_group(g))
        .collect();
    control(
        "GROUPS",
        &format!(
            "Only the key-exchange groups of Mozilla's {profile} profile ({})",
            groups.join(", ")
        ),
        "medium",
        "tls",
        &format!(
            "Offer only the groups {} (e.g. OpenSSL `Groups`/`ssl_ecdh_curve`).",
            groups.join(", ")
        ),
        None,
        vec![format!(
            "{{ fact = \"groups.accepted\", op = \"in\", value = {} }}",
            toml_list(&groups)
        )],
    );

    if let Some(bits) = p["dh_param_size"].as_u64() {
        // null: no DHE suite accepted, nothing to bound.
        control(
            "DH-SIZE",
            &format!(
                "Finite-field DHE primes of at least {bits} bits (Mozilla's {profile} profile)"
            ),
            "medium",
            "tls",
            &format!(
                "Use DHE parameters of at least {bits} bits (e.g. RFC 7919 ffdhe{bits}), or no DHE suite."
            ),
            None,
            vec![format!(
                "{{ fact = \"groups.dhe_min_bits\", op = \">=\", value = {bits}, or = [{{ fact = \"groups.dhe_min_bits\", op = \"absent\" }}] }}"
            )],
        );
    }
    let types: Vec<String> = strings(&p["certificate_types"])
        .iter()
        .map(|t| cert_type(t))
        .collect();
    control(
        "CERT-TYPE",
        &format!(
            "Certificate key type of Mozilla's {profile} profile ({})",
            types.join(", ")
        ),
        "medium",
        "tls",
        &format!("Serve a certificate with a {} key.", types.join(" or ")),
        None,
        vec![format!(
            "{{ fact = \"certificate.key_type\", op = \"in\", value = {} }}",
            toml_list(&types)
        )],
    );
    if types.iter().any(|t| t == "EC") {
        let curves: Vec<String> = strings(&p["certificate_curves"])
            .iter()
            .map(|c| cert_curve(c))
            .collect();
        control(
            "CERT-CURVE",
            &format!(
                "EC certificate keys on the curves of Mozilla's {profile} profile ({})",
                curves.join(", ")
            ),
            "medium",
            "tls",
            &format!("Use an EC key on {}.", curves.join(" or ")),
            Some("{ fact = \"certificate.key_type\", op = \"==\", value = \"EC\" }".into()),
            vec![format!(
                "{{ fact = \"certificate.key_curve\", op = \"in\", value = {} }}",
                toml_list(&curves)
            )],
        );
    }
    if let Some(bits) = p["rsa_key_size"].as_u64() {
        control(
            "CERT-RSA-SIZE",
            &format!("RSA certificate keys of at least {bits} bits (Mozilla's {profile} profile)"),
            "medium",
            "tls",
            &format!("Use an RSA key of at least {bits} bits."),
            Some("{ fact = \"certificate.key_type\", op = \"==\", value = \"RSA\" }".into()),
            vec![format!(
                "{{ fact = \"certificate.key_bits\", op = \">=\", value = {bits} }}"
            )],
        );
    }
    let signatures = strings(&p["certificate_signatures"]);
    control(
        "CERT-SIGNATURE",
        &format!("Certificate signed with an algorithm of Mozilla's {profile} profile"),
        "medium",
        "tls",
        &format!(
            "Have the certificate signed with {}.",
            signatures.join(", ")
        ),
        None,
        vec![format!(
            "{{ fact = \"certificate.signature_algorithm\", op = \"in\", value = {} }}",
            toml_list(&signatures)
        )],
    );
    let days = p["maximum_certificate_lifespan"].as_u64().unwrap();
    control(
        "CERT-LIFETIME",
        &format!("Certificates valid for at most {days} days (Mozilla's {profile} profile)"),
        "medium",
        "tls",
        &format!("Issue certificates valid for {days} days or less (automate renewal: ACME)."),
        None,
        vec![format!(
            "{{ fact = \"certificate.lifetime_days\", op = \"<=\", value = {days} }}"
        )],
    );
    let age = p["hsts_min_age"].as_u64().unwrap();
    control(
        "HSTS",
        &format!("HSTS max-age of at least {age} seconds (Mozilla's {profile} profile)"),
        "medium",
        "http",
        &format!("Send `Strict-Transport-Security: max-age={age}` on every HTTPS response."),
        None,
        vec![format!(
            "{{ fact = \"hsts.max_age\", op = \">=\", value = {age} }}"
        )],
    );
    out
}

fn pack_path(profile: &str) -> PathBuf {
    repo().join(format!("controls/packs/mozilla-{profile}.toml"))
}

#[test]
fn packs_are_generated_from_the_guidelines_json() {
    // Wrong answer prevented: a pack edited by hand (or the JSON updated) so that the controls
    // no longer say what Mozilla's guidelines say.
    let json = guidelines();
    assert_eq!(json["version"].as_f64(), Some(5.7));
    for profile in PROFILES {
        let want = generate(profile, &json);
        let path = pack_path(profile);
        if std::env::var_os("VOUCH_BLESS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} differs from what the guidelines JSON generates; run with VOUCH_BLESS=1",
            path.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The packs against real servers: `openssl s_server -HTTP` configured per profile, with a
// certificate made for the test (key type and lifetime are part of the profiles), serving one
// response with an HSTS header.

fn openssl() -> PathBuf {
    require(
        which("openssl"),
        "the openssl CLI",
        "apt-get install openssl",
    )
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a leaf for `mozilla.test` in `dir`: `key` is `ec` (P-256, ecdsa-with-SHA256) or
/// `rsa` (2048 bits, sha256WithRSAEncryption); the leaf is valid for `days` days.
fn certificate(dir: &Path, key: &str, days: u32) {
    let newkey: &[&str] = if key == "ec" {
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    } else {
        &["-newkey", "rsa:2048"]
    };
    run(Command::new(openssl())
        .current_dir(dir)
        .args(["req", "-x509", "-nodes", "-sha256", "-days", "400"])
        .args(newkey)
        .args([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=vouch Mozilla test CA",
        ])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]));
    run(Command::new(openssl())
        .current_dir(dir)
        .args(["req", "-nodes", "-sha256"])
        .args(newkey)
        .args([
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=mozilla.test",
        ]));
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:mozilla.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new(openssl())
        .current_dir(dir)
        .args([
            "x509", "-req", "-sha256", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        ])
        .args([
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-extfile",
            "leaf.ext",
        ])
        .args(["-days", &days.to_string()]));
}

struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl s_server` for `mozilla.test` with a `key` certificate valid `days` days, `args`
/// configuring versions, suites and groups, answering `GET /ok` with an HSTS header.
fn server(key: &str, days: u32, args: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    certificate(dir.path(), key, days);
    std::fs::write(
        dir.path().join("ok"),
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\
         Strict-Transport-Security: max-age=63072000\r\nConnection: close\r\n\r\nok\n",
    )
    .unwrap();
    let path = dir.path().to_path_buf();
    let (child, port) = spawn_on_free_port("openssl s_server", Duration::from_secs(10), |port| {
        let mut cmd = Command::new(openssl());
        cmd.current_dir(&path)
            .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
            .args(["-HTTP", "-quiet", "-cert", "leaf.pem", "-key", "leaf.key"])
            .args(args);
        cmd
    });
    Server { child, port, dir }
}

/// `vouch check --controls builtin:mozilla-PROFILE` on the server: exit code and report.
fn check(profile: &str, s: &Server) -> (i32, Value) {
    let inv = s.dir.path().join("vouch.toml");
    std::fs::write(
        &inv,
        format!(
            "[targets]\npublic_endpoints = [\"https://mozilla.test:{p}/ok\"]\n\n\
             [resolve]\n\"mozilla.test:{p}\" = \"127.0.0.1:{p}\"\n\n[tls]\nca_file = \"ca.pem\"\n",
            p = s.port
        ),
    )
    .unwrap();
    let out = vouch()
        .args(["check", "--controls", &format!("builtin:mozilla-{profile}")])
        .arg("--inventory")
        .arg(&inv)
        .args(["--format", "json", "--timeout", "20s"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

/// Control id → verdict of the only target.
fn by_control(report: &Value) -> std::collections::BTreeMap<String, String> {
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let id = c["id"].as_str().unwrap().to_string();
            let v = verdicts(report, &id);
            assert_eq!(v.len(), 1, "{id}: {v:?}");
            (id, v.into_values().next().unwrap())
        })
        .collect()
}

const MOZ_GROUPS: &[&str] = &["-groups", "X25519:P-256:P-384"];

fn modern_server() -> Server {
    let mut args = vec![
        "-tls1_3",
        "-ciphersuites",
        "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
    ];
    args.extend(MOZ_GROUPS);
    server("ec", 90, &args)
}

fn intermediate_server() -> Server {
    let mut args = vec![
        "-min_protocol",
        "TLSv1.2",
        "-cipher",
        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305",
    ];
    args.extend(MOZ_GROUPS);
    server("rsa", 365, &args)
}

/// TLS 1.0 only, with two of the old profile's suites.
fn tls10_server() -> Server {
    let mut args = vec![
        "-tls1",
        "-cipher",
        "ECDHE-RSA-AES128-SHA:AES128-SHA:@SECLEVEL=0",
    ];
    args.extend(MOZ_GROUPS);
    server("rsa", 365, &args)
}

/// Every control passes, but the key controls of the other key type (n/a by their `where`).
fn assert_passes(report: &Value) {
    let got = by_control(report);
    assert!(got.len() >= 8, "{got:?}");
    for (id, v) in &got {
        let scoped = id.ends_with("CERT-CURVE") || id.ends_with("CERT-RSA-SIZE");
        assert!(
            v == "pass" || (scoped && v == "n/a"),
            "{id} is {v} (all: {got:?}); observations: {:#}",
            report["observations"]
        );
    }
}

#[test]
fn modern_pack_passes_a_tls13_only_server_per_its_profile_and_fails_an_intermediate_one() {
    // Wrong answers prevented: a modern server failing its own profile (a suite, group, key or
    // lifetime misread), an intermediate server (TLS 1.2, RSA, 365 days) passing modern.
    let modern = modern_server();
    let (code, report) = check("modern", &modern);
    assert_passes(&report);
    assert_eq!(code, 0);

    let inter = intermediate_server();
    let (code, report) = check("modern", &inter);
    assert_eq!(code, 1);
    let got = by_control(&report);
    for id in [
        "PROTOCOLS",
        "CIPHERS",
        "CERT-TYPE",
        "CERT-SIGNATURE",
        "CERT-LIFETIME",
    ] {
        assert_eq!(got[&format!("MOZ-MODERN-{id}")], "fail", "{id}: {got:?}");
    }
    for id in ["GROUPS", "HSTS"] {
        assert_eq!(got[&format!("MOZ-MODERN-{id}")], "pass", "{id}: {got:?}");
    }
}

#[test]
fn intermediate_pack_passes_its_server_and_fails_a_tls10_only_one() {
    // Wrong answers prevented: TLS 1.0 (and its CBC-SHA1 suites) passing intermediate.
    let inter = intermediate_server();
    let (code, report) = check("intermediate", &inter);
    assert_passes(&report);
    assert_eq!(code, 0);

    let old = tls10_server();
    let (code, report) = check("intermediate", &old);
    assert_eq!(code, 1);
    let got = by_control(&report);
    assert_eq!(got["MOZ-INTERMEDIATE-PROTOCOLS"], "fail", "{got:?}");
    assert_eq!(got["MOZ-INTERMEDIATE-CIPHERS"], "fail", "{got:?}");
    assert_eq!(got["MOZ-INTERMEDIATE-CERT-TYPE"], "pass", "{got:?}");
}

#[test]
fn old_pack_passes_a_tls10_only_server_and_fails_one_with_a_group_outside_the_profile() {
    // Wrong answers prevented: the old profile refusing what it allows (TLS 1.0, CBC-SHA1),
    // a server accepting secp521r1 passing ("accepts X448 or secp521r1 is not intermediate").
    // TLS 1.0 to 1.3 with the old profile's suites: everything passes.
    let mut args = vec![
        "-min_protocol",
        "TLSv1",
        "-cipher",
        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:AES128-SHA:DES-CBC3-SHA:@SECLEVEL=0",
    ];
    args.extend(MOZ_GROUPS);
    let old = server("rsa", 365, &args);
    let (code, report) = check("old", &old);
    assert_passes(&report);
    assert_eq!(code, 0);

    // TLS 1.0 only: every TLS control passes; HSTS cannot be read (vouch's HTTP client speaks
    // TLS 1.2 and 1.3 only), which is an error, never a pass.
    let old = tls10_server();
    let (code, report) = check("old", &old);
    let got = by_control(&report);
    for (id, v) in &got {
        let want = if id == "MOZ-OLD-HSTS" {
            "error"
        } else if id == "MOZ-OLD-CERT-CURVE" {
            "n/a"
        } else {
            "pass"
        };
        assert_eq!(v, want, "{id}: {got:?}");
    }
    assert_eq!(code, 3);

    let p521 = server(
        "rsa",
        365,
        &[
            "-tls1_2",
            "-cipher",
            "ECDHE-RSA-AES128-GCM-SHA256",
            "-groups",
            "P-256:P-521",
        ],
    );
    let (code, report) = check("old", &p521);
    assert_eq!(code, 1);
    let got = by_control(&report);
    assert_eq!(got["MOZ-OLD-GROUPS"], "fail", "{got:?}");
    assert_eq!(got["MOZ-OLD-PROTOCOLS"], "pass", "{got:?}");
}

#[test]
fn mozilla_packs_are_named_by_builtin_only_and_validate() {
    for p in PROFILES {
        vouch()
            .args(["validate", &format!("builtin:mozilla-{p}")])
            .assert()
            .success();
        let out = vouch()
            .args([
                "list",
                "--controls",
                &format!("builtin:mozilla-{p}"),
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(&format!("MOZ-{}-PROTOCOLS", p.to_uppercase())),
            "{text}"
        );
    }
    // The whole library does not include the packs: their profiles contradict each other.
    let out = vouch()
        .args(["list", "--controls", "builtin", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("MOZ-"));
    // An unknown pack names the Mozilla ones among the choices.
    let out = vouch()
        .args(["validate", "builtin:mozilla-strict"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mozilla-intermediate"));
}

/// `vouch probe tls https://mozilla.test:PORT/ok --profile PROFILE`: exit code and stdout.
fn probe_profile(profile: &str, s: &Server) -> (i32, String) {
    let inv = s.dir.path().join("probe.toml");
    std::fs::write(
        &inv,
        format!(
            "[resolve]\n\"mozilla.test:{p}\" = \"127.0.0.1:{p}\"\n\n[tls]\nca_file = \"ca.pem\"\n",
            p = s.port
        ),
    )
    .unwrap();
    let out = vouch()
        .args([
            "probe",
            "tls",
            &format!("https://mozilla.test:{}/ok", s.port),
        ])
        .args(["--profile", profile, "--timeout", "20s"])
        .arg("--inventory")
        .arg(&inv)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap(),
        stdout + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn probe_tls_profile_prints_each_deviation_in_words_and_exits_1() {
    // Wrong answers prevented: a deviating server reported as conforming (exit 0), a deviation
    // printed without what was observed, a conforming server reported as deviating.
    let old = tls10_server();
    let (code, out) = probe_profile("intermediate", &old);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("deviation"), "{out}");
    assert!(out.contains("MOZ-INTERMEDIATE-PROTOCOLS"), "{out}");
    assert!(
        out.contains("protocols.accepted: TLSv1.0 not allowed by the profile"),
        "{out}"
    );
    assert!(
        out.contains("TLS_RSA_WITH_AES_128_CBC_SHA") && out.contains("MOZ-INTERMEDIATE-CIPHERS"),
        "{out}"
    );

    let modern = modern_server();
    let (code, out) = probe_profile("modern", &modern);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("conforms"), "{out}");
    assert!(!out.contains("deviation"), "{out}");
}

#[test]
fn a_1024_bit_dhe_server_fails_intermediate_and_passes_old() {
    // Wrong answer prevented: a DHE suite with 1024-bit parameters passing intermediate (its
    // dh_param_size is 2048) because finite-field groups are not named on the wire.
    let params = tempfile::tempdir().unwrap();
    run(Command::new(openssl()).current_dir(params.path()).args([
        "dhparam",
        "-out",
        "dh1024.pem",
        "1024",
    ]));
    let dh = params.path().join("dh1024.pem");
    let mut args = vec![
        "-min_protocol",
        "TLSv1.2",
        "-cipher",
        "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0",
        "-dhparam",
        dh.to_str().unwrap(),
    ];
    args.extend(MOZ_GROUPS);
    let s = server("rsa", 365, &args);
    let (code, report) = check("intermediate", &s);
    let obs = report["observations"]
        .as_object()
        .unwrap()
        .values()
        .find(|o| o["probe"] == "tls")
        .unwrap();
    assert_eq!(
        obs["facts"]["groups.dhe_min_bits"], 1024,
        "{:#} {:#}",
        obs["facts"], obs["evidence"]["addresses"]
    );
    let got = by_control(&report);
    assert_eq!(got["MOZ-INTERMEDIATE-DH-SIZE"], "fail", "{got:?}");
    assert_eq!(got["MOZ-INTERMEDIATE-CIPHERS"], "pass", "{got:?}");
    assert_eq!(code, 1);

    let (code, report) = check("old", &s);
    assert_passes(&report);
    assert_eq!(code, 0);
}
