//! Proof of when: an RFC 3161 time-stamp of a bundle's `MANIFEST`, kept as `MANIFEST.tsr`.
//!
//! A signature proves who wrote a bundle, not when. `vouch check --timestamp-url URL` sends the
//! SHA-256 of `MANIFEST` to a time-stamping authority (TSA) as a `TimeStampReq` (RFC 3161 §2.4.1,
//! with a random nonce and `certReq`), checks the answer (granted, the same imprint and nonce)
//! and stores the authority's `TimeStampResp` DER in the bundle as `MANIFEST.tsr` — the same file
//! `openssl ts -reply` writes and `openssl ts -verify -in MANIFEST.tsr -data MANIFEST` reads.
//!
//! `vouch verify DIR --tsa-cert FILE` checks the token against the authority's certificate:
//! status granted; a CMS SignedData (RFC 5652) whose content is a `TSTInfo`; its message imprint
//! equal to the digest of the bundle's `MANIFEST`; exactly one signer, identified as the given
//! certificate (issuer and serial, or subject key id), whose signed attributes carry the content
//! type `id-ct-TSTInfo` and the digest of the `TSTInfo`, and whose signature over them verifies
//! with the certificate's key (RSA PKCS #1 v1.5 or ECDSA P-256/P-384, SHA-256/384/512); the
//! certificate marked for time-stamping only (a critical extended key usage `id-kp-timeStamping`,
//! RFC 3161 §2.3) and valid at the attested time. Then it prints the attested time (`genTime`).
//! Trust is the certificate given: the auditor pins the authority, no chain is built.
//!
//! The DER types are RustCrypto's (`x509-tsp`, `cms`, `x509-cert`, `der`); signatures are
//! checked with aws-lc-rs, which rustls already uses.

use std::path::Path;
use std::time::Duration;

use der::asn1::{Int, OctetString};
use der::oid::ObjectIdentifier;
use der::{Any, Decode, DecodePem, Encode};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

/// The token's file name in a bundle.
pub const TOKEN: &str = "MANIFEST.tsr";
/// How long `check --timestamp-url` waits for the authority.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest token read or accepted (real ones are 2–8 KB with the certificate).
pub const MAX_TOKEN_BYTES: u64 = 256 << 10;

const ID_SHA_256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA_384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA_512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_CE_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// What a verified token attests.
#[derive(Clone, Debug, PartialEq)]
pub struct Attested {
    /// `genTime`: when the authority saw the MANIFEST digest.
    pub time: jiff::Timestamp,
    /// The token's serial number (hex).
    pub serial: String,
    /// The authority's policy OID.
    pub policy: String,
    /// The authority's certificate subject, as verified.
    pub tsa: String,
}

#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn of(oid: &ObjectIdentifier) -> Option<Hash> {
        match *oid {
            ID_SHA_256 => Some(Hash::Sha256),
            ID_SHA_384 => Some(Hash::Sha384),
            ID_SHA_512 => Some(Hash::Sha512),
            _ => None,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha384 => Sha384::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

fn sha256_imprint(manifest: &[u8]) -> Result<MessageImprint, String> {
    Ok(MessageImprint {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifier {
            oid: ID_SHA_256,
            parameters: Some(Any::null()),
        },
        hashed_message: OctetString::new(Sha256::digest(manifest).to_vec())
            .map_err(|e| e.to_string())?,
    })
}

/// A `TimeStampReq` (DER) for the SHA-256 of `manifest`, with `nonce` and `certReq` set.
pub fn request(manifest: &[u8], nonce: u64) -> Result<Vec<u8>, String> {
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: sha256_imprint(manifest)?,
        req_policy: None,
        nonce: Some(Int::new(&positive(nonce)).map_err(|e| e.to_string())?),
        cert_req: true,
        extensions: None,
    };
    req.to_der()
        .map_err(|e| format!("encoding the request: {e}"))
}

/// `n` as the bytes of a positive DER INTEGER.
fn positive(n: u64) -> Vec<u8> {
    let mut b = n.to_be_bytes().to_vec();
    while b.len() > 1 && b[0] == 0 && b[1] & 0x80 == 0 {
        b.remove(0);
    }
    if b[0] & 0x80 != 0 {
        b.insert(0, 0);
    }
    b
}

/// Asks the authority at `url` to time-stamp `manifest` (HTTP POST, RFC 3161 §3.4) and returns
/// its `TimeStampResp` DER once it is granted, for the same imprint and nonce. Runs on a thread
/// of its own, so it may be called from inside or outside an async runtime.
pub fn fetch(url: &str, manifest: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let mut nonce_bytes = [0u8; 8];
    getrandom::fill(&mut nonce_bytes).map_err(|e| format!("no randomness for the nonce: {e}"))?;
    let nonce = u64::from_be_bytes(nonce_bytes) >> 1;
    let body = request(manifest, nonce)?;
    let url = url.to_string();
    let answer = std::thread::spawn(move || -> Result<Vec<u8>, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let client = reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .map_err(|e| e.to_string())?;
            let resp = client
                .post(&url)
                .header("Content-Type", "application/timestamp-query")
                .header("Accept", "application/timestamp-reply")
                .body(body)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!("{url} answered HTTP {status}"));
            }
            let bytes = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
            if bytes.len() as u64 > MAX_TOKEN_BYTES {
                return Err(format!("{url} answered {} bytes: too large", bytes.len()));
            }
            Ok(bytes.to_vec())
        })
    })
    .join()
    .map_err(|_| "the time-stamp request thread panicked".to_string())??;
    let (tst, _) = parse(&answer)?;
    let expected = sha256_imprint(manifest)?;
    if tst.message_imprint != expected {
        return Err("the authority stamped another digest than MANIFEST's".into());
    }
    let want = Int::new(&positive(nonce)).map_err(|e| e.to_string())?;
    if tst.nonce.as_ref() != Some(&want) {
        return Err("the authority's answer does not carry the request's nonce (a replay?)".into());
    }
    Ok(answer)
}

/// The `TSTInfo` and the SignedData of a granted `TimeStampResp`.
fn parse(resp: &[u8]) -> Result<(TstInfo, cms::signed_data::SignedData), String> {
    let resp =
        TimeStampResp::from_der(resp).map_err(|e| format!("not an RFC 3161 TimeStampResp: {e}"))?;
    use cmpv2::status::PkiStatus;
    if !matches!(
        resp.status.status,
        PkiStatus::Accepted | PkiStatus::GrantedWithMods
    ) {
        return Err(format!(
            "the authority refused: status {:?}",
            resp.status.status
        ));
    }
    let token = resp
        .time_stamp_token
        .ok_or("a granted answer without a token")?;
    if token.content_type != ID_SIGNED_DATA {
        return Err(format!(
            "the token is {}, not CMS SignedData",
            token.content_type
        ));
    }
    let sd: cms::signed_data::SignedData = token
        .content
        .decode_as()
        .map_err(|e| format!("the token's SignedData: {e}"))?;
    let eci = &sd.encap_content_info;
    if eci.econtent_type != ID_CT_TST_INFO {
        return Err(format!(
            "the token's content is {}, not a TSTInfo",
            eci.econtent_type
        ));
    }
    let content = eci.econtent.as_ref().ok_or("the token has no TSTInfo")?;
    let octets: OctetString = content
        .decode_as()
        .map_err(|e| format!("the TSTInfo is not wrapped in an OCTET STRING: {e}"))?;
    let tst = TstInfo::from_der(octets.as_bytes()).map_err(|e| format!("the TSTInfo: {e}"))?;
    Ok((tst, sd))
}

/// Reads the authority's certificate: PEM or DER.
pub fn load_certificate(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let cert = if bytes.starts_with(b"-----BEGIN") {
        Certificate::from_pem(&bytes)
    } else {
        Certificate::from_der(&bytes)
    }
    .map_err(|e| format!("{} is not an X.509 certificate: {e}", path.display()))?;
    cert.to_der().map_err(|e| e.to_string())
}

/// Checks `token` (a `TimeStampResp` DER) for `manifest` against the authority certificate
/// `cert_der` (see the module documentation for every check) and returns what it attests.
pub fn verify(token: &[u8], manifest: &[u8], cert_der: &[u8]) -> Result<Attested, String> {
    let cert = Certificate::from_der(cert_der).map_err(|e| format!("the TSA certificate: {e}"))?;
    let (tst, sd) = parse(token)?;

    // The imprint is the MANIFEST's digest.
    let hash = Hash::of(&tst.message_imprint.hash_algorithm.oid).ok_or_else(|| {
        format!(
            "the imprint uses {}, not SHA-256/384/512",
            tst.message_imprint.hash_algorithm.oid
        )
    })?;
    if tst.message_imprint.hashed_message.as_bytes() != hash.digest(manifest).as_slice() {
        return Err(
            "the token stamps another digest: MANIFEST was changed after it was time-stamped"
                .into(),
        );
    }

    // One signer, the certificate given.
    let signers: Vec<_> = sd.signer_infos.0.iter().collect();
    let [si] = signers.as_slice() else {
        return Err(format!(
            "the token has {} signers, expected one",
            signers.len()
        ));
    };
    let tbs = &cert.tbs_certificate;
    let names_cert = match &si.sid {
        cms::signed_data::SignerIdentifier::IssuerAndSerialNumber(ias) => {
            ias.issuer == tbs.issuer && ias.serial_number == tbs.serial_number
        }
        cms::signed_data::SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == ID_CE_SUBJECT_KEY_ID)
            .and_then(|e| OctetString::from_der(e.extn_value.as_bytes()).ok())
            .is_some_and(|k| k.as_bytes() == ski.0.as_bytes()),
    };
    if !names_cert {
        return Err(format!(
            "the token was signed by another authority than {}",
            tbs.subject
        ));
    }

    // Signed attributes: content type TSTInfo, message digest of the TSTInfo.
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or("the signer has no signed attributes (RFC 3161 requires them)")?;
    let attr = |oid: ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next().cloned())
    };
    let ctype: ObjectIdentifier = attr(ID_CONTENT_TYPE)
        .ok_or("no content-type attribute")?
        .decode_as()
        .map_err(|e| format!("content-type attribute: {e}"))?;
    if ctype != ID_CT_TST_INFO {
        return Err(format!(
            "the signed content type is {ctype}, not id-ct-TSTInfo"
        ));
    }
    let digest: OctetString = attr(ID_MESSAGE_DIGEST)
        .ok_or("no message-digest attribute")?
        .decode_as()
        .map_err(|e| format!("message-digest attribute: {e}"))?;
    let digest_hash = Hash::of(&si.digest_alg.oid)
        .ok_or_else(|| format!("the signer digests with {}", si.digest_alg.oid))?;
    let econtent: OctetString = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("the token has no TSTInfo")?
        .decode_as()
        .map_err(|e| e.to_string())?;
    if digest.as_bytes() != digest_hash.digest(econtent.as_bytes()).as_slice() {
        return Err("the signed digest does not match the TSTInfo: the token was altered".into());
    }

    // The signature over the DER SET OF signed attributes, with the certificate's key.
    let signed = attrs.to_der().map_err(|e| e.to_string())?;
    let spki = &tbs.subject_public_key_info;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or("the certificate's key is not whole bytes")?;
    use aws_lc_rs::signature as sig;
    let sig_oid = si.signature_algorithm.oid;
    let alg: &'static dyn sig::VerificationAlgorithm = if spki.algorithm.oid == RSA_ENCRYPTION {
        let h = match sig_oid {
            SHA256_WITH_RSA => Hash::Sha256,
            SHA384_WITH_RSA => Hash::Sha384,
            SHA512_WITH_RSA => Hash::Sha512,
            // CMS names plain rsaEncryption and takes the hash from digestAlgorithm.
            RSA_ENCRYPTION => digest_hash,
            other => return Err(format!("unsupported RSA signature algorithm {other}")),
        };
        match h {
            Hash::Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Hash::Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Hash::Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        }
    } else if spki.algorithm.oid == ID_EC_PUBLIC_KEY {
        let curve: ObjectIdentifier = spki
            .algorithm
            .parameters
            .as_ref()
            .ok_or("an EC key without a curve")?
            .decode_as()
            .map_err(|e| format!("the EC key's curve: {e}"))?;
        match (curve, sig_oid) {
            (SECP256R1, ECDSA_WITH_SHA256) => &sig::ECDSA_P256_SHA256_ASN1,
            (SECP256R1, ECDSA_WITH_SHA384) => &sig::ECDSA_P256_SHA384_ASN1,
            (SECP384R1, ECDSA_WITH_SHA256) => &sig::ECDSA_P384_SHA256_ASN1,
            (SECP384R1, ECDSA_WITH_SHA384) => &sig::ECDSA_P384_SHA384_ASN1,
            (SECP384R1, ECDSA_WITH_SHA512) | (SECP256R1, ECDSA_WITH_SHA512) => {
                return Err("ECDSA with SHA-512 is not supported".into());
            }
            (c, s) => return Err(format!("unsupported EC curve {c} or signature {s}")),
        }
    } else {
        return Err(format!("unsupported TSA key type {}", spki.algorithm.oid));
    };
    sig::UnparsedPublicKey::new(alg, key)
        .verify(&signed, si.signature.as_bytes())
        .map_err(|_| {
            format!(
                "the token's signature does not verify with {}'s key",
                tbs.subject
            )
        })?;

    // The certificate is a time-stamping certificate, valid at the attested time.
    let eku = tbs
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_CE_EXT_KEY_USAGE)
        .ok_or(
            "the certificate is not a time-stamping certificate: it has no extended key usage \
             (RFC 3161 §2.3 requires a critical timeStamping)",
        )?;
    let usages = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
        .map_err(|e| format!("the TSA certificate's extended key usage: {e}"))?;
    if !eku.critical || !usages.0.contains(&ID_KP_TIME_STAMPING) {
        return Err(
            "the certificate is not a time-stamping certificate (RFC 3161 §2.3: a critical \
             extended key usage timeStamping)"
                .into(),
        );
    }
    let gen_time = tst.gen_time.to_unix_duration();
    let time = jiff::Timestamp::new(gen_time.as_secs() as i64, gen_time.subsec_nanos() as i32)
        .map_err(|e| e.to_string())?;
    let validity = &tbs.validity;
    let (from, until) = (
        validity.not_before.to_unix_duration(),
        validity.not_after.to_unix_duration(),
    );
    if gen_time < from || gen_time > until {
        return Err(format!(
            "the TSA certificate was not valid at the attested time {time}"
        ));
    }
    Ok(Attested {
        time,
        serial: hex::encode(tst.serial_number.as_bytes()),
        policy: tst.policy.to_string(),
        tsa: tbs.subject.to_string(),
    })
}

/// Time-stamps the bundle at `dir`: fetches a token for its `MANIFEST` from `url` and writes it
/// as `MANIFEST.tsr`. Returns the attested time read from the token (not yet verified against a
/// certificate: that is `vouch verify --tsa-cert`'s job).
pub fn stamp_bundle(dir: &Path, url: &str, timeout: Duration) -> Result<jiff::Timestamp, String> {
    let manifest = std::fs::read(dir.join(super::MANIFEST))
        .map_err(|e| format!("{}: {e}", dir.join(super::MANIFEST).display()))?;
    let token = fetch(url, &manifest, timeout)?;
    let (tst, _) = parse(&token)?;
    // Written beside, synced, then renamed: the token is whole or absent.
    let path = dir.join(TOKEN);
    let tmp = dir.join(format!(".{TOKEN}.partial"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, &token)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })?;
    let gen_time = tst.gen_time.to_unix_duration();
    jiff::Timestamp::new(gen_time.as_secs() as i64, gen_time.subsec_nanos() as i32)
        .map_err(|e| e.to_string())
}

/// Verifies the bundle's `MANIFEST.tsr` (when `required`, its absence is a problem) against the
/// certificate at `cert`.
pub fn verify_bundle(dir: &Path, cert_der: &[u8]) -> Result<Attested, String> {
    let manifest = super::read_regular(&dir.join(super::MANIFEST), super::MAX_MANIFEST_BYTES)?;
    let token = match std::fs::symlink_metadata(dir.join(TOKEN)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "no {TOKEN}: the bundle was not time-stamped (check --timestamp-url)"
            ));
        }
        _ => super::read_regular(&dir.join(TOKEN), MAX_TOKEN_BYTES)?,
    };
    verify(&token, &manifest, cert_der)
}
