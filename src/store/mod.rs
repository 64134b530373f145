//! The evidence store: an append-only place where every `vouch check --store LOCATION` files its
//! signed evidence bundle, and a hash-chained ledger with one entry per run, so the runs of an
//! audit period can be verified (`vouch verify --store`), summarised (`vouch history`) and
//! sampled (`vouch history --at`). Specified in `docs/evidence.md` ("The evidence store").
//!
//! ```text
//! LOCATION/
//!   runs/YYYY/MM/DD/<run-id>/     the bundle, exactly as `--evidence-dir` writes it
//!   ledger/<seq, 12 digits>.json  one entry per run (LedgerEntry), `previous` = SHA-256 of the
//!                                 previous entry's bytes
//! ```
//!
//! A location is a local folder (a path or `file://` URL) or `s3://bucket/prefix` (see [`s3`]).
//! Nothing is ever overwritten: a run's files get keys no other run uses (its run id), and a
//! ledger entry is created only if its key is new (`If-None-Match: *` on S3, a hard link on a
//! local disk), so two runs at once both land, one after the other in the chain. This module
//! stores and checks; it judges nothing: the verdicts are the ones recorded in each bundle.

pub mod check;
pub mod history;
pub mod notify;
pub mod s3;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ed25519_dalek::SigningKey;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::evidence::{self, Trust};
use crate::report::{Report, Summary};

/// `schema` of a ledger entry.
pub const LEDGER_SCHEMA: &str = "vouch.ledger/v1";
/// Where run bundles live under the store root.
pub const RUNS: &str = "runs";
/// Where ledger entries live under the store root.
pub const LEDGER: &str = "ledger";
/// The largest ledger entry read.
const MAX_ENTRY_BYTES: u64 = 1 << 20;
/// Appends retried when other runs keep taking the next ledger slot.
const MAX_APPEND_ATTEMPTS: usize = 1000;

pub use crate::store_config::{Location, RetentionMode, StoreSettings};

/// Object Lock retention to put on each new object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub mode: RetentionMode,
    pub days: u32,
}

/// What a store is made of: keys (`/`-separated, relative to the store root) holding bytes that
/// are written once.
pub trait Backend: Send + Sync {
    /// Every key under `prefix` (a folder-like prefix ending in `/`), sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// The bytes at `key`, or `None` when there is no such key.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Creates `key` with `bytes` only if it does not exist: `Ok(false)` when it does (nothing
    /// written). `now` dates the retention of a locked object.
    fn put_new(&self, key: &str, bytes: &[u8], now: Timestamp) -> Result<bool>;
    /// Files the bundle in the local folder `bundle` under `key` (the run's folder), every file
    /// as a new key.
    fn put_bundle(&self, key: &str, bundle: &Path, now: Timestamp) -> Result<()>;
    /// A local folder holding the bundle at `key`: the store's own folder, or a temporary copy
    /// (kept alive by the returned guard).
    fn bundle_dir(&self, key: &str) -> Result<(PathBuf, Option<tempfile::TempDir>)>;
    /// Whether the bundle is written in place ([`Backend::local_root`]) rather than uploaded.
    fn local_root(&self) -> Option<&Path> {
        None
    }
}

/// A store, opened.
pub struct Store {
    pub location: Location,
    backend: Box<dyn Backend>,
    /// An RFC 3161 authority asked to countersign each filed run's MANIFEST digest (the token is
    /// kept beside it as `MANIFEST.tsr`); a failure leaves the run filed without it.
    pub timestamp_url: Option<String>,
}

/// One ledger entry (`ledger/<seq>.json`): what a run was, and the digest of the entry before it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LedgerEntry {
    pub schema: String,
    /// 1 for the first run, then one more per run, in the order runs were filed.
    pub seq: u64,
    pub run_id: String,
    /// The run's folder under the store root (`runs/YYYY/MM/DD/<run-id>`).
    pub bundle: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// SHA-256 of the inventory file the run read (`null`: none).
    pub inventory_sha256: Option<String>,
    /// SHA-256 of the bundle's control files: of the lines `<sha256>  <path>\n` of MANIFEST's
    /// entries under `inputs/controls/`, in MANIFEST order.
    pub controls_sha256: String,
    /// SHA-256 of the bundle's MANIFEST bytes.
    pub manifest_sha256: String,
    /// The fingerprint (`SHA256:<hex>`) of the key that signed the MANIFEST; `null`: unsigned.
    pub signer: Option<String>,
    pub summary: Summary,
    /// `sha256:<hex>` of the previous entry's exact bytes; `null` only for seq 1.
    pub previous: Option<String>,
}

/// A ledger entry as read: its key, its bytes' digest, and the entry (or why it is unreadable).
#[derive(Clone, Debug)]
pub struct LedgerRecord {
    pub key: String,
    /// The sequence number the key says.
    pub key_seq: Option<u64>,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    pub entry: std::result::Result<LedgerEntry, String>,
}

/// What filing a run produced.
#[derive(Clone, Debug)]
pub struct StoredRun {
    pub run_id: String,
    /// Where the bundle is: `LOCATION/runs/YYYY/MM/DD/<run-id>`.
    pub bundle: String,
    pub entry: LedgerEntry,
    /// With [`Store::timestamp_url`]: the attested time of the run's MANIFEST, or why there is
    /// no token.
    pub timestamp: Option<Result<Timestamp, String>>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `ledger/000000000042.json`.
pub fn ledger_key(seq: u64) -> String {
    format!("{LEDGER}/{seq:012}.json")
}

fn key_seq(key: &str) -> Option<u64> {
    let name = key
        .strip_prefix(&format!("{LEDGER}/"))?
        .strip_suffix(".json")?;
    (name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

/// A run id: the start time (`20260314T120000Z`) and 8 random bytes in hex, unique per run.
pub fn new_run_id(started_at: Timestamp) -> String {
    let mut random = [0u8; 8];
    if getrandom::fill(&mut random).is_err() {
        // No system randomness: the process and the clock still tell two runs apart.
        let nanos = Timestamp::now().as_nanosecond();
        let seed = format!("{}-{nanos}", std::process::id());
        random.copy_from_slice(&Sha256::digest(seed.as_bytes())[..8]);
    }
    let t = started_at.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    format!("{}-{}", t.strftime("%Y%m%dT%H%M%SZ"), hex::encode(random))
}

/// `runs/YYYY/MM/DD/<run-id>` for a run started at `started_at`.
pub fn run_folder(started_at: Timestamp, run_id: &str) -> String {
    let t = started_at.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    format!("{RUNS}/{}/{run_id}", t.strftime("%Y/%m/%d"))
}

/// The `controls_sha256` of a manifest (see [`LedgerEntry::controls_sha256`]).
pub fn controls_digest(manifest: &evidence::manifest::Manifest) -> String {
    let prefix = format!("{}/", evidence::INPUT_CONTROLS);
    let mut h = Sha256::new();
    for e in manifest
        .entries
        .iter()
        .filter(|e| e.path.starts_with(&prefix))
    {
        h.update(format!("{}  {}\n", e.sha256, e.path).as_bytes());
    }
    hex::encode(h.finalize())
}

impl Store {
    /// Opens the store at `location`. S3 reads the bucket's Object Lock configuration once
    /// (see [`s3::S3Backend::open`]); a local folder is created when missing.
    pub fn open(
        location: &Location,
        settings: &StoreSettings,
        inventory: &crate::inventory::Inventory,
    ) -> Result<Store> {
        let backend: Box<dyn Backend> = match location {
            Location::Local(p) => Box::new(LocalBackend::open(p)?),
            Location::S3 { bucket, prefix } => Box::new(s3::S3Backend::open(
                bucket, prefix, settings, inventory, None,
            )?),
        };
        Ok(Store {
            location: location.clone(),
            backend,
            timestamp_url: None,
        })
    }

    /// Opens a store that must already exist, for reading (`verify --store`, `history`): a
    /// local folder that is not there is an error, never an empty store made on the spot.
    pub fn open_existing(
        location: &Location,
        settings: &StoreSettings,
        inventory: &crate::inventory::Inventory,
    ) -> Result<Store> {
        if let Location::Local(p) = location
            && !p.is_dir()
        {
            bail!(
                "there is no evidence store at {}: give the folder `vouch check --store` wrote to",
                p.display()
            );
        }
        Store::open(location, settings, inventory)
    }

    /// A store over any backend (tests, embedders).
    pub fn with_backend(location: Location, backend: Box<dyn Backend>) -> Store {
        Store {
            location,
            backend,
            timestamp_url: None,
        }
    }

    /// `LOCATION/key`, for messages and reports.
    pub fn describe(&self, key: &str) -> String {
        match &self.location {
            Location::Local(p) => p.join(key).display().to_string(),
            other => format!("{other}/{key}"),
        }
    }

    /// Files one run: its bundle under `runs/YYYY/MM/DD/<run-id>/` (written exactly as
    /// `--evidence-dir` writes it, signed with `key` when given), then its ledger entry, chained
    /// to the newest entry at that moment. `now` dates Object Lock retention; the run's own times
    /// are the report's. `inventory` is the inventory file's bytes, when one was read.
    pub fn put_run(
        &self,
        report: &mut Report,
        inputs: &[(String, Vec<u8>)],
        key: Option<&SigningKey>,
        inventory: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<StoredRun> {
        let run_id = new_run_id(report.run.started_at);
        let folder = run_folder(report.run.started_at, &run_id);
        let signer = key.map(|k| evidence::sign::fingerprint(&k.verifying_key()));
        report.run.evidence = Some(crate::report::EvidenceInfo {
            bundle: self.describe(&folder),
            signer: signer.clone(),
        });
        let (dir, _tmp) = match self.backend.local_root() {
            Some(root) => (root.join(&folder), None),
            None => {
                let tmp = tempfile::tempdir().context("creating a temporary folder")?;
                (tmp.path().join("bundle"), Some(tmp))
            }
        };
        evidence::write_bundle(&dir, report, inputs, key)?;
        // Stamped before it is uploaded: the token travels with the bundle.
        let timestamp = self
            .timestamp_url
            .as_ref()
            .map(|url| evidence::timestamp::stamp_bundle(&dir, url, evidence::timestamp::TIMEOUT));
        let manifest_bytes = std::fs::read(dir.join(evidence::MANIFEST))
            .with_context(|| format!("reading back {}", dir.display()))?;
        let manifest = evidence::manifest::Manifest::parse(
            std::str::from_utf8(&manifest_bytes).unwrap_or_default(),
        )
        .map_err(|p| anyhow::anyhow!("the bundle's MANIFEST does not parse: {}", p.join("; ")))?;
        if self.backend.local_root().is_none() {
            self.backend.put_bundle(&folder, &dir, now)?;
        }
        let mut entry = LedgerEntry {
            schema: LEDGER_SCHEMA.into(),
            seq: 0,
            run_id: run_id.clone(),
            bundle: folder.clone(),
            started_at: report.run.started_at,
            finished_at: report.run.finished_at,
            inventory_sha256: inventory.map(sha256_hex),
            controls_sha256: controls_digest(&manifest),
            manifest_sha256: sha256_hex(&manifest_bytes),
            signer,
            summary: report.summary.clone(),
            previous: None,
        };
        self.append(&mut entry, now)?;
        Ok(StoredRun {
            run_id,
            bundle: self.describe(&folder),
            entry,
            timestamp,
        })
    }

    /// Appends `entry` at the next free sequence number, chained to the entry before it. Another
    /// run taking that number first makes it read the ledger again and try the next one.
    fn append(&self, entry: &mut LedgerEntry, now: Timestamp) -> Result<()> {
        for _ in 0..MAX_APPEND_ATTEMPTS {
            let keys = self.backend.list(&format!("{LEDGER}/"))?;
            let last = keys.iter().filter_map(|k| key_seq(k).map(|s| (s, k))).max();
            let (seq, previous) = match last {
                None => (1, None),
                Some((s, k)) => {
                    let bytes = self
                        .backend
                        .get(k)?
                        .with_context(|| format!("ledger entry {k} vanished while appending"))?;
                    (s + 1, Some(format!("sha256:{}", sha256_hex(&bytes))))
                }
            };
            entry.seq = seq;
            entry.previous = previous;
            let bytes = [serde_json::to_vec_pretty(entry)?, b"\n".to_vec()].concat();
            if self.backend.put_new(&ledger_key(seq), &bytes, now)? {
                return Ok(());
            }
        }
        bail!(
            "could not append to the ledger of {} after {MAX_APPEND_ATTEMPTS} attempts: other runs \
             kept taking the next slot; the bundle is stored at {}",
            self.location,
            entry.bundle
        )
    }

    /// Every ledger entry, in key order, each read and parsed (or why it could not be).
    pub fn ledger(&self) -> Result<Vec<LedgerRecord>> {
        let mut out = Vec::new();
        for key in self.backend.list(&format!("{LEDGER}/"))? {
            let Some(bytes) = self.backend.get(&key)? else {
                continue;
            };
            let entry = if bytes.len() as u64 > MAX_ENTRY_BYTES {
                Err(format!(
                    "{} bytes, more than an entry may hold",
                    bytes.len()
                ))
            } else {
                serde_json::from_slice::<LedgerEntry>(&bytes).map_err(|e| e.to_string())
            };
            out.push(LedgerRecord {
                key_seq: key_seq(&key),
                key,
                digest: format!("sha256:{}", sha256_hex(&bytes)),
                entry,
            });
        }
        Ok(out)
    }

    /// The run folders present under `runs/` (`runs/YYYY/MM/DD/<run-id>`).
    pub fn run_folders(&self) -> Result<BTreeSet<String>> {
        Ok(self
            .backend
            .list(&format!("{RUNS}/"))?
            .iter()
            .filter_map(|k| {
                let parts: Vec<&str> = k.splitn(6, '/').collect();
                (parts.len() == 6).then(|| parts[..5].join("/"))
            })
            .collect())
    }

    /// Verifies the bundle of `entry` (digests and signature, as `vouch verify` does) and that
    /// its MANIFEST is the one the ledger recorded. Returns the problems, and the report when
    /// the bundle holds and `read_report` is set.
    pub fn check_run(
        &self,
        entry: &LedgerEntry,
        trust: &Trust,
        read_report: bool,
    ) -> Result<CheckedRun> {
        let (dir, _tmp) = self.backend.bundle_dir(&entry.bundle)?;
        let mut problems = Vec::new();
        if !dir.is_dir() {
            problems.push(format!(
                "deleted: the bundle {} of run {} (ledger entry {}) is missing",
                self.describe(&entry.bundle),
                entry.run_id,
                entry.seq
            ));
            return Ok(CheckedRun {
                problems,
                report: None,
                verification: None,
            });
        }
        let v = evidence::verify(&dir, trust);
        for p in &v.problems {
            problems.push(format!("{}: {p}", self.describe(&entry.bundle)));
        }
        match std::fs::read(dir.join(evidence::MANIFEST)) {
            Ok(bytes) if sha256_hex(&bytes) == entry.manifest_sha256 => {}
            Ok(bytes) => problems.push(format!(
                "altered: the MANIFEST of {} has SHA-256 {}, ledger entry {} recorded {}",
                self.describe(&entry.bundle),
                sha256_hex(&bytes),
                entry.seq,
                entry.manifest_sha256
            )),
            Err(_) => {}
        }
        let report = if read_report && problems.is_empty() {
            let bytes =
                evidence::read_regular(&dir.join(evidence::REPORT), evidence::MAX_FILE_BYTES)
                    .map_err(anyhow::Error::msg)?;
            Some(bytes)
        } else {
            None
        };
        Ok(CheckedRun {
            report: if problems.is_empty() { report } else { None },
            problems,
            verification: Some(v),
        })
    }

    /// A problem when a bundle's report says the run started at another time than its ledger
    /// entry (the bundle of another run put in its place).
    pub fn start_mismatch(&self, entry: &LedgerEntry, started_at: Timestamp) -> Option<String> {
        (started_at != entry.started_at).then(|| {
            format!(
                "altered: {} says the run started at {started_at}, ledger entry {} says {}",
                self.describe(&entry.bundle),
                entry.seq,
                entry.started_at
            )
        })
    }

    /// The ledger's entries, checked as a chain: each entry's `previous` must be the digest of
    /// the entry before it, sequence numbers must run 1, 2, 3… with none missing, and no two
    /// entries may claim the same predecessor (a fork). Returns the readable entries in
    /// sequence order and every problem found.
    pub fn check_chain(&self) -> Result<Chain> {
        let records = self.ledger()?;
        let mut problems = Vec::new();
        let mut entries: Vec<(LedgerEntry, String)> = Vec::new();
        let mut key_seqs: Vec<Option<u64>> = Vec::new();
        for r in records {
            match r.entry {
                Err(e) => problems.push(format!(
                    "altered: ledger entry {} is not a ledger entry: {e}",
                    self.describe(&r.key)
                )),
                Ok(entry) => {
                    if r.key_seq != Some(entry.seq) {
                        problems.push(format!(
                            "reordered: {} holds the entry with seq {} (run {})",
                            self.describe(&r.key),
                            entry.seq,
                            entry.run_id
                        ));
                    }
                    entries.push((entry, r.digest));
                    key_seqs.push(r.key_seq);
                }
            }
        }
        let mut by_previous: BTreeMap<Option<&str>, Vec<&LedgerEntry>> = BTreeMap::new();
        for (e, _) in &entries {
            by_previous
                .entry(e.previous.as_deref())
                .or_default()
                .push(e);
        }
        for (prev, list) in &by_previous {
            if list.len() > 1 {
                let runs: Vec<String> = list
                    .iter()
                    .map(|e| format!("{} (seq {})", e.run_id, e.seq))
                    .collect();
                problems.push(format!(
                    "fork: {} entries claim the same previous entry {}: {}",
                    list.len(),
                    prev.unwrap_or("(none: each says it is the first)"),
                    runs.join(", ")
                ));
            }
        }
        let mut expected_seq = 1u64;
        let mut previous: Option<&str> = None;
        for ((e, digest), key_seq) in entries.iter().zip(&key_seqs) {
            let at = key_seq.unwrap_or(e.seq);
            if at > expected_seq {
                let missing = if at - expected_seq == 1 {
                    format!("entry {expected_seq} is")
                } else {
                    format!("entries {expected_seq}-{} are", at - 1)
                };
                problems.push(format!(
                    "deleted: ledger {missing} missing before run {} (seq {at})",
                    e.run_id
                ));
            }
            if e.previous.as_deref() != previous {
                problems.push(format!(
                    "chain broken at seq {at} (run {}): it records previous {}, but the entry \
                     before it has {}; an entry was altered, removed or reordered",
                    e.run_id,
                    e.previous.as_deref().unwrap_or("none"),
                    previous.unwrap_or("none (it would be the first)")
                ));
            }
            previous = Some(digest);
            expected_seq = at + 1;
        }
        Ok((entries, problems))
    }

    /// Checks the whole ledger as a chain, and every run whose start falls in `window` (its
    /// bundle, and that it is in the ledger). See [`StoreVerification`].
    pub fn verify(&self, trust: &Trust, window: &Window) -> Result<StoreVerification> {
        let (entries, mut problems) = self.check_chain()?;
        let mut runs = 0;
        let ledgered: BTreeSet<&str> = entries.iter().map(|(e, _)| e.bundle.as_str()).collect();
        for (e, _) in &entries {
            if !window.contains(e.started_at) {
                continue;
            }
            runs += 1;
            let checked = self.check_run(e, trust, true)?;
            problems.extend(checked.problems);
            if let Some(bytes) = checked.report {
                #[derive(Deserialize)]
                struct RunTimes {
                    run: Times,
                }
                #[derive(Deserialize)]
                struct Times {
                    started_at: Timestamp,
                }
                match serde_json::from_slice::<RunTimes>(&bytes) {
                    Ok(r) => problems.extend(self.start_mismatch(e, r.run.started_at)),
                    Err(err) => problems.push(format!(
                        "{}: report.json is not a vouch report: {err}",
                        self.describe(&e.bundle)
                    )),
                }
            }
        }
        for folder in self.run_folders()? {
            if !ledgered.contains(folder.as_str()) && window.contains_folder(&folder) {
                problems.push(format!(
                    "unledgered: {} is a run folder no ledger entry names (its entry was removed, \
                     or it was added afterwards)",
                    self.describe(&folder)
                ));
            }
        }
        if entries.is_empty() && problems.is_empty() {
            problems.push(format!(
                "empty: {} holds no ledger entry, so no run can be vouched for",
                self.location
            ));
        }
        Ok(StoreVerification {
            entries: entries.len(),
            runs,
            problems,
        })
    }

    /// The newest run filed so far (the last ledger entry), with its report, verified for its
    /// digests. `None` when the store is empty; an error when that bundle does not verify.
    pub fn latest_report(&self) -> Result<Option<(LedgerEntry, Report)>> {
        let records = self.ledger()?;
        let Some(last) = records
            .into_iter()
            .filter_map(|r| r.entry.ok())
            .max_by_key(|e| e.seq)
        else {
            return Ok(None);
        };
        let checked = self.check_run(&last, &Trust::digests_only(), true)?;
        let Some(bytes) = checked.report else {
            bail!(
                "the newest stored run {} does not verify: {}",
                last.run_id,
                checked.problems.join("; ")
            );
        };
        Ok(Some((last, serde_json::from_slice(&bytes)?)))
    }
}

/// The readable ledger entries in key order, each with the `sha256:` digest of its bytes, and the
/// chain's problems.
pub type Chain = (Vec<(LedgerEntry, String)>, Vec<String>);

/// A run's bundle, checked.
#[derive(Debug)]
pub struct CheckedRun {
    /// Empty when the bundle verifies and is the run the ledger recorded.
    pub problems: Vec<String>,
    /// `report.json`'s bytes, when asked for and the bundle holds.
    pub report: Option<Vec<u8>>,
    pub verification: Option<evidence::Verification>,
}

/// What `vouch verify --store` found.
#[derive(Debug)]
pub struct StoreVerification {
    /// Ledger entries read.
    pub entries: usize,
    /// Runs in the window whose bundles were verified.
    pub runs: usize,
    pub problems: Vec<String>,
}

/// `--from D --to D`: the UTC days a command covers (both ends included).
#[derive(Clone, Copy, Debug, Default)]
pub struct Window {
    pub from: Option<jiff::civil::Date>,
    pub to: Option<jiff::civil::Date>,
}

impl Window {
    /// The first instant of the window (`None`: unbounded).
    pub fn start(&self) -> Option<Timestamp> {
        self.from
            .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    }

    /// The first instant after the window (`None`: unbounded).
    pub fn end(&self) -> Option<Timestamp> {
        self.to
            .and_then(|d| d.tomorrow().ok())
            .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    }

    pub fn contains(&self, t: Timestamp) -> bool {
        self.start().is_none_or(|s| t >= s) && self.end().is_none_or(|e| t < e)
    }

    /// Whether a `runs/YYYY/MM/DD/…` folder's day is in the window.
    fn contains_folder(&self, folder: &str) -> bool {
        let parts: Vec<&str> = folder.split('/').collect();
        let day = (parts.len() >= 4)
            .then(|| format!("{}-{}-{}", parts[1], parts[2], parts[3]))
            .and_then(|d| d.parse::<jiff::civil::Date>().ok());
        match day {
            Some(d) => self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t),
            None => true,
        }
    }
}

/// A store in a local folder. Bundles are written in place (atomically, as `--evidence-dir`
/// does); ledger entries are created with a hard link, which fails when the name exists.
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    pub fn open(root: &Path) -> Result<LocalBackend> {
        if root.exists() && !root.is_dir() {
            bail!(
                "the store {} is not a folder: give a folder, file:///path or s3://bucket/prefix",
                root.display()
            );
        }
        std::fs::create_dir_all(root)
            .with_context(|| format!("creating the store folder {}", root.display()))?;
        Ok(LocalBackend {
            root: root.to_path_buf(),
        })
    }
}

fn list_local(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in rd {
        let entry = entry?;
        let name = entry.file_name();
        // Temporary files of writes in progress are not part of the store.
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry.file_type()?;
        let path = entry.path();
        if ft.is_dir() {
            list_local(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push(rel);
        }
    }
    Ok(())
}

impl Backend for LocalBackend {
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        list_local(&self.root, &self.root.join(prefix), &mut out)?;
        out.sort();
        Ok(out)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.root.join(key);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(None);
        }
        evidence::read_regular(&path, evidence::MAX_FILE_BYTES)
            .map(Some)
            .map_err(anyhow::Error::msg)
    }

    fn put_new(&self, key: &str, bytes: &[u8], _now: Timestamp) -> Result<bool> {
        use std::io::Write;
        let path = self.root.join(key);
        let parent = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".new-")
            .tempfile_in(parent)
            .with_context(|| format!("creating a temporary file in {}", parent.display()))?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        match std::fs::hard_link(tmp.path(), &path) {
            Ok(()) => {
                if let Ok(d) = std::fs::File::open(parent) {
                    let _ = d.sync_all();
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e).with_context(|| format!("writing {}", path.display())),
        }
    }

    fn put_bundle(&self, key: &str, bundle: &Path, _now: Timestamp) -> Result<()> {
        let dest = self.root.join(key);
        if dest != bundle {
            bail!("a local store writes bundles in place");
        }
        Ok(())
    }

    fn bundle_dir(&self, key: &str) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
        Ok((self.root.join(key), None))
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_or_say_what_is_valid() {
        assert_eq!(
            Location::parse("s3://audit-bucket/vouch/prod/").unwrap(),
            Location::S3 {
                bucket: "audit-bucket".into(),
                prefix: "vouch/prod".into()
            }
        );
        assert_eq!(
            Location::parse("file:///var/lib/vouch").unwrap(),
            Location::Local("/var/lib/vouch".into())
        );
        assert_eq!(
            Location::parse("evidence").unwrap(),
            Location::Local("evidence".into())
        );
        for bad in [
            "",
            "s3://A_B",
            "file://relative",
            "gs://bucket",
            "s3://b/../x",
        ] {
            let e = Location::parse(bad).unwrap_err();
            assert!(e.contains("s3://") || e.contains("file:///"), "{bad}: {e}");
        }
    }

    #[test]
    fn ledger_keys_sort_by_sequence() {
        assert_eq!(ledger_key(42), "ledger/000000000042.json");
        assert_eq!(key_seq("ledger/000000000042.json"), Some(42));
        assert_eq!(key_seq("ledger/42.json"), None);
        assert!(ledger_key(9) < ledger_key(10));
    }
}
