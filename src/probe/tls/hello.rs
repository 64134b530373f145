//! Hand-built ClientHello messages for version enumeration.
//!
//! rustls deliberately cannot speak SSLv3, TLS 1.0 or TLS 1.1, and no maintained crate builds
//! arbitrary legacy ClientHellos, so vouch writes the bytes itself from RFC 6101 (SSLv3),
//! RFC 2246/4346/5246 (TLS 1.0–1.2) and RFC 8446 (TLS 1.3). A hello here is only ever a question
//! ("would you speak version V with one of these suites?"): vouch never finishes the handshake,
//! so the TLS 1.3 key share can be random bytes.
//!
//! Suite lists come from the IANA TLS Cipher Suites registry as tls-parser ships it
//! (`tls_parser::CIPHERS`, generated from the registry's XML), filtered by what each version can
//! negotiate. No scanner's hand-kept tables are used.

use tls_parser::{CIPHERS, TlsCipherKx, TlsCipherMac, TlsCipherSuite};

use crate::expect::Protocol;

/// At most this many suites in one hello (the renegotiation SCSV included): some servers
/// reject or mis-parse longer lists.
pub const MAX_SUITES_PER_HELLO: usize = 128;

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746): always sent, as real clients do.
pub const RENEGOTIATION_SCSV: u16 = 0x00ff;
/// TLS_FALLBACK_SCSV (RFC 7507): never sent. It asks a server to refuse a version lower than its
/// best, which would turn "does it speak TLS 1.0?" into "does it think we fell back?".
pub const FALLBACK_SCSV: u16 = 0x5600;

/// x25519 (RFC 8446 §4.2.7), the one group vouch sends a key share for.
const GROUP_X25519: u16 = 0x001d;
/// Every named group of the IANA TLS Supported Groups registry (RFC 8422, RFC 7919, RFC 8446,
/// RFC 8734, the ML-KEM drafts), the common ones first. The hello is never completed, so offering
/// a group costs nothing, and a group left out could make a server that supports only it look
/// like it refuses the version (an ffdhe4096-only TLS 1.3 server, a brainpoolP256r1-only TLS 1.2
/// server). A TLS 1.3 server that wants another group than x25519 answers with a
/// HelloRetryRequest, which is acceptance enough.
pub const GROUPS: [u16; 48] = [
    0x001d, 0x0017, 0x0018, 0x0019, 0x001e, // x25519, P-256, P-384, P-521, x448
    0x11ec, 0x11eb, 0x11ed, 0x0200, 0x0201, 0x0202, // ML-KEM hybrids and pure ML-KEM
    0x0100, 0x0101, 0x0102, 0x0103, 0x0104, // ffdhe2048 … ffdhe8192
    0x001a, 0x001b, 0x001c, 0x001f, 0x0020, 0x0021, // brainpool (TLS 1.2, then TLS 1.3)
    0x0022, 0x0023, 0x0024, 0x0025, 0x0026, 0x0027, 0x0028, 0x0029, // GOST, then SM2
    0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0007, 0x0008, 0x0009, 0x000a, 0x000b, 0x000c,
    0x000d, 0x000e, 0x000f, 0x0010, 0x0011, 0x0012, // the deprecated sect/secp curves
];
/// Every signature scheme of the IANA TLS SignatureScheme registry (RFC 8446 §4.2.3, RFC 8734,
/// the ML-DSA draft), modern first, SHA-1 and MD5 last for old servers: an RSA-PSS certificate
/// (rsa_pss_pss_*) or a brainpool key must not make a version look refused.
pub const SIGNATURE_SCHEMES: [u16; 30] = [
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806,
    0x0601, // ECDSA, RSA-PSS rsae, PKCS#1
    0x0807, 0x0808, // Ed25519, Ed448
    0x0809, 0x080a, 0x080b, // RSA-PSS with a PSS key
    0x081a, 0x081b, 0x081c, // ECDSA brainpool (TLS 1.3)
    0x0904, 0x0905, 0x0906, // ML-DSA
    0x0303, 0x0301, 0x0302, // SHA-224
    0x0203, 0x0201, 0x0202, // SHA-1
    0x0402, 0x0502, 0x0602, // DSA
    0x0101, 0x0102, // MD5 (RSA, DSA)
];

/// What one raw hello offered, kept as evidence.
#[derive(Clone, Debug)]
pub struct Hello {
    /// The whole record, ready to write.
    pub bytes: Vec<u8>,
    /// The suites offered (without the SCSV).
    pub suites: Vec<u16>,
}

/// The two disjoint suite lists for `version`: the first hello's, and the retry's when the first
/// is refused with `handshake_failure` (the server may simply share none of the first list).
/// Each fits in [`MAX_SUITES_PER_HELLO`] with the SCSV. TLS 1.3 has one short list, no retry.
pub fn suite_lists(version: Protocol) -> (Vec<u16>, Vec<u16>) {
    let mut suites: Vec<&TlsCipherSuite> =
        CIPHERS.values().filter(|s| usable(s, version)).collect();
    // Likely choices first so the first hello settles most servers: forward-secret key
    // exchanges, then plain RSA, then the rarities (PSK, SRP, Kerberos), which need
    // configuration a scan does not have anyway.
    suites.sort_by_key(|s| (family_rank(s), kx_rank(s.kx), s.id.0));
    let ids: Vec<u16> = suites.iter().map(|s| s.id.0).collect();
    // An SSLv3 hello carries no extensions, so it cannot be padded past the 256–511 byte range
    // that hangs some stacks: fewer suites keep it below 256 bytes instead.
    let per = if version == Protocol::SslV3 {
        100
    } else {
        MAX_SUITES_PER_HELLO - 1
    };
    let first = ids.iter().take(per).copied().collect();
    let second = ids.iter().skip(per).take(per).copied().collect();
    (first, second)
}

/// Whether a registry suite can be negotiated at `version`.
fn usable(s: &TlsCipherSuite, version: Protocol) -> bool {
    let id = s.id.0;
    if id == 0x0000 || id == RENEGOTIATION_SCSV || id == FALLBACK_SCSV || s.name.ends_with("_SCSV")
    {
        return false;
    }
    // Kerberos suites (RFC 2712) left every maintained stack years ago; leaving them out keeps
    // each legacy version to one hello.
    if s.name.contains("_KRB5_") {
        return false;
    }
    match version {
        Protocol::TlsV1_3 => s.kx == TlsCipherKx::Tls13,
        // TLS 1.2 added AEAD and SHA-256/384 MACs; before it only MD5 and SHA-1 MACs exist.
        Protocol::TlsV1_2 => s.kx != TlsCipherKx::Tls13,
        // Elliptic-curve suites (RFC 4492) are defined for TLS only.
        Protocol::SslV3 => {
            !matches!(
                s.kx,
                TlsCipherKx::Tls13 | TlsCipherKx::Ecdhe | TlsCipherKx::Ecdh | TlsCipherKx::Aecdh
            ) && !s.name.contains("ECDH")
                && matches!(s.mac, TlsCipherMac::HmacMd5 | TlsCipherMac::HmacSha1)
        }
        Protocol::TlsV1_0 | Protocol::TlsV1_1 => {
            s.kx != TlsCipherKx::Tls13
                && matches!(s.mac, TlsCipherMac::HmacMd5 | TlsCipherMac::HmacSha1)
        }
    }
}

/// Mainstream suites first, then the rarer ciphers, then export/null/anonymous, then the suites
/// that need credentials a scanner does not have (PSK, SRP). tls-parser files `RSA_PSK` under
/// RSA key exchange, hence the names.
fn family_rank(s: &TlsCipherSuite) -> u8 {
    use tls_parser::TlsCipherEnc::*;
    let n = s.name;
    if n.contains("_SRP_") {
        4
    } else if n.contains("PSK") {
        3
    } else if n.contains("_anon_") || n.contains("EXPORT") || s.enc == Null {
        2
    } else if matches!(s.enc, Aes | Chacha20_Poly1305 | TripleDes)
        && matches!(
            s.kx,
            TlsCipherKx::Ecdhe | TlsCipherKx::Dhe | TlsCipherKx::Rsa | TlsCipherKx::Tls13
        )
    {
        0
    } else {
        1
    }
}

fn kx_rank(kx: TlsCipherKx) -> u8 {
    match kx {
        TlsCipherKx::Tls13 | TlsCipherKx::Ecdhe => 0,
        TlsCipherKx::Dhe => 1,
        TlsCipherKx::Rsa => 2,
        TlsCipherKx::Ecdh => 3,
        TlsCipherKx::Dh => 4,
        TlsCipherKx::Aecdh | TlsCipherKx::Null => 5,
        TlsCipherKx::Psk => 6,
        TlsCipherKx::Srp => 7,
        TlsCipherKx::Krb5 | TlsCipherKx::Eccpwd => 8,
    }
}

/// The IANA name of a suite (`TLS_AES_128_GCM_SHA256`), or its code point in hex.
pub fn suite_name(id: u16) -> String {
    match CIPHERS.get(&id) {
        Some(s) => s.name.to_string(),
        None => format!("0x{id:04X}"),
    }
}

/// Builds a ClientHello record asking for exactly `version` with `suites`.
///
/// `sni` is the name to send (never an IP literal: RFC 6066 forbids it). TLS 1.3 is asked for the
/// RFC 8446 way: legacy_version 1.2, `supported_versions` = [1.3] only, an x25519 key share.
/// Every group of [`GROUPS`] is offered.
pub fn client_hello(version: Protocol, suites: &[u16], sni: Option<&str>) -> Hello {
    client_hello_with_groups(version, suites, sni, &GROUPS)
}

/// [`client_hello`] offering only `groups` in `supported_groups`. The TLS 1.3 key share is for
/// x25519 when it is offered and empty otherwise (RFC 8446 §4.2.8 allows an empty
/// `client_shares`: the server answers with a HelloRetryRequest naming the group it wants).
pub fn client_hello_with_groups(
    version: Protocol,
    suites: &[u16],
    sni: Option<&str>,
    groups: &[u16],
) -> Hello {
    let suites: Vec<u16> = suites
        .iter()
        .copied()
        .filter(|&s| s != RENEGOTIATION_SCSV && s != FALLBACK_SCSV)
        .take(MAX_SUITES_PER_HELLO - 1)
        .collect();
    let mut body = Vec::with_capacity(512);
    let client_version = match version {
        Protocol::TlsV1_3 => 0x0303,
        v => v.wire(),
    };
    put_u16(&mut body, client_version);
    body.extend_from_slice(&random::<32>());
    if version == Protocol::TlsV1_3 {
        // A non-empty legacy session id, as RFC 8446 §D.4 asks for middlebox compatibility.
        body.push(32);
        body.extend_from_slice(&random::<32>());
    } else {
        body.push(0);
    }
    put_u16(&mut body, ((suites.len() + 1) * 2) as u16);
    for s in &suites {
        put_u16(&mut body, *s);
    }
    put_u16(&mut body, RENEGOTIATION_SCSV);
    body.extend_from_slice(&[1, 0]); // compression: null only

    // SSLv3 predates extensions; some SSLv3-only stacks fail on trailing bytes.
    if version != Protocol::SslV3 {
        let mut ext = Vec::with_capacity(256);
        if let Some(name) = sni
            .map(|n| n.trim_end_matches('.'))
            .filter(|n| !n.is_empty() && n.len() < 256 && n.parse::<std::net::IpAddr>().is_err())
        {
            let name = name.as_bytes();
            let mut list = Vec::new();
            list.push(0); // host_name
            put_u16(&mut list, name.len() as u16);
            list.extend_from_slice(name);
            let mut data = Vec::new();
            put_u16(&mut data, list.len() as u16);
            data.extend_from_slice(&list);
            put_ext(&mut ext, 0x0000, &data);
        }
        let mut list = Vec::new();
        put_u16(&mut list, (groups.len() * 2) as u16);
        groups.iter().for_each(|g| put_u16(&mut list, *g));
        put_ext(&mut ext, 0x000a, &list);
        put_ext(&mut ext, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
        if version >= Protocol::TlsV1_2 {
            let mut schemes = Vec::new();
            put_u16(&mut schemes, (SIGNATURE_SCHEMES.len() * 2) as u16);
            SIGNATURE_SCHEMES
                .iter()
                .for_each(|s| put_u16(&mut schemes, *s));
            put_ext(&mut ext, 0x000d, &schemes);
        }
        put_ext(&mut ext, 0x0017, &[]); // extended_master_secret
        if version == Protocol::TlsV1_3 {
            put_ext(&mut ext, 0x002b, &[2, 0x03, 0x04]); // supported_versions: TLS 1.3 only
            put_ext(&mut ext, 0x002d, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
            let mut share = Vec::new();
            if groups.contains(&GROUP_X25519) {
                put_u16(&mut share, 2 + 2 + 32);
                put_u16(&mut share, GROUP_X25519);
                put_u16(&mut share, 32);
                share.extend_from_slice(&random::<32>());
            } else {
                put_u16(&mut share, 0);
            }
            put_ext(&mut ext, 0x0033, &share);
        }
        // Padding (RFC 7685): some stacks hang on hellos of 256–511 bytes, so those are padded
        // to 512. The length counted is the handshake message: 4 header bytes, body, and the
        // 2-byte extensions length.
        let unpadded = 4 + body.len() + 2 + ext.len();
        if (256..512).contains(&unpadded) {
            let pad = 512usize.saturating_sub(unpadded + 4);
            put_ext(&mut ext, 0x0015, &vec![0; pad]);
        }
        put_u16(&mut body, ext.len() as u16);
        body.extend_from_slice(&ext);
    }

    let mut handshake = Vec::with_capacity(body.len() + 4);
    handshake.push(1); // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);

    let mut record = Vec::with_capacity(handshake.len() + 5);
    record.push(22); // handshake
    // The record layer says SSLv3 for an SSLv3 hello and TLS 1.0 otherwise: old servers refuse a
    // record version they do not know before they read the hello's own version.
    put_u16(
        &mut record,
        if version == Protocol::SslV3 {
            0x0300
        } else {
            0x0301
        },
    );
    put_u16(&mut record, handshake.len() as u16);
    record.extend_from_slice(&handshake);
    Hello {
        bytes: record,
        suites,
    }
}

/// The IANA name of a supported group (`x25519`, `secp256r1`, `ffdhe2048`, `brainpoolP256r1`,
/// `X25519MLKEM768`), as the TLS Supported Groups registry spells it, or its code point in hex.
/// The names come from tls-parser's `NamedGroup` (its variants are the registry's names with the
/// first letter capitalised; x25519 and x448 carry an `Ecdh` prefix there); the registry entries
/// it does not know (the ML-KEM and GOST groups, registered after its release) are named here.
pub fn group_name(id: u16) -> String {
    let named = match id {
        0x0022 => Some("GC256A"),
        0x0023 => Some("GC256B"),
        0x0024 => Some("GC256C"),
        0x0025 => Some("GC256D"),
        0x0026 => Some("GC512A"),
        0x0027 => Some("GC512B"),
        0x0028 => Some("GC512C"),
        0x0029 => Some("curveSM2"),
        0x0200 => Some("MLKEM512"),
        0x0201 => Some("MLKEM768"),
        0x0202 => Some("MLKEM1024"),
        0x11eb => Some("SecP256r1MLKEM768"),
        0x11ec => Some("X25519MLKEM768"),
        0x11ed => Some("SecP384r1MLKEM1024"),
        _ => None,
    };
    if let Some(n) = named {
        return n.to_string();
    }
    let debug = format!("{:?}", tls_parser::NamedGroup(id));
    if debug.starts_with("NamedGroup") || debug.contains('(') {
        return format!("0x{id:04X}");
    }
    let debug = debug.strip_prefix("Ecdh").unwrap_or(&debug);
    let mut chars = debug.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => format!("0x{id:04X}"),
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_ext(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
    put_u16(out, ty);
    put_u16(out, data.len() as u16);
    out.extend_from_slice(data);
}

fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The hello random only has to be unpredictable enough not to collide; if the system RNG
    // fails, a fixed value still makes a well-formed hello.
    let _ = rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_lists_are_bounded_disjoint_and_never_carry_the_fallback_scsv() {
        for v in Protocol::ALL {
            let (a, b) = suite_lists(v);
            assert!(!a.is_empty(), "{v}: empty first list");
            assert!(a.len() < MAX_SUITES_PER_HELLO && b.len() < MAX_SUITES_PER_HELLO);
            assert!(a.iter().all(|s| !b.contains(s)), "{v}: lists overlap");
            assert!(!a.contains(&FALLBACK_SCSV) && !b.contains(&FALLBACK_SCSV));
        }
        let (tls13, retry) = suite_lists(Protocol::TlsV1_3);
        assert!(tls13.contains(&0x1301) && tls13.contains(&0x1302) && tls13.contains(&0x1303));
        assert!(retry.is_empty());
        // The legacy versions fit in one hello: no retry needed.
        for v in [Protocol::SslV3, Protocol::TlsV1_0, Protocol::TlsV1_1] {
            assert!(suite_lists(v).1.is_empty(), "{v}");
        }
        let (tls10, _) = suite_lists(Protocol::TlsV1_0);
        assert!(
            tls10.contains(&0xc013),
            "ECDHE-RSA-AES128-SHA offered in TLS 1.0"
        );
        assert!(!tls10.contains(&0xc02f), "no GCM suite in a TLS 1.0 hello");
        let (ssl3, _) = suite_lists(Protocol::SslV3);
        assert!(ssl3.contains(&0x000a) && !ssl3.contains(&0xc013));
        // TLS 1.2's first list holds the suites real servers choose.
        let (tls12, _) = suite_lists(Protocol::TlsV1_2);
        for s in [
            0xc02b, 0xc02f, 0xcca8, 0xcca9, 0x009c, 0x002f, 0x0035, 0x000a, 0x009e,
        ] {
            assert!(tls12.contains(&s), "0x{s:04x} in the first TLS 1.2 list");
        }
    }

    #[test]
    fn group_names_are_the_iana_registry_spellings() {
        // The wrong answer each prevents: tls-parser's Rust names ("EcdhX25519", "Secp256r1")
        // or a bare code point where the registry has a name.
        for (id, name) in [
            (0x001d, "x25519"),
            (0x001e, "x448"),
            (0x0017, "secp256r1"),
            (0x0018, "secp384r1"),
            (0x0019, "secp521r1"),
            (0x001a, "brainpoolP256r1"),
            (0x001f, "brainpoolP256r1tls13"),
            (0x0100, "ffdhe2048"),
            (0x0104, "ffdhe8192"),
            (0x0001, "sect163k1"),
            (0x11ec, "X25519MLKEM768"),
            (0x7777, "0x7777"),
        ] {
            assert_eq!(group_name(id), name, "0x{id:04x}");
        }
        for g in GROUPS {
            assert!(!group_name(g).starts_with("0x"), "0x{g:04x} has a name");
        }
    }

    #[test]
    fn hello_without_x25519_sends_an_empty_key_share() {
        let (suites, _) = suite_lists(Protocol::TlsV1_3);
        let h = client_hello_with_groups(Protocol::TlsV1_3, &suites, None, &[0x0018]);
        let (_, rec) = tls_parser::parse_tls_plaintext(&h.bytes).expect("parses");
        let tls_parser::TlsMessage::Handshake(tls_parser::TlsMessageHandshake::ClientHello(ch)) =
            &rec.msg[0]
        else {
            panic!("not a ClientHello")
        };
        let (_, exts) = tls_parser::parse_tls_client_hello_extensions(ch.ext.unwrap()).unwrap();
        let mut saw_share = false;
        for e in exts {
            match e {
                tls_parser::TlsExtension::EllipticCurves(g) => {
                    assert_eq!(g, vec![tls_parser::NamedGroup(0x0018)])
                }
                tls_parser::TlsExtension::KeyShare(k) => {
                    // A share for a group that is not offered is illegal (RFC 8446 §4.2.8).
                    assert_eq!(k, &[0, 0][..]);
                    saw_share = true;
                }
                _ => {}
            }
        }
        assert!(saw_share);
    }

    #[test]
    fn hello_is_well_formed_and_padded_out_of_the_troublesome_sizes() {
        for v in Protocol::ALL {
            let (suites, _) = suite_lists(v);
            let h = client_hello(v, &suites, Some("app.example.com"));
            let (rest, rec) = tls_parser::parse_tls_plaintext(&h.bytes).expect("parses");
            assert!(rest.is_empty());
            let msg_len = h.bytes.len() - 5;
            assert!(!(256..512).contains(&msg_len), "{v}: {msg_len} bytes");
            match &rec.msg[0] {
                tls_parser::TlsMessage::Handshake(
                    tls_parser::TlsMessageHandshake::ClientHello(ch),
                ) => {
                    assert!(ch.ciphers.len() <= MAX_SUITES_PER_HELLO);
                    assert!(ch.ciphers.iter().any(|c| c.0 == RENEGOTIATION_SCSV));
                    assert!(ch.ciphers.iter().all(|c| c.0 != FALLBACK_SCSV));
                    let expected = if v == Protocol::TlsV1_3 {
                        0x0303
                    } else {
                        v.wire()
                    };
                    assert_eq!(ch.version.0, expected);
                    if v != Protocol::SslV3 {
                        let ext = ch.ext.expect("extensions");
                        let (_, exts) = tls_parser::parse_tls_client_hello_extensions(ext)
                            .expect("extensions parse");
                        assert!(
                            exts.iter()
                                .any(|e| matches!(e, tls_parser::TlsExtension::SNI(_)))
                        );
                    }
                }
                other => panic!("{v}: not a ClientHello: {other:?}"),
            }
        }
    }

    #[test]
    fn no_name_length_or_suite_count_lands_in_the_troublesome_sizes() {
        for v in Protocol::ALL {
            let (suites, _) = suite_lists(v);
            for n in [0, 1, 5, 17, 40, 64, 100, 127] {
                for len in [1usize, 10, 50, 100, 200, 253] {
                    let name = "a".repeat(len);
                    let h = client_hello(v, &suites[..n.min(suites.len())], Some(&name));
                    let msg_len = h.bytes.len() - 5;
                    assert!(
                        !(256..512).contains(&msg_len) || v == Protocol::SslV3,
                        "{v}, {n} suites, name of {len}: {msg_len} bytes"
                    );
                }
            }
        }
    }

    #[test]
    fn no_sni_for_ip_literals() {
        let h = client_hello(Protocol::TlsV1_2, &[0xc02f], Some("127.0.0.1"));
        assert!(!h.bytes.windows(9).any(|w| w == b"127.0.0.1"));
    }
}
