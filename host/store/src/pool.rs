//! What both backends build on: the pool's settings, the migrations, and the write
//! transaction every write runs in.

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::{Error, Result};

/// A write transaction, holding this process's turn to write on SQLite. Dropped without
/// [`WriteTx::commit`], it rolls back.
pub(crate) struct WriteTx {
    // Declared first so that it is dropped, and rolled back, before the turn is handed on.
    pub(crate) tx: sqlx::Transaction<'static, sqlx::Any>,
    pub(crate) _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> std::result::Result<(), sqlx::Error> {
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

/// Pool settings both backends share: a connection is waited for 5 s at most.
pub(crate) fn options(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
}

/// Runs a backend's migrations (the folders under `migrations/`).
pub(crate) async fn migrate(pool: &AnyPool, migrator: sqlx::migrate::Migrator) -> Result<()> {
    migrator
        .run(pool)
        .await
        .map_err(|e| Error::Database(e.into()))
}
