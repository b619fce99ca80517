//! Each monitor's pipeline, prepared once per revision: its reference loaded, its plugins
//! compiled, and its share of the plugin instances reserved (see `vigil_runtime::Budget`).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use vigil_store::{LabelValue, Monitor, RecordBatch, Store};

use super::pipeline::{Prepared, instances_needed};
use super::spec::MonitorSpec;
use super::stored_plugins::StoredPlugins;
use super::window::Window;
use crate::vocab::Task;

/// The prepared pipelines, by monitor id.
pub struct Pipelines {
    prepared: Mutex<HashMap<i64, Arc<Mutex<Prepared>>>>,
    /// Bytes of log output each monitor's plugins may write per window.
    output_per_window: usize,
    /// Set when the daemon stops (see `Prepared::cancellable`).
    cancel: Arc<AtomicBool>,
}

impl Pipelines {
    pub fn new(output_per_window: usize, cancel: Arc<AtomicBool>) -> Pipelines {
        Pipelines {
            prepared: Mutex::default(),
            output_per_window,
            cancel,
        }
    }

    /// Forgets a monitor's pipeline, which gives its plugin instances back.
    pub fn forget(&self, monitor_id: i64) {
        let stale = self
            .prepared
            .lock()
            .expect("pipelines lock")
            .remove(&monitor_id);
        drop(stale);
    }

    /// The monitor's pipeline for its current revision, prepared now if needed; `None` while
    /// it has no reference to compare with.
    pub async fn get(
        &self,
        store: &Store,
        plugins: &StoredPlugins,
        monitor: &Monitor,
        spec: &MonitorSpec,
        task: Task,
    ) -> anyhow::Result<Option<Arc<Mutex<Prepared>>>> {
        if let Some(prepared) = self
            .prepared
            .lock()
            .expect("pipelines lock")
            .get(&monitor.id)
            && prepared.lock().expect("pipeline lock").revision == monitor.revision
        {
            return Ok(Some(prepared.clone()));
        }
        // An older revision gives its plugin instances back before the new one reserves.
        self.forget(monitor.id);
        let Some(reference) = load_reference(store, monitor, spec).await? else {
            return Ok(None);
        };
        let loaded = plugins.for_spec(spec).await?;
        let budget = plugins.runtime().reserve(
            &format!("monitor `{}`", monitor.name),
            instances_needed(spec),
            Some(self.output_per_window),
        )?;
        let (revision, spec) = (monitor.revision, spec.clone());
        let prepared = tokio::task::spawn_blocking(move || {
            Prepared::new(revision, spec, &reference.window(task), &loaded, budget)
        })
        .await?
        .map_err(|message| anyhow::anyhow!("preparing the pipeline: {message}"))?
        .cancellable(self.cancel.clone());
        let prepared = Arc::new(Mutex::new(prepared));
        self.prepared
            .lock()
            .expect("pipelines lock")
            .insert(monitor.id, prepared.clone());
        Ok(Some(prepared))
    }
}

/// The monitor's reference rows: a frozen range of ingested records, or the uploaded ones.
pub async fn load_reference(
    store: &Store,
    monitor: &Monitor,
    spec: &MonitorSpec,
) -> anyhow::Result<Option<Reference>> {
    Ok(match spec.reference {
        Some(range) => {
            let records = store
                .read_records(monitor.model_id, range.start, range.end)
                .await?;
            if records.len() as i64 != range.end - range.start {
                return Ok(None);
            }
            let labels = store
                .labels_of(monitor.model_id, range.start, &records.ids)
                .await?;
            Some(Reference {
                start: range.start,
                records,
                labels,
            })
        }
        None => store
            .monitor_reference(monitor.id)
            .await?
            .map(|records| Reference {
                start: 0,
                records,
                labels: Vec::new(),
            }),
    })
}

/// A monitor's reference rows, and their labels when the reference is a frozen range of the
/// stream (an uploaded reference has none).
pub struct Reference {
    /// Stream offset of the first row (0 for an uploaded reference).
    pub start: i64,
    pub records: RecordBatch,
    pub labels: Vec<(i64, LabelValue)>,
}

impl Reference {
    pub fn window(&self, task: Task) -> Window<'_> {
        Window {
            start: self.start,
            records: &self.records,
            labels: &self.labels,
            task,
        }
    }
}
