//! `vouch check`: flags → [`crate::pipeline::check`] → exit code. The terminal's part lives
//! here (the progress bar, Ctrl-C/SIGTERM, printing notices on stderr); every rule lives in the
//! pipeline.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::{CheckArgs, load_inventory, report_diagnostics, runtime, trust_of};
use crate::diag::Diagnostics;
use crate::engine::{EngineOptions, Interrupt, Progress, ProgressFn};
use crate::exit;
use crate::pipeline::{self, Bundle, Context, Notice, Options, Refusal, Sources, sink};

pub(super) fn run(args: &CheckArgs, color: bool, quiet: bool) -> Result<u8> {
    let mut diags = Diagnostics::new();
    let inv = load_inventory(&args.inv, &mut diags)?;
    // A replay observes nothing: no bar.
    let live = args.evidence.from_evidence.is_none();
    let bar = (live && !quiet && std::io::stderr().is_terminal()).then(progress_bar);
    let ctx = context(bar.clone(), color, quiet);
    let sources = Sources {
        controls: args.controls.clone(),
        bundle: bundle(args, &ctx)?,
        waivers: args.evidence.waivers.clone(),
    };
    let outputs = sink::Outputs {
        format: args.format,
        files: args.output.clone(),
        color,
    };
    let mut options = options(args);
    options.shard = match (&args.shard.shard, args.shard.shard_from_env) {
        (Some(spec), _) => Some(*spec),
        (None, true) => match crate::shard::from_env(args.shard.shard_count.unwrap_or(0)) {
            Ok(spec) => Some(spec),
            Err(message) => {
                eprintln!("error: {message}");
                return Ok(exit::INVALID);
            }
        },
        (None, false) => None,
    };
    let rt = runtime()?;
    let mut stdout = std::io::stdout();
    let res = rt.block_on(pipeline::check(
        sources,
        inv,
        diags,
        options,
        &outputs,
        &ctx,
        &mut stdout,
    ));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match res {
        Ok(code) => Ok(code),
        Err(Refusal::Invalid(diags)) => {
            report_diagnostics(&diags, color);
            Ok(exit::INVALID)
        }
        Err(Refusal::Usage(message)) => {
            eprintln!("error: {message}");
            Ok(exit::INVALID)
        }
        Err(Refusal::Error(e)) => Err(e),
    }
}

/// `--from-evidence DIR`: the bundle, verified before anything else (its controls and waivers
/// are taken from the verified bytes).
fn bundle(args: &CheckArgs, ctx: &Context) -> Result<Option<Bundle>> {
    let ev = &args.evidence;
    let Some(dir) = &ev.from_evidence else {
        return Ok(None);
    };
    let trust = trust_of(
        ev.public_key.as_deref(),
        ev.signer.as_ref(),
        ev.allow_unsigned,
    )?;
    Bundle::open(dir.clone(), &trust, ev.replay_at, ctx).map(Some)
}

fn options(args: &CheckArgs) -> Options {
    Options {
        only: args.only.clone(),
        tags: args.tag.clone(),
        targets: args.target.clone(),
        strict: args.strict,
        engine: EngineOptions {
            concurrency: args.concurrency.max(1),
            per_host: args.per_host.max(1),
            timeout: args.inv.timeout,
            fail_on: args.fail_on,
            ..EngineOptions::default()
        },
        cloud_concurrency: args.inv.aws_concurrency,
        evidence_dir: args.evidence.evidence_dir.clone(),
        sign_key: args.evidence.sign_key.clone(),
        timestamp_url: args.evidence.timestamp_url.clone(),
        shard: None,
        store: args.evidence.store.clone(),
        notify: args.evidence.notify.clone(),
        baseline: args.evidence.baseline.clone(),
        fail_on_new: args.evidence.fail_on_new,
    }
}

/// The run's context: the system clock, the signal handler, the progress bar, and notices on
/// stderr (`--quiet` keeps the informational ones back).
fn context(bar: Option<indicatif::ProgressBar>, color: bool, quiet: bool) -> Context {
    let mut ctx = Context::new()
        .with_interrupt(interrupt_on_signal)
        .with_notices(move |n: Notice| match n {
            Notice::Diagnostics(d) => {
                eprint!("{}", d.render(color && std::io::stderr().is_terminal()));
            }
            n if quiet && n.is_info() => {}
            n => eprintln!("{n}"),
        });
    if let Some(bar) = bar {
        let progress: ProgressFn = Arc::new(move |p: Progress| match p {
            Progress::Planned(n) => bar.set_length(n as u64),
            Progress::Observed { .. } => bar.inc(1),
            Progress::Done => bar.finish_and_clear(),
        });
        ctx = ctx.with_progress(progress);
    }
    ctx
}

/// A hidden bar, revealed when the run takes more than a moment (even if no target has answered
/// yet).
fn progress_bar() -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::hidden());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} observing {pos}/{len} {wide_bar} {elapsed}",
        )
        .expect("valid template"),
    );
    let shown = bar.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        if !shown.is_finished() {
            shown.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            shown.enable_steady_tick(Duration::from_millis(120));
        }
    });
    bar
}

/// Resolves at the first SIGINT (Ctrl-C) or SIGTERM (a CI runner or a Kubernetes pod being
/// stopped): the engine stops and the report is written, marked incomplete. A second signal
/// exits at once (code 3: nothing more was observed). Called inside the runtime, when a live
/// run starts observing.
fn interrupt_on_signal() -> Result<Interrupt> {
    let (tx, rx) = tokio::sync::oneshot::channel::<&'static str>();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            let _ = tx.send(name);
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
            eprintln!("second signal: stopping at once; no report written");
            std::process::exit(i32::from(exit::UNOBSERVED));
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = tx.send("Ctrl-C");
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("second signal: stopping at once; no report written");
                std::process::exit(i32::from(exit::UNOBSERVED));
            }
        }
    });
    Ok(Box::pin(async move {
        match rx.await {
            Ok(name) => eprintln!(
                "\n{name}: writing what was observed (the report is marked incomplete); \
                 a second signal stops at once"
            ),
            // No handler: never interrupt.
            Err(_) => futures::future::pending::<()>().await,
        }
    }))
}
