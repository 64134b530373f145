//! Fuzzes the security.txt parser (RFC 9116): any body and content type a server may send.
#![no_main]

#[path = "../../src/probe/http/securitytxt.rs"]
#[allow(dead_code)]
mod securitytxt;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first byte picks the content type; the rest is the body.
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let content_type = match mode % 4 {
        0 => None,
        1 => Some("text/plain; charset=utf-8"),
        2 => Some("text/html"),
        _ => Some("text/plain"),
    };
    let parsed = securitytxt::parse(&String::from_utf8_lossy(body), content_type);
    let _ = parsed.expired(jiff::Timestamp::UNIX_EPOCH);
    let _ = parsed.expired(jiff::Timestamp::MAX);
});
