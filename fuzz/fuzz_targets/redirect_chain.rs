//! Fuzzes the HTTP redirect handling: any chain of `Location` and `Strict-Transport-Security`
//! headers a server may answer with, judged as hstspreload.org judges redirects (HTTP → HTTPS
//! first on the same host, then elsewhere) and as `redirect.http_to_https` reads them.
#![no_main]

extern crate url as reqwest;

#[path = "../../src/probe/http/hsts.rs"]
#[allow(dead_code)]
mod hsts;

use hsts::{Chain, ChainEnd, Step};
use url::Url;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Line 1: the initial URL (the domain when it is not a URL). Each further line is one
    // response: `STS<TAB>Location`, the Location resolved against the current URL as the
    // probe resolves it; a line without a tab is the final response.
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    let initial = Url::parse(first)
        .or_else(|_| Url::parse(&format!("http://{first}/")))
        .unwrap_or_else(|_| Url::parse("http://example.com/").unwrap());
    let mut url = initial.clone();
    let mut steps = Vec::new();
    let mut end = ChainEnd::Final;
    for (i, line) in lines.enumerate() {
        if i >= 20 {
            end = ChainEnd::TooManyRedirects;
            break;
        }
        let (sts, location) = match line.split_once('\t') {
            Some((s, l)) => (s, Some(l)),
            None => (line, None),
        };
        let location = location.and_then(|l| url.join(l).ok());
        steps.push(Step {
            url: url.clone(),
            sts: if sts.is_empty() { vec![] } else { vec![sts.to_string()] },
            location: location.clone(),
        });
        match location {
            Some(next) => url = next,
            None => break,
        }
    }
    if data.first().is_some_and(|b| b % 7 == 0) {
        end = ChainEnd::Failed("connection refused".into());
    }
    let chain = Chain { steps, end };
    let _ = chain.targets();
    let _ = hsts::http_redirect_issues(&initial, &chain);
    let _ = hsts::https_redirect_issues(&initial, &chain);
    let _ = hsts::http_to_https(&initial, &chain);
});
