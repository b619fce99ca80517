//! The `record_fingerprints` table: each stored batch's record fingerprints, appended in
//! offset order, from which the in-memory sets of [`record_ids`] are rebuilt after a restart
//! (see `migrations/sqlite/0002_record_fingerprints.sql`), and the sets and the table kept
//! in step as records are stored and pruned.

use super::record_ids::{self, Fingerprint, RecordIds};
use crate::pool::WriteTx;
use crate::records::ingest::Admit;
use crate::{RecordBatch, Result};

/// The record-id sets, locked before a write transaction and held until it ends, with the
/// fingerprints that leave them once it commits.
pub(crate) struct LockedIds<'a> {
    ids: tokio::sync::MutexGuard<'a, RecordIds>,
    /// Per model, the fingerprints of records pruned in the transaction.
    forgotten: Vec<(i64, Vec<Fingerprint>)>,
}

impl<'a> LockedIds<'a> {
    pub(crate) fn new(ids: tokio::sync::MutexGuard<'a, RecordIds>) -> Self {
        LockedIds {
            ids,
            forgotten: Vec::new(),
        }
    }

    /// See [`load`].
    pub(crate) async fn load(
        &mut self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
    ) -> Result<()> {
        load(tx, &mut self.ids, model_id).await
    }

    /// How many of `ids` the model has stored (its set loaded first).
    pub(crate) fn count_stored(&mut self, model_id: i64, ids: &[&str]) -> usize {
        ids.iter()
            .filter(|id| self.ids.contains(model_id, id))
            .count()
    }

    /// Deletes the fingerprints of the batches at `first_offsets`, which hold the records
    /// `ids`, in `tx`; they leave the model's set when `tx` commits. Pruning writes the ids
    /// another process would rely on, so it takes the file's ingestion lock as storing does.
    pub(crate) async fn forget(
        &mut self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
        first_offsets: &[i64],
        ids: &[String],
    ) -> Result<()> {
        self.ids.lock_file()?;
        sqlx::query(
            "DELETE FROM record_fingerprints WHERE model_id = $1 \
             AND first_offset IN (SELECT value FROM json_each($2))",
        )
        .bind(model_id)
        .bind(serde_json::to_string(first_offsets).expect("numbers serialise"))
        .execute(&mut **tx)
        .await?;
        self.forgotten
            .push((model_id, record_ids::fingerprints(ids)));
        Ok(())
    }

    /// Commits `tx`, then takes what it pruned out of the sets. A transaction that fails to
    /// commit changed nothing, and neither do the sets.
    pub(crate) async fn commit(mut self, tx: WriteTx) -> Result<()> {
        tx.commit().await?;
        for (model_id, fingerprints) in std::mem::take(&mut self.forgotten) {
            self.ids.forget(model_id, &fingerprints);
        }
        Ok(())
    }
}

/// Loads the model's set of record fingerprints into `ids` unless it is there. Batches
/// stored without fingerprints (by a version before `record_fingerprints`) get them now,
/// in `tx`.
pub(crate) async fn load(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ids: &mut RecordIds,
    model_id: i64,
) -> Result<()> {
    if ids.is_loaded(model_id) {
        return Ok(());
    }
    ids.lock_file()?;
    let started = std::time::Instant::now();
    let count: i64 = sqlx::query_scalar("SELECT record_count FROM models WHERE id = $1")
        .bind(model_id)
        .fetch_optional(&mut **tx)
        .await?
        .unwrap_or(0);
    let mut set =
        record_ids::FingerprintSet::with_capacity_and_hasher(count as usize, Default::default());
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT fingerprints FROM record_fingerprints WHERE model_id = $1")
            .bind(model_id)
            .fetch_all(&mut **tx)
            .await?;
    for bytes in &stored {
        set.extend(record_ids::decode(bytes)?);
    }
    drop(stored);
    let unprinted: Vec<i64> = sqlx::query_scalar(
        "SELECT first_offset FROM record_batches b WHERE model_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM record_fingerprints f \
          WHERE f.model_id = b.model_id AND f.first_offset = b.first_offset) \
         ORDER BY first_offset",
    )
    .bind(model_id)
    .fetch_all(&mut **tx)
    .await?;
    for &first_offset in &unprinted {
        let data: Vec<u8> = sqlx::query_scalar(
            "SELECT data FROM record_batches WHERE model_id = $1 AND first_offset = $2",
        )
        .bind(model_id)
        .bind(first_offset)
        .fetch_one(&mut **tx)
        .await?;
        let fingerprints = record_ids::fingerprints(&RecordBatch::decode_ids(&data)?);
        insert(tx, model_id, first_offset, &fingerprints).await?;
        set.extend(fingerprints);
    }
    tracing::info!(
        model_id,
        records = set.len(),
        backfilled_batches = unprinted.len(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "record ids loaded"
    );
    ids.insert_model(model_id, set);
    Ok(())
}

/// Ingestion's duplicate check through the model's in-memory set (loaded by [`load`]). What
/// joins the set is added to `admitted` too, for the caller to take back if the batch is not
/// committed; the fingerprints kept are stored as the batch's.
pub(crate) struct MemoryAdmit<'a> {
    pub(crate) ids: &'a mut RecordIds,
    /// Of the batch's ids, in order, computed by whoever sent the batch.
    pub(crate) fingerprints: &'a [Fingerprint],
    pub(crate) admitted: &'a mut Vec<Fingerprint>,
}

impl Admit for MemoryAdmit<'_> {
    async fn admit(
        self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: i64,
        first_offset: i64,
        _ids: &[String],
    ) -> Result<Vec<usize>> {
        let keep = self.ids.admit(model_id, self.fingerprints);
        self.admitted
            .extend(keep.iter().map(|&i| self.fingerprints[i]));
        if !keep.is_empty() {
            let kept = &self.admitted[self.admitted.len() - keep.len()..];
            insert(tx, model_id, first_offset, kept).await?;
        }
        Ok(keep)
    }
}

/// Stores the fingerprints of the batch at `first_offset`.
async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    model_id: i64,
    first_offset: i64,
    fingerprints: &[Fingerprint],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO record_fingerprints (model_id, first_offset, fingerprints) \
         VALUES ($1, $2, $3)",
    )
    .bind(model_id)
    .bind(first_offset)
    .bind(record_ids::encode(fingerprints.iter().copied()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
