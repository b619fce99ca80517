//! Ways a plugin can fail, chosen by configuration, for the host's containment tests: every
//! trap kind the runtime tells apart, and a plain refusal.

use std::hint::black_box;

use schemars::JsonSchema;
use serde::Deserialize;

/// How to misbehave.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Work normally.
    Behave,
    /// Spin until the deadline interrupts.
    Loop,
    /// Allocate until the memory cap stops it.
    MemoryBomb,
    /// Recurse until the stack cap stops it.
    Recursion,
    /// Panic (a trap with a message).
    Panic,
    /// Return an error.
    Refuse,
    /// Allocate this many MiB at once (and touch them), then work normally: `allocate-N`.
    Allocate(usize),
    /// Stay busy this many milliseconds of wall-clock time, then work normally: `busy-N`
    /// (needs WASI's clock).
    Busy(u64),
}

impl Mode {
    /// The mode called `name` (kebab-case), for guests that add modes of their own.
    pub fn from_name(name: &str) -> Option<Mode> {
        use serde::de::IntoDeserializer;
        if let Some(mib) = name.strip_prefix("allocate-") {
            return mib.parse().ok().map(Mode::Allocate);
        }
        if let Some(ms) = name.strip_prefix("busy-") {
            return ms.parse().ok().map(Mode::Busy);
        }
        let name: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            name.into_deserializer();
        Mode::deserialize(name).ok()
    }
}

/// The guests' configuration.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Config {
    /// The failure mode.
    pub mode: Mode,
}

/// Misbehaves as `mode` says; returns only for `Behave` (Ok) and `Refuse` (Err).
pub fn misbehave(mode: Mode) -> Result<(), String> {
    match mode {
        Mode::Behave => Ok(()),
        Mode::Loop => {
            let mut n = 0u64;
            loop {
                n = black_box(n.wrapping_add(1));
            }
        }
        Mode::MemoryBomb => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                black_box(&hoard);
            }
        }
        Mode::Recursion => {
            black_box(recurse(black_box(1)));
            Ok(())
        }
        Mode::Panic => panic!("the hostile plugin panics on purpose"),
        Mode::Refuse => Err("refused on purpose".into()),
        Mode::Allocate(mib) => {
            black_box(vec![1u8; mib << 20]);
            Ok(())
        }
        Mode::Busy(ms) => {
            let started = std::time::Instant::now();
            while started.elapsed() < std::time::Duration::from_millis(ms) {
                black_box(started);
            }
            Ok(())
        }
    }
}

#[allow(unconditional_recursion)] // on purpose: the stack cap must stop it
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 16]);
    recurse(depth + 1) + frame[depth as usize % 16]
}
