//! The `models` table and the model registry, `model_versions`. A model's `record_count` is
//! its stream position; the records themselves are in [`crate::records`].
//!
//! A version is registered as a [`VersionStatus::Candidate`], becomes
//! [`VersionStatus::Serving`] when promoted, [`VersionStatus::Retired`] when another version
//! replaces it, and [`VersionStatus::Failed`] when its rollout failed. A model has at most one
//! serving version (a unique index says so), and `models.serving_version` names it: both are
//! changed in one transaction, by [`Store::promote_version`] and [`Store::set_version_status`].

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Error, Result, Store, now_ms, parse_json};

#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Model {
    pub id: i64,
    pub name: String,
    pub task: String,
    pub description: String,
    pub serving_version: Option<String>,
    pub created_at: i64,
    pub record_count: i64,
}

/// Where a version is in its life (see the module's documentation).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum VersionStatus {
    Candidate,
    Serving,
    Retired,
    Failed,
}

impl VersionStatus {
    pub fn name(self) -> &'static str {
        match self {
            VersionStatus::Candidate => "candidate",
            VersionStatus::Serving => "serving",
            VersionStatus::Retired => "retired",
            VersionStatus::Failed => "failed",
        }
    }
}

impl std::str::FromStr for VersionStatus {
    type Err = String;
    fn from_str(name: &str) -> std::result::Result<VersionStatus, String> {
        Ok(match name {
            "candidate" => VersionStatus::Candidate,
            "serving" => VersionStatus::Serving,
            "retired" => VersionStatus::Retired,
            "failed" => VersionStatus::Failed,
            other => {
                return Err(format!(
                    "unknown version status `{other}`; statuses: candidate, serving, retired, \
                     failed"
                ));
            }
        })
    }
}

/// The records a version was trained on: stream offsets `start..end` of its model.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct TrainingWindow {
    pub start: i64,
    pub end: i64,
}

/// A registered version of a model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ModelVersion {
    pub version: String,
    pub status: VersionStatus,
    /// Why it is in its status: the gate's verdict, a rollback's cause, who promoted it.
    pub status_reason: String,
    /// Where the artifact is (a path, `s3://…`, an image); empty for versions registered
    /// before the registry kept one.
    pub artifact_uri: String,
    /// What its training reported, by metric name.
    pub metrics: BTreeMap<String, f64>,
    pub training_window: Option<TrainingWindow>,
    /// The retraining run that registered it.
    pub run_id: Option<String>,
    /// `api` when registered by hand, `run:<run id>` by a retraining run.
    pub created_by: String,
    /// Free-form JSON given at registration.
    pub metadata: serde_json::Value,
    pub created_at: i64,
    /// When its status last changed (Unix ms).
    pub updated_at: i64,
}

/// A version to register (see [`Store::register_version`]).
#[derive(Clone, Debug)]
pub struct NewVersion {
    pub version: String,
    pub artifact_uri: String,
    /// Finite numbers only.
    pub metrics: BTreeMap<String, f64>,
    pub training_window: Option<TrainingWindow>,
    pub run_id: Option<String>,
    /// `api` (the default) or `run:<run id>`.
    pub created_by: String,
    /// A JSON object (`{}` by default).
    pub metadata: serde_json::Value,
}

impl Default for NewVersion {
    fn default() -> NewVersion {
        NewVersion {
            version: String::new(),
            artifact_uri: String::new(),
            metrics: BTreeMap::new(),
            training_window: None,
            run_id: None,
            created_by: "api".into(),
            metadata: serde_json::json!({}),
        }
    }
}

/// What [`Store::register_version`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Registration {
    /// Stored now, as a candidate.
    Created(ModelVersion),
    /// The same run registered this version before (a retried request): the stored version,
    /// unchanged.
    Existing(ModelVersion),
}

impl Registration {
    pub fn version(&self) -> &ModelVersion {
        match self {
            Registration::Created(version) | Registration::Existing(version) => version,
        }
    }
}

/// What [`Store::promote_version`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Promotion {
    /// The version that served before, now retired.
    pub previous: Option<String>,
    /// False when the version was serving already: nothing was written.
    pub changed: bool,
}

const VERSION_COLUMNS: &str = "version, status, status_reason, artifact_uri, metrics, \
                               window_start, window_end, run_id, created_by, metadata, \
                               created_at, updated_at";

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

    /// Registers a version of the model as a candidate. Registering again the version a run
    /// registered, with the same `run_id`, returns the stored one
    /// ([`Registration::Existing`]): a run that retries its request does not fail. Any other
    /// clash (the version exists; the run registered another version) is a
    /// [`Error::Conflict`]; metrics that are not finite or a window that ends before it starts
    /// are [`Error::Invalid`].
    pub async fn register_version(&self, model_id: i64, new: &NewVersion) -> Result<Registration> {
        check_new_version(new)?;
        let metrics = serde_json::to_string(&new.metrics).expect("finite numbers serialise");
        let now = now_ms();
        let _turn = self.write_turn().await;
        // Without a conflict target, any unique index refuses: the version's, or the run's.
        let inserted = sqlx::query(
            "INSERT INTO model_versions (model_id, version, status, status_reason, artifact_uri, \
             metrics, window_start, window_end, run_id, created_by, metadata, created_at, \
             updated_at) VALUES ($1, $2, 'candidate', '', $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT DO NOTHING",
        )
        .bind(model_id)
        .bind(&new.version)
        .bind(&new.artifact_uri)
        .bind(metrics)
        .bind(new.training_window.map(|w| w.start))
        .bind(new.training_window.map(|w| w.end))
        .bind(new.run_id.as_deref())
        .bind(&new.created_by)
        .bind(new.metadata.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            let stored = self.model_version(model_id, &new.version).await?;
            return stored.map(Registration::Created).ok_or_else(|| {
                Error::Conflict(format!("version `{}` was deleted meanwhile", new.version))
            });
        }
        if let Some(stored) = self.model_version(model_id, &new.version).await? {
            return match (&stored.run_id, &new.run_id) {
                (Some(stored_run), Some(run)) if stored_run == run => {
                    Ok(Registration::Existing(stored))
                }
                _ => Err(Error::Conflict(format!(
                    "version `{}` already exists{}",
                    new.version,
                    stored
                        .run_id
                        .map(|run| format!(" (registered by run `{run}`)"))
                        .unwrap_or_default()
                ))),
            };
        }
        let run = new.run_id.as_deref().unwrap_or_default();
        match self.version_of_run(model_id, run).await? {
            Some(other) => Err(Error::Conflict(format!(
                "run `{run}` already registered version `{}`; a run registers one version",
                other.version
            ))),
            None => Err(Error::Conflict(format!(
                "version `{}` clashed with a version registered meanwhile; retry",
                new.version
            ))),
        }
    }

    /// One version of the model.
    pub async fn model_version(
        &self,
        model_id: i64,
        version: &str,
    ) -> Result<Option<ModelVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_id = $1 AND version = $2"
        );
        let row = sqlx::query(&sql)
            .bind(model_id)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(model_version).transpose()
    }

    /// The version the run `run_id` registered, if it did.
    pub async fn version_of_run(
        &self,
        model_id: i64,
        run_id: &str,
    ) -> Result<Option<ModelVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_id = $1 AND run_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(model_id)
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(model_version).transpose()
    }

    /// The model's versions, oldest first.
    pub async fn model_versions(&self, model_id: i64) -> Result<Vec<ModelVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_id = $1 \
             ORDER BY created_at, version"
        );
        let rows = sqlx::query(&sql)
            .bind(model_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(model_version).collect()
    }

    /// Makes `version` the model's serving version, in one transaction: the version serving
    /// before becomes retired (its reason names its successor), this one serving with
    /// `reason`, and `models.serving_version` names it. Promoting the serving version changes
    /// nothing. A version whose rollout failed is refused ([`Error::Conflict`]): to serve it
    /// anyway, first set it back to candidate with [`Store::set_version_status`], so that the
    /// decision is recorded with its reason. An unknown model or version is
    /// [`Error::NotFound`].
    pub async fn promote_version(
        &self,
        model_id: i64,
        version: &str,
        reason: &str,
    ) -> Result<Promotion> {
        let mut tx = self.begin().await?;
        let status = locked_version_status(&mut tx, model_id, version).await?;
        match status {
            VersionStatus::Serving => {
                return Ok(Promotion {
                    previous: None,
                    changed: false,
                });
            }
            VersionStatus::Failed => {
                return Err(Error::Conflict(format!(
                    "version `{version}` failed its rollout; set it back to candidate first \
                     to serve it anyway"
                )));
            }
            VersionStatus::Candidate | VersionStatus::Retired => {}
        }
        let now = now_ms();
        let previous: Vec<String> = sqlx::query_scalar(
            "UPDATE model_versions SET status = 'retired', status_reason = $3, updated_at = $4 \
             WHERE model_id = $1 AND status = 'serving' AND version <> $2 RETURNING version",
        )
        .bind(model_id)
        .bind(version)
        .bind(format!("replaced by `{version}`: {reason}"))
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE model_versions SET status = 'serving', status_reason = $3, updated_at = $4, \
             promotion = (SELECT COALESCE(MAX(promotion), 0) + 1 FROM model_versions \
                          WHERE model_id = $1) \
             WHERE model_id = $1 AND version = $2",
        )
        .bind(model_id)
        .bind(version)
        .bind(reason)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE models SET serving_version = $2 WHERE id = $1")
            .bind(model_id)
            .bind(version)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(Promotion {
            previous: previous.into_iter().next(),
            changed: true,
        })
    }

    /// Sets a version's status and the reason for it: a candidate the gate refused keeps
    /// `candidate` with the gate's verdict; a version whose rollout failed becomes `failed`.
    /// Setting the serving version to another status leaves the model without one
    /// (`models.serving_version` empty); setting `serving` is [`Store::promote_version`].
    pub async fn set_version_status(
        &self,
        model_id: i64,
        version: &str,
        status: VersionStatus,
        reason: &str,
    ) -> Result<()> {
        if status == VersionStatus::Serving {
            self.promote_version(model_id, version, reason).await?;
            return Ok(());
        }
        let mut tx = self.begin().await?;
        let was = locked_version_status(&mut tx, model_id, version).await?;
        sqlx::query(
            "UPDATE model_versions SET status = $3, status_reason = $4, updated_at = $5 \
             WHERE model_id = $1 AND version = $2",
        )
        .bind(model_id)
        .bind(version)
        .bind(status.name())
        .bind(reason)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        if was == VersionStatus::Serving {
            sqlx::query("UPDATE models SET serving_version = NULL WHERE id = $1")
                .bind(model_id)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The version to roll back to: of the retired versions that once served, the one that
    /// became serving last (before the current one, which became serving after it).
    pub async fn previous_serving(&self, model_id: i64) -> Result<Option<ModelVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_id = $1 \
             AND status = 'retired' AND promotion IS NOT NULL ORDER BY promotion DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(model_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(model_version).transpose()
    }

    /// Makes a registered version the serving one ([`Store::promote_version`], "set by hand");
    /// false when the model or the version is not registered.
    pub async fn set_serving_version(&self, model_id: i64, version: &str) -> Result<bool> {
        match self.promote_version(model_id, version, "set by hand").await {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// Refuses what the registry cannot store faithfully.
fn check_new_version(new: &NewVersion) -> Result<()> {
    if new.version.is_empty() {
        return Err(Error::Invalid("a version needs a name".into()));
    }
    if let Some((name, value)) = new.metrics.iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::Invalid(format!(
            "metric `{name}` is {value}: metrics are finite numbers"
        )));
    }
    if let Some(window) = new.training_window
        && (window.start < 0 || window.end < window.start)
    {
        return Err(Error::Invalid(format!(
            "training window {}..{}: offsets from 0, the end not before the start",
            window.start, window.end
        )));
    }
    if !new.metadata.is_object() {
        return Err(Error::Invalid("metadata: a JSON object".into()));
    }
    Ok(())
}

/// Locks the model's row for the rest of `tx`, so that changes to its versions' statuses
/// queue one after the other (on Postgres; SQLite's writers queue anyway), and returns the
/// version's status.
async fn locked_version_status(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    model_id: i64,
    version: &str,
) -> Result<VersionStatus> {
    let locked = sqlx::query("UPDATE models SET serving_version = serving_version WHERE id = $1")
        .bind(model_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if locked == 0 {
        return Err(Error::NotFound(format!("no model with id {model_id}")));
    }
    let status: Option<String> = sqlx::query_scalar(
        "SELECT status FROM model_versions WHERE model_id = $1 AND version = $2",
    )
    .bind(model_id)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await?;
    match status {
        Some(status) => status.parse().map_err(Error::Corrupt),
        None => Err(Error::NotFound(format!(
            "`{version}` is not a registered version of the model"
        ))),
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

fn model_version(row: &AnyRow) -> Result<ModelVersion> {
    let metrics: String = row.try_get("metrics")?;
    let window = (
        row.try_get::<Option<i64>, _>("window_start")?,
        row.try_get::<Option<i64>, _>("window_end")?,
    );
    Ok(ModelVersion {
        version: row.try_get("version")?,
        status: row
            .try_get::<String, _>("status")?
            .parse()
            .map_err(Error::Corrupt)?,
        status_reason: row.try_get("status_reason")?,
        artifact_uri: row.try_get("artifact_uri")?,
        metrics: serde_json::from_str(&metrics)
            .map_err(|e| Error::Corrupt(format!("stored metrics: {e}")))?,
        training_window: match window {
            (Some(start), Some(end)) => Some(TrainingWindow { start, end }),
            _ => None,
        },
        run_id: row.try_get("run_id")?,
        created_by: row.try_get("created_by")?,
        metadata: parse_json(&row.try_get::<String, _>("metadata")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
