//! Builds a local evidence store of RUNS daily runs with RESULTS results each (one observation
//! per result, signed bundles), through the library with explicit run times, for
//! `scripts/bench-history.sh`. Prints the signer's fingerprint.
//!
//! Usage: `cargo run --example bench_history -- STORE [RUNS] [RESULTS]`

use std::collections::BTreeMap;
use std::path::PathBuf;

use vouch::expect::Verdict;
use vouch::inventory::Inventory;
use vouch::probe::Observation;
use vouch::report::{self, ControlResult, Report, Run, Severity, Summary, TargetResult};
use vouch::store::{Location, Store, StoreSettings};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .expect("usage: bench_history STORE [RUNS] [RESULTS]"),
    );
    let runs: i64 = args.next().map_or(365, |n| n.parse().expect("a number"));
    let results: usize = args.next().map_or(500, |n| n.parse().expect("a number"));
    let store = Store::open(
        &Location::Local(dir),
        &StoreSettings::default(),
        &Inventory::default(),
    )
    .expect("the store");
    let key = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let start: jiff::Timestamp = "2026-01-01T02:00:00Z".parse().unwrap();
    let controls = 50;
    let per_control = results.div_ceil(controls);
    let inputs = vec![(
        "inputs/controls/000-bench.toml".to_string(),
        b"# synthetic\n".to_vec(),
    )];
    for d in 0..runs {
        let t = start + jiff::SignedDuration::from_hours(24 * d);
        let mut observations = vouch::report::ObservationStore::new();
        let mut out = Vec::new();
        for c in 0..controls {
            let mut rs = Vec::new();
            for i in 0..per_control {
                if out.len() * per_control + rs.len() >= results {
                    break;
                }
                let target = format!("host{i}.example.com:443");
                // Control c fails on target i for a week every 60 days, staggered.
                let failing = (d + (c * 7 + i) as i64) % 60 < 7 && (c + i) % 5 == 0;
                let mut obs = Observation::new("tls", &target);
                obs.observed_at = t;
                obs.fact(
                    "protocols.lowest",
                    if failing { "TLSv1.0" } else { "TLSv1.2" },
                )
                .fact("certificate.days_remaining", 80 - (d % 60))
                .evidence("addresses", serde_json::json!(["192.0.2.1:443"]));
                let id = observations.insert(&obs).expect("spooled");
                rs.push(TargetResult {
                    target,
                    account: None,
                    verdict: if failing {
                        Verdict::Fail
                    } else {
                        Verdict::Pass
                    },
                    observation: Some(id),
                    checks: vec![],
                    error: None,
                    hint: None,
                    waiver: None,
                    expires_at: None,
                    engine: None,
                });
            }
            out.push(ControlResult {
                id: format!("BENCH-{c:03}"),
                title: format!("Benchmark control {c}"),
                claim: String::new(),
                severity: Severity::High,
                probe: "tls".into(),
                frameworks: BTreeMap::new(),
                tags: vec![],
                remediation: String::new(),
                verdict: Verdict::Pass,
                examined_nothing: false,
                require: Default::default(),
                satisfied_by: vec![],
                source: None,
                skipped: None,
                results: rs,
            });
        }
        let mut r = Report {
            schema: report::SCHEMA.into(),
            tool: report::Tool::default(),
            run: Run {
                started_at: t,
                finished_at: t + jiff::SignedDuration::from_secs(90),
                complete: true,
                fail_on: Severity::Low,
                context: BTreeMap::new(),
                replay: None,
                warnings: vec![],
                evidence: None,
                shard: None,
                merge: None,
            },
            summary: Summary::default(),
            controls: out,
            observations,
            coverage: vec![],
            unused_waivers: vec![],
        };
        r.summarise();
        store
            .put_run(&mut r, &inputs, Some(&key), None, jiff::Timestamp::now())
            .expect("filed");
    }
    println!(
        "{}",
        vouch::evidence::sign::fingerprint(&key.verifying_key())
    );
}
