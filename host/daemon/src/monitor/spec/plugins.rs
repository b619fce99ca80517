//! A spec's plugin references: listed with their fields and roles, the default drift tests
//! and policy filled in, and the versions they are pinned to.

use super::{FeatureKind, FeatureSpec, MonitorSpec, PluginRef, Role};

impl MonitorSpec {
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
        for (i, m) in p.multivariate.iter().enumerate() {
            refs.push((
                format!("pipeline.multivariate[{i}]"),
                &m.plugin,
                Role::MultivariateDriftTest,
            ));
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
            .chain(p.multivariate.iter_mut().map(|m| &mut m.plugin))
            .collect()
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

    /// The policy that decides (the default one in a spec whose defaults were not filled in).
    pub fn policy_ref(&self) -> PluginRef {
        self.policy
            .clone()
            .unwrap_or_else(|| PluginRef::named("policy-threshold"))
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

    /// The features a multivariate test compares: its `columns`, or every numeric feature.
    pub fn multivariate_columns(&self, test: &super::MultivariateSpec) -> Vec<String> {
        match &test.columns {
            Some(columns) => columns.clone(),
            None => self
                .features
                .iter()
                .filter(|f| f.kind == FeatureKind::Numeric)
                .map(|f| f.name.clone())
                .collect(),
        }
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
