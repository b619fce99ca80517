//! Per-token request rate limits (docs/reliability.md, U8): a token bucket for each API token
//! and class of route, refilled continuously. Keyed by the authenticated token, so a client
//! cannot reset its bucket by changing `X-Forwarded-For` or its address.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct RateLimits {
    ingest: Rate,
    upload: Rate,
    buckets: Mutex<HashMap<(String, Class), Bucket>>,
}

impl RateLimits {
    pub fn new(ingest: Rate, upload: Rate) -> RateLimits {
        RateLimits {
            ingest,
            upload,
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from `token`'s bucket for `class`, or says how long to wait.
    pub fn check(&self, token: &str, class: Class) -> Result<(), ApiError> {
        self.check_at(token, class, Instant::now()).map_err(|wait| {
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

    fn check_at(&self, token: &str, class: Class, now: Instant) -> Result<(), Duration> {
        let rate = match class {
            Class::Ingest => self.ingest,
            Class::Upload => self.upload,
        };
        if rate.per_second <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().expect("rate limit lock");
        let bucket = buckets.entry((token.to_string(), class)).or_insert(Bucket {
            tokens: rate.burst,
            updated: now,
        });
        let refill = now.saturating_duration_since(bucket.updated).as_secs_f64() * rate.per_second;
        bucket.tokens = (bucket.tokens + refill).min(rate.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / rate.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limits = RateLimits::new(
            Rate {
                per_second: 10.0,
                burst: 3.0,
            },
            Rate {
                per_second: 0.0,
                burst: 0.0,
            },
        );
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limits.check_at("a", Class::Ingest, start).is_ok());
        }
        let wait = limits.check_at("a", Class::Ingest, start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // Another token and another class have buckets of their own; 0 means unlimited.
        assert!(limits.check_at("b", Class::Ingest, start).is_ok());
        for _ in 0..100 {
            assert!(limits.check_at("a", Class::Upload, start).is_ok());
        }
        // 10 per second: 100 ms later there is one request's worth again, and no more.
        let later = start + Duration::from_millis(100);
        assert!(limits.check_at("a", Class::Ingest, later).is_ok());
        assert!(limits.check_at("a", Class::Ingest, later).is_err());
        // A long pause refills to the burst, not beyond.
        let much_later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limits.check_at("a", Class::Ingest, much_later).is_ok());
        }
        assert!(limits.check_at("a", Class::Ingest, much_later).is_err());
    }
}
