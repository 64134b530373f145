//! `vouch probe`: a spot check, one probe on one target (or a `*` pattern), facts printed as
//! they are; `vouch probe --facts KIND` lists what a probe declares.

use std::sync::Arc;

use anyhow::Result;

use super::{ProbeArgs, ProbeFormat, load_inventory, registry_for, report_diagnostics, runtime};
use crate::diag::Diagnostics;
use crate::exit;
use crate::pipeline::spot;
use crate::probe::{Observation, Probe, ProbeContext, ProbeError, ProbeOptions};
use crate::report::{catalog, table};

pub(super) fn run(args: &ProbeArgs, color: bool) -> Result<u8> {
    let mut diags = Diagnostics::new();
    let inv = load_inventory(&args.inv, &mut diags)?;
    if report_diagnostics(&diags, color) {
        return Ok(exit::INVALID);
    }
    let registry = registry_for(&inv, args.inv.timeout, &mut diags)?;
    if report_diagnostics(&diags, color) {
        return Ok(exit::INVALID);
    }
    let Some(kind) = &args.kind else {
        print!("{}", catalog::probes(&registry));
        return Ok(exit::PASS);
    };
    let Some(probe) = registry.get(kind) else {
        eprintln!(
            "error: unknown probe `{kind}`; known probes: {}",
            registry.kinds().join(", ")
        );
        if let Some(name) = kind.strip_prefix(crate::probe::plugin::PREFIX) {
            eprintln!(
                "hint: name the plugin with --plugin {name}=PATH or `[plugins] {name} = \"PATH\"` in vouch.toml (docs/plugins.md)"
            );
        }
        return Ok(exit::INVALID);
    };
    if args.facts {
        let json = args.format == ProbeFormat::Json;
        print!("{}", catalog::facts(probe.as_ref(), json)?);
        return Ok(exit::PASS);
    }
    let Some(target) = &args.target else {
        eprintln!(
            "error: give a target ({}), or --facts to list the facts of `{kind}`",
            probe.target_syntax()
        );
        return Ok(exit::INVALID);
    };
    if let Err(e) = probe.check_target(target) {
        eprintln!(
            "error: `{target}` is not a valid {kind} target: {e}; expected {}",
            probe.target_syntax()
        );
        return Ok(exit::INVALID);
    }
    if let Some(profile) = args.profile {
        return profile_check(inv, kind, target, profile, args, color);
    }
    let ctx = context(inv, args, probe.as_ref());
    if probe.is_pattern(target) {
        return pattern(probe, target, ctx, args, color);
    }
    one(probe.as_ref(), target, ctx, args, color)
}

/// `vouch probe tls TARGET --profile NAME`: a check run of the profile's built-in pack on this
/// one target (the pack holds every rule; the run tells the probe which facts it needs), each
/// deviation printed in words. A target without a scheme is taken as `https://TARGET`, so the
/// pack's HSTS control (an `http` probe) reads the same endpoint. Nothing is filed in a store.
fn profile_check(
    inv: crate::inventory::Inventory,
    kind: &str,
    target: &str,
    profile: super::MozillaProfile,
    args: &ProbeArgs,
    color: bool,
) -> Result<u8> {
    let name = profile.pack().trim_start_matches("builtin:mozilla-");
    if kind != "tls" {
        eprintln!(
            "error: --profile judges a TLS endpoint: `vouch probe tls TARGET --profile {name}`"
        );
        return Ok(exit::INVALID);
    }
    let target = if target.contains("://") {
        target.to_string()
    } else {
        format!("https://{target}")
    };
    let outcome = match run_pack(inv, profile.pack(), &target, args, color)? {
        Ok(outcome) => outcome,
        Err(code) => return Ok(code),
    };
    if args.format == ProbeFormat::Json {
        println!("{}", serde_json::to_string_pretty(&outcome.report)?);
    } else {
        let heading =
            format!("{target} against Mozilla's {name} profile (server-side TLS guidelines 5.7)");
        print!(
            "{}",
            crate::report::deviations::render(&outcome.report, &heading)
        );
    }
    Ok(outcome.code)
}

/// A check run of one built-in `pack` on one `target`, filed nowhere; `Err(code)` when the run
/// was refused (its diagnostics printed).
fn run_pack(
    mut inv: crate::inventory::Inventory,
    pack: &str,
    target: &str,
    args: &ProbeArgs,
    color: bool,
) -> Result<std::result::Result<crate::pipeline::Outcome, u8>> {
    use crate::pipeline::{Context, Notice, Options, Plan, Refusal, Sources};
    inv.store = Default::default();
    let sources = Sources {
        controls: vec![std::path::PathBuf::from(pack)],
        ..Sources::default()
    };
    let options = Options {
        targets: vec![target.to_string()],
        engine: crate::engine::EngineOptions {
            timeout: args.inv.timeout,
            ..crate::engine::EngineOptions::default()
        },
        cloud_concurrency: args.inv.aws_concurrency.max(1),
        ..Options::default()
    };
    let ctx = Context::new().with_notices(move |n| match n {
        Notice::Diagnostics(d) => {
            report_diagnostics(&d, color);
        }
        Notice::Warning(w) => eprintln!("warning: {w}"),
        _ => {}
    });
    let res = runtime()?.block_on(async {
        let plan = Plan::load(sources, inv, Diagnostics::new(), options, &ctx).await?;
        let observed = plan.observe(&ctx).await?;
        Ok::<_, Refusal>(observed.evaluate(ctx.now()).waive().gate())
    });
    match res {
        Ok(o) => Ok(Ok(o)),
        Err(Refusal::Invalid(d)) => {
            report_diagnostics(&d, color);
            Ok(Err(exit::INVALID))
        }
        Err(Refusal::Usage(m)) => {
            eprintln!("error: {m}");
            Ok(Err(exit::INVALID))
        }
        Err(Refusal::Error(e)) => Err(e),
    }
}

/// The probe context; with `--ciphers`, the TLS probe is told the cipher and group facts are
/// wanted.
fn context(inv: crate::inventory::Inventory, args: &ProbeArgs, probe: &dyn Probe) -> ProbeContext {
    let ctx = ProbeContext::new(
        Arc::new(inv),
        ProbeOptions {
            timeout: args.inv.timeout,
            cloud_concurrency: args.inv.aws_concurrency.max(1),
            ..ProbeOptions::default()
        },
    );
    if !args.ciphers {
        return ctx;
    }
    let facts = probe
        .facts()
        .iter()
        .filter(|f| f.path.starts_with("ciphers.") || f.path.starts_with("groups."))
        .map(|f| f.path.to_string())
        .collect();
    ctx.with_facts_used([(probe.kind().to_string(), facts)].into())
}

/// One target: its observation as a table or JSON; exit 3 when it could not be observed.
fn one(
    probe: &dyn Probe,
    target: &str,
    ctx: ProbeContext,
    args: &ProbeArgs,
    color: bool,
) -> Result<u8> {
    let params = spot::parse_params(probe, &args.param)?;
    let res = runtime()?.block_on(spot::observe_one(
        probe,
        target,
        &params,
        &ctx,
        args.inv.timeout,
    ));
    match res {
        Ok(obs) => {
            let text = match args.format {
                ProbeFormat::Json => serde_json::to_string_pretty(&obs)? + "\n",
                ProbeFormat::Table => probe
                    .render(&obs)
                    .unwrap_or_else(|| table::observation(&obs, color)),
            };
            print!("{text}");
            Ok(exit::PASS)
        }
        Err(e) => {
            if args.format == ProbeFormat::Json {
                let item = serde_json::json!({"probe": probe.kind(), "target": target, "error": e});
                println!("{}", serde_json::to_string_pretty(&item)?);
            }
            say_error(target, &e);
            Ok(exit::UNOBSERVED)
        }
    }
}

/// `vouch probe KIND '*'`: every resource found, observed and printed together (one table when
/// the probe renders many at once); exit 3 when discovery or any observation failed.
fn pattern(
    probe: Arc<dyn Probe>,
    pattern: &str,
    ctx: ProbeContext,
    args: &ProbeArgs,
    color: bool,
) -> Result<u8> {
    let kind = probe.kind();
    let params = spot::parse_params(probe.as_ref(), &args.param)?;
    let res = runtime()?.block_on(spot::observe_pattern(
        probe.clone(),
        pattern,
        &params,
        &ctx,
        args.inv.timeout,
    ));
    let results = match res {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not discover {kind} {pattern}: {}", e.message);
            if let Some(h) = &e.hint {
                eprintln!("hint: {h}");
            }
            return Ok(exit::UNOBSERVED);
        }
    };
    let (seen, failed) = split(results);
    print!(
        "{}",
        render_many(probe.as_ref(), &seen, &failed, args.format, color)?
    );
    for (t, e) in &failed {
        say_error(t, e);
    }
    eprintln!(
        "{kind} {pattern}: {} found, {} observed, {} could not be observed",
        seen.len() + failed.len(),
        seen.len(),
        failed.len()
    );
    Ok(if failed.is_empty() {
        exit::PASS
    } else {
        exit::UNOBSERVED
    })
}

type Failed = Vec<(String, ProbeError)>;

fn split(results: Vec<(String, Result<Observation, ProbeError>)>) -> (Vec<Observation>, Failed) {
    let mut seen = Vec::new();
    let mut failed = Vec::new();
    for (t, r) in results {
        match r {
            Ok(o) => seen.push(o),
            Err(e) => failed.push((t, e)),
        }
    }
    (seen, failed)
}

fn render_many(
    probe: &dyn Probe,
    seen: &[Observation],
    failed: &Failed,
    format: ProbeFormat,
    color: bool,
) -> Result<String> {
    Ok(match format {
        ProbeFormat::Json => {
            let mut items: Vec<serde_json::Value> = seen
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<_, _>>()?;
            items.extend(
                failed.iter().map(
                    |(t, e)| serde_json::json!({"probe": probe.kind(), "target": t, "error": e}),
                ),
            );
            serde_json::to_string_pretty(&items)? + "\n"
        }
        ProbeFormat::Table => probe.render_all(seen).unwrap_or_else(|| {
            seen.iter()
                .map(|o| {
                    probe
                        .render(o)
                        .unwrap_or_else(|| table::observation(o, color))
                })
                .collect::<Vec<_>>()
                .join("\n")
        }),
    })
}

fn say_error(target: &str, e: &ProbeError) {
    eprintln!("error: could not observe {target}: {}", e.message);
    if let Some(h) = &e.hint {
        eprintln!("hint: {h}");
    }
}
