//! A monitor's specification: what the API takes, what is stored (with every plugin pinned
//! to a version), and what an evaluation is replayed from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::vocab::FeatureKind;
use crate::vocab::{check_name, valid_name};

#[derive(Clone, Debug, Serialize, Deserialize)]
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
    #[serde(default)]
    pub alerts: AlertSpec,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FeatureKind,
}

/// Records at stream offsets `start..end` of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRange {
    pub start: i64,
    pub end: i64,
}

/// When a window closes: after so many records, or after so many seconds with records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum WindowRule {
    Records(u64),
    Seconds(u64),
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
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
}

/// A streaming detector on a column: `{"column", "plugin", "config"}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "DetectorFields", into = "DetectorFields")]
pub struct DetectorSpec {
    pub column: String,
    pub plugin: PluginRef,
}

/// A detector as written: the plugin reference's fields beside `column`. (`flatten` would do
/// this, but cannot refuse unknown fields.)
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectorFields {
    column: String,
    plugin: String,
    #[serde(default = "empty_object")]
    config: serde_json::Value,
}

impl From<DetectorFields> for DetectorSpec {
    fn from(fields: DetectorFields) -> Self {
        DetectorSpec {
            column: fields.column,
            plugin: PluginRef {
                plugin: fields.plugin,
                config: fields.config,
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
        }
    }
}

/// A plugin by `name` or `name@version`, with its configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginRef {
    pub plugin: String,
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

impl PluginRef {
    pub fn named(plugin: &str) -> PluginRef {
        PluginRef {
            plugin: plugin.to_string(),
            config: empty_object(),
        }
    }

    /// (name, version) — the version is empty when not pinned.
    pub fn parts(&self) -> (&str, &str) {
        self.plugin
            .split_once('@')
            .unwrap_or((self.plugin.as_str(), ""))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Channel {
    /// The daemon's log.
    Log,
    /// An HTTP POST of the alert as JSON, signed with HMAC-SHA256 when a secret is set.
    Webhook {
        url: String,
        /// Write-only: stored, never shown (see [`redact`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
        #[serde(default)]
        format: WebhookFormat,
        /// What the API shows instead of the secret: whether one is set. Ignored on input, so
        /// that a spec read from the API can be sent back as it is.
        #[serde(default, skip_serializing)]
        signed: bool,
    },
}

/// What the API shows of a webhook URL: its origin, then `/…` and a short fingerprint of the
/// whole URL when there is more to it. The rest can be a credential (a Slack incoming
/// webhook's path is its secret); the fingerprint tells two URLs of one origin apart, so that
/// a spec sent back as shown keeps each channel's own URL (see
/// [`MonitorSpec::restore_credentials`]).
pub fn shown_url(url: &str) -> String {
    use sha2::Digest as _;
    let fingerprint = &hex::encode(sha2::Sha256::digest(url.as_bytes()))[..8];
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let origin = parsed.origin().ascii_serialization();
            if url == format!("{origin}/") {
                url.to_string()
            } else {
                format!("{origin}/…{fingerprint}")
            }
        }
        Err(_) => format!("…{fingerprint}"),
    }
}

/// Hides webhook credentials in a spec about to leave the daemon (an API answer, or a stored
/// evaluation): each webhook channel shows its URL's origin only ([`shown_url`]) and says
/// `"signed": true|false` instead of its secret. Credentials are write-only: no role reads
/// them back.
pub fn redact(spec: &mut serde_json::Value) {
    let Some(channels) = spec
        .pointer_mut("/alerts/channels")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return;
    };
    for channel in channels {
        let Some(fields) = channel.as_object_mut() else {
            continue;
        };
        let secret = fields.remove("secret");
        if let Some(url) = fields.get_mut("url")
            && let Some(text) = url.as_str()
        {
            *url = shown_url(text).into();
        }
        if fields.get("type").and_then(serde_json::Value::as_str) == Some("webhook") {
            let signed = secret.is_some_and(|s| s.as_str().is_some_and(|s| !s.is_empty()));
            fields.insert("signed".into(), signed.into());
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl MonitorSpec {
    /// Checks everything that needs no database; errors name the field.
    pub fn validate(&self) -> Result<(), String> {
        check_name("name", &self.name)?;
        if self.features.is_empty() {
            return Err("features: at least one feature is needed".into());
        }
        let mut seen = std::collections::HashSet::new();
        for (i, feature) in self.features.iter().enumerate() {
            valid_name(&format!("features[{i}].name"), &feature.name)?;
            if !seen.insert(feature.name.as_str()) {
                return Err(format!(
                    "features[{i}].name: `{}` appears twice",
                    feature.name
                ));
            }
        }
        match self.window {
            WindowRule::Records(n) if !(1..=MAX_WINDOW_RECORDS).contains(&n) => {
                return Err(format!(
                    "window.records: must be between 1 and {MAX_WINDOW_RECORDS}"
                ));
            }
            WindowRule::Seconds(t) if !(1..=MAX_SECONDS).contains(&t) => {
                return Err(format!(
                    "window.seconds: must be between 1 and {MAX_SECONDS} (ten years)"
                ));
            }
            _ => {}
        }
        if self.alerts.cooldown_seconds > MAX_SECONDS {
            return Err(format!(
                "alerts.cooldown_seconds: must be at most {MAX_SECONDS} (ten years)"
            ));
        }
        if !(1..=1000).contains(&self.alerts.clear_after_windows) {
            return Err("alerts.clear_after_windows: must be between 1 and 1000".into());
        }
        if let Some(range) = self.reference
            && !(0 <= range.start && range.start < range.end)
        {
            return Err("reference: needs 0 <= start < end".into());
        }
        for column in self.pipeline.columns.keys() {
            if !seen.contains(column.as_str()) {
                return Err(format!(
                    "pipeline.columns.{column}: no feature named `{column}`"
                ));
            }
        }
        for (i, detector) in self.pipeline.detectors.iter().enumerate() {
            let numeric = self
                .features
                .iter()
                .any(|f| f.name == detector.column && f.kind == FeatureKind::Numeric);
            if !(numeric || detector.column == "prediction") {
                return Err(format!(
                    "pipeline.detectors[{i}].column: `{}` is neither a numeric feature nor \
                     `prediction`",
                    detector.column
                ));
            }
        }
        for (i, channel) in self.alerts.channels.iter().enumerate() {
            if let Channel::Webhook { url, .. } = channel {
                let http = reqwest::Url::parse(url)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                // A URL as the API shows it (`ORIGIN/…fingerprint`) is put back later.
                if !http && !url.contains('…') {
                    return Err(format!("alerts.channels[{i}].url: expected an http(s) URL"));
                }
            }
        }
        for (field, plugin) in self.plugin_refs() {
            if !plugin.config.is_object() {
                return Err(format!("{field}.config: expected a JSON object"));
            }
            // Stored with every evaluation: a configuration is settings, not data.
            if plugin.config.to_string().len() > MAX_CONFIG_BYTES {
                return Err(format!(
                    "{field}.config: at most {MAX_CONFIG_BYTES} bytes of JSON"
                ));
            }
        }
        Ok(())
    }

    /// Every plugin reference with its field path and the role it must play, defaults
    /// included (call after [`MonitorSpec::fill_defaults`] to see those).
    pub fn plugin_refs(&self) -> Vec<(String, &PluginRef)> {
        self.plugin_refs_with_roles()
            .into_iter()
            .map(|(field, plugin, _)| (field, plugin))
            .collect()
    }

    pub fn plugin_refs_with_roles(&self) -> Vec<(String, &PluginRef, Role)> {
        let p = &self.pipeline;
        let mut refs = Vec::new();
        for (i, r) in p.preprocessors.iter().enumerate() {
            refs.push((
                format!("pipeline.preprocessors[{i}]"),
                r,
                Role::Preprocessor,
            ));
        }
        if let Some(r) = &p.numeric {
            refs.push(("pipeline.numeric".into(), r, Role::DriftTest));
        }
        if let Some(r) = &p.categorical {
            refs.push(("pipeline.categorical".into(), r, Role::DriftTest));
        }
        for (column, r) in &p.columns {
            refs.push((format!("pipeline.columns.{column}"), r, Role::DriftTest));
        }
        for (i, d) in p.detectors.iter().enumerate() {
            refs.push((
                format!("pipeline.detectors[{i}]"),
                &d.plugin,
                Role::Detector,
            ));
        }
        if let Some(r) = &self.policy {
            refs.push(("policy".into(), r, Role::Policy));
        }
        refs
    }

    /// Every plugin reference, mutable, in the order of [`MonitorSpec::plugin_refs_with_roles`].
    pub fn plugin_refs_mut(&mut self) -> Vec<&mut PluginRef> {
        let p = &mut self.pipeline;
        p.preprocessors
            .iter_mut()
            .chain(p.numeric.iter_mut())
            .chain(p.categorical.iter_mut())
            .chain(p.columns.values_mut())
            .chain(p.detectors.iter_mut().map(|d| &mut d.plugin))
            .chain(self.policy.iter_mut())
            .collect()
    }

    /// A spec's JSON as the API shows it: with webhook secrets hidden.
    pub fn redacted(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("a spec serialises");
        redact(&mut value);
        value
    }

    /// Puts back the webhook credentials a spec read from the API cannot carry: a URL shown
    /// as its origin and `/…` becomes the stored URL it stands for, and a webhook sent without
    /// a secret keeps the one stored for the same URL (an empty secret removes it). `stored`
    /// is the monitor's spec before an update (`None` on create). A shown URL that stands for
    /// no stored one is refused, naming the field.
    pub fn restore_credentials(&mut self, stored: Option<&MonitorSpec>) -> Result<(), String> {
        let stored_webhooks: Vec<(&String, &Option<String>)> = stored
            .map(|spec| {
                spec.alerts
                    .channels
                    .iter()
                    .filter_map(|channel| match channel {
                        Channel::Webhook { url, secret, .. } => Some((url, secret)),
                        Channel::Log => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Each stored webhook stands for at most one channel sent back.
        let mut taken = vec![false; stored_webhooks.len()];
        for (i, channel) in self.alerts.channels.iter_mut().enumerate() {
            let Channel::Webhook {
                url,
                secret,
                signed,
                ..
            } = channel
            else {
                continue;
            };
            // Only ever shown, never taken: what counts is whether a secret is stored.
            *signed = false;
            let shown = url.contains('…');
            let stored = (0..stored_webhooks.len()).find(|&j| {
                !taken[j]
                    && if shown {
                        shown_url(stored_webhooks[j].0) == *url
                    } else {
                        stored_webhooks[j].0 == url
                    }
            });
            match stored {
                Some(j) => {
                    taken[j] = true;
                    if shown {
                        *url = stored_webhooks[j].0.clone();
                    }
                    if secret.is_none() {
                        *secret = stored_webhooks[j].1.clone();
                    }
                }
                None if shown => {
                    return Err(format!(
                        "alerts.channels[{i}].url: `{url}` stands for a URL the API does not \
                         show, and this monitor has none like it; give the whole URL"
                    ));
                }
                None => {}
            }
            if secret.as_deref() == Some("") {
                *secret = None;
            }
        }
        Ok(())
    }

    /// Puts the default drift tests and policy in, so that they are pinned like the rest.
    pub fn fill_defaults(&mut self) {
        let has = |kind| self.features.iter().any(|f| f.kind == kind);
        if self.pipeline.numeric.is_none() && has(FeatureKind::Numeric) {
            self.pipeline.numeric = Some(PluginRef::named("drift-ks"));
        }
        if self.pipeline.categorical.is_none() && has(FeatureKind::Categorical) {
            self.pipeline.categorical = Some(PluginRef::named("drift-chi2"));
        }
        if self.policy.is_none() {
            self.policy = Some(PluginRef::named("policy-threshold"));
        }
    }

    /// The drift test for a feature.
    pub fn test_for(&self, feature: &FeatureSpec) -> Option<&PluginRef> {
        self.pipeline
            .columns
            .get(&feature.name)
            .or(match feature.kind {
                FeatureKind::Numeric => self.pipeline.numeric.as_ref(),
                FeatureKind::Categorical => self.pipeline.categorical.as_ref(),
            })
    }

    /// Every pinned (name, version) the monitor uses.
    pub fn pinned_plugins(&self) -> Vec<(String, String)> {
        let mut pinned: Vec<(String, String)> = self
            .plugin_refs()
            .into_iter()
            .map(|(_, r)| {
                let (name, version) = r.parts();
                (name.to_string(), version.to_string())
            })
            .collect();
        pinned.sort();
        pinned.dedup();
        pinned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Result<MonitorSpec, String> {
        let spec: MonitorSpec = serde_json::from_value(json).map_err(|e| e.to_string())?;
        spec.validate().map(|_| spec)
    }

    #[test]
    fn errors_name_the_field() {
        let base = serde_json::json!({
            "name": "m", "model": "churn", "window": {"records": 100},
            "features": [{"name": "age", "type": "numeric"}, {"name": "plan", "type": "categorical"}],
        });
        assert!(spec(base.clone()).is_ok());
        let cases = [
            (
                "/window",
                serde_json::json!({"records": 0}),
                "window.records",
            ),
            ("/features", serde_json::json!([]), "features"),
            ("/name", serde_json::json!("a b"), "name"),
            (
                "/features",
                serde_json::json!([{"name": "a", "type": "numeric"}, {"name": "a", "type": "numeric"}]),
                "features[1].name",
            ),
            (
                "/pipeline",
                serde_json::json!({"columns": {"nope": {"plugin": "drift-ks"}}}),
                "pipeline.columns.nope",
            ),
            (
                "/pipeline",
                serde_json::json!({"detectors": [{"column": "plan", "plugin": "detect-page-hinkley"}]}),
                "pipeline.detectors[0].column",
            ),
            (
                "/alerts",
                serde_json::json!({"channels": [{"type": "webhook", "url": "ftp://x"}]}),
                "alerts.channels[0].url",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut json = base.clone();
            *json
                .pointer_mut(pointer)
                .unwrap_or(&mut serde_json::Value::Null) = value.clone();
            if json.pointer(pointer).is_none() {
                json[pointer.trim_start_matches('/')] = value;
            }
            let error = spec(json).unwrap_err();
            assert!(error.starts_with(field), "{error} should name {field}");
        }
        let mut unknown = base.clone();
        unknown["windw"] = serde_json::json!({});
        assert!(spec(unknown).unwrap_err().contains("windw"));
    }

    #[test]
    fn only_a_webhooks_origin_is_shown_and_it_maps_back() {
        let slack = "https://hooks.slack.com/services/T000/B000/XXXXSECRET?x=1";
        let shown = shown_url(slack);
        assert!(shown.starts_with("https://hooks.slack.com/…"), "{shown}");
        assert_eq!(shown.len(), "https://hooks.slack.com/…".len() + 8);
        assert_ne!(shown_url("https://hooks.slack.com/other"), shown);
        assert!(shown_url("http://user:pw@127.0.0.1:9/").starts_with("http://127.0.0.1:9/…"));
        assert!(shown_url("http://host:9/#fragment").starts_with("http://host:9/…"));
        assert_eq!(shown_url("http://host:9/"), "http://host:9/");
        assert!(shown_url("not a url").starts_with('…'));

        let mut stored: MonitorSpec = serde_json::from_value(serde_json::json!({
            "name": "m", "model": "churn", "window": {"records": 100},
            "features": [{"name": "age", "type": "numeric"}],
            "alerts": {"channels": [
                {"type": "webhook", "url": slack, "secret": "s", "format": "slack"},
                {"type": "webhook", "url": "https://hooks.slack.com/services/B", "secret": "b"},
                {"type": "webhook", "url": "http://user@other.example/"},
                {"type": "webhook", "url": "https://other.example/hook"},
            ]},
        }))
        .unwrap();
        stored.restore_credentials(None).unwrap();
        let mut shown = stored.redacted();
        assert!(!shown.to_string().contains("XXXXSECRET"), "{shown}");
        assert_eq!(shown["alerts"]["channels"][0]["signed"], true);
        let mut back: MonitorSpec = serde_json::from_value(shown.clone()).unwrap();
        back.restore_credentials(Some(&stored)).unwrap();
        assert_eq!(back.alerts.channels, stored.alerts.channels);
        // A shown URL that stands for nothing stored is refused.
        shown["alerts"]["channels"][1]["url"] = "https://elsewhere.example/…0123abcd".into();
        let mut lost: MonitorSpec = serde_json::from_value(shown).unwrap();
        let error = lost.restore_credentials(Some(&stored)).unwrap_err();
        assert!(error.starts_with("alerts.channels[1].url"), "{error}");
    }

    #[test]
    fn defaults_are_filled_then_pinned() {
        let mut s: MonitorSpec = serde_json::from_value(serde_json::json!({
            "name": "m", "model": "churn", "window": {"seconds": 60},
            "features": [{"name": "age", "type": "numeric"}],
            "pipeline": {"detectors": [{"column": "age", "plugin": "detect-page-hinkley", "config": {"threshold": 10}}]}
        }))
        .unwrap();
        s.fill_defaults();
        assert_eq!(s.pipeline.numeric, Some(PluginRef::named("drift-ks")));
        assert!(s.pipeline.categorical.is_none());
        let names: Vec<String> = s.pinned_plugins().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["detect-page-hinkley", "drift-ks", "policy-threshold"]
        );
        assert_eq!(s.pipeline.detectors[0].plugin.config["threshold"], 10);
    }
}
