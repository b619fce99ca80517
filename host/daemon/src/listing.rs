//! How the CLI shows what the API lists: a table per kind of thing, or the API's JSON with
//! `--json`.

use serde_json::Value;

use crate::client::Client;
use crate::table::render;

/// GETs `path` and prints it as `table` renders it, or as JSON.
pub async fn show(
    client: &Client,
    path: &str,
    json: bool,
    table: fn(&Value) -> String,
) -> anyhow::Result<()> {
    let value = client.get(path).await?;
    if json {
        crate::commands::print(&value);
    } else {
        print!("{}", table(&value));
    }
    Ok(())
}

fn items<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value[key].as_array().map_or(&[], Vec::as_slice)
}

/// A JSON value as a cell: strings bare, null as `-`.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Unix milliseconds as a UTC time to the second.
fn time(value: &Value) -> String {
    match value.as_u64() {
        Some(ms) => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
        )
        .to_string(),
        None => "-".into(),
    }
}

pub fn plugins(value: &Value) -> String {
    let rows: Vec<Vec<String>> = items(value, "plugins")
        .iter()
        .map(|p| {
            vec![
                cell(&p["name"]),
                cell(&p["version"]),
                cell(&p["kind"]),
                cell(&p["uploaded_by"]),
                time(&p["uploaded_at"]),
                p["sha256"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(12)
                    .collect(),
                p["signed_by"].as_str().unwrap_or("-").to_string(),
            ]
        })
        .collect();
    render(
        &[
            "name",
            "version",
            "kind",
            "uploaded by",
            "uploaded",
            "sha256",
            "signed by",
        ],
        &rows,
    )
}

pub fn models(value: &Value) -> String {
    let rows: Vec<Vec<String>> = items(value, "models")
        .iter()
        .map(|m| {
            vec![
                cell(&m["name"]),
                cell(&m["task"]),
                cell(&m["record_count"]),
                cell(&m["serving_version"]),
                time(&m["created_at"]),
            ]
        })
        .collect();
    render(&["name", "task", "records", "serving", "created"], &rows)
}

pub fn versions(value: &Value) -> String {
    let rows: Vec<Vec<String>> = items(value, "versions")
        .iter()
        .map(|v| {
            let metrics: Vec<String> = v["metrics"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            let window = match (
                v["training_window"]["start"].as_i64(),
                v["training_window"]["end"].as_i64(),
            ) {
                (Some(start), Some(end)) => format!("{start}..{end}"),
                _ => "-".into(),
            };
            vec![
                cell(&v["version"]),
                cell(&v["status"]),
                time(&v["created_at"]),
                cell(&v["created_by"]),
                match cell(&v["artifact_uri"]) {
                    empty if empty.is_empty() => "-".into(),
                    uri => uri,
                },
                if metrics.is_empty() {
                    "-".into()
                } else {
                    metrics.join(" ")
                },
                window,
                match cell(&v["status_reason"]) {
                    empty if empty.is_empty() => "-".into(),
                    reason => reason,
                },
            ]
        })
        .collect();
    render(
        &[
            "version", "status", "created", "by", "artifact", "metrics", "window", "reason",
        ],
        &rows,
    )
}

pub fn monitors(value: &Value) -> String {
    let rows: Vec<Vec<String>> = items(value, "monitors")
        .iter()
        .map(|m| {
            let spec = &m["spec"];
            let window = match spec["window"].as_object().and_then(|w| w.iter().next()) {
                Some((unit, n)) => format!("{n} {unit}"),
                None => "-".into(),
            };
            vec![
                cell(&m["name"]),
                cell(&spec["model"]),
                spec["features"].as_array().map_or(0, Vec::len).to_string(),
                window,
                cell(&m["next_offset"]),
                cell(&m["revision"]),
            ]
        })
        .collect();
    render(
        &[
            "name",
            "model",
            "features",
            "window",
            "next record",
            "revision",
        ],
        &rows,
    )
}

pub fn status(value: &Value) -> String {
    let rows: Vec<Vec<String>> = items(value, "monitors")
        .iter()
        .map(|m| {
            let last = &m["last_evaluation"];
            let window = match (last["window_start"].as_i64(), last["window_end"].as_i64()) {
                (Some(start), Some(end)) => format!("{start}..{end}"),
                _ => "-".into(),
            };
            let drifted = match (
                last["drifted_columns"].as_u64(),
                last["failed_columns"].as_u64(),
            ) {
                (Some(drifted), Some(failed)) => format!("{drifted} ({failed} failed)"),
                _ => "-".into(),
            };
            let list = |key: &str, field: Option<&str>| {
                let names: Vec<String> = items(m, key)
                    .iter()
                    .map(|v| cell(field.map_or(v, |f| &v[f])))
                    .collect();
                if names.is_empty() {
                    "-".into()
                } else {
                    names.join(", ")
                }
            };
            let note = match m["stalled"]["reason"].as_str() {
                Some(reason) => format!("stalled: {reason}"),
                None => list("quarantined", Some("plugin")),
            };
            vec![
                cell(&m["monitor"]),
                cell(&m["model"]),
                cell(&m["pending_records"]),
                window,
                cell(&last["status"]),
                cell(&last["action"]),
                drifted,
                list("open_alerts", None),
                note,
            ]
        })
        .collect();
    render(
        &[
            "monitor",
            "model",
            "pending",
            "last window",
            "status",
            "action",
            "drifted",
            "open alerts",
            "quarantined / stalled",
        ],
        &rows,
    )
}

pub fn alerts(value: &Value) -> String {
    let rows: Vec<Vec<String>> = items(value, "alerts")
        .iter()
        .map(|a| {
            vec![
                cell(&a["id"]),
                time(&a["created_at"]),
                cell(&a["cause"]),
                cell(&a["message"]),
                cell(&a["delivery"]),
            ]
        })
        .collect();
    render(&["id", "time", "cause", "message", "delivery"], &rows)
}

pub fn actions(value: &Value) -> String {
    let rows: Vec<Vec<String>> = items(value, "actions")
        .iter()
        .map(|a| {
            vec![
                cell(&a["id"]),
                time(&a["created_at"]),
                cell(&a["kind"]),
                cell(&a["state"]),
                cell(&a["attempts"]),
                cell(&a["outcome"]),
            ]
        })
        .collect();
    render(
        &["id", "time", "kind", "state", "attempts", "outcome"],
        &rows,
    )
}

/// A listing's path, of one monitor's items or of all. Names are URL-safe (letters, digits,
/// `-`, `_`, `.`); anything else is escaped, so it finds nothing instead of adding parameters.
pub fn of_monitor(path: &str, monitor: Option<&str>) -> String {
    let Some(monitor) = monitor else {
        return path.to_string();
    };
    let escaped: String = monitor
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{path}?monitor={escaped}")
}

/// Milliseconds to three decimals.
fn ms(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "-".into(), |ms| format!("{ms:.3}"))
}

pub fn shadows(value: &Value) -> String {
    let rows: Vec<Vec<String>> = items(value, "shadows")
        .iter()
        .map(|s| {
            let summary = &s["summary"];
            vec![
                cell(&s["id"]),
                cell(&s["plugin"]),
                cell(&s["replaces"]),
                cell(&s["status"]),
                cell(&summary["windows"]),
                cell(&s["skipped_windows"]),
                cell(&summary["agreeing"]),
                cell(&summary["decisions_differ"]),
                cell(&summary["verdicts_differ"]),
                format!(
                    "{} / {}",
                    ms(&summary["pinned_ms_per_call"]),
                    ms(&summary["candidate_ms_per_call"])
                ),
            ]
        })
        .collect();
    render(
        &[
            "id",
            "candidate",
            "replaces",
            "status",
            "windows",
            "skipped",
            "agree",
            "decisions differ",
            "verdicts differ",
            "ms/call pinned / candidate",
        ],
        &rows,
    )
}

/// One shadow: its summary, then its windows (when the answer has them) side by side.
pub fn shadow(value: &Value) -> String {
    let mut out = shadows(&serde_json::json!({"shadows": [value]}));
    let side = |side: &Value| {
        if side.is_null() {
            return "- (not stored)".to_string();
        }
        let drifted = items(side, "drifted")
            .iter()
            .map(cell)
            .collect::<Vec<_>>()
            .join(" ");
        let failed = items(side, "failed")
            .iter()
            .map(cell)
            .collect::<Vec<_>>()
            .join(" ");
        let mut text = format!("{} {}", cell(&side["status"]), cell(&side["action"]));
        if !drifted.is_empty() {
            text.push_str(&format!(" drifted: {drifted}"));
        }
        if !failed.is_empty() {
            text.push_str(&format!(" failed: {failed}"));
        }
        text
    };
    let per_call = |side: &Value| {
        let calls = side["calls"]["calls"].as_f64().unwrap_or(0.0);
        let seconds = side["calls"]["seconds"].as_f64().unwrap_or(0.0);
        if calls > 0.0 {
            format!("{:.3}", seconds * 1e3 / calls)
        } else {
            "-".into()
        }
    };
    let rows: Vec<Vec<String>> = items(value, "windows")
        .iter()
        .map(|w| {
            vec![
                format!("{}..{}", cell(&w["window_start"]), cell(&w["window_end"])),
                if w["agree"] == Value::Bool(true) {
                    "yes".into()
                } else {
                    "no".into()
                },
                side(&w["pinned"]),
                side(&w["shadow"]),
                format!("{} / {}", per_call(&w["pinned"]), per_call(&w["shadow"])),
                items(w, "differences").len().to_string(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push('\n');
        out.push_str(&render(
            &[
                "window",
                "agree",
                "pinned",
                "shadow",
                "ms/call",
                "differences",
            ],
            &rows,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn listings_show_one_row_per_item() {
        let table = super::models(&json!({"models": [
            {"name": "churn", "task": "classification", "record_count": 12,
             "serving_version": null, "created_at": 0},
        ]}));
        assert_eq!(
            table,
            "name   task            records  serving  created\n\
             churn  classification  12       -        1970-01-01T00:00:00Z\n"
        );
        assert_eq!(
            super::plugins(&json!({})),
            "name  version  kind  uploaded by  uploaded  sha256  signed by\n"
        );
    }
}
