//! A stored window's features beside its reference's, binned as `vigil drift --format html`
//! bins them (`crate::drift::plot`), for the dashboard's evaluation page (docs/dashboard.md).
//! The raw features are shown, before the monitor's preprocessors.

use vigil_store::Store;

use super::evaluation::EvaluationRecord;
use super::replay::{ReplayError, StoredWindow, stored_window};
use super::spec::MonitorSpec;
use super::window::feature_batch;
use crate::drift::plot::Plot;

/// Each feature's plot, in the spec's order.
pub async fn distributions(
    store: &Store,
    evaluation: &vigil_store::Evaluation,
) -> Result<Vec<(String, Plot)>, ReplayError> {
    let record = EvaluationRecord::from_stored(evaluation).map_err(ReplayError::Invalid)?;
    let spec: MonitorSpec = serde_json::from_value(record.spec.clone())
        .map_err(|e| ReplayError::Invalid(format!("the stored spec does not read: {e}")))?;
    let StoredWindow {
        reference, records, ..
    } = stored_window(store, evaluation, &record, &spec).await?;
    tokio::task::spawn_blocking(move || {
        let before = feature_batch(&spec, &reference.records);
        let now = feature_batch(&spec, &records);
        before
            .columns
            .iter()
            .zip(&now.columns)
            .map(|(r, c)| (r.name.clone(), Plot::of(&r.data, &c.data)))
            .collect()
    })
    .await
    .map_err(|e| ReplayError::Host(e.into()))
}
