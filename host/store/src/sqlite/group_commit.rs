//! Ingestion on SQLite, where every commit waits for an fsync and one writer commits at a
//! time: batches that arrive while a commit is under way are written together in the next
//! transaction, so one fsync acknowledges all of them (group commit). Each batch runs in a
//! savepoint of its own, so one that fails (a reused idempotency key, say) is rolled back
//! alone. Postgres commits concurrent transactions in parallel and does not use this.
//!
//! A second task checkpoints the write-ahead log in the background (SQLite's automatic
//! checkpoint is turned off): done by the committing writer, a checkpoint stalled ingestion
//! for up to a few hundred milliseconds.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::Core;
use super::fingerprints::{self, MemoryAdmit};
use super::record_ids::{self, Fingerprint};
use crate::records::ingest::ingest_in;
use crate::{Error, IdempotencyKey, IngestOutcome, RecordBatch, Result};

/// Records written in one transaction at most: bounds a commit's size and latency.
const GROUP_ROWS: usize = 50_000;
/// Batches waiting for the writer; senders wait beyond this.
const QUEUE: usize = 64;
/// How often the write-ahead log is copied back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

struct Job {
    model_id: i64,
    batch: RecordBatch,
    /// Of the batch's ids, computed by the sender so the writer does not.
    fingerprints: Vec<Fingerprint>,
    key: Option<(String, Vec<u8>)>,
    reply: oneshot::Sender<Result<IngestOutcome>>,
}

/// The handle to the writer task, kept in the [`Store`](crate::Store). The task stops when
/// the last handle is dropped.
#[derive(Clone)]
pub(crate) struct GroupWriter {
    jobs: mpsc::Sender<Job>,
}

impl GroupWriter {
    /// Starts the writer and the checkpointer on the store that shares `core`.
    pub(crate) fn start(core: Core) -> GroupWriter {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let checkpoints = core.clone();
        let writes = tokio::spawn(write_groups(core, queue));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !writes.is_finished() {
                every.tick().await;
                if let Err(error) = checkpoints.checkpoint().await {
                    // Closing the store closes the pool under this task: that is its end.
                    if checkpoints.pool.is_closed() {
                        break;
                    }
                    tracing::warn!(%error, "WAL checkpoint failed; retrying");
                }
            }
        });
        GroupWriter { jobs }
    }

    pub(crate) async fn ingest(
        &self,
        model_id: i64,
        batch: &RecordBatch,
        key: Option<&IdempotencyKey<'_>>,
    ) -> Result<IngestOutcome> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            model_id,
            fingerprints: record_ids::fingerprints(&batch.ids),
            batch: batch.clone(),
            key: key.map(|k| (k.key.to_string(), k.request_sha256.to_vec())),
            reply,
        };
        let stopped = || Error::Unavailable("the ingestion writer has stopped".into());
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_groups(core: Core, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut rows = first.batch.len();
        let mut group = vec![first];
        while rows < GROUP_ROWS {
            let Ok(job) = queue.try_recv() else { break };
            rows += job.batch.len();
            group.push(job);
        }
        write_group(&core, group).await;
    }
}

async fn write_group(core: &Core, group: Vec<Job>) {
    let started = std::time::Instant::now();
    // Held for the whole group: batches later in it see the ids of those before.
    let mut ids = core.record_ids.lock().await;
    let mut tx = match core.begin().await {
        Ok(tx) => tx,
        Err(error) => return fail_all(group, &error),
    };
    let mut outcomes = Vec::with_capacity(group.len());
    // Fingerprints entered into the set by this group, per model, to take back if its
    // commit fails.
    let mut group_admitted: Vec<(i64, Vec<Fingerprint>)> = Vec::new();
    for job in &group {
        let key = job.key.as_ref().map(|(key, digest)| IdempotencyKey {
            key,
            request_sha256: digest,
        });
        let mut admitted = Vec::new();
        let outcome = async {
            let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
            let stored = async {
                fingerprints::load(&mut savepoint, &mut ids, job.model_id).await?;
                let dedup = MemoryAdmit {
                    ids: &mut ids,
                    fingerprints: &job.fingerprints,
                    admitted: &mut admitted,
                };
                ingest_in(
                    &mut savepoint,
                    job.model_id,
                    &job.batch,
                    key.as_ref(),
                    dedup,
                )
                .await
            }
            .await;
            match stored {
                Ok(outcome) => {
                    savepoint.commit().await?;
                    Ok(outcome)
                }
                Err(error) => {
                    savepoint.rollback().await?;
                    Err(error)
                }
            }
        }
        .await;
        if outcome.is_ok() {
            group_admitted.push((job.model_id, admitted));
        } else {
            ids.remove(job.model_id, &admitted);
        }
        outcomes.push(outcome);
    }
    let written = started.elapsed();
    let committed = tx.commit().await;
    tracing::debug!(
        batches = group.len(),
        write_ms = written.as_secs_f64() * 1e3,
        commit_ms = (started.elapsed() - written).as_secs_f64() * 1e3,
        "ingestion group"
    );
    match committed {
        Ok(()) => {
            for (job, outcome) in group.into_iter().zip(outcomes) {
                // A requester that has gone away no longer needs its answer.
                let _ = job.reply.send(outcome);
            }
        }
        Err(error) => {
            for (model_id, admitted) in &group_admitted {
                ids.remove(*model_id, admitted);
            }
            fail_all(group, &error.into())
        }
    }
}

/// Answers every batch of a group that was not committed. Nothing of it was stored, so the
/// error is the retryable kind.
fn fail_all(group: Vec<Job>, error: &Error) {
    for job in group {
        let _ = job.reply.send(Err(Error::Unavailable(error.to_string())));
    }
}
