//! Ingested records: the `record_batches` table (one row per accepted batch, see
//! [`crate::batch`]) and the models' stream offsets. Storing a batch is in [`ingest`].

pub(crate) mod ingest;

use sqlx::Row;

pub use ingest::{IdempotencyKey, IngestOutcome};

use crate::{RecordBatch, Result, Store};

impl Store {
    /// Stores a batch of records, atomically: records whose id is already stored (or
    /// repeats within the batch) are skipped; a repeated idempotency key returns the first
    /// answer; the same key with another body is a [`Conflict`](crate::Error::Conflict).
    /// Returns once the batch is committed. On SQLite, batches that arrive together share a
    /// commit (see `sqlite/group_commit.rs`).
    pub async fn ingest(
        &self,
        model_id: i64,
        batch: &RecordBatch,
        key: Option<&IdempotencyKey<'_>>,
    ) -> Result<IngestOutcome> {
        self.ops.ingest(model_id, batch, key).await
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
}
