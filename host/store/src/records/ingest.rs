//! The ingestion transaction both backends run: a batch's new records, its idempotency key
//! and the model's stream position, written together (tables `record_batches`,
//! `idempotency_keys` and `models.record_count`). Each backend runs [`ingest_in`] its own way
//! (one transaction per batch on Postgres, grouped on SQLite) and says how it finds the ids
//! already stored, through [`Admit`].

use sqlx::Row;

use crate::{Error, RecordBatch, Result, now_ms};

/// Identifies one ingestion request so that its retries are stored once.
#[derive(Clone, Debug)]
pub struct IdempotencyKey<'a> {
    pub key: &'a str,
    /// Digest of the request body: the same key with another body is a conflict.
    pub request_sha256: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
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

/// How a backend finds which records of a batch are new: through the `record_ids` table
/// (Postgres, shared by replicas, see `postgres.rs`), or through the in-memory set (SQLite,
/// see `sqlite/fingerprints.rs`).
pub(crate) trait Admit {
    /// Positions in `ids` of the records to store, the first of each id the model does not
    /// have yet, entered as stored at offsets `first_offset..` (in `tx`).
    async fn admit(
        self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
        first_offset: i64,
        ids: &[String],
    ) -> Result<Vec<usize>>;
}

/// Takes the model's row lock in `tx` and returns its record count (`None` for no such
/// model). Whatever changes a model's records takes it first, so that on Postgres they
/// queue per model (SQLite holds the write lock anyway).
pub(crate) async fn lock_model(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model_id: i64,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE models SET record_count = record_count WHERE id = $1 RETURNING record_count",
    )
    .bind(model_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// [`Store::ingest`](crate::Store::ingest) inside the transaction `tx`, finding the records
/// already stored through `dedup`.
pub(crate) async fn ingest_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model_id: i64,
    batch: &RecordBatch,
    key: Option<&IdempotencyKey<'_>>,
    dedup: impl Admit,
) -> Result<IngestOutcome> {
    // Take the model's row lock first: on Postgres this serialises ingestion per model so
    // the duplicate check below cannot race another request (SQLite holds the write lock).
    let Some(record_count) = lock_model(tx, model_id).await? else {
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

    let keep = dedup.admit(tx, model_id, record_count, &batch.ids).await?;
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
