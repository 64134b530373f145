//! Ed25519 keys and signatures for bundle manifests.
//!
//! Keys are PEM files in the standard encodings every tool reads (`openssl pkey -in … -text`):
//! the private key as PKCS#8 (`-----BEGIN PRIVATE KEY-----`, RFC 8410), the public key as
//! SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`). `MANIFEST.sig` holds the 64-byte
//! signature of the exact bytes of `MANIFEST`, as 128 lowercase hex digits and a newline.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Reads a PKCS#8 PEM Ed25519 private key.
pub fn load_signing_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the signing key {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| {
        anyhow!(
            "{} is not an Ed25519 private key in PKCS#8 PEM (`vouch keygen` makes one): {e}",
            path.display()
        )
    })
}

/// Reads a SubjectPublicKeyInfo PEM Ed25519 public key.
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the public key {}", path.display()))?;
    VerifyingKey::from_public_key_pem(&text).map_err(|e| {
        anyhow!(
            "{} is not an Ed25519 public key in PEM (`-----BEGIN PUBLIC KEY-----`): {e}",
            path.display()
        )
    })
}

/// A fresh key pair from the operating system's random source.
pub fn generate() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no randomness from the OS: {e}"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The PEM texts of a key pair: (private PKCS#8, public SPKI).
pub fn to_pem(key: &SigningKey) -> Result<(String, String)> {
    // PKCS#8 v1 (the seed only, RFC 8410 section 7): v2 with the public key appended is valid too,
    // but OpenSSL 3.0 cannot read it, and the public key is derived from the seed anyway.
    let seed_only = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let private = seed_only
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow!("encoding the private key: {e}"))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| anyhow!("encoding the public key: {e}"))?;
    Ok((private.to_string(), public))
}

/// Writes `PREFIX.key` (mode 0600, never overwriting) and `PREFIX.pub`; returns both paths.
pub fn keygen(prefix: &Path) -> Result<(PathBuf, PathBuf)> {
    let key = generate()?;
    let (private, public) = to_pem(&key)?;
    let key_path = with_suffix(prefix, "key");
    let pub_path = with_suffix(prefix, "pub");
    for p in [&key_path, &pub_path] {
        if p.exists() {
            bail!(
                "{} already exists; vouch never overwrites a key",
                p.display()
            );
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&key_path)
        .with_context(|| format!("creating {}", key_path.display()))?;
    f.write_all(private.as_bytes())?;
    f.sync_all()?;
    std::fs::write(&pub_path, public).with_context(|| format!("writing {}", pub_path.display()))?;
    Ok((key_path, pub_path))
}

fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_os_string();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// The text of `MANIFEST.sig` for `manifest`.
pub fn sign(key: &SigningKey, manifest: &[u8]) -> String {
    format!("{}\n", hex::encode(key.sign(manifest).to_bytes()))
}

/// Checks `MANIFEST.sig` text against `manifest` with `key`.
pub fn verify(key: &VerifyingKey, manifest: &[u8], sig_text: &str) -> Result<(), String> {
    let bytes = hex::decode(sig_text.trim_end_matches('\n'))
        .map_err(|_| "MANIFEST.sig is not hex".to_string())?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| "MANIFEST.sig is not a 64-byte Ed25519 signature".to_string())?;
    key.verify(manifest, &Signature::from_bytes(&bytes))
        .map_err(|_| "the signature does not match MANIFEST with this public key".to_string())
}

/// A public key's fingerprint: `SHA256:` and the lowercase hex SHA-256 of its
/// SubjectPublicKeyInfo DER encoding, the same digest as
/// `openssl pkey -pubin -in KEY.pub -outform DER | sha256sum`.
pub fn fingerprint(key: &VerifyingKey) -> String {
    use sha2::{Digest, Sha256};
    let der = key
        .to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .unwrap_or_else(|_| key.as_bytes().to_vec());
    format!("SHA256:{}", hex::encode(Sha256::digest(der)))
}

/// Reads a pinned fingerprint as `--signer` takes it: `SHA256:` and 64 hex digits (either case);
/// returns it in the form [`fingerprint`] prints.
pub fn parse_fingerprint(text: &str) -> Result<String, String> {
    let hex_part = text
        .strip_prefix("SHA256:")
        .or_else(|| text.strip_prefix("sha256:"))
        .ok_or_else(|| {
            format!(
                "`{text}` is not a signer fingerprint: expected `SHA256:` and 64 hex digits, as \
                 `vouch verify --public-key KEY.pub` and `vouch check --sign-key` print it"
            )
        })?;
    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "`{text}` is not a signer fingerprint: after `SHA256:` come 64 hex digits (found {})",
            hex_part.len()
        ));
    }
    Ok(format!("SHA256:{}", hex_part.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_and_signatures() {
        let key = generate().unwrap();
        let (private, public) = to_pem(&key).unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        let back = SigningKey::from_pkcs8_pem(&private).unwrap();
        let vk = VerifyingKey::from_public_key_pem(&public).unwrap();
        assert_eq!(back.verifying_key(), vk);
        let sig = sign(&back, b"manifest");
        assert!(verify(&vk, b"manifest", &sig).is_ok());
        assert!(verify(&vk, b"manifesT", &sig).is_err());
        let other = generate().unwrap().verifying_key();
        assert!(verify(&other, b"manifest", &sig).is_err());
        assert!(verify(&vk, b"manifest", "zz").is_err());
    }

    #[test]
    fn keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("audit");
        let (k, p) = keygen(&prefix).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&k).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let key = load_signing_key(&k).unwrap();
        assert_eq!(key.verifying_key(), load_verifying_key(&p).unwrap());
        assert!(keygen(&prefix).is_err());
    }

    #[test]
    fn fingerprints_are_the_sha256_of_the_spki_der_and_pins_parse_in_either_case() {
        // RFC 8032 test 1 public key; its SPKI DER is the fixed 12-byte Ed25519 prefix + the key.
        let raw = hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
            .unwrap();
        let key = VerifyingKey::from_bytes(&raw.clone().try_into().unwrap()).unwrap();
        let mut der = hex::decode("302a300506032b6570032100").unwrap();
        der.extend(&raw);
        use sha2::{Digest, Sha256};
        let expected = format!("SHA256:{}", hex::encode(Sha256::digest(&der)));
        assert_eq!(fingerprint(&key), expected);
        assert_eq!(
            parse_fingerprint(&expected.to_uppercase()),
            Ok(expected.clone())
        );
        assert!(
            parse_fingerprint(&expected[..20]).is_err(),
            "a truncated pin is not a pin"
        );
        assert!(parse_fingerprint(expected.trim_start_matches("SHA256:")).is_err());
    }
}
