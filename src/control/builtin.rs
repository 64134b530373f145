//! The built-in control library: `controls/*.toml`, embedded at build time (see `build.rs`).
//!
//! `--controls builtin` names the whole library and `builtin:PACK` one of its packs: a pack is one
//! file of the library, named without its order prefix and extension (`controls/02-encryption.toml`
//! is `builtin:encryption`). Both combine with files: `--controls builtin --controls ours.toml`.
//!
//! Opt-in packs (`controls/packs/*.toml`: the Mozilla server-side TLS profiles
//! `builtin:mozilla-modern`, `builtin:mozilla-intermediate`, `builtin:mozilla-old`) are embedded
//! the same way and named the same way, but are not part of the library: `builtin` and no
//! `--controls` leave them out (their profiles contradict each other by design).

use std::path::{Path, PathBuf};

use super::Source;

include!(concat!(env!("OUT_DIR"), "/builtin_controls.rs"));

/// What `--controls builtin` means (`builtin:PACK` for one pack).
pub const NAME: &str = "builtin";

/// The built-in library as load sources, named as in the repository.
pub fn sources() -> Vec<Source> {
    FILES
        .iter()
        .map(|(name, text)| Source::Text {
            name: PathBuf::from(name),
            text: (*text).to_string(),
        })
        .collect()
}

/// The pack names, in library order (`governance`, `encryption`, …), then the opt-in packs
/// (`mozilla-modern`, …).
pub fn packs() -> Vec<&'static str> {
    FILES
        .iter()
        .chain(PACKS.iter())
        .map(|(name, _)| pack_of(name))
        .collect()
}

fn pack_of(name: &'static str) -> &'static str {
    let stem = name
        .rsplit('/')
        .next()
        .unwrap_or(name)
        .trim_end_matches(".toml");
    match stem.split_once('-') {
        Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) => rest,
        _ => stem,
    }
}

/// Whether `name`/`text` is one of the embedded files, unchanged.
pub fn is_builtin(name: &Path, text: &str) -> bool {
    FILES
        .iter()
        .chain(PACKS.iter())
        .any(|(n, t)| Path::new(n) == name && *t == text)
}

/// The sources `--controls` names: files and folders, `builtin` (the whole library) and
/// `builtin:PACK`, in the order given; no `--controls` at all is the whole library. A folder
/// literally named `builtin` is `./builtin`.
pub fn resolve(paths: &[PathBuf]) -> Result<Vec<Source>, String> {
    if paths.is_empty() {
        return Ok(sources());
    }
    let mut out: Vec<Source> = Vec::new();
    for p in paths {
        let s = p.to_string_lossy();
        if s == NAME {
            out.extend(sources());
        } else if let Some(pack) = s.strip_prefix("builtin:") {
            let found: Vec<Source> = FILES
                .iter()
                .chain(PACKS.iter())
                .filter(|(name, _)| pack_of(name) == pack)
                .map(|(name, text)| Source::Text {
                    name: PathBuf::from(name),
                    text: (*text).to_string(),
                })
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "--controls {s}: no built-in pack `{pack}`; packs: {}",
                    packs().join(", ")
                ));
            }
            out.extend(found);
        } else {
            out.push(Source::Path(p.clone()));
        }
    }
    // `builtin` and `builtin:encryption` together name the encryption file once.
    let mut seen = std::collections::HashSet::new();
    out.retain(|s| match s {
        Source::Text { name, .. } => seen.insert(name.clone()),
        Source::Path(_) => true,
    });
    Ok(out)
}

/// Writes the library (not the opt-in packs) into `dir` as `NN-name.toml` files; an existing
/// file is kept unless `force`. Returns the files written and the files kept.
pub fn export(dir: &Path, force: bool) -> std::io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    std::fs::create_dir_all(dir)?;
    let (mut written, mut kept) = (Vec::new(), Vec::new());
    for (name, text) in FILES {
        let file = dir.join(name.rsplit('/').next().unwrap_or(name));
        if file.exists() && !force {
            kept.push(file);
            continue;
        }
        std::fs::write(&file, text)?;
        written.push(file);
    }
    Ok((written, kept))
}
