//! Host bindings for the WIT package `vigil:plugin`, one module per world. The shared `types`
//! and `host` interfaces are generated once (in `drift`) and reused by the other worlds.
#![allow(missing_docs)]

pub mod drift {
    wasmtime::component::bindgen!({
        world: "drift-test-plugin",
        path: "../../wit",
        additional_derives: [PartialEq],
    });
}

pub mod detector {
    wasmtime::component::bindgen!({
        world: "detector-plugin",
        path: "../../wit",
        with: {
            "vigil:plugin/types": super::drift::vigil::plugin::types,
            "vigil:plugin/host": super::drift::vigil::plugin::host,
        },
    });
}

pub mod preprocessor {
    wasmtime::component::bindgen!({
        world: "preprocessor-plugin",
        path: "../../wit",
        with: {
            "vigil:plugin/types": super::drift::vigil::plugin::types,
            "vigil:plugin/host": super::drift::vigil::plugin::host,
        },
    });
}

pub mod policy {
    wasmtime::component::bindgen!({
        world: "policy-plugin",
        path: "../../wit",
        additional_derives: [PartialEq],
        with: {
            "vigil:plugin/types": super::drift::vigil::plugin::types,
            "vigil:plugin/host": super::drift::vigil::plugin::host,
        },
    });
}

pub mod multivariate {
    wasmtime::component::bindgen!({
        world: "multivariate-drift-test-plugin",
        path: "../../wit",
        with: {
            "vigil:plugin/types": super::drift::vigil::plugin::types,
            "vigil:plugin/host": super::drift::vigil::plugin::host,
        },
    });
}

pub use drift::vigil::plugin::host;
pub use drift::vigil::plugin::types::DriftResult;
pub use policy::exports::vigil::plugin::policy::{
    Action, ColumnResult, Context, Decision, History, Metric, PastWindow,
};

/// The shared data types, with the guest's error variant renamed for the host's point of view.
pub mod types {
    /// A failure the plugin itself reported (as opposed to a trap or a limit).
    pub use super::drift::vigil::plugin::types::Error as PluginError;
    pub use super::drift::vigil::plugin::types::{
        Batch, CategoricalColumn, Column, ColumnData, ColumnKind, PluginInfo, PluginKind, ScoreKind,
    };
}

/// The WIT package plugins are built against. Its version changes whenever a type or
/// function changes, so a component built for another version is refused with a clear error.
pub const CONTRACT: &str = "vigil:plugin@0.2.0";

/// The world a component implements, found from its exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    DriftTest,
    Detector,
    Preprocessor,
    Policy,
    MultivariateDriftTest,
}

impl World {
    pub const ALL: [World; 5] = [
        World::DriftTest,
        World::Detector,
        World::Preprocessor,
        World::Policy,
        World::MultivariateDriftTest,
    ];

    /// The exported interface that identifies the world.
    pub fn interface(self) -> &'static str {
        match self {
            World::DriftTest => "vigil:plugin/drift-test@0.2.0",
            World::Detector => "vigil:plugin/detector@0.2.0",
            World::Preprocessor => "vigil:plugin/preprocessor@0.2.0",
            World::Policy => "vigil:plugin/policy@0.2.0",
            World::MultivariateDriftTest => "vigil:plugin/multivariate-drift-test@0.2.0",
        }
    }

    /// The world's name in `wit/worlds.wit`.
    pub fn name(self) -> &'static str {
        match self {
            World::DriftTest => "drift-test-plugin",
            World::Detector => "detector-plugin",
            World::Preprocessor => "preprocessor-plugin",
            World::Policy => "policy-plugin",
            World::MultivariateDriftTest => "multivariate-drift-test-plugin",
        }
    }

    pub fn kind(self) -> types::PluginKind {
        match self {
            World::DriftTest => types::PluginKind::DriftTest,
            World::Detector => types::PluginKind::Detector,
            World::Preprocessor => types::PluginKind::Preprocessor,
            World::Policy => types::PluginKind::Policy,
            World::MultivariateDriftTest => types::PluginKind::MultivariateDriftTest,
        }
    }
}
