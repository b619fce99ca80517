//! Glue between the generated world traits and the SDK's kind traits. The export macros
//! implement these for a marker type that names the plugin and its crate's name and version.

use std::cell::RefCell;

use crate::bindings::{detector, drift, multivariate, policy, preprocessor};
use crate::config::{config_schema, parse_config};
use crate::{ColumnKind, Error, PluginInfo, PluginKind, ScoreKind};

/// Names a plugin: implemented by the export macros in the plugin's crate.
pub trait Describe: 'static {
    /// The type implementing a kind trait.
    type Plugin;
    /// The plugin crate's name.
    const NAME: &'static str;
    /// The plugin crate's version.
    const VERSION: &'static str;
}

fn info<E: Describe, C: schemars::JsonSchema>(
    kind: PluginKind,
    description: &str,
    column_kinds: &[ColumnKind],
    score: ScoreKind,
) -> PluginInfo {
    PluginInfo {
        name: E::NAME.to_string(),
        version: E::VERSION.to_string(),
        kind,
        description: description.to_string(),
        config_schema: config_schema::<C>(),
        column_kinds: column_kinds.to_vec(),
        score,
    }
}

// drift-test world

impl<E> drift::Guest for E
where
    E: Describe,
    E::Plugin: crate::DriftTest,
{
    fn info() -> PluginInfo {
        crate::panic_hook::install();
        use crate::DriftTest as D;
        info::<E, <E::Plugin as D>::Config>(
            PluginKind::DriftTest,
            <E::Plugin as D>::DESCRIPTION,
            <E::Plugin as D>::COLUMN_KINDS,
            <E::Plugin as D>::SCORE,
        )
    }
}

impl<E> drift::exports::vigil::plugin::drift_test::Guest for E
where
    E: Describe,
    E::Plugin: crate::DriftTest,
{
    type Test = DriftTestResource<E::Plugin>;
}

#[doc(hidden)]
pub struct DriftTestResource<P>(P);

impl<P: crate::DriftTest> drift::exports::vigil::plugin::drift_test::GuestTest
    for DriftTestResource<P>
{
    fn create(
        reference: crate::ColumnData,
        config: String,
    ) -> Result<drift::exports::vigil::plugin::drift_test::Test, Error> {
        crate::panic_hook::install();
        let config = parse_config::<P::Config>(&config)?;
        let test = P::new(reference, config)?;
        Ok(drift::exports::vigil::plugin::drift_test::Test::new(
            DriftTestResource(test),
        ))
    }

    fn evaluate(&self, current: crate::ColumnData) -> Result<crate::DriftResult, Error> {
        crate::panic_hook::install();
        self.0.evaluate(current)
    }
}

// detector world

impl<E> detector::Guest for E
where
    E: Describe,
    E::Plugin: crate::Detector,
{
    fn info() -> PluginInfo {
        crate::panic_hook::install();
        use crate::Detector as D;
        info::<E, <E::Plugin as D>::Config>(
            PluginKind::Detector,
            <E::Plugin as D>::DESCRIPTION,
            &[ColumnKind::Numeric],
            ScoreKind::PValue,
        )
    }
}

impl<E> detector::exports::vigil::plugin::detector::Guest for E
where
    E: Describe,
    E::Plugin: crate::Detector,
{
    type Detector = DetectorResource<E::Plugin>;
}

#[doc(hidden)]
pub struct DetectorResource<P>(RefCell<P>);

impl<P: crate::Detector> detector::exports::vigil::plugin::detector::GuestDetector
    for DetectorResource<P>
{
    fn create(
        config: String,
    ) -> Result<detector::exports::vigil::plugin::detector::Detector, Error> {
        crate::panic_hook::install();
        let config = parse_config::<P::Config>(&config)?;
        let state = P::new(config)?;
        Ok(detector::exports::vigil::plugin::detector::Detector::new(
            DetectorResource(RefCell::new(state)),
        ))
    }

    fn restore(
        snapshot: Vec<u8>,
        config: String,
    ) -> Result<detector::exports::vigil::plugin::detector::Detector, Error> {
        crate::panic_hook::install();
        let config = parse_config::<P::Config>(&config)?;
        let state = P::restore(&snapshot, config)?;
        Ok(detector::exports::vigil::plugin::detector::Detector::new(
            DetectorResource(RefCell::new(state)),
        ))
    }

    fn update(&self, values: Vec<f64>) -> Result<Vec<u64>, Error> {
        crate::panic_hook::install();
        self.0.borrow_mut().update(&values)
    }

    fn snapshot(&self) -> Vec<u8> {
        crate::panic_hook::install();
        self.0.borrow().snapshot()
    }
}

// preprocessor world

impl<E> preprocessor::Guest for E
where
    E: Describe,
    E::Plugin: crate::Preprocessor,
{
    fn info() -> PluginInfo {
        crate::panic_hook::install();
        use crate::Preprocessor as P;
        info::<E, <E::Plugin as P>::Config>(
            PluginKind::Preprocessor,
            <E::Plugin as P>::DESCRIPTION,
            &[],
            ScoreKind::PValue,
        )
    }
}

impl<E> preprocessor::exports::vigil::plugin::preprocessor::Guest for E
where
    E: Describe,
    E::Plugin: crate::Preprocessor,
{
    type Preprocessor = PreprocessorResource<E::Plugin>;
}

#[doc(hidden)]
pub struct PreprocessorResource<P>(P);

impl<P: crate::Preprocessor> preprocessor::exports::vigil::plugin::preprocessor::GuestPreprocessor
    for PreprocessorResource<P>
{
    fn fit(
        reference: crate::Batch,
        config: String,
    ) -> Result<preprocessor::exports::vigil::plugin::preprocessor::Preprocessor, Error> {
        crate::panic_hook::install();
        let config = parse_config::<P::Config>(&config)?;
        let fitted = P::fit(reference, config)?;
        Ok(
            preprocessor::exports::vigil::plugin::preprocessor::Preprocessor::new(
                PreprocessorResource(fitted),
            ),
        )
    }

    fn transform(&self, input: crate::Batch) -> Result<crate::Batch, Error> {
        crate::panic_hook::install();
        self.0.transform(input)
    }
}

// policy world

impl<E> policy::Guest for E
where
    E: Describe,
    E::Plugin: crate::Policy,
{
    fn info() -> PluginInfo {
        crate::panic_hook::install();
        use crate::Policy as P;
        info::<E, <E::Plugin as P>::Config>(
            PluginKind::Policy,
            <E::Plugin as P>::DESCRIPTION,
            &[],
            ScoreKind::PValue,
        )
    }
}

impl<E> policy::exports::vigil::plugin::policy::Guest for E
where
    E: Describe,
    E::Plugin: crate::Policy,
{
    fn decide(
        context: crate::Context,
        config: String,
    ) -> Result<policy::exports::vigil::plugin::policy::Decision, Error> {
        crate::panic_hook::install();
        let config = parse_config::<<E::Plugin as crate::Policy>::Config>(&config)?;
        let (decision, state) = <E::Plugin as crate::Policy>::decide_keeping(context, config)?;
        Ok(policy::exports::vigil::plugin::policy::Decision {
            action: decision.action,
            reason: decision.reason,
            state,
        })
    }
}

// multivariate-drift-test world

impl<E> multivariate::Guest for E
where
    E: Describe,
    E::Plugin: crate::MultivariateDriftTest,
{
    fn info() -> PluginInfo {
        crate::panic_hook::install();
        use crate::MultivariateDriftTest as M;
        info::<E, <E::Plugin as M>::Config>(
            PluginKind::MultivariateDriftTest,
            <E::Plugin as M>::DESCRIPTION,
            &[ColumnKind::Numeric],
            <E::Plugin as M>::SCORE,
        )
    }
}

impl<E> multivariate::exports::vigil::plugin::multivariate_drift_test::Guest for E
where
    E: Describe,
    E::Plugin: crate::MultivariateDriftTest,
{
    type Test = MultivariateResource<E::Plugin>;
}

#[doc(hidden)]
pub struct MultivariateResource<P>(P);

impl<P: crate::MultivariateDriftTest>
    multivariate::exports::vigil::plugin::multivariate_drift_test::GuestTest
    for MultivariateResource<P>
{
    fn create(
        reference: crate::Batch,
        config: String,
    ) -> Result<multivariate::exports::vigil::plugin::multivariate_drift_test::Test, Error> {
        crate::panic_hook::install();
        let config = parse_config::<P::Config>(&config)?;
        let test = P::new(reference, config)?;
        Ok(
            multivariate::exports::vigil::plugin::multivariate_drift_test::Test::new(
                MultivariateResource(test),
            ),
        )
    }

    fn evaluate(&self, current: crate::Batch) -> Result<crate::DriftResult, Error> {
        crate::panic_hook::install();
        self.0.evaluate(current)
    }
}
