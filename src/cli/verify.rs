//! `vouch verify DIR`: an evidence bundle's digests, files and signature.

use anyhow::Result;

use super::{VerifyArgs, trust_of};
use crate::report::SignatureStatus;
use crate::{evidence, exit};

pub(super) fn run(args: &VerifyArgs) -> Result<u8> {
    let trust = trust_of(
        args.public_key.as_deref(),
        args.signer.as_ref(),
        args.allow_unsigned,
    )?;
    if !args.dir.is_dir() {
        eprintln!("error: {} is not a folder", args.dir.display());
        return Ok(exit::FAILED);
    }
    let v = evidence::verify(&args.dir, &trust);
    for p in &v.problems {
        eprintln!("{p}");
    }
    let (true, Some(sig)) = (v.ok(), &v.signature) else {
        eprintln!(
            "FAILED: {} problem{} in {}",
            v.problems.len(),
            if v.problems.len() == 1 { "" } else { "s" },
            args.dir.display()
        );
        return Ok(exit::FAILED);
    };
    let how = match (sig.status, &sig.signer) {
        (SignatureStatus::Verified, Some(fp)) => format!("; signature valid, signed by {fp}"),
        (SignatureStatus::Unchecked, Some(fp)) => format!(
            "; signed by {fp}, but that key was not given: the signature was not checked against \
             a trusted key (--allow-unsigned)"
        ),
        (SignatureStatus::Unchecked, None) => {
            "; signed, but the signature was not checked (--allow-unsigned)".into()
        }
        _ => "; not signed (--allow-unsigned): who wrote it is not proven".into(),
    };
    println!(
        "ok: {} files match MANIFEST in {}{how}",
        v.files,
        args.dir.display()
    );
    Ok(exit::PASS)
}
