//! Sinks: they write the finished [`Report`] (and its observations) and nothing else. The
//! evidence bundle first (the report records where it went), then the report on stdout and in
//! each `--output` file. No stage of the pipeline writes a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::{Context, Notice, Outcome};
use crate::evidence;
use crate::report::{self, Format, Report, Style};

/// Writes the run's evidence bundle when `--evidence-dir` asked for one (atomically: complete
/// or absent), and says so.
pub fn bundle(outcome: &Outcome, ctx: &Context) -> Result<Option<evidence::Written>> {
    let Some(out) = &outcome.bundle_out else {
        return Ok(None);
    };
    let inputs = evidence::collect_inputs(&out.sources, out.waivers.as_deref())?;
    let written = evidence::write_bundle(&out.dir, &outcome.report, &inputs, out.key.as_ref())?;
    if let Some(url) = &out.timestamp_url {
        match evidence::timestamp::stamp_bundle(&out.dir, url, evidence::timestamp::TIMEOUT) {
            Ok(t) => ctx.notify(Notice::Info(format!(
                "time-stamp: MANIFEST stamped at {t} by {url}"
            ))),
            Err(e) => ctx.notify(Notice::Warning(format!(
                "no time-stamp for {}: {e}",
                out.dir.display()
            ))),
        }
    }
    ctx.notify(Notice::EvidenceWritten {
        bundle: out.dir.clone(),
        files: written.files,
        bytes: written.bytes,
        signer: outcome
            .report
            .run
            .evidence
            .as_ref()
            .and_then(|e| e.signer.clone()),
    });
    Ok(Some(written))
}

/// Files the run in its evidence store (`--store`), then posts what changed (`--notify`). The
/// report gains where it was filed (`run.evidence`) before any output is written.
pub fn store(outcome: &mut Outcome, ctx: &Context) -> Result<()> {
    let Some((out, Some(store))) = outcome.store_out.as_ref().map(|o| (o, o.store.as_ref())) else {
        return Ok(());
    };
    let inputs = evidence::collect_inputs(&out.sources, out.waivers.as_deref())?;
    use crate::store::check::{Said, file_run};
    let said = std::sync::Mutex::new(Vec::new());
    let report = &mut outcome.report;
    // The store's S3 client blocks on a runtime of its own: off this runtime's threads.
    let filed = std::thread::scope(|s| {
        s.spawn(|| {
            let say = |m: Said| said.lock().expect("said").push(m);
            file_run(store, report, &inputs, out.key.as_ref(), &say)
        })
        .join()
    });
    for m in said.into_inner().unwrap_or_default() {
        ctx.notify(match m {
            Said::Info(m) => Notice::Info(m),
            Said::Warning(m) => Notice::Warning(m),
        });
    }
    filed
        .map_err(|_| anyhow::anyhow!("filing the run in the evidence store failed unexpectedly"))?
}

/// Where the report goes: `--format` on stdout unless a plain `--output FILE` takes its place;
/// each `FORMAT=FILE` output is an extra file.
#[derive(Clone, Debug)]
pub struct Outputs {
    pub format: Format,
    pub files: Vec<(Option<Format>, PathBuf)>,
    /// Colour on stdout (never in a file).
    pub color: bool,
}

/// Renders the report to `stdout` and to every output file.
pub fn outputs(report: &Report, outputs: &Outputs, stdout: &mut dyn Write) -> Result<()> {
    if !outputs.files.iter().any(|(format, _)| format.is_none()) {
        let style = Style {
            color: outputs.color,
            width: None,
        };
        report::write(report, outputs.format, style, stdout)?;
    }
    for (format, path) in &outputs.files {
        let style = Style {
            color: false,
            width: None,
        };
        write_atomic_with(path, |w| {
            report::write(report, format.unwrap_or(outputs.format), style, w)
        })?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a crash
/// never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| Ok(w.write_all(bytes)?))
}

/// [`write_atomic`], the content written by `fill` (streamed, not held whole).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    fill(&mut tmp)?;
    tmp.flush()?;
    tmp.as_file().sync_all()?;
    // A report is for sharing: the temporary file's private mode would stick after the rename.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
