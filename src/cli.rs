//! The command line: clap definitions and dispatch. Each subcommand loads what it needs through
//! the library, runs it, writes its output, and returns an exit code from [`crate::exit`].
//! stdout carries only the report (or the listing asked for); progress, logs and diagnostics go
//! to stderr.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::control::{self, Control, Severity, Source, Targets};
use crate::diag::Diagnostics;
use crate::engine::{self, EngineOptions, Progress};
use crate::exit;
use crate::expect::{display_json, parse_duration};
use crate::inventory::Inventory;
use crate::probe::{Params, ProbeContext, ProbeOptions, Registry, attestation};
use crate::report::{self, Format, Report, Style};
use crate::{diff, evidence, waiver};

mod history;
mod stored;

const CHECK_EXAMPLES: &str = "\
Examples:
  vouch check                                  # built-in controls, ./vouch.toml
  vouch check --controls controls/ --inventory prod.toml --format json --output report.json
  vouch check --only ENC-TRANSIT-TLS12 --target app.example.com:443
  vouch check --tag encryption --fail-on high --format junit --output junit.xml
  vouch check --output html=report.html --output junit=junit.xml --output sarif=vouch.sarif

Exit codes: 0 nothing failed at or above --fail-on; 1 something failed; 2 usage, configuration
or validation error; 3 nothing failed but something could not be observed.

Evidence, replay, waivers and drift:
  vouch check --evidence-dir evidence/2026-11-29 --sign-key audit.key
  vouch check --from-evidence evidence/2026-11-29 --public-key audit.pub   # verify, then replay
  vouch check --waivers waivers.toml
  vouch check --format json --output new.json --baseline old.json --fail-on-new";

const COVERAGE_EXAMPLES: &str = "\
Examples:
  vouch coverage                               # SOC 2, built-in controls
  vouch coverage --controls controls/ --controls extra.toml --format markdown
  vouch coverage --framework my-framework.toml --format json";

const PROBE_EXAMPLES: &str = "\
Examples:
  vouch probe tls app.example.com              # versions, certificate, days left
  vouch probe http example.com --format json   # one observation as JSON
  vouch probe --facts tls                      # the facts a probe declares
  vouch probe attestation pentest-2026 --attestations attestations.toml
  vouch probe plugin:dns example.com --plugin dns=examples/plugins/dns/vouch-dns
  vouch probe --facts plugin:dns --plugin dns=examples/plugins/dns/vouch-dns";

/// vouch turns security promises into controls that run, with evidence an auditor can file.
#[derive(Debug, Parser)]
#[command(name = "vouch", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More logging on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr; no progress bar.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Colour: auto (only on a terminal, never with NO_COLOR), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
// Parsed once per process: the size of the largest variant (check's flags) costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run controls against the inventory and report the verdicts.
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Spot check: observe one target with one probe and print the facts.
    #[command(after_help = PROBE_EXAMPLES)]
    Probe(ProbeArgs),
    /// Lint control files (all problems, with file:line:col); exit 2 on any error.
    #[command(
        after_help = "Examples:\n  vouch validate                   # the built-in library\n  vouch validate controls/ extra.toml --inventory vouch.toml"
    )]
    Validate(ValidateArgs),
    /// Framework coverage: per criterion, the controls that evidence it, and the criteria none does.
    #[command(after_help = COVERAGE_EXAMPLES)]
    Coverage(CoverageArgs),
    /// List controls with their claims, probes, severities and framework mappings.
    #[command(
        after_help = "Examples:\n  vouch list\n  vouch list --controls controls/ --format json"
    )]
    List(ListArgs),
    /// Check an evidence bundle: every file against MANIFEST, nothing missing or extra, and its
    /// signature by the key given (--public-key) or pinned (--signer). An unsigned bundle, or one
    /// signed by a key not given, passes only with --allow-unsigned (digests only). Exit 0 only
    /// when all holds, else 1 naming each problem.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Make an Ed25519 key pair for signing evidence bundles (PREFIX.key 0600, PREFIX.pub).
    #[command(after_help = KEYGEN_EXAMPLES)]
    Keygen(KeygenArgs),
    /// Compare two JSON reports: regressions, fixes, new and removed controls and targets.
    /// Exit 1 when something regressed (pass → fail/error), else 0.
    #[command(after_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// Evidence over the audit period: per control and target, the share of passing runs,
    /// exceptions, gaps and the verdict for the period, from the verified runs of a store;
    /// with --at, the run an auditor's sample asks for.
    #[command(after_help = history::HISTORY_EXAMPLES)]
    History(history::HistoryArgs),
    /// Print shell completions.
    #[command(
        after_help = "Examples:\n  vouch completions bash > /etc/bash_completion.d/vouch\n  vouch completions zsh > ~/.zfunc/_vouch"
    )]
    Completions { shell: clap_complete::Shell },
}

/// Where controls, the inventory and attestations come from, and per-run inventory overrides.
#[derive(Debug, Args, Clone)]
pub struct InventoryArgs {
    /// The inventory file (default: ./vouch.toml when present).
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// The attestations file (overrides the inventory's `attestations`).
    #[arg(long, value_name = "FILE")]
    pub attestations: Option<PathBuf>,
    /// Connect to another address, keeping the name for SNI and checks (curl syntax).
    #[arg(long, value_name = "NAME:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// Extra trust roots (PEM), on top of the system's (overrides `[tls] ca_file`).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Which addresses of a name the TLS probe scans: 4, 6 or any (overrides `[tls] ip_family`).
    #[arg(long, value_name = "4|6|any", value_parser = crate::inventory::IpFamily::parse)]
    pub ip_family: Option<crate::inventory::IpFamily>,
    /// Chromium's transport_security_state_static.json (overrides `[http] preload_list`).
    #[arg(long, value_name = "FILE")]
    pub preload_list: Option<PathBuf>,
    /// AWS profile (overrides `[aws] profile`).
    #[arg(long, value_name = "NAME")]
    pub aws_profile: Option<String>,
    /// AWS region (overrides `[aws] region`).
    #[arg(long, value_name = "REGION")]
    pub aws_region: Option<String>,
    /// Regions a `*` target of a regional AWS service covers, comma-separated, or `enabled` for
    /// every region enabled in the account (overrides `[aws] regions`; default: the home region).
    #[arg(long, value_name = "REGIONS", value_delimiter = ',')]
    pub aws_regions: Option<Vec<String>>,
    /// AWS API endpoint, e.g. an emulator (overrides `[aws] endpoint_url` and AWS_ENDPOINT_URL).
    #[arg(long, value_name = "URL")]
    pub aws_endpoint_url: Option<String>,
    /// An external probe, used as `probe = "plugin:NAME"` (repeatable; overrides `[plugins] NAME`).
    #[arg(long = "plugin", value_name = "NAME=PATH")]
    pub plugins: Vec<String>,
    /// Per-observation timeout, e.g. 10s, 500ms is not accepted: use whole seconds or 1m.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Concurrent calls per cloud service.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub aws_concurrency: usize,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Control file or folder (repeatable). Default: the built-in library.
    #[arg(long, value_name = "PATH")]
    pub controls: Vec<PathBuf>,
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Only this control id (repeatable).
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// Only controls with this tag (repeatable).
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
    /// Run the selected controls against this target instead of theirs (repeatable).
    #[arg(long, value_name = "TARGET")]
    pub target: Vec<String>,
    /// Report format on stdout (or in a plain --output FILE).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE (atomically) instead of stdout; FORMAT=FILE also writes that
    /// format, beside stdout (repeatable: --output html=report.html --output junit=junit.xml).
    #[arg(long, short, value_name = "[FORMAT=]FILE", value_parser = parse_output)]
    pub output: Vec<(Option<Format>, PathBuf)>,
    /// Lowest severity whose failures make the exit code 1.
    #[arg(long, value_enum, default_value_t = Severity::Low)]
    pub fail_on: Severity,
    /// Observations in flight at once.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub concurrency: usize,
    /// Observations in flight against one host at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub per_host: usize,
    /// Treat warnings (an inventory group a control names that the inventory does not define)
    /// as errors: exit 2 before anything runs.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The probe kind (tls, http, aws.s3, attestation, …); alone, lists its facts with --facts.
    pub kind: Option<String>,
    /// The target, in the probe's syntax.
    pub target: Option<String>,
    /// Print the facts KIND declares (path, type, meaning) instead of observing.
    #[arg(long)]
    pub facts: bool,
    /// A probe parameter, `name=value` (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    pub param: Vec<String>,
    /// tls: also enumerate the cipher suites each accepted version accepts (N+1 connections per
    /// version for N suites).
    #[arg(long)]
    pub ciphers: bool,
    #[arg(long, value_enum, default_value_t = ProbeFormat::Table)]
    pub format: ProbeFormat,
    #[command(flatten)]
    pub inv: InventoryArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProbeFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Control files or folders. Default: the built-in library.
    pub paths: Vec<PathBuf>,
    /// Also check target groups against this inventory (default: ./vouch.toml when present).
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// An external probe the controls name as `plugin:NAME` (repeatable; see `vouch check`).
    #[arg(long = "plugin", value_name = "NAME=PATH")]
    pub plugins: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Control file or folder (repeatable). Default: the built-in library.
    #[arg(long, value_name = "PATH")]
    pub controls: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
    /// The claims, each with the controls behind it and how they are checked (docs/claims.md).
    Markdown,
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// A built-in framework (soc2) or a catalogue file (`[[criterion]]` tables with id, title).
    #[arg(long, value_name = "NAME", default_value = "soc2")]
    pub framework: String,
    /// Control file or folder (repeatable). Default: the built-in library.
    #[arg(long, value_name = "PATH")]
    pub controls: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = CoverageFormat::Table)]
    pub format: CoverageFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CoverageFormat {
    Table,
    Json,
    Markdown,
}

/// `--output FILE` or `--output FORMAT=FILE` (only when FORMAT names a format, so a file name
/// with `=` in it still works).
fn parse_output(s: &str) -> Result<(Option<Format>, PathBuf), String> {
    if let Some((f, path)) = s.split_once('=') {
        if let Ok(format) = Format::from_str(f, true) {
            if path.is_empty() {
                return Err(format!("give a file after `{f}=`"));
            }
            return Ok((Some(format), PathBuf::from(path)));
        }
    }
    Ok((None, PathBuf::from(s)))
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs = parse_duration(s)?;
    if secs == 0 {
        return Err("the timeout must be at least 1s".into());
    }
    Ok(Duration::from_secs(secs))
}

impl Cli {
    /// Whether to colour output on stdout.
    pub fn color(&self) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        }
    }
}

/// Runs the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    init_logging(&cli);
    let color = cli.color();
    match &cli.command {
        Command::Check(args) => check(args, color, cli.quiet),
        Command::Probe(args) => probe(args, color),
        Command::Validate(args) => validate(args, color),
        Command::Coverage(args) => coverage(args),
        Command::List(args) => list(args),
        Command::Verify(args) => verify(args),
        Command::Keygen(args) => keygen(args),
        Command::Diff(args) => diff(args),
        Command::History(args) => history::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "vouch", &mut std::io::stdout());
            Ok(exit::PASS)
        }
    }
}

fn init_logging(cli: &Cli) {
    let level = if cli.quiet {
        "error"
    } else {
        match cli.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("VOUCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("vouch={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .without_time()
        .try_init();
}

/// Prints diagnostics to stderr; returns whether there were errors.
fn report_diagnostics(diags: &Diagnostics, color: bool) -> bool {
    if !diags.items.is_empty() {
        let color = color && std::io::stderr().is_terminal();
        eprint!("{}", diags.render(color));
    }
    if diags.has_errors() {
        eprintln!(
            "error: {} problem{} found; nothing was checked",
            diags.error_count(),
            if diags.error_count() == 1 { "" } else { "s" }
        );
        true
    } else {
        false
    }
}

/// Loads the inventory (explicit, or ./vouch.toml when present) and applies the flags on top.
fn load_inventory(args: &InventoryArgs, diags: &mut Diagnostics) -> Result<Inventory> {
    let path = args.inventory.clone().or_else(|| {
        let default = PathBuf::from("vouch.toml");
        default.exists().then_some(default)
    });
    let mut inv = match &path {
        Some(p) => Inventory::load(p, diags).unwrap_or_default(),
        None => Inventory::default(),
    };
    for spec in &args.resolve {
        inv.add_resolve(spec)
            .map_err(anyhow::Error::msg)
            .context("--resolve")?;
    }
    for spec in &args.plugins {
        inv.add_plugin(spec)
            .map_err(anyhow::Error::msg)
            .context("--plugin")?;
    }
    if let Some(p) = &args.attestations {
        inv.attestations = Some(p.clone());
    }
    if let Some(p) = &args.ca_file {
        inv.tls.ca_file = Some(p.clone());
    }
    if let Some(f) = args.ip_family {
        inv.tls.ip_family = f;
    }
    if let Some(p) = &args.preload_list {
        inv.http.preload_list = Some(p.clone());
    }
    if let Some(p) = &args.aws_profile {
        inv.aws.profile = Some(p.clone());
    }
    if let Some(r) = &args.aws_region {
        inv.aws.region = Some(r.clone());
    }
    if let Some(u) = &args.aws_endpoint_url {
        inv.aws.endpoint_url = Some(u.clone());
    }
    if let Some(regions) = &args.aws_regions {
        let regions: Vec<String> = regions.iter().map(|r| r.trim().to_string()).collect();
        crate::inventory::check_regions(&regions)
            .map_err(anyhow::Error::msg)
            .context("--aws-regions")?;
        inv.aws.regions = Some(regions);
    }
    Ok(inv)
}

/// The built-in probes plus the inventory's plugins, each described once for this run; a plugin
/// that cannot be described is a diagnostic (exit 2).
fn registry_for(inv: &Inventory, timeout: Duration, diags: &mut Diagnostics) -> Result<Registry> {
    let mut registry = Registry::builtin();
    if !inv.plugins.is_empty() {
        runtime()?.block_on(crate::probe::plugin::register(
            &mut registry,
            inv,
            timeout,
            diags,
        ));
    }
    Ok(registry)
}

/// The registry for `list` and `coverage`, which take no inventory: the plugins of ./vouch.toml
/// when it is present and valid (its other problems are `check`'s to report).
fn registry_for_listing(diags: &mut Diagnostics) -> Result<Registry> {
    let path = PathBuf::from("vouch.toml");
    // Read twice: a broken inventory is ignored here, a valid one is registered with `diags` so
    // a plugin's diagnostic points into it.
    let valid = path.exists() && Inventory::load(&path, &mut Diagnostics::new()).is_some();
    let inv = valid.then(|| Inventory::load(&path, diags)).flatten();
    match inv {
        Some(inv) => registry_for(&inv, Duration::from_secs(10), diags),
        None => Ok(Registry::builtin()),
    }
}

fn probe_context(inv: Inventory, args: &InventoryArgs) -> ProbeContext {
    ProbeContext::new(
        Arc::new(inv),
        ProbeOptions {
            timeout: args.timeout,
            cloud_concurrency: args.aws_concurrency.max(1),
            ..ProbeOptions::default()
        },
    )
}

fn control_sources(paths: &[PathBuf]) -> Vec<Source> {
    if paths.is_empty() {
        control::builtin::sources()
    } else {
        paths.iter().cloned().map(Source::Path).collect()
    }
}

/// Checks that every attestation a control names exists in the attestations file.
fn check_attestations(controls: &[Control], inv: &Inventory, diags: &mut Diagnostics) {
    let users: Vec<&Control> = controls
        .iter()
        .filter(|c| c.probe == "attestation")
        .collect();
    if users.is_empty() {
        return;
    }
    let Some(path) = &inv.attestations else {
        // The probe itself reports the missing file as an `error` with a hint, per target.
        return;
    };
    let entries = attestation::load(path, diags);
    if diags.has_errors() {
        return;
    }
    for c in users {
        let Targets::List(targets) = &c.targets else {
            continue;
        };
        for (t, span) in targets.iter().zip(&c.origin.target_spans) {
            if !entries.iter().any(|a| &a.id == t) {
                let ids: Vec<&str> = entries.iter().map(|a| a.id.as_str()).collect();
                diags.error(
                    c.origin.file,
                    span.clone(),
                    "unknown-attestation",
                    format!("no attestation `{t}` in {}", path.display()),
                    format!("attestations on file: {}", ids.join(", ")),
                );
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn check(args: &CheckArgs, color: bool, quiet: bool) -> Result<u8> {
    let mut diags = Diagnostics::new();
    let inv = load_inventory(&args.inv, &mut diags)?;
    // A replay verifies its bundle before anything else, and takes its controls and waivers
    // from the verified bytes.
    let recorded = match &args.evidence.from_evidence {
        Some(dir) => {
            let trust = replay_trust(&args.evidence)?;
            let recorded = evidence::replay::load(dir, &trust)?;
            if !quiet {
                eprintln!("{}", signature_line(dir, &recorded.signature));
            }
            Some(recorded)
        }
        None => None,
    };
    let registry = match &recorded {
        // A replay runs no probe, plugins included: they are known from the verified bundle's
        // record.
        Some(recorded) => {
            let mut registry = Registry::builtin();
            crate::probe::plugin::register_recorded(&mut registry, &recorded.report.run.context);
            registry
        }
        None if diags.has_errors() => Registry::builtin(),
        None => registry_for(&inv, args.inv.timeout, &mut diags)?,
    };
    // Built-in controls name groups a given estate may not have: those become `n/a` with the
    // reason at run time. User-written controls must name groups the inventory defines.
    // `inv.path` is set exactly when an inventory file (given or ./vouch.toml) was read.
    let group_check = (!args.controls.is_empty() && inv.path.is_some()).then_some(&inv);
    let sources = evidence_sources(args, recorded.as_ref());
    let mut controls = control::load_controls(&sources, &registry, group_check, &mut diags);
    if args.evidence.from_evidence.is_none() {
        // A replay reads no attestation: the auditor need not have the files.
        check_attestations(&controls, &inv, &mut diags);
    }
    let waivers = load_waivers(
        &args.evidence,
        &inv,
        recorded.as_ref(),
        &controls,
        &mut diags,
    );
    if report_diagnostics(&diags, color) {
        return Ok(exit::INVALID);
    }
    for id in &args.only {
        if !controls.iter().any(|c| &c.id == id) {
            eprintln!(
                "error: --only {id}: no such control; `vouch list` shows the {} available",
                controls.len()
            );
            return Ok(exit::INVALID);
        }
    }
    controls.retain(|c| {
        (args.only.is_empty() || args.only.contains(&c.id))
            && (args.tag.is_empty() || args.tag.iter().any(|t| c.tags.contains(t)))
    });
    if controls.is_empty() {
        eprintln!("error: no control matches the --only/--tag selection");
        return Ok(exit::INVALID);
    }
    if !args.target.is_empty() {
        for c in &controls {
            let probe = registry.get(&c.probe).expect("validated");
            for t in &args.target {
                if let Err(e) = probe.check_target(t) {
                    eprintln!(
                        "error: --target {t} is not a valid {} target for {}: {e}; expected {}",
                        c.probe,
                        c.id,
                        probe.target_syntax()
                    );
                    return Ok(exit::INVALID);
                }
            }
        }
    }

    if args.evidence.from_evidence.is_none() {
        let opts = EngineOptions {
            targets_override: args.target.clone(),
            ..EngineOptions::default()
        };
        let warnings = engine::undefined_groups(&controls, &inv, &opts);
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        if args.strict && !warnings.is_empty() {
            eprintln!(
                "error: --strict: {} warning{}; nothing was checked",
                warnings.len(),
                if warnings.len() == 1 { "" } else { "s" }
            );
            return Ok(exit::INVALID);
        }
    }
    let mut prep = prepare_evidence(&args.evidence, waivers, sources)?;
    if args.evidence.from_evidence.is_none() {
        prep.store = stored::open_for_check(
            args.evidence.store.as_deref(),
            args.evidence.evidence_dir.is_some(),
            &args.evidence.notify,
            &inv,
        )?;
    }
    if prep.key.is_some() && args.evidence.evidence_dir.is_none() && prep.store.is_none() {
        eprintln!(
            "error: --sign-key signs an evidence bundle: give --evidence-dir DIR or --store LOCATION"
        );
        return Ok(exit::INVALID);
    }
    if let (Some(dir), Some(recorded)) = (&args.evidence.from_evidence, &recorded) {
        if args.controls.is_empty() && args.only.is_empty() && args.tag.is_empty() {
            // The bundle's own controls: judge exactly the controls the original run judged.
            controls.retain(|c| recorded.report.controls.iter().any(|o| o.id == c.id));
        }
        let at = args.evidence.replay_at;
        let mut report = evidence::replay::replay(&controls, &registry, &inv, recorded, dir, at);
        if let Some(r) = &mut report.run.replay {
            r.waivers = Some(prep.waivers.source());
        }
        return finish_check(args, &controls, report, prep, color, quiet);
    }
    let ctx = probe_context(inv, &args.inv);
    let opts = EngineOptions {
        concurrency: args.concurrency.max(1),
        per_host: args.per_host.max(1),
        timeout: args.inv.timeout,
        targets_override: args.target.clone(),
        fail_on: args.fail_on,
    };
    let bar = (!quiet && std::io::stderr().is_terminal()).then(progress_bar);
    if let Some((bar, _)) = &bar {
        // Shown only when the run takes more than a moment, even if no target has answered yet.
        let bar = bar.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            if !bar.is_finished() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.enable_steady_tick(Duration::from_millis(120));
            }
        });
    }
    let progress = bar.clone().map(|(bar, _)| {
        Arc::new(move |p: Progress| match p {
            Progress::Planned(n) => bar.set_length(n as u64),
            Progress::Observed { .. } => bar.inc(1),
        }) as engine::ProgressFn
    });
    let rt = runtime()?;
    // Installed before discovery starts, and kept (with the runtime) until the report is out.
    let interrupt = {
        let _guard = rt.enter();
        interrupt_on_signal()?
    };
    let report = rt.block_on(engine::run(
        &controls,
        &registry,
        &ctx,
        &opts,
        progress,
        Some(interrupt),
    ));
    if let Some((bar, _)) = bar {
        bar.finish_and_clear();
    }
    let code = finish_check(args, &controls, report, prep, color, quiet);
    drop(rt);
    code
}

/// Resolves at the first SIGINT (Ctrl-C) or SIGTERM (a CI runner or a Kubernetes pod being
/// stopped): the engine stops and the report is written, marked incomplete. A second signal
/// exits at once (code 3: nothing more was observed). Must be called inside the runtime.
fn interrupt_on_signal() -> Result<engine::Interrupt> {
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

fn progress_bar() -> (indicatif::ProgressBar, Instant) {
    // Hidden until the timer in `check` reveals it.
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::hidden());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} observing {pos}/{len} {wide_bar} {elapsed}",
        )
        .expect("valid template"),
    );
    (bar, Instant::now())
}

/// The exit code a report earns: 1 when something failed at or above `fail_on`, else 3 when
/// something could not be observed, a control examined nothing or the run was interrupted,
/// else 0.
pub fn outcome(report: &Report, fail_on: Severity) -> u8 {
    if report.failed_at(fail_on) {
        exit::FAILED
    } else {
        unobserved_or_pass(report)
    }
}

/// 3 when the report proves less than it should (an `error`, a control that examined nothing,
/// an interrupted run), else 0.
fn unobserved_or_pass(report: &Report) -> u8 {
    if report.has_errors() || !report.run.complete || report.examined_nothing().next().is_some() {
        exit::UNOBSERVED
    } else {
        exit::PASS
    }
}

fn emit_report(report: &Report, format: Format, output: Option<&Path>, color: bool) -> Result<()> {
    let style = Style {
        color: color && output.is_none(),
        width: None,
    };
    let text = report::render(report, format, style)?;
    match output {
        Some(path) => write_atomic(path, text.as_bytes()),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a crash
/// never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // A report is for sharing: the temporary file's private mode would stick after the rename.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn probe(args: &ProbeArgs, color: bool) -> Result<u8> {
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
        println!("Probes (vouch probe --facts KIND lists a probe's facts):");
        for p in registry.all() {
            println!(
                "  {:<12} {} — target: {}",
                p.kind(),
                p.description(),
                p.target_syntax()
            );
        }
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
        print!(
            "{}",
            facts_table(probe.as_ref(), args.format == ProbeFormat::Json)?
        );
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
    let mut params = Params::new();
    for p in &args.param {
        let Some((name, value)) = p.split_once('=') else {
            bail!("--param {p}: write NAME=VALUE");
        };
        let Some(spec) = probe.params().iter().find(|s| s.path == name) else {
            eprintln!("error: probe `{kind}` takes no parameter `{name}`");
            return Ok(exit::INVALID);
        };
        // A TOML literal (`90`, `true`, `["a"]`) when it reads as one, else the bare string.
        let literal = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"));
        let parsed = literal
            .and_then(|v| crate::expect::Value::from_toml(spec.ty, &v).ok())
            .map_or_else(
                || crate::expect::Value::from_toml(spec.ty, &toml::Value::String(value.into())),
                Ok,
            )
            .map_err(|e| anyhow::anyhow!("--param {name}: {e}"))?;
        params.insert(name.to_string(), parsed.to_json());
    }
    let mut ctx = probe_context(inv, &args.inv);
    if args.ciphers {
        let facts = probe
            .facts()
            .iter()
            .filter(|f| f.path.starts_with("ciphers."))
            .map(|f| f.path.to_string())
            .collect();
        ctx = ctx.with_facts_used([(probe.kind().to_string(), facts)].into());
    }
    if probe.is_pattern(target) {
        return probe_pattern(probe, target, params, ctx, args, color);
    }
    let timeout = args.inv.timeout;
    let started = Instant::now();
    let res = runtime()?.block_on(async {
        tokio::time::timeout(timeout, probe.observe(target, &params, &ctx)).await
    });
    let res = match res {
        Ok(r) => r,
        Err(_) => Err(crate::probe::ProbeError::timeout(timeout)),
    };
    match res {
        Ok(mut obs) => {
            obs.duration_ms = started.elapsed().as_millis() as u64;
            obs.params = params;
            let text = match args.format {
                ProbeFormat::Json => serde_json::to_string_pretty(&obs)? + "\n",
                ProbeFormat::Table => probe
                    .render(&obs)
                    .unwrap_or_else(|| report::table::observation(&obs, color)),
            };
            print!("{text}");
            Ok(exit::PASS)
        }
        Err(e) => {
            if args.format == ProbeFormat::Json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "probe": kind, "target": target, "error": e,
                    }))?
                );
            }
            eprintln!("error: could not observe {target}: {}", e.message);
            if let Some(h) = &e.hint {
                eprintln!("hint: {h}");
            }
            Ok(exit::UNOBSERVED)
        }
    }
}

/// `vouch probe KIND '*'`: discover every resource, observe each (as `check` would: bounded,
/// timed), and print them together — one table when the probe renders many at once.
fn probe_pattern(
    probe: Arc<dyn crate::probe::Probe>,
    pattern: &str,
    params: Params,
    ctx: ProbeContext,
    args: &ProbeArgs,
    color: bool,
) -> Result<u8> {
    use crate::probe::{Observation, ProbeError};
    use futures::StreamExt;
    let timeout = args.inv.timeout;
    let kind = probe.kind();
    let res = runtime()?.block_on(async {
        let found = match tokio::time::timeout(timeout, probe.discover(pattern, &ctx)).await {
            Ok(r) => r?,
            Err(_) => return Err(ProbeError::timeout(timeout)),
        };
        let mut results: Vec<(String, Result<Observation, ProbeError>)> =
            futures::stream::iter(found.into_iter().map(|target| {
                let (probe, ctx, params) = (probe.clone(), ctx.clone(), params.clone());
                async move {
                    let started = Instant::now();
                    let res =
                        match tokio::time::timeout(timeout, probe.observe(&target, &params, &ctx))
                            .await
                        {
                            Ok(r) => r,
                            Err(_) => Err(ProbeError::timeout(timeout)),
                        };
                    let res = res.map(|mut obs| {
                        obs.duration_ms = started.elapsed().as_millis() as u64;
                        obs.params = params;
                        obs
                    });
                    (target, res)
                }
            }))
            .buffer_unordered(EngineOptions::default().concurrency)
            .collect()
            .await;
        results.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(results)
    });
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
    let (seen, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(|(_, r)| r.is_ok());
    let seen: Vec<Observation> = seen.into_iter().filter_map(|(_, r)| r.ok()).collect();
    let failed: Vec<(String, ProbeError)> = failed
        .into_iter()
        .filter_map(|(t, r)| r.err().map(|e| (t, e)))
        .collect();
    match args.format {
        ProbeFormat::Json => {
            let mut items: Vec<serde_json::Value> = seen
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<_, _>>()?;
            items.extend(
                failed
                    .iter()
                    .map(|(t, e)| serde_json::json!({"probe": kind, "target": t, "error": e})),
            );
            println!("{}", serde_json::to_string_pretty(&items)?);
        }
        ProbeFormat::Table => {
            let text = probe.render_all(&seen).unwrap_or_else(|| {
                seen.iter()
                    .map(|o| {
                        probe
                            .render(o)
                            .unwrap_or_else(|| report::table::observation(o, color))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            print!("{text}");
        }
    }
    for (t, e) in &failed {
        eprintln!("error: could not observe {t}: {}", e.message);
        if let Some(h) = &e.hint {
            eprintln!("hint: {h}");
        }
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

fn facts_table(probe: &dyn crate::probe::Probe, json: bool) -> Result<String> {
    if json {
        return Ok(serde_json::to_string_pretty(&serde_json::json!({
            "probe": probe.kind(),
            "target": probe.target_syntax(),
            "facts": probe.facts(),
            "params": probe.params(),
        }))? + "\n");
    }
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(vec!["fact", "type", "meaning"]);
    for f in probe.facts() {
        t.add_row(vec![f.path, f.ty.name(), f.doc]);
    }
    let mut out = format!(
        "{} — {}\ntarget: {}\n{t}\n",
        probe.kind(),
        probe.description(),
        probe.target_syntax()
    );
    if !probe.params().is_empty() {
        let mut p = comfy_table::Table::new();
        p.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_header(vec!["param", "type", "meaning"]);
        for f in probe.params() {
            p.add_row(vec![f.path, f.ty.name(), f.doc]);
        }
        out.push_str(&format!("params:\n{p}\n"));
    }
    Ok(out)
}

fn validate(args: &ValidateArgs, color: bool) -> Result<u8> {
    let mut diags = Diagnostics::new();
    let inv_path = args.inventory.clone().or_else(|| {
        let d = PathBuf::from("vouch.toml");
        (d.exists() && !args.paths.is_empty()).then_some(d)
    });
    let mut inv = inv_path
        .as_ref()
        .and_then(|p| Inventory::load(p, &mut diags));
    if !args.plugins.is_empty() {
        let inv = inv.get_or_insert_with(Inventory::default);
        for spec in &args.plugins {
            inv.add_plugin(spec)
                .map_err(anyhow::Error::msg)
                .context("--plugin")?;
        }
    }
    let registry = match &inv {
        Some(inv) => registry_for(inv, Duration::from_secs(10), &mut diags)?,
        None => Registry::builtin(),
    };
    let controls = control::load_controls(
        &control_sources(&args.paths),
        &registry,
        inv.as_ref(),
        &mut diags,
    );
    if let Some(inv) = &inv {
        check_attestations(&controls, inv, &mut diags);
    }
    if report_diagnostics(&diags, color) {
        return Ok(exit::INVALID);
    }
    let files: std::collections::BTreeSet<_> = controls.iter().map(|c| &c.origin.path).collect();
    println!(
        "ok: {} control{} in {} file{} are valid",
        controls.len(),
        if controls.len() == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
    Ok(exit::PASS)
}

fn list(args: &ListArgs) -> Result<u8> {
    let mut diags = Diagnostics::new();
    let registry = registry_for_listing(&mut diags)?;
    let controls = control::load_controls(
        &control_sources(&args.controls),
        &registry,
        None,
        &mut diags,
    );
    if report_diagnostics(&diags, false) {
        return Ok(exit::INVALID);
    }
    match args.format {
        ListFormat::Json => {
            let items: Vec<serde_json::Value> = controls.iter().map(list_entry).collect();
            println!("{}", serde_json::to_string_pretty(&items)?);
        }
        ListFormat::Markdown => print!("{}", claims_markdown(&controls)),
        ListFormat::Table => {
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
                .set_header(vec!["id", "severity", "probe", "claim", "criteria"]);
            for c in &controls {
                let criteria = c
                    .frameworks
                    .iter()
                    .map(|(f, ids)| format!("{f}: {}", ids.join(", ")))
                    .collect::<Vec<_>>()
                    .join("\n");
                let claim = if c.claim.is_empty() {
                    &c.title
                } else {
                    &c.claim
                };
                t.add_row(vec![&c.id, c.severity.as_str(), &c.probe, claim, &criteria]);
            }
            println!("{t}");
            println!("{} controls", controls.len());
        }
    }
    Ok(exit::PASS)
}

fn coverage(args: &CoverageArgs) -> Result<u8> {
    let registry = registry_for_listing(&mut Diagnostics::new())?;
    let framework = match report::coverage::Framework::find(&args.framework) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: --framework: {e:#}");
            return Ok(exit::INVALID);
        }
    };
    let mut diags = Diagnostics::new();
    let controls = control::load_controls(
        &control_sources(&args.controls),
        &registry,
        None,
        &mut diags,
    );
    if report_diagnostics(&diags, false) {
        return Ok(exit::INVALID);
    }
    let cov = report::coverage::compute(&framework, &controls);
    match args.format {
        CoverageFormat::Json => println!("{}", serde_json::to_string_pretty(&cov)?),
        CoverageFormat::Markdown => print!(
            "### {}\n\n{}\n\n{}",
            cov.name,
            cov.summary.line(),
            report::coverage::markdown_table(&cov)
        ),
        CoverageFormat::Table => print!("{}", report::coverage::table(&cov)),
    }
    for u in &cov.unknown {
        let ids: Vec<&str> = u.controls.iter().map(|c| c.id.as_str()).collect();
        eprintln!(
            "warning: {} is not a {} criterion, but {} map{} to it",
            u.id,
            cov.framework,
            ids.join(", "),
            if ids.len() == 1 { "s" } else { "" }
        );
    }
    Ok(exit::PASS)
}

/// The claims in the order the control files give them (the page's order for the built-in
/// library), each with the controls behind it: probe and facts, or attestation and its age.
pub fn claims_markdown(controls: &[Control]) -> String {
    let mut ordered: Vec<&Control> = controls.iter().collect();
    ordered.sort_by(|a, b| {
        (&a.origin.path, a.origin.span.start).cmp(&(&b.origin.path, b.origin.span.start))
    });
    let mut claims: Vec<(&str, Vec<&Control>)> = Vec::new();
    for c in ordered {
        let claim = if c.claim.is_empty() {
            c.title.as_str()
        } else {
            c.claim.as_str()
        };
        match claims.iter_mut().find(|(k, _)| *k == claim) {
            Some((_, cs)) => cs.push(c),
            None => claims.push((claim, vec![c])),
        }
    }
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let probed = claims
        .iter()
        .filter(|(_, cs)| cs.iter().any(|c| c.probe != "attestation"))
        .count();
    let total = claims.len();
    let mut out = String::from(
        "# Claims and the controls behind them\n\n\
         Generated by `vouch list --format markdown` from the control library; a test keeps this\n\
         file in step with `controls/`. Each claim is a sentence of the trust-center page\n\
         (`docs/trust-center.txt`); each control says how it is checked: by a probe against the\n\
         live system, or by an attestation whose evidence expires.\n",
    );
    for (claim, cs) in claims {
        out.push_str(&format!("\n## {}\n\n", cell(claim)));
        out.push_str("| Control | Severity | How it is checked | What must hold | SOC 2 |\n|---|---|---|---|---|\n");
        for c in cs {
            let (scope, expect) = c.describe_expectations();
            let targets = match &c.targets {
                Targets::Group(g) => format!("group `{g}`"),
                Targets::List(l) => l
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let how = if c.probe == "attestation" {
                format!("attestation {targets}")
            } else if c.require == crate::control::Require::Any {
                format!("probe `{}` on {targets} (any one passing)", c.probe)
            } else {
                format!("probe `{}` on {targets}", c.probe)
            };
            let mut holds: Vec<String> = expect.iter().map(|e| format!("`{}`", cell(e))).collect();
            if !scope.is_empty() {
                holds.push(format!(
                    "(only where {})",
                    scope
                        .iter()
                        .map(|e| format!("`{}`", cell(e)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let soc2 = c
                .frameworks
                .get("soc2")
                .map(|ids| {
                    ids.iter()
                        .map(|id| match c.rationale.get(id) {
                            Some(why) => format!("{id}: {}", cell(why)),
                            None => id.clone(),
                        })
                        .collect::<Vec<_>>()
                        .join("<br>")
                })
                .unwrap_or_default();
            out.push_str(&format!(
                "| `{}` {} | {} | {} | {} | {} |\n",
                c.id,
                cell(&c.title),
                c.severity,
                how,
                holds.join("; "),
                soc2
            ));
        }
    }
    out.push_str(&format!(
        "\n---\n\n\
         **Probed share.** {probed} of {total} claims ({}%) have at least one control checked by a probe against the \
         live system; the other {} rest on attestations alone. Before the `github` probe (secure \
         SDLC reviews, SAST, dependency patch windows, secrets in code, workforce 2FA) it was 17 \
         of 33 (51%).\n",
        probed * 100 / total.max(1),
        total - probed
    ));
    out
}

fn list_entry(c: &Control) -> serde_json::Value {
    let (scope, expect) = c.describe_expectations();
    serde_json::json!({
        "id": c.id,
        "title": c.title,
        "claim": c.claim,
        "probe": c.probe,
        "severity": c.severity,
        "frameworks": c.frameworks,
        "rationale": c.rationale,
        "tags": c.tags,
        "targets": match &c.targets {
            Targets::Group(g) => serde_json::json!(g),
            Targets::List(l) => serde_json::json!(l),
        },
        "require": c.require,
        "where": scope,
        "expect": expect,
        "remediation": c.remediation,
        "max_age": c.max_age.map(crate::expect::format_duration),
        "source": c.origin.path.display().to_string(),
    })
}

/// Renders a JSON value for a table cell.
pub fn cell(v: &serde_json::Value) -> String {
    display_json(v)
}

// ---- Evidence bundles, verify, keygen, replay, waivers and drift (issue 8) --------------------

const VERIFY_EXAMPLES: &str = "\
Examples:
  vouch verify evidence/2026-11-29 --public-key audit.pub  # digests, files, and the signature
  vouch verify evidence/2026-11-29 --signer SHA256:9f2c…   # the same, key pinned by fingerprint
  vouch verify evidence/2026-11-29 --allow-unsigned        # digests only: authorship unproven

Exit codes: 0 the bundle is intact and signed by that key (or, with --allow-unsigned, intact);
1 a problem, each one named (an unsigned bundle without --allow-unsigned is one);
2 usage error (e.g. an unreadable public key, a malformed fingerprint).";

const KEYGEN_EXAMPLES: &str = "\
Examples:
  vouch keygen --out audit          # writes audit.key (PKCS#8 PEM, mode 0600) and audit.pub
  vouch check --evidence-dir evidence/today --sign-key audit.key
  vouch verify evidence/today --public-key audit.pub";

const DIFF_EXAMPLES: &str = "\
Examples:
  vouch diff last-week.json today.json
  vouch diff last-week.json today.json --format json
  vouch diff last-week.json today.json --format markdown >> pr-comment.md

Exit codes: 0 nothing regressed; 1 at least one result went from pass to fail or error;
2 a report cannot be read.";

/// `vouch check` flags for evidence bundles, replay, waivers and drift.
#[derive(Debug, Args)]
#[command(next_help_heading = "Evidence, replay, waivers and drift")]
pub struct EvidenceArgs {
    /// Write an evidence bundle (report, observations, attachments, MANIFEST) to the new folder
    /// DIR, atomically: it is complete or absent.
    #[arg(long, value_name = "DIR")]
    pub evidence_dir: Option<PathBuf>,
    /// Sign the bundle's MANIFEST with this Ed25519 private key (PKCS#8 PEM, see `vouch keygen`).
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// File the run's signed bundle in an append-only evidence store, with a ledger entry:
    /// a folder, file:///path or s3://bucket/prefix (overrides `[store] location`).
    #[arg(long, value_name = "LOCATION", conflicts_with_all = ["evidence_dir", "from_evidence"])]
    pub store: Option<String>,
    /// After the run is stored, POST what changed since the previous stored run (regressions
    /// and fixes) as JSON with a Slack/Teams `text` field (repeatable). A failed post is a
    /// warning; it never changes the exit code.
    #[arg(long, value_name = "URL", value_parser = crate::store::notify::parse_url)]
    pub notify: Vec<String>,
    /// Re-evaluate the controls against the observations recorded in a bundle: no probe runs.
    #[arg(long, value_name = "DIR", conflicts_with = "target")]
    pub from_evidence: Option<PathBuf>,
    /// With --from-evidence: judge time-dependent checks (`within`, waiver expiry) at the
    /// original run's end (an auditor re-performing it) or now.
    #[arg(long, value_enum, default_value_t = evidence::replay::ReplayAt::Original,
          requires = "from_evidence")]
    pub replay_at: evidence::replay::ReplayAt,
    /// With --from-evidence: the Ed25519 public key (PEM) the bundle must be signed with.
    #[arg(long, value_name = "FILE", requires = "from_evidence")]
    pub public_key: Option<PathBuf>,
    /// With --from-evidence: the fingerprint (`SHA256:<hex>`) of the key the bundle must be
    /// signed with, as `check --sign-key` printed it.
    #[arg(long, value_name = "SHA256:HEX", requires = "from_evidence",
          value_parser = parse_signer)]
    pub signer: Option<String>,
    /// With --from-evidence: replay a bundle that is unsigned, or signed by a key not given; its
    /// digests are still checked, and `run.replay.signature` says what was not.
    #[arg(long, requires = "from_evidence")]
    pub allow_unsigned: bool,
    /// Waivers file (overrides the inventory's `waivers = "…"`; in a replay, the bundle's own).
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// A previous JSON report: print what drifted against it on stderr.
    #[arg(long, value_name = "OLD.json")]
    pub baseline: Option<PathBuf>,
    /// With --baseline: exit 1 when a result regressed at or above --fail-on (pass, waived or
    /// n/a → fail/error, a new failing target, a target or control that disappeared), else 3
    /// when something could not be observed, else 0; existing failures do not fail the run.
    #[arg(long, requires = "baseline")]
    pub fail_on_new: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle folder.
    #[arg(required_unless_present = "store", conflicts_with = "store")]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub store: stored::StoreWindowArgs,
    /// With --store: the inventory whose `[aws]` settings reach the store (default: ./vouch.toml).
    #[arg(long, value_name = "FILE", requires = "store")]
    pub inventory: Option<PathBuf>,
    /// Ed25519 public key (PEM) the MANIFEST must be signed with.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// The fingerprint (`SHA256:<hex>`) of the key the MANIFEST must be signed with; the key
    /// itself is read from MANIFEST's `signer` line.
    #[arg(long, value_name = "SHA256:HEX", value_parser = parse_signer)]
    pub signer: Option<String>,
    /// Accept a bundle that is unsigned, or signed by a key not given: check its digests only.
    #[arg(long)]
    pub allow_unsigned: bool,
}

fn parse_signer(text: &str) -> std::result::Result<String, String> {
    evidence::sign::parse_fingerprint(text)
}

/// What `--public-key`, `--signer` and `--allow-unsigned` say to trust.
fn trust_of(
    public_key: Option<&Path>,
    signer: Option<&String>,
    allow_unsigned: bool,
) -> Result<evidence::Trust> {
    Ok(evidence::Trust {
        public_key: match public_key {
            Some(p) => Some(evidence::sign::load_verifying_key(p)?),
            None => None,
        },
        signer: signer.cloned(),
        allow_unsigned,
    })
}

fn replay_trust(args: &EvidenceArgs) -> Result<evidence::Trust> {
    trust_of(
        args.public_key.as_deref(),
        args.signer.as_ref(),
        args.allow_unsigned,
    )
}

/// One line on what a bundle's signature check established.
fn signature_line(dir: &Path, sig: &report::SignatureCheck) -> String {
    use report::SignatureStatus;
    match (sig.status, &sig.signer) {
        (SignatureStatus::Verified, Some(fp)) => {
            format!("{}: signature verified, signed by {fp}", dir.display())
        }
        (SignatureStatus::Unchecked, Some(fp)) => format!(
            "{}: digests verified; signed by {fp}, a key not given here (--allow-unsigned): \
             who wrote it is not proven",
            dir.display()
        ),
        (SignatureStatus::Unsigned, _) | (_, None) => format!(
            "{}: digests verified; NOT signed (--allow-unsigned): who wrote it is not proven",
            dir.display()
        ),
    }
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Writes PREFIX.key and PREFIX.pub; never overwrites.
    #[arg(long, value_name = "PREFIX", default_value = "vouch-signing")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier JSON report.
    pub old: PathBuf,
    /// The later JSON report.
    pub new: PathBuf,
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    pub format: DiffFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Table,
    Json,
    /// Fits a pull-request comment.
    Markdown,
}

/// What `check` loads before running, so a bad key or baseline stops it before any probe runs.
struct Prepared {
    key: Option<ed25519_dalek::SigningKey>,
    /// The waivers in effect: where from, and the bytes loaded (kept in the bundle).
    waivers: WaiverSource,
    loaded_waivers: Vec<waiver::Waiver>,
    /// The control sources, kept in the bundle.
    sources: Vec<Source>,
    baseline: Option<(PathBuf, Report)>,
    store: Option<stored::ForCheck>,
}

fn prepare_evidence(
    args: &EvidenceArgs,
    (waivers, loaded_waivers): (WaiverSource, Vec<waiver::Waiver>),
    sources: Vec<Source>,
) -> Result<Prepared> {
    if let Some(dir) = &args.evidence_dir {
        evidence::check_destination(dir)?;
    }
    let key = match &args.sign_key {
        Some(p) => Some(evidence::sign::load_signing_key(p)?),
        None => None,
    };
    let baseline = match &args.baseline {
        Some(p) => Some((p.clone(), read_report(p)?)),
        None => None,
    };
    Ok(Prepared {
        key,
        waivers,
        loaded_waivers,
        sources,
        baseline,
        store: None,
    })
}

fn read_report(path: &Path) -> Result<Report> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a vouch JSON report (`vouch check --format json`)",
            path.display()
        )
    })
}

/// The control sources of a check: `--controls`, else a replayed bundle's own controls (the
/// verified bytes), else the built-in library. Files are read once, here
/// ([`evidence::snapshot_sources`]): what is judged is what the bundle keeps.
fn evidence_sources(
    args: &CheckArgs,
    recorded: Option<&evidence::replay::Recorded>,
) -> Vec<Source> {
    if let (Some(dir), Some(recorded)) = (&args.evidence.from_evidence, recorded)
        && args.controls.is_empty()
    {
        let prefix = format!("{}/", evidence::INPUT_CONTROLS);
        let texts: Vec<Source> = recorded
            .inputs
            .iter()
            .filter(|(path, _)| path.starts_with(&prefix))
            .map(|(path, bytes)| Source::Text {
                name: dir.join(path),
                text: String::from_utf8_lossy(bytes).into_owned(),
            })
            .collect();
        if !texts.is_empty() {
            return texts;
        }
    }
    evidence::snapshot_sources(&control_sources(&args.controls))
}

/// Where a check's waivers came from, with the bytes that were loaded.
enum WaiverSource {
    None,
    /// A file: `--waivers`, or the inventory's `waivers` (never in a replay).
    File(PathBuf, Vec<u8>),
    /// A replayed bundle's `inputs/waivers.toml`.
    Bundle(Vec<u8>),
}

impl WaiverSource {
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            WaiverSource::None => None,
            WaiverSource::File(_, b) | WaiverSource::Bundle(b) => Some(b),
        }
    }

    /// `run.replay.waivers`: `bundle`, `file:<path>` or `none`.
    fn source(&self) -> String {
        match self {
            WaiverSource::None => "none".into(),
            WaiverSource::File(p, _) => format!("file:{}", p.display()),
            WaiverSource::Bundle(_) => "bundle".into(),
        }
    }
}

/// Loads the waivers: `--waivers`; else, in a replay, the bundle's own (never the inventory's
/// or the working folder's, which are not part of the evidence); else the inventory's
/// `waivers`. Each file is read once: the bytes judged are the bytes a bundle keeps.
fn load_waivers(
    args: &EvidenceArgs,
    inv: &Inventory,
    recorded: Option<&evidence::replay::Recorded>,
    controls: &[Control],
    diags: &mut Diagnostics,
) -> (WaiverSource, Vec<waiver::Waiver>) {
    let ids: Vec<&str> = controls.iter().map(|c| c.id.as_str()).collect();
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let path = match (&args.waivers, recorded, &args.from_evidence) {
        (Some(p), _, _) => p.clone(),
        (None, Some(r), Some(dir)) => {
            return match r.inputs.get(evidence::INPUT_WAIVERS) {
                Some(bytes) => {
                    let name = dir.join(evidence::INPUT_WAIVERS);
                    let text = String::from_utf8_lossy(bytes);
                    let w = waiver::parse(&name, &text, &ids, today, diags);
                    (WaiverSource::Bundle(bytes.clone()), w)
                }
                None => (WaiverSource::None, Vec::new()),
            };
        }
        (None, _, Some(_)) => return (WaiverSource::None, Vec::new()),
        (None, _, None) => match &inv.waivers {
            Some(p) => p.clone(),
            None => return (WaiverSource::None, Vec::new()),
        },
    };
    match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let w = waiver::parse(&path, &text, &ids, today, diags);
            (WaiverSource::File(path, bytes), w)
        }
        Err(_) => {
            // The loader names the problem.
            let w = waiver::load(&path, &ids, today, diags);
            (WaiverSource::None, w)
        }
    }
}

/// After the run (or replay): expiry, waivers, the bundle, the report, drift, the exit code.
fn finish_check(
    args: &CheckArgs,
    controls: &[Control],
    mut report: Report,
    prep: Prepared,
    color: bool,
    quiet: bool,
) -> Result<u8> {
    evidence::stamp_expiry(&mut report, controls);
    let now = report
        .run
        .replay
        .as_ref()
        .map_or_else(jiff::Timestamp::now, |r| r.evaluated_at);
    engine::enforce_max_age(&mut report, now);
    engine::mark_examined_nothing(&mut report, controls);
    if report.run.replay.is_some() {
        for w in &report.run.warnings {
            eprintln!("warning (recorded): {w}");
        }
        if args.strict && !report.run.warnings.is_empty() {
            eprintln!("error: --strict: the recorded run has warnings");
            return Ok(exit::INVALID);
        }
    }
    let applied = waiver::apply(
        &mut report,
        &prep.loaded_waivers,
        now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date(),
    );
    report.coverage = report::coverage::builtin(controls);
    report::coverage::mark_evidenced(&mut report.coverage, &report.controls);
    for w in &applied.expired {
        eprintln!(
            "warning: the waiver of {} at {} expired on {}; it was ignored",
            w.control, w.location, w.expires
        );
    }
    for w in &applied.unused {
        eprintln!(
            "warning: the waiver of {} at {} covers no failing result; remove it or fix its targets",
            w.control, w.location
        );
    }
    if let Some(dir) = &args.evidence.evidence_dir {
        let signer = prep
            .key
            .as_ref()
            .map(|k| evidence::sign::fingerprint(&k.verifying_key()));
        report.run.evidence = Some(report::EvidenceInfo {
            bundle: dir.display().to_string(),
            signer: signer.clone(),
        });
        let inputs = evidence::collect_inputs(&prep.sources, prep.waivers.bytes())?;
        let w = evidence::write_bundle(dir, &report, &inputs, prep.key.as_ref())?;
        if !quiet {
            eprintln!(
                "evidence: {} files, {} bytes, {} in {}",
                w.files,
                w.bytes,
                match &signer {
                    Some(fp) => format!("signed by {fp}"),
                    None => "unsigned".into(),
                },
                dir.display()
            );
        }
    }
    if let Some(s) = &prep.store {
        let inputs = evidence::collect_inputs(&prep.sources, prep.waivers.bytes())?;
        stored::file_run(s, &mut report, &inputs, prep.key.as_ref(), quiet)?;
    }
    // A plain `--output FILE` takes the place of stdout; FORMAT=FILE outputs are extra files.
    if !args.output.iter().any(|(format, _)| format.is_none()) {
        emit_report(&report, args.format, None, color)?;
    }
    for (format, path) in &args.output {
        emit_report(&report, format.unwrap_or(args.format), Some(path), color)?;
    }
    for c in report.examined_nothing() {
        eprintln!(
            "warning: {} examined nothing (no resource found); say `allow_empty = true` if that \
             is expected",
            c.id
        );
    }
    if let Some((path, base)) = &prep.baseline {
        let drift = diff::compare(base, &report);
        eprintln!("drift against {}: {}", path.display(), drift.summary_line());
        for r in &drift.regressions {
            let v = |v: Option<crate::expect::Verdict>| v.map_or("—", |v| v.as_str());
            let target = if r.target.is_empty() {
                String::new()
            } else {
                format!(" on {}", r.target)
            };
            eprintln!(
                "  regression: {}{target}: {} → {} ({})",
                r.control,
                v(r.old),
                v(r.new),
                r.reason
            );
        }
        if args.evidence.fail_on_new {
            // Old failures do not fail the run; new ones do, and a run that proved less than it
            // should (errors, nothing examined, interrupted) still exits 3.
            return Ok(if drift.regressions_at(args.fail_on) > 0 {
                exit::FAILED
            } else {
                unobserved_or_pass(&report)
            });
        }
    }
    Ok(outcome(&report, args.fail_on))
}

fn verify(args: &VerifyArgs) -> Result<u8> {
    let trust = trust_of(
        args.public_key.as_deref(),
        args.signer.as_ref(),
        args.allow_unsigned,
    )?;
    let dir = match (&args.dir, &args.store.store) {
        (_, Some(location)) => {
            let inv = stored::store_inventory(args.inventory.as_deref())?;
            return stored::verify_store(location, &args.store, &trust, &inv);
        }
        (Some(dir), None) => dir,
        (None, None) => unreachable!("clap requires DIR or --store"),
    };
    if !dir.is_dir() {
        eprintln!("error: {} is not a folder", dir.display());
        return Ok(exit::FAILED);
    }
    let v = evidence::verify(dir, &trust);
    for p in &v.problems {
        eprintln!("{p}");
    }
    let (true, Some(sig)) = (v.ok(), &v.signature) else {
        eprintln!(
            "FAILED: {} problem{} in {}",
            v.problems.len(),
            if v.problems.len() == 1 { "" } else { "s" },
            dir.display()
        );
        return Ok(exit::FAILED);
    };
    let how = match (sig.status, &sig.signer) {
        (report::SignatureStatus::Verified, Some(fp)) => {
            format!("; signature valid, signed by {fp}")
        }
        (report::SignatureStatus::Unchecked, Some(fp)) => format!(
            "; signed by {fp}, but that key was not given: the signature was not checked against \
             a trusted key (--allow-unsigned)"
        ),
        (report::SignatureStatus::Unchecked, None) => {
            "; signed, but the signature was not checked (--allow-unsigned)".into()
        }
        _ => "; not signed (--allow-unsigned): who wrote it is not proven".into(),
    };
    println!(
        "ok: {} files match MANIFEST in {}{how}",
        v.files,
        dir.display()
    );
    Ok(exit::PASS)
}

fn keygen(args: &KeygenArgs) -> Result<u8> {
    let (private, public) = evidence::sign::keygen(&args.out)?;
    println!(
        "wrote {} (private, keep it secret) and {} (public, give it to auditors)",
        private.display(),
        public.display()
    );
    Ok(exit::PASS)
}

fn diff(args: &DiffArgs) -> Result<u8> {
    let old = read_report(&args.old)?;
    let new = read_report(&args.new)?;
    let drift = diff::compare(&old, &new);
    match args.format {
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&drift)?),
        DiffFormat::Table => print!("{}", drift.render_table()),
        DiffFormat::Markdown => print!("{}", drift.render_markdown()),
    }
    Ok(if drift.regressions.is_empty() {
        exit::PASS
    } else {
        exit::FAILED
    })
}
