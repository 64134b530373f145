//! The built-in control library: `controls/*.toml`, embedded at build time (see `build.rs`).

use std::path::PathBuf;

use super::Source;

include!(concat!(env!("OUT_DIR"), "/builtin_controls.rs"));

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
