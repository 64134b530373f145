//! Facts about one certificate, read with x509-parser: names, validity, key, signature
//! algorithm, fingerprint, and RFC 6125 hostname matching.
//!
//! The key size is computed from the RSA modulus itself (leading zero bits stripped), so a
//! 2047-bit key reads 2047, not a rounded 2048. Whether the chain is *trusted* is `chain`'s job.

use std::net::IpAddr;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// What vouch reports about a certificate.
#[derive(Clone, Debug, PartialEq)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    /// DNS names, then IP addresses, from subjectAltName.
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// `RSA`, `EC`, `Ed25519`, `Ed448`, `DSA` or the key algorithm's OID.
    pub key_type: String,
    /// Modulus bits (RSA), field size (EC, EdDSA), `None` when unknown.
    pub key_bits: Option<u32>,
    /// The named curve of an EC key (`P-256`).
    pub key_curve: Option<String>,
    /// OpenSSL-style name (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`).
    pub signature_algorithm: String,
    /// Issuer and subject are the same name, and the key identifiers (when present) agree.
    pub self_signed: bool,
    /// Lowercase hex SHA-256 of the DER.
    pub sha256_fingerprint: String,
}

impl CertFacts {
    /// Every subjectAltName as text (`app.example.com`, `127.0.0.1`).
    pub fn sans(&self) -> Vec<String> {
        self.dns_names
            .iter()
            .cloned()
            .chain(self.ip_addresses.iter().map(|ip| ip.to_string()))
            .collect()
    }

    /// At least RSA 2048 / EC 256 (what browsers and the CA/Browser Forum require).
    pub fn key_is_strong(&self) -> bool {
        match (self.key_type.as_str(), self.key_bits) {
            ("RSA" | "DSA", Some(b)) => b >= 2048,
            ("EC", Some(b)) => b >= 256,
            ("Ed25519" | "Ed448", _) => true,
            _ => false,
        }
    }

    /// Days from `now` (Unix seconds) until `not_after`, rounded down (negative once expired).
    pub fn days_remaining(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }

    /// Whether `host` (a DNS name or an IP literal) is one the certificate names.
    pub fn matches_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.ip_addresses.contains(&ip);
        }
        self.dns_names
            .iter()
            .any(|pattern| dns_name_matches(pattern, host))
    }
}

/// Reads the facts of a DER certificate.
pub fn read(der: &[u8]) -> Result<CertFacts, String> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("the server's certificate cannot be parsed: {e}"))?;
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => dns_names.push(n.to_string()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => {
                        ip_addresses.push(IpAddr::from(<[u8; 4]>::try_from(*b).unwrap_or_default()))
                    }
                    16 => ip_addresses
                        .push(IpAddr::from(<[u8; 16]>::try_from(*b).unwrap_or_default())),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let spki = cert.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    let (key_type, key_bits, key_curve) = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".to_string(), Some(integer_bits(rsa.modulus)), None),
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            let (name, bits) = match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => ("P-256".to_string(), Some(256)),
                Some("1.3.132.0.34") => ("P-384".to_string(), Some(384)),
                Some("1.3.132.0.35") => ("P-521".to_string(), Some(521)),
                Some("1.3.132.0.10") => ("secp256k1".to_string(), Some(256)),
                Some(other) => (other.to_string(), None),
                None => ("unnamed".to_string(), None),
            };
            ("EC".to_string(), bits, Some(name))
        }
        Ok(PublicKey::DSA(y)) => ("DSA".to_string(), Some(integer_bits(y)), None),
        _ => match alg.as_str() {
            "1.3.101.112" => ("Ed25519".to_string(), Some(256), None),
            "1.3.101.113" => ("Ed448".to_string(), Some(456), None),
            _ => (alg.clone(), None, None),
        },
    };
    let subject_raw = cert.subject().as_raw();
    let issuer_raw = cert.issuer().as_raw();
    let mut ski = None;
    let mut aki = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0)
            }
            _ => {}
        }
    }
    let self_signed = subject_raw == issuer_raw
        && match (ski, aki) {
            (Some(s), Some(a)) => s == a,
            _ => true,
        };
    Ok(CertFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        dns_names,
        ip_addresses,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        key_type,
        key_bits,
        key_curve,
        signature_algorithm: signature_name(&cert.signature_algorithm.algorithm.to_id_string()),
        self_signed,
        sha256_fingerprint: hex::encode(Sha256::digest(der)),
    })
}

/// Bits of a big-endian unsigned integer, leading zeros not counted.
fn integer_bits(bytes: &[u8]) -> u32 {
    let trimmed: &[u8] = match bytes.iter().position(|&b| b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    (trimmed.len() as u32 - 1) * 8 + (8 - trimmed[0].leading_zeros())
}

/// OpenSSL's names for the signature algorithms a server certificate can carry.
fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsa-with-SHA1",
        "2.16.840.1.101.3.4.3.2" => "dsa-with-SHA256",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        other => return other.to_string(),
    }
    .to_string()
}

/// RFC 6125 §6.4 matching of one DNS-ID pattern against a host name, as RFC 9525 (which
/// replaces it) narrows it: the Common Name is never consulted, a wildcard is a whole left-most
/// label (`*.example.com`, not `f*.example.com`), matches exactly one label, and needs at least
/// two labels after it. Case-insensitive; a trailing dot is ignored.
pub fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            if suffix.contains('*') || suffix.split('.').count() < 2 {
                return false;
            }
            match host.split_once('.') {
                Some((first, rest)) => !first.is_empty() && rest == suffix,
                None => false,
            }
        }
        None => !pattern.contains('*') && pattern == host,
    }
}

/// A certificate as PEM text.
pub fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_follow_rfc_6125() {
        assert!(dns_name_matches("*.example.com", "app.example.com"));
        assert!(dns_name_matches("*.Example.COM", "APP.example.com."));
        assert!(!dns_name_matches("*.example.com", "example.com"));
        assert!(!dns_name_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_name_matches("*.com", "example.com"));
        assert!(!dns_name_matches("f*.example.com", "foo.example.com"));
        assert!(!dns_name_matches("*.*.example.com", "a.b.example.com"));
        assert!(dns_name_matches("app.example.com", "app.example.com"));
        assert!(!dns_name_matches("app.example.com", "api.example.com"));
    }

    #[test]
    fn key_bits_count_the_modulus_exactly() {
        assert_eq!(integer_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(integer_bits(&[0x7f, 0xff]), 15);
        assert_eq!(integer_bits(&[0x00, 0x01]), 1);
        assert_eq!(integer_bits(&[0, 0]), 0);
        assert_eq!(integer_bits(&[]), 0);
    }

    #[test]
    fn rcgen_certificate_facts() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["app.example.com".into(), "127.0.0.1".into()])
                .unwrap();
        let cert = params.self_signed(&key).unwrap();
        let f = read(cert.der()).unwrap();
        assert_eq!(f.key_type, "EC");
        assert_eq!(f.key_bits, Some(256));
        assert_eq!(f.key_curve.as_deref(), Some("P-256"));
        assert_eq!(f.signature_algorithm, "ecdsa-with-SHA256");
        assert!(f.self_signed);
        assert!(f.matches_host("app.example.com"));
        assert!(f.matches_host("127.0.0.1"));
        assert!(!f.matches_host("other.example.com"));
        assert_eq!(f.sha256_fingerprint.len(), 64);
        assert!(pem(cert.der()).starts_with("-----BEGIN CERTIFICATE-----\n"));
    }
}
