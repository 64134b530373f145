//! RFC 9116 `security.txt` at `/.well-known/security.txt`: the machine-checkable half of "we run
//! a responsible-disclosure programme". This module reads a fetched file; it checks the RFC's
//! MUSTs (a `Contact`, exactly one RFC 3339 `Expires`, `text/plain`, fields that parse) and
//! reports whether the file has expired. A PGP cleartext signature is unwrapped, not verified.

use jiff::Timestamp;

/// What one `security.txt` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityTxt {
    pub contact: Vec<String>,
    pub expires: Option<Timestamp>,
    /// Every way the file breaks RFC 9116 (empty when it conforms).
    pub errors: Vec<String>,
}

impl SecurityTxt {
    pub fn expired(&self, now: Timestamp) -> Option<bool> {
        self.expires.map(|e| e <= now)
    }
}

/// The body of a cleartext-signed message, dash-escaping undone; the text itself when unsigned.
fn unwrap_signed(text: &str) -> Result<String, String> {
    const BEGIN: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
    const SIG: &str = "-----BEGIN PGP SIGNATURE-----";
    if !text.trim_start().starts_with(BEGIN) {
        return Ok(text.to_string());
    }
    let mut lines = text.trim_start().lines().skip(1);
    // Armor headers ("Hash: SHA256") end at the first blank line.
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
    }
    let mut body = String::new();
    for line in lines {
        if line.trim_end() == SIG {
            return Ok(body);
        }
        body.push_str(line.strip_prefix("- ").unwrap_or(line));
        body.push('\n');
    }
    Err("the PGP signed message has no signature block".into())
}

/// Parses a file's text. `content_type` is the response's `Content-Type`.
pub fn parse(text: &str, content_type: Option<&str>) -> SecurityTxt {
    let mut out = SecurityTxt::default();
    match content_type {
        None => out
            .errors
            .push("served without a Content-Type (must be text/plain)".into()),
        Some(ct) => {
            let mut parts = ct.split(';').map(str::trim);
            let mime = parts.next().unwrap_or_default();
            if !mime.eq_ignore_ascii_case("text/plain") {
                out.errors
                    .push(format!("served as `{mime}`, not text/plain"));
            }
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    let v = v.trim().trim_matches('"');
                    if k.trim().eq_ignore_ascii_case("charset") && !v.eq_ignore_ascii_case("utf-8")
                    {
                        out.errors.push(format!("charset is `{v}`, not utf-8"));
                    }
                }
            }
        }
    }
    let text = match unwrap_signed(text) {
        Ok(t) => t,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let mut expires_seen = 0;
    let mut languages_seen = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            out.errors
                .push(format!("line {} is not a `Field: value` line", n + 1));
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || name.contains(char::is_whitespace) {
            out.errors
                .push(format!("line {} has no valid field name", n + 1));
            continue;
        }
        match name.to_ascii_lowercase().as_str() {
            "contact" => {
                match value.split_once(':') {
                    Some((scheme, _))
                        if !scheme.is_empty()
                            && scheme
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
                    {
                        if scheme.eq_ignore_ascii_case("http") {
                            out.errors.push(format!(
                                "Contact `{value}` is an http:// URI (web URIs must use https)"
                            ));
                        }
                    }
                    _ => out.errors.push(format!(
                        "Contact `{value}` is not a URI (mailto:, https:, tel:)"
                    )),
                }
                out.contact.push(value.to_string());
            }
            "expires" => {
                expires_seen += 1;
                if expires_seen == 2 {
                    out.errors.push("Expires appears more than once".into());
                }
                match value.parse::<Timestamp>() {
                    Ok(t) if expires_seen == 1 => out.expires = Some(t),
                    Ok(_) => {}
                    Err(_) => out
                        .errors
                        .push(format!("Expires `{value}` is not an RFC 3339 date-time")),
                }
            }
            "preferred-languages" => {
                languages_seen += 1;
                if languages_seen == 2 {
                    out.errors
                        .push("Preferred-Languages appears more than once".into());
                }
            }
            // Acknowledgments, Canonical, Encryption, Hiring, Policy, CSAF and extensions.
            _ => {}
        }
    }
    if out.contact.is_empty() {
        out.errors.push("no Contact field (required)".into());
    }
    if expires_seen == 0 {
        out.errors.push("no Expires field (required)".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Option<&str> = Some("text/plain; charset=utf-8");

    #[test]
    fn a_conforming_file() {
        let t = parse(
            "# Our policy\nContact: mailto:security@example.com\nContact: https://example.com/report\nExpires: 2030-01-01T00:00:00Z\nPolicy: https://example.com/policy\n",
            PLAIN,
        );
        assert_eq!(
            t.contact,
            ["mailto:security@example.com", "https://example.com/report"]
        );
        assert_eq!(t.expires, Some("2030-01-01T00:00:00Z".parse().unwrap()));
        assert!(t.errors.is_empty(), "{:?}", t.errors);
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(t.expired(now), Some(false));
        let later: Timestamp = "2031-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(t.expired(later), Some(true));
    }

    /// (body, content type, an expected error fragment)
    const BROKEN: &[(&str, Option<&str>, &str)] = &[
        ("Expires: 2030-01-01T00:00:00Z\n", PLAIN, "no Contact"),
        ("Contact: mailto:a@b.c\n", PLAIN, "no Expires"),
        (
            "Contact: mailto:a@b.c\nExpires: 2030-01-01\n",
            PLAIN,
            "not an RFC 3339",
        ),
        (
            "Contact: mailto:a@b.c\nExpires: tomorrow\n",
            PLAIN,
            "not an RFC 3339",
        ),
        (
            "Contact: mailto:a@b.c\nExpires: 2030-01-01T00:00:00Z\nExpires: 2031-01-01T00:00:00Z\n",
            PLAIN,
            "more than once",
        ),
        (
            "Contact: security@example.com\nExpires: 2030-01-01T00:00:00Z\n",
            PLAIN,
            "not a URI",
        ),
        (
            "Contact: http://example.com/x\nExpires: 2030-01-01T00:00:00Z\n",
            PLAIN,
            "https",
        ),
        (
            "Contact: mailto:a@b.c\nExpires: 2030-01-01T00:00:00Z\n",
            Some("text/html"),
            "not text/plain",
        ),
        (
            "Contact: mailto:a@b.c\nExpires: 2030-01-01T00:00:00Z\n",
            None,
            "without a Content-Type",
        ),
        (
            "Contact: mailto:a@b.c\nExpires: 2030-01-01T00:00:00Z\n",
            Some("text/plain; charset=iso-8859-1"),
            "not utf-8",
        ),
        (
            "Contact: mailto:a@b.c\nExpires: 2030-01-01T00:00:00Z\nnonsense\n",
            PLAIN,
            "line 3",
        ),
        (
            "Contact: mailto:a@b.c\nExpires: 2030-01-01T00:00:00Z\nPreferred-Languages: en\nPreferred-Languages: de\n",
            PLAIN,
            "Preferred-Languages appears more than once",
        ),
        (
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nContact: mailto:a@b.c\n",
            PLAIN,
            "no signature",
        ),
        (
            "<html><body>Not found</body></html>",
            Some("text/html"),
            "not text/plain",
        ),
    ];

    #[test]
    fn broken_files() {
        for (body, ct, err) in BROKEN {
            let t = parse(body, *ct);
            assert!(
                t.errors.iter().any(|e| e.contains(err)),
                "{body:?}: expected {err:?} in {:?}",
                t.errors
            );
        }
    }

    #[test]
    fn first_expires_counts_and_crlf_and_case_are_fine() {
        let t = parse(
            "contact: mailto:a@b.c\r\nEXPIRES: 2030-01-01T00:00:00+02:00\r\nExpires: 2031-01-01T00:00:00Z\r\n",
            PLAIN,
        );
        assert_eq!(t.expires, Some("2029-12-31T22:00:00Z".parse().unwrap()));
        assert_eq!(t.contact, ["mailto:a@b.c"]);
    }

    #[test]
    fn signed_files_are_unwrapped() {
        let body = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nContact: mailto:a@b.c\n- -dash escaped comment\nExpires: 2030-01-01T00:00:00Z\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n";
        let t = parse(body, PLAIN);
        assert_eq!(t.contact, ["mailto:a@b.c"]);
        assert!(t.expires.is_some());
        assert_eq!(t.errors, ["line 2 is not a `Field: value` line"]);
    }
}
