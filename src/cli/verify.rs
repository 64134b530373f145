//! `vouch verify DIR`: an evidence bundle's digests, files and signature.

use std::path::Path;

use anyhow::Result;

use super::{VerifyArgs, stored, trust_of};
use crate::report::SignatureStatus;
use crate::{evidence, exit};

pub(super) fn run(args: &VerifyArgs) -> Result<u8> {
    let trust = trust_of(
        args.public_key.as_deref(),
        args.signer.as_ref(),
        args.allow_unsigned,
    )?;
    match (&args.dir, &args.store.store) {
        (_, Some(location)) => {
            let inv = stored::store_inventory(args.inventory.as_deref())?;
            stored::verify_store(location, &args.store, &trust, &inv)
        }
        (Some(dir), None) => bundle(args, dir, &trust),
        (None, None) => unreachable!("clap requires DIR or --store"),
    }
}

/// One bundle: its digests, files and signature, then its time-stamp.
fn bundle(args: &VerifyArgs, dir: &Path, trust: &evidence::Trust) -> Result<u8> {
    if !dir.is_dir() {
        eprintln!("error: {} is not a folder", dir.display());
        return Ok(exit::FAILED);
    }
    let v = evidence::verify(dir, trust);
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
        dir.display()
    );
    // MANIFEST.tsr is checked below when --tsa-cert is given.
    let checked = |s: &str| args.tsa_cert.is_some() && s == evidence::timestamp::TOKEN;
    for s in v.sidecars.iter().filter(|s| !checked(s)) {
        println!("sidecar: {s} (allowed beside MANIFEST; not checked by vouch verify)");
    }
    timestamp(args, dir)
}

/// `verify --tsa-cert`: the bundle's time-stamp token, checked by the library.
fn timestamp(args: &VerifyArgs, dir: &Path) -> Result<u8> {
    use evidence::timestamp::{TOKEN, load_certificate, verify_bundle};
    let Some(cert) = &args.tsa_cert else {
        if dir.join(TOKEN).exists() {
            println!("time-stamped ({TOKEN}), not checked: give --tsa-cert");
        }
        return Ok(exit::PASS);
    };
    let cert = match load_certificate(cert) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: --tsa-cert: {e}");
            return Ok(exit::INVALID);
        }
    };
    match verify_bundle(dir, &cert) {
        Ok(a) => {
            println!(
                "time-stamp: MANIFEST existed at {} (attested by {}, serial {}, policy {})",
                a.time, a.tsa, a.serial, a.policy
            );
            Ok(exit::PASS)
        }
        Err(e) => {
            eprintln!("time-stamp: {e}");
            eprintln!("FAILED: the time-stamp of {} does not hold", dir.display());
            Ok(exit::FAILED)
        }
    }
}
