//! Retention: ingested records that no monitor still needs are pruned, so that under a steady
//! stream the database and the in-memory set of record ids stay bounded (see
//! docs/configuration.md, "Retention"). Evaluations, alerts and actions are kept.
//!
//! A monitor needs its records from its next window on, and its reference when that is a
//! frozen range of the stream. Past what every monitor of a model needs, records go once they
//! are both beyond the newest `retention_keep_records` of the model and stored longer than
//! `retention_keep_seconds` ago: what is left can still be replayed and labelled late.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;
use vigil_store::{PruneOutcome, Store, now_ms};

use crate::metrics::{Metrics, ModelLabel};
use crate::monitor::spec::MonitorSpec;

/// How long an idempotency key is kept at least (a day).
const IDEMPOTENCY_KEYS_KEPT_MS: i64 = 24 * 3600 * 1000;

/// What is kept past what monitors need.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub keep_records: i64,
    pub keep_ms: i64,
    /// How often to prune; zero never does.
    pub interval: Duration,
}

/// The offset below which a model's records may go: below what its monitors need (all of it
/// when it has none) and below its newest `keep_records`.
pub fn prunable_below(record_count: i64, needs: impl IntoIterator<Item = i64>, keep: i64) -> i64 {
    let needed = needs.into_iter().min().unwrap_or(record_count);
    needed.min(record_count - keep).max(0)
}

/// Prunes every model once; returns what went, by model name.
pub async fn prune(store: &Store, policy: Policy) -> anyhow::Result<HashMap<String, PruneOutcome>> {
    let mut needs: HashMap<i64, Vec<i64>> = HashMap::new();
    for monitor in store.monitors().await? {
        let spec: MonitorSpec = serde_json::from_str(&monitor.spec)?;
        // A monitor without a position yet needs everything.
        let next = match store.monitor_state(monitor.id).await? {
            Some(state) => state.next_offset,
            None => 0,
        };
        let reference = spec.reference.map_or(next, |range| range.start);
        needs
            .entry(monitor.model_id)
            .or_default()
            .push(next.min(reference));
    }
    let stored_before = now_ms() - policy.keep_ms;
    // A client retries within minutes; a key is kept a day at least, whatever the records.
    store
        .prune_idempotency_keys(now_ms() - policy.keep_ms.max(IDEMPOTENCY_KEYS_KEPT_MS))
        .await?;
    let mut pruned = HashMap::new();
    for model in store.models().await? {
        let needs = needs.remove(&model.id).unwrap_or_default();
        let below = prunable_below(model.record_count, needs, policy.keep_records);
        if below > 0 {
            let outcome = store.prune_records(model.id, below, stored_before).await?;
            if outcome.records > 0 {
                pruned.insert(model.name, outcome);
            }
        }
    }
    Ok(pruned)
}

/// Prunes every `policy.interval` until `stopping` turns true.
pub async fn run(
    store: Store,
    policy: Policy,
    metrics: std::sync::Arc<Metrics>,
    mut stopping: watch::Receiver<bool>,
) {
    if policy.interval.is_zero() {
        return;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(policy.interval) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        match prune(&store, policy).await {
            Ok(pruned) => {
                for (model, outcome) in pruned {
                    tracing::debug!(%model, records = outcome.records, "pruned old records");
                    metrics
                        .pruned_records
                        .get_or_create(&ModelLabel { model })
                        .inc_by(outcome.records as u64);
                }
            }
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "cannot prune old records")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::prunable_below;

    #[test]
    fn what_monitors_need_and_the_newest_records_are_kept() {
        // No monitor: everything but the newest 100.
        assert_eq!(prunable_below(1000, [], 100), 900);
        // The slowest monitor (or a frozen reference) holds the line.
        assert_eq!(prunable_below(1000, [800, 300], 100), 300);
        assert_eq!(prunable_below(1000, [950], 100), 900);
        // Fewer records than to keep: nothing goes.
        assert_eq!(prunable_below(50, [], 100), 0);
        assert_eq!(prunable_below(1000, [0], 0), 0);
    }
}
