//! `vouch merge` and `check --shard`: the command-line adapters of [`crate::shard`]. The rules
//! (slices, plans, refusals, judging) live in the library; this file parses flags and writes.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::pipeline::{self, Notice, sink};
use crate::report::Format;
use crate::{evidence, exit, shard};

pub const MERGE_EXAMPLES: &str = "\
Examples:
  # four shards (e.g. a Kubernetes Indexed Job: JOB_COMPLETION_INDEX=0..3), then one merge
  vouch check --shard-from-env --shard-count 4 --evidence-dir shards/$JOB_COMPLETION_INDEX --sign-key audit.key
  vouch merge shards/0 shards/1 shards/2 shards/3 --signer SHA256:9f2c… \\
              --evidence-dir evidence/merged --sign-key audit.key --output html=report.html
  vouch merge s1.json s2.json --allow-unsigned --format junit --output junit.xml

Each input is verified (digests; signature by --public-key or --signer, else --allow-unsigned).
Inputs from different plans, two inputs claiming one shard and missing shards are refused (exit 2,
naming the file). The merged report's verdicts and exit code are a single run's on the same
observations: 0 nothing failed at or above the shards' --fail-on; 1 something failed; 2 refused;
3 something could not be observed.";

/// `check --shard K/N`, `--shard-from-env --shard-count N`.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Sharding (running on a cluster)")]
pub struct ShardArgs {
    /// Run only the K-th of N deterministic slices of the plan (1-based: 1/4 … 4/4); merge the
    /// N reports or bundles with `vouch merge`.
    #[arg(long, value_name = "K/N", value_parser = shard::parse_spec,
          conflicts_with_all = ["shard_from_env", "from_evidence"], env = "VOUCH_SHARD")]
    pub shard: Option<(u32, u32)>,
    /// Take K from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's 0-based index; K = index + 1),
    /// and N from --shard-count.
    #[arg(
        long,
        requires = "shard_count",
        conflicts_with = "from_evidence",
        env = "VOUCH_SHARD_FROM_ENV"
    )]
    pub shard_from_env: bool,
    /// N, with --shard-from-env: how many slices (the Indexed Job's `completions`).
    #[arg(long, value_name = "N", requires = "shard_from_env",
          value_parser = clap::value_parser!(u32).range(1..), env = "VOUCH_SHARD_COUNT")]
    pub shard_count: Option<u32>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards: bundle folders (`check --shard K/N --evidence-dir DIR`) or JSON reports.
    #[arg(value_name = "REPORT|BUNDLE", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Ed25519 public key (PEM) every input bundle must be signed with.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// The fingerprint (`SHA256:<hex>`) of the key every input bundle must be signed with.
    #[arg(long, value_name = "SHA256:HEX", value_parser = super::parse_signer)]
    pub signer: Option<String>,
    /// Accept unsigned inputs (and report files, which carry no signature): digests only.
    #[arg(long)]
    pub allow_unsigned: bool,
    /// With report files: the control files the shards ran (default: the built-in library);
    /// checked against the shards' plan. Bundles carry their own.
    #[arg(long, value_name = "PATH")]
    pub controls: Vec<PathBuf>,
    /// With report files: the waivers file the shards ran with; checked against their plan.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Report format on stdout (or in a plain --output FILE).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout; FORMAT=FILE also writes that format
    /// (repeatable), as `check --output`.
    #[arg(long, short, value_name = "[FORMAT=]FILE", value_parser = super::parse_output)]
    pub output: Vec<(Option<Format>, PathBuf)>,
    /// Write the merged evidence bundle (report, every shard's observations, the run's inputs)
    /// to the new folder DIR, atomically.
    #[arg(long, value_name = "DIR")]
    pub evidence_dir: Option<PathBuf>,
    /// Sign the merged bundle's MANIFEST with this Ed25519 private key.
    #[arg(long, value_name = "FILE", requires = "evidence_dir")]
    pub sign_key: Option<PathBuf>,
}

pub fn merge(args: &MergeArgs, color: bool, quiet: bool) -> Result<u8> {
    let trust = super::trust_of(
        args.public_key.as_deref(),
        args.signer.as_ref(),
        args.allow_unsigned,
    )?;
    let key = match &args.sign_key {
        Some(p) => Some(evidence::sign::load_signing_key(p)?),
        None => None,
    };
    let merged = match merged(args, &trust, quiet) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::INVALID);
        }
    };
    for note in &merged.waiver_notes {
        eprintln!("warning: {note}");
    }
    let mut report = merged.report;
    if let Some(dir) = &args.evidence_dir {
        let (w, signer) = shard::write_merged(&mut report, dir, &merged.inputs, key.as_ref())?;
        if !quiet {
            let by = signer.map_or("unsigned".into(), |fp| format!("signed by {fp}"));
            eprintln!(
                "evidence: {} files, {} bytes, {by} in {}",
                w.files,
                w.bytes,
                dir.display()
            );
        }
    }
    let outputs = sink::Outputs {
        format: args.format,
        files: args.output.clone(),
        color,
    };
    sink::outputs(&report, &outputs, &mut std::io::stdout())?;
    for w in report.empty_population_warnings() {
        eprintln!("warning: {w}");
    }
    Ok(pipeline::outcome(&report, report.run.fail_on))
}

/// Every input verified and loaded, refused when they do not make one run, then judged as one.
fn merged(args: &MergeArgs, trust: &evidence::Trust, quiet: bool) -> Result<shard::Merged> {
    if let Some(dir) = &args.evidence_dir {
        evidence::check_destination(dir)?;
    }
    let mut inputs = Vec::with_capacity(args.inputs.len());
    for path in &args.inputs {
        let i = shard::load_input(path, trust)?;
        if !quiet {
            let said = Notice::Signature {
                bundle: path.clone(),
                check: i.recorded.signature.clone(),
            };
            eprintln!("{said}");
        }
        inputs.push(i);
    }
    let given = shard::Given {
        controls: args.controls.clone(),
        waivers: args.waivers.clone(),
    };
    shard::judge(shard::combine(inputs)?, &given)
}
