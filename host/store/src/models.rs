//! The `models` and `model_versions` tables. A model's `record_count` is its stream position;
//! the records themselves are in [`crate::records`].

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Error, Result, Store, now_ms, parse_json};

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

impl Store {
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
