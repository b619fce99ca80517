//! Alerts: the log, and webhooks signed with HMAC-SHA256 and retried with backoff.
//!
//! A webhook receives `POST` with a JSON body (or `{"text": …}` for Slack) and, when the
//! channel has a secret, the header `X-Vigil-Signature: sha256=<hex HMAC of the body>`.
//! Failed deliveries are retried 5 times, waiting 0.5 s and doubling.
//!
//! Alerts are recorded in the same transaction as the evaluation that fires them, each with an
//! `alert` action that delivers it (see `monitor/act.rs`); whatever a crash leaves undelivered
//! is delivered at the next start.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::monitor::spec::{Channel, WebhookFormat, shown_url};

pub const SIGNATURE_HEADER: &str = "X-Vigil-Signature";
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

#[derive(Clone, Debug)]
pub struct AlertEvent {
    pub monitor: String,
    pub monitor_id: i64,
    pub evaluation_id: Option<i64>,
    pub cause: String,
    pub message: String,
}

#[derive(Clone)]
pub struct Alerter {
    client: reqwest::Client,
}

/// A failed request, with its causes (timed out, connection refused, …), without its URL,
/// which reqwest's message would name whole.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// How the report of a delivery this replica gave up to another one starts.
pub const STOPPED: &str = "stopped: the lease on the monitor was lost";

pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn body(format: WebhookFormat, event: &AlertEvent, alert_id: i64) -> Vec<u8> {
    let value = match format {
        WebhookFormat::Json => json!({
            "id": alert_id,
            "monitor": event.monitor,
            "evaluation_id": event.evaluation_id,
            "cause": event.cause,
            "message": event.message,
            "time": vigil_store::now_ms(),
        }),
        WebhookFormat::Slack => json!({
            "text": format!("Vigil: monitor `{}` — {}: {}", event.monitor, event.cause, event.message),
        }),
    };
    serde_json::to_vec(&value).expect("JSON serialises")
}

impl Default for Alerter {
    fn default() -> Alerter {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client builds");
        Alerter { client }
    }
}

impl Alerter {
    /// Delivers an alert: logs it, and sends it to every webhook at once (one that does not
    /// answer does not hold up the others). Returns whether every channel took it, and a
    /// report per channel for the alert's `delivery`. Delivery is at least once: a webhook may
    /// see an alert twice if the daemon stopped after sending it and before recording that;
    /// the body's `id` tells repeats apart.
    pub async fn deliver_alert(
        &self,
        channels: &[Channel],
        event: &AlertEvent,
        id: i64,
    ) -> (bool, String) {
        self.deliver_alert_while(channels, event, id, &|| true)
            .await
    }

    /// [`Alerter::deliver_alert`], asking `keep_going` before each webhook attempt: a replica
    /// that lost its lease on the monitor stops retrying, and leaves the delivery to the new
    /// holder (see docs/orchestration.md, "Several replicas").
    pub async fn deliver_alert_while(
        &self,
        channels: &[Channel],
        event: &AlertEvent,
        id: i64,
        keep_going: &(dyn Fn() -> bool + Sync),
    ) -> (bool, String) {
        let mut webhooks = Vec::new();
        for channel in channels {
            match channel {
                Channel::Log => tracing::warn!(
                    alert = id,
                    monitor = %event.monitor,
                    cause = %event.cause,
                    "ALERT: {}",
                    event.message
                ),
                Channel::Webhook {
                    url,
                    secret,
                    format,
                    ..
                } => webhooks.push((url, secret.as_deref(), body(*format, event, id))),
            }
        }
        if webhooks.is_empty() {
            return (true, "logged".to_string());
        }
        let deliveries = webhooks.iter().map(|(url, secret, body)| async move {
            let outcome = self
                .deliver(&event.monitor, id, url, *secret, body, keep_going)
                .await;
            (
                outcome.is_ok(),
                format!("{}: {}", shown_url(url), outcome.unwrap_or_else(|e| e)),
            )
        });
        let outcomes = futures_util::future::join_all(deliveries).await;
        let delivered = outcomes.iter().all(|(ok, _)| *ok);
        let report: Vec<String> = outcomes.into_iter().map(|(_, report)| report).collect();
        (delivered, report.join("; "))
    }

    async fn deliver(
        &self,
        monitor: &str,
        alert: i64,
        url: &str,
        secret: Option<&str>,
        body: &[u8],
        keep_going: &(dyn Fn() -> bool + Sync),
    ) -> Result<String, String> {
        let mut wait = FIRST_BACKOFF;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            if !keep_going() {
                return Err(format!(
                    "{STOPPED} before attempt {attempt}{}",
                    if last.is_empty() {
                        String::new()
                    } else {
                        format!(" (last: {last})")
                    }
                ));
            }
            let mut request = self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
            if let Some(secret) = secret {
                request = request.header(SIGNATURE_HEADER, signature(secret, body));
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    return Ok(format!("delivered (attempt {attempt})"));
                }
                Ok(response) => last = format!("HTTP {}", response.status()),
                Err(error) => last = describe(error),
            }
            tracing::warn!(
                monitor,
                alert,
                url = %shown_url(url),
                attempt,
                error = %last,
                "webhook delivery failed"
            );
            if attempt < ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        Err(format!("failed after {ATTEMPTS} attempts: {last}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
