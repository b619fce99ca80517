//! Host bindings for the WIT package `vigil:plugin`, one module per world. The shared `types`
//! and `host` interfaces are generated once (in `drift`) and reused by the other worlds.
#![allow(missing_docs)]

/// Bindings of one world whose `types` and `host` are those already generated in the `drift`
/// module beside it (of the same contract version), with the derives given.
macro_rules! world_sharing_types {
    ($world:literal, $path:literal $(, $derive:ident)*) => {
        wasmtime::component::bindgen!({
            world: $world,
            path: $path,
            additional_derives: [$($derive),*],
            with: {
                "vigil:plugin/types": super::drift::vigil::plugin::types,
                "vigil:plugin/host": super::drift::vigil::plugin::host,
            },
        });
    };
}

pub mod drift {
    wasmtime::component::bindgen!({
        world: "drift-test-plugin",
        path: "../../wit",
        additional_derives: [PartialEq],
    });
}

pub mod detector {
    world_sharing_types!("detector-plugin", "../../wit");
}

pub mod preprocessor {
    world_sharing_types!("preprocessor-plugin", "../../wit");
}

pub mod policy {
    world_sharing_types!("policy-plugin", "../../wit", PartialEq);
}

pub mod multivariate {
    world_sharing_types!("multivariate-drift-test-plugin", "../../wit");
}

/// Host bindings for `vigil:plugin@0.1.0` (`wit/v0.1.0`, the contract as it was released), so
/// that components built for it keep running. Their types are converted to and from 0.2.0's in
/// `v0_1.rs`.
pub mod v0_1 {
    pub mod drift {
        wasmtime::component::bindgen!({
            world: "drift-test-plugin",
            path: "../../wit/v0.1.0",
        });
    }

    pub mod detector {
        world_sharing_types!("detector-plugin", "../../wit/v0.1.0");
    }

    pub mod preprocessor {
        world_sharing_types!("preprocessor-plugin", "../../wit/v0.1.0");
    }

    pub mod policy {
        world_sharing_types!("policy-plugin", "../../wit/v0.1.0");
    }
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

/// The contract components are built against now. Its version changes whenever a type or
/// function changes; the host keeps running the versions before it (see [`Contract`]).
pub const CONTRACT: &str = "vigil:plugin@0.2.0";

/// A version of the plugin contract the host runs. Each has its WIT in the repository (`wit/`
/// for the current one, `wit/vX.Y.Z/` for older ones) and its own bindings here; components of
/// an older version are converted to the current types at the boundary (`v0_1.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    V0_1,
    V0_2,
}

impl Contract {
    /// Every version the host runs, newest first.
    pub const ALL: [Contract; 2] = [Contract::V0_2, Contract::V0_1];

    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
        }
    }

    /// The worlds the version has: 0.1.0 has no multivariate drift test.
    pub fn worlds(self) -> &'static [World] {
        match self {
            Contract::V0_1 => &World::ALL[..4],
            Contract::V0_2 => &World::ALL,
        }
    }
}

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

    /// The exported interface that identifies the world in a version of the contract.
    pub fn interface(self, contract: Contract) -> String {
        let name = match self {
            World::DriftTest => "drift-test",
            World::Detector => "detector",
            World::Preprocessor => "preprocessor",
            World::Policy => "policy",
            World::MultivariateDriftTest => "multivariate-drift-test",
        };
        format!("vigil:plugin/{name}@{}", contract.version())
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
