//! Per-token request rate limits (docs/reliability.md, U8): a token bucket (governor's GCRA)
//! for each API token and class of route. Keyed by the authenticated token's id, so a client
//! cannot reset its bucket by changing `X-Forwarded-For` or its address. Buckets back at their
//! full burst are forgotten now and then, so the state is as small as the set of tokens in
//! recent use, however many tokens come and go.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use axum::http::StatusCode;

use super::error::ApiError;

/// The routes that are limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Records and labels.
    Ingest,
    /// Plugin uploads (each is compiled).
    Upload,
}

/// A sustained rate and a burst; a rate of 0 turns the limit off.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

type Limiter<C> =
    RateLimiter<String, HashMapStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Checks between two sweeps of the buckets back at their full burst.
const SWEEP_EVERY: u64 = 1024;

pub struct RateLimits<C: Clock = DefaultClock> {
    ingest: Option<Limiter<C>>,
    upload: Option<Limiter<C>>,
    clock: C,
    checks: AtomicU64,
}

impl RateLimits {
    pub fn new(ingest: Rate, upload: Rate) -> RateLimits {
        RateLimits::with_clock(ingest, upload, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    fn with_clock(ingest: Rate, upload: Rate, clock: C) -> RateLimits<C> {
        let limiter = |rate: Rate| {
            quota(rate).map(|quota| RateLimiter::hashmap_with_clock(quota, clock.clone()))
        };
        RateLimits {
            ingest: limiter(ingest),
            upload: limiter(upload),
            clock: clock.clone(),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request from `token`'s bucket for `class`, or says how long to wait.
    pub fn check(&self, token: &str, class: Class) -> Result<(), ApiError> {
        self.check_now(token, class).map_err(|wait| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "this token's rate limit for {} is reached; retry in {} ms",
                    match class {
                        Class::Ingest => "ingestion",
                        Class::Upload => "plugin uploads",
                    },
                    wait.as_millis().max(1)
                ),
            )
            .retry_after(wait)
        })
    }

    fn check_now(&self, token: &str, class: Class) -> Result<(), Duration> {
        let limiter = match class {
            Class::Ingest => &self.ingest,
            Class::Upload => &self.upload,
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.forget_idle();
        }
        limiter
            .check_key(&token.to_string())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets the buckets back at their full burst: they are the same as new ones.
    fn forget_idle(&self) {
        for limiter in [&self.ingest, &self.upload].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Buckets held now, over both classes.
    #[cfg(test)]
    fn buckets(&self) -> usize {
        [&self.ingest, &self.upload]
            .into_iter()
            .flatten()
            .map(|limiter| limiter.len())
            .sum()
    }
}

/// A quota of `per_second` sustained with a burst of `burst`; none when the rate is 0.
fn quota(rate: Rate) -> Option<Quota> {
    if rate.per_second <= 0.0 {
        return None;
    }
    let burst = NonZeroU32::new(rate.burst.clamp(1.0, u32::MAX as f64) as u32)?;
    Some(Quota::with_period(Duration::from_secs_f64(1.0 / rate.per_second))?.allow_burst(burst))
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limits(clock: &FakeRelativeClock) -> RateLimits<FakeRelativeClock> {
        RateLimits::with_clock(
            Rate {
                per_second: 10.0,
                burst: 3.0,
            },
            Rate {
                per_second: 0.0,
                burst: 0.0,
            },
            clock.clone(),
        )
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let clock = FakeRelativeClock::default();
        let limits = limits(&clock);
        for _ in 0..3 {
            assert!(limits.check_now("a", Class::Ingest).is_ok());
        }
        let wait = limits.check_now("a", Class::Ingest).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        // Another token and another class have buckets of their own; 0 means unlimited.
        assert!(limits.check_now("b", Class::Ingest).is_ok());
        for _ in 0..100 {
            assert!(limits.check_now("a", Class::Upload).is_ok());
        }
        // 10 per second: 100 ms later there is one request's worth again, and no more.
        clock.advance(Duration::from_millis(100));
        assert!(limits.check_now("a", Class::Ingest).is_ok());
        assert!(limits.check_now("a", Class::Ingest).is_err());
        // A long pause refills to the burst, not beyond.
        clock.advance(Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limits.check_now("a", Class::Ingest).is_ok());
        }
        assert!(limits.check_now("a", Class::Ingest).is_err());
    }

    #[test]
    fn buckets_of_tokens_gone_quiet_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let limits = limits(&clock);
        for token in 0..10_000 {
            limits
                .check_now(&format!("t{token}"), Class::Ingest)
                .unwrap();
        }
        // A bucket refilled to its burst (300 ms at 10 a second, and a little more for the
        // request itself) is the same as a new one, and goes at the next sweep.
        clock.advance(Duration::from_secs(1));
        limits.check_now("busy", Class::Ingest).unwrap();
        limits.forget_idle();
        assert_eq!(limits.buckets(), 1);
        // Sweeps happen on their own as requests come.
        clock.advance(Duration::from_secs(1));
        for _ in 0..SWEEP_EVERY {
            let _ = limits.check_now("busy", Class::Ingest);
        }
        assert!(limits.buckets() <= 1, "{}", limits.buckets());
    }
}
