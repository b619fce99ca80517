//! Vigil's storage, the only crate that uses sqlx.
//!
//! One [`Store`] serves both backends through sqlx's `Any` driver: the URL chooses SQLite
//! (`sqlite://vigil.db`, the embedded default) or Postgres (`postgres://…`). The SQL is written
//! once in the subset both speak (`$N` parameters, `BIGINT`-sized integers, `ON CONFLICT`,
//! `RETURNING`); what differs — column types and identity columns — lives in the per-backend
//! migrations under `migrations/`.
//!
//! Durability: every write is one transaction, and on SQLite the connection runs in WAL mode
//! with `synchronous=FULL`, so a caller that acknowledges after a method returns never
//! acknowledges a write that an OS crash could lose. [`Store::open`] reads the settings back
//! and refuses to start on anything weaker.

mod batch;
mod group_commit;
mod record_ids;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Acquire, AnyPool, Row};

pub use batch::{Column, ColumnData, MISSING_CODE, RecordBatch};

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
/// [`Store::checkpoint`]), which empties the file. The size an operator must plan for beside the
/// database is this plus what arrives while a checkpoint waits for readers.
pub const WAL_LIMIT_BYTES: i64 = 64 << 20;

/// Rows per multi-row `INSERT`, well under both backends' limits on bound parameters.
const INSERT_CHUNK: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database cannot take the request now (locked, unreachable, disk full): retryable.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The write conflicts with what is stored (a name taken, a plugin in use, a key reused).
    #[error("{0}")]
    Conflict(String),
    /// Refused: the database is configured so that acknowledged writes could be lost.
    #[error("unsafe database settings: {0}")]
    UnsafeSettings(String),
    #[error("unsupported database URL `{0}`: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Error::Unavailable(error.to_string())
            }
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                // SQLite: 5 busy, 6 locked, 13 full, 10 I/O. Postgres: 53xxx insufficient
                // resources, 57P0x shutdown, 08xxx connection.
                let transient = matches!(&*code, "5" | "6" | "13" | "10" | "517" | "261")
                    || code.starts_with("53")
                    || code.starts_with("57P0")
                    || code.starts_with("08");
                if transient {
                    Error::Unavailable(error.to_string())
                } else {
                    Error::Database(error)
                }
            }
            _ => Error::Database(error),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The handle the daemon keeps: a connection pool. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time, and its busy handler waits for the lock by
    /// sleeping (up to 100 ms a try) with no order among the waiters: concurrent ingestion
    /// left the CPU idle and starved one request for seconds. Writers queue here instead.
    sqlite_writer: Arc<tokio::sync::Mutex<()>>,
    /// SQLite's ingestion writer (see [`group_commit`]); `None` on Postgres, and in the
    /// writer's own copy of the store.
    group_writer: Option<group_commit::GroupWriter>,
    /// SQLite's record-id sets (see [`record_ids`]). Taken before a write transaction, never
    /// while holding one: the group writer holds it for a whole group.
    record_ids: record_ids::SharedRecordIds,
    /// Set by [`Store::close`], shared by the clones of this store.
    closed: Arc<std::sync::atomic::AtomicBool>,
}

/// How [`Store::ingest_in`] finds the records already stored: through the `record_ids`
/// table (Postgres, shared by replicas), or through the in-memory set (SQLite), whose
/// additions the caller takes back if the batch is not committed.
enum Dedup<'a> {
    Table,
    Memory {
        ids: &'a mut record_ids::RecordIds,
        fingerprints: &'a [record_ids::Fingerprint],
        admitted: &'a mut Vec<record_ids::Fingerprint>,
    },
}

/// A write transaction, holding this process's turn to write on SQLite. Dropped without
/// [`WriteTx::commit`], it rolls back.
struct WriteTx {
    // Declared first so that it is dropped, and rolled back, before the turn is handed on.
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::Transaction<'static, sqlx::Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

// ---- rows -------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub role: String,
    pub secret_sha256: Vec<u8>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct NewPlugin<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub sha256: &'a str,
    /// The plugin's `info` as JSON.
    pub info: &'a str,
    pub bytes: &'a [u8],
    pub uploaded_by: &'a str,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct PluginMeta {
    pub name: String,
    pub version: String,
    pub kind: String,
    pub sha256: String,
    pub size: i64,
    pub info: serde_json::Value,
    pub uploaded_by: String,
    pub uploaded_at: i64,
}

/// What storing a plugin did.
#[derive(Clone, Debug)]
pub enum PluginInsert {
    Created(PluginMeta),
    /// The same bytes were already stored under this name and version.
    AlreadyStored(PluginMeta),
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Model {
    pub id: i64,
    pub name: String,
    pub task: String,
    pub description: String,
    pub serving_version: Option<String>,
    pub created_at: i64,
    pub record_count: i64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelVersion {
    pub version: String,
    pub metadata: serde_json::Value,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct NewMonitor<'a> {
    pub name: &'a str,
    pub model_id: i64,
    /// The monitor's specification as JSON; its meaning belongs to the daemon.
    pub spec: &'a str,
    /// Uploaded reference rows, encoded with [`RecordBatch::encode`].
    pub reference: Option<&'a [u8]>,
    /// Plugins the monitor uses, as (name, version).
    pub plugins: &'a [(String, String)],
    /// The stream offset the first window starts at.
    pub start_offset: i64,
}

#[derive(Clone, Debug)]
pub struct Monitor {
    pub id: i64,
    pub name: String,
    pub model_id: i64,
    pub spec: String,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What the monitoring loop carries from one window to the next.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorState {
    /// Where the next window starts in the model's record stream.
    pub next_offset: i64,
    pub last_closed_at: i64,
    /// JSON owned by the daemon: detector snapshots, quarantine, last alert and retrain.
    pub state: String,
}

#[derive(Clone, Debug)]
pub struct NewEvaluation<'a> {
    pub monitor_id: i64,
    pub window_start: i64,
    pub window_end: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub status: &'a str,
    pub action: &'a str,
    pub reason: &'a str,
    /// Everything else as JSON: statistics, metrics, plugin versions and configs.
    pub result: &'a str,
}

/// An alert an evaluation fires, stored with it.
#[derive(Clone, Debug)]
pub struct NewAlert<'a> {
    pub cause: &'a str,
    pub message: &'a str,
}

/// The `delivery` of an alert that has not been delivered yet.
pub const PENDING_DELIVERY: &str = "pending";

#[derive(Clone, Debug, serde::Serialize)]
pub struct Evaluation {
    pub id: i64,
    pub monitor_id: i64,
    pub window_start: i64,
    pub window_end: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub status: String,
    pub action: String,
    pub reason: String,
    pub result: serde_json::Value,
}

#[derive(Clone, Debug, Default)]
pub struct EvaluationQuery {
    pub monitor_id: i64,
    /// Only evaluations finished at or after this time (Unix ms).
    pub since: Option<i64>,
    /// Only evaluations finished before this time (Unix ms).
    pub until: Option<i64>,
    /// Only evaluations with a smaller id: the cursor for the next page.
    pub before_id: Option<i64>,
    pub limit: i64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Alert {
    pub id: i64,
    pub monitor_id: i64,
    pub evaluation_id: Option<i64>,
    pub cause: String,
    pub message: String,
    pub created_at: i64,
    pub delivery: String,
}

/// Identifies one ingestion request so that its retries are stored once.
#[derive(Clone, Debug)]
pub struct IdempotencyKey<'a> {
    pub key: &'a str,
    /// Digest of the request body: the same key with another body is a conflict.
    pub request_sha256: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IngestOutcome {
    /// Records stored by this request.
    pub accepted: usize,
    /// Records skipped because their id was already stored (or repeated in the request).
    pub duplicates: usize,
    /// The stream offset of the first stored record.
    pub first_offset: i64,
    /// True when this is the stored answer to an earlier request with the same key.
    #[serde(default)]
    pub replayed: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LabelValue {
    Number(f64),
    Text(String),
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LabelOutcome {
    pub stored: usize,
    /// Labels whose record is already stored (the rest wait for their record).
    pub matched: usize,
}

// ---- the store --------------------------------------------------------------------------------

impl Store {
    /// Connects, checks the durability settings and runs the migrations.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            // Create the file when missing unless the URL says otherwise.
            let url = if rest.contains("mode=") || rest.contains(":memory:") {
                url.to_string()
            } else if rest.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(Error::UnsupportedUrl(url.to_string()));
        };
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(5));
        let options = match backend {
            Backend::Sqlite => options.after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in SQLITE_PRAGMAS {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options.connect(&url).await?;
        let mut store = Store {
            pool,
            backend,
            sqlite_writer: Arc::default(),
            group_writer: None,
            record_ids: Arc::default(),
            closed: Arc::default(),
        };
        store.check_durability().await?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator
            .run(&store.pool)
            .await
            .map_err(|e| Error::Database(e.into()))?;
        if backend == Backend::Sqlite {
            // The file as SQLite opened it (the URL may be relative or percent-encoded);
            // empty for an in-memory database.
            let file: String =
                sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(&store.pool)
                    .await?;
            let file = (!file.is_empty()).then(|| std::path::PathBuf::from(file));
            store.record_ids = record_ids::for_database(file.as_deref()).await?;
            store.group_writer = Some(group_commit::GroupWriter::start(store.clone()));
        }
        Ok(store)
    }

    /// Copies what it can of SQLite's write-ahead log back into the database without
    /// blocking readers or writers (a passive checkpoint). A passive checkpoint never shrinks
    /// the file, and cannot restart the log while readers keep older snapshots, so under
    /// steady load the log would grow without end: once it holds more than
    /// [`WAL_LIMIT_BYTES`], a `TRUNCATE` checkpoint waits for those readers (holding writers
    /// back meanwhile), copies everything and empties the file. Nothing to do on Postgres.
    pub async fn checkpoint(&self) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
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

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, which every clone shares. Closing twice counts once.
    pub async fn close(&self) {
        if !self.closed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.record_ids.lock().await.close_store();
        }
        self.pool.close().await;
    }

    /// Refuses settings under which an acknowledged write could be lost (RELIABILITY D1).
    async fn check_durability(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = self.pool.acquire().await?;
                let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                    .fetch_one(&mut *conn)
                    .await?;
                let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                    .fetch_one(&mut *conn)
                    .await?;
                let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                    .fetch_one(&mut *conn)
                    .await?;
                check_sqlite_settings(&journal, synchronous, foreign_keys)
            }
            Backend::Postgres => {
                let synchronous_commit: String = sqlx::query_scalar("SHOW synchronous_commit")
                    .fetch_one(&self.pool)
                    .await?;
                let fsync: String = sqlx::query_scalar("SHOW fsync")
                    .fetch_one(&self.pool)
                    .await?;
                check_postgres_settings(&synchronous_commit, &fsync)
            }
        }
    }

    /// Succeeds when the database answers a query: the readiness check.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// SQLite's `PRAGMA integrity_check` ("ok" when the file is sound); Postgres keeps its
    /// own consistency and answers "ok".
    pub async fn integrity_check(&self) -> Result<String> {
        match self.backend {
            Backend::Sqlite => Ok(sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&self.pool)
                .await?),
            Backend::Postgres => Ok("ok".into()),
        }
    }

    /// This process's turn to write on SQLite (see [`Store::sqlite_writer`]), for writes
    /// outside [`Store::begin`].
    async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.clone().lock_owned().await),
            Backend::Postgres => None,
        }
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so a transaction that reads before it writes never fails to upgrade, and
    /// writers of this process queue for it in order on [`Store::sqlite_writer`] first.
    async fn begin(&self) -> Result<WriteTx> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let turn = self.write_turn().await;
                WriteTx {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: turn,
                }
            }
            Backend::Postgres => WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
            },
        })
    }

    // ---- tokens ----

    pub async fn insert_token(
        &self,
        id: &str,
        name: &str,
        role: &str,
        secret_sha256: &[u8],
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO api_tokens (id, name, role, secret_sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(name)
        .bind(role)
        .bind(secret_sha256)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn token(&self, id: &str) -> Result<Option<Token>> {
        let row = sqlx::query(
            "SELECT id, name, role, secret_sha256, created_at, revoked_at \
             FROM api_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Token {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                role: row.try_get("role")?,
                secret_sha256: row.try_get("secret_sha256")?,
                created_at: row.try_get("created_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        })
        .transpose()
    }

    /// Marks a token revoked; false when there is no such live token.
    pub async fn revoke_token(&self, id: &str) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- plugins ----

    /// Stores a plugin. The same bytes under the same name and version again is not an
    /// error; different bytes are a [`Error::Conflict`].
    pub async fn insert_plugin(&self, plugin: &NewPlugin<'_>) -> Result<PluginInsert> {
        let inserted = sqlx::query(
            "INSERT INTO plugins (name, version, kind, sha256, size, info, bytes, uploaded_by, \
             uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (name, version) DO NOTHING",
        )
        .bind(plugin.name)
        .bind(plugin.version)
        .bind(plugin.kind)
        .bind(plugin.sha256)
        .bind(plugin.bytes.len() as i64)
        .bind(plugin.info)
        .bind(plugin.bytes)
        .bind(plugin.uploaded_by)
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        let stored = self
            .plugin(plugin.name, plugin.version)
            .await?
            .ok_or_else(|| Error::Conflict("plugin was deleted while being stored".into()))?;
        if inserted {
            Ok(PluginInsert::Created(stored))
        } else if stored.sha256 == plugin.sha256 {
            Ok(PluginInsert::AlreadyStored(stored))
        } else {
            Err(Error::Conflict(format!(
                "plugin {}@{} is already stored with different bytes (sha256 {})",
                plugin.name, plugin.version, stored.sha256
            )))
        }
    }

    const PLUGIN_COLUMNS: &str =
        "name, version, kind, sha256, size, info, uploaded_by, uploaded_at";

    pub async fn plugins(&self) -> Result<Vec<PluginMeta>> {
        let sql = format!(
            "SELECT {} FROM plugins ORDER BY name, uploaded_at",
            Self::PLUGIN_COLUMNS
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(plugin_meta).collect()
    }

    pub async fn plugin(&self, name: &str, version: &str) -> Result<Option<PluginMeta>> {
        let sql = format!(
            "SELECT {} FROM plugins WHERE name = $1 AND version = $2",
            Self::PLUGIN_COLUMNS
        );
        let row = sqlx::query(&sql)
            .bind(name)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(plugin_meta).transpose()
    }

    pub async fn plugin_bytes(&self, name: &str, version: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT bytes FROM plugins WHERE name = $1 AND version = $2")
                .bind(name)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Deletes a plugin; a [`Error::Conflict`] naming the monitors while any uses it.
    pub async fn delete_plugin(&self, name: &str, version: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let users: Vec<String> = sqlx::query_scalar(
            "SELECT m.name FROM monitor_plugins p JOIN monitors m ON m.id = p.monitor_id \
             WHERE p.name = $1 AND p.version = $2 ORDER BY m.name",
        )
        .bind(name)
        .bind(version)
        .fetch_all(&mut **tx)
        .await?;
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "plugin {name}@{version} is used by monitor(s): {}",
                users.join(", ")
            )));
        }
        let deleted = sqlx::query("DELETE FROM plugins WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted == 1)
    }

    // ---- models ----

    pub async fn create_model(&self, name: &str, task: &str, description: &str) -> Result<Model> {
        let _turn = self.write_turn().await;
        let inserted = sqlx::query(
            "INSERT INTO models (name, task, description, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(task)
        .bind(description)
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(Error::Conflict(format!("model `{name}` already exists")));
        }
        self.model(name)
            .await?
            .ok_or_else(|| Error::Conflict(format!("model `{name}` was deleted meanwhile")))
    }

    const MODEL_COLUMNS: &str =
        "id, name, task, description, serving_version, created_at, record_count";

    pub async fn models(&self) -> Result<Vec<Model>> {
        let sql = format!("SELECT {} FROM models ORDER BY id", Self::MODEL_COLUMNS);
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(model).collect()
    }

    pub async fn model(&self, name: &str) -> Result<Option<Model>> {
        let sql = format!("SELECT {} FROM models WHERE name = $1", Self::MODEL_COLUMNS);
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(model).transpose()
    }

    pub async fn model_by_id(&self, id: i64) -> Result<Option<Model>> {
        let sql = format!("SELECT {} FROM models WHERE id = $1", Self::MODEL_COLUMNS);
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(model).transpose()
    }

    pub async fn create_model_version(
        &self,
        model_id: i64,
        version: &str,
        metadata: &str,
    ) -> Result<ModelVersion> {
        let _turn = self.write_turn().await;
        let created_at = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO model_versions (model_id, version, metadata, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (model_id, version) DO NOTHING",
        )
        .bind(model_id)
        .bind(version)
        .bind(metadata)
        .bind(created_at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(Error::Conflict(format!(
                "version `{version}` already exists"
            )));
        }
        Ok(ModelVersion {
            version: version.to_string(),
            metadata: parse_json(metadata)?,
            created_at,
        })
    }

    pub async fn model_versions(&self, model_id: i64) -> Result<Vec<ModelVersion>> {
        let rows = sqlx::query(
            "SELECT version, metadata, created_at FROM model_versions WHERE model_id = $1 \
             ORDER BY created_at, version",
        )
        .bind(model_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ModelVersion {
                    version: row.try_get("version")?,
                    metadata: parse_json(&row.try_get::<String, _>("metadata")?)?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Records which version serves the model; false when the version is not registered.
    pub async fn set_serving_version(&self, model_id: i64, version: &str) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE models SET serving_version = $1 WHERE id = $2 AND EXISTS \
             (SELECT 1 FROM model_versions WHERE model_id = $2 AND version = $1)",
        )
        .bind(version)
        .bind(model_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- monitors ----

    pub async fn create_monitor(&self, monitor: &NewMonitor<'_>) -> Result<Monitor> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO monitors (name, model_id, spec, reference, revision, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5) ON CONFLICT (name) DO NOTHING \
             RETURNING id",
        )
        .bind(monitor.name)
        .bind(monitor.model_id)
        .bind(monitor.spec)
        .bind(monitor.reference)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(id) = id else {
            return Err(Error::Conflict(format!(
                "monitor `{}` already exists",
                monitor.name
            )));
        };
        insert_monitor_plugins(&mut tx, id, monitor.plugins).await?;
        sqlx::query(
            "INSERT INTO monitor_state (monitor_id, next_offset, last_closed_at, state) \
             VALUES ($1, $2, $3, '{}')",
        )
        .bind(id)
        .bind(monitor.start_offset)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(Monitor {
            id,
            name: monitor.name.to_string(),
            model_id: monitor.model_id,
            spec: monitor.spec.to_string(),
            revision: 1,
            created_at: now,
            updated_at: now,
        })
    }

    /// Replaces a monitor's spec (and reference, when given). The window position is kept.
    pub async fn update_monitor(
        &self,
        id: i64,
        spec: &str,
        reference: Option<&[u8]>,
        plugins: &[(String, String)],
    ) -> Result<Option<Monitor>> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE monitors SET spec = $1, reference = COALESCE($2, reference), \
             revision = revision + 1, updated_at = $3 WHERE id = $4",
        )
        .bind(spec)
        .bind(reference)
        .bind(now_ms())
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        sqlx::query("DELETE FROM monitor_plugins WHERE monitor_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        insert_monitor_plugins(&mut tx, id, plugins).await?;
        tx.commit().await?;
        self.monitor_by_id(id).await
    }

    const MONITOR_COLUMNS: &str = "id, name, model_id, spec, revision, created_at, updated_at";

    pub async fn monitors(&self) -> Result<Vec<Monitor>> {
        let sql = format!("SELECT {} FROM monitors ORDER BY id", Self::MONITOR_COLUMNS);
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(monitor).collect()
    }

    pub async fn monitor(&self, name: &str) -> Result<Option<Monitor>> {
        let sql = format!(
            "SELECT {} FROM monitors WHERE name = $1",
            Self::MONITOR_COLUMNS
        );
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(monitor).transpose()
    }

    pub async fn monitor_by_id(&self, id: i64) -> Result<Option<Monitor>> {
        let sql = format!(
            "SELECT {} FROM monitors WHERE id = $1",
            Self::MONITOR_COLUMNS
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(monitor).transpose()
    }

    /// The monitor's uploaded reference rows, if it has them.
    pub async fn monitor_reference(&self, id: i64) -> Result<Option<RecordBatch>> {
        let bytes: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT reference FROM monitors WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        bytes.flatten().map(|b| RecordBatch::decode(&b)).transpose()
    }

    pub async fn delete_monitor(&self, id: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        for sql in [
            "DELETE FROM alerts WHERE monitor_id = $1",
            "DELETE FROM evaluations WHERE monitor_id = $1",
            "DELETE FROM monitor_state WHERE monitor_id = $1",
            "DELETE FROM monitor_plugins WHERE monitor_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut **tx).await?;
        }
        let deleted = sqlx::query("DELETE FROM monitors WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted == 1)
    }

    // ---- ingestion ----

    /// Stores a batch of records, atomically: records whose id is already stored (or
    /// repeats within the batch) are skipped; a repeated idempotency key returns the first
    /// answer; the same key with another body is a [`Error::Conflict`]. Returns once the
    /// batch is committed. On SQLite, batches that arrive together share a commit (see
    /// [`group_commit`]).
    pub async fn ingest(
        &self,
        model_id: i64,
        batch: &RecordBatch,
        key: Option<&IdempotencyKey<'_>>,
    ) -> Result<IngestOutcome> {
        if let Some(writer) = &self.group_writer {
            return writer.ingest(model_id, batch, key).await;
        }
        let mut tx = self.begin().await?;
        let outcome = self
            .ingest_in(&mut tx, model_id, batch, key, Dedup::Table)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// [`Store::ingest`] inside the transaction `tx`.
    async fn ingest_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
        batch: &RecordBatch,
        key: Option<&IdempotencyKey<'_>>,
        dedup: Dedup<'_>,
    ) -> Result<IngestOutcome> {
        // Take the model's row lock first: on Postgres this serialises ingestion per model so
        // the duplicate check below cannot race another request (SQLite holds the write lock).
        let count: Option<i64> = sqlx::query_scalar(
            "UPDATE models SET record_count = record_count WHERE id = $1 RETURNING record_count",
        )
        .bind(model_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(record_count) = count else {
            return Err(Error::Conflict("model was deleted".into()));
        };
        if let Some(key) = key {
            let row = sqlx::query(
                "SELECT request_sha256, response FROM idempotency_keys \
                 WHERE model_id = $1 AND key = $2",
            )
            .bind(model_id)
            .bind(key.key)
            .fetch_optional(&mut **tx)
            .await?;
            if let Some(row) = row {
                let digest: Vec<u8> = row.try_get("request_sha256")?;
                if digest != key.request_sha256 {
                    return Err(Error::Conflict(format!(
                        "idempotency key `{}` was used for a different request",
                        key.key
                    )));
                }
                let response: String = row.try_get("response")?;
                let mut outcome: IngestOutcome = serde_json::from_str(&response)
                    .map_err(|e| Error::Corrupt(format!("stored ingest response: {e}")))?;
                outcome.replayed = true;
                return Ok(outcome);
            }
        }

        let keep = match dedup {
            Dedup::Table => {
                self.admit_by_table(tx, model_id, record_count, &batch.ids)
                    .await?
            }
            Dedup::Memory {
                ids,
                fingerprints,
                admitted,
            } => {
                let keep = ids.admit(model_id, fingerprints);
                admitted.extend(keep.iter().map(|&i| fingerprints[i]));
                if !keep.is_empty() {
                    let kept = &admitted[admitted.len() - keep.len()..];
                    insert_fingerprints(tx, model_id, record_count, kept).await?;
                }
                keep
            }
        };
        let outcome = IngestOutcome {
            accepted: keep.len(),
            duplicates: batch.len() - keep.len(),
            first_offset: record_count,
            replayed: false,
        };
        if !keep.is_empty() {
            let stored = if keep.len() == batch.len() {
                std::borrow::Cow::Borrowed(batch)
            } else {
                std::borrow::Cow::Owned(batch.select(&keep))
            };
            sqlx::query("UPDATE models SET record_count = record_count + $1 WHERE id = $2")
                .bind(keep.len() as i64)
                .bind(model_id)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO record_batches (model_id, first_offset, row_count, received_at, \
                 data) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(model_id)
            .bind(record_count)
            .bind(keep.len() as i64)
            .bind(now_ms())
            .bind(stored.encode())
            .execute(&mut **tx)
            .await?;
        }
        if let Some(key) = key {
            sqlx::query(
                "INSERT INTO idempotency_keys (model_id, key, request_sha256, response, \
                 created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(model_id)
            .bind(key.key)
            .bind(key.request_sha256)
            .bind(serde_json::to_string(&outcome).expect("outcome serialises"))
            .bind(now_ms())
            .execute(&mut **tx)
            .await?;
        }
        Ok(outcome)
    }

    /// Positions of the records to store, through the `record_ids` table (Postgres): the first
    /// of each id the model does not have yet, entered into the table at its offset.
    async fn admit_by_table(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
        record_count: i64,
        ids: &[String],
    ) -> Result<Vec<usize>> {
        // Most requests carry only new ids, so they are inserted at once and the probe for
        // stored ids runs only when the database refused some (an id repeated in the request
        // or already stored): one pass over the id index instead of two.
        let mut attempt = tx.begin().await?;
        let inserted = self
            .insert_record_ids(&mut attempt, model_id, record_count, ids)
            .await?;
        Ok(if inserted == ids.len() as u64 {
            attempt.commit().await?;
            (0..ids.len()).collect()
        } else {
            attempt.rollback().await?;
            let keep = self.new_record_positions(tx, model_id, ids).await?;
            let kept: Vec<String> = keep.iter().map(|&i| ids[i].clone()).collect();
            self.insert_record_ids(tx, model_id, record_count, &kept)
                .await?;
            keep
        })
    }

    /// Loads the model's set of record fingerprints into `ids` unless it is there. Batches
    /// stored without fingerprints (by a version before `record_fingerprints`) get them now,
    /// in `tx`.
    async fn load_record_ids(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        ids: &mut record_ids::RecordIds,
        model_id: i64,
    ) -> Result<()> {
        if ids.is_loaded(model_id) {
            return Ok(());
        }
        ids.lock_file()?;
        let started = std::time::Instant::now();
        let count: i64 = sqlx::query_scalar("SELECT record_count FROM models WHERE id = $1")
            .bind(model_id)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or(0);
        let mut set = record_ids::FingerprintSet::with_capacity_and_hasher(
            count as usize,
            Default::default(),
        );
        let stored: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT fingerprints FROM record_fingerprints WHERE model_id = $1")
                .bind(model_id)
                .fetch_all(&mut **tx)
                .await?;
        for bytes in &stored {
            set.extend(record_ids::decode(bytes)?);
        }
        drop(stored);
        let unprinted: Vec<i64> = sqlx::query_scalar(
            "SELECT first_offset FROM record_batches b WHERE model_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM record_fingerprints f \
              WHERE f.model_id = b.model_id AND f.first_offset = b.first_offset) \
             ORDER BY first_offset",
        )
        .bind(model_id)
        .fetch_all(&mut **tx)
        .await?;
        for &first_offset in &unprinted {
            let data: Vec<u8> = sqlx::query_scalar(
                "SELECT data FROM record_batches WHERE model_id = $1 AND first_offset = $2",
            )
            .bind(model_id)
            .bind(first_offset)
            .fetch_one(&mut **tx)
            .await?;
            let fingerprints = record_ids::fingerprints(&RecordBatch::decode_ids(&data)?);
            insert_fingerprints(tx, model_id, first_offset, &fingerprints).await?;
            set.extend(fingerprints);
        }
        tracing::info!(
            model_id,
            records = set.len(),
            backfilled_batches = unprinted.len(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "record ids loaded"
        );
        ids.insert_model(model_id, set);
        Ok(())
    }

    /// Stores `ids` at offsets `first_offset..`, skipping any the model already has; returns
    /// how many were stored. All ids go in one statement, as a JSON array the database
    /// unpacks: binding thousands of parameters one by one costs far more than the insert.
    async fn insert_record_ids(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
        first_offset: i64,
        ids: &[String],
    ) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let sql = match self.backend {
            Backend::Sqlite => {
                "INSERT INTO record_ids (model_id, record_id, record_offset) \
                 SELECT $1, value, $2 + key FROM json_each($3) WHERE true \
                 ON CONFLICT DO NOTHING"
            }
            Backend::Postgres => {
                "INSERT INTO record_ids (model_id, record_id, record_offset) \
                 SELECT $1, e.value, $2 + e.ord - 1 \
                 FROM json_array_elements_text($3::json) WITH ORDINALITY AS e(value, ord) \
                 ON CONFLICT DO NOTHING"
            }
        };
        let done = sqlx::query(sql)
            .bind(model_id)
            .bind(first_offset)
            .bind(serde_json::to_string(ids).expect("strings serialise"))
            .execute(&mut **tx)
            .await?;
        Ok(done.rows_affected())
    }

    /// Which of `ids` the model already has. The ids go in as one JSON array the database
    /// unpacks, and `IN (subquery)` makes SQLite probe the primary key once per id (a join
    /// may let its planner scan the whole table instead).
    async fn stored_ids(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
        ids: &[String],
    ) -> Result<Vec<String>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT record_id FROM record_ids WHERE model_id = $1 \
                 AND record_id IN (SELECT value FROM json_each($2))"
            }
            Backend::Postgres => {
                "SELECT record_id FROM record_ids WHERE model_id = $1 \
                 AND record_id IN (SELECT json_array_elements_text($2::json))"
            }
        };
        Ok(sqlx::query_scalar(sql)
            .bind(model_id)
            .bind(serde_json::to_string(ids).expect("strings serialise"))
            .fetch_all(&mut **tx)
            .await?)
    }

    /// Positions in `ids` of records to store: not stored before, first of their repeats.
    async fn new_record_positions(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
        ids: &[String],
    ) -> Result<Vec<usize>> {
        let stored = self.stored_ids(tx, model_id, ids).await?;
        let mut seen: std::collections::HashSet<&str> = stored.iter().map(String::as_str).collect();
        let mut keep = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if seen.insert(id.as_str()) {
                keep.push(i);
            }
        }
        Ok(keep)
    }

    /// Records stored for the model so far: the offset the next record will get.
    pub async fn record_count(&self, model_id: i64) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT record_count FROM models WHERE id = $1")
                .bind(model_id)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(0),
        )
    }

    /// The model's records at stream offsets `start..end`, in order.
    pub async fn read_records(&self, model_id: i64, start: i64, end: i64) -> Result<RecordBatch> {
        // An empty or inverted range holds nothing (and would slice a batch backwards).
        if start >= end {
            return Ok(RecordBatch::default());
        }
        let rows = sqlx::query(
            "SELECT first_offset, row_count, data FROM record_batches WHERE model_id = $1 \
             AND first_offset < $2 AND first_offset + row_count > $3 ORDER BY first_offset",
        )
        .bind(model_id)
        .bind(end)
        .bind(start)
        .fetch_all(&self.pool)
        .await?;
        let mut out = RecordBatch::default();
        for row in &rows {
            let first: i64 = row.try_get("first_offset")?;
            let data: Vec<u8> = row.try_get("data")?;
            let batch = RecordBatch::decode(&data)?;
            let from = (start - first).max(0) as usize;
            let to = ((end - first) as usize).min(batch.len());
            if from == 0 && to == batch.len() {
                out.append(&batch);
            } else {
                out.append(&batch.slice(from..to));
            }
        }
        Ok(out)
    }

    /// Stores labels by record id (a later label for the same record replaces the earlier).
    pub async fn upsert_labels(
        &self,
        model_id: i64,
        labels: &[(String, LabelValue)],
    ) -> Result<LabelOutcome> {
        // One row per record, with the last label given for it: Postgres refuses an upsert
        // that touches the same row twice in one statement, and a record is counted once.
        let mut last = std::collections::HashMap::with_capacity(labels.len());
        for (i, (id, _)) in labels.iter().enumerate() {
            last.insert(id.as_str(), i);
        }
        let unique: Vec<&(String, LabelValue)> = labels
            .iter()
            .enumerate()
            .filter(|(i, (id, _))| last[id.as_str()] == *i)
            .map(|(_, label)| label)
            .collect();
        // On SQLite the record-id set is taken before the write transaction (see `record_ids`).
        let mut sqlite_ids = match self.backend {
            Backend::Sqlite => Some(self.record_ids.lock().await),
            Backend::Postgres => None,
        };
        let mut tx = self.begin().await?;
        if let Some(ids) = sqlite_ids.as_deref_mut() {
            self.load_record_ids(&mut tx, ids, model_id).await?;
        }
        let now = now_ms();
        let mut matched = 0;
        for chunk in unique.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO labels (model_id, record_id, value_number, value_text, received_at) \
                 VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                let p = 3 * i + 3;
                sql.push_str(&format!("($1, ${}, ${}, ${}, $2)", p, p + 1, p + 2));
            }
            sql.push_str(
                " ON CONFLICT (model_id, record_id) DO UPDATE SET \
                 value_number = excluded.value_number, value_text = excluded.value_text, \
                 received_at = excluded.received_at",
            );
            let mut query = sqlx::query(&sql).bind(model_id).bind(now);
            for (id, value) in chunk {
                let (number, text) = match value {
                    LabelValue::Number(n) => (Some(*n), None),
                    LabelValue::Text(t) => (None, Some(t.as_str())),
                };
                query = query.bind(id.as_str()).bind(number).bind(text);
            }
            query.execute(&mut **tx).await?;

            matched += match sqlite_ids.as_deref_mut() {
                Some(ids) => chunk
                    .iter()
                    .filter(|(id, _)| ids.contains(model_id, id))
                    .count(),
                None => {
                    let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
                    self.stored_ids(&mut tx, model_id, &ids).await?.len()
                }
            };
        }
        tx.commit().await?;
        Ok(LabelOutcome {
            stored: labels.len(),
            matched,
        })
    }

    /// Labels of the records at offsets `start..end`, as (offset, label).
    pub async fn labels_in_range(
        &self,
        model_id: i64,
        start: i64,
        end: i64,
    ) -> Result<Vec<(i64, LabelValue)>> {
        let records = self.read_records(model_id, start, end).await?;
        self.labels_of(model_id, start, &records.ids).await
    }

    /// Labels of the records `ids`, stored from offset `first_offset` on (as read by
    /// [`Store::read_records`]), as (offset, label) in offset order.
    pub async fn labels_of(
        &self,
        model_id: i64,
        first_offset: i64,
        ids: &[String],
    ) -> Result<Vec<(i64, LabelValue)>> {
        let any_labels: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM labels WHERE model_id = $1 LIMIT 1")
                .bind(model_id)
                .fetch_optional(&self.pool)
                .await?;
        if ids.is_empty() || any_labels.is_none() {
            return Ok(Vec::new());
        }
        // The ids drive the join, one primary-key probe each: `IN (subquery)` would make
        // SQLite build a temporary index of them first (130 ms for 100k), and a join from
        // the labels side would read every label the model has.
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT j.key AS position, l.value_number, l.value_text \
                 FROM json_each($2) AS j CROSS JOIN labels AS l \
                 WHERE l.model_id = $1 AND l.record_id = j.value ORDER BY j.key"
            }
            Backend::Postgres => {
                "SELECT e.ord - 1 AS position, l.value_number, l.value_text \
                 FROM json_array_elements_text($2::json) WITH ORDINALITY AS e(value, ord) \
                 JOIN labels AS l ON l.model_id = $1 AND l.record_id = e.value ORDER BY e.ord"
            }
        };
        let rows = sqlx::query(sql)
            .bind(model_id)
            .bind(serde_json::to_string(ids).expect("strings serialise"))
            .fetch_all(&self.pool)
            .await?;
        // Stored ids are unique per model, so each label lands on one offset.
        rows.iter()
            .map(|row| {
                let position: i64 = row.try_get("position")?;
                let number: Option<f64> = row.try_get("value_number")?;
                let text: Option<String> = row.try_get("value_text")?;
                let value = match (number, text) {
                    (Some(n), _) => LabelValue::Number(n),
                    (None, Some(t)) => LabelValue::Text(t),
                    (None, None) => return Err(Error::Corrupt("label without a value".into())),
                };
                Ok((first_offset + position, value))
            })
            .collect()
    }

    // ---- monitoring state and evaluations ----

    pub async fn monitor_state(&self, monitor_id: i64) -> Result<Option<MonitorState>> {
        let row = sqlx::query(
            "SELECT next_offset, last_closed_at, state FROM monitor_state WHERE monitor_id = $1",
        )
        .bind(monitor_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(MonitorState {
                next_offset: row.try_get("next_offset")?,
                last_closed_at: row.try_get("last_closed_at")?,
                state: row.try_get("state")?,
            })
        })
        .transpose()
    }

    /// Replaces the carried state without moving the window (e.g. quarantine bookkeeping).
    pub async fn save_monitor_state(&self, monitor_id: i64, state: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE monitor_state SET state = $1 WHERE monitor_id = $2")
            .bind(state)
            .bind(monitor_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores an evaluation, the alerts it fires (as `pending` deliveries) and the monitor's
    /// move past its window in one transaction, so a crash keeps all or none of them: a window
    /// is re-run, never skipped, and an alert is never lost between the evaluation's commit
    /// and its delivery ([`Store::pending_alerts`] finds it again). Returns the evaluation's
    /// id and the alerts' ids, in order. Fails with a [`Error::Conflict`] when the window was
    /// already evaluated (by another replica).
    pub async fn record_evaluation(
        &self,
        evaluation: &NewEvaluation<'_>,
        next: &MonitorState,
        alerts: &[NewAlert<'_>],
    ) -> Result<(i64, Vec<i64>)> {
        let mut tx = self.begin().await?;
        let moved = sqlx::query(
            "UPDATE monitor_state SET next_offset = $1, last_closed_at = $2, state = $3 \
             WHERE monitor_id = $4 AND next_offset = $5",
        )
        .bind(next.next_offset)
        .bind(next.last_closed_at)
        .bind(&next.state)
        .bind(evaluation.monitor_id)
        .bind(evaluation.window_start)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Err(Error::Conflict(format!(
                "window at offset {} was already evaluated",
                evaluation.window_start
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO evaluations (monitor_id, window_start, window_end, started_at, \
             finished_at, status, action, reason, result) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(evaluation.monitor_id)
        .bind(evaluation.window_start)
        .bind(evaluation.window_end)
        .bind(evaluation.started_at)
        .bind(evaluation.finished_at)
        .bind(evaluation.status)
        .bind(evaluation.action)
        .bind(evaluation.reason)
        .bind(evaluation.result)
        .fetch_one(&mut **tx)
        .await?;
        let mut alert_ids = Vec::with_capacity(alerts.len());
        for alert in alerts {
            alert_ids.push(
                sqlx::query_scalar(
                    "INSERT INTO alerts (monitor_id, evaluation_id, cause, message, created_at, \
                     delivery) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(evaluation.monitor_id)
                .bind(id)
                .bind(alert.cause)
                .bind(alert.message)
                .bind(evaluation.finished_at)
                .bind(PENDING_DELIVERY)
                .fetch_one(&mut **tx)
                .await?,
            );
        }
        tx.commit().await?;
        Ok((id, alert_ids))
    }

    const EVALUATION_COLUMNS: &str = "id, monitor_id, window_start, window_end, started_at, \
                                      finished_at, status, action, reason, result";

    /// A page of a monitor's evaluations, newest first.
    pub async fn evaluations(&self, query: &EvaluationQuery) -> Result<Vec<Evaluation>> {
        let sql = format!(
            "SELECT {} FROM evaluations WHERE monitor_id = $1 AND finished_at >= $2 \
             AND finished_at < $3 AND id < $4 ORDER BY id DESC LIMIT $5",
            Self::EVALUATION_COLUMNS
        );
        let rows = sqlx::query(&sql)
            .bind(query.monitor_id)
            .bind(query.since.unwrap_or(i64::MIN))
            .bind(query.until.unwrap_or(i64::MAX))
            .bind(query.before_id.unwrap_or(i64::MAX))
            .bind(query.limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(evaluation).collect()
    }

    pub async fn evaluation(&self, id: i64) -> Result<Option<Evaluation>> {
        let sql = format!(
            "SELECT {} FROM evaluations WHERE id = $1",
            Self::EVALUATION_COLUMNS
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(evaluation).transpose()
    }

    /// The newest evaluation of every monitor that has one.
    pub async fn latest_evaluations(&self) -> Result<Vec<Evaluation>> {
        let sql = format!(
            "SELECT {} FROM evaluations WHERE id IN \
             (SELECT MAX(id) FROM evaluations GROUP BY monitor_id) ORDER BY monitor_id",
            Self::EVALUATION_COLUMNS
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(evaluation).collect()
    }

    // ---- alerts ----

    /// Alerts recorded but not yet delivered (oldest first): left by a crash or a shutdown
    /// between an evaluation's commit and the end of its alert's delivery.
    pub async fn pending_alerts(&self) -> Result<Vec<Alert>> {
        let rows = sqlx::query(
            "SELECT id, monitor_id, evaluation_id, cause, message, created_at, delivery \
             FROM alerts WHERE delivery = $1 ORDER BY id",
        )
        .bind(PENDING_DELIVERY)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert).collect()
    }

    pub async fn insert_alert(
        &self,
        monitor_id: i64,
        evaluation_id: Option<i64>,
        cause: &str,
        message: &str,
        delivery: &str,
    ) -> Result<i64> {
        let _turn = self.write_turn().await;
        Ok(sqlx::query_scalar(
            "INSERT INTO alerts (monitor_id, evaluation_id, cause, message, created_at, delivery) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(monitor_id)
        .bind(evaluation_id)
        .bind(cause)
        .bind(message)
        .bind(now_ms())
        .bind(delivery)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn set_alert_delivery(&self, id: i64, delivery: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE alerts SET delivery = $1 WHERE id = $2")
            .bind(delivery)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Alerts newest first, of one monitor or of all.
    pub async fn alerts(
        &self,
        monitor_id: Option<i64>,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Alert>> {
        let rows = sqlx::query(
            "SELECT id, monitor_id, evaluation_id, cause, message, created_at, delivery \
             FROM alerts WHERE ($1 < 0 OR monitor_id = $1) AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(monitor_id.unwrap_or(-1))
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert).collect()
    }
}

fn alert(row: &AnyRow) -> Result<Alert> {
    Ok(Alert {
        id: row.try_get("id")?,
        monitor_id: row.try_get("monitor_id")?,
        evaluation_id: row.try_get("evaluation_id")?,
        cause: row.try_get("cause")?,
        message: row.try_get("message")?,
        created_at: row.try_get("created_at")?,
        delivery: row.try_get("delivery")?,
    })
}

/// Stores the fingerprints of the batch at `first_offset` (see `record_ids`).
async fn insert_fingerprints(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model_id: i64,
    first_offset: i64,
    fingerprints: &[record_ids::Fingerprint],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO record_fingerprints (model_id, first_offset, fingerprints) \
         VALUES ($1, $2, $3)",
    )
    .bind(model_id)
    .bind(first_offset)
    .bind(record_ids::encode(fingerprints.iter().copied()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_monitor_plugins(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    monitor_id: i64,
    plugins: &[(String, String)],
) -> Result<()> {
    for (name, version) in plugins {
        sqlx::query(
            "INSERT INTO monitor_plugins (monitor_id, name, version) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(monitor_id)
        .bind(name.as_str())
        .bind(version.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn check_sqlite_settings(journal: &str, synchronous: i64, foreign_keys: i64) -> Result<()> {
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

fn check_postgres_settings(synchronous_commit: &str, fsync: &str) -> Result<()> {
    if !matches!(synchronous_commit, "on" | "remote_apply" | "remote_write") {
        return Err(Error::UnsafeSettings(format!(
            "Postgres synchronous_commit is `{synchronous_commit}`, expected `on`"
        )));
    }
    if fsync != "on" {
        return Err(Error::UnsafeSettings(format!(
            "Postgres fsync is `{fsync}`, expected `on`"
        )));
    }
    Ok(())
}

fn parse_json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("stored JSON: {e}")))
}

fn plugin_meta(row: &AnyRow) -> Result<PluginMeta> {
    Ok(PluginMeta {
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        kind: row.try_get("kind")?,
        sha256: row.try_get("sha256")?,
        size: row.try_get("size")?,
        info: parse_json(&row.try_get::<String, _>("info")?)?,
        uploaded_by: row.try_get("uploaded_by")?,
        uploaded_at: row.try_get("uploaded_at")?,
    })
}

fn model(row: &AnyRow) -> Result<Model> {
    Ok(Model {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        task: row.try_get("task")?,
        description: row.try_get("description")?,
        serving_version: row.try_get("serving_version")?,
        created_at: row.try_get("created_at")?,
        record_count: row.try_get("record_count")?,
    })
}

fn monitor(row: &AnyRow) -> Result<Monitor> {
    Ok(Monitor {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        model_id: row.try_get("model_id")?,
        spec: row.try_get("spec")?,
        revision: row.try_get("revision")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn evaluation(row: &AnyRow) -> Result<Evaluation> {
    Ok(Evaluation {
        id: row.try_get("id")?,
        monitor_id: row.try_get("monitor_id")?,
        window_start: row.try_get("window_start")?,
        window_end: row.try_get("window_end")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        status: row.try_get("status")?,
        action: row.try_get("action")?,
        reason: row.try_get("reason")?,
        result: parse_json(&row.try_get::<String, _>("result")?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_settings_are_refused() {
        assert!(check_sqlite_settings("wal", 2, 1).is_ok());
        assert!(check_sqlite_settings("WAL", 3, 1).is_ok());
        assert!(check_sqlite_settings("delete", 2, 1).is_err());
        assert!(check_sqlite_settings("wal", 1, 1).is_err());
        assert!(check_sqlite_settings("wal", 0, 1).is_err());
        assert!(check_sqlite_settings("wal", 2, 0).is_err());
        assert!(check_postgres_settings("on", "on").is_ok());
        assert!(check_postgres_settings("remote_apply", "on").is_ok());
        assert!(check_postgres_settings("off", "on").is_err());
        assert!(check_postgres_settings("local", "on").is_err());
        assert!(check_postgres_settings("on", "off").is_err());
    }
}
