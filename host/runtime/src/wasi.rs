//! WASI as a plugin built with it sees it: nothing granted, randomness that starts over at every
//! call, and no import that can block past the deadline of the call into the plugin.
//!
//! Epoch interruption stops guest code only while guest code runs. A guest that sleeps
//! (`std::thread::sleep`), or polls or blocks on a clock, waits inside the host, where no epoch
//! check fires. Every WASI import that can wait does so in `wasi:io/poll` (`poll`, and
//! `pollable.block`; the blocking stream operations wait there too, and a plugin's stdin is
//! closed and its stdout and stderr never wait). Those two are replaced here by versions that
//! give up at the call's deadline, which is then reported as a timeout like any other.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rand_core::TryRng;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};
use wasmtime_wasi_io::poll::DynPollable;

use crate::host::StoreData;

/// The `wasi:io/poll` instance wasmtime-wasi defines; components importing any 0.2 version of
/// it are linked to it.
const POLL: &str = "wasi:io/poll@0.2.12";

/// Largest `get-random-bytes` request (docs/reliability.md, W6).
const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// Where a call into a plugin ran out of time inside a host import.
#[derive(Debug)]
pub struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call's deadline passed while the plugin waited in a WASI import")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// Links WASI, with the waiting imports bounded by the call's deadline.
pub fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    let mut poll = linker.instance(POLL)?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, StoreData>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let (deadline, table) = store.data_mut().deadline_and_table();
            until(deadline, table.poll(pollables)).map(|ready| (ready,))
        },
    )?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, StoreData>, (pollable,): (Resource<DynPollable>,)| {
            let (deadline, table) = store.data_mut().deadline_and_table();
            until(deadline, table.block(pollable))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Runs a WASI future to completion, or fails with [`DeadlineExceeded`] at `deadline`.
fn until<R>(
    deadline: Instant,
    work: impl Future<Output = wasmtime::Result<R>>,
) -> wasmtime::Result<R> {
    wasmtime_wasi::runtime::in_tokio(async move {
        match tokio::time::timeout_at(deadline.into(), work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(wasmtime::Error::new(DeadlineExceeded)),
        }
    })
}

/// The WASI context of a plugin's store: no directories, environment, arguments or network
/// (no TCP or UDP socket, no name lookup, no address allowed); stdout and stderr captured;
/// random streams that restart at every call.
pub fn context(data: &StoreData) -> WasiCtx {
    WasiCtx::builder()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(std::future::ready(false)))
        .stdout(data.stdout.clone())
        .stderr(data.stderr.clone())
        .secure_random(data.random.secure.clone())
        .insecure_random(data.random.insecure.clone())
        .insecure_random_seed(u128::from(CallRandom::INSECURE_SEED))
        .max_random_size(MAX_RANDOM_BYTES)
        .allow_blocking_current_thread(true)
        .build()
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (ctx, table) = self.wasi_parts();
        WasiCtxView { ctx, table }
    }
}

/// A plugin's two random streams (`wasi:random/random` and `wasi:random/insecure`).
#[derive(Clone)]
pub struct Randomness {
    secure: CallRandom,
    insecure: CallRandom,
}

impl Randomness {
    pub fn new() -> Randomness {
        Randomness {
            secure: CallRandom::new(CallRandom::SECURE_SEED),
            insecure: CallRandom::new(CallRandom::INSECURE_SEED),
        }
    }

    /// Both streams start over: the next call sees the same numbers as every other call.
    pub fn restart(&self) {
        self.secure.restart();
        self.insecure.restart();
    }
}

/// SplitMix64 from a fixed seed, restarted at every call so that a plugin's output depends on
/// its input alone and a stored evaluation can be replayed bit for bit. Statistically sound
/// for sampling and shuffling; not secret, which a drift test has no use for.
#[derive(Clone)]
pub struct CallRandom {
    seed: u64,
    state: Arc<AtomicU64>,
}

impl CallRandom {
    const SECURE_SEED: u64 = 0x5eed_0f5e_c07e_5eed;
    const INSECURE_SEED: u64 = 0x1a5e_c07e_5eed_0f1a;

    fn new(seed: u64) -> CallRandom {
        CallRandom {
            seed,
            state: Arc::new(AtomicU64::new(seed)),
        }
    }

    fn restart(&self) {
        self.state.store(self.seed, Ordering::Relaxed);
    }
}

impl TryRng for CallRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.try_next_u64().map(|n| (n >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut z = self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn randomness_restarts_and_the_streams_differ() {
        let randomness = Randomness::new();
        let mut secure = randomness.secure.clone();
        let mut insecure = randomness.insecure.clone();
        let mut first = [0u8; 20];
        secure.try_fill_bytes(&mut first).unwrap();
        let mut second = [0u8; 20];
        secure.try_fill_bytes(&mut second).unwrap();
        assert_ne!(first, second, "a stream moves on within a call");
        randomness.restart();
        let mut again = [0u8; 20];
        secure.try_fill_bytes(&mut again).unwrap();
        assert_eq!(first, again, "and starts over at the next");
        randomness.restart();
        assert_ne!(
            secure.try_next_u64().unwrap(),
            insecure.try_next_u64().unwrap()
        );
        // SplitMix64's published first output for seed 0 (Vigna's reference code).
        let mut zero = CallRandom::new(0);
        assert_eq!(zero.try_next_u64().unwrap(), 0xe220_a839_7b1d_cdaf);
    }
}
