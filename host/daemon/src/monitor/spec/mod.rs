//! A monitor's specification: what the API takes, what is stored (with every plugin pinned
//! to a version), and what an evaluation is replayed from.
//!
//! The types are here; `validate` checks a spec, `plugins` walks its plugin references (with
//! the defaults filled in, to be pinned), and `credentials` hides and restores webhook secrets.

mod actions;
mod credentials;
mod plugins;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use self::actions::{ActionsSpec, GateSpec, RetrainSpec, RolloutSpec, lower_is_better};
pub use self::credentials::{redact, shown_url};
pub use crate::vocab::FeatureKind;

#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorSpec {
    pub name: String,
    /// The model whose records this monitor watches.
    pub model: String,
    /// The features to watch, with their types; ingested records must fit them.
    pub features: Vec<FeatureSpec>,
    /// A frozen range of the model's ingested records to compare against. Without it the
    /// reference is uploaded with `PUT /v1/monitors/{name}/reference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<RecordRange>,
    pub window: WindowRule,
    #[serde(default)]
    pub pipeline: Pipeline,
    /// The retraining policy; `policy-threshold` with its defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PluginRef>,
    /// Label-free performance estimation (NannyML's CBPE) of a binary classifier, handed to
    /// the policy as `estimated_*` metrics (docs/monitors.md, "estimated_performance").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_performance: Option<EstimationSpec>,
    #[serde(default)]
    pub alerts: AlertSpec,
    /// What a decision to retrain, promote or roll back runs (see docs/orchestration.md).
    #[serde(default, skip_serializing_if = "ActionsSpec::is_unset")]
    pub actions: ActionsSpec,
}

/// Which probability is the positive class's, and where a prediction turns positive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EstimationSpec {
    /// The name of the records' probability column of the positive class (`"1"`, `"churn"`);
    /// a label equal to it (numbers written as text) is positive.
    pub positive_class: String,
    /// A record is predicted positive when that probability is at least this; in (0, 1].
    #[serde(default = "default_estimation_threshold")]
    pub threshold: f64,
}

fn default_estimation_threshold() -> f64 {
    0.5
}

#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FeatureKind,
}

/// Records at stream offsets `start..end` of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRange {
    pub start: i64,
    pub end: i64,
}

/// When a window closes: after so many records, or after so many seconds with records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum WindowRule {
    Records(u64),
    Seconds(u64),
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Applied in order to the reference (fitted on it) and to every window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preprocessors: Vec<PluginRef>,
    /// The drift test for numeric features; `drift-ks` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<PluginRef>,
    /// The drift test for categorical features; `drift-chi2` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical: Option<PluginRef>,
    /// A drift test for one feature, overriding the default for its type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, PluginRef>,
    /// Streaming detectors over a numeric feature or `prediction`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<DetectorSpec>,
    /// Drift tests over several numeric features at once (docs/monitors.md, "multivariate").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub multivariate: Vec<MultivariateSpec>,
}

/// A multivariate drift test: a plugin reference and the numeric features it compares
/// together (every numeric feature when `columns` is absent).
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(from = "MultivariateFields", into = "MultivariateFields")]
pub struct MultivariateSpec {
    pub columns: Option<Vec<String>>,
    pub plugin: PluginRef,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct MultivariateFields {
    plugin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    columns: Option<Vec<String>>,
    #[serde(default = "empty_object")]
    config: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limits: Option<PluginLimits>,
}

impl From<MultivariateFields> for MultivariateSpec {
    fn from(fields: MultivariateFields) -> Self {
        MultivariateSpec {
            columns: fields.columns,
            plugin: PluginRef {
                plugin: fields.plugin,
                config: fields.config,
                limits: fields.limits,
            },
        }
    }
}

impl From<MultivariateSpec> for MultivariateFields {
    fn from(spec: MultivariateSpec) -> Self {
        MultivariateFields {
            plugin: spec.plugin.plugin,
            columns: spec.columns,
            config: spec.plugin.config,
            limits: spec.plugin.limits,
        }
    }
}

/// A streaming detector on a column: `{"column", "plugin", "config"}`.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(from = "DetectorFields", into = "DetectorFields")]
pub struct DetectorSpec {
    pub column: String,
    pub plugin: PluginRef,
}

/// A detector as written: the plugin reference's fields beside `column`. (`flatten` would do
/// this, but cannot refuse unknown fields.)
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct DetectorFields {
    column: String,
    plugin: String,
    #[serde(default = "empty_object")]
    config: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limits: Option<PluginLimits>,
}

impl From<DetectorFields> for DetectorSpec {
    fn from(fields: DetectorFields) -> Self {
        DetectorSpec {
            column: fields.column,
            plugin: PluginRef {
                plugin: fields.plugin,
                config: fields.config,
                limits: fields.limits,
            },
        }
    }
}

impl From<DetectorSpec> for DetectorFields {
    fn from(spec: DetectorSpec) -> Self {
        DetectorFields {
            column: spec.column,
            plugin: spec.plugin.plugin,
            config: spec.plugin.config,
            limits: spec.plugin.limits,
        }
    }
}

/// A plugin by `name` or `name@version`, with its configuration and, if this monitor gives
/// it other limits than the daemon's defaults, those.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginRef {
    pub plugin: String,
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<PluginLimits>,
}

/// Limits one plugin of a monitor runs under instead of the daemon's defaults, each within the
/// daemon's maxima (docs/monitors.md, "Plugin limits"). Unset ones keep the defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    /// Wall-clock budget of one call, in milliseconds (at most `plugin_max_deadline_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// Cap on the plugin's linear memory, in MiB (at most `plugin_max_memory_mib`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<usize>,
    /// Longest list the plugin may return (at most `plugin_max_output_values`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_values: Option<usize>,
    /// Longest string the plugin may return, in bytes; longer ones are cut (at most
    /// `plugin_max_output_string_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_string_bytes: Option<usize>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

impl PluginLimits {
    /// The limits a plugin runs under: these in place of `defaults`; an error naming the
    /// first one above `maxima`. The output caps may be lowered, not raised.
    pub fn apply(
        &self,
        defaults: vigil_runtime::Limits,
        maxima: vigil_runtime::Limits,
    ) -> Result<vigil_runtime::Limits, String> {
        let limits = vigil_runtime::Limits {
            deadline: self
                .deadline_ms
                .map_or(defaults.deadline, std::time::Duration::from_millis),
            memory_bytes: self
                .memory_mib
                .map_or(defaults.memory_bytes, |mib| mib.saturating_mul(1 << 20)),
            max_output_values: self.max_output_values.unwrap_or(defaults.max_output_values),
            max_output_string_bytes: self
                .max_output_string_bytes
                .unwrap_or(defaults.max_output_string_bytes),
        };
        let checks = [
            (
                "deadline_ms",
                limits.deadline.as_millis() as u64,
                maxima.deadline.as_millis() as u64,
                "plugin_max_deadline_ms",
            ),
            (
                "memory_mib",
                (limits.memory_bytes >> 20) as u64,
                (maxima.memory_bytes >> 20) as u64,
                "plugin_max_memory_mib",
            ),
            (
                "max_output_values",
                limits.max_output_values as u64,
                maxima.max_output_values as u64,
                "the daemon's own cap",
            ),
            (
                "max_output_string_bytes",
                limits.max_output_string_bytes as u64,
                maxima.max_output_string_bytes as u64,
                "the daemon's own cap",
            ),
        ];
        for (name, value, most, setting) in checks {
            if value == 0 {
                return Err(format!("limits.{name} must be above 0"));
            }
            if value > most {
                return Err(format!(
                    "limits.{name} is {value}, above the most this daemon allows, {most} \
                     ({setting})"
                ));
            }
        }
        Ok(limits)
    }
}

impl PluginRef {
    /// The limits this plugin runs under (see [`PluginLimits::apply`]).
    pub fn effective_limits(
        &self,
        defaults: vigil_runtime::Limits,
        maxima: vigil_runtime::Limits,
    ) -> Result<vigil_runtime::Limits, String> {
        self.limits
            .unwrap_or_default()
            .apply(defaults, maxima)
            .map_err(|error| format!("{}: {error}", self.plugin))
    }

    pub fn named(plugin: &str) -> PluginRef {
        PluginRef {
            plugin: plugin.to_string(),
            config: empty_object(),
            limits: None,
        }
    }

    /// (name, version) — the version is empty when not pinned.
    pub fn parts(&self) -> (&str, &str) {
        self.plugin
            .split_once('@')
            .unwrap_or((self.plugin.as_str(), ""))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    /// After an alert fires, the same cause does not fire again for this long, whether or not
    /// it cleared in between.
    #[serde(default = "default_cooldown")]
    pub cooldown_seconds: u64,
    /// An open alert clears after this many windows in a row without its cause, so one clean
    /// window between false positives does not make the next one a new alert.
    #[serde(default = "default_clear_after")]
    pub clear_after_windows: u32,
    #[serde(default = "default_channels")]
    pub channels: Vec<Channel>,
}

impl Default for AlertSpec {
    fn default() -> Self {
        AlertSpec {
            cooldown_seconds: default_cooldown(),
            clear_after_windows: default_clear_after(),
            channels: default_channels(),
        }
    }
}

fn default_cooldown() -> u64 {
    3600
}

fn default_clear_after() -> u32 {
    3
}

/// Longest window and cooldown, in seconds (ten years): beyond, millisecond arithmetic on them
/// would overflow, and no monitor means it.
pub const MAX_SECONDS: u64 = 10 * 365 * 24 * 3600;
/// Largest plugin configuration, as JSON.
pub const MAX_CONFIG_BYTES: usize = 16 << 10;
/// Most records in a window (as in an uploaded reference): a window is read whole, and each of
/// its columns must fit in a plugin's memory.
pub const MAX_WINDOW_RECORDS: u64 = 1_000_000;

fn default_channels() -> Vec<Channel> {
    vec![Channel::Log]
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Channel {
    /// The daemon's log.
    Log,
    /// An HTTP POST of the alert as JSON, signed with HMAC-SHA256 when a secret is set.
    Webhook {
        url: String,
        /// Write-only: stored, never shown (see [`redact`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(extend("writeOnly" = true))]
        secret: Option<String>,
        #[serde(default)]
        format: WebhookFormat,
        /// What the API shows instead of the secret: whether one is set. Ignored on input, so
        /// that a spec read from the API can be sent back as it is.
        #[serde(default, skip_serializing)]
        #[schemars(extend("readOnly" = true))]
        signed: bool,
    },
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    #[default]
    Json,
    /// `{"text": …}`, which Slack's incoming webhooks take.
    Slack,
}

/// What a plugin reference must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Preprocessor,
    DriftTest,
    Detector,
    Policy,
    MultivariateDriftTest,
}
