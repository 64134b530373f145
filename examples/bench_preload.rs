//! Times loading a preload list and looking names up in it (`scripts/bench-preload.sh`).
//!
//! Usage: `cargo run --example bench_preload -- LIST.json [LOOKUPS]`

use std::path::PathBuf;
use std::time::Instant;

use vouch::probe::http::preload::PreloadList;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(
        args.next()
            .expect("usage: bench_preload LIST.json [LOOKUPS]"),
    );
    let lookups: usize = args
        .next()
        .map_or(100_000, |n| n.parse().expect("a number"));
    let size = std::fs::metadata(&path).expect("the list").len();

    let started = Instant::now();
    let list = PreloadList::load(&path).expect("a valid list");
    let load = started.elapsed();

    let started = Instant::now();
    let mut hits = 0usize;
    for i in 0..lookups {
        // Deep names exercise the walk up to the nearest ancestor.
        let name = format!("a.b.www.site{}.example", i % 200_000);
        hits += usize::from(list.lookup(&name).is_some());
    }
    let lookup = started.elapsed();

    println!(
        "list: {:.1} MB, {} HSTS entries; load + index + sha256: {} ms; {lookups} lookups: {} ms ({:.2} µs each, {hits} covered)",
        size as f64 / 1e6,
        list.len(),
        load.as_millis(),
        lookup.as_millis(),
        lookup.as_secs_f64() * 1e6 / lookups as f64,
    );
}
