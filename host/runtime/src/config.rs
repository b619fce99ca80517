use std::path::PathBuf;
use std::time::Duration;

/// How much of a pooled slot's memory stays resident between uses (see `engine_config`):
/// a small plugin's whole working set, while a large session's memory is returned.
const KEEP_RESIDENT: usize = 16 << 20;

/// Parts of one pooled component instance (see `engine_config`). A Python plugin built with
/// componentize-py links 14 core modules (CPython, libc, the WASI adapter, its runtime, the
/// plugin's bindings and shims).
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
const TABLES_PER_COMPONENT: u32 = 4;

/// Limits and engine settings. docs/security.md says what the defaults guarantee.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Wall-clock budget of one call into a plugin.
    pub deadline: Duration,
    /// How often the epoch advances; the deadline overshoots by at most about one tick.
    pub epoch_tick: Duration,
    /// Cap on a plugin's linear memory, in bytes (each plugin's default; see [`Limits`]).
    pub memory_bytes: usize,
    /// The largest memory cap a plugin may be given with [`crate::Plugin::with_limits`]: the
    /// size of a pooled slot's memory. Taken as `memory_bytes` when below it.
    pub max_memory_bytes: usize,
    /// Cap on elements in any one table.
    pub table_elements: usize,
    /// Cap on core instances in one store.
    pub instances: usize,
    /// Cap on tables in one store.
    pub tables: usize,
    /// Cap on linear memories in one store.
    pub memories: usize,
    /// Wasm stack size, in bytes.
    pub max_wasm_stack: usize,
    /// Bytes of a plugin's stdout and of its stderr kept per store (the rest is counted, then
    /// dropped).
    pub stdio_bytes: usize,
    /// Log records a plugin may emit per call; later ones are dropped and counted.
    pub log_records_per_call: usize,
    /// Longest log message kept, in bytes.
    pub log_message_bytes: usize,
    /// Longest list a plugin may return (detector positions, preprocessor rows × columns).
    pub max_output_values: usize,
    /// Longest string a plugin may return (reasons, error messages); longer ones are cut.
    pub max_output_string_bytes: usize,
    /// Use the pooling instance allocator: instance slots are reserved up front and reused,
    /// and on Linux 6.7 or later up to 16 MiB of a slot's memory stays resident between uses
    /// (only the pages a plugin dirtied are reset), so instantiating a small plugin takes a few
    /// microseconds instead of a few dozen spent in `mmap`, `madvise` and page faults. It reserves virtual address space (about
    /// 4 GiB per slot, none of it committed); if the reservation fails, the runtime falls back
    /// to allocating on demand.
    pub pooling: bool,
    /// How many plugin instances can be alive at once (each drift-test session a monitor keeps
    /// counts as one). They are shared out by budgets (see [`crate::Budget`]); with
    /// [`RuntimeConfig::pooling`] this is also the size of the pool.
    pub pooled_instances: u32,
    /// Of [`RuntimeConfig::pooled_instances`], how many form the shared budget
    /// ([`crate::Runtime::shared`]); the rest can be reserved with [`crate::Runtime::reserve`].
    pub shared_instances: u32,
    /// Make every NaN a float operation produces the canonical one. WebAssembly leaves a NaN's
    /// bits up to the hardware, so without this a plugin that inspects NaN bits could decide
    /// differently on another CPU architecture; results that are numbers, and NaNs as such,
    /// are the same either way. Off by default: it adds a compare and a select after every
    /// float operation, which made float-heavy plugins (the KS p-value) markedly slower.
    pub canonicalize_nans: bool,
    /// Directory where compiled plugins are kept between processes, so that loading the same
    /// bytes again skips compilation. `None` (the default) compiles on every load. The
    /// directory is created with mode 0700 if missing; one that others can write to is not used,
    /// since whatever is in it runs as native code. Entries are keyed by the component's sha256
    /// and by the engine's version and settings; stale ones are never read, but nothing removes
    /// them.
    pub cache_dir: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            deadline: Duration::from_secs(2),
            epoch_tick: Duration::from_millis(10),
            memory_bytes: 64 << 20,
            max_memory_bytes: 64 << 20,
            table_elements: 10_000,
            instances: 50,
            tables: 50,
            memories: 10,
            max_wasm_stack: 512 << 10,
            stdio_bytes: 64 << 10,
            log_records_per_call: 100,
            log_message_bytes: 4 << 10,
            max_output_values: 16 << 20,
            max_output_string_bytes: 64 << 10,
            pooling: true,
            pooled_instances: 1000,
            shared_instances: 32,
            canonicalize_nans: false,
            cache_dir: None,
        }
    }
}

/// The limits one plugin's calls run under (docs/security.md, "Limits of a call"). The
/// runtime's configuration gives every plugin's defaults ([`RuntimeConfig::limits`]); a caller
/// may give a plugin others with [`crate::Plugin::with_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one call.
    pub deadline: Duration,
    /// Cap on the plugin's linear memory, in bytes.
    pub memory_bytes: usize,
    /// Longest list the plugin may return.
    pub max_output_values: usize,
    /// Longest string the plugin may return; longer ones are cut.
    pub max_output_string_bytes: usize,
}

impl RuntimeConfig {
    /// Every plugin's default limits.
    pub fn limits(&self) -> Limits {
        Limits {
            deadline: self.deadline,
            memory_bytes: self.memory_bytes,
            max_output_values: self.max_output_values,
            max_output_string_bytes: self.max_output_string_bytes,
        }
    }

    /// The largest memory cap any plugin may have.
    pub fn memory_ceiling(&self) -> usize {
        self.memory_bytes.max(self.max_memory_bytes)
    }

    /// This configuration with one plugin's limits in place of the defaults.
    pub(crate) fn with_limits(&self, limits: Limits) -> RuntimeConfig {
        RuntimeConfig {
            deadline: limits.deadline,
            memory_bytes: limits.memory_bytes,
            max_output_values: limits.max_output_values,
            max_output_string_bytes: limits.max_output_string_bytes,
            ..self.clone()
        }
    }
    /// The wasmtime configuration every plugin runs under: Cranelift, epoch interruption, a
    /// bounded stack, and only the Wasm proposals Rust guests need.
    pub(crate) fn engine_config(&self, pooling: bool) -> wasmtime::Config {
        let mut config = wasmtime::Config::new();
        config
            .strategy(wasmtime::Strategy::Cranelift)
            .epoch_interruption(true)
            .max_wasm_stack(self.max_wasm_stack)
            .cranelift_nan_canonicalization(self.canonicalize_nans)
            .wasm_memory64(false)
            // Threads, GC, function references, exceptions and component-model async are
            // compiled out of wasmtime (see the workspace features); the rest is off here.
            .wasm_gc(false)
            .wasm_relaxed_simd(false)
            .wasm_stack_switching(false)
            .wasm_custom_page_sizes(false)
            .wasm_wide_arithmetic(false);
        if pooling {
            let slots = self.pooled_instances;
            let mut pool = wasmtime::PoolingAllocationConfig::default();
            // Each slot holds one component whose parts are capped, so that filling the
            // component slots is the only way to fill the pool: a budget's slot count is then
            // an exact share of it. A component built with WASI has its adapter and shims as
            // extra core instances and tables; one without has one of each; a Python one, 14.
            pool.max_memory_size(self.memory_ceiling())
                .table_elements(self.table_elements)
                .total_component_instances(slots)
                .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
                .max_tables_per_component(TABLES_PER_COMPONENT)
                .max_memories_per_component(1)
                .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
                .total_memories(slots)
                .total_tables(slots.saturating_mul(TABLES_PER_COMPONENT));
            if wasmtime::PoolingAllocationConfig::is_pagemap_scan_available() {
                // Reset only the pages a plugin dirtied (Linux 6.7's PAGEMAP_SCAN) instead of
                // `madvise`-ing the slot away and faulting it back in on the next use. Up to
                // KEEP_RESIDENT of a slot stays resident; beyond it, memory goes back to the
                // kernel. Without PAGEMAP_SCAN, keeping memory resident would mean a memset of
                // all of it on every release, so slots are released the ordinary way.
                pool.pagemap_scan(wasmtime::Enabled::Yes)
                    .linear_memory_keep_resident(self.memory_bytes.min(KEEP_RESIDENT))
                    .table_keep_resident(1 << 20);
            }
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        config
    }
}
