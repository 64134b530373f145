//! `vouch init [DIR]`: adapts [`crate::init`] (which holds every rule) to the command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use crate::diag::Diagnostics;
use crate::exit;
use crate::inventory::Inventory;
use crate::probe::Registry;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder to write into (default: the working directory).
    pub dir: Option<PathBuf>,
    /// Do not ask AWS who the current credentials are (no network at all).
    #[arg(long)]
    pub no_aws: bool,
    /// AWS profile to identify (otherwise the standard credential chain).
    #[arg(long, value_name = "NAME")]
    pub aws_profile: Option<String>,
    /// AWS region (otherwise the chain's: AWS_REGION, the profile).
    #[arg(long, value_name = "REGION")]
    pub aws_region: Option<String>,
    /// How long to wait for STS GetCallerIdentity before writing `[aws]` commented out.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = super::parse_timeout)]
    pub aws_timeout: Duration,
}

pub fn run(args: &InitArgs) -> Result<u8> {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let registry = Registry::builtin();
    let mut diags = Diagnostics::new();
    let controls = crate::control::load_controls(
        &crate::control::builtin::sources(),
        &registry,
        None,
        &mut diags,
    );
    let aws = if args.no_aws {
        None
    } else {
        let mut inv = Inventory::default();
        inv.aws.profile = args.aws_profile.clone();
        inv.aws.region = args.aws_region.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        rt.block_on(crate::init::detect_aws(inv, args.aws_timeout))
    };
    match &aws {
        Some(a) => eprintln!(
            "AWS credentials resolve to account {} in {}: [aws] filled in",
            a.account, a.region
        ),
        None if !args.no_aws => eprintln!(
            "no AWS credentials resolved (or STS did not answer in time): [aws] left commented out"
        ),
        None => {}
    }
    let files = crate::init::files(&controls, &registry, aws.as_ref());
    let outcome = crate::init::write(&dir, &files)
        .with_context(|| format!("writing into {}", dir.display()))?;
    for p in &outcome.written {
        println!("wrote {}", p.display());
    }
    for p in &outcome.kept {
        println!(
            "kept {} (it exists; vouch init never overwrites a file)",
            p.display()
        );
    }
    if !outcome.written.is_empty() {
        eprintln!(
            "next: fill in [targets] in vouch.toml, run `vouch validate`, then `vouch check` \
             (README: Getting started)"
        );
    }
    Ok(exit::PASS)
}
