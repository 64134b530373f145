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
//!
//! With no `[http] preload_list`, the list is Chromium's published one, fetched from
//! `[http] preload_list_url` (default [`DEFAULT_URL`]) at most once a day into the user's cache
//! folder ([`cache_dir`]), with its source, SHA-256 and fetch time beside it: the evidence says
//! exactly which list, from where and when. A download that does not parse as the list is an
//! error (never "not listed") and is not cached; offline with no fresh copy is an error that says
//! to pass a file.

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
    /// Where a fetched list came from, and when it was fetched (`None` for a file given).
    pub fetched: Option<Fetched>,
}

/// The provenance of a fetched list (also the cache's `.meta.json`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Fetched {
    pub source: String,
    pub fetched_at: jiff::Timestamp,
    pub sha256: String,
}

/// Chromium's published preload list: its source file in the Chromium repository (the
/// repository's GitHub mirror serves it as plain JSON).
pub const DEFAULT_URL: &str = "https://raw.githubusercontent.com/chromium/chromium/main/net/http/transport_security_state_static.json";

/// A fetched list is used for this long before it is fetched again.
pub const FETCH_EVERY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The largest list accepted (the real one is about 15 MB).
const MAX_LIST_BYTES: usize = 64 << 20;

/// How long one download may take (it runs beside the observations, which wait for it within
/// their own timeout; a slow first download still lands in the cache for the next run).
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// vouch's folder in the user's cache: `$XDG_CACHE_HOME/vouch`, else `~/Library/Caches/vouch`
/// on macOS, `%LOCALAPPDATA%\vouch` on Windows, `~/.cache/vouch` elsewhere.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(d) = var("XDG_CACHE_HOME") {
        return Some(d.join("vouch"));
    }
    if cfg!(windows) {
        return var("LOCALAPPDATA").map(|d| d.join("vouch"));
    }
    let home = var("HOME")?;
    Some(if cfg!(target_os = "macos") {
        home.join("Library/Caches/vouch")
    } else {
        home.join(".cache/vouch")
    })
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
            fetched: None,
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
    /// `file:PATH` or `url:URL` → the load.
    cells: Mutex<HashMap<String, ListCell>>,
}

impl PreloadCache {
    fn cell(&self, key: String) -> ListCell {
        self.cells
            .lock()
            .expect("preload cache lock")
            .entry(key)
            .or_default()
            .clone()
    }

    /// The list in the file at `path`.
    pub async fn get(&self, path: &Path) -> Result<Arc<PreloadList>, String> {
        let cell = self.cell(format!("file:{}", path.display()));
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

    /// The list published at `url`: the cached copy when it was fetched less than a day ago,
    /// else a fresh download (cached only when it parses as the list). `tls` is the probe's
    /// client configuration (system roots plus `[tls] ca_file`).
    pub async fn get_remote(
        &self,
        url: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Arc<PreloadList>, String> {
        let cell = self.cell(format!("url:{url}"));
        let url = url.to_string();
        cell.get_or_init(|| async move {
            // A task of its own: when the observation that started it times out, the download
            // goes on and lands in the cache.
            tokio::spawn(async move { remote(&url, tls).await.map(Arc::new) })
                .await
                .unwrap_or_else(|e| Err(format!("fetching the preload list failed: {e}")))
        })
        .await
        .clone()
    }
}

const OFFLINE_HINT: &str = "pass a downloaded copy with `[http] preload_list` or --preload-list \
     (Chromium's net/http/transport_security_state_static.json), or point `[http] \
     preload_list_url` at a reachable copy";

/// The cache files for `url`: the list and its provenance.
fn cache_paths(dir: &Path, url: &str) -> (PathBuf, PathBuf) {
    let key = hex::encode(
        &aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, url.as_bytes()).as_ref()[..8],
    );
    (
        dir.join(format!("preload-{key}.json")),
        dir.join(format!("preload-{key}.meta.json")),
    )
}

/// The fresh cached copy of `url`'s list, if any.
fn cached(dir: &Path, url: &str, now: jiff::Timestamp) -> Option<PreloadList> {
    let (list, meta) = cache_paths(dir, url);
    let meta: Fetched = serde_json::from_slice(&std::fs::read(meta).ok()?).ok()?;
    let age = now.duration_since(meta.fetched_at);
    let fresh = meta.source == url && !age.is_negative() && age.unsigned_abs() < FETCH_EVERY;
    if !fresh {
        return None;
    }
    let bytes = std::fs::read(&list).ok()?;
    let mut parsed = PreloadList::parse(&bytes, &list).ok()?;
    // A cached file changed since it was fetched is not that list.
    (parsed.sha256 == meta.sha256).then(|| {
        parsed.fetched = Some(meta);
        parsed
    })
}

async fn remote(url: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Result<PreloadList, String> {
    let dir = cache_dir();
    let now = jiff::Timestamp::now();
    if let Some(dir) = dir.clone() {
        let u = url.to_string();
        let hit = tokio::task::spawn_blocking(move || cached(&dir, &u, now))
            .await
            .ok()
            .flatten();
        if let Some(list) = hit {
            return Ok(list);
        }
    }
    let bytes = download(url, tls).await?;
    let fetched_at = jiff::Timestamp::now();
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let (path, meta_path) = match &dir {
            Some(d) => cache_paths(d, &url),
            None => (PathBuf::from(&url), PathBuf::new()),
        };
        let mut list = PreloadList::parse(&bytes, Path::new(&url))
            .map_err(|e| format!("the preload list downloaded from {url} is not usable: {e}"))?;
        let meta = Fetched {
            source: url.clone(),
            fetched_at,
            sha256: list.sha256.clone(),
        };
        if let Some(d) = &dir {
            // Best effort: a read-only cache still gives this run its list.
            match write_cache(d, &path, &bytes, &meta_path, &meta) {
                Ok(()) => list.path = path,
                Err(e) => {
                    tracing::warn!("could not cache the preload list in {}: {e}", d.display())
                }
            }
        }
        list.fetched = Some(meta);
        Ok(list)
    })
    .await
    .unwrap_or_else(|e| Err(format!("parsing the preload list failed: {e}")))
}

fn write_cache(
    dir: &Path,
    path: &Path,
    bytes: &[u8],
    meta_path: &Path,
    meta: &Fetched,
) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    for (target, content) in [
        (path, bytes.to_vec()),
        (
            meta_path,
            serde_json::to_vec_pretty(meta).unwrap_or_default(),
        ),
    ] {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(&content)?;
        tmp.persist(target).map_err(|e| e.error)?;
    }
    Ok(())
}

async fn download(url: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Vec<u8>, String> {
    let offline =
        |e: String| format!("cannot fetch the preload list from {url}: {e}; {OFFLINE_HINT}");
    let mut builder = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")));
    if let Some(tls) = tls {
        builder = builder.tls_backend_preconfigured((*tls).clone());
    }
    let client = builder.build().map_err(|e| offline(e.to_string()))?;
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| offline(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(offline(format!("HTTP {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| offline(e.to_string()))? {
        if body.len() + chunk.len() > MAX_LIST_BYTES {
            return Err(offline(format!(
                "the list is larger than {MAX_LIST_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
