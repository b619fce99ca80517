//! Webhook credentials are write-only: hidden in every spec the daemon shows, and put back
//! from the stored spec when one comes back as it was shown.

use super::{Channel, MonitorSpec};

/// What the API shows of a webhook URL: its origin, then `/…` and a short fingerprint of the
/// whole URL when there is more to it. The rest can be a credential (a Slack incoming
/// webhook's path is its secret); the fingerprint tells two URLs of one origin apart, so that
/// a spec sent back as shown keeps each channel's own URL (see
/// [`MonitorSpec::restore_credentials`]).
pub fn shown_url(url: &str) -> String {
    use sha2::Digest as _;
    let fingerprint = &hex::encode(sha2::Sha256::digest(url.as_bytes()))[..8];
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let origin = parsed.origin().ascii_serialization();
            if url == format!("{origin}/") {
                url.to_string()
            } else {
                format!("{origin}/…{fingerprint}")
            }
        }
        Err(_) => format!("…{fingerprint}"),
    }
}

/// Hides webhook credentials in a spec about to leave the daemon (an API answer, or a stored
/// evaluation): each webhook channel shows its URL's origin only ([`shown_url`]) and says
/// `"signed": true|false` instead of its secret. Credentials are write-only: no role reads
/// them back.
pub fn redact(spec: &mut serde_json::Value) {
    let Some(channels) = spec
        .pointer_mut("/alerts/channels")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return;
    };
    for channel in channels {
        let Some(fields) = channel.as_object_mut() else {
            continue;
        };
        let secret = fields.remove("secret");
        if let Some(url) = fields.get_mut("url")
            && let Some(text) = url.as_str()
        {
            *url = shown_url(text).into();
        }
        if fields.get("type").and_then(serde_json::Value::as_str) == Some("webhook") {
            let signed = secret.is_some_and(|s| s.as_str().is_some_and(|s| !s.is_empty()));
            fields.insert("signed".into(), signed.into());
        }
    }
}

impl MonitorSpec {
    /// A spec's JSON as the API shows it: with webhook secrets hidden.
    pub fn redacted(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("a spec serialises");
        redact(&mut value);
        value
    }

    /// Puts back the webhook credentials a spec read from the API cannot carry: a URL shown
    /// as its origin and `/…` becomes the stored URL it stands for, and a webhook sent without
    /// a secret keeps the one stored for the same URL (an empty secret removes it). `stored`
    /// is the monitor's spec before an update (`None` on create). A shown URL that stands for
    /// no stored one is refused, naming the field.
    pub fn restore_credentials(&mut self, stored: Option<&MonitorSpec>) -> Result<(), String> {
        let stored_webhooks: Vec<(&String, &Option<String>)> = stored
            .map(|spec| {
                spec.alerts
                    .channels
                    .iter()
                    .filter_map(|channel| match channel {
                        Channel::Webhook { url, secret, .. } => Some((url, secret)),
                        Channel::Log => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Each stored webhook stands for at most one channel sent back.
        let mut taken = vec![false; stored_webhooks.len()];
        for (i, channel) in self.alerts.channels.iter_mut().enumerate() {
            let Channel::Webhook {
                url,
                secret,
                signed,
                ..
            } = channel
            else {
                continue;
            };
            // Only ever shown, never taken: what counts is whether a secret is stored.
            *signed = false;
            let shown = url.contains('…');
            let stored = (0..stored_webhooks.len()).find(|&j| {
                !taken[j]
                    && if shown {
                        shown_url(stored_webhooks[j].0) == *url
                    } else {
                        stored_webhooks[j].0 == url
                    }
            });
            match stored {
                Some(j) => {
                    taken[j] = true;
                    if shown {
                        *url = stored_webhooks[j].0.clone();
                    }
                    if secret.is_none() {
                        *secret = stored_webhooks[j].1.clone();
                    }
                }
                None if shown => {
                    return Err(format!(
                        "alerts.channels[{i}].url: `{url}` stands for a URL the API does not \
                         show, and this monitor has none like it; give the whole URL"
                    ));
                }
                None => {}
            }
            if secret.as_deref() == Some("") {
                *secret = None;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_webhooks_origin_is_shown_and_it_maps_back() {
        let slack = "https://hooks.slack.com/services/T000/B000/SLACKPATHSECRET?x=1";
        let shown = shown_url(slack);
        assert!(shown.starts_with("https://hooks.slack.com/…"), "{shown}");
        assert_eq!(shown.len(), "https://hooks.slack.com/…".len() + 8);
        assert_ne!(shown_url("https://hooks.slack.com/other"), shown);
        assert!(shown_url("http://user:pw@127.0.0.1:9/").starts_with("http://127.0.0.1:9/…"));
        assert!(shown_url("http://host:9/#fragment").starts_with("http://host:9/…"));
        assert_eq!(shown_url("http://host:9/"), "http://host:9/");
        assert!(shown_url("not a url").starts_with('…'));

        let mut stored: MonitorSpec = serde_json::from_value(serde_json::json!({
            "name": "m", "model": "churn", "window": {"records": 100},
            "features": [{"name": "age", "type": "numeric"}],
            "alerts": {"channels": [
                {"type": "webhook", "url": slack, "secret": "s", "format": "slack"},
                {"type": "webhook", "url": "https://hooks.slack.com/services/B", "secret": "b"},
                {"type": "webhook", "url": "http://user@other.example/"},
                {"type": "webhook", "url": "https://other.example/hook"},
            ]},
        }))
        .unwrap();
        stored.restore_credentials(None).unwrap();
        let mut shown = stored.redacted();
        assert!(!shown.to_string().contains("SLACKPATHSECRET"), "{shown}");
        assert_eq!(shown["alerts"]["channels"][0]["signed"], true);
        let mut back: MonitorSpec = serde_json::from_value(shown.clone()).unwrap();
        back.restore_credentials(Some(&stored)).unwrap();
        assert_eq!(back.alerts.channels, stored.alerts.channels);
        // A shown URL that stands for nothing stored is refused.
        shown["alerts"]["channels"][1]["url"] = "https://elsewhere.example/…0123abcd".into();
        let mut lost: MonitorSpec = serde_json::from_value(shown).unwrap();
        let error = lost.restore_credentials(Some(&stored)).unwrap_err();
        assert!(error.starts_with("alerts.channels[1].url"), "{error}");
    }
}
