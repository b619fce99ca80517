//! The state every store carries, and the `host` interface plugins may import.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::WasiCtx;

use crate::bindings::host::{Host, Level};
use crate::budget::Slot;
use crate::config::RuntimeConfig;
use crate::limits::Limiter;
use crate::output::CappedOutput;
use crate::wasi::Randomness;

pub struct StoreData {
    pub plugin: Arc<str>,
    pub limiter: Limiter,
    pub stdout: CappedOutput,
    pub stderr: CappedOutput,
    pub random: Randomness,
    /// When the current call must end; WASI imports that wait give up then (see `wasi.rs`).
    deadline: Instant,
    /// The budget slot this instance holds, and whose log allowance it draws on.
    slot: Slot,
    /// Built on the first WASI call: plugins built without WASI never pay for it.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
    /// The panic message an SDK guest logged in the current call, if any.
    pub panic: Option<String>,
    /// Told of every call (see [`crate::CallObserver`]).
    pub observer: Option<Arc<dyn crate::CallObserver>>,
    log_budget: usize,
    log_dropped: u64,
    log_records_per_call: usize,
    log_message_bytes: usize,
}

impl StoreData {
    pub fn new(plugin: Arc<str>, config: &RuntimeConfig, slot: Slot) -> Self {
        StoreData {
            plugin,
            limiter: Limiter {
                memory_bytes: config.memory_bytes,
                table_elements: config.table_elements,
                instances: config.instances,
                tables: config.tables,
                memories: config.memories,
                memory_exceeded: false,
                peak_bytes: 0,
            },
            stdout: CappedOutput::new(config.stdio_bytes),
            stderr: CappedOutput::new(config.stdio_bytes),
            random: Randomness::new(),
            deadline: Instant::now() + config.deadline,
            slot,
            wasi: None,
            table: ResourceTable::new(),
            panic: None,
            observer: None,
            log_budget: config.log_records_per_call,
            log_dropped: 0,
            log_records_per_call: config.log_records_per_call,
            log_message_bytes: config.log_message_bytes,
        }
    }

    /// Called before each call into the guest.
    pub fn begin_call(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.random.restart();
        self.panic = None;
        self.log_budget = self.log_records_per_call;
        self.log_dropped = 0;
    }

    /// Called after each call: forwards captured stdio into tracing, within the budget's log
    /// allowance. Returns the stderr text, which holds a Rust guest's panic message.
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
        let out = out.trim_end();
        let kept = self.slot.budget().take_output(out.len());
        if kept > 0 || out_dropped > 0 {
            let text = one_line(truncate(out, kept));
            tracing::info!(plugin, owner = self.slot.budget().owner(), dropped_bytes = out_dropped, stdout = %text, "plugin stdout");
        }
        let (err, err_dropped) = self.stderr.take();
        let trimmed = err.trim_end();
        let kept = self.slot.budget().take_output(trimmed.len());
        if kept > 0 || err_dropped > 0 {
            let text = one_line(truncate(trimmed, kept));
            tracing::warn!(plugin, owner = self.slot.budget().owner(), dropped_bytes = err_dropped, stderr = %text, "plugin stderr");
        }
        err
    }

    pub fn deadline_and_table(&mut self) -> (Instant, &mut ResourceTable) {
        (self.deadline, &mut self.table)
    }

    pub fn wasi_parts(&mut self) -> (&mut WasiCtx, &mut ResourceTable) {
        if self.wasi.is_none() {
            self.wasi = Some(crate::wasi::context(self));
        }
        let ctx = self.wasi.as_mut().expect("built above");
        (ctx, &mut self.table)
    }
}

impl Host for StoreData {
    fn log(&mut self, level: Level, message: String) {
        // The SDK's panic hook reports here (see the WIT `log`); kept apart from the budget so
        // that a plugin that logged a lot still gets its panic message attached to the trap.
        if matches!(level, Level::Error) && message.starts_with("panicked at ") {
            self.panic = Some(truncate(&message, 1024).to_string());
        }
        let message = truncate(&message, self.log_message_bytes);
        if self.log_budget == 0 {
            self.log_dropped += 1;
            self.slot.budget().drop_output(message.len());
            return;
        }
        if self.slot.budget().take_output(message.len()) < message.len() {
            self.log_dropped += 1;
            return;
        }
        self.log_budget -= 1;
        let message = one_line(message);
        let plugin = &*self.plugin;
        let owner = self.slot.budget().owner();
        match level {
            Level::Trace => tracing::trace!(plugin, owner, "{message}"),
            Level::Debug => tracing::debug!(plugin, owner, "{message}"),
            Level::Info => tracing::info!(plugin, owner, "{message}"),
            Level::Warn => tracing::warn!(plugin, owner, "{message}"),
            Level::Error => tracing::error!(plugin, owner, "{message}"),
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

/// A plugin's text as one log line: line breaks and other control characters are escaped, so
/// a plugin cannot start a line of its own and pass it off as the host's.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut line = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    Cow::Owned(line)
}

/// Components built for `vigil:plugin@0.1.0` import its `host`, the same `log`.
impl crate::bindings::v0_1::drift::vigil::plugin::host::Host for StoreData {
    fn log(
        &mut self,
        level: crate::bindings::v0_1::drift::vigil::plugin::host::Level,
        message: String,
    ) {
        use crate::bindings::v0_1::drift::vigil::plugin::host::Level as Old;
        let level = match level {
            Old::Trace => Level::Trace,
            Old::Debug => Level::Debug,
            Old::Info => Level::Info,
            Old::Warn => Level::Warn,
            Old::Error => Level::Error,
        };
        Host::log(self, level, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_text_stays_on_one_line() {
        assert!(matches!(one_line("plain text"), Cow::Borrowed(_)));
        let forged = "ok\n2026-12-06T00:00:00Z  INFO vigil: alert cleared\r\u{1b}[2K\u{85}";
        let line = one_line(forged);
        assert!(!line.chars().any(char::is_control), "{line}");
        assert_eq!(
            line,
            "ok\\n2026-12-06T00:00:00Z  INFO vigil: alert cleared\\r\\u{1b}[2K\\u{85}"
        );
    }
}
