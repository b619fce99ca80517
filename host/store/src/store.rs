//! The [`Store`] handle: opening, closing and health. The table modules add its queries;
//! what differs by backend is behind [`BackendOps`].

use sqlx::AnyPool;

use crate::backend::{Backend, BackendOps};
use crate::pool::WriteTx;
use crate::{RecordIdsInMemory, Result};

/// The handle the daemon keeps: a connection pool. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// The backend's own machinery (on SQLite: the writer queue, group commit, record ids).
    pub(crate) ops: BackendOps,
}

impl Store {
    /// Connects, checks the durability settings and runs the migrations.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (pool, ops) = BackendOps::open(url).await?;
        Ok(Store { pool, ops })
    }

    /// Copies what it can of SQLite's write-ahead log back into the database without
    /// blocking readers or writers (a passive checkpoint). A passive checkpoint never shrinks
    /// the file, and cannot restart the log while readers keep older snapshots, so under
    /// steady load the log would grow without end: once it holds more than
    /// [`WAL_LIMIT_BYTES`](crate::WAL_LIMIT_BYTES), a `TRUNCATE` checkpoint waits for those
    /// readers (holding writers back meanwhile), copies everything and empties the file.
    /// Nothing to do on Postgres.
    pub async fn checkpoint(&self) -> Result<()> {
        self.ops.checkpoint().await
    }

    pub fn backend(&self) -> Backend {
        self.ops.backend()
    }

    /// Closes the pool, which every clone shares. Closing twice counts once.
    pub async fn close(&self) {
        self.ops.close().await;
        self.pool.close().await;
    }

    /// Succeeds when the database answers a query: the readiness check.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// SQLite's `PRAGMA integrity_check` ("ok" when the file is sound); Postgres keeps its
    /// own consistency and answers "ok".
    pub async fn integrity_check(&self) -> Result<String> {
        self.ops.integrity_check().await
    }

    /// For diagnostics: how many record ids SQLite holds in memory to find duplicates (see
    /// `sqlite/record_ids.rs`), over the models loaded by the stores of this process on the
    /// file, and how much room they take. Nothing on Postgres, which keeps the ids in its
    /// `record_ids` table.
    pub async fn record_ids_in_memory(&self) -> RecordIdsInMemory {
        self.ops.record_ids_in_memory().await
    }

    /// This process's turn to write, for a write that is one statement (see
    /// [`BackendOps::write_turn`]).
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.ops.write_turn().await
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so a transaction that reads before it writes never fails to upgrade, and
    /// writers of this process queue for it in order first (see `sqlite/mod.rs`).
    pub(crate) async fn begin(&self) -> Result<WriteTx> {
        self.ops.begin().await
    }
}
