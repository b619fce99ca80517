//! The `monitors`, `monitor_plugins` and `monitor_state` tables: a monitor's spec and
//! reference, the plugin versions it pins, and where its next window starts.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Error, RecordBatch, Result, Store, now_ms};

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

impl Store {
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
        replace_monitor_plugins(&mut tx, id, plugins).await?;
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
            "DELETE FROM shadow_windows WHERE shadow_id IN \
             (SELECT id FROM shadows WHERE monitor_id = $1)",
            "DELETE FROM shadows WHERE monitor_id = $1",
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
}

/// Makes `plugins` the versions the monitor pins.
pub(crate) async fn replace_monitor_plugins(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    monitor_id: i64,
    plugins: &[(String, String)],
) -> Result<()> {
    sqlx::query("DELETE FROM monitor_plugins WHERE monitor_id = $1")
        .bind(monitor_id)
        .execute(&mut **tx)
        .await?;
    insert_monitor_plugins(tx, monitor_id, plugins).await
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
