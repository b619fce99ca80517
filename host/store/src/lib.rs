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
//!
//! Layout: one module per table group (`tokens`, `plugins`, `models`, `monitors`, `records`,
//! `labels`, `evaluations`, `shadows`, `alerts`, `actions`, `leases`) holds its rows' types and its
//! [`Store`] methods, so a table's SQL is in one place. What only one backend has — SQLite's
//! writer queue, group commit, in-memory record ids, ingestion lock, pragmas and checkpoints;
//! Postgres's `record_ids` table — lives in `sqlite/` and `postgres.rs`, and `backend.rs` is
//! where shared code reaches it, one match per operation.

mod actions;
mod alerts;
mod backend;
mod batch;
mod error;
mod evaluations;
mod labels;
mod leases;
mod models;
mod monitors;
mod plugins;
mod pool;
mod postgres;
mod records;
mod shadows;
mod sqlite;
mod store;
mod tokens;

pub use actions::{Action, ActionState, NewAction, action_key};
pub use alerts::{Alert, NewAlert, PENDING_DELIVERY};
pub use backend::Backend;
pub use batch::{Column, ColumnData, MISSING_CODE, RecordBatch};
pub use error::{Error, Result};
pub use evaluations::{Evaluation, EvaluationQuery, NewEvaluation};
pub use labels::{LabelOutcome, LabelValue};
pub use leases::{Fence, Lease};
pub use models::{
    Model, ModelVersion, NewVersion, Promotion, Registration, TrainingWindow, VersionStatus,
};
pub use monitors::{Monitor, MonitorState, NewMonitor};
pub use plugins::{NewPlugin, PluginInsert, PluginMeta, StoredComponent};
pub use records::{IdempotencyKey, IngestOutcome, PruneOutcome};
pub use shadows::{
    NewShadow, SHADOW_DROPPED, SHADOW_PROMOTED, SHADOW_RUNNING, Shadow, ShadowWindow,
    ShadowWindowInsert,
};
pub use sqlite::WAL_LIMIT_BYTES;
pub use sqlite::record_ids::RecordIdsInMemory;
pub use store::Store;
pub use tokens::{NewRunToken, RunScope, TRAIN_ROLE, Token};

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn parse_json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("stored JSON: {e}")))
}
