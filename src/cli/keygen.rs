//! `vouch keygen`: an Ed25519 key pair for signing evidence bundles.

use anyhow::Result;

use super::KeygenArgs;
use crate::{evidence, exit};

pub(super) fn run(args: &KeygenArgs) -> Result<u8> {
    let (private, public) = evidence::sign::keygen(&args.out)?;
    println!(
        "wrote {} (private, keep it secret) and {} (public, give it to auditors)",
        private.display(),
        public.display()
    );
    Ok(exit::PASS)
}
