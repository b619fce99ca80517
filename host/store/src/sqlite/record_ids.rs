//! Which record ids each model has stored, on SQLite: a set of fingerprints in memory.
//!
//! A B-tree index keyed by the ids themselves costs about one dirtied page per id and commit
//! once ids are random (UUIDs) and the index outgrows a commit, which slowed ingestion
//! fourfold within a million records. Here the check is a hash lookup, and what is written is
//! each batch's fingerprints, appended in offset order to `record_fingerprints` to rebuild
//! the set after a restart. The set of a model is built the first time it is needed.
//!
//! A fingerprint is the first 128 bits of the id's SHA-256, so two different ids share one
//! with probability about 2^-128 per pair, even when ids are chosen to collide. Memory is 20
//! to 40 bytes per stored record (a hash set's load varies): 10 million records take 200 to
//! 400 MB.
//!
//! Pruned records leave the set with their fingerprints (see
//! [`Store::prune_records`](crate::Store::prune_records)), and a set that has shrunk to a
//! small part of its room gives the memory back.
//!
//! The set is right only if nothing else writes records into the file. Every [`Store`] of
//! this process on one file shares one set, and the first to ingest takes an exclusive lock
//! on `FILE-ingest.lock`: a second process ingesting into the same file is refused (Postgres,
//! which keeps its id index in the database, is the backend for several replicas).
//!
//! [`Store`]: crate::Store

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Weak};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

pub(crate) type Fingerprint = u128;

pub(crate) fn fingerprint(id: &str) -> Fingerprint {
    let digest = Sha256::digest(id.as_bytes());
    u128::from_le_bytes(digest[..16].try_into().expect("a SHA-256 has 32 bytes"))
}

pub(crate) fn fingerprints(ids: &[String]) -> Vec<Fingerprint> {
    ids.iter().map(|id| fingerprint(id)).collect()
}

/// Fingerprints as stored: 16 little-endian bytes each.
pub(crate) fn encode(fingerprints: impl Iterator<Item = Fingerprint>) -> Vec<u8> {
    fingerprints.flat_map(u128::to_le_bytes).collect()
}

pub(crate) fn decode(bytes: &[u8]) -> Result<impl Iterator<Item = Fingerprint> + '_> {
    if !bytes.len().is_multiple_of(16) {
        return Err(Error::Corrupt(format!(
            "record fingerprints of {} bytes, not a multiple of 16",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(16)
        .map(|b| u128::from_le_bytes(b.try_into().expect("16 bytes"))))
}

/// Fingerprints are uniformly distributed already; hashing them again would be wasted work.
#[derive(Default)]
pub(crate) struct LowBits(u64);

impl Hasher for LowBits {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u128` keys are hashed, through `write_u128`; this keeps any other use sound.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

pub(crate) type FingerprintSet = HashSet<Fingerprint, BuildHasherDefault<LowBits>>;

/// A set is shrunk once its room passes four times what it holds plus this: shrinking
/// rehashes the whole set, so it is done only to give back most of its memory.
const SHRINK_SLACK: usize = 1024;

/// What the SQLite record-id sets hold (see
/// [`Store::record_ids_in_memory`](crate::Store::record_ids_in_memory)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecordIdsInMemory {
    /// Fingerprints held: one per stored record of the models loaded.
    pub ids: usize,
    /// Fingerprints the sets have room for without growing. Their memory follows this (about
    /// 20 bytes a unit), not `ids`.
    pub capacity: usize,
}

/// The sets of the models loaded so far.
#[derive(Default)]
pub(crate) struct RecordIds {
    models: HashMap<i64, FingerprintSet>,
    /// The lock file of the database file, if it is one (not `:memory:`).
    lock_path: Option<PathBuf>,
    /// Held from the first ingestion on; closing it releases the lock.
    lock: Option<File>,
    /// Stores of this process open on the file and not closed.
    open_stores: usize,
}

pub(crate) type SharedRecordIds = Arc<tokio::sync::Mutex<RecordIds>>;

/// The record-id sets of the SQLite file at `path` (as SQLite names it), shared with every
/// other store of this process open on it, counting one more open store; a set of its own
/// for an in-memory database (`None`).
pub(crate) async fn for_database(path: Option<&Path>) -> Result<SharedRecordIds> {
    let Some(path) = path else {
        return Ok(SharedRecordIds::default());
    };
    let path = std::fs::canonicalize(path).map_err(|e| {
        Error::Unavailable(format!(
            "cannot resolve the database file {}: {e}",
            path.display()
        ))
    })?;
    let ids = shared_by_path(path);
    ids.lock().await.open_stores += 1;
    Ok(ids)
}

fn shared_by_path(path: PathBuf) -> SharedRecordIds {
    type Open = std::sync::Mutex<HashMap<PathBuf, Weak<tokio::sync::Mutex<RecordIds>>>>;
    static OPEN: LazyLock<Open> = LazyLock::new(Default::default);
    let mut open = OPEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    open.retain(|_, ids| ids.strong_count() > 0);
    if let Some(ids) = open.get(&path).and_then(Weak::upgrade) {
        return ids;
    }
    let mut lock_path = path.clone().into_os_string();
    lock_path.push("-ingest.lock");
    let ids = Arc::new(tokio::sync::Mutex::new(RecordIds {
        lock_path: Some(lock_path.into()),
        ..RecordIds::default()
    }));
    open.insert(path, Arc::downgrade(&ids));
    ids
}

impl RecordIds {
    /// Takes the file's ingestion lock unless this process holds it already.
    pub(crate) fn lock_file(&mut self) -> Result<()> {
        let Some(path) = &self.lock_path else {
            return Ok(());
        };
        if self.lock.is_some() {
            return Ok(());
        }
        let file = File::create(path)
            .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {
                self.lock = Some(file);
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Unavailable(format!(
                "another process ingests into this SQLite database (it holds {}); run one \
                 daemon per SQLite file, or use Postgres for several replicas",
                path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::Unavailable(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }

    /// One store on the file is closed; when it was the last, every set and the file lock
    /// go (the next store to ingest rebuilds them from the database).
    pub(crate) fn close_store(&mut self) {
        self.open_stores = self.open_stores.saturating_sub(1);
        if self.open_stores == 0 {
            self.models.clear();
            self.lock = None;
        }
    }

    pub(crate) fn is_loaded(&self, model_id: i64) -> bool {
        self.models.contains_key(&model_id)
    }

    pub(crate) fn insert_model(&mut self, model_id: i64, set: FingerprintSet) {
        self.models.insert(model_id, set);
    }

    fn set(&mut self, model_id: i64) -> &mut FingerprintSet {
        self.models
            .get_mut(&model_id)
            .expect("the model's record ids are loaded first")
    }

    /// Positions of the records to store, the first of each id not stored before; their
    /// fingerprints join the set at once (take them out again with [`RecordIds::remove`] if
    /// the batch is not committed).
    pub(crate) fn admit(&mut self, model_id: i64, fingerprints: &[Fingerprint]) -> Vec<usize> {
        let set = self.set(model_id);
        set.reserve(fingerprints.len());
        (0..fingerprints.len())
            .filter(|&i| set.insert(fingerprints[i]))
            .collect()
    }

    pub(crate) fn remove(&mut self, model_id: i64, fingerprints: &[Fingerprint]) {
        if let Some(set) = self.models.get_mut(&model_id) {
            for fingerprint in fingerprints {
                set.remove(fingerprint);
            }
        }
    }

    pub(crate) fn contains(&mut self, model_id: i64, id: &str) -> bool {
        self.set(model_id).contains(&fingerprint(id))
    }

    /// Takes the fingerprints of pruned records out of the model's set, if it is loaded, and
    /// gives memory back once the set holds a small part of its room.
    pub(crate) fn forget(&mut self, model_id: i64, fingerprints: &[Fingerprint]) {
        let Some(set) = self.models.get_mut(&model_id) else {
            return;
        };
        for fingerprint in fingerprints {
            set.remove(fingerprint);
        }
        if set.capacity() > 4 * set.len() + SHRINK_SLACK {
            set.shrink_to(2 * set.len());
        }
    }

    pub(crate) fn in_memory(&self) -> RecordIdsInMemory {
        RecordIdsInMemory {
            ids: self.models.values().map(HashSet::len).sum(),
            capacity: self.models.values().map(HashSet::capacity).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_the_first_half_of_sha256() {
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223 b00361a396177a9cb410ff61f20015ad
        assert_eq!(
            fingerprint("abc").to_le_bytes(),
            [
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
                0x22, 0x23
            ]
        );
    }

    #[test]
    fn encoding_round_trips_and_rejects_torn_bytes() {
        let prints = fingerprints(&["a".into(), "b".into(), "c".into()]);
        let bytes = encode(prints.iter().copied());
        assert_eq!(bytes.len(), 48);
        assert_eq!(decode(&bytes).unwrap().collect::<Vec<_>>(), prints);
        assert!(matches!(decode(&bytes[..47]), Err(Error::Corrupt(_))));
    }

    #[test]
    fn admit_keeps_first_copies_of_new_ids_and_remove_undoes_it() {
        let mut ids = RecordIds::default();
        ids.insert_model(1, FingerprintSet::default());
        let first = fingerprints(&["a".into(), "b".into(), "a".into()]);
        assert_eq!(ids.admit(1, &first), vec![0, 1]);
        let second = fingerprints(&["b".into(), "c".into()]);
        assert_eq!(ids.admit(1, &second), vec![1]);
        assert!(ids.contains(1, "c"));
        ids.remove(1, &second[1..]);
        assert!(!ids.contains(1, "c"));
        assert!(ids.contains(1, "a") && ids.contains(1, "b"));
        // Models are apart.
        ids.insert_model(2, FingerprintSet::default());
        assert!(!ids.contains(2, "a"));
    }

    #[test]
    fn forget_removes_and_gives_memory_back() {
        let mut ids = RecordIds::default();
        ids.insert_model(1, FingerprintSet::default());
        let names: Vec<String> = (0..100_000).map(|i| format!("r{i}")).collect();
        let prints = fingerprints(&names);
        assert_eq!(ids.admit(1, &prints).len(), names.len());
        let full = ids.in_memory();
        assert_eq!(full.ids, names.len());
        // Forgetting some keeps the room (less what tombstones take): shrinking is for sets
        // that lost most of theirs.
        ids.forget(1, &prints[..10]);
        assert_eq!(ids.in_memory().ids, names.len() - 10);
        assert!(ids.in_memory().capacity >= full.capacity - 10);
        ids.forget(1, &prints[..99_000]);
        let left = ids.in_memory();
        assert_eq!(left.ids, 1_000);
        assert!(
            left.capacity < full.capacity / 16,
            "{left:?} after {full:?}"
        );
        assert!(!ids.contains(1, "r0") && ids.contains(1, "r99999"));
        // A model whose set is not loaded has nothing to forget.
        ids.forget(7, &prints);
        assert_eq!(ids.in_memory(), left);
    }
}
