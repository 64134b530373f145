//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; not part of the API).
//!
//! Each reads bytes as one kind of user file exactly as `vouch check` reads it: UTF-8 text (the
//! CLI refuses other bytes before parsing), the spanned TOML reader of [`crate::diag`], the same
//! validation (controls against the built-in probe registry and an inventory's groups, waivers
//! against known control ids and today's date), then renders the diagnostics, whose spans must
//! lie in the text. Nothing here reaches the network or reads another file.

use std::path::Path;
use std::sync::OnceLock;

use jiff::civil::Date;

use crate::control::{Source, load_controls};
use crate::diag::Diagnostics;
use crate::inventory::Inventory;
use crate::probe::Registry;

/// The inventory user-written controls are checked against (its groups, as `check` does when a
/// `vouch.toml` was read).
const INVENTORY: &str = r#"
[targets]
web = ["example.com", "https://example.com/"]
"s3:buckets" = ["*"]
"#;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::builtin)
}

fn group_inventory() -> &'static Inventory {
    static INV: OnceLock<Inventory> = OnceLock::new();
    INV.get_or_init(|| {
        let mut diags = Diagnostics::new();
        let path = Path::new("vouch.toml");
        let file = diags.add_file(path, INVENTORY.to_string());
        Inventory::parse(path, file, INVENTORY, &mut diags)
            .filter(|_| !diags.has_errors())
            .expect("the fuzzing inventory is valid")
    })
}

/// The built-in controls' ids: the ids a waiver may name.
fn control_ids() -> &'static [String] {
    static IDS: OnceLock<Vec<String>> = OnceLock::new();
    IDS.get_or_init(|| {
        let mut diags = Diagnostics::new();
        let controls = load_controls(
            &crate::control::builtin::sources(),
            registry(),
            None,
            &mut diags,
        );
        assert!(!diags.has_errors(), "{}", diags.render_short());
        controls.into_iter().map(|c| c.id).collect()
    })
}

/// A fixed "today", so a run is reproducible: waivers may expire at most a year after it.
fn today() -> Date {
    jiff::civil::date(2026, 11, 30)
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Every span a diagnostic points at lies in its file's text, on character boundaries (the
/// renderers slice the text there: `location` would panic, and codespan would print nothing,
/// which a user would never see), then both renderings.
fn render(diags: &Diagnostics) {
    for d in &diags.items {
        let spans =
            std::iter::once((d.file, &d.span)).chain(d.secondary.iter().map(|(f, s, _)| (*f, s)));
        for (file, span) in spans {
            let text = diags.source(file);
            assert!(
                span.start <= span.end
                    && span.end <= text.len()
                    && text.is_char_boundary(span.start)
                    && text.is_char_boundary(span.end),
                "diagnostic `{}` points at {span:?}, outside the {} bytes of its text",
                d.code,
                text.len()
            );
        }
    }
    let _ = diags.render_short();
    let _ = diags.render(false);
}

/// A controls file (`--controls FILE`), `[[control]]` and `[[override]]` tables.
pub fn controls(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let mut diags = Diagnostics::new();
    let source = Source::Text {
        name: "controls.toml".into(),
        text: text.to_string(),
    };
    let _ = load_controls(&[source], registry(), Some(group_inventory()), &mut diags);
    render(&diags);
}

/// An inventory (`vouch.toml`).
pub fn inventory(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let mut diags = Diagnostics::new();
    let path = Path::new("vouch.toml");
    let file = diags.add_file(path, text.to_string());
    let _ = Inventory::parse(path, file, text, &mut diags);
    render(&diags);
}

/// A waivers file (`--waivers FILE`), checked against the built-in controls' ids.
pub fn waivers(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let ids: Vec<&str> = control_ids().iter().map(String::as_str).collect();
    let mut diags = Diagnostics::new();
    let _ = crate::waiver::parse(Path::new("waivers.toml"), text, &ids, today(), &mut diags);
    render(&diags);
}

/// An attestations file (`attestations.toml`); evidence files are named, not read.
pub fn attestations(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let mut diags = Diagnostics::new();
    let _ = crate::probe::attestation::parse(Path::new("attestations.toml"), text, &mut diags);
    render(&diags);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(bytes: &[u8]) {
        controls(bytes);
        inventory(bytes);
        waivers(bytes);
        attestations(bytes);
    }

    /// The entry points take the repository's own files (the fuzz seeds) without panicking, and
    /// the shipped library loads through `controls` with no error (the wrong answer prevented:
    /// an entry point that rejects every input, so the fuzzer only ever exercises the TOML
    /// syntax error path).
    #[test]
    fn fuzzing_entry_points_read_the_shipped_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for dir in ["controls", "examples/attestations", "examples"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = entry.unwrap().path();
                if p.extension().is_some_and(|e| e == "toml") {
                    feed_all(&std::fs::read(&p).unwrap());
                    seen += 1;
                }
            }
        }
        assert!(seen >= 10, "{seen} files");
        assert!(control_ids().len() > 40, "{:?}", control_ids());
        let text = std::fs::read_to_string(root.join("controls/02-encryption.toml")).unwrap();
        let mut diags = Diagnostics::new();
        let loaded = load_controls(
            &[Source::Text {
                name: "controls.toml".into(),
                text,
            }],
            registry(),
            None,
            &mut diags,
        );
        assert!(!diags.has_errors(), "{}", diags.render_short());
        assert!(!loaded.is_empty());
    }

    /// Not UTF-8, empty, and TOML that is only a header: no panic.
    #[test]
    fn fuzzing_entry_points_take_odd_bytes() {
        for bytes in [
            &b""[..],
            b"\xff\xfe",
            b"[[control]]",
            b"[targets]\nweb = [",
            b"\0",
        ] {
            feed_all(bytes);
        }
    }
}
