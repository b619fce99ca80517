//! The SQLite backend: the connection settings and their durability check, the writer queue,
//! group commit of ingestion ([`group_commit`]), the in-memory record-id sets and the file's
//! ingestion lock ([`record_ids`], [`fingerprints`]), and checkpoints of the write-ahead log.

pub(crate) mod fingerprints;
mod group_commit;
pub(crate) mod record_ids;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{AnyPool, Row};

use crate::pool::{self, WriteTx};
use crate::{Error, Result};

/// Set on every SQLite connection: WAL with a sync on every commit, so an acknowledged write
/// survives an OS crash; a busy timeout, so writers queue instead of failing.
/// A 64 MiB page cache keeps the indexes that ingestion and windows touch in memory.
/// The busy timeout comes first: setting the journal mode needs a lock another connection may
/// hold for a moment.
const SQLITE_PRAGMAS: [&str; 8] = [
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA cache_size = -65536",
    "PRAGMA temp_store = MEMORY",
    // Checkpoints run in the background instead (see `group_commit`); a process without the
    // writer task checkpoints when its last connection closes.
    "PRAGMA wal_autocheckpoint = 0",
    // When a checkpoint restarts the log, the file is cut back to this size (64 MiB).
    "PRAGMA journal_size_limit = 67108864",
];

/// A write-ahead log holding more than this is checkpointed with `TRUNCATE` (see
/// [`Store::checkpoint`](crate::Store::checkpoint)), which empties the file. The size an
/// operator must plan for beside the database is this plus what arrives while a checkpoint
/// waits for readers.
pub const WAL_LIMIT_BYTES: i64 = 64 << 20;

/// The SQLite side of a [`Store`](crate::Store): what its clones share, and the handle to the
/// ingestion writer.
#[derive(Clone)]
pub(crate) struct Sqlite {
    pub(crate) core: Core,
    /// The ingestion writer (see [`group_commit`]).
    pub(crate) writer: group_commit::GroupWriter,
}

/// What the clones of a SQLite store and its writer task share.
#[derive(Clone)]
pub(crate) struct Core {
    pub(crate) pool: AnyPool,
    /// SQLite allows one writer at a time, and its busy handler waits for the lock by
    /// sleeping (up to 100 ms a try) with no order among the waiters: concurrent ingestion
    /// left the CPU idle and starved one request for seconds. Writers queue here instead.
    writer_turn: Arc<tokio::sync::Mutex<()>>,
    /// The record-id sets (see [`record_ids`]). Taken before a write transaction, never
    /// while holding one: the group writer holds it for a whole group.
    pub(crate) record_ids: record_ids::SharedRecordIds,
    /// Set by [`Store::close`](crate::Store::close), shared by the clones of this store.
    closed: Arc<AtomicBool>,
}

/// Opens the SQLite database at `url` (`sqlite:…`), creating the file when missing unless the
/// URL says otherwise; checks it, migrates it and starts its writer.
pub(crate) async fn open(url: &str) -> Result<(AnyPool, Sqlite)> {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let url = if rest.contains("mode=") || rest.contains(":memory:") {
        url.to_string()
    } else if rest.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    let pool = pool::options(8)
        .after_connect(|conn, _| {
            Box::pin(async move {
                for pragma in SQLITE_PRAGMAS {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    check_durability(&pool).await?;
    pool::migrate(&pool, sqlx::migrate!("migrations/sqlite")).await?;
    // The file as SQLite opened it (the URL may be relative or percent-encoded); empty for an
    // in-memory database.
    let file: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&pool)
            .await?;
    let file = (!file.is_empty()).then(|| std::path::PathBuf::from(file));
    let core = Core {
        pool: pool.clone(),
        writer_turn: Arc::default(),
        record_ids: record_ids::for_database(file.as_deref()).await?,
        closed: Arc::default(),
    };
    let writer = group_commit::GroupWriter::start(core.clone());
    Ok((pool, Sqlite { core, writer }))
}

impl Core {
    pub(crate) async fn write_turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.writer_turn.clone().lock_owned().await
    }

    /// A write transaction that holds the write lock from its start (`BEGIN IMMEDIATE`), taken
    /// after this process's turn.
    pub(crate) async fn begin(&self) -> Result<WriteTx> {
        let turn = self.write_turn().await;
        Ok(WriteTx {
            tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
            _turn: Some(turn),
        })
    }

    /// See [`Store::checkpoint`](crate::Store::checkpoint).
    pub(crate) async fn checkpoint(&self) -> Result<()> {
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&self.pool)
            .await?;
        let frames: i64 = row.try_get(1)?;
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&self.pool)
            .await?;
        if frames.saturating_mul(page_size) > WAL_LIMIT_BYTES {
            let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await?;
            let busy: i64 = row.try_get(0)?;
            if busy != 0 {
                tracing::warn!(
                    frames,
                    "the write-ahead log is over its limit and readers held off its checkpoint"
                );
            }
        }
        Ok(())
    }

    pub(crate) async fn integrity_check(&self) -> Result<String> {
        Ok(sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?)
    }

    /// One store on the file is closed (the first close of this store's clones counts).
    pub(crate) async fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            self.record_ids.lock().await.close_store();
        }
    }
}

/// Refuses settings under which an acknowledged write could be lost (see the crate's
/// documentation on durability).
async fn check_durability(pool: &AnyPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await?;
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await?;
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await?;
    check_settings(&journal, synchronous, foreign_keys)
}

fn check_settings(journal: &str, synchronous: i64, foreign_keys: i64) -> Result<()> {
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(Error::UnsafeSettings(format!(
            "SQLite journal_mode is `{journal}`, expected `wal`"
        )));
    }
    if synchronous < 2 {
        return Err(Error::UnsafeSettings(format!(
            "SQLite synchronous is {synchronous}, expected 2 (FULL) or 3 (EXTRA)"
        )));
    }
    if foreign_keys != 1 {
        return Err(Error::UnsafeSettings("SQLite foreign_keys is off".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_settings_are_refused() {
        assert!(check_settings("wal", 2, 1).is_ok());
        assert!(check_settings("WAL", 3, 1).is_ok());
        assert!(check_settings("delete", 2, 1).is_err());
        assert!(check_settings("wal", 1, 1).is_err());
        assert!(check_settings("wal", 0, 1).is_err());
        assert!(check_settings("wal", 2, 0).is_err());
    }
}
