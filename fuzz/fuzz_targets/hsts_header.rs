//! Fuzzes the HSTS header reader: any `Strict-Transport-Security` values a server may send, read
//! as a browser reads them (RFC 6797) and as hstspreload.org judges them.
//!
//! `src/probe/http/hsts.rs` is compiled in directly (it needs only url, serde and psl), so the
//! fuzz build does not instrument all of vouch.
#![no_main]

// hsts.rs names `reqwest::Url`, which is the url crate's `Url`.
extern crate url as reqwest;

#[path = "../../src/probe/http/hsts.rs"]
#[allow(dead_code)]
mod hsts;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // One header value per line: a response may carry several.
    let values: Vec<String> = text.split('\n').map(str::to_string).collect();
    let _ = hsts::browser_reading(&values);
    let _ = hsts::preloadable_response(&values);
    for v in &values {
        let _ = hsts::preload_parse(v);
        let _ = hsts::preloadable_header(v);
    }
    let _ = hsts::domain_issues(values[0].trim());
    let _ = hsts::domain_level_issues(values[0].trim());
});
