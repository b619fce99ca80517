//! Per-store resource caps. Unlike `wasmtime::StoreLimits` this remembers that a memory cap was
//! hit, so the resulting trap can be reported as [`crate::Error::OutOfMemory`].

use wasmtime::ResourceLimiter;

pub struct Limiter {
    pub memory_bytes: usize,
    pub table_elements: usize,
    pub instances: usize,
    pub tables: usize,
    pub memories: usize,
    pub memory_exceeded: bool,
    /// The most linear memory the store has had, in bytes.
    pub peak_bytes: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_exceeded = true;
            // An error (not `Ok(false)`) traps at once instead of letting the guest's allocator
            // turn the failure into an abort with a less useful message.
            return Err(wasmtime::format_err!(
                "memory limit of {} bytes exceeded ({desired} bytes requested)",
                self.memory_bytes
            ));
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            return Err(wasmtime::format_err!(
                "table limit of {} elements exceeded ({desired} requested)",
                self.table_elements
            ));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}
