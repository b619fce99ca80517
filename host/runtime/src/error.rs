use std::time::Duration;

use crate::PluginError;

/// Why loading or calling a plugin failed. Every variant leaves the runtime usable.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a component Vigil can run: not a component at all, the wrong world,
    /// or an import the host does not grant.
    #[error("invalid plugin component: {0}")]
    InvalidComponent(String),
    /// The plugin ran past its deadline and was interrupted.
    #[error("plugin `{plugin}` timed out after {deadline:?}")]
    Timeout {
        /// The plugin's name.
        plugin: String,
        /// The deadline it exceeded.
        deadline: Duration,
    },
    /// The plugin tried to grow its memory past the cap.
    #[error("plugin `{plugin}` exceeded its memory limit of {limit_bytes} bytes")]
    OutOfMemory {
        /// The plugin's name.
        plugin: String,
        /// The cap on its linear memory.
        limit_bytes: usize,
    },
    /// The plugin overflowed the wasm stack (e.g. unbounded recursion).
    #[error("plugin `{plugin}` overflowed its stack")]
    StackOverflow {
        /// The plugin's name.
        plugin: String,
    },
    /// The plugin trapped (a panic, `unreachable`, a bad memory access, …).
    #[error("plugin `{plugin}` trapped: {message}")]
    Trap {
        /// The plugin's name.
        plugin: String,
        /// The trap, with the plugin's panic message when it printed one.
        message: String,
    },
    /// The plugin returned an error of its own.
    #[error("plugin `{plugin}` failed: {}", describe(error))]
    Plugin {
        /// The plugin's name.
        plugin: String,
        /// What it reported.
        error: PluginError,
    },
    /// The plugin returned more than the host accepts.
    #[error("plugin `{plugin}` returned too much: {what}")]
    OutputTooLarge {
        /// The plugin's name.
        plugin: String,
        /// What was over which limit.
        what: String,
    },
    /// The plugin returned something malformed (a NaN statistic, a p-value outside [0, 1],
    /// a batch with the wrong number of rows, …).
    #[error("plugin `{plugin}` returned an invalid result: {what}")]
    InvalidOutput {
        /// The plugin's name.
        plugin: String,
        /// What was wrong.
        what: String,
    },
    /// A session was used after a failure left its store in an unknown state.
    #[error("plugin `{plugin}` session is unusable after an earlier failure; create a new one")]
    Poisoned {
        /// The plugin's name.
        plugin: String,
    },
    /// The budget the plugin was to run under has no instance slot left, or the runtime has
    /// no slots left to reserve for a new budget.
    #[error("{0}")]
    Capacity(String),
    /// The host itself failed (engine set-up, instantiation of a valid component).
    #[error("plugin host error: {0}")]
    Host(String),
}

impl Error {
    /// Whether the plugin is to blame (as opposed to the host or the input component).
    pub fn is_plugin_failure(&self) -> bool {
        !matches!(
            self,
            Error::InvalidComponent(_) | Error::Capacity(_) | Error::Host(_)
        )
    }

    /// A short, stable name for the kind of failure, for records and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidComponent(_) => "invalid_component",
            Error::Timeout { .. } => "timeout",
            Error::OutOfMemory { .. } => "out_of_memory",
            Error::StackOverflow { .. } => "stack_overflow",
            Error::Trap { .. } => "trap",
            Error::Plugin { .. } => "plugin_error",
            Error::OutputTooLarge { .. } => "output_too_large",
            Error::InvalidOutput { .. } => "invalid_output",
            Error::Poisoned { .. } => "poisoned",
            Error::Capacity(_) => "capacity",
            Error::Host(_) => "host",
        }
    }
}

/// A plugin's own error as a sentence (the generated type prints like Rust source).
pub fn describe(error: &PluginError) -> String {
    match error {
        PluginError::InvalidConfig(message) => format!("invalid configuration: {message}"),
        PluginError::InvalidInput(message) => format!("invalid input: {message}"),
        PluginError::Internal(message) => format!("internal error: {message}"),
    }
}

impl crate::PluginKind {
    /// The kind's name in the API and the CLI (`drift-test`, `detector`, …).
    pub fn name(self) -> &'static str {
        match self {
            crate::PluginKind::DriftTest => "drift-test",
            crate::PluginKind::Detector => "detector",
            crate::PluginKind::Preprocessor => "preprocessor",
            crate::PluginKind::Policy => "policy",
            crate::PluginKind::MultivariateDriftTest => "multivariate-drift-test",
        }
    }
}

impl std::fmt::Display for crate::PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
