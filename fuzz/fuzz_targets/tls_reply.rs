//! Fuzzes the TLS reply parser: any bytes a server may send in answer to a ClientHello.
//!
//! The parser module is compiled in directly (it depends on tls-parser only), so the fuzz build
//! does not instrument all of vouch and its AWS SDK dependencies.
#![no_main]

#[path = "../../src/probe/tls/reply.rs"]
#[allow(dead_code)]
mod reply;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first byte picks the mode, the rest is the reply, also fed in growing prefixes as a
    // socket would deliver it.
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let want_certificate = mode & 1 == 1;
    let eof = mode & 2 == 2;
    let _ = reply::parse(bytes, want_certificate, eof);
    if mode & 4 == 4 {
        for end in (0..bytes.len()).step_by(97) {
            let _ = reply::parse(&bytes[..end], want_certificate, false);
        }
    }
});
