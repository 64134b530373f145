//! Evidence bundles: the folder `vouch check --evidence-dir DIR` writes for an auditor, the
//! checks `vouch verify` runs on it, and the loading `vouch check --from-evidence` replays.
//!
//! ```text
//! DIR/
//!   MANIFEST                            every other file's SHA-256 and size (see `manifest`)
//!   MANIFEST.sig                        optional Ed25519 signature of MANIFEST (see `sign`)
//!   MANIFEST.tsr                        optional RFC 3161 time-stamp of MANIFEST (`timestamp`)
//!   report.json                         the report, as `--format json` prints it
//!   observations/sha256-<hex>.json      one per observation: the exact bytes whose digest is
//!                                       the report's observation key `sha256:<hex>`
//!   attachments/sha256-<hex>.<ext>      each attachment's content, named by its digest
//!   inputs/controls/NNN-<name>.toml     the control files the run loaded, in load order
//!   inputs/waivers.toml                 the waivers file, when there was one
//! ```
//!
//! A bundle is written into a temporary sibling folder and renamed into place, so it is either
//! complete or absent. This module does not run probes or judge anything: it stores and checks.

pub mod manifest;
pub mod replay;
pub mod sign;
pub mod timestamp;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jiff::SignedDuration;
use sha2::{Digest, Sha256};

use crate::control::Control;
use crate::probe::Observation;
use crate::report::Report;
use manifest::{Entry, Manifest};

pub use crate::bundle::{
    INPUT_CONTROLS, INPUT_WAIVERS, MANIFEST, REPORT, SIGNATURE, attachment_path, observation_bytes,
    observation_path,
};

/// Files about `MANIFEST` that a bundle may carry beside it without being listed in it (they are
/// made after it): vouch's own Ed25519 signature, and the detached signatures or timestamps other
/// tools make of MANIFEST — a Sigstore bundle (`cosign sign-blob --bundle`), an RFC 3161
/// timestamp response, an OpenPGP or minisign signature. `vouch verify` checks `MANIFEST.sig`
/// itself; the others it accepts as present, names, and leaves to their own tools. They must be
/// regular files. Any other file not in MANIFEST is a problem (`extra`).
pub const SIDECARS: [&str; 6] = [
    SIGNATURE,
    "MANIFEST.sigstore.json",
    "MANIFEST.sigstore",
    "MANIFEST.tsr",
    "MANIFEST.asc",
    "MANIFEST.minisig",
];

/// The control sources with every file read once, now: a folder becomes its `*.toml` files (in
/// the loader's order) and each file its text, named by its path so diagnostics still point at
/// it. The run loads these texts and the bundle keeps these same bytes ([`collect_inputs`]), so
/// a file edited during the run cannot make the bundle's `inputs/` differ from what was judged.
/// A file that cannot be read as UTF-8 is left as a path for the loader to report.
pub fn snapshot_sources(sources: &[crate::control::Source]) -> Vec<crate::control::Source> {
    use crate::control::Source;
    let mut out = Vec::with_capacity(sources.len());
    let read = |p: &Path| match std::fs::read(p).map(String::from_utf8) {
        Ok(Ok(text)) => Source::Text {
            name: p.to_path_buf(),
            text,
        },
        _ => Source::Path(p.to_path_buf()),
    };
    for source in sources {
        match source {
            Source::Path(p) if p.is_dir() => {
                let mut files: Vec<PathBuf> = match std::fs::read_dir(p) {
                    Ok(rd) => rd
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|f| f.is_file() && f.extension().is_some_and(|e| e == "toml"))
                        .collect(),
                    Err(_) => Vec::new(),
                };
                files.sort();
                if files.is_empty() {
                    // The loader names the problem (no control files, or unreadable).
                    out.push(source.clone());
                }
                out.extend(files.iter().map(|f| read(f)));
            }
            Source::Path(p) => out.push(read(p)),
            Source::Text { .. } => out.push(source.clone()),
        }
    }
    out
}

/// The files a run read, as `(path under the bundle, bytes)`: the control sources in load order
/// (`inputs/controls/NNN-<name>`) and the waivers file's bytes as loaded
/// (`inputs/waivers.toml`), so a replay needs nothing but the bundle. Give it the sources
/// [`snapshot_sources`] returned, so nothing is read again after the run.
pub fn collect_inputs(
    sources: &[crate::control::Source],
    waivers: Option<&[u8]>,
) -> Result<Vec<(String, Vec<u8>)>> {
    use crate::control::Source;
    let mut texts: Vec<(String, Vec<u8>)> = Vec::new();
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "controls.toml".into())
    };
    for source in sources {
        match source {
            Source::Text { name, text } => texts.push((name_of(name), text.clone().into_bytes())),
            Source::Path(p) if p.is_dir() => {
                // The same files, in the same order, as the loader reads a folder.
                let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                    .with_context(|| format!("reading {}", p.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.is_file() && f.extension().is_some_and(|e| e == "toml"))
                    .collect();
                files.sort();
                for f in files {
                    let bytes =
                        std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
                    texts.push((name_of(&f), bytes));
                }
            }
            Source::Path(p) => {
                let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                texts.push((name_of(p), bytes));
            }
        }
    }
    let mut out: Vec<(String, Vec<u8>)> = texts
        .into_iter()
        .enumerate()
        .map(|(i, (name, bytes))| {
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            (format!("{INPUT_CONTROLS}/{i:03}-{safe}"), bytes)
        })
        .collect();
    if let Some(w) = waivers {
        out.push((INPUT_WAIVERS.into(), w.to_vec()));
    }
    Ok(out)
}

/// Sets each result's `expires_at`: its observation's `observed_at` plus the control's `max_age`.
pub fn stamp_expiry(report: &mut Report, controls: &[Control]) {
    let max_ages: BTreeMap<&str, u64> = controls
        .iter()
        .filter_map(|c| c.max_age.map(|m| (c.id.as_str(), m)))
        .collect();
    for c in &mut report.controls {
        let Some(max_age) = max_ages.get(c.id.as_str()) else {
            continue;
        };
        for r in &mut c.results {
            let observed_at = r
                .observation
                .as_ref()
                .and_then(|k| report.observations.head(k))
                .map(|o| o.observed_at);
            r.expires_at = observed_at.and_then(|t| {
                t.checked_add(SignedDuration::from_secs(
                    i64::try_from(*max_age).unwrap_or(i64::MAX),
                ))
                .ok()
            });
        }
    }
}

/// Refuses a destination that already holds something: evidence is never overwritten.
pub fn check_destination(dir: &Path) -> Result<()> {
    if dir.exists() {
        let empty = dir.is_dir() && std::fs::read_dir(dir)?.next().is_none();
        if !empty {
            bail!(
                "{} already exists; an evidence bundle is never overwritten, choose a new folder",
                dir.display()
            );
        }
    }
    Ok(())
}

/// What was written.
#[derive(Debug)]
pub struct Written {
    pub files: usize,
    pub bytes: u64,
    pub signed: bool,
}

/// Writes the bundle for `report` (and the run's `inputs`, see [`collect_inputs`]) at `dir`,
/// atomically; signs the manifest with `key` when given.
pub fn write_bundle(
    dir: &Path,
    report: &Report,
    inputs: &[(String, Vec<u8>)],
    key: Option<&SigningKey>,
) -> Result<Written> {
    check_destination(dir)?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.partial-"))
        .tempdir_in(&parent)
        .with_context(|| format!("creating a temporary folder in {}", parent.display()))?;

    // Each file is written as soon as its bytes exist and then dropped: the bundle is never
    // held in memory whole (large runs: thousands of observations and attachments).
    let mut entries: Vec<Entry> = Vec::with_capacity(report.observations.len() * 2 + 8);
    let mut total = 0u64;
    // The report is streamed to its file and hashed on the way (never one big string).
    {
        let file = std::fs::File::create(tmp.path().join(REPORT))
            .with_context(|| format!("writing {}", tmp.path().join(REPORT).display()))?;
        // Buffered before the hasher: serde's many small writes become few large ones.
        let mut buffered = std::io::BufWriter::with_capacity(
            256 << 10,
            HashingWriter {
                inner: file,
                hasher: Sha256::new(),
                len: 0,
            },
        );
        crate::report::json::write(report, &mut buffered)?;
        let w = buffered
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing {REPORT}: {}", e.error()))?;
        entries.push(Entry {
            path: REPORT.into(),
            sha256: hex::encode(w.hasher.finalize()),
            size: w.len,
        });
        total += w.len;
    }
    let mut put = |rel: &str, bytes: &[u8]| -> Result<()> {
        write_file(&tmp.path().join(rel), bytes)?;
        entries.push(Entry::of(rel, bytes));
        total += bytes.len() as u64;
        Ok(())
    };
    // Paths written so far, besides observations (an attachment shared by two observations
    // is one file).
    let mut attachments: std::collections::HashSet<String> = std::collections::HashSet::new();
    // One observation read back from the store at a time.
    for id in report.observations.keys() {
        let Some(bytes) = report.observations.bytes(id)? else {
            continue;
        };
        // The report's key must be the digest of these bytes, or the bundle would lie.
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if digest != *id {
            bail!("observation {id} does not serialise to its key ({digest}); no bundle written");
        }
        put(&observation_path(id), &bytes)?;
        let obs: Observation = serde_json::from_slice(&bytes)
            .with_context(|| format!("reading observation {id} back from the spool"))?;
        for a in &obs.attachments {
            let rel = attachment_path(a);
            if attachments.insert(rel.clone()) {
                put(&rel, a.content.as_bytes())?;
            }
        }
    }
    for (rel, bytes) in inputs {
        if attachments.insert(rel.clone()) {
            put(rel, bytes)?;
        }
    }
    let files: Vec<String> = entries.iter().map(|e| e.path.clone()).collect();
    let mut manifest = Manifest::new(entries);
    if let Some(key) = key {
        manifest = manifest.signed_by(key.verifying_key());
    }
    let manifest = manifest.render();
    write_file(&tmp.path().join(MANIFEST), manifest.as_bytes())?;
    let mut written: Vec<String> = files.clone();
    written.push(MANIFEST.into());
    if let Some(key) = key {
        write_file(
            &tmp.path().join(SIGNATURE),
            sign::sign(key, manifest.as_bytes()).as_bytes(),
        )?;
        written.push(SIGNATURE.into());
    }
    sync_tree(tmp.path(), &written)?;
    // An empty destination folder (made by the caller) is replaced by the rename.
    if dir.is_dir() {
        std::fs::remove_dir(dir).with_context(|| format!("replacing {}", dir.display()))?;
    }
    let tmp_path = tmp.keep();
    if let Err(e) = std::fs::rename(&tmp_path, dir) {
        let _ = std::fs::remove_dir_all(&tmp_path);
        return Err(e).with_context(|| format!("moving the bundle into {}", dir.display()));
    }
    if let Ok(d) = std::fs::File::open(&parent) {
        let _ = d.sync_all();
    }
    Ok(Written {
        files: files.len(),
        bytes: total,
        signed: key.is_some(),
    })
}

/// A writer that hashes and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut f =
        std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// Flushes every file of the new bundle, then its folders, to disk before the rename makes it
/// visible: after a crash the bundle is complete or absent, never present with empty files.
/// Files are flushed on a few threads, since one fsync after another dominates large bundles.
fn sync_tree(root: &Path, files: &[String]) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(2, 8);
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || -> std::io::Result<()> {
                    for rel in part {
                        std::fs::File::open(root.join(rel))?.sync_all()?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a flushing thread panicked"))?
                .context("flushing the bundle to disk")?;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    for dir in ["observations", "attachments", INPUT_CONTROLS, "inputs", "."] {
        if let Ok(d) = std::fs::File::open(root.join(dir)) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// One thing wrong with a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The manifest cannot be read or parsed.
    Manifest(String),
    Missing(String),
    Extra(String),
    /// Not a regular file (a symlink, a device): not followed.
    NotAFile(String),
    Modified {
        path: String,
        expected: String,
        actual: String,
    },
    Size {
        path: String,
        expected: u64,
        actual: u64,
    },
    /// A key or signer was asked for, and there is no `MANIFEST.sig`.
    Unsigned,
    BadSignature(String),
    /// Nothing the verifier trusts vouches for the bundle: unsigned, or signed by a key it was
    /// not given (`--allow-unsigned` accepts this and checks the digests only).
    Untrusted(String),
    /// The bundle holds no `report.json`, or an observation file whose name is not its digest.
    Content(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Manifest(m) => write!(f, "manifest: {m}"),
            Problem::Missing(p) => write!(f, "missing: {p} is in MANIFEST but not in the bundle"),
            Problem::Extra(p) => write!(f, "extra: {p} is in the bundle but not in MANIFEST"),
            Problem::NotAFile(p) => write!(
                f,
                "not a regular file: {p} (a symlink, folder or device is never followed)"
            ),
            Problem::Modified {
                path,
                expected,
                actual,
            } => write!(
                f,
                "modified: {path} has SHA-256 {actual}, MANIFEST says {expected}"
            ),
            Problem::Size {
                path,
                expected,
                actual,
            } => write!(
                f,
                "modified: {path} is {actual} bytes, MANIFEST says {expected}"
            ),
            Problem::Unsigned => write!(
                f,
                "unsigned: a signer was asked for (--public-key or --signer) but there is no \
                 {SIGNATURE}"
            ),
            Problem::BadSignature(m) => write!(f, "signature: {m}"),
            Problem::Untrusted(m) => write!(f, "untrusted: {m}"),
            Problem::Content(m) => write!(f, "content: {m}"),
        }
    }
}

/// What a verifier trusts: the key the bundle must be signed with (`--public-key`), the pinned
/// fingerprint of that key (`--signer SHA256:…`), or neither, which passes only with
/// `allow_unsigned` (digests checked, authorship not).
#[derive(Clone, Debug, Default)]
pub struct Trust {
    pub public_key: Option<VerifyingKey>,
    /// `SHA256:<64 lowercase hex>`, see [`sign::parse_fingerprint`].
    pub signer: Option<String>,
    pub allow_unsigned: bool,
}

impl Trust {
    /// Digests only: what tests and tools that re-read their own bundles use.
    pub fn digests_only() -> Trust {
        Trust {
            allow_unsigned: true,
            ..Trust::default()
        }
    }
}

/// The outcome of verifying a bundle.
#[derive(Debug, Default)]
pub struct Verification {
    pub problems: Vec<Problem>,
    /// Files listed in the manifest.
    pub files: usize,
    /// What the signature check established; `None` when it failed (see `problems`).
    pub signature: Option<crate::report::SignatureCheck>,
    /// The manifest that was checked (the exact bytes the signature covers were parsed).
    pub manifest: Option<Manifest>,
    /// Allowed sidecars present other than `MANIFEST.sig` (see [`SIDECARS`]), not checked here.
    pub sidecars: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The largest `MANIFEST` read (about half a million files).
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;
/// The largest `MANIFEST.sig` read (the real one is 129 bytes).
pub const MAX_SIGNATURE_BYTES: u64 = 4 << 10;
/// The largest `report.json` or other bundle file read into memory.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Opens a bundle file for reading without following a symlink and without blocking on a FIFO,
/// and checks that it is a regular file of at most `cap` bytes. The error says what was found.
pub fn open_regular(path: &Path, cap: u64) -> std::result::Result<std::fs::File, String> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(format!(
            "{} is a symbolic link, which is never followed",
            path.display()
        ));
    }
    let f = opts.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return format!(
                "{} is a symbolic link, which is never followed",
                path.display()
            );
        }
        format!("cannot read {}: {e}", path.display())
    })?;
    let meta = f
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "{} is not a regular file (a folder, FIFO or device)",
            path.display()
        ));
    }
    if meta.len() > cap {
        return Err(format!(
            "{} is {} bytes, more than the {cap} a bundle file may hold",
            path.display(),
            meta.len()
        ));
    }
    Ok(f)
}

/// Reads a bundle file with [`open_regular`]'s rules; never more than `cap` bytes, even if the
/// file grows while it is read.
pub fn read_regular(path: &Path, cap: u64) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let f = open_regular(path, cap)?;
    let mut bytes = Vec::new();
    f.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > cap {
        return Err(format!(
            "{} grew past the {cap} bytes a bundle file may hold while it was read",
            path.display()
        ));
    }
    Ok(bytes)
}

/// Checks the signature of `manifest_bytes` (`sig`: the bytes of `MANIFEST.sig`, if any) against
/// what `trust` accepts; pushes each problem, returns what was established.
fn check_signature(
    manifest: &Manifest,
    manifest_bytes: &[u8],
    sig: Option<&[u8]>,
    trust: &Trust,
    problems: &mut Vec<Problem>,
) -> Option<crate::report::SignatureCheck> {
    use crate::report::{SignatureCheck, SignatureStatus};
    let asked = trust.public_key.is_some() || trust.signer.is_some();
    let named = manifest.signer.as_ref();
    let Some(sig) = sig else {
        if let Some(k) = named {
            problems.push(Problem::BadSignature(format!(
                "MANIFEST names signer {} but there is no {SIGNATURE}: the signature was removed",
                sign::fingerprint(k)
            )));
            return None;
        }
        if asked {
            problems.push(Problem::Unsigned);
            return None;
        }
        if !trust.allow_unsigned {
            problems.push(Problem::Untrusted(format!(
                "the bundle is not signed (no {SIGNATURE}): anyone could have written it. Sign \
                 bundles with `check --sign-key`, or give --allow-unsigned to check the digests \
                 only"
            )));
            return None;
        }
        return Some(SignatureCheck {
            status: SignatureStatus::Unsigned,
            signer: None,
        });
    };
    let sig = String::from_utf8_lossy(sig);
    // The key the signature is checked with: the one given, else the one MANIFEST names
    // (trusted only when its fingerprint is the pinned one).
    let key = match (&trust.public_key, named) {
        (Some(given), Some(named)) if given != named => {
            problems.push(Problem::BadSignature(format!(
                "MANIFEST names signer {}, not the given key {}",
                sign::fingerprint(named),
                sign::fingerprint(given)
            )));
            return None;
        }
        (Some(given), _) => Some(*given),
        (None, named) => named.copied(),
    };
    let Some(key) = key else {
        // Signed by an older vouch that did not name its key.
        if trust.signer.is_some() {
            problems.push(Problem::Untrusted(
                "MANIFEST does not name its signer's key, so a pinned --signer cannot be \
                 checked; give the key with --public-key FILE"
                    .into(),
            ));
            return None;
        }
        if trust.allow_unsigned {
            return Some(SignatureCheck {
                status: SignatureStatus::Unchecked,
                signer: None,
            });
        }
        problems.push(Problem::Untrusted(
            "signed, but by no key given here: give --public-key FILE (or --allow-unsigned to \
             check the digests only)"
                .into(),
        ));
        return None;
    };
    let fp = sign::fingerprint(&key);
    if let Some(pin) = &trust.signer
        && *pin != fp
    {
        problems.push(Problem::BadSignature(format!(
            "signed by {fp}, not by the pinned signer {pin}"
        )));
        return None;
    }
    if let Err(m) = sign::verify(&key, manifest_bytes, &sig) {
        problems.push(Problem::BadSignature(m));
        return None;
    }
    if asked {
        return Some(SignatureCheck {
            status: SignatureStatus::Verified,
            signer: Some(fp),
        });
    }
    if trust.allow_unsigned {
        return Some(SignatureCheck {
            status: SignatureStatus::Unchecked,
            signer: Some(fp),
        });
    }
    problems.push(Problem::Untrusted(format!(
        "signed by {fp}, a key nothing here vouches for (anyone can sign with a key of their \
         own): pin it with --signer {fp} or give --public-key FILE, or --allow-unsigned to check \
         the digests only"
    )));
    None
}

/// Checks every file of the bundle at `dir` against its manifest, and the signature against
/// `trust`. `MANIFEST`, `MANIFEST.sig` and every listed file are opened without following
/// symlinks, must be regular files, and are read up to a size cap: a hostile bundle gets a
/// named problem, never a hang.
pub fn verify(dir: &Path, trust: &Trust) -> Verification {
    let mut v = Verification::default();
    let manifest_bytes = match read_regular(&dir.join(MANIFEST), MAX_MANIFEST_BYTES) {
        Ok(b) => b,
        Err(e) => {
            v.problems.push(Problem::Manifest(e));
            return v;
        }
    };
    let manifest = match std::str::from_utf8(&manifest_bytes)
        .map_err(|_| vec!["MANIFEST is not UTF-8".to_string()])
        .and_then(Manifest::parse)
    {
        Ok(m) => m,
        Err(problems) => {
            v.problems
                .extend(problems.into_iter().map(Problem::Manifest));
            return v;
        }
    };
    v.files = manifest.entries.len();

    // The signature first: it says whether the manifest itself can be trusted.
    let sig_path = dir.join(SIGNATURE);
    let sig = match std::fs::symlink_metadata(&sig_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        _ => match read_regular(&sig_path, MAX_SIGNATURE_BYTES) {
            Ok(b) => Some(b),
            Err(e) => {
                v.problems.push(Problem::BadSignature(e));
                Some(Vec::new())
            }
        },
    };
    if v.problems.is_empty() {
        v.signature = check_signature(
            &manifest,
            &manifest_bytes,
            sig.as_deref(),
            trust,
            &mut v.problems,
        );
    }

    let mut on_disk: BTreeMap<String, std::fs::Metadata> = BTreeMap::new();
    walk(dir, dir, &mut on_disk, &mut v.problems);
    let listed: BTreeMap<&str, &Entry> = manifest
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e))
        .collect();
    let mut unreadable: Vec<&str> = Vec::new();
    for e in &manifest.entries {
        match on_disk.get(&e.path) {
            None => v.problems.push(Problem::Missing(e.path.clone())),
            Some(meta) if !meta.is_file() => {
                unreadable.push(&e.path);
                v.problems.push(Problem::NotAFile(e.path.clone()));
            }
            Some(meta) => {
                if meta.len() != e.size {
                    unreadable.push(&e.path);
                    v.problems.push(Problem::Size {
                        path: e.path.clone(),
                        expected: e.size,
                        actual: meta.len(),
                    });
                    continue;
                }
                match sha256_file(&dir.join(&e.path)) {
                    Ok(actual) => {
                        if actual != e.sha256 {
                            unreadable.push(&e.path);
                            v.problems.push(Problem::Modified {
                                path: e.path.clone(),
                                expected: e.sha256.clone(),
                                actual,
                            });
                        }
                    }
                    Err(err) => {
                        unreadable.push(&e.path);
                        v.problems.push(Problem::Content(err));
                    }
                }
            }
        }
    }
    for (path, meta) in &on_disk {
        if path == MANIFEST || listed.contains_key(path.as_str()) {
            continue;
        }
        if path == SIGNATURE {
            // Read (regular files only) and checked above.
            continue;
        }
        if SIDECARS.contains(&path.as_str()) {
            if !meta.is_file() {
                v.problems.push(Problem::Content(format!(
                    "{path} is not a regular file (a symlink or special file beside MANIFEST)"
                )));
            } else {
                v.sidecars.push(path.clone());
            }
            continue;
        }
        v.problems.push(Problem::Extra(path.clone()));
    }
    if !listed.contains_key(REPORT) {
        v.problems
            .push(Problem::Content(format!("MANIFEST does not list {REPORT}")));
    }
    // The report's observation keys must each have their file (a bundle can be made consistent
    // for MANIFEST after an observation was dropped; the report still names it).
    if listed.contains_key(REPORT) && !unreadable.contains(&REPORT) && on_disk.contains_key(REPORT)
    {
        match ObservationKeys::read(&dir.join(REPORT)) {
            Ok(keys) => match keys {
                Ok(keys) => {
                    for k in keys {
                        let path = observation_path(&k);
                        if !listed.contains_key(path.as_str()) {
                            v.problems.push(Problem::Content(format!(
                                "{REPORT} names observation {k}, but MANIFEST lists no {path}"
                            )));
                        }
                    }
                }
                Err(e) => v
                    .problems
                    .push(Problem::Content(format!("{REPORT} is not JSON: {e}"))),
            },
            Err(e) => v.problems.push(Problem::Content(e)),
        }
    }
    // Observation files are named by their own digest: check the name agrees with MANIFEST.
    for e in &manifest.entries {
        if let Some(rest) = e.path.strip_prefix("observations/sha256-")
            && rest.strip_suffix(".json") != Some(e.sha256.as_str())
        {
            v.problems.push(Problem::Content(format!(
                "{} is not named by its digest ({})",
                e.path, e.sha256
            )));
        }
    }
    v.manifest = Some(manifest);
    v
}

/// The observation keys of a report.json, read without building the observations (a report of
/// a large estate is megabytes; only its keys matter to [`verify`]). `observations` that is not
/// an object names no key, as `report["observations"]` of a [`serde_json::Value`] would.
#[derive(serde::Deserialize)]
struct ObservationKeys {
    #[serde(default)]
    observations: KeysOf,
}

#[derive(Default)]
struct KeysOf(Vec<String>);

impl<'de> serde::Deserialize<'de> for KeysOf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = KeysOf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<KeysOf, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(KeysOf(keys))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<KeysOf, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(KeysOf::default())
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<KeysOf, E> {
                Ok(KeysOf::default())
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<KeysOf, E> {
                Ok(KeysOf::default())
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<KeysOf, E> {
                Ok(KeysOf::default())
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<KeysOf, E> {
                Ok(KeysOf::default())
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<KeysOf, E> {
                Ok(KeysOf::default())
            }
            fn visit_unit<E>(self) -> std::result::Result<KeysOf, E> {
                Ok(KeysOf::default())
            }
        }
        d.deserialize_any(V)
    }
}

impl ObservationKeys {
    /// The keys of the report at `path`, read as a stream (never the whole file in memory); any
    /// JSON that is not an object names none.
    fn read(path: &Path) -> std::result::Result<serde_json::Result<Vec<String>>, String> {
        let open = || {
            open_regular(path, MAX_FILE_BYTES).map(|f| {
                std::io::BufReader::with_capacity(256 << 10, std::io::Read::take(f, MAX_FILE_BYTES))
            })
        };
        Ok(
            match serde_json::from_reader::<_, ObservationKeys>(open()?) {
                Ok(k) => Ok(k.observations.0),
                // Valid JSON of another shape (an array, a string): no key, as before.
                Err(e) => serde_json::from_reader::<_, serde::de::IgnoredAny>(open()?)
                    .map(|_| Vec::new())
                    .map_err(|_| e),
            },
        )
    }
}

/// The hex SHA-256 of a bundle file, read in blocks (bundles may hold large attachments),
/// opened as [`open_regular`] opens it.
pub fn sha256_file(path: &Path) -> std::result::Result<String, String> {
    use std::io::Read;
    let mut f = open_regular(path, u64::MAX)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Every entry under `dir`, by '/'-separated relative path; symlinks are not followed.
fn walk(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, std::fs::Metadata>,
    problems: &mut Vec<Problem>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem::Manifest(format!(
                "cannot list {}: {e}",
                dir.display()
            )));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if meta.is_dir() {
            walk(root, &path, out, problems);
        } else {
            out.insert(rel, meta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Observation;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a probe records, reading an observation file and writing it again gives the
        /// same bytes, so keys, file names and replayed reports always agree.
        #[test]
        fn observation_bytes_survive_a_round_trip(
            facts in proptest::collection::btree_map(
                "[a-z.]{1,12}",
                prop_oneof![
                    any::<i64>().prop_map(serde_json::Value::from),
                    any::<f64>()
                        .prop_filter("finite", |f| f.is_finite())
                        .prop_map(serde_json::Value::from),
                    any::<String>().prop_map(serde_json::Value::from),
                    any::<bool>().prop_map(serde_json::Value::from),
                    Just(serde_json::Value::Null),
                ],
                0..8,
            ),
            evidence in proptest::collection::btree_map("\\PC{0,8}", "\\PC{0,16}", 0..4),
            content in "\\PC{0,64}",
        ) {
            let mut obs = Observation::new("tls", "example.com:443");
            obs.facts = facts;
            for (k, v) in evidence {
                obs.evidence(&k, v);
            }
            obs.attach("x.pem", "application/x-pem-file", content);
            let bytes = observation_bytes(&obs);
            let back: Observation = serde_json::from_slice(&bytes).unwrap();
            prop_assert_eq!(observation_bytes(&back), bytes);
        }
    }
}
