//! Reading a server's answer to a raw ClientHello.
//!
//! [`parse`] looks at the bytes received so far and says whether they settle the question: a
//! ServerHello (with, for TLS ≤ 1.2, the plaintext Certificate message that follows it), an
//! alert, or bytes that are not TLS at all. Records are reassembled (a handshake message may span
//! records and a record may hold several messages), each record is checked against the 16 KiB
//! limit of RFC 8446 §5.1, and the messages themselves are decoded with tls-parser. The caller
//! caps what it reads at [`MAX_REPLY_BYTES`]; nothing here allocates more than the input.
//!
//! Nothing in this module panics on any input: it is fuzzed (`fuzz/`) and property-tested.

use tls_parser::{TlsMessage, TlsMessageHandshake};

/// The most vouch reads of one reply: a ServerHello flight with a long chain fits easily.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// A plaintext record carries at most 2^14 bytes (RFC 8446 §5.1, RFC 5246 §6.2.1).
pub const MAX_RECORD: usize = 16 * 1024;

/// The HelloRetryRequest marker: a ServerHello whose random is SHA-256("HelloRetryRequest").
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// The settled answer to one hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The server chose a version and a suite.
    ServerHello {
        /// The version the server chose (from `supported_versions` when present).
        version: u16,
        suite: u16,
        /// A TLS 1.3 HelloRetryRequest: the server speaks 1.3 but wants another key share.
        retry_request: bool,
        /// DER certificates from a plaintext (TLS ≤ 1.2) Certificate message, leaf first.
        certificates: Vec<Vec<u8>>,
        /// The TLS 1.3 downgrade sentinel in the last 8 bytes of the server random (RFC 8446
        /// §4.1.3): `Some(1)` for "DOWNGRD\x01" (negotiated TLS 1.2), `Some(0)` for
        /// "DOWNGRD\x00" (TLS 1.1 or below), `None` when absent.
        downgrade_sentinel: Option<u8>,
        /// The key-exchange group the server picked, when the reply names it: the TLS 1.3
        /// `key_share` of a ServerHello or the `selected_group` of a HelloRetryRequest (RFC 8446
        /// §4.2.8), or, read with [`Want::KeyExchange`], the named curve of a TLS ≤ 1.2 ECDHE
        /// ServerKeyExchange (RFC 8422 §5.4).
        group: Option<u16>,
        /// The size in bits of the prime of a TLS ≤ 1.2 finite-field DHE ServerKeyExchange
        /// (RFC 5246 §7.4.3), read with [`Want::KeyExchange`]: such a server names no group.
        dh_bits: Option<u16>,
    },
    /// The server refused with an alert.
    Alert { level: u8, description: u8 },
    /// The bytes are not a TLS reply (an HTTP server, garbage, an oversized record).
    NotTls { reason: String },
}

/// How far into a TLS ≤ 1.2 server flight a reply is read (TLS 1.3 encrypts everything after
/// the ServerHello, so its answer always settles there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// The ServerHello only.
    Hello,
    /// On to the Certificate message (or a message that shows there is none), so a legacy-only
    /// server's chain can still be read.
    Certificate,
    /// On to the ServerKeyExchange (or the ServerHelloDone that shows there is none), for the
    /// named curve of an ECDHE suite.
    KeyExchange,
}

/// Parses the bytes received so far. `None`: not settled yet, read more. With `eof` (the peer
/// closed, the time or byte budget ran out) the answer is final: `None` then means nothing
/// readable arrived.
///
/// `want_certificate`: after a TLS ≤ 1.2 ServerHello, keep reading until the Certificate message
/// (or a message that shows there is none) so a legacy-only server's chain can still be read.
pub fn parse(buf: &[u8], want_certificate: bool, eof: bool) -> Option<Reply> {
    let want = if want_certificate {
        Want::Certificate
    } else {
        Want::Hello
    };
    parse_for(buf, want, eof)
}

/// [`parse`], reading a TLS ≤ 1.2 flight as far as `want` says.
pub fn parse_for(buf: &[u8], want: Want, eof: bool) -> Option<Reply> {
    if let Some(first) = buf.first() {
        if let Some(reason) = not_tls(buf, *first) {
            return Some(Reply::NotTls { reason });
        }
    }
    let mut pos = 0;
    let mut handshake: Vec<u8> = Vec::new();
    let mut hello: Option<Hello> = None;
    let mut certificates: Option<Vec<Vec<u8>>> = None;
    let mut flight_over = false;

    let settle = |hello: Option<Hello>, certs: Option<Vec<Vec<u8>>>| {
        hello.map(|h| Reply::ServerHello {
            version: h.version,
            suite: h.suite,
            retry_request: h.retry,
            certificates: certs.unwrap_or_default(),
            downgrade_sentinel: h.sentinel,
            group: h.group,
            dh_bits: h.dh_bits,
        })
    };

    while buf.len() - pos >= 5 {
        let ct = buf[pos];
        let major = buf[pos + 1];
        let len = u16::from_be_bytes([buf[pos + 3], buf[pos + 4]]) as usize;
        if !(20..=23).contains(&ct) || major != 3 {
            if hello.is_some() {
                break;
            }
            return Some(Reply::NotTls {
                reason: format!(
                    "record header {:02x} {:02x} {:02x} is not TLS",
                    ct,
                    major,
                    buf[pos + 2]
                ),
            });
        }
        if len > MAX_RECORD + 2048 || (ct != 23 && len > MAX_RECORD) {
            if hello.is_some() {
                break;
            }
            return Some(Reply::NotTls {
                reason: format!("record of {len} bytes exceeds the 16 KiB limit of TLS"),
            });
        }
        if buf.len() - pos - 5 < len {
            break; // the rest of this record has not arrived
        }
        let body = &buf[pos + 5..pos + 5 + len];
        pos += 5 + len;
        match ct {
            21 => {
                if hello.is_some() {
                    flight_over = true;
                    break;
                }
                // A warning before the ServerHello (typically unrecognized_name) is not a refusal:
                // the server carries on with its hello.
                if body.len() == 2 && body[0] == 1 && body[1] != 0 {
                    continue;
                }
                return Some(match tls_parser::parse_tls_message_alert(body) {
                    Ok((_, TlsMessage::Alert(a))) => Reply::Alert {
                        level: a.severity.0,
                        description: a.code.0,
                    },
                    _ => Reply::NotTls {
                        reason: format!("malformed alert record of {len} bytes"),
                    },
                });
            }
            22 => {
                handshake.extend_from_slice(body);
                // Decode every complete handshake message in the reassembled stream.
                let mut hs_pos = 0;
                while handshake.len() - hs_pos >= 4 {
                    let msg_len = u32::from_be_bytes([
                        0,
                        handshake[hs_pos + 1],
                        handshake[hs_pos + 2],
                        handshake[hs_pos + 3],
                    ]) as usize;
                    if msg_len > MAX_REPLY_BYTES {
                        return settle(hello, certificates).or_else(|| {
                            Some(Reply::NotTls {
                                reason: format!("handshake message of {msg_len} bytes"),
                            })
                        });
                    }
                    if handshake.len() - hs_pos - 4 < msg_len {
                        break;
                    }
                    let msg = &handshake[hs_pos..hs_pos + 4 + msg_len];
                    let ty = msg[0];
                    hs_pos += 4 + msg_len;
                    match (ty, hello.is_some()) {
                        (2, false) => match server_hello(msg) {
                            Ok(h) => {
                                let modern = h.version >= 0x0304 || h.retry;
                                hello = Some(h);
                                if modern || want == Want::Hello {
                                    // TLS 1.3 encrypts the rest; the version question is settled.
                                    return settle(hello, None);
                                }
                            }
                            Err(reason) => return Some(Reply::NotTls { reason }),
                        },
                        (_, false) => {
                            return Some(Reply::NotTls {
                                reason: format!("handshake message type {ty} before ServerHello"),
                            });
                        }
                        (11, true) => {
                            certificates = Some(certificate_list(msg));
                            if want == Want::Certificate {
                                return settle(hello, certificates);
                            }
                        }
                        (12, true) if want == Want::KeyExchange => {
                            if let Some(h) = hello.as_mut() {
                                use tls_parser::TlsCipherKx::*;
                                match tls_parser::CIPHERS.get(&h.suite).map(|s| s.kx) {
                                    Some(Ecdhe | Aecdh) => h.group = ecdhe_curve(msg),
                                    Some(Dhe | Dh) => h.dh_bits = dhe_bits(msg),
                                    _ => {}
                                }
                            }
                            return settle(hello, certificates);
                        }
                        // ServerKeyExchange, CertificateRequest, ServerHelloDone: no Certificate
                        // is coming (an anonymous suite), or no ServerKeyExchange (RSA or static
                        // key exchange).
                        (12..=14, true) => {
                            flight_over = true;
                        }
                        _ => {}
                    }
                    if flight_over {
                        break;
                    }
                }
                handshake.drain(..hs_pos);
                if flight_over {
                    break;
                }
            }
            20 => {
                if hello.is_some() {
                    flight_over = true;
                    break;
                }
            }
            _ => {
                if hello.is_some() {
                    flight_over = true;
                    break;
                }
                return Some(Reply::NotTls {
                    reason: "application data before any handshake".into(),
                });
            }
        }
    }
    if flight_over || eof || buf.len() >= MAX_REPLY_BYTES {
        if let Some(reply) = settle(hello, certificates) {
            return Some(reply);
        }
        if eof && !buf.is_empty() {
            return Some(Reply::NotTls {
                reason: format!("{} bytes that end inside a TLS record", buf.len()),
            });
        }
    }
    None
}

/// Recognises replies that are plainly another protocol from their first bytes.
fn not_tls(buf: &[u8], first: u8) -> Option<String> {
    if (20..=23).contains(&first) {
        return None;
    }
    let preview: String = buf
        .iter()
        .take(40)
        .take_while(|b| **b != b'\r' && **b != b'\n')
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    if buf.starts_with(b"HTTP/") {
        return Some(format!(
            "not a TLS port: the server answered in HTTP (\"{preview}\")"
        ));
    }
    if first & 0x80 != 0 && buf.len() >= 3 && buf[2] == 4 {
        return Some("not a TLS port: an SSLv2-format reply".into());
    }
    if buf
        .iter()
        .take(16)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        return Some(format!(
            "not a TLS port: the server sent text (\"{preview}\")"
        ));
    }
    Some(format!(
        "not a TLS port: the reply starts with byte 0x{first:02x}"
    ))
}

/// The TLS 1.3 downgrade sentinel prefix (RFC 8446 §4.1.3): "DOWNGRD" then 0x01 or 0x00.
const DOWNGRADE_PREFIX: [u8; 7] = *b"DOWNGRD";

/// What a ServerHello message says.
#[derive(Clone, Copy)]
struct Hello {
    version: u16,
    suite: u16,
    /// A HelloRetryRequest.
    retry: bool,
    sentinel: Option<u8>,
    group: Option<u16>,
    dh_bits: Option<u16>,
}

/// Version, suite, HelloRetryRequest flag, downgrade sentinel and TLS 1.3 key-share group of a
/// ServerHello message.
fn server_hello(msg: &[u8]) -> Result<Hello, String> {
    match tls_parser::parse_tls_message_handshake(msg) {
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)))) => {
            let retry = sh.random == HRR_RANDOM;
            let version = sh
                .ext
                .and_then(|e| extension(e, 43))
                .filter(|d| d.len() == 2)
                .map(|d| u16::from_be_bytes([d[0], d[1]]))
                .unwrap_or(sh.version.0);
            let tail = &sh.random[sh.random.len().saturating_sub(8)..];
            let sentinel =
                (tail.len() == 8 && tail[..7] == DOWNGRADE_PREFIX && tail[7] <= 1).then(|| tail[7]);
            // key_share (RFC 8446 §4.2.8): a HelloRetryRequest carries the selected_group alone,
            // a ServerHello a KeyShareEntry; either way the group comes first.
            let group = sh
                .ext
                .and_then(|e| extension(e, 51))
                .filter(|d| d.len() >= 2)
                .map(|d| u16::from_be_bytes([d[0], d[1]]));
            Ok(Hello {
                version,
                suite: sh.cipher.0,
                retry,
                sentinel,
                group,
                dh_bits: None,
            })
        }
        Ok(_) | Err(_) => Err(format!(
            "unreadable ServerHello ({} bytes, version field {:02x}{:02x})",
            msg.len(),
            msg.get(4).copied().unwrap_or(0),
            msg.get(5).copied().unwrap_or(0)
        )),
    }
}

/// The data of extension `wanted` of a ServerHello (`supported_versions`, RFC 8446 §4.2.1;
/// `key_share`, §4.2.8). Walked by hand because it must be found even when a neighbouring
/// extension is malformed.
fn extension(mut ext: &[u8], wanted: u16) -> Option<&[u8]> {
    while ext.len() >= 4 {
        let ty = u16::from_be_bytes([ext[0], ext[1]]);
        let len = u16::from_be_bytes([ext[2], ext[3]]) as usize;
        let data = ext.get(4..4 + len)?;
        if ty == wanted {
            return Some(data);
        }
        ext = &ext[4 + len..];
    }
    None
}

/// The bit length of the prime of a DHE ServerKeyExchange message (RFC 5246 §7.4.3:
/// ServerDHParams first), read with tls-parser; leading zero bits do not count.
fn dhe_bits(msg: &[u8]) -> Option<u16> {
    let (_, p) = tls_parser::parse_dh_params(msg.get(4..)?).ok()?;
    let prime = p.dh_p;
    let first = prime.iter().position(|b| *b != 0)?;
    let bits = (prime.len() - first) * 8 - prime[first].leading_zeros() as usize;
    u16::try_from(bits).ok()
}

/// The named curve of an ECDHE ServerKeyExchange message (RFC 8422 §5.4: ServerECDHParams
/// first), read with tls-parser. `None` for explicit curves and for any other key exchange.
fn ecdhe_curve(msg: &[u8]) -> Option<u16> {
    let body = msg.get(4..)?;
    match tls_parser::parse_ecdh_params(body) {
        Ok((_, p)) => match p.curve_params.params_content {
            tls_parser::ECParametersContent::NamedGroup(g) => Some(g.0),
            _ => None,
        },
        Err(_) => None,
    }
}

fn certificate_list(msg: &[u8]) -> Vec<Vec<u8>> {
    match tls_parser::parse_tls_message_handshake(msg) {
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::Certificate(c)))) => {
            c.cert_chain.iter().map(|c| c.data.to_vec()).collect()
        }
        _ => Vec::new(),
    }
}

/// The name of an alert description (RFC 8446 §6, RFC 5246 §7.2).
pub fn alert_name(d: u8) -> &'static str {
    match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ct: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![ct, 3, 3];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn server_hello_msg(version: u16, suite: u16, ext: &[u8]) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(ext);
        let mut msg = vec![2];
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn alert_is_read() {
        let r = parse(&record(21, &[2, 70]), true, false);
        assert_eq!(
            r,
            Some(Reply::Alert {
                level: 2,
                description: 70
            })
        );
    }

    #[test]
    fn warning_before_the_hello_is_not_a_refusal() {
        let mut bytes = record(21, &[1, 112]); // warning unrecognized_name
        assert_eq!(parse(&bytes, false, false), None);
        bytes.extend(record(22, &server_hello_msg(0x0303, 0xc02f, &[])));
        assert!(matches!(
            parse(&bytes, false, false),
            Some(Reply::ServerHello { suite: 0xc02f, .. })
        ));
    }

    #[test]
    fn server_hello_split_across_records_is_reassembled() {
        let msg = server_hello_msg(0x0301, 0xc013, &[]);
        let mut bytes = record(22, &msg[..10]);
        assert_eq!(parse(&bytes, false, false), None);
        bytes.extend(record(22, &msg[10..]));
        assert_eq!(
            parse(&bytes, false, false),
            Some(Reply::ServerHello {
                version: 0x0301,
                suite: 0xc013,
                retry_request: false,
                certificates: vec![],
                downgrade_sentinel: None,
                group: None,
                dh_bits: None,
            })
        );
    }

    #[test]
    fn tls13_version_comes_from_supported_versions() {
        let msg = server_hello_msg(0x0303, 0x1301, &[0, 43, 0, 2, 3, 4]);
        match parse(&record(22, &msg), true, false) {
            Some(Reply::ServerHello { version, .. }) => assert_eq!(version, 0x0304),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn downgrade_sentinel_is_read_from_the_end_of_the_random() {
        for (tail, want) in [
            (*b"DOWNGRD\x01", Some(1)),
            (*b"DOWNGRD\x00", Some(0)),
            (*b"DOWNGRD\x02", None),
            ([7u8; 8], None),
        ] {
            let mut msg = server_hello_msg(0x0303, 0xc02f, &[]);
            msg[30..38].copy_from_slice(&tail);
            match parse(&record(22, &msg), false, false) {
                Some(Reply::ServerHello {
                    downgrade_sentinel, ..
                }) => assert_eq!(downgrade_sentinel, want, "{tail:?}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn certificate_after_hello_is_collected() {
        let mut hs = server_hello_msg(0x0301, 0x002f, &[]);
        // Certificate: list of one 3-byte "certificate".
        hs.extend_from_slice(&[11, 0, 0, 9, 0, 0, 6, 0, 0, 3, 1, 2, 3]);
        let r = parse(&record(22, &hs), true, false);
        match r {
            Some(Reply::ServerHello { certificates, .. }) => {
                assert_eq!(certificates, vec![vec![1, 2, 3]])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ecdhe_curve_is_read_from_the_server_key_exchange() {
        // ServerHello, Certificate (one 3-byte entry), then an ECDHE ServerKeyExchange naming
        // secp384r1 (curve_type 3 = named_curve, RFC 8422 §5.4) with a 1-byte point.
        let mut hs = server_hello_msg(0x0303, 0xc030, &[]);
        hs.extend_from_slice(&[11, 0, 0, 9, 0, 0, 6, 0, 0, 3, 1, 2, 3]);
        hs.extend_from_slice(&[12, 0, 0, 5, 3, 0x00, 0x18, 1, 4]);
        match parse_for(&record(22, &hs), Want::KeyExchange, false) {
            Some(Reply::ServerHello {
                group,
                certificates,
                ..
            }) => {
                assert_eq!(group, Some(0x0018));
                assert_eq!(certificates, vec![vec![1, 2, 3]]);
            }
            other => panic!("{other:?}"),
        }
        // Read only up to the Certificate, the curve is not there.
        match parse(&record(22, &hs), true, false) {
            Some(Reply::ServerHello { group, .. }) => assert_eq!(group, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dhe_prime_size_is_read_from_the_server_key_exchange() {
        // TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, then a ServerKeyExchange whose 128-byte prime
        // starts with 0x7f (1023 bits), g = 2, a 1-byte public value.
        let mut hs = server_hello_msg(0x0303, 0x009e, &[]);
        hs.extend_from_slice(&[11, 0, 0, 9, 0, 0, 6, 0, 0, 3, 1, 2, 3]);
        let mut params = vec![0, 128, 0x7f];
        params.extend_from_slice(&[0xff; 127]);
        params.extend_from_slice(&[0, 1, 2, 0, 1, 5]);
        hs.push(12);
        hs.extend_from_slice(&(params.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&params);
        match parse_for(&record(22, &hs), Want::KeyExchange, false) {
            Some(Reply::ServerHello { group, dh_bits, .. }) => {
                assert_eq!(group, None);
                assert_eq!(dh_bits, Some(1023));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hello_retry_request_names_the_selected_group() {
        let mut msg = server_hello_msg(
            0x0303,
            0x1301,
            &[0, 43, 0, 2, 3, 4, 0, 51, 0, 2, 0x01, 0x00],
        );
        msg[6..38].copy_from_slice(&HRR_RANDOM);
        match parse(&record(22, &msg), true, false) {
            Some(Reply::ServerHello {
                group,
                retry_request,
                ..
            }) => {
                assert!(retry_request);
                assert_eq!(group, Some(0x0100), "ffdhe2048");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn http_reply_is_not_a_tls_port() {
        match parse(b"HTTP/1.1 400 Bad Request\r\n\r\n", true, false) {
            Some(Reply::NotTls { reason }) => {
                assert!(reason.contains("not a TLS port"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_record_is_refused_before_it_arrives() {
        match parse(&[22, 3, 3, 0xff, 0xff], true, false) {
            Some(Reply::NotTls { reason }) => assert!(reason.contains("16 KiB"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_record_at_eof_is_not_tls() {
        assert!(matches!(
            parse(&[22, 3, 3, 0, 10, 2], true, true),
            Some(Reply::NotTls { .. })
        ));
        assert_eq!(parse(&[], true, true), None);
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics_on_random_bytes(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048),
            want in proptest::bool::ANY,
            eof in proptest::bool::ANY,
        ) {
            let _ = parse(&bytes, want, eof);
            let _ = parse_for(&bytes, Want::KeyExchange, eof);
        }

        #[test]
        fn parser_never_panics_on_random_records(
            records in proptest::collection::vec(
                (20u8..=23, proptest::collection::vec(proptest::num::u8::ANY, 0..600)), 0..6),
        ) {
            let mut bytes = Vec::new();
            for (ct, body) in records {
                bytes.extend(record(ct, &body));
            }
            let _ = parse(&bytes, true, true);
            let _ = parse_for(&bytes, Want::KeyExchange, true);
        }
    }
}
