//! OCSP stapling: the response a server staples to its certificate (RFC 6066 §8 for TLS 1.2,
//! RFC 8446 §4.4.2.1 for TLS 1.3), as the rustls handshake received it, read per RFC 6960 §4.2.
//!
//! A staple's status is reported only when the response is about the served leaf (its CertID
//! names the leaf's serial and issuer) and its signature verifies with the issuer's key or with a
//! delegated responder certificate the issuer signed for OCSP signing (RFC 6960 §4.2.2.2): a
//! staple nobody can vouch for says nothing, so it never yields `good`.
//!
//! The DER is read by the small strict reader below rather than a crate: the tree has no OCSP
//! parser (x509-parser does not read OCSP; RustCrypto's `x509-ocsp` would add the whole
//! `x509-cert`/`der` 0.7 stack for five structures), and the structures are fixed and few.
//! The reader accepts DER only (definite lengths, minimal length encodings, low tag numbers) and
//! fails with a reason on anything else; the certificates inside are read by x509-parser.

use serde_json::{Value, json};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::scan::AddressScan;
use crate::probe::Observation;

/// One DER element: its tag byte, its content, and all of its bytes.
#[derive(Clone, Copy, Debug)]
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    raw: &'a [u8],
}

/// Reads consecutive DER elements from a slice.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Der<'a> {
        Der { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn any(&mut self) -> Result<Tlv<'a>, String> {
        let b = self.rest;
        let tag = *b.first().ok_or("truncated: an element was expected")?;
        if tag & 0x1f == 0x1f {
            return Err("a high tag number, which OCSP does not use".into());
        }
        let first = *b.get(1).ok_or("truncated length")?;
        let (len, head) = if first < 0x80 {
            (first as usize, 2)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 {
                return Err("an indefinite length (BER, not DER)".into());
            }
            if n > 4 {
                return Err("a length of more than 4 bytes".into());
            }
            let bytes = b.get(2..2 + n).ok_or("truncated length")?;
            if bytes[0] == 0 {
                return Err("a non-minimal length encoding".into());
            }
            let len = bytes.iter().fold(0usize, |a, &x| (a << 8) | x as usize);
            if len < 0x80 {
                return Err("a non-minimal length encoding".into());
            }
            (len, 2 + n)
        };
        let end = head
            .checked_add(len)
            .filter(|&e| e <= b.len())
            .ok_or("an element longer than its container")?;
        self.rest = &b[end..];
        Ok(Tlv {
            tag,
            content: &b[head..end],
            raw: &b[..end],
        })
    }

    fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, String> {
        let t = self.any().map_err(|e| format!("{what}: {e}"))?;
        if t.tag != tag {
            return Err(format!(
                "{what}: tag 0x{:02x} where 0x{tag:02x} was expected",
                t.tag
            ));
        }
        Ok(t)
    }

    /// The next element when it has `tag` (an OPTIONAL or DEFAULT field).
    fn optional(&mut self, tag: u8, what: &str) -> Result<Option<Tlv<'a>>, String> {
        if self.peek_tag() == Some(tag) {
            self.expect(tag, what).map(Some)
        } else {
            Ok(None)
        }
    }
}

const SEQUENCE: u8 = 0x30;
const ENUMERATED: u8 = 0x0a;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const INTEGER: u8 = 0x02;
const GENERALIZED_TIME: u8 = 0x18;

/// id-pkix-ocsp-basic, 1.3.6.1.5.5.7.48.1.1.
const OID_OCSP_BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
/// id-kp-OCSPSigning, 1.3.6.1.5.5.7.3.9.
const OID_KP_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";

/// The certificate status of one SingleResponse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    Revoked {
        time: String,
        reason: Option<&'static str>,
    },
    Unknown,
}

impl CertStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            CertStatus::Good => "good",
            CertStatus::Revoked { .. } => "revoked",
            CertStatus::Unknown => "unknown",
        }
    }

    /// Worse is larger: revoked > unknown > good.
    fn rank(&self) -> u8 {
        match self {
            CertStatus::Good => 0,
            CertStatus::Unknown => 1,
            CertStatus::Revoked { .. } => 2,
        }
    }
}

/// One SingleResponse.
#[derive(Clone, Debug)]
pub struct Single {
    hash_oid: Vec<u8>,
    issuer_name_hash: Vec<u8>,
    issuer_key_hash: Vec<u8>,
    serial: Vec<u8>,
    pub status: CertStatus,
    pub this_update: String,
    pub next_update: Option<String>,
}

/// A parsed OCSPResponse.
#[derive(Clone, Debug)]
pub struct Response<'a> {
    /// OCSPResponseStatus name (`successful`, `tryLater`, …).
    pub status: &'static str,
    pub basic: Option<Basic<'a>>,
}

/// A parsed BasicOCSPResponse.
#[derive(Clone, Debug)]
pub struct Basic<'a> {
    tbs: &'a [u8],
    signature_oid: Vec<u8>,
    signature: &'a [u8],
    /// The responder's certificates (DER), when the response carries some.
    certs: Vec<&'a [u8]>,
    pub produced_at: String,
    pub responses: Vec<Single>,
}

fn response_status_name(code: u8) -> &'static str {
    match code {
        0 => "successful",
        1 => "malformedRequest",
        2 => "internalError",
        3 => "tryLater",
        5 => "sigRequired",
        6 => "unauthorized",
        _ => "unassigned",
    }
}

fn crl_reason(code: u8) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unassigned",
    }
}

/// A GeneralizedTime (`YYYYMMDDHHMMSS[.f]Z`, RFC 5280 §4.1.2.5.2) as RFC 3339.
fn generalized_time(t: Tlv<'_>, what: &str) -> Result<String, String> {
    let s = std::str::from_utf8(t.content).map_err(|_| format!("{what}: not text"))?;
    let bad = || format!("{what}: `{s}` is not a DER GeneralizedTime");
    let body = s.strip_suffix('Z').ok_or_else(bad)?;
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => (m, Some(f)),
        Some(_) => return Err(bad()),
        None => (body, None),
    };
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let text = format!(
        "{}-{}-{}T{}:{}:{}{}Z",
        &main[0..4],
        &main[4..6],
        &main[6..8],
        &main[8..10],
        &main[10..12],
        &main[12..14],
        frac.map(|f| format!(".{f}")).unwrap_or_default()
    );
    let ts: jiff::Timestamp = text.parse().map_err(|_| bad())?;
    Ok(ts.to_string())
}

/// Parses a DER OCSPResponse (RFC 6960 §4.2.1).
pub fn parse(der: &[u8]) -> Result<Response<'_>, String> {
    let mut top = Der::new(der);
    let resp = top.expect(SEQUENCE, "OCSPResponse")?;
    if !top.is_empty() {
        return Err("bytes after the OCSPResponse".into());
    }
    let mut r = Der::new(resp.content);
    let status = r.expect(ENUMERATED, "responseStatus")?;
    let [code] = status.content else {
        return Err("responseStatus: not one byte".into());
    };
    let status = response_status_name(*code);
    let Some(bytes) = r.optional(0xa0, "responseBytes")? else {
        return Ok(Response {
            status,
            basic: None,
        });
    };
    let mut rb = Der::new(bytes.content);
    let rb = rb.expect(SEQUENCE, "ResponseBytes")?;
    let mut rb = Der::new(rb.content);
    let kind = rb.expect(OID, "responseType")?;
    if kind.content != OID_OCSP_BASIC {
        return Err("responseType is not id-pkix-ocsp-basic".into());
    }
    let octets = rb.expect(OCTET_STRING, "response")?;
    let basic = parse_basic(octets.content)?;
    Ok(Response {
        status,
        basic: Some(basic),
    })
}

fn parse_basic(der: &[u8]) -> Result<Basic<'_>, String> {
    let mut top = Der::new(der);
    let b = top.expect(SEQUENCE, "BasicOCSPResponse")?;
    let mut b = Der::new(b.content);
    let tbs = b.expect(SEQUENCE, "tbsResponseData")?;
    let alg = b.expect(SEQUENCE, "signatureAlgorithm")?;
    let signature_oid = Der::new(alg.content)
        .expect(OID, "signatureAlgorithm")?
        .content
        .to_vec();
    let sig = b.expect(BIT_STRING, "signature")?;
    let signature = match sig.content.split_first() {
        Some((0, s)) => s,
        _ => return Err("signature: a BIT STRING with unused bits".into()),
    };
    let mut certs = Vec::new();
    if let Some(c) = b.optional(0xa0, "certs")? {
        let list = Der::new(c.content).expect(SEQUENCE, "certs")?;
        let mut list = Der::new(list.content);
        while !list.is_empty() {
            certs.push(list.expect(SEQUENCE, "certs")?.raw);
        }
    }

    let mut d = Der::new(tbs.content);
    d.optional(0xa0, "version")?;
    let responder = d.any().map_err(|e| format!("responderID: {e}"))?;
    if responder.tag != 0xa1 && responder.tag != 0xa2 {
        return Err("responderID: neither byName nor byKey".into());
    }
    let produced_at = generalized_time(d.expect(GENERALIZED_TIME, "producedAt")?, "producedAt")?;
    let list = d.expect(SEQUENCE, "responses")?;
    let mut list = Der::new(list.content);
    let mut responses = Vec::new();
    while !list.is_empty() {
        responses.push(parse_single(list.expect(SEQUENCE, "SingleResponse")?)?);
    }
    Ok(Basic {
        tbs: tbs.raw,
        signature_oid,
        signature,
        certs,
        produced_at,
        responses,
    })
}

fn parse_single(s: Tlv<'_>) -> Result<Single, String> {
    let mut s = Der::new(s.content);
    let id = s.expect(SEQUENCE, "certID")?;
    let mut id = Der::new(id.content);
    let alg = id.expect(SEQUENCE, "hashAlgorithm")?;
    let hash_oid = Der::new(alg.content)
        .expect(OID, "hashAlgorithm")?
        .content
        .to_vec();
    let issuer_name_hash = id.expect(OCTET_STRING, "issuerNameHash")?.content.to_vec();
    let issuer_key_hash = id.expect(OCTET_STRING, "issuerKeyHash")?.content.to_vec();
    let serial = id.expect(INTEGER, "serialNumber")?.content.to_vec();
    let st = s.any().map_err(|e| format!("certStatus: {e}"))?;
    let status = match st.tag {
        0x80 => CertStatus::Good,
        0xa1 => {
            let mut info = Der::new(st.content);
            let time = generalized_time(
                info.expect(GENERALIZED_TIME, "revocationTime")?,
                "revocationTime",
            )?;
            let reason = match info.optional(0xa0, "revocationReason")? {
                Some(r) => match Der::new(r.content).expect(ENUMERATED, "revocationReason")? {
                    Tlv {
                        content: [code], ..
                    } => Some(crl_reason(*code)),
                    _ => return Err("revocationReason: not one byte".into()),
                },
                None => None,
            };
            CertStatus::Revoked { time, reason }
        }
        0x82 => CertStatus::Unknown,
        t => {
            return Err(format!(
                "certStatus: tag 0x{t:02x} is none of good, revoked, unknown"
            ));
        }
    };
    let this_update = generalized_time(s.expect(GENERALIZED_TIME, "thisUpdate")?, "thisUpdate")?;
    let next_update = match s.optional(0xa0, "nextUpdate")? {
        Some(n) => Some(generalized_time(
            Der::new(n.content).expect(GENERALIZED_TIME, "nextUpdate")?,
            "nextUpdate",
        )?),
        None => None,
    };
    Ok(Single {
        hash_oid,
        issuer_name_hash,
        issuer_key_hash,
        serial,
        status,
        this_update,
        next_update,
    })
}

fn hash(oid: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::digest;
    let alg = match oid {
        // 1.3.14.3.2.26
        [0x2b, 0x0e, 0x03, 0x02, 0x1a] => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        // 2.16.840.1.101.3.4.2.{1,2,3}
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01] => &digest::SHA256,
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02] => &digest::SHA384,
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03] => &digest::SHA512,
        _ => return None,
    };
    Some(digest::digest(alg, data).as_ref().to_vec())
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&x| x == 0).count();
    &b[n.min(b.len().saturating_sub(1))..]
}

/// Verifies `signature` over `message` with the key of `signer` (an X.509 certificate), for the
/// signature algorithm `oid` (DER content of the OID).
fn verify(oid: &[u8], signer: &X509Certificate<'_>, message: &[u8], signature: &[u8]) -> bool {
    use aws_lc_rs::signature as s;
    // The curve of an ECDSA key is the key's, not the algorithm's: both are tried.
    let algs: &[&dyn s::VerificationAlgorithm] = match oid {
        // 1.2.840.113549.1.1.{5,11,12,13}: sha{1,256,384,512}WithRSAEncryption
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05] => {
            &[&s::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY]
        }
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b] => &[&s::RSA_PKCS1_2048_8192_SHA256],
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c] => &[&s::RSA_PKCS1_2048_8192_SHA384],
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d] => &[&s::RSA_PKCS1_2048_8192_SHA512],
        // 1.2.840.10045.4.3.{2,3}: ecdsa-with-SHA256/384
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02] => {
            &[&s::ECDSA_P256_SHA256_ASN1, &s::ECDSA_P384_SHA256_ASN1]
        }
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03] => {
            &[&s::ECDSA_P384_SHA384_ASN1, &s::ECDSA_P256_SHA384_ASN1]
        }
        // 1.3.101.112: Ed25519
        [0x2b, 0x65, 0x70] => &[&s::ED25519],
        _ => return false,
    };
    let key = &signer.public_key().subject_public_key.data;
    algs.iter().any(|alg| {
        s::UnparsedPublicKey::new(*alg, key.as_ref())
            .verify(message, signature)
            .is_ok()
    })
}

/// What one staple says about one leaf.
#[derive(Clone, Debug)]
pub struct Reading {
    /// The leaf's entry, when the response is about it and its signature verifies.
    pub single: Result<Single, String>,
    pub response_status: &'static str,
    pub produced_at: Option<String>,
    /// Who signed it, in words (`the issuer`, `a delegated responder (CN=…)`).
    pub signer: Option<String>,
}

/// Reads a staple for the chain `chain` (leaf first, as served).
pub fn read(staple: &[u8], chain: &[Vec<u8>]) -> Reading {
    let mut reading = Reading {
        single: Err(String::new()),
        response_status: "unreadable",
        produced_at: None,
        signer: None,
    };
    let resp = match parse(staple) {
        Ok(r) => r,
        Err(e) => {
            reading.single = Err(format!("the stapled OCSP response is not DER OCSP: {e}"));
            return reading;
        }
    };
    reading.response_status = resp.status;
    let Some(basic) = resp.basic else {
        reading.single = Err(format!(
            "the stapled OCSP response is `{}`, with no status in it",
            resp.status
        ));
        return reading;
    };
    if resp.status != "successful" {
        reading.single = Err(format!("the stapled OCSP response is `{}`", resp.status));
        return reading;
    }
    reading.produced_at = Some(basic.produced_at.clone());
    reading.single = judge(&basic, chain).map(|(single, signer)| {
        reading.signer = Some(signer);
        single
    });
    reading
}

fn judge(basic: &Basic<'_>, chain: &[Vec<u8>]) -> Result<(Single, String), String> {
    let Some(Ok((_, leaf))) = chain.first().map(|d| X509Certificate::from_der(d)) else {
        return Err("the leaf certificate cannot be read".into());
    };
    let issuer_raw = leaf.tbs_certificate.issuer.as_raw();
    let issuer = chain
        .iter()
        .skip(1)
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .find(|c| c.tbs_certificate.subject.as_raw() == issuer_raw);
    let serial = strip_zeros(leaf.tbs_certificate.raw_serial());
    let single = basic
        .responses
        .iter()
        .find(|s| {
            strip_zeros(&s.serial) == serial
                && hash(&s.hash_oid, issuer_raw).is_some_and(|h| h == s.issuer_name_hash)
                && issuer.as_ref().is_none_or(|i| {
                    hash(&s.hash_oid, &i.public_key().subject_public_key.data)
                        .is_some_and(|h| h == s.issuer_key_hash)
                })
        })
        .ok_or_else(|| {
            format!(
                "the stapled OCSP response has no entry for the served certificate (serial {})",
                hex::encode(serial)
            )
        })?;
    let Some(issuer) = issuer else {
        return Err(
            "the server did not send the issuer's certificate, so the staple's signature cannot be checked"
                .into(),
        );
    };
    if verify(&basic.signature_oid, &issuer, basic.tbs, basic.signature) {
        return Ok((single.clone(), "the issuer".into()));
    }
    // RFC 6960 §4.2.2.2: a responder certificate issued by the CA for OCSP signing.
    for der in &basic.certs {
        let Ok((_, responder)) = X509Certificate::from_der(der) else {
            continue;
        };
        let issued_by_ca = responder.tbs_certificate.issuer.as_raw() == issuer_raw
            && verify(
                responder.signature_algorithm.algorithm.as_bytes(),
                &issuer,
                responder.tbs_certificate.as_ref(),
                &responder.signature_value.data,
            );
        let for_ocsp = responder
            .extended_key_usage()
            .ok()
            .flatten()
            .is_some_and(|e| {
                e.value.ocsp_signing
                    || e.value
                        .other
                        .iter()
                        .any(|o| o.to_id_string() == OID_KP_OCSP_SIGNING)
            });
        if issued_by_ca
            && for_ocsp
            && verify(&basic.signature_oid, &responder, basic.tbs, basic.signature)
        {
            return Ok((
                single.clone(),
                format!("a delegated responder ({})", responder.subject()),
            ));
        }
    }
    Err("the stapled OCSP response's signature verifies neither with the issuer's key nor with a responder certificate the issuer signed for OCSP".into())
}

/// Records the OCSP facts over every address whose rustls handshake completed: stapled only if
/// stapled at each; the worst status; its times.
pub fn record(obs: &mut Observation, scans: &[AddressScan]) {
    // No leaf read, no staple to match: the certificate facts already say why.
    if obs
        .unobserved
        .contains_key("certificate.sha256_fingerprint")
    {
        return;
    }
    const STATUS_FACTS: [&str; 4] = [
        "certificate.ocsp_status",
        "certificate.ocsp_produced_at",
        "certificate.ocsp_this_update",
        "certificate.ocsp_next_update",
    ];
    let mut evidence = serde_json::Map::new();
    let mut missing = Vec::new();
    let mut unstapled = Vec::new();
    let mut readings = Vec::new();
    for s in scans {
        match &s.handshake {
            Ok(h) if h.ocsp.is_empty() => {
                unstapled.push(s.addr);
                evidence.insert(s.addr.to_string(), json!({"stapled": false}));
            }
            Ok(h) => {
                let r = read(&h.ocsp, &h.chain);
                evidence.insert(s.addr.to_string(), reading_evidence(&r, h.ocsp.len()));
                readings.push((s.addr, r));
            }
            Err(f) => {
                missing.push(format!("{}: {}", s.addr, f.error));
                evidence.insert(
                    s.addr.to_string(),
                    json!({"stapled": null, "detail": f.error}),
                );
            }
        }
    }
    obs.evidence("ocsp", Value::Object(evidence));
    if !unstapled.is_empty() {
        obs.fact("certificate.ocsp_stapled", false);
        let at = unstapled
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        for f in STATUS_FACTS {
            obs.unobserved(f, format!("no OCSP response was stapled (at {at})"));
        }
        return;
    }
    if !missing.is_empty() {
        let why = format!(
            "no TLS 1.2/1.3 handshake completed, so no staple could be received ({})",
            missing.join("; ")
        );
        obs.unobserved("certificate.ocsp_stapled", why.clone());
        for f in STATUS_FACTS {
            obs.unobserved(f, why.clone());
        }
        return;
    }
    obs.fact("certificate.ocsp_stapled", true);
    // Every address stapled; the status is the worst, and unreadable anywhere is unobserved.
    let mut worst: Option<(&Single, &Reading)> = None;
    for (addr, r) in &readings {
        match &r.single {
            Err(e) => {
                let why = if readings.len() > 1 {
                    format!("{e} (at {addr})")
                } else {
                    e.clone()
                };
                for f in STATUS_FACTS {
                    obs.unobserved(f, why.clone());
                }
                return;
            }
            Ok(s) => {
                if worst.is_none_or(|(w, _)| s.status.rank() > w.status.rank()) {
                    worst = Some((s, r));
                }
            }
        }
    }
    let Some((single, reading)) = worst else {
        return;
    };
    obs.fact("certificate.ocsp_status", single.status.as_str());
    obs.fact(
        "certificate.ocsp_produced_at",
        json!(reading.produced_at.clone()),
    );
    obs.fact("certificate.ocsp_this_update", single.this_update.clone());
    obs.fact(
        "certificate.ocsp_next_update",
        json!(single.next_update.clone()),
    );
}

/// The spot-check line for the staple.
pub fn render(o: &Observation) -> String {
    let text = |k: &str| o.facts.get(k).and_then(Value::as_str).unwrap_or("none");
    match o.facts.get("certificate.ocsp_stapled") {
        Some(Value::Bool(true)) => match o.facts.get("certificate.ocsp_status") {
            Some(Value::String(status)) => format!(
                "{} stapled, {status} (produced {}, next update {})",
                if status == "good" { "✓" } else { "✗" },
                text("certificate.ocsp_produced_at"),
                text("certificate.ocsp_next_update")
            ),
            _ => format!(
                "? stapled, status not read: {}",
                o.unobserved
                    .get("certificate.ocsp_status")
                    .cloned()
                    .unwrap_or_default()
            ),
        },
        Some(Value::Bool(false)) => "✗ no staple".into(),
        _ => format!(
            "? {}",
            o.unobserved
                .get("certificate.ocsp_stapled")
                .cloned()
                .unwrap_or_default()
        ),
    }
}

fn reading_evidence(r: &Reading, bytes: usize) -> Value {
    let mut e = json!({
        "stapled": true,
        "bytes": bytes,
        "response_status": r.response_status,
        "produced_at": r.produced_at,
        "signed_by": r.signer,
    });
    match &r.single {
        Ok(s) => {
            e["cert_status"] = json!(s.status.as_str());
            e["this_update"] = json!(s.this_update);
            e["next_update"] = json!(s.next_update);
            if let CertStatus::Revoked { time, reason } = &s.status {
                e["revocation_time"] = json!(time);
                e["revocation_reason"] = json!(reason);
            }
        }
        Err(why) => e["detail"] = json!(why),
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_reader_refuses_ber_and_truncation() {
        // Indefinite length.
        assert!(Der::new(&[0x30, 0x80, 0, 0]).any().is_err());
        // Long form for a short length.
        assert!(Der::new(&[0x04, 0x81, 0x01, 0xff]).any().is_err());
        // Longer than the buffer.
        assert!(Der::new(&[0x04, 0x05, 1, 2]).any().is_err());
        let t = Der::new(
            &[0x04, 0x81, 0x80]
                .iter()
                .copied()
                .chain([7u8; 0x80])
                .collect::<Vec<_>>(),
        )
        .any()
        .map(|t| t.content.len());
        assert_eq!(t, Ok(0x80));
    }

    #[test]
    fn generalized_times_read_as_rfc3339() {
        let t = |s: &str| {
            generalized_time(
                Tlv {
                    tag: GENERALIZED_TIME,
                    content: s.as_bytes(),
                    raw: &[],
                },
                "t",
            )
        };
        assert_eq!(t("20261129193000Z"), Ok("2026-11-29T19:30:00Z".into()));
        assert!(t("20261129193000").is_err());
        assert!(t("2026112919Z").is_err());
    }

    #[test]
    fn a_try_later_response_has_no_status() {
        // OCSPResponse { responseStatus tryLater(3) }: no responseBytes.
        let r = read(&[0x30, 0x03, 0x0a, 0x01, 0x03], &[]);
        assert_eq!(r.response_status, "tryLater");
        assert!(r.single.unwrap_err().contains("tryLater"));
    }
}
