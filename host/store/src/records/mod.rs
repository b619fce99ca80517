//! Ingested records: the `record_batches` table (one row per accepted batch, see
//! [`crate::batch`]) and the models' stream offsets. Storing a batch is in [`ingest`],
//! removing old ones in [`prune`].

pub(crate) mod ingest;
mod prune;

use sqlx::Row;

pub use ingest::{IdempotencyKey, IngestOutcome};
pub use prune::PruneOutcome;

use crate::{Error, RecordBatch, Result, Store};

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

    /// Records of the model still stored: `record_count` less what was pruned.
    pub async fn stored_records(&self, model_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, Option<i64>>(
            "SELECT SUM(row_count) FROM record_batches WHERE model_id = $1",
        )
        .bind(model_id)
        .fetch_one(&self.pool)
        .await?
        .unwrap_or(0))
    }

    /// The model's records at stream offsets `start..end`, in order; the range is cut at the
    /// end of the stream (the model's `record_count`), and an unknown model has none.
    ///
    /// A range is read whole or not at all: when records in it were removed by
    /// [`Store::prune_records`], this fails with [`Error::Pruned`], naming the first pruned
    /// span. Callers place records by position (the `i`-th record read is at offset
    /// `start + i`, as [`Store::labels_of`] assumes), so what remains of a pruned range would
    /// be taken for records it is not.
    pub async fn read_records(&self, model_id: i64, start: i64, end: i64) -> Result<RecordBatch> {
        self.read_span(model_id, start, end, end).await
    }

    /// The next piece of the model's records at offsets `start..end`, for a reader that goes
    /// through a long range without holding it in memory: the stored batches that begin
    /// before `start + budget`, whole (each is decoded once), cut to `start..end`. So it holds
    /// at least `budget` records, or up to `end`, and at most `budget` plus one stored batch;
    /// empty once `start` reaches `end` or the end of the stream. The next piece starts at
    /// `start` plus its length. Pruned records are an [`Error::Pruned`], as for
    /// [`Store::read_records`].
    pub async fn read_records_chunk(
        &self,
        model_id: i64,
        start: i64,
        end: i64,
        budget: i64,
    ) -> Result<RecordBatch> {
        let read_until = end.min(start.saturating_add(budget.max(1)));
        self.read_span(model_id, start, end, read_until).await
    }

    /// The records at `start..end` of the stored batches that begin before `read_until`
    /// (at most `end`), checked for pruned spans up to `read_until`.
    async fn read_span(
        &self,
        model_id: i64,
        start: i64,
        end: i64,
        read_until: i64,
    ) -> Result<RecordBatch> {
        // An empty or inverted range holds nothing (and would slice a batch backwards).
        if start >= end {
            return Ok(RecordBatch::default());
        }
        // One statement, so that the stream's end and the batches are read from the same
        // snapshot: a batch committed in between would otherwise look like a hole.
        let rows = sqlx::query(
            "SELECT m.record_count, b.first_offset, b.data FROM models AS m \
             LEFT JOIN record_batches AS b ON b.model_id = m.id \
             AND b.first_offset < $2 AND b.first_offset + b.row_count > $3 \
             WHERE m.id = $1 ORDER BY b.first_offset",
        )
        .bind(model_id)
        .bind(read_until)
        .bind(start)
        .fetch_all(&self.pool)
        .await?;
        let pruned = |from: i64, to: i64| Error::Pruned {
            model_id,
            start: from,
            end: to,
        };
        let mut out = RecordBatch::default();
        // The first offset of the range not read yet.
        let mut next = start;
        for row in &rows {
            let (Some(first), Some(data)) = (
                row.try_get::<Option<i64>, _>("first_offset")?,
                row.try_get::<Option<Vec<u8>>, _>("data")?,
            ) else {
                continue;
            };
            if first > next {
                return Err(pruned(next, first));
            }
            let batch = RecordBatch::decode(&data)?;
            let from = (start - first).max(0) as usize;
            let to = ((end - first) as usize).min(batch.len());
            if from == 0 && to == batch.len() {
                out.append(&batch);
            } else {
                out.append(&batch.slice(from..to));
            }
            next = first + batch.len() as i64;
        }
        if let Some(row) = rows.first() {
            let checked_until = read_until.min(row.try_get("record_count")?);
            if next < checked_until {
                return Err(pruned(next, checked_until));
            }
        }
        Ok(out)
    }
}
