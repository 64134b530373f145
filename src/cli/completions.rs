//! `vouch completions SHELL`: shell completions on stdout.

use anyhow::Result;
use clap::CommandFactory;

use super::Cli;
use crate::exit;

pub(super) fn run(shell: clap_complete::Shell) -> Result<u8> {
    clap_complete::generate(shell, &mut Cli::command(), "vouch", &mut std::io::stdout());
    Ok(exit::PASS)
}
