//! The Postgres backend: its durability check, and the `record_ids` table through which
//! replicas sharing one database find the records already stored. Transactions commit in
//! parallel here, so ingestion needs neither a writer queue nor group commit.

use sqlx::{Acquire, AnyPool};

use crate::pool::{self, WriteTx};
use crate::records::ingest::{Admit, ingest_in};
use crate::{Error, IdempotencyKey, IngestOutcome, RecordBatch, Result};

/// The Postgres side of a [`Store`](crate::Store).
#[derive(Clone)]
pub(crate) struct Postgres {
    pool: AnyPool,
}

/// Opens the Postgres database at `url` (`postgres://…`), checks it and migrates it.
pub(crate) async fn open(url: &str) -> Result<(AnyPool, Postgres)> {
    let pool = pool::options(16).connect(url).await?;
    check_durability(&pool).await?;
    pool::migrate(&pool, sqlx::migrate!("migrations/postgres")).await?;
    Ok((pool.clone(), Postgres { pool }))
}

impl Postgres {
    pub(crate) async fn begin(&self) -> Result<WriteTx> {
        Ok(WriteTx {
            tx: self.pool.begin().await?,
            _turn: None,
        })
    }

    /// One transaction per batch; concurrent batches of one model queue on the model's row.
    pub(crate) async fn ingest(
        &self,
        model_id: i64,
        batch: &RecordBatch,
        key: Option<&IdempotencyKey<'_>>,
    ) -> Result<IngestOutcome> {
        let mut tx = self.begin().await?;
        let outcome = ingest_in(&mut tx, model_id, batch, key, IdTable).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// Refuses settings under which an acknowledged write could be lost (see the crate's
/// documentation on durability).
async fn check_durability(pool: &AnyPool) -> Result<()> {
    let synchronous_commit: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(pool)
        .await?;
    let fsync: String = sqlx::query_scalar("SHOW fsync").fetch_one(pool).await?;
    check_settings(&synchronous_commit, &fsync)
}

fn check_settings(synchronous_commit: &str, fsync: &str) -> Result<()> {
    if !matches!(synchronous_commit, "on" | "remote_apply" | "remote_write") {
        return Err(Error::UnsafeSettings(format!(
            "Postgres synchronous_commit is `{synchronous_commit}`, expected `on`"
        )));
    }
    if fsync != "on" {
        return Err(Error::UnsafeSettings(format!(
            "Postgres fsync is `{fsync}`, expected `on`"
        )));
    }
    Ok(())
}

/// Ingestion's duplicate check through the `record_ids` table.
struct IdTable;

impl Admit for IdTable {
    async fn admit(
        self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
        first_offset: i64,
        ids: &[String],
    ) -> Result<Vec<usize>> {
        admit_by_table(tx, model_id, first_offset, ids).await
    }
}

/// Positions of the records to store, through the `record_ids` table: the first of each id
/// the model does not have yet, entered into the table at its offset.
async fn admit_by_table(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model_id: i64,
    record_count: i64,
    ids: &[String],
) -> Result<Vec<usize>> {
    // Most requests carry only new ids, so they are inserted at once and the probe for
    // stored ids runs only when the database refused some (an id repeated in the request
    // or already stored): one pass over the id index instead of two.
    let mut attempt = tx.begin().await?;
    let inserted = insert_record_ids(&mut attempt, model_id, record_count, ids).await?;
    Ok(if inserted == ids.len() as u64 {
        attempt.commit().await?;
        (0..ids.len()).collect()
    } else {
        attempt.rollback().await?;
        let keep = new_record_positions(tx, model_id, ids).await?;
        let kept: Vec<String> = keep.iter().map(|&i| ids[i].clone()).collect();
        insert_record_ids(tx, model_id, record_count, &kept).await?;
        keep
    })
}

/// Stores `ids` at offsets `first_offset..`, skipping any the model already has; returns
/// how many were stored. All ids go in one statement, as a JSON array the database
/// unpacks: binding thousands of parameters one by one costs far more than the insert.
async fn insert_record_ids(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model_id: i64,
    first_offset: i64,
    ids: &[String],
) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "INSERT INTO record_ids (model_id, record_id, record_offset) \
         SELECT $1, e.value, $2 + e.ord - 1 \
         FROM json_array_elements_text($3::json) WITH ORDINALITY AS e(value, ord) \
         ON CONFLICT DO NOTHING",
    )
    .bind(model_id)
    .bind(first_offset)
    .bind(serde_json::to_string(ids).expect("strings serialise"))
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Which of `ids` the model already has. The ids go in as one JSON array the database
/// unpacks, and `IN (subquery)` probes the primary key once per id.
pub(crate) async fn stored_ids(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model_id: i64,
    ids: &[impl serde::Serialize],
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT record_id FROM record_ids WHERE model_id = $1 \
         AND record_id IN (SELECT json_array_elements_text($2::json))",
    )
    .bind(model_id)
    .bind(serde_json::to_string(ids).expect("strings serialise"))
    .fetch_all(&mut **tx)
    .await?)
}

/// Deletes the model's ids `ids` (of pruned records) from the table.
pub(crate) async fn delete_record_ids(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model_id: i64,
    ids: &[String],
) -> Result<()> {
    sqlx::query(
        "DELETE FROM record_ids WHERE model_id = $1 \
         AND record_id IN (SELECT json_array_elements_text($2::json))",
    )
    .bind(model_id)
    .bind(serde_json::to_string(ids).expect("strings serialise"))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Positions in `ids` of records to store: not stored before, first of their repeats.
async fn new_record_positions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model_id: i64,
    ids: &[String],
) -> Result<Vec<usize>> {
    let stored = stored_ids(tx, model_id, ids).await?;
    let mut seen: std::collections::HashSet<&str> = stored.iter().map(String::as_str).collect();
    let mut keep = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if seen.insert(id.as_str()) {
            keep.push(i);
        }
    }
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_settings_are_refused() {
        assert!(check_settings("on", "on").is_ok());
        assert!(check_settings("remote_apply", "on").is_ok());
        assert!(check_settings("off", "on").is_err());
        assert!(check_settings("local", "on").is_err());
        assert!(check_settings("on", "off").is_err());
    }
}
