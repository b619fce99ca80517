//! The `shadows` and `shadow_windows` tables: candidate plugin versions run beside a monitor's
//! pinned ones on the same windows, and what each of them found window by window.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Error, Result, Store, now_ms, parse_json};

/// A shadow that is still evaluating windows.
pub const SHADOW_RUNNING: &str = "running";
/// A shadow whose candidate the monitor now pins.
pub const SHADOW_PROMOTED: &str = "promoted";
/// A shadow stopped without a change to the monitor.
pub const SHADOW_DROPPED: &str = "dropped";

#[derive(Clone, Debug)]
pub struct NewShadow<'a> {
    pub monitor_id: i64,
    pub plugin_name: &'a str,
    pub plugin_version: &'a str,
    /// The plugin name whose references in the monitor's spec the candidate stands in for.
    pub replaces: &'a str,
    /// The candidate's settings (JSON), when not those of the references it replaces.
    pub config: Option<&'a str>,
    pub created_by: Option<&'a str>,
}

#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Shadow {
    pub id: i64,
    pub monitor_id: i64,
    /// The candidate, `name@version`.
    pub plugin: String,
    /// The plugin (by name) whose references the candidate stands in for.
    pub replaces: String,
    /// The candidate's settings, when not those of the references it replaces.
    pub config: Option<serde_json::Value>,
    /// `running`, `promoted` or `dropped`.
    pub status: String,
    /// The token that started it.
    pub created_by: Option<String>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    /// The monitor's revision that pinned the candidate, when promoted.
    pub promoted_revision: Option<i64>,
    /// The monitor's windows it did not evaluate: it was too far behind them.
    pub skipped_windows: i64,
    /// The daemon's running summary of its windows (JSON); `None` for a shadow that began
    /// before summaries were stored.
    #[serde(skip)]
    pub summary: Option<String>,
    /// What the shadow carries between windows, as the daemon wrote it.
    #[serde(skip)]
    pub state: String,
}

impl Shadow {
    /// The candidate's name and version.
    pub fn parts(&self) -> (&str, &str) {
        self.plugin.split_once('@').unwrap_or((&self.plugin, ""))
    }
}

/// One window a shadow evaluated, with the monitor's own evaluation of it.
#[derive(Clone, Debug)]
pub struct ShadowWindow {
    pub window_start: i64,
    pub window_end: i64,
    pub evaluation_id: i64,
    /// The shadow's evaluation record.
    pub shadow: serde_json::Value,
    /// The monitor's evaluation record of the window; `None` once retention removed it.
    pub pinned: Option<serde_json::Value>,
}

const SHADOW_COLUMNS: &str = "id, monitor_id, plugin_name, plugin_version, replaces, config, \
                              status, state, created_by, created_at, ended_at, promoted_revision, \
                              skipped_windows, summary";

impl Store {
    /// Starts a shadow; a [`Error::Conflict`] while the monitor has a running one for the same
    /// plugin name.
    pub async fn create_shadow(&self, shadow: &NewShadow<'_>) -> Result<Shadow> {
        let mut tx = self.begin().await?;
        let running: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM shadows WHERE monitor_id = $1 AND replaces = $2 AND status = $3",
        )
        .bind(shadow.monitor_id)
        .bind(shadow.replaces)
        .bind(SHADOW_RUNNING)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(id) = running {
            return Err(Error::Conflict(format!(
                "shadow {id} already runs a candidate for {} on this monitor; promote or drop \
                 it first",
                shadow.replaces
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO shadows (monitor_id, plugin_name, plugin_version, replaces, config, \
             status, state, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, '{}', $7, $8) RETURNING id",
        )
        .bind(shadow.monitor_id)
        .bind(shadow.plugin_name)
        .bind(shadow.plugin_version)
        .bind(shadow.replaces)
        .bind(shadow.config)
        .bind(SHADOW_RUNNING)
        .bind(shadow.created_by)
        .bind(now_ms())
        .fetch_one(&mut **tx)
        .await?;
        tx.commit().await?;
        self.shadow(shadow.monitor_id, id)
            .await?
            .ok_or_else(|| Error::Corrupt(format!("shadow {id} vanished as it was created")))
    }

    /// The monitor's shadows, newest first.
    pub async fn shadows(&self, monitor_id: i64) -> Result<Vec<Shadow>> {
        let sql =
            format!("SELECT {SHADOW_COLUMNS} FROM shadows WHERE monitor_id = $1 ORDER BY id DESC");
        let rows = sqlx::query(&sql)
            .bind(monitor_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(shadow).collect()
    }

    /// The monitor's running shadows, oldest first.
    pub async fn running_shadows(&self, monitor_id: i64) -> Result<Vec<Shadow>> {
        let sql = format!(
            "SELECT {SHADOW_COLUMNS} FROM shadows WHERE monitor_id = $1 AND status = $2 \
             ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(monitor_id)
            .bind(SHADOW_RUNNING)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(shadow).collect()
    }

    pub async fn shadow(&self, monitor_id: i64, id: i64) -> Result<Option<Shadow>> {
        let sql = format!("SELECT {SHADOW_COLUMNS} FROM shadows WHERE id = $1 AND monitor_id = $2");
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(monitor_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(shadow).transpose()
    }

    /// Stores what a running shadow found on a window, what it carries on with and its summary
    /// with the window counted, in one transaction. `false` (nothing stored) when the shadow has ended meanwhile, or already
    /// has the window.
    pub async fn record_shadow_window(
        &self,
        shadow_id: i64,
        window: &ShadowWindowInsert<'_>,
        state: &str,
        summary: &str,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE shadows SET state = $1, summary = $2 WHERE id = $3 AND status = $4",
        )
        .bind(state)
        .bind(summary)
        .bind(shadow_id)
        .bind(SHADOW_RUNNING)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO shadow_windows (shadow_id, window_start, window_end, evaluation_id, \
             result) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(shadow_id)
        .bind(window.window_start)
        .bind(window.window_end)
        .bind(window.evaluation_id)
        .bind(window.result)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted != 1 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A shadow's windows, newest first, each with the monitor's own evaluation of it:
    /// `limit` of them, starting before the window at `before_start` when given.
    pub async fn shadow_windows(
        &self,
        shadow_id: i64,
        before_start: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ShadowWindow>> {
        let rows = sqlx::query(
            "SELECT w.window_start, w.window_end, w.evaluation_id, w.result AS shadow, \
             e.result AS pinned FROM shadow_windows w \
             LEFT JOIN evaluations e ON e.id = w.evaluation_id \
             WHERE w.shadow_id = $1 AND w.window_start < $2 \
             ORDER BY w.window_start DESC LIMIT $3",
        )
        .bind(shadow_id)
        .bind(before_start.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ShadowWindow {
                    window_start: row.try_get("window_start")?,
                    window_end: row.try_get("window_end")?,
                    evaluation_id: row.try_get("evaluation_id")?,
                    shadow: parse_json(&row.try_get::<String, _>("shadow")?)?,
                    pinned: row
                        .try_get::<Option<String>, _>("pinned")?
                        .map(|text| parse_json(&text))
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Counts a window of the monitor that its running shadows did not evaluate.
    pub async fn skip_shadow_window(&self, monitor_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE shadows SET skipped_windows = skipped_windows + 1 \
             WHERE monitor_id = $1 AND status = $2",
        )
        .bind(monitor_id)
        .bind(SHADOW_RUNNING)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a running shadow without changing the monitor; `false` when it was not running.
    pub async fn drop_shadow(&self, shadow_id: i64) -> Result<bool> {
        let _turn = self.write_turn().await;
        let ended = sqlx::query(
            "UPDATE shadows SET status = $1, ended_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(SHADOW_DROPPED)
        .bind(now_ms())
        .bind(shadow_id)
        .bind(SHADOW_RUNNING)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(ended == 1)
    }

    /// Promotes a running shadow: the monitor's spec is replaced by `spec` (the candidate
    /// pinned, the monitor's revision counted up) and the shadow ends as `promoted`, in one
    /// transaction. A [`Error::Conflict`] when the shadow is no longer running, or the monitor
    /// changed since `revision` (its spec was read to build `spec`).
    pub async fn promote_shadow(
        &self,
        shadow_id: i64,
        monitor_id: i64,
        revision: i64,
        spec: &str,
        plugins: &[(String, String)],
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let updated = sqlx::query(
            "UPDATE monitors SET spec = $1, revision = revision + 1, updated_at = $2 \
             WHERE id = $3 AND revision = $4",
        )
        .bind(spec)
        .bind(now)
        .bind(monitor_id)
        .bind(revision)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Err(Error::Conflict(
                "the monitor changed while the shadow was being promoted; try again".into(),
            ));
        }
        crate::monitors::replace_monitor_plugins(&mut tx, monitor_id, plugins).await?;
        let ended = sqlx::query(
            "UPDATE shadows SET status = $1, ended_at = $2, promoted_revision = $3 \
             WHERE id = $4 AND monitor_id = $5 AND status = $6",
        )
        .bind(SHADOW_PROMOTED)
        .bind(now)
        .bind(revision + 1)
        .bind(shadow_id)
        .bind(monitor_id)
        .bind(SHADOW_RUNNING)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if ended != 1 {
            return Err(Error::Conflict(format!(
                "shadow {shadow_id} is not running"
            )));
        }
        tx.commit().await?;
        Ok(revision + 1)
    }
}

/// A window a shadow evaluated, to store.
#[derive(Clone, Debug)]
pub struct ShadowWindowInsert<'a> {
    pub window_start: i64,
    pub window_end: i64,
    pub evaluation_id: i64,
    /// The shadow's evaluation record, as JSON.
    pub result: &'a str,
}

fn shadow(row: &AnyRow) -> Result<Shadow> {
    let name: String = row.try_get("plugin_name")?;
    let version: String = row.try_get("plugin_version")?;
    Ok(Shadow {
        id: row.try_get("id")?,
        monitor_id: row.try_get("monitor_id")?,
        plugin: format!("{name}@{version}"),
        replaces: row.try_get("replaces")?,
        config: row
            .try_get::<Option<String>, _>("config")?
            .map(|text| parse_json(&text))
            .transpose()?,
        status: row.try_get("status")?,
        state: row.try_get("state")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        ended_at: row.try_get("ended_at")?,
        promoted_revision: row.try_get("promoted_revision")?,
        skipped_windows: row.try_get("skipped_windows")?,
        summary: row.try_get("summary")?,
    })
}
