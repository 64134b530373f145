//! Where a report's observations live: [`ObservationStore`], the type of [`Report::observations`]
//! (`super::Report`). Memory does not grow with the estate: each observation's bytes go to a spool
//! file (an unlinked temporary file, readable only by this process) as soon as it is recorded, and
//! the store keeps in memory only its key, where its bytes are, and its head (probe, target,
//! account, params, `observed_at`: what matching a row to its observation and stamping expiry
//! read). Whoever needs an observation's body (a renderer, the bundle writer, a replay's judge)
//! reads it back, one at a time.
//!
//! The bytes spooled are the observation's bundle file bytes ([`crate::bundle::observation_bytes`],
//! or the verified bytes of a bundle's file), so the key is their digest and the bundle writer
//! copies them as they are. The report's JSON serialises each body read back from the spool, so
//! report files keep the layout they had when observations were held in memory.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde::de::{MapAccess, Visitor};
use serde::ser::{Error as _, SerializeMap};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::probe::{AccountRef, Observation, Params};

/// Observation key (`sha256:` + the digest of the observation's bytes) → observation, the bodies
/// kept on disk (see the module documentation).
#[derive(Clone, Default)]
pub struct ObservationStore {
    entries: BTreeMap<String, Slot>,
    /// Where this store's own inserts go; made on the first insert.
    spool: Option<Arc<Spool>>,
}

/// What the store keeps in memory of one observation.
#[derive(Clone)]
struct Slot {
    spool: Arc<Spool>,
    at: u64,
    len: usize,
    head: Head,
}

/// The part of an observation that says what it is of: enough to match a row to it, or a `*`
/// pattern to every observation of its probe, without reading its body.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    pub probe: String,
    pub target: String,
    pub account: Option<AccountRef>,
    pub params: Params,
    pub observed_at: Timestamp,
}

impl Head {
    fn of(obs: &Observation) -> Head {
        Head {
            probe: obs.probe.clone(),
            target: obs.target.clone(),
            account: obs.account.clone(),
            params: obs.params.clone(),
            observed_at: obs.observed_at,
        }
    }
}

/// An append-only file of observation bytes: an unlinked temporary file (in `TMPDIR`), so it
/// disappears with the process and no other user can open it.
struct Spool {
    file: Mutex<(std::fs::File, u64)>,
}

impl Spool {
    fn new() -> std::io::Result<Spool> {
        let file = tempfile::tempfile().map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot create the observation spool in {} (set TMPDIR to a writable \
                     folder): {e}",
                    std::env::temp_dir().display()
                ),
            )
        })?;
        Ok(Spool {
            file: Mutex::new((file, 0)),
        })
    }

    fn append(&self, bytes: &[u8]) -> std::io::Result<u64> {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let (file, end) = &mut *guard;
        let at = *end;
        file.seek(SeekFrom::Start(at))?;
        file.write_all(bytes)?;
        *end += bytes.len() as u64;
        Ok(at)
    }

    fn read(&self, at: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let (file, _) = &mut *guard;
        file.seek(SeekFrom::Start(at))?;
        let mut buf = vec![0; len];
        file.read_exact(&mut buf)?;
        Ok(buf)
    }
}

fn spool_error(e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("reading the observation spool: {e}"))
}

impl ObservationStore {
    pub fn new() -> ObservationStore {
        ObservationStore::default()
    }

    fn spool(&mut self) -> std::io::Result<Arc<Spool>> {
        if let Some(s) = &self.spool {
            return Ok(s.clone());
        }
        let s = Arc::new(Spool::new()?);
        self.spool = Some(s.clone());
        Ok(s)
    }

    /// Spools `obs` (its bundle file bytes) and returns its key.
    pub fn insert(&mut self, obs: &Observation) -> std::io::Result<String> {
        let bytes = crate::bundle::observation_bytes(obs);
        let id = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        self.put(id.clone(), &bytes, Head::of(obs))?;
        Ok(id)
    }

    /// Spools `bytes` (a bundle's observation file, `obs` parsed from them) under `id`.
    pub fn insert_bytes(
        &mut self,
        id: String,
        bytes: &[u8],
        obs: &Observation,
    ) -> std::io::Result<()> {
        self.put(id, bytes, Head::of(obs))
    }

    fn put(&mut self, id: String, bytes: &[u8], head: Head) -> std::io::Result<()> {
        if self.entries.contains_key(&id) {
            // The key is the digest of the bytes: the same key is the same observation.
            return Ok(());
        }
        let spool = self.spool()?;
        let at = spool.append(bytes)?;
        self.entries.insert(
            id,
            Slot {
                spool,
                at,
                len: bytes.len(),
                head,
            },
        );
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.keys()
    }

    /// What observation `id` is of, without reading its body.
    pub fn head(&self, id: &str) -> Option<&Head> {
        self.entries.get(id).map(|s| &s.head)
    }

    /// Every key with its head, in key order, no body read.
    pub fn heads(&self) -> impl Iterator<Item = (&String, &Head)> {
        self.entries.iter().map(|(k, s)| (k, &s.head))
    }

    /// The stored bytes of observation `id` (its bundle file's bytes).
    pub fn bytes(&self, id: &str) -> std::io::Result<Option<Vec<u8>>> {
        match self.entries.get(id) {
            Some(s) => s.spool.read(s.at, s.len).map(Some).map_err(spool_error),
            None => Ok(None),
        }
    }

    /// Observation `id`, read back from the spool.
    pub fn read(&self, id: &str) -> std::io::Result<Option<Observation>> {
        let Some(bytes) = self.bytes(id)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| std::io::Error::other(format!("observation {id} in the spool: {e}")))
    }

    /// Observation `id`, read back from the spool. The spool is this process's own file: failing
    /// to read it back is not a state a report can go on from (it would show less evidence than
    /// it has), so it stops the process with the reason.
    pub fn get(&self, id: &str) -> Option<Observation> {
        self.read(id)
            .unwrap_or_else(|e| panic!("vouch cannot go on without its evidence: {e}"))
    }

    /// Every observation in key order, each read back when the iterator reaches it (one body in
    /// memory at a time).
    pub fn iter(&self) -> impl Iterator<Item = (&String, Observation)> {
        self.entries
            .keys()
            .filter_map(|k| self.get(k).map(|o| (k, o)))
    }

    /// Every observation in key order, one read back at a time.
    pub fn values(&self) -> impl Iterator<Item = Observation> + '_ {
        self.iter().map(|(_, o)| o)
    }

    /// The observations of `ids` that this store holds (sharing its spool: nothing is copied).
    pub fn subset<'a>(&self, ids: impl IntoIterator<Item = &'a String>) -> ObservationStore {
        ObservationStore {
            entries: ids
                .into_iter()
                .filter_map(|id| self.entries.get(id).map(|s| (id.clone(), s.clone())))
                .collect(),
            spool: None,
        }
    }

    /// Adds every observation of `other` (their spools are kept: nothing is copied).
    pub fn extend(&mut self, other: ObservationStore) {
        for (k, s) in other.entries {
            self.entries.entry(k).or_insert(s);
        }
    }
}

impl fmt::Debug for ObservationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.entries.keys()).finish()
    }
}

/// Two stores are equal when they hold the same keys: a key is the digest of its observation's
/// bytes, so equal keys are equal observations.
impl PartialEq for ObservationStore {
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len() && self.entries.keys().eq(other.entries.keys())
    }
}

/// The report's `observations` object: key → observation, each body read back as it is written.
impl Serialize for ObservationStore {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for k in self.entries.keys() {
            let obs = self.read(k).map_err(S::Error::custom)?.ok_or_else(|| {
                S::Error::custom(format!("observation {k} vanished from the store"))
            })?;
            map.serialize_entry(k, &obs)?;
        }
        map.end()
    }
}

/// A report's `observations` object, each observation spooled as it is parsed. The key is kept as
/// the file says (a report file's keys are checked against their content by whoever trusts them,
/// e.g. `vouch merge`).
impl<'de> Deserialize<'de> for ObservationStore {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StoreVisitor;
        impl<'de> Visitor<'de> for StoreVisitor {
            type Value = ObservationStore;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of observation key → observation")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut store = ObservationStore::new();
                while let Some((k, obs)) = access.next_entry::<String, Observation>()? {
                    let bytes = crate::bundle::observation_bytes(&obs);
                    store
                        .put(k, &bytes, Head::of(&obs))
                        .map_err(serde::de::Error::custom)?;
                }
                Ok(store)
            }
        }
        deserializer.deserialize_map(StoreVisitor)
    }
}

impl FromIterator<Observation> for ObservationStore {
    /// Spools every observation under its key. Panics when the spool cannot be written (see
    /// [`ObservationStore::get`]); [`ObservationStore::insert`] returns the error instead.
    fn from_iter<I: IntoIterator<Item = Observation>>(iter: I) -> Self {
        let mut store = ObservationStore::new();
        for obs in iter {
            store
                .insert(&obs)
                .unwrap_or_else(|e| panic!("vouch cannot keep its evidence: {e}"));
        }
        store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(target: &str, evidence: &str) -> Observation {
        let mut o = Observation::new("tls", target);
        o.fact("protocols.lowest", "TLSv1.2")
            .evidence("transcript", evidence)
            .attach("leaf.pem", "application/x-pem-file", evidence);
        o
    }

    #[test]
    fn bodies_are_read_back_as_they_were_and_keyed_by_their_bytes() {
        let mut store = ObservationStore::new();
        let a = obs("a.example:443", &"x".repeat(10_000));
        let b = obs("b.example:443", "y");
        let ka = store.insert(&a).unwrap();
        let kb = store.insert(&b).unwrap();
        // Wrong answer prevented: a key that is not the digest of the bytes a bundle would hold.
        assert_eq!(ka, crate::bundle::observation_id(&a));
        assert_eq!(store.len(), 2);
        assert_eq!(store.get(&ka).unwrap(), a);
        assert_eq!(store.get(&kb).unwrap(), b);
        assert_eq!(
            store.bytes(&ka).unwrap().unwrap(),
            crate::bundle::observation_bytes(&a)
        );
        assert_eq!(store.head(&kb).unwrap().target, "b.example:443");
        // Inserting the same observation again keeps one copy.
        store.insert(&a).unwrap();
        assert_eq!(store.len(), 2);
        assert!(store.get("sha256:00").is_none());
    }

    #[test]
    fn json_round_trip_keeps_the_report_layout() {
        let a = obs("a.example:443", "pem");
        let mut store = ObservationStore::new();
        let k = store.insert(&a).unwrap();
        let mut held = BTreeMap::new();
        held.insert(k.clone(), a.clone());
        // The same bytes as the map of observations the report held in memory before.
        assert_eq!(
            serde_json::to_string_pretty(&store).unwrap(),
            serde_json::to_string_pretty(&held).unwrap()
        );
        let back: ObservationStore =
            serde_json::from_str(&serde_json::to_string(&store).unwrap()).unwrap();
        assert_eq!(back, store);
        assert_eq!(back.get(&k).unwrap(), a);
    }
}
