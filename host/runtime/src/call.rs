//! Every call into a guest goes through [`guard`]: a fresh deadline, the log budget reset,
//! captured stdio forwarded, and any failure turned into a typed [`Error`].

use wasmtime::{Store, Trap};

use crate::PluginError;
use crate::config::RuntimeConfig;
use crate::error::Error;
use crate::host::StoreData;

/// Runs `f` against the store under the configured deadline.
pub fn guard<R>(
    store: &mut Store<StoreData>,
    config: &RuntimeConfig,
    plugin: &str,
    f: impl FnOnce(&mut Store<StoreData>) -> wasmtime::Result<R>,
) -> Result<R, Error> {
    let tick = config.epoch_tick.as_nanos().max(1);
    // The deadline fires at the first tick boundary at least `deadline` away; with a tick well
    // below the deadline the overshoot stays under one tick.
    let ticks = config.deadline.as_nanos().div_ceil(tick) as u64;
    store.set_epoch_deadline(ticks.max(1));
    let started = std::time::Instant::now();
    store.data_mut().begin_call(started + config.deadline);
    let outcome = f(store);
    let stderr = store.data_mut().end_call();
    let outcome = outcome.map_err(|error| classify(error, store.data(), config, plugin, &stderr));
    if let Some(observer) = &store.data().observer {
        observer.observe(&CallReport {
            plugin,
            duration: started.elapsed(),
            memory_peak_bytes: store.data().limiter.peak_bytes,
            failure: outcome.as_ref().err().map(Error::kind),
        });
    }
    outcome
}

/// What one call into a plugin took and how it ended, for a [`CallObserver`].
#[derive(Debug)]
pub struct CallReport<'a> {
    /// The plugin's name.
    pub plugin: &'a str,
    /// Wall-clock time of the call.
    pub duration: std::time::Duration,
    /// The most linear memory the plugin's instance has had so far, in bytes.
    pub memory_peak_bytes: usize,
    /// How the call failed ([`Error::kind`]: `timeout`, `out_of_memory`, `trap`, …), or `None`
    /// when it returned (a plugin's own error is a return: it is reported by the caller).
    pub failure: Option<&'static str>,
}

/// Told of every call into a plugin that carries it ([`crate::Plugin::observed_by`]): how
/// the embedder measures plugins, e.g. per plugin and monitor.
pub trait CallObserver: Send + Sync {
    /// One call ended.
    fn observe(&self, report: &CallReport<'_>);
}

/// [`guard`] for exports that return `result<T, error>`: the plugin's own error becomes
/// [`Error::Plugin`].
pub fn guard_result<R>(
    store: &mut Store<StoreData>,
    config: &RuntimeConfig,
    plugin: &str,
    f: impl FnOnce(&mut Store<StoreData>) -> wasmtime::Result<Result<R, PluginError>>,
) -> Result<R, Error> {
    guard(store, config, plugin, f)?.map_err(|error| Error::Plugin {
        plugin: plugin.to_string(),
        error: cap_plugin_error(error, config.max_output_string_bytes),
    })
}

fn classify(
    error: wasmtime::Error,
    data: &StoreData,
    config: &RuntimeConfig,
    plugin: &str,
    stderr: &str,
) -> Error {
    let plugin = plugin.to_string();
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        // Budgets keep this from happening (see `budget.rs`); kept as a last line of defence.
        return Error::Capacity(format!(
            "cannot start plugin `{plugin}`: all {} pooled instance slots are in use \
             (raise `pooled_instances`; the daemon's `plugin_instances`): {error}",
            config.pooled_instances
        ));
    }
    if error
        .downcast_ref::<crate::wasi::DeadlineExceeded>()
        .is_some()
    {
        return Error::Timeout {
            plugin,
            deadline: config.deadline,
        };
    }
    if data.limiter.memory_exceeded {
        return Error::OutOfMemory {
            plugin,
            limit_bytes: config.memory_bytes,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => Error::Timeout {
            plugin,
            deadline: config.deadline,
        },
        Some(Trap::StackOverflow) => Error::StackOverflow { plugin },
        Some(trap) => Error::Trap {
            plugin,
            message: match data.panic.clone().or_else(|| panic_message(stderr)) {
                Some(panic) => format!("{trap}; {panic}"),
                None => trap.to_string(),
            },
        },
        // A host import refused the call (a random request over its cap, say): its reason
        // first, then the context (wasm backtrace) it came through.
        None => Error::Trap {
            plugin,
            message: crate::host::truncate(&format!("{}; in {error}", error.root_cause()), 2048)
                .to_string(),
        },
    }
}

/// A Rust guest not built with the SDK's panic hook prints `thread '…' panicked at
/// FILE:LINE:COL:` then the message to stderr before it aborts.
fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at"));
    let location = lines.next()?;
    let message: Vec<&str> = lines.take_while(|l| !l.starts_with("note:")).collect();
    let location = location.split("panicked at").nth(1).unwrap_or("").trim();
    let text = format!("panicked at {location} {}", message.join(" "));
    Some(crate::host::truncate(text.trim(), 1024).to_string())
}

fn cap_plugin_error(error: PluginError, max: usize) -> PluginError {
    let cap = |m: String| crate::host::truncate(&m, max).to_string();
    match error {
        PluginError::InvalidConfig(m) => PluginError::InvalidConfig(cap(m)),
        PluginError::InvalidInput(m) => PluginError::InvalidInput(cap(m)),
        PluginError::Internal(m) => PluginError::Internal(cap(m)),
    }
}

/// Whether a failure may have left the store's instance in an unknown state.
pub fn poisons(error: &Error) -> bool {
    !matches!(error, Error::Plugin { .. } | Error::InvalidOutput { .. })
}
