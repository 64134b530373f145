//! `vouch history`: the adapter. The period report and the sample are built in
//! [`crate::store::history`].

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::expect::parse_duration;
use crate::store::history::{self, HistoryFormat, HistoryOptions};
use crate::store::{Location, Store, Window};

pub const HISTORY_EXAMPLES: &str = "\
Examples:
  vouch history --store s3://audit-evidence/vouch --from 2026-01-01 --to 2026-06-30 --signer SHA256:…
  vouch history --store /var/lib/vouch --from 2026-01-01 --to 2026-06-30 --format html > period.html
  vouch history --store /var/lib/vouch --control ENC-TRANSIT-TLS12 --expect-every 1d --max-exception 3d
  vouch history --store /var/lib/vouch --at 2026-03-14T12:00Z --signer SHA256:…

Exit codes: 0 every control × target operated effectively and every run verified; 1 otherwise
(or, with --at, a run did not verify); 2 usage or configuration error.";

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The evidence store (a folder, file:///path or s3://bucket/prefix; else `[store] location`).
    #[arg(long, value_name = "LOCATION")]
    pub store: Option<String>,
    /// The inventory whose `[aws]` and `[store]` settings to use (default: ./vouch.toml).
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// First day of the period (UTC, YYYY-MM-DD; default: the first stored run).
    #[arg(long, value_name = "DATE")]
    pub from: Option<jiff::civil::Date>,
    /// Last day of the period (UTC, included; default: now).
    #[arg(long, value_name = "DATE")]
    pub to: Option<jiff::civil::Date>,
    /// Only this control (repeatable).
    #[arg(long, value_name = "ID")]
    pub control: Vec<String>,
    /// Only this target (repeatable).
    #[arg(long, value_name = "TARGET")]
    pub target: Vec<String>,
    /// Evidence further apart than this is a gap (a result's own max_age expiry also counts).
    #[arg(long, value_name = "DURATION", default_value = "1d")]
    pub expect_every: String,
    /// An exception (first failing run to the first passing run after it) longer than this
    /// makes the control not effective over the period.
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub max_exception: String,
    /// Sample: for each control × target, the newest run at or before this moment
    /// (RFC 3339, e.g. 2026-03-14T12:00Z), its verdict and bundle, re-verified now.
    #[arg(long, value_name = "TIME", conflicts_with_all = ["from", "to"])]
    pub at: Option<String>,
    #[arg(long, value_enum, default_value_t = HistoryFormat::Table)]
    pub format: HistoryFormat,
    /// Ed25519 public key (PEM) every bundle must be signed with.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Fingerprint (`SHA256:<hex>`) of the key every bundle must be signed with.
    #[arg(long, value_name = "SHA256:HEX", value_parser = crate::evidence::sign::parse_fingerprint)]
    pub signer: Option<String>,
    /// Accept bundles that are unsigned or signed by a key not given (digests still checked).
    #[arg(long)]
    pub allow_unsigned: bool,
}

/// `2026-03-14T12:00Z`, `2026-03-14T12:00:00Z` or any RFC 3339 timestamp.
fn parse_at(s: &str) -> Result<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    // RFC 3339 asks for seconds; an auditor's sample often omits them.
    if let Some(base) = s.strip_suffix('Z')
        && base.len() == 16
        && let Ok(t) = format!("{base}:00Z").parse::<jiff::Timestamp>()
    {
        return Ok(t);
    }
    anyhow::bail!("--at {s}: not a moment; write RFC 3339 in UTC, e.g. 2026-03-14T12:00Z")
}

pub fn run(args: &HistoryArgs) -> Result<u8> {
    let inv = super::stored::store_inventory(args.inventory.as_deref())?;
    let Some(text) = args.store.clone().or_else(|| inv.store.location.clone()) else {
        anyhow::bail!("give --store LOCATION (or [store] location in vouch.toml)");
    };
    let duration =
        |flag: &str, v: &str| parse_duration(v).map_err(|e| anyhow::anyhow!("--{flag}: {e}"));
    let expect_every = duration("expect-every", &args.expect_every)?;
    if expect_every == 0 {
        anyhow::bail!("--expect-every must be at least 1s");
    }
    let opts = HistoryOptions {
        window: Window {
            from: args.from,
            to: args.to,
        },
        controls: args.control.clone(),
        targets: args.target.clone(),
        expect_every,
        max_exception: duration("max-exception", &args.max_exception)?,
        now: jiff::Timestamp::now(),
    };
    if let (Some(f), Some(t)) = (args.from, args.to)
        && f > t
    {
        anyhow::bail!("--from {f} is after --to {t}");
    }
    let trust = super::trust_of(
        args.public_key.as_deref(),
        args.signer.as_ref(),
        args.allow_unsigned,
    )?;
    let location = Location::parse(&text).map_err(anyhow::Error::msg)?;
    let store = Store::open_existing(&location, &inv.store, &inv)?;
    let (out, code, problems) = match &args.at {
        Some(at) => {
            let s = history::sample(&store, &trust, parse_at(at)?, &opts)?;
            (s.render(args.format)?, s.exit_code(), s.problems.clone())
        }
        None => {
            let h = history::history(&store, &trust, &opts)?;
            (h.render(args.format)?, h.exit_code(), h.problems.clone())
        }
    };
    for p in problems {
        eprintln!("problem: {p}");
    }
    print!("{out}");
    Ok(code)
}
