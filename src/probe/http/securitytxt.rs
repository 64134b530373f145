//! RFC 9116 `security.txt` at `/.well-known/security.txt`: the machine-checkable half of "we run
//! a responsible-disclosure programme". This module reads a fetched file; it checks the RFC's
//! MUSTs (a `Contact`, exactly one `Expires` in RFC 3339 `date-time` syntax, `text/plain` with
//! `charset=utf-8`, `https://` for every web URI, fields that parse) and reports whether the file
//! has expired. A leading byte-order mark is skipped. A PGP cleartext signature is unwrapped, not
//! verified.

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

/// Whether a `Content-Type` value names exactly the `text/plain` media type (RFC 9116 §3).
pub fn is_text_plain(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default();
    mime.trim_matches([' ', '\t'])
        .eq_ignore_ascii_case("text/plain")
}

/// Strict RFC 3339 §5.6 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`, `T` and `Z`
/// in either case. Looser ISO 8601 forms (no seconds, a space, basic format, `+0200`, a comma
/// fraction) that a general parser takes are refused, as RFC 9116 §2.5.5 requires this syntax.
fn rfc3339(value: &str) -> Option<Timestamp> {
    let b = value.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let at = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if b.len() < 20
        || !digits(0..4)
        || !at(4, b"-")
        || !digits(5..7)
        || !at(7, b"-")
        || !digits(8..10)
        || !at(10, b"Tt")
        || !digits(11..13)
        || !at(13, b":")
        || !digits(14..16)
        || !at(16, b":")
        || !digits(17..19)
    {
        return None;
    }
    let mut i = 19;
    if at(i, b".") {
        i += 1;
        let start = i;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset_ok = match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len() && digits(i + 1..i + 3) && at(i + 3, b":") && digits(i + 4..i + 6)
        }
        _ => false,
    };
    if !offset_ok {
        return None;
    }
    // The shape is right; the calendar (month 13, February 30, hour 24) is jiff's to check.
    value.to_ascii_uppercase().parse::<Timestamp>().ok()
}

/// Fields whose value, when a web URI, must be `https://` (RFC 9116 §2.5).
const WEB_URI_FIELDS: &[&str] = &[
    "acknowledgments",
    "canonical",
    "contact",
    "csaf",
    "encryption",
    "hiring",
    "policy",
];

/// Parses a file's text. `content_type` is the response's `Content-Type`.
pub fn parse(text: &str, content_type: Option<&str>) -> SecurityTxt {
    let mut out = SecurityTxt::default();
    match content_type {
        None => out
            .errors
            .push("served without a Content-Type (must be text/plain; charset=utf-8)".into()),
        Some(ct) => {
            let mut parts = ct.split(';').map(str::trim);
            let mime = parts.next().unwrap_or_default();
            if !is_text_plain(ct) {
                out.errors
                    .push(format!("served as `{mime}`, not text/plain"));
            }
            let mut charset = None;
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("charset") {
                        charset = Some(v.trim().trim_matches('"').to_string());
                    }
                }
            }
            match charset {
                Some(v) if v.eq_ignore_ascii_case("utf-8") => {}
                Some(v) => out.errors.push(format!("charset is `{v}`, not utf-8")),
                None => out.errors.push(
                    "the Content-Type has no charset parameter (RFC 9116 §3: text/plain; charset=utf-8)"
                        .into(),
                ),
            }
        }
    }
    // A byte-order mark is no part of the first field's name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
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
        let lower = name.to_ascii_lowercase();
        if WEB_URI_FIELDS.contains(&lower.as_str())
            && lower != "contact"
            && value
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case("http:"))
        {
            out.errors.push(format!(
                "{name} `{value}` is an http:// URI (web URIs must use https)"
            ));
        }
        match lower.as_str() {
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
                match rfc3339(value) {
                    Some(t) if expires_seen == 1 => out.expires = Some(t),
                    Some(_) => {}
                    None => out
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
    fn a_byte_order_mark_does_not_hide_the_first_field() {
        let t = parse(
            "\u{feff}Contact: mailto:a@b.c\nExpires: 2030-01-01T00:00:00Z\n",
            PLAIN,
        );
        assert_eq!(t.contact, ["mailto:a@b.c"]);
        assert!(t.errors.is_empty(), "{:?}", t.errors);
    }

    /// RFC 3339 §5.6 `date-time` only: what a lenient ISO 8601 parser also takes is refused.
    #[test]
    fn expires_is_strict_rfc3339() {
        for ok in [
            "2030-01-01T00:00:00Z",
            "2030-01-01t00:00:00z",
            "2030-01-01T00:00:00.123Z",
            "2030-01-01T00:00:00+02:00",
            "2030-01-01T00:00:00-00:00",
        ] {
            assert!(rfc3339(ok).is_some(), "{ok} should parse");
        }
        for bad in [
            "2030-01-01",
            "2030-01-01T00:00Z",
            "2030-01-01 00:00:00Z",
            "20300101T000000Z",
            "2030-01-01T00:00:00+0200",
            "2030-01-01T00:00:00,5Z",
            "2030-01-01T00:00:00",
            "2030-01-01T00:00:00.Z",
            "2030-13-01T00:00:00Z",
            "2030-02-30T00:00:00Z",
            "+002030-01-01T00:00:00Z",
            "2030-01-01T00:00:00Z[Europe/Paris]",
        ] {
            assert!(rfc3339(bad).is_none(), "{bad} should be refused");
            let t = parse(&format!("Contact: mailto:a@b.c\nExpires: {bad}\n"), PLAIN);
            assert!(t.expires.is_none(), "{bad}");
            assert!(
                t.errors.iter().any(|e| e.contains("not an RFC 3339")),
                "{bad}: {:?}",
                t.errors
            );
        }
    }

    #[test]
    fn media_type_must_be_exactly_text_plain_with_utf8() {
        let body = "Contact: mailto:a@b.c\nExpires: 2030-01-01T00:00:00Z\n";
        for (ct, err) in [
            ("text/plain", "no charset"),
            ("text/plainx; charset=utf-8", "not text/plain"),
            ("text/plain-ish; charset=utf-8", "not text/plain"),
            ("TEXT/PLAIN; CHARSET=\"UTF-8\"", ""),
        ] {
            let t = parse(body, Some(ct));
            if err.is_empty() {
                assert!(t.errors.is_empty(), "{ct}: {:?}", t.errors);
            } else {
                assert!(
                    t.errors.iter().any(|e| e.contains(err)),
                    "{ct}: {:?}",
                    t.errors
                );
            }
        }
        assert!(!is_text_plain("text/plainx"));
        assert!(is_text_plain("text/plain ; charset=utf-8"));
    }

    #[test]
    fn web_uris_in_every_field_must_be_https() {
        for field in [
            "Policy",
            "Encryption",
            "Acknowledgments",
            "Canonical",
            "Hiring",
            "CSAF",
        ] {
            let t = parse(
                &format!(
                    "Contact: mailto:a@b.c\nExpires: 2030-01-01T00:00:00Z\n{field}: http://example.com/x\n"
                ),
                PLAIN,
            );
            assert!(
                t.errors.iter().any(|e| e.contains("http:// URI")),
                "{field}: {:?}",
                t.errors
            );
        }
        let ok = parse(
            "Contact: mailto:a@b.c\nExpires: 2030-01-01T00:00:00Z\nEncryption: dns:key._openpgpkey.example.com?type=OPENPGPKEY\nPolicy: https://example.com/p\n",
            PLAIN,
        );
        assert!(ok.errors.is_empty(), "{:?}", ok.errors);
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
