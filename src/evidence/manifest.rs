//! The `MANIFEST` of an evidence bundle: every file's SHA-256 and size, in a plain text format a
//! person can check with `sha256sum` and `stat`, and the exact bytes the optional signature
//! covers.
//!
//! ```text
//! vouch-manifest/v1
//! signer  SHA256:<fingerprint hex>  ed25519:<public key hex>     (signed bundles only)
//! <sha256 hex>  <size in bytes>  <path relative to the bundle, '/'-separated>
//! …
//! ```
//!
//! One header line; in a signed bundle a `signer` line naming the key that signed it (its
//! fingerprint, see [`super::sign::fingerprint`], and the raw 32-byte Ed25519 public key, so a
//! verifier holding only a pinned fingerprint can check the signature); then one line per file sorted by path (byte order), fields separated by two
//! spaces, every line ending in `\n`, no trailing blank line. `MANIFEST` and `MANIFEST.sig` are
//! not listed. Paths are relative, never contain `..`, `\` or a leading `/`.

use std::fmt;

use sha2::{Digest, Sha256};

/// The first line of every manifest.
pub const HEADER: &str = "vouch-manifest/v1";

/// One file of the bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub size: u64,
}

impl Entry {
    /// The entry for `path` holding `bytes`.
    pub fn of(path: &str, bytes: &[u8]) -> Entry {
        Entry {
            path: path.to_string(),
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
        }
    }
}

/// Every file of a bundle, sorted by path, and the key that signed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The signer's public key, in signed bundles. It says who claims to have signed; only a
    /// signature check against a key or fingerprint the verifier trusts proves it.
    pub signer: Option<ed25519_dalek::VerifyingKey>,
    pub entries: Vec<Entry>,
}

impl Manifest {
    /// A manifest of `entries`, sorted by path.
    pub fn new(mut entries: Vec<Entry>) -> Manifest {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.dedup_by(|a, b| a.path == b.path);
        Manifest {
            signer: None,
            entries,
        }
    }

    /// The same manifest, naming `key` as its signer.
    pub fn signed_by(mut self, key: ed25519_dalek::VerifyingKey) -> Manifest {
        self.signer = Some(key);
        self
    }

    /// The manifest's text: the bytes that are written and signed.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(64 + self.entries.len() * 120);
        out.push_str(HEADER);
        out.push('\n');
        if let Some(key) = &self.signer {
            out.push_str(&format!(
                "{SIGNER}  {}  ed25519:{}\n",
                super::sign::fingerprint(key),
                hex::encode(key.as_bytes())
            ));
        }
        for e in &self.entries {
            out.push_str(&format!("{}  {}  {}\n", e.sha256, e.size, e.path));
        }
        out
    }

    /// Parses a manifest, naming the line of every problem.
    pub fn parse(text: &str) -> Result<Manifest, Vec<String>> {
        let mut problems = Vec::new();
        let mut lines = text.split_inclusive('\n');
        match lines.next() {
            Some(l) if l == format!("{HEADER}\n") => {}
            Some(l) => problems.push(format!(
                "MANIFEST line 1: expected `{HEADER}`, found `{}`",
                l.trim_end()
            )),
            None => problems.push("MANIFEST is empty".into()),
        }
        let mut entries: Vec<Entry> = Vec::new();
        let mut signer = None;
        for (i, raw) in lines.enumerate() {
            let n = i + 2;
            let Some(line) = raw.strip_suffix('\n') else {
                problems.push(format!("MANIFEST line {n}: does not end in a newline"));
                continue;
            };
            if let Some(rest) = line.strip_prefix(SIGNER).and_then(|r| r.strip_prefix("  ")) {
                if n != 2 {
                    problems.push(format!(
                        "MANIFEST line {n}: the `{SIGNER}` line must come right after the header"
                    ));
                    continue;
                }
                match parse_signer(rest) {
                    Ok(key) => signer = Some(key),
                    Err(why) => problems.push(format!("MANIFEST line {n}: {why}")),
                }
                continue;
            }
            let mut parts = line.splitn(3, "  ");
            let (Some(sha), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                problems.push(format!(
                    "MANIFEST line {n}: expected `<sha256>  <size>  <path>`"
                ));
                continue;
            };
            if sha.len() != 64
                || !sha
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                problems.push(format!(
                    "MANIFEST line {n}: `{sha}` is not a lowercase hex SHA-256"
                ));
                continue;
            }
            let Ok(size) = size.parse::<u64>() else {
                problems.push(format!(
                    "MANIFEST line {n}: `{size}` is not a size in bytes"
                ));
                continue;
            };
            if let Err(why) = check_path(path) {
                problems.push(format!("MANIFEST line {n}: `{path}` {why}"));
                continue;
            }
            if let Some(last) = entries.last()
                && last.path.as_str() >= path
            {
                problems.push(format!(
                    "MANIFEST line {n}: `{path}` is out of order or listed twice"
                ));
                continue;
            }
            entries.push(Entry {
                path: path.to_string(),
                sha256: sha.to_string(),
                size,
            });
        }
        if problems.is_empty() {
            Ok(Manifest { signer, entries })
        } else {
            Err(problems)
        }
    }
}

/// The keyword of the line naming a signed bundle's key.
pub const SIGNER: &str = "signer";

/// `SHA256:<hex>  ed25519:<hex>`: the fingerprint must be the key's.
fn parse_signer(rest: &str) -> Result<ed25519_dalek::VerifyingKey, String> {
    let expected = format!("expected `{SIGNER}  SHA256:<64 hex>  ed25519:<64 hex>`");
    let (fp, key) = rest.split_once("  ").ok_or_else(|| expected.clone())?;
    let key_hex = key
        .strip_prefix("ed25519:")
        .ok_or_else(|| expected.clone())?;
    let bytes: [u8; 32] = hex::decode(key_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("`{key}` is not a 32-byte Ed25519 public key in hex"))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| format!("`{key}` is not a valid Ed25519 public key"))?;
    let actual = super::sign::fingerprint(&key);
    if fp != actual {
        return Err(format!(
            "the signer fingerprint `{fp}` is not the listed key's ({actual})"
        ));
    }
    Ok(key)
}

impl fmt::Display for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// Whether a manifest path is one a bundle may hold (relative, inside the bundle, not the
/// manifest itself).
pub fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.starts_with('/') || path.contains('\\') {
        return Err("is not a relative '/'-separated path");
    }
    if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err("leaves the bundle or has an empty component");
    }
    if path.chars().any(|c| c.is_control()) {
        return Err("contains a control character");
    }
    if path == super::MANIFEST || path == super::SIGNATURE {
        return Err("is the manifest itself");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_and_parses_back() {
        let m = Manifest::new(vec![
            Entry::of("report.json", b"{}"),
            Entry::of("observations/sha256-ab.json", b"x"),
        ]);
        let text = m.render();
        assert!(text.starts_with("vouch-manifest/v1\n"));
        assert_eq!(
            text.lines().nth(1).unwrap(),
            format!(
                "{}  1  observations/sha256-ab.json",
                hex::encode(Sha256::digest(b"x"))
            )
        );
        assert_eq!(Manifest::parse(&text).unwrap(), m);
    }

    #[test]
    fn rejects_escaping_paths_bad_digests_and_disorder() {
        let sha = "a".repeat(64);
        let text = format!(
            "vouch-manifest/v1\n{sha}  1  ../etc/passwd\nXYZ  1  a\n{sha}  x  b\n{sha}  1  d\n{sha}  1  c\n"
        );
        let problems = Manifest::parse(&text).unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].contains("line 2"));
        assert!(problems[3].contains("out of order"));
    }

    #[test]
    fn a_signed_manifest_names_its_key_and_a_mismatched_fingerprint_is_refused() {
        let key = crate::evidence::sign::generate().unwrap().verifying_key();
        let m = Manifest::new(vec![Entry::of("report.json", b"{}")]).signed_by(key);
        let text = m.render();
        let line = text.lines().nth(1).unwrap();
        assert!(line.starts_with("signer  SHA256:"), "{line}");
        assert!(line.ends_with(&hex::encode(key.as_bytes())));
        assert_eq!(Manifest::parse(&text).unwrap(), m);
        // Another key's fingerprint beside this key: refused, not believed.
        let other = crate::evidence::sign::generate().unwrap().verifying_key();
        let forged = text.replace(
            &crate::evidence::sign::fingerprint(&key),
            &crate::evidence::sign::fingerprint(&other),
        );
        let problems = Manifest::parse(&forged).unwrap_err();
        assert!(
            problems[0].contains("is not the listed key's"),
            "{problems:?}"
        );
        // A signer line anywhere but line 2 is refused.
        let mut lines: Vec<&str> = text.lines().collect();
        lines.swap(1, 2);
        let moved = format!("{}\n", lines.join("\n"));
        assert!(Manifest::parse(&moved).is_err());
    }

    #[test]
    fn a_missing_header_or_final_newline_is_named() {
        let problems = Manifest::parse("nope\nabc").unwrap_err();
        assert!(problems[0].contains("line 1"));
        assert!(problems[1].contains("newline"));
    }
}
