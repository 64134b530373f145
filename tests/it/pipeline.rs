//! The check pipeline as a library call (`vouch::pipeline`): run in-process against a loopback
//! server with a fixed clock, and, on the demo estate's recorded bundle, a replay whose JSON
//! report and bundle are pinned byte for byte.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vouch::diag::Diagnostics;
use vouch::evidence::replay::ReplayAt;
use vouch::expect::Verdict;
use vouch::inventory::Inventory;
use vouch::pipeline::{
    self, Bundle, Clock, Context, Notice, Options, Plan, Refusal, Sources, sink,
};
use vouch::report::Format;

use crate::support::repo;

/// An HTTP server on loopback: every request gets `200 ok`.
async fn loopback_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\
                          connection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    addr
}

fn at(ts: &str) -> jiff::Timestamp {
    ts.parse().unwrap()
}

/// Collects the notices a run says.
fn collecting(ctx: Context) -> (Context, Arc<Mutex<Vec<String>>>) {
    let said = Arc::new(Mutex::new(Vec::new()));
    let sink = said.clone();
    let ctx = ctx.with_notices(move |n: Notice| sink.lock().unwrap().push(n.to_string()));
    (ctx, said)
}

/// Writes the controls (one that holds, one that fails) and a waiver of the failing one that
/// expires on 2030-06-30.
fn inputs(dir: &Path, addr: std::net::SocketAddr) -> (PathBuf, PathBuf) {
    let control = |id: &str, status: u16| {
        format!(
            "[[control]]\nid = \"{id}\"\ntitle = \"{id}\"\nseverity = \"high\"\nprobe = \"http\"\n\
             targets = [\"http://{addr}/\"]\n\
             expect = [{{ fact = \"response.status\", op = \"==\", value = {status} }}]\n\n"
        )
    };
    let controls = dir.join("controls.toml");
    std::fs::write(
        &controls,
        control("SITE-UP", 200) + &control("SITE-GONE", 404),
    )
    .unwrap();
    let waivers = dir.join("waivers.toml");
    std::fs::write(
        &waivers,
        "[[waiver]]\ncontrol = \"SITE-GONE\"\nreason = \"retired next quarter\"\n\
         owner = \"web\"\napproved_by = \"CISO\"\nexpires = 2030-06-30\n",
    )
    .unwrap();
    (controls, waivers)
}

/// The wrong answer this prevents: a pipeline stage reading the wall clock (or the terminal)
/// behind its context, so that a library caller cannot say when a run is judged. On 2030-01-01
/// a waiver expiring 2030-06-30 is valid and waives the failure; on the real date it is more
/// than a year ahead and the same inputs are refused.
#[tokio::test(flavor = "multi_thread")]
async fn the_pipeline_runs_in_process_against_a_loopback_server_with_a_fixed_clock() {
    let addr = loopback_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (controls, waivers) = inputs(dir.path(), addr);
    let sources = || Sources {
        controls: vec![controls.clone()],
        bundle: None,
        waivers: Some(waivers.clone()),
    };
    let fixed = at("2030-01-01T00:00:00Z");
    let (ctx, said) = collecting(Context::new().with_clock(Clock::fixed(fixed)));

    let plan = Plan::load(
        sources(),
        Inventory::default(),
        Diagnostics::new(),
        Options::default(),
        &ctx,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(plan.controls().len(), 2);
    let observed = plan.observe(&ctx).await.unwrap();
    let evaluated = observed.evaluate(ctx.now());
    let gone = |r: &vouch::report::Report| {
        r.controls
            .iter()
            .find(|c| c.id == "SITE-GONE")
            .unwrap()
            .results[0]
            .clone()
    };
    assert_eq!(gone(evaluated.report()).verdict, Verdict::Fail);
    let mut waived = evaluated.waive();
    assert!(waived.notices().is_empty());
    let outcome = waived.gate();
    let report = &outcome.report;
    assert_eq!(
        (report.run.started_at, report.run.finished_at),
        (fixed, fixed)
    );
    let up = report.controls.iter().find(|c| c.id == "SITE-UP").unwrap();
    assert_eq!(up.verdict, Verdict::Pass, "{up:?}");
    let obs = report
        .observations
        .get(up.results[0].observation.as_ref().unwrap())
        .unwrap();
    assert_eq!(obs.facts["response.status"], 200);
    let gone = gone(report);
    assert_eq!(gone.verdict, Verdict::Waived);
    assert_eq!(
        gone.waiver.as_ref().unwrap().original_verdict,
        Verdict::Fail
    );
    assert_eq!(outcome.code, vouch::exit::PASS, "the failure is waived");

    // The whole run through `check`, with its sinks: the bundle verifies, and stdout holds the
    // same report bytes the bundle keeps.
    let out = dir.path().join("bundle");
    let options = Options {
        evidence_dir: Some(out.clone()),
        ..Options::default()
    };
    let outputs = sink::Outputs {
        format: Format::Json,
        files: Vec::new(),
        color: false,
    };
    let mut stdout = Vec::new();
    let code = pipeline::check(
        sources(),
        Inventory::default(),
        Diagnostics::new(),
        options,
        &outputs,
        &ctx,
        &mut stdout,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(code, vouch::exit::PASS);
    assert!(vouch::evidence::verify(&out, &vouch::evidence::Trust::digests_only()).ok());
    assert_eq!(stdout, std::fs::read(out.join("report.json")).unwrap());
    assert!(
        said.lock()
            .unwrap()
            .iter()
            .any(|n| n.starts_with("evidence: ")),
        "{said:?}"
    );

    // The same inputs on the real date: the waiver is too far ahead, nothing runs.
    let refused = Plan::load(
        sources(),
        Inventory::default(),
        Diagnostics::new(),
        Options::default(),
        &Context::new(),
    )
    .await;
    match refused {
        Err(Refusal::Invalid(d)) => assert!(
            d.render_short().contains("more than one year ahead"),
            "{}",
            d.render_short()
        ),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("a waiver more than a year ahead was accepted"),
    }
}

/// Replays `fixtures/demo/bundle` (the demo estate's recorded run: `vouch check --evidence-dir`,
/// unsigned, on the estate `scripts/demo` starts) through `pipeline::check` at a fixed clock,
/// writing a bundle of its own; returns stdout and that bundle's MANIFEST.
async fn replay_demo(out: &Path) -> (Vec<u8>, String, u8) {
    let _ = std::fs::remove_dir_all(out);
    let (ctx, _) = collecting(Context::new().with_clock(Clock::fixed(at("2026-12-01T09:00:00Z"))));
    let bundle = Bundle::open(
        PathBuf::from("fixtures/demo/bundle"),
        &vouch::evidence::Trust::digests_only(),
        ReplayAt::Original,
        &ctx,
    )
    .unwrap();
    let sources = Sources {
        bundle: Some(bundle),
        ..Sources::default()
    };
    let options = Options {
        evidence_dir: Some(out.to_path_buf()),
        ..Options::default()
    };
    let outputs = sink::Outputs {
        format: Format::Json,
        files: Vec::new(),
        color: false,
    };
    let mut stdout = Vec::new();
    let code = pipeline::check(
        sources,
        Inventory::default(),
        Diagnostics::new(),
        options,
        &outputs,
        &ctx,
        &mut stdout,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let manifest = std::fs::read_to_string(out.join("MANIFEST")).unwrap();
    (stdout, manifest, code)
}

/// The wrong answer this prevents: a refactor of the pipeline (or of any stage, renderer or
/// the bundle writer) that changes a byte of the report or of the bundle for the same inputs and
/// clock. The demo estate's bundle is replayed twice (same bytes both times) and compared with
/// `fixtures/demo/replay/MANIFEST`, which pins every file of the written bundle by digest (the
/// report among them). After an intended change: `VOUCH_BLESS=1 cargo nextest run -E
/// 'test(/replaying_the_demo_bundle/)'`, and review the diff.
#[tokio::test(flavor = "multi_thread")]
async fn replaying_the_demo_bundle_gives_the_same_report_and_bundle_byte_for_byte() {
    // Relative paths: the report records them, and tests run in the repository's root.
    assert!(Path::new("fixtures/demo/bundle/MANIFEST").exists());
    let out = Path::new("target/vouch-test-pipeline/replayed");
    let (first, manifest, code) = replay_demo(out).await;
    let (second, again, _) = replay_demo(out).await;
    assert!(first == second && manifest == again, "two replays differ");
    assert_eq!(code, vouch::exit::FAILED, "the demo estate shows failures");
    assert_eq!(first, std::fs::read(out.join("report.json")).unwrap());
    // The MANIFEST pins every file of the written bundle by digest, report.json (= stdout)
    // included.
    let golden = repo().join("fixtures/demo/replay/MANIFEST");
    if std::env::var_os("VOUCH_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &manifest).unwrap();
    }
    let pinned = std::fs::read_to_string(&golden).unwrap();
    if manifest != pinned {
        let keep = Path::new("target/vouch-test-pipeline/report.json");
        std::fs::write(keep, &first).unwrap();
        panic!(
            "the replayed bundle differs from {} (the report is kept in {} for a diff):\n{manifest}",
            golden.display(),
            keep.display()
        );
    }
    let _ = std::fs::remove_dir_all(out);
}
