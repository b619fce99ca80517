//! Retrying transient API errors: capped exponential backoff with jitter, never a hot loop.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};

/// How transient API errors (5xx other than a schema rejection, 429, connection errors) are
/// retried: the first delay is `base`, each next one doubles up to `cap`, and each is cut by
/// a random share of up to half (jitter, so that replicas do not retry in step). After
/// `retries` retries the operation fails with [`crate::Error::Unavailable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub retries: usize,
}

impl Default for RetryPolicy {
    /// 1 s doubling to 60 s, 8 retries: about 3 minutes before giving up.
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            retries: 8,
        }
    }
}

impl RetryPolicy {
    fn builder(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.base)
            .with_max_delay(self.cap)
            .with_factor(2.0)
            .with_max_times(self.retries)
    }

    /// The delays between attempts, jitter applied.
    pub(crate) fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        self.builder().build().map(jitter)
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are spent; returns the
    /// last error then. `what` names the request in the log (never its body).
    pub(crate) async fn run<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        attempt
            .retry(self.builder())
            .sleep(tokio::time::sleep)
            .when(is_transient)
            .adjust(|err, delay| {
                // The server's Retry-After (sent with 429), within the cap; else the backoff.
                let delay = delay?;
                match retry_after(err) {
                    Some(server) => Some(server.min(self.cap).max(delay)),
                    None => Some(jitter(delay)),
                }
            })
            .notify(|err, delay| {
                tracing::warn!(request = what, error = %describe(err), ?delay, "Kubernetes API error, retrying");
            })
            .await
    }
}

/// Cuts `delay` by a random share of up to half.
fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(1.0 - fastrand::f64() / 2.0)
}

fn retry_after(err: &kube::Error) -> Option<Duration> {
    match err {
        kube::Error::Api(status) => status
            .details
            .as_ref()
            .map(|details| details.retry_after_seconds)
            .filter(|seconds| *seconds > 0)
            .map(|seconds| Duration::from_secs(seconds.into())),
        _ => None,
    }
}

/// Whether `err` may go away on its own: the server overloaded or failing (429, 5xx), or the
/// connection lost. A 500 from server-side apply that rejects a field the server's schema
/// lacks is permanent (an API older than the field), as are all other 4xx.
pub(crate) fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => {
            status.code == 429 || (status.code >= 500 && !is_schema_rejection(&status.message))
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

fn is_schema_rejection(message: &str) -> bool {
    message.contains("field not declared in schema")
        || message.contains("failed to create typed patch object")
}

/// A one-line description of `err` for people: the status code, reason and message of an API
/// error rather than kube's debug dump.
pub(crate) fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() {
                String::new()
            } else {
                format!(" {}", status.reason)
            };
            format!("HTTP {}{reason}: {}", status.code, status.message)
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: message.to_string(),
            ..Default::default()
        }))
    }

    #[test]
    fn transient_errors_are_told_apart() {
        assert!(is_transient(&api_error(429, "slow down")));
        assert!(is_transient(&api_error(
            500,
            "etcdserver: request timed out"
        )));
        assert!(is_transient(&api_error(503, "unavailable")));
        assert!(!is_transient(&api_error(
            500,
            "failed to create typed patch object: .spec.suspend: field not declared in schema"
        )));
        for code in [400, 401, 403, 404, 409, 422] {
            assert!(!is_transient(&api_error(code, "no")), "{code}");
        }
        let refused = kube::Error::Service("connection refused".into());
        assert!(is_transient(&refused));
    }

    #[test]
    fn delays_double_to_the_cap_with_jitter_below_each_step() {
        let policy = RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(10),
            retries: 6,
        };
        let delays: Vec<Duration> = policy.delays().collect();
        assert_eq!(delays.len(), 6);
        let steps = [1, 2, 4, 8, 10, 10];
        for (delay, step) in delays.iter().zip(steps) {
            let step = Duration::from_secs(step);
            assert!(
                *delay <= step && *delay >= step / 2,
                "{delay:?} vs {step:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_then_gives_up_and_stops_at_permanent_ones() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(400),
            retries: 3,
        };
        let mut calls = 0;
        let result: Result<(), _> = policy
            .run("test", || {
                calls += 1;
                async { Err(api_error(503, "down")) }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls, 4, "one attempt and three retries");

        let mut calls = 0;
        let result: Result<(), _> = policy
            .run("test", || {
                calls += 1;
                async { Err(api_error(403, "forbidden")) }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls, 1, "a permanent error is not retried");

        let mut calls = 0;
        let result = policy
            .run("test", || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(api_error(500, "hiccup"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(result.unwrap(), 3);
    }
}
