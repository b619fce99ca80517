//! A drift test that spends its time inside WASI's imports instead of in its own code, each
//! way a plugin built with WASI can: sleeping, polling or blocking on clocks and on its
//! standard streams, and asking for randomness. Epoch interruption does not fire while the
//! host runs an import, so these check that the host bounds every one of them by the call's
//! deadline (docs/reliability.md, W4).

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{ColumnData, ColumnKind, DriftResult, DriftTest, Result, ScoreKind};
use wasip2::cli::{stdin, stdout};
use wasip2::clocks::monotonic_clock;
use wasip2::io::poll;

/// Where to spend the time.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `std::thread::sleep` for 30 s.
    Sleep,
    /// `std::thread::sleep` for 1 ms, forever.
    SleepLoop,
    /// `wasi:io/poll.poll` on a 30 s clock subscription.
    PollClock,
    /// `poll` on an instant that never comes.
    PollNever,
    /// `pollable.block` on a 30 s clock subscription.
    BlockClock,
    /// `pollable.block` on an instant that never comes, in a loop.
    BlockNever,
    /// `input-stream.blocking-read` on stdin, forever.
    StdinRead,
    /// `pollable.block` on stdin's readiness, forever.
    StdinBlock,
    /// `output-stream.blocking-write-and-flush` on stdout, forever.
    StdoutWrite,
    /// `poll` on stdout's readiness, forever.
    StdoutPoll,
    /// `monotonic-clock.now`, forever.
    ClockSpin,
    /// `get-random-bytes` of 1 GiB.
    HugeRandom,
    /// Return the first `get-random-u64` as the statistic, to see it repeat.
    Random,
}

/// Configuration: where to spend the time.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Config {
    /// What `evaluate` does.
    pub mode: Mode,
}

/// The test.
pub struct HostileWasi {
    mode: Mode,
}

const LONG: Duration = Duration::from_secs(30);

impl DriftTest for HostileWasi {
    type Config = Config;
    const DESCRIPTION: &'static str = "Waits inside WASI imports on purpose (deadline tests)";
    const COLUMN_KINDS: &'static [ColumnKind] = &[ColumnKind::Numeric, ColumnKind::Categorical];
    const SCORE: ScoreKind = ScoreKind::PValue;

    fn new(_reference: ColumnData, config: Config) -> Result<Self> {
        Ok(HostileWasi { mode: config.mode })
    }

    fn evaluate(&self, current: ColumnData) -> Result<DriftResult> {
        let mut statistic = current.len() as f64;
        match self.mode {
            Mode::Sleep => std::thread::sleep(LONG),
            Mode::SleepLoop => loop {
                std::thread::sleep(Duration::from_millis(1));
            },
            Mode::PollClock => {
                let clock = monotonic_clock::subscribe_duration(LONG.as_nanos() as u64);
                poll::poll(&[&clock]);
            }
            Mode::PollNever => {
                let never = monotonic_clock::subscribe_instant(u64::MAX);
                poll::poll(&[&never]);
            }
            Mode::BlockClock => {
                monotonic_clock::subscribe_duration(LONG.as_nanos() as u64).block();
            }
            Mode::BlockNever => loop {
                monotonic_clock::subscribe_instant(u64::MAX).block();
            },
            Mode::StdinRead => {
                let input = stdin::get_stdin();
                loop {
                    let _ = std::hint::black_box(input.blocking_read(1 << 16));
                }
            }
            Mode::StdinBlock => {
                let input = stdin::get_stdin();
                loop {
                    input.subscribe().block();
                }
            }
            Mode::StdoutWrite => {
                let output = stdout::get_stdout();
                loop {
                    let _ = std::hint::black_box(output.blocking_write_and_flush(&[b'x'; 4096]));
                }
            }
            Mode::StdoutPoll => {
                let output = stdout::get_stdout();
                loop {
                    poll::poll(&[&output.subscribe()]);
                }
            }
            Mode::ClockSpin => loop {
                std::hint::black_box(monotonic_clock::now());
            },
            Mode::HugeRandom => {
                statistic = wasip2::random::random::get_random_bytes(1 << 30).len() as f64;
            }
            Mode::Random => {
                statistic = (wasip2::random::random::get_random_u64() >> 11) as f64;
            }
        }
        Ok(DriftResult {
            statistic,
            p_value: Some(1.0),
            threshold: 0.05,
            drifted: false,
        })
    }
}

vigil_plugin_sdk::export_drift_test!(HostileWasi);
