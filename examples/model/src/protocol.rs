//! The retraining protocol from the run's side (docs/retraining.md): the variables a run is
//! started with, reading its labeled records from Vigil, and registering the version it made.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How often a request is tried when Vigil answers 5xx or cannot be reached, and the first
/// pause between tries (doubled each time).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// A version name's longest length here: well within the registry's names, short to read.
const VERSION_MAX: usize = 64;

/// A bearer token: never shown, not even in `Debug`.
#[derive(Clone)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)")
    }
}

/// What a retraining run is started with, from `VIGIL_*` environment variables.
#[derive(Clone, Debug)]
pub struct Run {
    /// Vigil's base URL, without a trailing `/`.
    pub url: String,
    pub token: Token,
    pub model: String,
    pub run_id: String,
    /// The records to train on: offsets `window_start..window_end`.
    pub window_start: i64,
    pub window_end: i64,
    /// `VIGIL_ARTIFACT_DIR`, where set.
    pub artifact_dir: Option<PathBuf>,
    /// `VIGIL_VERSION`, where set; otherwise the version is named after the run.
    pub version: Option<String>,
}

impl Run {
    /// Reads the run's variables; the error names every one that is missing or malformed.
    pub fn from_env() -> anyhow::Result<Run> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the run's variables through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Run> {
        let mut problems = Vec::new();
        let mut required = |name: &str| {
            let value = lookup(name).filter(|v| !v.is_empty());
            if value.is_none() {
                problems.push(format!("{name} is not set"));
            }
            value.unwrap_or_default()
        };
        let url = required("VIGIL_URL");
        let token = required("VIGIL_TOKEN");
        let model = required("VIGIL_MODEL");
        let run_id = required("VIGIL_RUN_ID");
        let start = required("VIGIL_WINDOW_START");
        let end = required("VIGIL_WINDOW_END");
        let mut offset = |name: &str, text: &str| {
            if text.is_empty() {
                return 0;
            }
            text.parse::<i64>().unwrap_or_else(|_| {
                problems.push(format!("{name} is `{text}`, not a record offset"));
                0
            })
        };
        let window_start = offset("VIGIL_WINDOW_START", &start);
        let window_end = offset("VIGIL_WINDOW_END", &end);
        if problems.is_empty() && window_end <= window_start {
            problems.push(format!(
                "the window {window_start}..{window_end} is empty (VIGIL_WINDOW_END is exclusive)"
            ));
        }
        if !problems.is_empty() {
            bail!(
                "this command runs as a Vigil retraining run (docs/retraining.md): {}",
                problems.join("; ")
            );
        }
        Ok(Run {
            url: url.trim_end_matches('/').to_string(),
            token: Token(token),
            model,
            run_id,
            window_start,
            window_end,
            artifact_dir: lookup("VIGIL_ARTIFACT_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            version: lookup("VIGIL_VERSION").filter(|v| !v.is_empty()),
        })
    }

    /// The version this run registers: `VIGIL_VERSION`, or one named after the run.
    pub fn version(&self) -> String {
        self.version
            .clone()
            .unwrap_or_else(|| version_for_run(&self.run_id))
    }
}

/// A version name for a run: the run's id when it is a valid name of at most 64 characters
/// (letters, digits, `.`, `_`, `-`, starting with a letter or digit), otherwise its readable
/// part cut short with 10 hex digits of its hash, so that two runs never share a name and the
/// same run always gets the same one.
pub fn version_for_run(run_id: &str) -> String {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !run_id.is_empty()
        && run_id.len() <= VERSION_MAX
        && run_id.chars().all(valid)
        && run_id.starts_with(|c: char| c.is_ascii_alphanumeric())
    {
        return run_id.to_string();
    }
    let hash = hex::encode(&Sha256::digest(run_id.as_bytes())[..5]);
    let readable: String = run_id
        .chars()
        .map(|c| if valid(c) { c } else { '-' })
        .collect();
    let readable = readable.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let readable = &readable[..readable.len().min(VERSION_MAX - hash.len() - 1)];
    let readable = readable.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if readable.is_empty() {
        format!("v-{hash}")
    } else {
        format!("{readable}-{hash}")
    }
}

/// Talks to Vigil's API for one run.
pub struct Api {
    http: reqwest::Client,
    run: Run,
}

impl Api {
    pub fn new(run: Run) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build()?;
        Ok(Api { http, run })
    }

    pub fn run(&self) -> &Run {
        &self.run
    }

    fn model_url(&self) -> String {
        format!("{}/v1/models/{}", self.run.url, self.run.model)
    }

    /// The run's labeled records as CSV.
    pub async fn labeled_records(&self) -> anyhow::Result<String> {
        let url = format!("{}/records", self.model_url());
        let query = [
            ("start", self.run.window_start.to_string()),
            ("end", self.run.window_end.to_string()),
            ("labeled", "true".to_string()),
            ("format", "csv".to_string()),
        ];
        let response = self
            .send(|| self.http.get(&url).query(&query))
            .await
            .context("reading the labeled records")?;
        response
            .text()
            .await
            .context("reading the labeled records' body")
    }

    /// Registers the version; a repeat of the same version and run is answered 200 by the
    /// registry, so a retried request that did land is no failure.
    pub async fn register(&self, version: &str, body: &Value) -> anyhow::Result<Value> {
        let url = format!("{}/versions", self.model_url());
        let response = self
            .send(|| self.http.post(&url).json(body))
            .await
            .with_context(|| format!("registering version `{version}`"))?;
        Ok(response.json().await.unwrap_or(Value::Null))
    }

    /// Sends with the run's token, again after 5xx answers and connection errors (capped
    /// backoff); any other error status is an error that shows the status and the body.
    async fn send(&self, request: impl Fn() -> RequestBuilder) -> anyhow::Result<Response> {
        let mut backoff = FIRST_BACKOFF;
        let mut last = anyhow!("no attempt was made");
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            match request().bearer_auth(&self.run.token.0).send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let error = status_error(response).await;
                    if !status.is_server_error() {
                        return Err(error);
                    }
                    last = error;
                }
                // reqwest's errors carry the URL, never the headers: the token stays out.
                Err(error) if error.is_connect() || error.is_timeout() || error.is_request() => {
                    last = anyhow!(error.without_url()).context(format!(
                        "could not reach {} (is VIGIL_URL right?)",
                        self.run.url
                    ));
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(last.context(format!("gave up after {ATTEMPTS} attempts")))
    }
}

async fn status_error(response: Response) -> anyhow::Error {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let hint = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            " (the run's token is refused: it is scoped to one model and one run)"
        }
        _ => "",
    };
    anyhow!("Vigil answered {status}{hint}: {}", body.trim())
}

/// The body of `POST /v1/models/{model}/versions` for a trained model.
pub fn version_body(
    run: &Run,
    version: &str,
    artifact_uri: &str,
    metrics: &crate::training::Metrics,
) -> Value {
    json!({
        "version": version,
        "artifact_uri": artifact_uri,
        "metrics": metrics,
        "run_id": run.run_id,
        "training_window": {"start": run.window_start, "end": run.window_end},
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_run_is_read_from_its_variables() {
        let run = Run::from_lookup(env(&[
            ("VIGIL_URL", "http://127.0.0.1:8080/"),
            ("VIGIL_TOKEN", "secret-token"),
            ("VIGIL_MODEL", "churn"),
            ("VIGIL_RUN_ID", "retrain-churn-0a1b2c3d4e"),
            ("VIGIL_WINDOW_START", "5000"),
            ("VIGIL_WINDOW_END", "6000"),
        ]))
        .unwrap();
        assert_eq!(run.url, "http://127.0.0.1:8080");
        assert_eq!((run.window_start, run.window_end), (5000, 6000));
        assert_eq!(run.version(), "retrain-churn-0a1b2c3d4e");
        assert!(!format!("{run:?}").contains("secret-token"));
    }

    #[test]
    fn every_missing_variable_is_named() {
        let error = Run::from_lookup(env(&[
            ("VIGIL_URL", "http://x"),
            ("VIGIL_WINDOW_START", "ten"),
        ]))
        .unwrap_err()
        .to_string();
        for name in [
            "VIGIL_TOKEN is not set",
            "VIGIL_MODEL is not set",
            "VIGIL_RUN_ID is not set",
            "VIGIL_WINDOW_END is not set",
            "VIGIL_WINDOW_START is `ten`",
        ] {
            assert!(error.contains(name), "{error}");
        }
    }

    #[test]
    fn versions_are_valid_names_stable_per_run() {
        assert_eq!(version_for_run("run-7"), "run-7");
        let odd = version_for_run("run 7/retry");
        assert_eq!(odd, version_for_run("run 7/retry"));
        assert_ne!(odd, version_for_run("run 7/retrz"));
        assert!(odd.starts_with("run-7-retry-"), "{odd}");
        let long = version_for_run(&"x".repeat(200));
        assert_eq!(long.len(), 64);
        assert_eq!(version_for_run("///").len(), "v-".len() + 10);
        for name in [odd, long] {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            );
        }
    }
}
