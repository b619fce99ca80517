//! Each monitor's pipeline, prepared once per revision: its reference loaded, its plugins
//! compiled, and its share of the plugin instances reserved (see `vigil_runtime::Budget`).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use vigil_store::{LabelValue, Monitor, RecordBatch, Store};

use super::pipeline::{PluginSetup, Prepared, instances_needed};
use super::spec::MonitorSpec;
use super::stored_plugins::StoredPlugins;
use super::window::Window;
use crate::metrics::Metrics;
use crate::vocab::Task;

/// The plugin instances a monitor reserves, and whether its drift tests stay built between
/// windows. A monitor needing at most `keep_at_most` instances keeps one per tested feature
/// (see [`instances_needed`]); a wider one builds each drift test per window and drops it when
/// its column is done, so it holds a few instances at a time however many columns it has:
/// slower, never refused for its width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub slots: u32,
    pub keep_tests: bool,
}

impl Reservation {
    pub fn of(spec: &MonitorSpec, keep_at_most: u32) -> Reservation {
        let kept = instances_needed(spec);
        if kept <= keep_at_most {
            return Reservation {
                slots: kept,
                keep_tests: true,
            };
        }
        // Columns are tested on the evaluation threads, one drift test each at a time.
        let at_once = spec.pipeline.preprocessors.len() + rayon::current_num_threads() + 1;
        Reservation {
            slots: (at_once as u32).min(kept),
            keep_tests: false,
        }
    }
}

/// The most instances a monitor keeps: `per_monitor`, and never more than monitors may
/// reserve in all (the runtime's pool less its shared instances).
pub fn keep_at_most(runtime: &vigil_runtime::RuntimeConfig, per_monitor: u32) -> u32 {
    let for_monitors = runtime
        .pooled_instances
        .saturating_sub(runtime.shared_instances.min(runtime.pooled_instances));
    per_monitor.min(for_monitors)
}

/// The prepared pipelines, by monitor id.
pub struct Pipelines {
    prepared: Mutex<HashMap<i64, Arc<Mutex<Prepared>>>>,
    /// Bytes of log output each monitor's plugins may write per window.
    output_per_window: usize,
    /// Instances a monitor may keep between windows (see [`Reservation`]).
    instances_per_monitor: u32,
    /// Set when the daemon stops (see `Prepared::cancellable`).
    cancel: Arc<AtomicBool>,
    /// Where each monitor's plugin calls are measured.
    metrics: Arc<Metrics>,
}

impl Pipelines {
    pub fn new(
        output_per_window: usize,
        instances_per_monitor: u32,
        cancel: Arc<AtomicBool>,
        metrics: Arc<Metrics>,
    ) -> Pipelines {
        Pipelines {
            prepared: Mutex::default(),
            output_per_window,
            instances_per_monitor,
            cancel,
            metrics,
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
        self.get_as(
            monitor.id,
            &monitor.name,
            store,
            plugins,
            monitor,
            spec,
            task,
        )
        .await
    }

    /// [`Pipelines::get`] for `spec` under the key `key` (a monitor's id, or a shadow's),
    /// its plugin instances reserved and its calls measured as `name`'s.
    #[allow(clippy::too_many_arguments)]
    pub async fn get_as(
        &self,
        key: i64,
        name: &str,
        store: &Store,
        plugins: &StoredPlugins,
        monitor: &Monitor,
        spec: &MonitorSpec,
        task: Task,
    ) -> anyhow::Result<Option<Arc<Mutex<Prepared>>>> {
        if let Some(prepared) = self.prepared.lock().expect("pipelines lock").get(&key)
            && prepared.lock().expect("pipeline lock").revision == monitor.revision
        {
            return Ok(Some(prepared.clone()));
        }
        // An older revision gives its plugin instances back before the new one reserves.
        self.forget(key);
        let Some(reference) = load_reference(store, monitor, spec).await? else {
            return Ok(None);
        };
        let loaded = plugins.for_spec(spec).await?;
        let runtime = plugins.runtime();
        let reservation = Reservation::of(
            spec,
            keep_at_most(runtime.config(), self.instances_per_monitor),
        );
        let budget = runtime.reserve(
            &format!("monitor `{name}`"),
            reservation.slots,
            Some(self.output_per_window),
        )?;
        let (revision, spec) = (monitor.revision, spec.clone());
        let setup = PluginSetup {
            limits: plugins.limits(),
            measured_as: Some((name.to_string(), self.metrics.clone())),
        };
        let prepared = tokio::task::spawn_blocking(move || {
            Prepared::new(
                revision,
                spec,
                &reference.window(task),
                &loaded,
                &setup,
                budget,
            )
        })
        .await?
        .map_err(|message| anyhow::anyhow!("preparing the pipeline: {message}"))?
        .cancellable(self.cancel.clone());
        let prepared = if reservation.keep_tests {
            prepared
        } else {
            prepared.one_off()
        };
        let prepared = Arc::new(Mutex::new(prepared));
        self.prepared
            .lock()
            .expect("pipelines lock")
            .insert(key, prepared.clone());
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
