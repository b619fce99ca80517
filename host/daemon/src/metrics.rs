//! Prometheus metrics, served as text at `/metrics`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabel {
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MonitorLabel {
    pub monitor: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub monitor: String,
    pub status: String,
}

/// A plugin (`name@version`) as one monitor runs it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    pub monitor: String,
    pub plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub monitor: String,
    pub plugin: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ColumnLabels {
    pub monitor: String,
    pub column: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

pub struct Metrics {
    registry: Registry,
    pub ingested_records: Family<ModelLabel, Counter>,
    pub ingested_labels: Family<ModelLabel, Counter>,
    pub pruned_records: Family<ModelLabel, Counter>,
    pub evaluations: Family<StatusLabels, Counter>,
    pub evaluation_seconds: Family<MonitorLabel, Histogram, fn() -> Histogram>,
    pub plugin_call_seconds: Family<PluginLabels, Histogram, fn() -> Histogram>,
    pub plugin_memory_peak_bytes: Family<PluginLabels, Gauge>,
    pub plugin_failures: Family<FailureLabels, Counter>,
    pub drift_statistic: Family<ColumnLabels, FloatGauge>,
    pub drift_p_value: Family<ColumnLabels, FloatGauge>,
    pub column_drifted: Family<ColumnLabels, FloatGauge>,
    pub alerts: Family<MonitorLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("vigil");
        let m = Metrics {
            ingested_records: Family::default(),
            ingested_labels: Family::default(),
            pruned_records: Family::default(),
            evaluations: Family::default(),
            evaluation_seconds: Family::new_with_constructor(latency),
            plugin_call_seconds: Family::new_with_constructor(latency),
            plugin_memory_peak_bytes: Family::default(),
            plugin_failures: Family::default(),
            drift_statistic: Family::default(),
            drift_p_value: Family::default(),
            column_drifted: Family::default(),
            alerts: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "ingested_records",
            "Records stored, by model",
            m.ingested_records.clone(),
        );
        registry.register(
            "ingested_labels",
            "Labels stored, by model",
            m.ingested_labels.clone(),
        );
        registry.register(
            "pruned_records",
            "Records pruned by retention, by model",
            m.pruned_records.clone(),
        );
        registry.register(
            "evaluations",
            "Windows evaluated, by monitor and status",
            m.evaluations.clone(),
        );
        registry.register(
            "evaluation_seconds",
            "Time from a window closing to its evaluation being stored",
            m.evaluation_seconds.clone(),
        );
        registry.register(
            "plugin_call_seconds",
            "Duration of each call into a plugin (instantiation included), by monitor and plugin",
            m.plugin_call_seconds.clone(),
        );
        registry.register(
            "plugin_memory_peak_bytes",
            "The most linear memory a plugin's instance has had, by monitor and plugin",
            m.plugin_memory_peak_bytes.clone(),
        );
        registry.register(
            "plugin_failures",
            "Plugin failures recorded in evaluations (timeouts, traps, memory, errors), by \
             monitor, plugin and kind",
            m.plugin_failures.clone(),
        );
        registry.register(
            "drift_statistic",
            "The drift statistic of each column in its monitor's latest window",
            m.drift_statistic.clone(),
        );
        registry.register(
            "drift_p_value",
            "The p-value of each column in its monitor's latest window (hypothesis tests)",
            m.drift_p_value.clone(),
        );
        registry.register(
            "column_drifted",
            "1 when the column drifted in its monitor's latest window, 0 when not",
            m.column_drifted.clone(),
        );
        registry.register("alerts", "Alerts fired, by monitor", m.alerts.clone());
        Metrics { registry, ..m }
    }
}

/// Reports one monitor's calls into one plugin to the metrics, when it has them (a replay has
/// none), and to the totals of the window being evaluated (the runtime calls it after every
/// call).
pub struct PluginCalls {
    pub labels: PluginLabels,
    pub metrics: Option<std::sync::Arc<Metrics>>,
    pub window: std::sync::Arc<crate::monitor::evaluation::WindowCalls>,
}

impl vigil_runtime::CallObserver for PluginCalls {
    fn observe(&self, report: &vigil_runtime::CallReport<'_>) {
        self.window.add(&self.labels.plugin, report);
        let Some(metrics) = &self.metrics else {
            return;
        };
        metrics
            .plugin_call_seconds
            .get_or_create(&self.labels)
            .observe(report.duration.as_secs_f64());
        let peak = metrics.plugin_memory_peak_bytes.get_or_create(&self.labels);
        let bytes = i64::try_from(report.memory_peak_bytes).unwrap_or(i64::MAX);
        if bytes > peak.get() {
            peak.set(bytes);
        }
    }
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
