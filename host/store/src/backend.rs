//! Where the backends part ways: each operation whose machinery differs between SQLite and
//! Postgres is matched here, once, and shared code calls it without asking which backend
//! it runs on. SQLite's side lives in `sqlite/`, Postgres's in `postgres.rs`.

use sqlx::AnyPool;

use crate::pool::WriteTx;
use crate::records::ingest::{IdempotencyKey, IngestOutcome};
use crate::sqlite::fingerprints::LockedIds;
use crate::sqlite::record_ids::RecordIdsInMemory;
use crate::{Error, RecordBatch, Result, postgres, sqlite};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend of a [`Store`](crate::Store), with the state it needs.
#[derive(Clone)]
pub(crate) enum BackendOps {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

impl BackendOps {
    /// Connects to the database `url` names, checks its durability settings and runs its
    /// migrations; returns the pool that shared code queries through.
    pub(crate) async fn open(url: &str) -> Result<(AnyPool, BackendOps)> {
        if url.starts_with("sqlite:") {
            let (pool, sqlite) = sqlite::open(url).await?;
            Ok((pool, BackendOps::Sqlite(sqlite)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (pool, postgres) = postgres::open(url).await?;
            Ok((pool, BackendOps::Postgres(postgres)))
        } else {
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            Err(Error::UnsupportedUrl(scheme.to_string()))
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            BackendOps::Sqlite(_) => Backend::Sqlite,
            BackendOps::Postgres(_) => Backend::Postgres,
        }
    }

    /// This process's turn to write, for a write that is a single statement: SQLite's writers
    /// queue for it (see `sqlite/mod.rs`); Postgres takes none.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self {
            BackendOps::Sqlite(sqlite) => Some(sqlite.core.write_turn().await),
            BackendOps::Postgres(_) => None,
        }
    }

    pub(crate) async fn begin(&self) -> Result<WriteTx> {
        match self {
            BackendOps::Sqlite(sqlite) => sqlite.core.begin().await,
            BackendOps::Postgres(postgres) => postgres.begin().await,
        }
    }

    pub(crate) async fn checkpoint(&self) -> Result<()> {
        match self {
            BackendOps::Sqlite(sqlite) => sqlite.core.checkpoint().await,
            BackendOps::Postgres(_) => Ok(()),
        }
    }

    pub(crate) async fn integrity_check(&self) -> Result<String> {
        match self {
            BackendOps::Sqlite(sqlite) => sqlite.core.integrity_check().await,
            BackendOps::Postgres(_) => Ok("ok".into()),
        }
    }

    /// Lets go of what this store holds beyond its pool (which the caller closes).
    pub(crate) async fn close(&self) {
        match self {
            BackendOps::Sqlite(sqlite) => sqlite.core.close().await,
            BackendOps::Postgres(_) => {}
        }
    }

    /// Stores a batch of records (see [`Store::ingest`](crate::Store::ingest)).
    pub(crate) async fn ingest(
        &self,
        model_id: i64,
        batch: &RecordBatch,
        key: Option<&IdempotencyKey<'_>>,
    ) -> Result<IngestOutcome> {
        match self {
            BackendOps::Sqlite(sqlite) => sqlite.writer.ingest(model_id, batch, key).await,
            BackendOps::Postgres(postgres) => postgres.ingest(model_id, batch, key).await,
        }
    }

    /// The stored record ids, to look up inside a write transaction begun after this call
    /// (on SQLite the sets are locked first: see `sqlite/record_ids.rs`).
    pub(crate) async fn stored_ids(&self) -> StoredIds<'_> {
        match self {
            BackendOps::Sqlite(sqlite) => {
                StoredIds::Memory(LockedIds::new(sqlite.core.record_ids.lock().await))
            }
            BackendOps::Postgres(_) => StoredIds::Table,
        }
    }

    /// What SQLite's record-id sets hold; nothing on Postgres, which keeps the ids in its
    /// `record_ids` table.
    pub(crate) async fn record_ids_in_memory(&self) -> RecordIdsInMemory {
        match self {
            BackendOps::Sqlite(sqlite) => sqlite.core.record_ids.lock().await.in_memory(),
            BackendOps::Postgres(_) => RecordIdsInMemory::default(),
        }
    }
}

/// The stored record ids, for lookups inside a write transaction (see
/// [`BackendOps::stored_ids`]).
pub(crate) enum StoredIds<'a> {
    /// Postgres: the `record_ids` table.
    Table,
    /// SQLite: the in-memory fingerprint sets, locked.
    Memory(LockedIds<'a>),
}

impl StoredIds<'_> {
    /// Makes the model's ids ready to look up: SQLite loads its set (see
    /// `sqlite/fingerprints.rs`).
    pub(crate) async fn load(
        &mut self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
    ) -> Result<()> {
        match self {
            StoredIds::Table => Ok(()),
            StoredIds::Memory(ids) => ids.load(tx, model_id).await,
        }
    }

    /// How many of `ids` the model has stored (after [`StoredIds::load`]).
    pub(crate) async fn count_stored(
        &mut self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
        ids: &[&str],
    ) -> Result<usize> {
        match self {
            StoredIds::Table => Ok(postgres::stored_ids(tx, model_id, ids).await?.len()),
            StoredIds::Memory(set) => Ok(set.count_stored(model_id, ids)),
        }
    }

    /// Removes the ids of the records `ids`, pruned from the batches at `first_offsets`, in
    /// `tx` (they leave SQLite's set once [`StoredIds::commit`] commits it).
    pub(crate) async fn forget(
        &mut self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
        first_offsets: &[i64],
        ids: &[String],
    ) -> Result<()> {
        match self {
            StoredIds::Table => postgres::delete_record_ids(tx, model_id, ids).await,
            StoredIds::Memory(set) => set.forget(tx, model_id, first_offsets, ids).await,
        }
    }

    /// Commits `tx`, the transaction these ids were looked up and changed in.
    pub(crate) async fn commit(self, tx: WriteTx) -> Result<()> {
        match self {
            StoredIds::Table => Ok(tx.commit().await?),
            StoredIds::Memory(set) => set.commit(tx).await,
        }
    }
}
