//! Retention: [`Store::prune_records`] removes a model's old batches with their record ids and
//! labels, so that what a stream keeps (rows, and on SQLite the ids held in memory) stays
//! bounded while its offsets go on growing.

use sqlx::Row;

use super::ingest::lock_model;
use crate::labels::delete_labels_of;
use crate::{RecordBatch, Result, Store};

/// Batches one transaction of a prune looks at.
const STEP_BATCHES: i64 = 256;
/// Records one transaction of a prune removes at most (a batch is never split, so a single
/// batch may pass it): a step holds the write lock, and on SQLite keeps ingestion waiting,
/// about as long as a group commit of ingestion does (see `sqlite/group_commit.rs`).
const STEP_RECORDS: usize = 50_000;

/// Which batches a prune removes: wholly below offset `$2`, stored before `$3` (Unix ms).
/// `first_offset < $2` is implied, and lets the database walk the primary key's range.
const PRUNABLE: &str = "model_id = $1 AND first_offset < $2 AND first_offset + row_count <= $2 \
                        AND received_at < $3";

/// What [`Store::prune_records`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PruneOutcome {
    /// Records removed, with their ids and labels.
    pub records: usize,
    /// Batches removed: a batch goes whole or stays.
    pub batches: usize,
}

impl Store {
    /// Forgets the idempotency keys stored before `stored_before_ms`, so that their table
    /// does not grow with every request ever made: a request retried with such a key later is
    /// taken as new (its records are still skipped by id while they are stored). Returns how
    /// many went.
    pub async fn prune_idempotency_keys(&self, stored_before_ms: i64) -> Result<u64> {
        let _turn = self.write_turn().await;
        Ok(
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(stored_before_ms)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Removes the model's records stored at offsets below `below_offset` and before
    /// `stored_before_ms` (Unix ms), whole batches only: a batch that holds any record still
    /// needed stays. Their ids go (on SQLite both the `record_fingerprints` rows and the
    /// in-memory set, which shrinks) and so do their labels; evaluations, alerts and
    /// idempotency keys stay (see [`Store::prune_idempotency_keys`]). Returns how many
    /// records and batches were removed; an unknown model has none.
    ///
    /// The model's `record_count` does not change: offsets are positions in the stream and
    /// are never reused. Reading a range that reaches into pruned records fails with
    /// [`Error::Pruned`](crate::Error::Pruned) (see [`Store::read_records`]). A pruned id is
    /// forgotten: a record ingested later with the same id is a new record, at a new offset,
    /// without the old one's label.
    ///
    /// Runs in transactions of a few hundred batches (about 50,000 records at most), so
    /// ingestion waits for one of them at a time, never for the whole prune. If one fails,
    /// those before it stay done (each removes whole batches with their ids and labels) and
    /// calling again finishes the work. On SQLite only the process that ingests into the file
    /// can prune it: pruning takes the file's ingestion lock (see `sqlite/record_ids.rs`).
    pub async fn prune_records(
        &self,
        model_id: i64,
        below_offset: i64,
        stored_before_ms: i64,
    ) -> Result<PruneOutcome> {
        let mut outcome = PruneOutcome::default();
        let mut after = i64::MIN;
        loop {
            let step = self
                .prune_step(model_id, below_offset, stored_before_ms, after)
                .await?;
            outcome.records += step.records;
            outcome.batches += step.batches;
            match step.last {
                Some(last) if step.more => after = last,
                _ => return Ok(outcome),
            }
        }
    }

    /// One transaction of [`Store::prune_records`]: prunable batches that start after offset
    /// `after`, within the step's bounds.
    async fn prune_step(
        &self,
        model_id: i64,
        below_offset: i64,
        stored_before_ms: i64,
        after: i64,
    ) -> Result<Step> {
        // Taken before the write transaction (on SQLite, see `sqlite/record_ids.rs`).
        let mut stored = self.ops.stored_ids().await;
        let mut tx = self.begin().await?;
        // As ingestion does: on Postgres a batch of this model being stored waits for this
        // step, and never finds its ids half removed.
        if lock_model(&mut tx, model_id).await?.is_none() {
            return Ok(Step::default());
        }
        let sql = format!(
            "SELECT first_offset, row_count FROM record_batches WHERE {PRUNABLE} \
             AND first_offset > $4 ORDER BY first_offset LIMIT $5"
        );
        let heads = sqlx::query(&sql)
            .bind(model_id)
            .bind(below_offset)
            .bind(stored_before_ms)
            .bind(after)
            .bind(STEP_BATCHES)
            .fetch_all(&mut **tx)
            .await?;
        let mut first_offsets = Vec::new();
        let mut ids = Vec::new();
        for head in &heads {
            let first_offset: i64 = head.try_get("first_offset")?;
            let row_count: i64 = head.try_get("row_count")?;
            if !first_offsets.is_empty() && ids.len() + row_count as usize > STEP_RECORDS {
                break;
            }
            // One batch at a time, so a step holds one batch's data, not a few hundred.
            let data: Vec<u8> = sqlx::query_scalar(
                "SELECT data FROM record_batches WHERE model_id = $1 AND first_offset = $2",
            )
            .bind(model_id)
            .bind(first_offset)
            .fetch_one(&mut **tx)
            .await?;
            ids.extend(RecordBatch::decode_ids(&data)?);
            first_offsets.push(first_offset);
        }
        let (Some(&first), Some(&last)) = (first_offsets.first(), first_offsets.last()) else {
            return Ok(Step::default());
        };
        // Between the first and the last batch taken, the batches that match are exactly
        // those taken: the model's row lock (or SQLite's write lock) keeps others out.
        let sql = format!(
            "DELETE FROM record_batches WHERE {PRUNABLE} AND first_offset >= $4 \
             AND first_offset <= $5"
        );
        sqlx::query(&sql)
            .bind(model_id)
            .bind(below_offset)
            .bind(stored_before_ms)
            .bind(first)
            .bind(last)
            .execute(&mut **tx)
            .await?;
        delete_labels_of(&mut tx, self.backend(), model_id, &ids).await?;
        stored
            .forget(&mut tx, model_id, &first_offsets, &ids)
            .await?;
        stored.commit(tx).await?;
        Ok(Step {
            records: ids.len(),
            batches: first_offsets.len(),
            last: Some(last),
            more: first_offsets.len() < heads.len() || heads.len() as i64 == STEP_BATCHES,
        })
    }
}

/// What one transaction of a prune removed, and whether batches may be left after `last`.
#[derive(Default)]
struct Step {
    records: usize,
    batches: usize,
    last: Option<i64>,
    more: bool,
}
