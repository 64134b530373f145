//! The `vouch` binary: parse, run, exit. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = vouch::cli::Cli::parse();
    match vouch::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(vouch::exit::INVALID)
        }
    }
}
