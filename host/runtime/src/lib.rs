//! The Vigil plugin runtime: the only crate that names wasmtime.
//!
//! One [`Runtime`] per process holds the engine and a cache of compiled plugins keyed by the
//! sha256 of their bytes. [`Runtime::load`] compiles a component, checks that it implements
//! exactly one Vigil world and imports nothing the host does not grant, and asks it for its
//! [`PluginInfo`]. Every call into a plugin runs in a fresh, limited `Store` (a drift test or
//! detector keeps one store for the life of its session), so a plugin that loops, traps or eats
//! memory costs one typed [`Error`] and nothing else.
#![deny(missing_docs)]

mod bindings;
mod budget;
mod call;
mod config;
mod error;
mod host;
mod limits;
mod loader;
mod output;
mod session;
mod v0_1;
mod wasi;

pub use bindings::types::{
    Batch, CategoricalColumn, Column, ColumnData, ColumnKind, PluginError, PluginInfo, PluginKind,
    ScoreKind,
};
pub use bindings::{
    Action, ColumnResult, Context, Decision, DriftResult, History, Metric, PastWindow,
};
pub use budget::Budget;
pub use call::{CallObserver, CallReport};
pub use config::{Limits, RuntimeConfig};
pub use error::Error;
pub use loader::{Plugin, Runtime};
pub use session::{DetectorSession, DriftSession, MultivariateSession, PreprocessorSession};

/// The most bytes of state a policy's decision may keep for its next window (see
/// `decision.state` in `wit/worlds.wit`); a larger state fails the decision. The host keeps the
/// state with the monitor and writes it with every evaluation, so it must stay small.
pub const POLICY_STATE_CAP: usize = 64 * 1024;

/// The code of a missing categorical value (see `wit/types.wit`).
pub const MISSING_CODE: u32 = u32::MAX;
