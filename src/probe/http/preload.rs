//! Preload-list status, offline: Chromium's `transport_security_state_static.json`.
//!
//! The file is JSON with `//` comment lines. Only `force-https` entries are HSTS preloads (others
//! carry pins or expect-CT only). A name is covered by its own entry, or else by the nearest
//! ancestor entry that has `include_subdomains` (an ancestor without it covers only itself, so the
//! search goes on upward). The list is ~15 MB: it is read and indexed once per run, however many
//! domains are checked, by a [`PreloadCache`] that the probe owns.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use tokio::sync::OnceCell;

/// An indexed preload list.
#[derive(Debug)]
pub struct PreloadList {
    /// Lower-case name → `include_subdomains`, for `force-https` entries.
    entries: HashMap<String, bool>,
    /// SHA-256 of the file as read (hex), so a report says exactly which list was used.
    pub sha256: String,
    pub path: PathBuf,
}

/// The entry that covers a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListMatch {
    pub entry: String,
    pub include_subdomains: bool,
}

#[derive(Deserialize)]
struct RawList<'a> {
    #[serde(default, borrow)]
    entries: Vec<RawEntry<'a>>,
}

#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    mode: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    include_subdomains: bool,
}

/// Removes the `//` comment lines Chromium's file carries (not valid JSON otherwise). Only whole
/// lines are comments; `//` inside a string (a URL) is left alone.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("//") {
            // Keep the line break so JSON error positions still match the file's lines.
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    out
}

impl PreloadList {
    /// Parses the file's bytes.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<PreloadList, String> {
        // aws-lc's SHA-256 is optimised C even in a debug build (sha2 is ~40x slower there).
        let sha256 = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes));
        let text = std::str::from_utf8(bytes)
            .map_err(|e| format!("{} is not UTF-8: {e}", path.display()))?;
        let json = strip_comments(text);
        let raw: RawList =
            serde_json::from_str(&json).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut entries = HashMap::with_capacity(raw.entries.len());
        for e in raw.entries {
            if e.mode.as_deref() != Some("force-https") {
                continue;
            }
            let name = e.name.trim_end_matches('.').to_ascii_lowercase();
            // First entry wins, as in Chromium's generator (duplicates are a list bug).
            entries.entry(name).or_insert(e.include_subdomains);
        }
        Ok(PreloadList {
            entries,
            sha256,
            path: path.to_path_buf(),
        })
    }

    /// Reads and parses the file.
    pub fn load(path: &Path) -> Result<PreloadList, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        PreloadList::parse(&bytes, path)
    }

    /// The number of HSTS (`force-https`) entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry that covers `host`: its own, or the nearest ancestor with `include_subdomains`.
    pub fn lookup(&self, host: &str) -> Option<ListMatch> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let mut name = host.as_str();
        let mut exact = true;
        loop {
            if let Some(&include_subdomains) = self.entries.get(name) {
                if exact || include_subdomains {
                    return Some(ListMatch {
                        entry: name.to_string(),
                        include_subdomains,
                    });
                }
            }
            let (_, parent) = name.split_once('.')?;
            name = parent;
            exact = false;
        }
    }
}

/// One list's load, shared by every observation that asks for it.
type ListCell = Arc<OnceCell<Result<Arc<PreloadList>, String>>>;

/// Loads each list once per run, however many observations ask for it concurrently.
#[derive(Default)]
pub struct PreloadCache {
    cells: Mutex<HashMap<PathBuf, ListCell>>,
}

impl PreloadCache {
    pub async fn get(&self, path: &Path) -> Result<Arc<PreloadList>, String> {
        let cell = self
            .cells
            .lock()
            .expect("preload cache lock")
            .entry(path.to_path_buf())
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let path = path.to_path_buf();
            // Parsing 15 MB of JSON is CPU work: keep it off the async workers.
            tokio::task::spawn_blocking(move || PreloadList::load(&path).map(Arc::new))
                .await
                .unwrap_or_else(|e| Err(format!("loading the preload list failed: {e}")))
        })
        .await
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"// Copyright line, as in Chromium's file.
// Another comment: the list follows.
{
  // comments may be indented
  "pinsets": [ { "name": "test", "static_spki_hashes": ["TestSPKI"] } ],
  "entries": [
    // Sites
    { "name": "preloaded.test", "policy": "custom", "mode": "force-https", "include_subdomains": true },
    { "name": "exact.test", "policy": "custom", "mode": "force-https" },
    { "name": "sub.exact.test", "policy": "custom", "mode": "force-https", "include_subdomains": true },
    { "name": "pinned-only.test", "policy": "custom", "pins": "test", "include_subdomains": true },
    { "name": "Upper.Test", "policy": "custom", "mode": "force-https" },
    { "name": "report.test", "policy": "custom", "mode": "force-https", "expect_ct_report_uri": "https://r.test//x" },
    { "name": "dup.test", "mode": "force-https", "include_subdomains": true },
    { "name": "dup.test", "mode": "force-https" }
  ]
}
"#;

    fn list() -> PreloadList {
        PreloadList::parse(LIST.as_bytes(), Path::new("list.json")).unwrap()
    }

    /// (name, expected matching entry, its include_subdomains)
    const LOOKUPS: &[(&str, Option<(&str, bool)>)] = &[
        ("preloaded.test", Some(("preloaded.test", true))),
        ("PRELOADED.test.", Some(("preloaded.test", true))),
        ("www.preloaded.test", Some(("preloaded.test", true))),
        ("a.b.c.preloaded.test", Some(("preloaded.test", true))),
        ("exact.test", Some(("exact.test", false))),
        // An ancestor without include_subdomains covers only itself.
        ("www.exact.test", None),
        ("sub.exact.test", Some(("sub.exact.test", true))),
        ("deep.sub.exact.test", Some(("sub.exact.test", true))),
        // Pins without force-https are not HSTS preloads.
        ("pinned-only.test", None),
        ("www.pinned-only.test", None),
        ("upper.test", Some(("upper.test", false))),
        ("report.test", Some(("report.test", false))),
        ("dup.test", Some(("dup.test", true))),
        ("x.dup.test", Some(("dup.test", true))),
        ("not-listed.test", None),
        ("test", None),
        ("xpreloaded.test", None),
    ];

    #[test]
    fn lookup_vectors() {
        let l = list();
        for (name, want) in LOOKUPS {
            let got = l.lookup(name);
            let want = want.map(|(e, i)| ListMatch {
                entry: e.to_string(),
                include_subdomains: i,
            });
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn counts_only_force_https_entries_and_hashes_the_file() {
        let l = list();
        assert_eq!(l.len(), 6);
        use sha2::Digest;
        assert_eq!(l.sha256, hex::encode(sha2::Sha256::digest(LIST.as_bytes())));
    }

    #[test]
    fn comment_markers_inside_strings_are_kept() {
        assert!(strip_comments("{\"a\": \"https://x//y\"}\n").contains("https://x//y"));
        assert_eq!(strip_comments("// c\n{}\n  // d\n"), "\n{}\n\n");
    }

    #[test]
    fn malformed_lists_are_errors_with_the_path() {
        let e = PreloadList::parse(
            b"{ \"entries\": [ { \"name\": 3 } ] }",
            Path::new("bad.json"),
        )
        .unwrap_err();
        assert!(e.starts_with("bad.json"), "{e}");
        assert!(PreloadList::parse(b"\xff", Path::new("bin")).is_err());
        let empty = PreloadList::parse(b"{}", Path::new("empty.json")).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn the_shipped_fixture_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/http/preload-list.json");
        let l = PreloadList::load(&path).unwrap();
        assert!(l.lookup("www.ready.test").is_some());
        assert!(l.lookup("pinned.test").is_none());
    }

    #[tokio::test]
    async fn the_cache_loads_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.json");
        std::fs::write(&path, LIST).unwrap();
        let cache = PreloadCache::default();
        let a = cache.get(&path).await.unwrap();
        // Rewriting the file does not change what this run sees: one list per run.
        std::fs::write(&path, "{}").unwrap();
        let b = cache.get(&path).await.unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let missing = cache.get(&dir.path().join("nope.json")).await.unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
