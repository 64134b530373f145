//! The engine: dedupe, bounded concurrency, timeouts, stable order, scope and interruption.
//! The probes here are test doubles of the outside world (a counter, a server that never
//! answers), registered through the same `Registry` the built-in probes use.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use vouch::control::{Control, Source, load_controls};
use vouch::diag::Diagnostics;
use vouch::engine::{self, EngineOptions};
use vouch::expect::{FactType, Verdict};
use vouch::inventory::Inventory;
use vouch::probe::{
    FactSpec, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, ProbeOptions,
    Registry, fact,
};

const FACTS: &[FactSpec] = &[
    fact(
        "protocols.lowest",
        FactType::Protocol,
        "lowest accepted version",
    ),
    fact("key.spec", FactType::String, "key spec"),
    fact(
        "calls",
        FactType::Integer,
        "how many observations this probe had made before",
    ),
];

/// Answers at once, counting each observation. Targets starting with `slow` never answer;
/// targets starting with `down` are refused; `legacy` endpoints accept TLS 1.0.
#[derive(Default)]
struct FakeEstate {
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[async_trait]
impl Probe for FakeEstate {
    fn kind(&self) -> &'static str {
        "fake"
    }
    fn description(&self) -> &'static str {
        "a pretend estate"
    }
    fn target_syntax(&self) -> &'static str {
        "any name"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn host_key(&self, target: &str) -> String {
        target.split('/').next().unwrap_or(target).to_string()
    }
    fn is_pattern(&self, target: &str) -> bool {
        target == "*"
    }
    async fn discover(&self, _p: &str, _c: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        Ok(vec!["disc-b".into(), "disc-a".into()])
    }
    async fn observe(
        &self,
        target: &str,
        _p: &Params,
        _c: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let _guard = Guard(&self.in_flight);
        if target.starts_with("slow") {
            futures::future::pending::<()>().await;
        }
        if target.starts_with("down") {
            return Err(
                ProbeError::new(ProbeErrorKind::Unreachable, "connection refused")
                    .with_hint("is the service running?"),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut obs = Observation::new("fake", target);
        obs.fact(
            "protocols.lowest",
            if target.starts_with("legacy") {
                "TLSv1.0"
            } else {
                "TLSv1.2"
            },
        )
        .fact(
            "key.spec",
            if target.starts_with("asym") {
                "RSA_2048"
            } else {
                "SYMMETRIC_DEFAULT"
            },
        )
        .fact("calls", n as i64);
        Ok(obs)
    }
}

struct Guard<'a>(&'a AtomicUsize);
impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn controls(text: &str, registry: &Registry) -> Vec<Control> {
    let mut diags = Diagnostics::new();
    let c = load_controls(
        &[Source::Text {
            name: PathBuf::from("test.toml"),
            text: text.into(),
        }],
        registry,
        None,
        &mut diags,
    );
    assert!(!diags.has_errors(), "{}", diags.render_short());
    c
}

fn control(id: &str, targets: &str, expect: &str) -> String {
    format!(
        "[[control]]\nid = \"{id}\"\ntitle = \"{id}\"\nseverity = \"high\"\nprobe = \"fake\"\ntargets = {targets}\nexpect = [{expect}]\n"
    )
}

const MIN_TLS: &str = "{ fact = \"protocols.lowest\", op = \">=\", value = \"TLSv1.2\" }";

fn setup() -> (Arc<FakeEstate>, Registry, ProbeContext) {
    let estate = Arc::new(FakeEstate::default());
    let registry = Registry::with(vec![estate.clone()]);
    let ctx = ProbeContext::new(Arc::new(Inventory::default()), ProbeOptions::default());
    (estate, registry, ctx)
}

#[tokio::test]
async fn three_controls_on_one_target_cost_one_observation() {
    let (estate, registry, ctx) = setup();
    let text = [
        control("A", "[\"app\"]", MIN_TLS),
        control("B", "[\"app\"]", MIN_TLS),
        control("C", "[\"app\"]", "{ fact = \"key.spec\", op = \"exists\" }"),
    ]
    .concat();
    let cs = controls(&text, &registry);
    let report = engine::run(&cs, &registry, &ctx, &EngineOptions::default(), None, None).await;
    assert_eq!(estate.calls.load(Ordering::SeqCst), 1);
    assert_eq!(report.observations.len(), 1);
    assert_eq!(report.summary.pass, 3);
    let keys: Vec<_> = report
        .controls
        .iter()
        .map(|c| c.results[0].observation.clone().unwrap())
        .collect();
    assert!(
        keys.iter()
            .all(|k| k == &keys[0] && k.starts_with("sha256:"))
    );
}

#[tokio::test]
async fn a_probe_that_never_answers_is_an_error_within_the_timeout_and_the_rest_still_run() {
    let (_, registry, ctx) = setup();
    let text = [
        control("HANGS", "[\"slow-host\"]", MIN_TLS),
        control("PASSES", "[\"modern\"]", MIN_TLS),
        control("FAILS", "[\"legacy\"]", MIN_TLS),
        control("REFUSED", "[\"down\"]", MIN_TLS),
    ]
    .concat();
    let cs = controls(&text, &registry);
    let opts = EngineOptions {
        timeout: Duration::from_millis(300),
        ..EngineOptions::default()
    };
    let start = Instant::now();
    let report = engine::run(&cs, &registry, &ctx, &opts, None, None).await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the run must not wait on the hung probe"
    );
    let verdict =
        |id: &str| report.controls.iter().find(|c| c.id == id).unwrap().results[0].clone();
    let hung = verdict("HANGS");
    assert_eq!(hung.verdict, Verdict::Error);
    assert!(
        hung.error.as_deref().unwrap().contains("timed out"),
        "{hung:?}"
    );
    assert!(hung.hint.is_some());
    assert_eq!(verdict("PASSES").verdict, Verdict::Pass);
    assert_eq!(verdict("FAILS").verdict, Verdict::Fail);
    let refused = verdict("REFUSED");
    assert_eq!(refused.verdict, Verdict::Error);
    assert_eq!(refused.hint.as_deref(), Some("is the service running?"));
    assert_eq!(
        (
            report.summary.pass,
            report.summary.fail,
            report.summary.error
        ),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn results_come_out_in_a_stable_order() {
    let (_, registry, ctx) = setup();
    let text = [
        control("Z-LAST", "[\"c\", \"a\", \"b\"]", MIN_TLS),
        control("A-FIRST", "[\"b\", \"c\", \"a\"]", MIN_TLS),
    ]
    .concat();
    let cs = controls(&text, &registry);
    let report = engine::run(&cs, &registry, &ctx, &EngineOptions::default(), None, None).await;
    let order: Vec<(String, Vec<String>)> = report
        .controls
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                c.results.iter().map(|r| r.target.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(
        order[0],
        ("A-FIRST".into(), vec!["a".into(), "b".into(), "c".into()])
    );
    assert_eq!(
        order[1],
        ("Z-LAST".into(), vec!["a".into(), "b".into(), "c".into()])
    );
}

#[tokio::test]
async fn the_per_host_limit_bounds_observations_against_one_host() {
    let (estate, registry, ctx) = setup();
    let targets: Vec<String> = (0..12).map(|i| format!("\"host/{i}\"")).collect();
    let text = control("MANY", &format!("[{}]", targets.join(", ")), MIN_TLS);
    let cs = controls(&text, &registry);
    let opts = EngineOptions {
        per_host: 2,
        ..EngineOptions::default()
    };
    let report = engine::run(&cs, &registry, &ctx, &opts, None, None).await;
    assert_eq!(report.summary.results.pass, 12);
    assert_eq!(estate.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn targets_outside_where_are_not_applicable_with_the_reason() {
    let (_, registry, ctx) = setup();
    let text = "[[control]]\nid = \"ROT\"\ntitle = \"t\"\nseverity = \"high\"\nprobe = \"fake\"\ntargets = [\"sym-key\", \"asym-key\"]\nwhere = [{ fact = \"key.spec\", op = \"==\", value = \"SYMMETRIC_DEFAULT\" }]\nexpect = [{ fact = \"protocols.lowest\", op = \">=\", value = \"TLSv1.2\" }]\n";
    let cs = controls(text, &registry);
    let report = engine::run(&cs, &registry, &ctx, &EngineOptions::default(), None, None).await;
    let rs = &report.controls[0].results;
    assert_eq!(rs[0].target, "asym-key");
    assert_eq!(rs[0].verdict, Verdict::NotApplicable);
    assert!(
        rs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("observed RSA_2048"),
        "{:?}",
        rs[0]
    );
    assert_eq!(rs[1].verdict, Verdict::Pass);
    assert_eq!(report.controls[0].verdict, Verdict::Pass);
}

#[tokio::test]
async fn patterns_are_discovered_once_and_the_population_is_reported() {
    let (estate, registry, ctx) = setup();
    let text = [
        control("P1", "[\"*\"]", MIN_TLS),
        control("P2", "[\"*\"]", MIN_TLS),
    ]
    .concat()
        + "min_population = 3\n";
    let cs = controls(&text, &registry);
    let report = engine::run(&cs, &registry, &ctx, &EngineOptions::default(), None, None).await;
    assert_eq!(
        estate.calls.load(Ordering::SeqCst),
        2,
        "two resources, observed once each"
    );
    let p1: Vec<_> = report.controls[0]
        .results
        .iter()
        .map(|r| (r.target.as_str(), r.verdict))
        .collect();
    assert_eq!(p1, [("disc-a", Verdict::Pass), ("disc-b", Verdict::Pass)]);
    // P2 demands at least three resources: the population check fails.
    let p2 = &report.controls[1];
    assert_eq!(p2.verdict, Verdict::Fail);
    let pop = p2.results.iter().find(|r| r.target == "*").unwrap();
    assert_eq!(pop.checks[0].fact, "population");
    assert_eq!(pop.checks[0].observed, Some(serde_json::json!(2)));
}

#[tokio::test]
async fn an_interrupted_run_keeps_what_was_observed_and_says_it_is_incomplete() {
    let (_, registry, ctx) = setup();
    let text = [
        control("DONE", "[\"quick\"]", MIN_TLS),
        control("STUCK", "[\"slow\"]", MIN_TLS),
    ]
    .concat();
    let cs = controls(&text, &registry);
    let opts = EngineOptions {
        timeout: Duration::from_secs(60),
        ..EngineOptions::default()
    };
    let interrupt = Box::pin(tokio::time::sleep(Duration::from_millis(500)));
    let report = engine::run(&cs, &registry, &ctx, &opts, None, Some(interrupt)).await;
    assert!(!report.run.complete);
    let verdict =
        |id: &str| report.controls.iter().find(|c| c.id == id).unwrap().results[0].clone();
    assert_eq!(verdict("DONE").verdict, Verdict::Pass);
    let stuck = verdict("STUCK");
    assert_eq!(stuck.verdict, Verdict::Error);
    assert!(stuck.error.unwrap().contains("interrupted"));
}

#[tokio::test]
async fn a_group_the_inventory_lacks_is_not_applicable_not_dropped() {
    let (_, registry, ctx) = setup();
    let cs = controls(&control("G", "\"public_endpoints\"", MIN_TLS), &registry);
    let report = engine::run(&cs, &registry, &ctx, &EngineOptions::default(), None, None).await;
    let r = &report.controls[0].results[0];
    assert_eq!(r.verdict, Verdict::NotApplicable);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("no target group `public_endpoints`")
    );
}

// ---------------------------------------------------------------------------------------------
// `require = "any"`: one passing target satisfies the control

fn any_control(targets: &str) -> String {
    control("ANY", targets, MIN_TLS) + "require = \"any\"\n"
}

/// The wrong answer this prevents: a compliant organization trail beside a data-events trail
/// failing the control (and the run), because every trail had to pass.
#[tokio::test]
async fn require_any_passes_on_one_passing_target_and_keeps_every_target_listed() {
    let (_, registry, ctx) = setup();
    let cs = controls(
        &any_control("[\"legacy-1\", \"modern-1\", \"down-1\"]"),
        &registry,
    );
    let report = engine::run(&cs, &registry, &ctx, &EngineOptions::default(), None, None).await;
    let c = &report.controls[0];
    assert_eq!(c.verdict, Verdict::Pass);
    assert_eq!(c.satisfied_by, ["modern-1"]);
    let own: Vec<_> = c
        .results
        .iter()
        .map(|r| (r.target.as_str(), r.verdict))
        .collect();
    assert_eq!(
        own,
        [
            ("down-1", Verdict::Error),
            ("legacy-1", Verdict::Fail),
            ("modern-1", Verdict::Pass)
        ],
        "every target keeps its own result"
    );
    assert!(!report.failed_at(vouch::control::Severity::Info));
    assert!(!report.has_errors(), "a satisfied control gates nothing");
    assert_eq!(report.summary.pass, 1);

    let json: serde_json::Value =
        serde_json::from_str(&vouch::report::json::render(&report).unwrap()).unwrap();
    assert_eq!(json["controls"][0]["require"], "any");
    assert_eq!(
        json["controls"][0]["satisfied_by"],
        serde_json::json!(["modern-1"])
    );
    let table = vouch::report::table::render(&report, vouch::report::Style::default());
    assert!(table.contains("satisfied by modern-1"), "{table}");
    let html = vouch::report::html::render(&report);
    assert!(html.contains("satisfied by modern-1"), "{html}");
    let junit = vouch::report::junit::render(&report).unwrap();
    assert!(
        !junit.contains("<failure") && !junit.contains("<error"),
        "{junit}"
    );
    let sarif = vouch::report::sarif::render(&report).unwrap();
    let sarif: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(sarif["runs"][0]["results"], serde_json::json!([]));
}

/// The wrong answer this prevents: an any-of control passing when no target passes.
#[tokio::test]
async fn require_any_with_no_passing_target_takes_the_worst_result() {
    let (_, registry, ctx) = setup();
    let cs = controls(&any_control("[\"legacy-1\", \"down-1\"]"), &registry);
    let report = engine::run(&cs, &registry, &ctx, &EngineOptions::default(), None, None).await;
    let c = &report.controls[0];
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.satisfied_by.is_empty());
    assert!(report.failed_at(vouch::control::Severity::High));
    assert!(report.has_errors());
    let json = vouch::report::json::render(&report).unwrap();
    assert!(!json.contains("satisfied_by"), "{json}");

    // The default stays "all": one failing target fails the control.
    let cs = controls(
        &control("ALL", "[\"legacy-1\", \"modern-1\"]", MIN_TLS),
        &registry,
    );
    let report = engine::run(&cs, &registry, &ctx, &EngineOptions::default(), None, None).await;
    assert_eq!(report.controls[0].verdict, Verdict::Fail);
    let json = vouch::report::json::render(&report).unwrap();
    assert!(!json.contains("\"require\""), "{json}");
}

#[test]
fn require_takes_only_all_or_any_with_the_span_of_the_bad_value() {
    let (_, registry, _) = setup();
    for (value, code) in [("\"some\"", "invalid-require"), ("1", "wrong-type")] {
        let text = control("R", "[\"a\"]", MIN_TLS) + &format!("require = {value}\n");
        let mut diags = Diagnostics::new();
        load_controls(
            &[Source::Text {
                name: PathBuf::from("test.toml"),
                text: text.clone(),
            }],
            &registry,
            None,
            &mut diags,
        );
        let out = diags.render_short();
        assert!(diags.has_errors(), "{value}");
        assert!(out.contains(code), "{out}");
        let line = text.lines().count();
        assert!(out.contains(&format!("test.toml:{line}:11")), "{out}");
    }
}
