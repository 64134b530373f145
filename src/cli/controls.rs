//! `vouch controls export DIR`: the embedded control library as files, to read, diff or fork.
//! The logic is [`crate::control::builtin::export`]; this only adapts it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::exit;

#[derive(Debug, Args)]
pub struct ControlsArgs {
    #[command(subcommand)]
    pub command: ControlsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ControlsCommand {
    /// Write the built-in library into DIR as `NN-pack.toml` files (never overwrites a file
    /// unless --force).
    Export {
        /// The folder to write into (made when missing).
        dir: PathBuf,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(args: &ControlsArgs) -> Result<u8> {
    match &args.command {
        ControlsCommand::Export { dir, force } => {
            let (written, kept) = crate::control::builtin::export(dir, *force)
                .with_context(|| format!("exporting the built-in controls to {}", dir.display()))?;
            for f in &written {
                println!("wrote {}", f.display());
            }
            for f in &kept {
                eprintln!("kept {} (exists; --force overwrites it)", f.display());
            }
            if !kept.is_empty() {
                eprintln!(
                    "{} file{} kept unchanged",
                    kept.len(),
                    if kept.len() == 1 { "" } else { "s" }
                );
            }
            Ok(exit::PASS)
        }
    }
}
