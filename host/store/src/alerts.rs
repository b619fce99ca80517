//! The `alerts` table: alerts raised, and how far their delivery got.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, now_ms};

/// An alert an evaluation fires, stored with it.
#[derive(Clone, Debug)]
pub struct NewAlert<'a> {
    pub cause: &'a str,
    pub message: &'a str,
}

/// The `delivery` of an alert that has not been delivered yet.
pub const PENDING_DELIVERY: &str = "pending";

#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Alert {
    pub id: i64,
    pub monitor_id: i64,
    pub evaluation_id: Option<i64>,
    pub cause: String,
    pub message: String,
    pub created_at: i64,
    pub delivery: String,
}

impl Store {
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

    pub async fn alert(&self, id: i64) -> Result<Option<Alert>> {
        let row = sqlx::query(
            "SELECT id, monitor_id, evaluation_id, cause, message, created_at, delivery \
             FROM alerts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(alert).transpose()
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

    /// One monitor's alerts raised by its evaluations `first..=last`, oldest first.
    pub async fn alerts_of_evaluations(
        &self,
        monitor_id: i64,
        first: i64,
        last: i64,
    ) -> Result<Vec<Alert>> {
        let rows = sqlx::query(
            "SELECT id, monitor_id, evaluation_id, cause, message, created_at, delivery \
             FROM alerts WHERE monitor_id = $1 AND evaluation_id >= $2 AND evaluation_id <= $3 \
             ORDER BY id",
        )
        .bind(monitor_id)
        .bind(first)
        .bind(last)
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
