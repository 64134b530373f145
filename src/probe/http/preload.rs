//! Preload-list status, offline: Chromium's `transport_security_state_static.json`.
//!
//! The file is JSON with `//` comment lines and a required `entries` array. Only `force-https`
//! entries are HSTS preloads (others carry pins or expect-CT only). The lookup is Chromium's
//! (`TransportSecurityState`'s preload decoder): the most specific entry on the name or one of its
//! ancestors decides, whatever it says. The name's own entry covers it when it is `force-https`; an
//! ancestor's covers it only when that entry is `force-https` with `include_subdomains`. A closer
//! entry without `include_subdomains`, or a pins-only entry, therefore hides a parent's
//! `include_subdomains`: the name is not preloaded. The list is ~15 MB: it is read and indexed once
//! per run, however many domains are checked, by a [`PreloadCache`] that the probe owns.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use tokio::sync::OnceCell;

/// What one list entry says, as far as HSTS goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    force_https: bool,
    include_subdomains: bool,
}

/// An indexed preload list.
#[derive(Debug)]
pub struct PreloadList {
    /// Lower-case name → its entry, for every entry (pins-only ones too: they decide lookups).
    entries: HashMap<String, Entry>,
    /// How many entries are `force-https`.
    hsts_entries: usize,
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
    /// Required: a JSON file without it is another file (or a truncated one), not an empty list.
    #[serde(borrow)]
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
        let raw: RawList = serde_json::from_str(&json).map_err(|e| {
            let hint = if e.to_string().contains("missing field `entries`") {
                " (not Chromium's transport_security_state_static.json: it has a top-level \"entries\" array)"
            } else {
                ""
            };
            format!("{}: {e}{hint}", path.display())
        })?;
        let mut entries = HashMap::with_capacity(raw.entries.len());
        let mut hsts_entries = 0;
        for e in raw.entries {
            let name = e.name.trim_end_matches('.').to_ascii_lowercase();
            let entry = Entry {
                force_https: e.mode.as_deref() == Some("force-https"),
                include_subdomains: e.include_subdomains,
            };
            // First entry wins, as in Chromium's generator (duplicates are a list bug).
            if let std::collections::hash_map::Entry::Vacant(v) = entries.entry(name) {
                hsts_entries += usize::from(entry.force_https);
                v.insert(entry);
            }
        }
        if hsts_entries == 0 {
            return Err(format!(
                "{}: no entry has \"mode\": \"force-https\" ({} entries): not a usable HSTS preload list (Chromium's transport_security_state_static.json has tens of thousands)",
                path.display(),
                entries.len()
            ));
        }
        Ok(PreloadList {
            entries,
            hsts_entries,
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
        self.hsts_entries
    }

    pub fn is_empty(&self) -> bool {
        self.hsts_entries == 0
    }

    /// The entry that preloads `host`, as Chromium decides it: the most specific entry on the
    /// name or an ancestor decides alone; it preloads the name when it is `force-https` and is
    /// either the name's own entry or has `include_subdomains`.
    pub fn lookup(&self, host: &str) -> Option<ListMatch> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let mut name = host.as_str();
        let mut exact = true;
        loop {
            if let Some(e) = self.entries.get(name) {
                return (e.force_https && (exact || e.include_subdomains)).then(|| ListMatch {
                    entry: name.to_string(),
                    include_subdomains: e.include_subdomains,
                });
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
    { "name": "dup.test", "mode": "force-https" },
    { "name": "closer.preloaded.test", "policy": "custom", "mode": "force-https" },
    { "name": "pins.preloaded.test", "policy": "custom", "pins": "test" }
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
        // The most specific entry decides (Chromium): a closer entry without include_subdomains
        // covers only itself, even under a parent that has include_subdomains…
        (
            "closer.preloaded.test",
            Some(("closer.preloaded.test", false)),
        ),
        ("www.closer.preloaded.test", None),
        // …and a pins-only entry is no HSTS preload, for itself or below it.
        ("pins.preloaded.test", None),
        ("a.pins.preloaded.test", None),
        ("sibling.preloaded.test", Some(("preloaded.test", true))),
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
        assert_eq!(l.len(), 7);
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
    }

    /// A file that is not the list must not read as "nothing is preloaded".
    #[test]
    fn a_file_without_entries_or_hsts_entries_is_refused() {
        for (bytes, want) in [
            (&b"{}"[..], "missing field `entries`"),
            (b"{\"pinsets\": []}", "transport_security_state_static.json"),
            (b"{\"entries\": []}", "no entry has"),
            (
                b"{\"entries\": [{\"name\": \"p.test\", \"pins\": \"x\"}]}",
                "no entry has",
            ),
        ] {
            let e = PreloadList::parse(bytes, Path::new("wrong.json")).unwrap_err();
            assert!(e.starts_with("wrong.json") && e.contains(want), "{e}");
        }
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
        std::fs::write(&path, "{\"entries\": []}").unwrap();
        let b = cache.get(&path).await.unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let missing = cache.get(&dir.path().join("nope.json")).await.unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
