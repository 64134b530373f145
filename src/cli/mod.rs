//! The command line: clap definitions and dispatch, and one file per subcommand. Each
//! subcommand is a thin adapter: parse the flags, call the library ([`crate::pipeline`] for
//! `check` and `probe`), print, and return an exit code from [`crate::exit`]. No rule about
//! verdicts, waivers, baselines or evidence lives here. stdout carries only the report (or the
//! listing asked for); progress, logs and diagnostics go to stderr.

mod check;
mod completions;
mod controls;
mod coverage;
mod diff;
mod history;
mod init;
mod keygen;
mod list;
mod man;
mod merge;
mod probe;
mod stored;
mod validate;
mod verify;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::control::Severity;
use crate::diag::Diagnostics;
use crate::evidence;
use crate::expect::parse_duration;
use crate::inventory::Inventory;
use crate::probe::Registry;
use crate::report::Format;

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
    #[arg(short, long, global = true, env = "VOUCH_QUIET")]
    pub quiet: bool,
    /// Colour: auto (only on a terminal, never with NO_COLOR), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, env = "VOUCH_COLOR")]
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
    /// Merge the reports or bundles of a sharded run (`check --shard K/N`) into one report and
    /// bundle, judged as one run: inputs verified, other plans and overlapping or missing shards
    /// refused (exit 2).
    #[command(after_help = merge::MERGE_EXAMPLES)]
    Merge(merge::MergeArgs),
    /// Compare two JSON reports: regressions, fixes, new and removed controls and targets.
    /// Exit 1 when something regressed (pass → fail/error), else 0.
    #[command(after_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// Evidence over the audit period: per control and target, the share of passing runs,
    /// exceptions, gaps and the verdict for the period, from the verified runs of a store;
    /// with --at, the run an auditor's sample asks for.
    #[command(after_help = history::HISTORY_EXAMPLES)]
    History(history::HistoryArgs),
    /// The built-in control library: `vouch controls export DIR` writes it as files.
    #[command(
        after_help = "Examples:\n  vouch controls export my-controls/\n  vouch controls export my-controls/ --force"
    )]
    Controls(controls::ControlsArgs),
    /// Start an estate: a commented vouch.toml (the built-in library's groups; [aws] from the
    /// current credentials), attestations.toml, waivers.toml and a GitHub workflow. Never
    /// overwrites a file.
    #[command(after_help = "Examples:\n  vouch init\n  vouch init infra/compliance --no-aws")]
    Init(init::InitArgs),
    /// Print the manual page (roff): `vouch man > vouch.1`, or one page per command with --dir.
    #[command(
        after_help = "Examples:\n  vouch man > vouch.1 && man -l vouch.1\n  vouch man --dir share/man/man1"
    )]
    Man(man::ManArgs),
    /// Print shell completions.
    #[command(
        after_help = "Examples:\n  vouch completions bash > /etc/bash_completion.d/vouch\n  vouch completions zsh > ~/.zfunc/_vouch"
    )]
    Completions { shell: clap_complete::Shell },
}

/// Where controls, the inventory and attestations come from, and per-run inventory overrides.
#[derive(Debug, Args, Clone)]
pub struct InventoryArgs {
    /// The inventory file (default: vouch.toml in the working directory or its nearest parent
    /// that has one).
    #[arg(long, value_name = "FILE", env = "VOUCH_INVENTORY")]
    pub inventory: Option<PathBuf>,
    /// The attestations file (overrides the inventory's `attestations`).
    #[arg(long, value_name = "FILE", env = "VOUCH_ATTESTATIONS")]
    pub attestations: Option<PathBuf>,
    /// Connect to another address, keeping the name for SNI and checks (curl syntax).
    #[arg(long, value_name = "NAME:PORT:ADDR", env = "VOUCH_RESOLVE")]
    pub resolve: Vec<String>,
    /// Extra trust roots (PEM), on top of the system's (overrides `[tls] ca_file`).
    #[arg(long, value_name = "FILE", env = "VOUCH_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Which addresses of a name the TLS probe scans: 4, 6 or any (overrides `[tls] ip_family`).
    #[arg(long, value_name = "4|6|any", value_parser = crate::inventory::IpFamily::parse, env = "VOUCH_IP_FAMILY")]
    pub ip_family: Option<crate::inventory::IpFamily>,
    /// Chromium's transport_security_state_static.json (overrides `[http] preload_list`).
    #[arg(long, value_name = "FILE", env = "VOUCH_PRELOAD_LIST")]
    pub preload_list: Option<PathBuf>,
    /// AWS profile (overrides `[aws] profile`).
    #[arg(long, value_name = "NAME", env = "VOUCH_AWS_PROFILE")]
    pub aws_profile: Option<String>,
    /// AWS region (overrides `[aws] region`).
    #[arg(long, value_name = "REGION", env = "VOUCH_AWS_REGION")]
    pub aws_region: Option<String>,
    /// Regions a `*` target of a regional AWS service covers, comma-separated, or `enabled` for
    /// every region enabled in the account (overrides `[aws] regions`; default: every enabled region).
    #[arg(
        long,
        value_name = "REGIONS",
        value_delimiter = ',',
        env = "VOUCH_AWS_REGIONS"
    )]
    pub aws_regions: Option<Vec<String>>,
    /// AWS API endpoint, e.g. an emulator (overrides `[aws] endpoint_url` and AWS_ENDPOINT_URL).
    #[arg(long, value_name = "URL", env = "VOUCH_AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// An external probe, used as `probe = "plugin:NAME"` (repeatable; overrides `[plugins] NAME`).
    #[arg(long = "plugin", value_name = "NAME=PATH", env = "VOUCH_PLUGIN")]
    pub plugins: Vec<String>,
    /// Per-observation timeout, e.g. 10s, 500ms or 1m.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout, env = "VOUCH_TIMEOUT")]
    pub timeout: Duration,
    /// Concurrent calls per cloud service.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 8,
        env = "VOUCH_AWS_CONCURRENCY"
    )]
    pub aws_concurrency: usize,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Control file or folder, `builtin` (the embedded library) or `builtin:PACK` (repeatable,
    /// combinable: --controls builtin --controls overrides.toml). Default: the built-in library.
    #[arg(long, value_name = "PATH", env = "VOUCH_CONTROLS")]
    pub controls: Vec<PathBuf>,
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Only this control id (repeatable).
    #[arg(long, value_name = "ID", env = "VOUCH_ONLY")]
    pub only: Vec<String>,
    /// Only controls with this tag (repeatable).
    #[arg(long, value_name = "TAG", env = "VOUCH_TAG")]
    pub tag: Vec<String>,
    /// Run the selected controls against this target instead of theirs (repeatable).
    #[arg(long, value_name = "TARGET", env = "VOUCH_TARGET")]
    pub target: Vec<String>,
    /// Report format on stdout (or in a plain --output FILE).
    #[arg(long, value_enum, default_value_t = Format::Table, env = "VOUCH_FORMAT")]
    pub format: Format,
    /// Write the report to FILE (atomically) instead of stdout; FORMAT=FILE also writes that
    /// format, beside stdout (repeatable: --output html=report.html --output junit=junit.xml).
    #[arg(long, short, value_name = "[FORMAT=]FILE", value_parser = parse_output, env = "VOUCH_OUTPUT")]
    pub output: Vec<(Option<Format>, PathBuf)>,
    /// Lowest severity whose failures make the exit code 1.
    #[arg(long, value_enum, default_value_t = Severity::Low, env = "VOUCH_FAIL_ON")]
    pub fail_on: Severity,
    /// Observations in flight at once.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 32,
        env = "VOUCH_CONCURRENCY"
    )]
    pub concurrency: usize,
    /// Observations in flight against one host at once.
    #[arg(long, value_name = "N", default_value_t = 4, env = "VOUCH_PER_HOST")]
    pub per_host: usize,
    /// Treat warnings (an inventory group a control names that the inventory does not define)
    /// as errors: exit 2 before anything runs.
    #[arg(long, env = "VOUCH_STRICT")]
    pub strict: bool,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub shard: merge::ShardArgs,
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
    /// version for N suites) and the key-exchange groups (N+1 per version for N groups).
    #[arg(long)]
    pub ciphers: bool,
    /// tls: judge the target by a Mozilla server-side TLS profile (the `builtin:mozilla-PROFILE`
    /// pack, guidelines 5.7) and print each deviation; exit 1 when there is one.
    #[arg(long, value_enum, value_name = "PROFILE", conflicts_with = "facts")]
    pub profile: Option<MozillaProfile>,
    #[arg(long, value_enum, default_value_t = ProbeFormat::Table)]
    pub format: ProbeFormat,
    #[command(flatten)]
    pub inv: InventoryArgs,
}

/// A Mozilla server-side TLS configuration (`vouch probe tls HOST --profile NAME`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MozillaProfile {
    Modern,
    Intermediate,
    Old,
}

impl MozillaProfile {
    /// The built-in pack that holds the profile's controls.
    pub fn pack(self) -> &'static str {
        match self {
            MozillaProfile::Modern => "builtin:mozilla-modern",
            MozillaProfile::Intermediate => "builtin:mozilla-intermediate",
            MozillaProfile::Old => "builtin:mozilla-old",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProbeFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Control files or folders, `builtin` or `builtin:PACK`. Default: the built-in library.
    pub paths: Vec<PathBuf>,
    /// Also check the inventory, and user-written controls' target groups against it (default:
    /// vouch.toml in the working directory or its nearest parent that has one).
    #[arg(long, value_name = "FILE", env = "VOUCH_INVENTORY")]
    pub inventory: Option<PathBuf>,
    /// An external probe the controls name as `plugin:NAME` (repeatable; see `vouch check`).
    #[arg(long = "plugin", value_name = "NAME=PATH")]
    pub plugins: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Control file or folder, `builtin` (the embedded library) or `builtin:PACK` (repeatable,
    /// combinable: --controls builtin --controls overrides.toml). Default: the built-in library.
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
    /// A built-in framework (soc2, iso27001) or a catalogue file (`[[criterion]]` tables with
    /// id, title).
    #[arg(long, value_name = "NAME", default_value = "soc2")]
    pub framework: String,
    /// Control file or folder, `builtin` (the embedded library) or `builtin:PACK` (repeatable,
    /// combinable: --controls builtin --controls overrides.toml). Default: the built-in library.
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

/// A timeout: a duration as in control files (`10s`, `1m`, `1m30s`) or milliseconds (`500ms`,
/// alone or last: `1s500ms`), humantime-style; at least 1ms.
pub(crate) fn parse_timeout(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (rest, millis) = match t.strip_suffix("ms") {
        Some(head) => {
            let digits_at = head
                .rfind(|c: char| !c.is_ascii_digit())
                .map_or(0, |i| i + 1);
            let n: u64 = head[digits_at..].parse().map_err(|_| {
                format!("`{s}` is not a timeout: write e.g. `10s`, `500ms` or `1m`")
            })?;
            (&head[..digits_at], n)
        }
        None => (t, 0),
    };
    let secs = if rest.is_empty() {
        0
    } else {
        parse_duration(rest)
            .map_err(|_| format!("`{s}` is not a timeout: write e.g. `10s`, `500ms` or `1m`"))?
    };
    let d = Duration::from_secs(secs) + Duration::from_millis(millis);
    if d.is_zero() {
        return Err("the timeout must be more than zero, e.g. 500ms or 10s".into());
    }
    Ok(d)
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
        Command::Check(args) => check::run(args, color, cli.quiet),
        Command::Probe(args) => probe::run(args, color),
        Command::Validate(args) => validate::run(args, color),
        Command::Coverage(args) => coverage::run(args),
        Command::List(args) => list::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Merge(args) => merge::merge(args, color, cli.quiet),
        Command::History(args) => history::run(args),
        Command::Controls(args) => controls::run(args),
        Command::Init(args) => init::run(args),
        Command::Man(args) => man::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Completions { shell } => completions::run(*shell),
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
pub(crate) fn report_diagnostics(diags: &Diagnostics, color: bool) -> bool {
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
pub(crate) fn load_inventory(args: &InventoryArgs, diags: &mut Diagnostics) -> Result<Inventory> {
    let path = crate::inventory::discover(args.inventory.as_deref());
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

/// The registry for `list` and `coverage`, which take no inventory: the plugins of ./vouch.toml
/// when it is present and valid (its other problems are `check`'s to report).
pub(crate) fn registry_for_listing(diags: &mut Diagnostics) -> Result<Registry> {
    let path = crate::inventory::discover(None);
    // Read twice: a broken inventory is ignored here, a valid one is registered with `diags` so
    // a plugin's diagnostic points into it.
    let path = path.filter(|p| Inventory::load(p, &mut Diagnostics::new()).is_some());
    let inv = path.and_then(|p| Inventory::load(&p, diags));
    match inv {
        Some(inv) => registry_for(&inv, Duration::from_secs(10), diags),
        None => Ok(Registry::builtin()),
    }
}

/// The built-in probes plus the inventory's plugins ([`crate::pipeline::registry_for`]).
pub(crate) fn registry_for(
    inv: &Inventory,
    timeout: Duration,
    diags: &mut Diagnostics,
) -> Result<Registry> {
    if inv.plugins.is_empty() {
        return Ok(Registry::builtin());
    }
    Ok(runtime()?.block_on(crate::pipeline::registry_for(inv, timeout, diags)))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
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
    #[arg(long, value_name = "DIR", env = "VOUCH_EVIDENCE_DIR")]
    pub evidence_dir: Option<PathBuf>,
    /// Sign the bundle's MANIFEST with this Ed25519 private key (PKCS#8 PEM, see `vouch keygen`).
    #[arg(long, value_name = "FILE", env = "VOUCH_SIGN_KEY")]
    pub sign_key: Option<PathBuf>,
    /// File the run's signed bundle in an append-only evidence store, with a ledger entry:
    /// a folder, file:///path or s3://bucket/prefix (overrides `[store] location`).
    #[arg(long, value_name = "LOCATION", conflicts_with_all = ["evidence_dir", "from_evidence"], env = "VOUCH_STORE")]
    pub store: Option<String>,
    /// After the run is stored, POST what changed since the previous stored run (regressions
    /// and fixes) as JSON with a Slack/Teams `text` field (repeatable). A failed post is a
    /// warning; it never changes the exit code.
    #[arg(long, value_name = "URL", value_parser = crate::store::notify::parse_url, env = "VOUCH_NOTIFY")]
    pub notify: Vec<String>,
    /// Ask this RFC 3161 time-stamping authority to countersign the bundle's MANIFEST digest;
    /// the token is kept as MANIFEST.tsr (`vouch verify --tsa-cert` checks it), in the
    /// --evidence-dir bundle or each --store run (overrides `[store] timestamp_url`). A failure
    /// is a warning: the bundle is kept without it.
    #[arg(long, value_name = "URL", env = "VOUCH_TIMESTAMP_URL")]
    pub timestamp_url: Option<String>,
    /// Re-evaluate the controls against the observations recorded in a bundle: no probe runs.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "target",
        env = "VOUCH_FROM_EVIDENCE"
    )]
    pub from_evidence: Option<PathBuf>,
    /// With --from-evidence: judge time-dependent checks (`within`, waiver expiry) at the
    /// original run's end (an auditor re-performing it) or now.
    #[arg(long, value_enum, default_value_t = evidence::replay::ReplayAt::Original,
          requires = "from_evidence", env = "VOUCH_REPLAY_AT")]
    pub replay_at: evidence::replay::ReplayAt,
    /// With --from-evidence: the Ed25519 public key (PEM) the bundle must be signed with.
    #[arg(
        long,
        value_name = "FILE",
        requires = "from_evidence",
        env = "VOUCH_PUBLIC_KEY"
    )]
    pub public_key: Option<PathBuf>,
    /// With --from-evidence: the fingerprint (`SHA256:<hex>`) of the key the bundle must be
    /// signed with, as `check --sign-key` printed it.
    #[arg(long, value_name = "SHA256:HEX", requires = "from_evidence",
          value_parser = parse_signer, env = "VOUCH_SIGNER")]
    pub signer: Option<String>,
    /// With --from-evidence: replay a bundle that is unsigned, or signed by a key not given; its
    /// digests are still checked, and `run.replay.signature` says what was not.
    #[arg(long, requires = "from_evidence", env = "VOUCH_ALLOW_UNSIGNED")]
    pub allow_unsigned: bool,
    /// Waivers file (overrides the inventory's `waivers = "…"`; in a replay, the bundle's own).
    #[arg(long, value_name = "FILE", env = "VOUCH_WAIVERS")]
    pub waivers: Option<PathBuf>,
    /// A previous JSON report: print what drifted against it on stderr.
    #[arg(long, value_name = "OLD.json", env = "VOUCH_BASELINE")]
    pub baseline: Option<PathBuf>,
    /// With --baseline: exit 1 when a result regressed at or above --fail-on (pass, waived or
    /// n/a → fail/error, a new failing target, a target or control that disappeared), else 3
    /// when something could not be observed, else 0; existing failures do not fail the run.
    #[arg(long, requires = "baseline", env = "VOUCH_FAIL_ON_NEW")]
    pub fail_on_new: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle folder.
    #[arg(required_unless_present = "store", conflicts_with = "store")]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub store: stored::StoreWindowArgs,
    /// With --store: the inventory whose `[aws]` settings reach the store (default: vouch.toml
    /// in the working directory or its nearest parent that has one).
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
    /// The time-stamping authority's certificate (PEM or DER): MANIFEST.tsr must be its valid
    /// RFC 3161 token for this MANIFEST; prints the attested time.
    #[arg(long, value_name = "FILE")]
    pub tsa_cert: Option<PathBuf>,
}

fn parse_signer(text: &str) -> std::result::Result<String, String> {
    evidence::sign::parse_fingerprint(text)
}

/// What `--public-key`, `--signer` and `--allow-unsigned` say to trust.
pub(crate) fn trust_of(
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
