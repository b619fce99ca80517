//! The `evaluations` table: every window evaluated, with its result. An evaluation is
//! stored together with its alerts and the monitor's move past its window.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::actions::action_key;
use crate::leases::check_fence;
use crate::{
    Error, Fence, MonitorState, NewAction, NewAlert, PENDING_DELIVERY, Result, Store, now_ms,
    parse_json,
};

#[derive(Clone, Debug, Default)]
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
    /// What the decision sets in motion besides its alerts' deliveries (a retraining), stored
    /// as pending actions.
    pub actions: &'a [NewAction<'a>],
}

#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
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

impl Store {
    /// Stores an evaluation, the alerts it fires (as `pending` deliveries), its actions (one
    /// `alert` action per alert, then the evaluation's own) and the monitor's move past its
    /// window in one transaction, so a crash keeps all or none of them: a window is re-run,
    /// never skipped, and an action is never lost between the evaluation's commit and its
    /// run ([`Store::unfinished_actions`] finds it again). Returns the evaluation's id and the
    /// alerts' ids, in order. Fails with a [`Error::Conflict`] when the window was
    /// already evaluated (by another replica).
    pub async fn record_evaluation(
        &self,
        evaluation: &NewEvaluation<'_>,
        next: &MonitorState,
        alerts: &[NewAlert<'_>],
    ) -> Result<(i64, Vec<i64>)> {
        self.record_evaluation_fenced(evaluation, next, alerts, None)
            .await
    }

    /// [`Store::record_evaluation`], by the holder of a lease: with a `fence`, nothing is
    /// stored and the answer is [`Error::LeaseLost`] unless the fence's holder still holds its
    /// lease at its epoch when the transaction begins; the lease then stays with it until the
    /// transaction commits (see `leases.rs`). Without one, the same as `record_evaluation`.
    pub async fn record_evaluation_fenced(
        &self,
        evaluation: &NewEvaluation<'_>,
        next: &MonitorState,
        alerts: &[NewAlert<'_>],
        fence: Option<&Fence>,
    ) -> Result<(i64, Vec<i64>)> {
        let mut tx = self.begin().await?;
        if let Some(fence) = fence {
            check_fence(&mut tx, self.backend(), fence).await?;
        }
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
        let alert_actions = alerts.iter().zip(&alert_ids).map(|(alert, id)| NewAction {
            kind: "alert",
            detail: alert.cause,
            input: serde_json::json!({ "alert_id": id }),
        });
        let now = now_ms();
        for new in alert_actions.chain(evaluation.actions.iter().cloned()) {
            let key = action_key(
                evaluation.monitor_id,
                evaluation.window_start,
                new.kind,
                new.detail,
            );
            sqlx::query(
                "INSERT INTO actions (monitor_id, evaluation_id, kind, key, state, input, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6)",
            )
            .bind(evaluation.monitor_id)
            .bind(id)
            .bind(new.kind)
            .bind(key)
            .bind(new.input.to_string())
            .bind(now)
            .execute(&mut **tx)
            .await?;
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
