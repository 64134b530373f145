//! The certificate chain: a real rustls handshake (TLS 1.2/1.3) that records what the server
//! sends and never aborts on it, and the trust verdict computed apart with rustls-webpki.
//!
//! The handshake's verifier accepts anything: vouch is observing, not sending secrets, and an
//! expired or untrusted certificate is exactly what it must be able to report. Trust is judged
//! afterwards against the system's roots (rustls-native-certs, or webpki-roots when the system
//! has none) plus the inventory's `[tls] ca_file`, with time and hostname deliberately left out
//! of `chain_trusted` (they have their own facts).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::cert::CertFacts;
use crate::expect::Protocol;

/// What a completed rustls handshake showed.
#[derive(Clone, Debug)]
pub struct Handshake {
    pub protocol: Option<Protocol>,
    /// IANA code point of the negotiated suite.
    pub cipher: Option<u16>,
    /// The certificates the server sent, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The stapled OCSP response (DER), empty when the server stapled none.
    pub ocsp: Vec<u8>,
}

/// A failed handshake, with whatever chain it got to see before failing.
#[derive(Clone, Debug)]
pub struct HandshakeFailure {
    pub error: String,
    pub chain: Vec<Vec<u8>>,
    /// True when the TCP connection itself failed (refused, unreachable).
    pub connect_failed: bool,
}

/// Which signature schemes a handshake offers: all, or one family only, so that a server with
/// an RSA and an ECDSA certificate shows the other one too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schemes {
    All,
    /// RSA PKCS#1 and RSA-PSS only.
    RsaOnly,
    /// ECDSA and EdDSA only.
    NotRsa,
}

impl Schemes {
    fn admits(self, s: SignatureScheme) -> bool {
        let rsa = matches!(
            s,
            SignatureScheme::RSA_PKCS1_SHA1
                | SignatureScheme::RSA_PKCS1_SHA256
                | SignatureScheme::RSA_PKCS1_SHA384
                | SignatureScheme::RSA_PKCS1_SHA512
                | SignatureScheme::RSA_PSS_SHA256
                | SignatureScheme::RSA_PSS_SHA384
                | SignatureScheme::RSA_PSS_SHA512
        );
        match self {
            Schemes::All => true,
            Schemes::RsaOnly => rsa,
            Schemes::NotRsa => !rsa,
        }
    }
}

/// Accepts every certificate and signature, remembering the chain it was shown.
#[derive(Debug)]
struct RecordingVerifier {
    seen: Mutex<Vec<Vec<u8>>>,
    /// The OCSP staple that came with the certificate (rustls always asks for one).
    ocsp: Mutex<Vec<u8>>,
    provider: Arc<CryptoProvider>,
    schemes: Schemes,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut ocsp) = self.ocsp.lock() {
            *ocsp = ocsp_response.to_vec();
        }
        if let Ok(mut seen) = self.seen.lock() {
            *seen = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.as_ref().to_vec())
                .collect();
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
            .into_iter()
            .filter(|s| self.schemes.admits(*s))
            .collect()
    }
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// Runs one TLS 1.2/1.3 handshake to `addr`, sending `name` as SNI (an IP literal sends none)
/// and offering the signature schemes `schemes` admits.
pub async fn handshake(
    addr: SocketAddr,
    name: &str,
    timeout: Duration,
    schemes: Schemes,
) -> Result<Handshake, HandshakeFailure> {
    let verifier = Arc::new(RecordingVerifier {
        seen: Mutex::new(Vec::new()),
        ocsp: Mutex::new(Vec::new()),
        provider: provider(),
        schemes,
    });
    let fail = |error: String, connect_failed: bool, v: &RecordingVerifier| HandshakeFailure {
        error,
        chain: v.seen.lock().map(|s| s.clone()).unwrap_or_default(),
        connect_failed,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| fail(e.to_string(), false, &verifier))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let server_name = ServerName::try_from(
        name.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|e| {
        fail(
            format!("`{name}` is not a valid server name: {e}"),
            false,
            &verifier,
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let attempt = async {
        let tcp = super::connect::connect(addr)
            .await
            .map_err(|e| (format!("cannot connect: {e}"), true))?;
        let tls = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| (format!("handshake failed: {e}"), false))?;
        let (_, conn) = tls.get_ref();
        let protocol = conn.protocol_version().and_then(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => Some(Protocol::TlsV1_3),
            rustls::ProtocolVersion::TLSv1_2 => Some(Protocol::TlsV1_2),
            _ => None,
        });
        let cipher = conn.negotiated_cipher_suite().map(|s| u16::from(s.suite()));
        let chain = conn
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.as_ref().to_vec()).collect())
            .unwrap_or_default();
        Ok::<_, (String, bool)>(Handshake {
            protocol,
            cipher,
            chain,
            ocsp: Vec::new(),
        })
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(mut h)) => {
            if h.chain.is_empty() {
                h.chain = verifier.seen.lock().map(|s| s.clone()).unwrap_or_default();
            }
            h.ocsp = verifier.ocsp.lock().map(|s| s.clone()).unwrap_or_default();
            Ok(h)
        }
        Ok(Err((e, connect_failed))) => Err(fail(e, connect_failed, &verifier)),
        Err(_) => Err(fail(
            format!(
                "no complete handshake within {}",
                super::super::humantime(timeout)
            ),
            false,
            &verifier,
        )),
    }
}

/// The trust roots: the system's (or webpki-roots) plus an optional extra CA file.
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    pub description: String,
}

/// The system roots, loaded once per process.
fn system_roots() -> &'static (Vec<TrustAnchor<'static>>, String) {
    static ROOTS: OnceLock<(Vec<TrustAnchor<'static>>, String)> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let native = rustls_native_certs::load_native_certs();
        let anchors: Vec<TrustAnchor<'static>> = native
            .certs
            .iter()
            .filter_map(|c| {
                webpki::anchor_from_trusted_cert(c)
                    .ok()
                    .map(|a| a.to_owned())
            })
            .collect();
        if anchors.is_empty() {
            (
                webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                format!(
                    "webpki-roots ({} roots; the system has none)",
                    webpki_roots::TLS_SERVER_ROOTS.len()
                ),
            )
        } else {
            let n = anchors.len();
            (anchors, format!("system roots ({n})"))
        }
    })
}

/// The trust store for an optional CA file, cached per file for the run.
pub fn trust_store(ca_file: Option<&Path>) -> Result<Arc<TrustStore>, String> {
    static CACHE: OnceLock<Mutex<HashMap<Option<PathBuf>, Arc<TrustStore>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = ca_file.map(Path::to_path_buf);
    if let Some(t) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(t);
    }
    let (system, system_desc) = system_roots();
    let mut anchors = system.clone();
    let mut description = system_desc.clone();
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read [tls] ca_file {}: {e}", path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("[tls] ca_file {} is not PEM: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "[tls] ca_file {} holds no certificate",
                path.display()
            ));
        }
        for c in &certs {
            let anchor = webpki::anchor_from_trusted_cert(c).map_err(|e| {
                format!(
                    "[tls] ca_file {} has an unusable certificate: {e:?}",
                    path.display()
                )
            })?;
            anchors.push(anchor.to_owned());
        }
        description.push_str(&format!(" + {} from {}", certs.len(), path.display()));
    }
    let store = Arc::new(TrustStore {
        anchors,
        description,
    });
    if let Ok(mut c) = cache.lock() {
        c.insert(key, store.clone());
    }
    Ok(store)
}

/// Whether a path from the served chain to a trusted root exists with every signature verified,
/// time and hostname aside. `Ok` holds the indices (into `chain`) of the served certificates on
/// the path a client builds, leaf first: an extra certificate the path does not use (an old
/// cross-sign) is not among them. `Err` says why not, in words.
pub fn chain_trusted(
    chain: &[Vec<u8>],
    facts: &[CertFacts],
    store: &TrustStore,
) -> Result<Vec<usize>, String> {
    let Some(leaf) = chain.first() else {
        return Err("the server sent no certificate".into());
    };
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let intermediates: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let ee = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| format!("the server's certificate cannot be read by webpki: {e:?}"))?;
    let algs = provider().signature_verification_algorithms.all;
    let verify_at = |secs: i64| {
        ee.verify_for_usage(
            algs,
            &store.anchors,
            &intermediates,
            UnixTime::since_unix_epoch(Duration::from_secs(secs.max(0) as u64)),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|path| {
            let mut used = vec![0];
            for c in path.intermediate_certificates() {
                if let Some(i) = chain.iter().position(|d| d.as_slice() == c.der().as_ref()) {
                    used.push(i);
                }
            }
            used
        })
    };
    // Time is not this fact's concern: verify now, and if only time is wrong, at a moment
    // inside the served certificates' validity (the latest not_before, else the leaf's).
    let now = jiff::Timestamp::now().as_second();
    let mut result = verify_at(now);
    if matches!(
        result,
        Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. })
    ) {
        let latest_start = facts.iter().map(|f| f.not_before).max().unwrap_or(now);
        result = verify_at(latest_start + 1);
        if let (
            Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }),
            Some(leaf),
        ) = (&result, facts.first())
        {
            result = verify_at(leaf.not_before + 1);
        }
    }
    result.map_err(|e| describe(&e, facts))
}

/// A webpki error in words.
fn describe(e: &webpki::Error, facts: &[CertFacts]) -> String {
    let issuer = facts.first().map(|f| f.issuer.as_str()).unwrap_or("?");
    let debug = format!("{e:?}");
    match e {
        webpki::Error::UnknownIssuer => {
            if facts.first().is_some_and(|f| f.self_signed) {
                "self-signed certificate that is not a trusted root".into()
            } else {
                format!(
                    "no path to a trusted root: issuer \"{issuer}\" is not trusted and no served certificate leads to a trusted root"
                )
            }
        }
        webpki::Error::InvalidSignatureForPublicKey => {
            "a signature in the chain does not verify".into()
        }
        webpki::Error::CaUsedAsEndEntity => "the server's certificate is a CA certificate".into(),
        webpki::Error::EndEntityUsedAsCa => "an end-entity certificate is used as an issuer".into(),
        webpki::Error::CertRevoked => "a certificate in the chain is revoked".into(),
        webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
            "the chain's validity periods do not overlap".into()
        }
        _ if debug.starts_with("UnsupportedSignatureAlgorithm") => format!(
            "the chain is signed with an algorithm strict clients refuse ({})",
            facts
                .iter()
                .map(|f| f.signature_algorithm.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ if debug.starts_with("RequiredEkuNotFound") => {
            "the certificate is not for TLS servers (extended key usage)".into()
        }
        _ => format!("chain rejected: {debug}"),
    }
}
