//! The state every store carries, and the `host` interface plugins may import.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::host::{Host, Level};
use crate::config::RuntimeConfig;
use crate::limits::Limiter;
use crate::output::CappedOutput;

pub struct StoreData {
    pub plugin: Arc<str>,
    pub limiter: Limiter,
    pub stdout: CappedOutput,
    pub stderr: CappedOutput,
    /// Built on the first WASI call: plugins built without WASI never pay for it.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
    /// The panic message an SDK guest logged in the current call, if any.
    pub panic: Option<String>,
    log_budget: usize,
    log_dropped: u64,
    log_records_per_call: usize,
    log_message_bytes: usize,
}

impl StoreData {
    pub fn new(plugin: Arc<str>, config: &RuntimeConfig) -> Self {
        StoreData {
            plugin,
            limiter: Limiter {
                memory_bytes: config.memory_bytes,
                table_elements: config.table_elements,
                instances: config.instances,
                tables: config.tables,
                memories: config.memories,
                memory_exceeded: false,
            },
            stdout: CappedOutput::new(config.stdio_bytes),
            stderr: CappedOutput::new(config.stdio_bytes),
            wasi: None,
            table: ResourceTable::new(),
            panic: None,
            log_budget: config.log_records_per_call,
            log_dropped: 0,
            log_records_per_call: config.log_records_per_call,
            log_message_bytes: config.log_message_bytes,
        }
    }

    /// Called before each call into the guest.
    pub fn begin_call(&mut self) {
        self.panic = None;
        self.log_budget = self.log_records_per_call;
        self.log_dropped = 0;
    }

    /// Called after each call: forwards captured stdio into tracing.
    /// Returns the stderr text, which holds a Rust guest's panic message.
    pub fn end_call(&mut self) -> String {
        let plugin = &*self.plugin;
        if self.log_dropped > 0 {
            tracing::warn!(
                plugin,
                dropped = self.log_dropped,
                "plugin log records dropped"
            );
        }
        let (out, out_dropped) = self.stdout.take();
        if !out.is_empty() || out_dropped > 0 {
            tracing::info!(plugin, dropped_bytes = out_dropped, stdout = %out.trim_end(), "plugin stdout");
        }
        let (err, err_dropped) = self.stderr.take();
        if !err.is_empty() || err_dropped > 0 {
            tracing::warn!(plugin, dropped_bytes = err_dropped, stderr = %err.trim_end(), "plugin stderr");
        }
        err
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (stdout, stderr) = (&self.stdout, &self.stderr);
        let ctx = self.wasi.get_or_insert_with(|| {
            // Nothing is granted: no preopened directories, environment, arguments or sockets.
            // Randomness is a fixed stream so that a run can be replayed bit for bit.
            WasiCtx::builder()
                .stdout(stdout.clone())
                .stderr(stderr.clone())
                .secure_random(wasmtime_wasi::Deterministic::new(vec![0x5a; 32]))
                .insecure_random(wasmtime_wasi::Deterministic::new(vec![0xa5; 32]))
                .insecure_random_seed(0)
                .allow_blocking_current_thread(true)
                .build()
        });
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}

impl Host for StoreData {
    fn log(&mut self, level: Level, message: String) {
        // The SDK's panic hook reports here (see the WIT `log`); kept apart from the budget so
        // that a plugin that logged a lot still gets its panic message attached to the trap.
        if matches!(level, Level::Error) && message.starts_with("panicked at ") {
            self.panic = Some(truncate(&message, 1024).to_string());
        }
        if self.log_budget == 0 {
            self.log_dropped += 1;
            return;
        }
        self.log_budget -= 1;
        let message = truncate(&message, self.log_message_bytes);
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
