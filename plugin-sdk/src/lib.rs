//! The Vigil plugin SDK.
//!
//! A plugin is a plain Rust type that implements one of the kind traits —
//! [`DriftTest`], [`MultivariateDriftTest`], [`Detector`], [`Preprocessor`] or [`Policy`] — and
//! is exported with the matching macro ([`export_drift_test!`],
//! [`export_multivariate_drift_test!`], [`export_detector!`], [`export_preprocessor!`],
//! [`export_policy!`]). Configuration arrives as JSON and is deserialized into the plugin's own
//! `Config` type; its JSON Schema is published through the plugin's `info` export.
//!
//! The same crate compiles natively, so `cargo test` exercises plugin logic directly; the
//! [`testing`] module runs a plugin the way the host would (configuration parsing included).
#![deny(missing_docs)]

mod adapters;
pub mod bindings;
mod column;
mod config;
mod panic_hook;
pub mod testing;

// The README's example plugin is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use column::{CategoricalBuilder, MISSING_CODE};
pub use config::{config_schema, parse_config};

pub use bindings::detector::exports::vigil::plugin::detector as detector_world;
pub use bindings::drift::vigil::plugin::host::Level;
pub use bindings::drift::vigil::plugin::types::{
    Batch, CategoricalColumn, Column, ColumnData, ColumnKind, DriftResult, Error, PluginInfo,
    PluginKind, ScoreKind,
};
pub use bindings::policy::exports::vigil::plugin::policy::{
    Action, ColumnResult, Context, History, Metric, PastWindow,
};

/// A policy's decision and why. The state a policy keeps for its next window is returned
/// beside it, from [`Policy::decide_keeping`], so that a policy without memory never names it.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The action to take.
    pub action: Action,
    /// A sentence for people saying why.
    pub reason: String,
}

/// The most bytes of state a policy may keep (see [`Policy::decide_keeping`]); a larger state
/// fails the decision in the host.
pub const MAX_STATE_BYTES: usize = 64 * 1024;

/// The result type of every plugin entry point.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A two-sample drift test: built once from a reference column, then evaluated per window.
pub trait DriftTest: Sized + 'static {
    /// The plugin's configuration, deserialized from the JSON the host passes.
    type Config: serde::de::DeserializeOwned + schemars::JsonSchema;
    /// One line describing the test.
    const DESCRIPTION: &'static str;
    /// The column kinds the test accepts.
    const COLUMN_KINDS: &'static [ColumnKind];
    /// How the statistic is read against the threshold.
    const SCORE: ScoreKind;

    /// Builds the test from the reference column (missing values included, as sent).
    fn new(reference: ColumnData, config: Self::Config) -> Result<Self>;
    /// Compares a window with the reference.
    fn evaluate(&self, current: ColumnData) -> Result<DriftResult>;
}

/// A drift test over several numeric columns at once: built once from a reference batch, then
/// evaluated per window holding the same columns.
pub trait MultivariateDriftTest: Sized + 'static {
    /// The plugin's configuration, deserialized from the JSON the host passes.
    type Config: serde::de::DeserializeOwned + schemars::JsonSchema;
    /// One line describing the test.
    const DESCRIPTION: &'static str;
    /// How the statistic is read against the threshold.
    const SCORE: ScoreKind;

    /// Builds the test from the reference batch (missing values included, as sent).
    fn new(reference: Batch, config: Self::Config) -> Result<Self>;
    /// Compares a window (the same columns) with the reference.
    fn evaluate(&self, current: Batch) -> Result<DriftResult>;
}

/// A streaming change detector with explicit, serializable state.
pub trait Detector: Sized + 'static {
    /// The plugin's configuration.
    type Config: serde::de::DeserializeOwned + schemars::JsonSchema;
    /// One line describing the detector.
    const DESCRIPTION: &'static str;

    /// A fresh detector.
    fn new(config: Self::Config) -> Result<Self>;
    /// A detector resumed from bytes produced by [`Detector::snapshot`].
    fn restore(snapshot: &[u8], config: Self::Config) -> Result<Self>;
    /// Feeds values in stream order; returns the stream positions (counted over every value the
    /// detector has seen since it was created) where a change was detected.
    fn update(&mut self, values: &[f64]) -> Result<Vec<u64>>;
    /// The whole state, for [`Detector::restore`].
    fn snapshot(&self) -> Vec<u8>;
}

/// A batch-to-batch transformation fitted on the reference.
pub trait Preprocessor: Sized + 'static {
    /// The plugin's configuration.
    type Config: serde::de::DeserializeOwned + schemars::JsonSchema;
    /// One line describing the transformation.
    const DESCRIPTION: &'static str;

    /// Learns the transformation from the reference batch.
    fn fit(reference: Batch, config: Self::Config) -> Result<Self>;
    /// Transforms a batch; the output has as many rows as the input.
    fn transform(&self, input: Batch) -> Result<Batch>;
}

/// A retraining policy: turns the monitoring results into a decision.
pub trait Policy: 'static {
    /// The plugin's configuration.
    type Config: serde::de::DeserializeOwned + schemars::JsonSchema;
    /// One line describing the policy.
    const DESCRIPTION: &'static str;

    /// Decides what to do.
    fn decide(context: Context, config: Self::Config) -> Result<Decision>;

    /// Decides, and says what to keep for the next window: the host hands it back as that
    /// window's `context.state` (`None` clears it; at most [`MAX_STATE_BYTES`]). The bytes are
    /// the policy's own; the host never reads them. This is what the host calls. The default
    /// keeps nothing; a policy with memory implements it, and its `decide` returns the decision
    /// alone.
    fn decide_keeping(
        context: Context,
        config: Self::Config,
    ) -> Result<(Decision, Option<Vec<u8>>)> {
        Self::decide(context, config).map(|decision| (decision, None))
    }
}

/// Writes a record to the host's log (to stderr when running natively, e.g. under `cargo test`).
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    bindings::drift::vigil::plugin::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

#[doc(hidden)]
pub mod __private {
    pub use crate::adapters::Describe;
}

/// Exports a [`DriftTest`] implementation as the plugin's `drift-test` world.
/// The plugin's name and version are its crate's; `export_drift_test!(T, name = "other")` names
/// it otherwise (the same holds for every `export_*!` macro).
#[macro_export]
macro_rules! export_drift_test {
    ($plugin:ty $(, name = $name:literal)?) => {
        // Native builds (tests, benches) carry no Wasm exports.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__describe!($plugin $(, $name)?);
            $crate::bindings::drift::export_drift_test_world!(__VigilPlugin with_types_in $crate::bindings::drift);
        };
    };
}

/// Exports a [`Detector`] implementation as the plugin's `detector` world.
#[macro_export]
macro_rules! export_detector {
    ($plugin:ty $(, name = $name:literal)?) => {
        // Native builds (tests, benches) carry no Wasm exports.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__describe!($plugin $(, $name)?);
            $crate::bindings::detector::export_detector_world!(__VigilPlugin with_types_in $crate::bindings::detector);
        };
    };
}

/// Exports a [`Preprocessor`] implementation as the plugin's `preprocessor` world.
#[macro_export]
macro_rules! export_preprocessor {
    ($plugin:ty $(, name = $name:literal)?) => {
        // Native builds (tests, benches) carry no Wasm exports.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__describe!($plugin $(, $name)?);
            $crate::bindings::preprocessor::export_preprocessor_world!(__VigilPlugin with_types_in $crate::bindings::preprocessor);
        };
    };
}

/// Exports a [`Policy`] implementation as the plugin's `policy` world.
#[macro_export]
macro_rules! export_policy {
    ($plugin:ty $(, name = $name:literal)?) => {
        // Native builds (tests, benches) carry no Wasm exports.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__describe!($plugin $(, $name)?);
            $crate::bindings::policy::export_policy_world!(__VigilPlugin with_types_in $crate::bindings::policy);
        };
    };
}

/// Exports a [`MultivariateDriftTest`] implementation as the plugin's
/// `multivariate-drift-test` world.
#[macro_export]
macro_rules! export_multivariate_drift_test {
    ($plugin:ty $(, name = $name:literal)?) => {
        // Native builds (tests, benches) carry no Wasm exports.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__describe!($plugin $(, $name)?);
            $crate::bindings::multivariate::export_multivariate_drift_test_world!(__VigilPlugin with_types_in $crate::bindings::multivariate);
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __describe {
    ($plugin:ty) => {
        $crate::__describe!($plugin, env!("CARGO_PKG_NAME"));
    };
    ($plugin:ty, $name:expr) => {
        #[doc(hidden)]
        pub struct __VigilPlugin;
        impl $crate::__private::Describe for __VigilPlugin {
            type Plugin = $plugin;
            const NAME: &'static str = $name;
            const VERSION: &'static str = env!("CARGO_PKG_VERSION");
        }
    };
}
