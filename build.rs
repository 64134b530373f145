//! Embeds the built-in control library (`controls/*.toml`) in the binary, so `vouch check` works
//! with no `--controls` and the library cannot drift from the release that ships it, and the
//! opt-in packs (`controls/packs/*.toml`, named only by `--controls builtin:NAME`).

use std::fmt::Write;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("controls");
    let mut out = embed(&root, "controls", "FILES");
    out.push_str(&embed(&root.join("packs"), "controls/packs", "PACKS"));
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_controls.rs");
    std::fs::write(dest, out).unwrap();
}

/// `pub static NAME: &[(&str, &str)]`: every `*.toml` of `dir`, named `prefix/file`.
fn embed(dir: &Path, prefix: &str, name: &str) -> String {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = format!("pub static {name}: &[(&str, &str)] = &[\n");
    for f in files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            format!("{prefix}/{name}"),
            f.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    out
}
