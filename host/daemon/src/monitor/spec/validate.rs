//! Checking a spec for everything that needs no database, each error naming its field.

use super::{
    Channel, FeatureKind, MAX_CONFIG_BYTES, MAX_SECONDS, MAX_WINDOW_RECORDS, MonitorSpec,
    WindowRule,
};
use crate::vocab::{check_name, valid_name};

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
        self.actions.validate()?;
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
        if let Some(estimation) = &self.estimated_performance {
            if estimation.positive_class.is_empty() {
                return Err(
                    "estimated_performance.positive_class: name the probability column \
                            of the positive class"
                        .into(),
                );
            }
            let t = estimation.threshold;
            if !(t > 0.0 && t <= 1.0) {
                return Err(format!(
                    "estimated_performance.threshold: must lie in (0, 1], got {t}"
                ));
            }
        }
        for (i, test) in self.pipeline.multivariate.iter().enumerate() {
            let field = format!("pipeline.multivariate[{i}].columns");
            let columns = self.multivariate_columns(test);
            if columns.is_empty() {
                return Err(format!(
                    "{field}: the monitor has no numeric feature to compare; a multivariate \
                     test compares numeric features"
                ));
            }
            let mut named = std::collections::HashSet::new();
            for column in &columns {
                let Some(feature) = self.features.iter().find(|f| &f.name == column) else {
                    return Err(format!("{field}: no feature named `{column}`"));
                };
                if feature.kind != FeatureKind::Numeric {
                    return Err(format!(
                        "{field}: `{column}` is a categorical feature; multivariate tests \
                         compare numeric features"
                    ));
                }
                if !named.insert(column) {
                    return Err(format!("{field}: `{column}` is listed twice"));
                }
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
            (
                "/estimated_performance",
                serde_json::json!({"positive_class": "1", "threshold": 1.5}),
                "estimated_performance.threshold",
            ),
            (
                "/estimated_performance",
                serde_json::json!({"positive_class": ""}),
                "estimated_performance.positive_class",
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
}
