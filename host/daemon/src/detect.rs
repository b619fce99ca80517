//! `vigil detect`: runs one streaming detector plugin over a column of a CSV file and reports
//! where it signalled a change (see `docs/detectors.md`).
//!
//! Values are fed in file order. A missing value (see `crate::vocab::MISSING`) is skipped by the
//! detector, as the detector contract says; the reported indices count the file's data rows
//! from 0, missing ones included, so each index points at the row whose value triggered.

use std::path::{Path, PathBuf};

use vigil_runtime::{Error as RuntimeError, PluginError};

use crate::drift::InputError;
use crate::plugins::Registry;

/// Values handed to the plugin per call: large enough that the call overhead vanishes, small
/// enough that each call stays far inside the runtime's per-call deadline.
const CHUNK: usize = 1 << 16;

/// What to run on what.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    pub input: PathBuf,
    pub column: String,
    pub detector: String,
    /// The detector's JSON configuration; `None` for its defaults.
    pub config: Option<String>,
}

/// The outcome: the detector, the column's values (`None` where missing) and the change points.
#[derive(Debug, Clone, PartialEq)]
pub struct Detections {
    /// The detector's short name (`adwin` for `detect-adwin`), or a plugin's full name when it
    /// has no `detect-` prefix.
    pub detector: String,
    /// `name@version` of the plugin that ran.
    pub plugin: String,
    pub values: Vec<Option<f64>>,
    /// 0-based data-row indices at which the detector signalled right after that row's value.
    pub detections: Vec<usize>,
}

impl Detections {
    /// `{"detector", "values", "detections"}`; missing values are `null`.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "detector": self.detector,
            "values": self.values,
            "detections": self.detections,
        })
        .to_string()
    }

    /// A summary line, then one row per detection.
    pub fn to_table(&self, column: &str) -> String {
        let missing = self.values.iter().filter(|v| v.is_none()).count();
        let mut out = format!(
            "{} ({}) on column `{column}`: {} values ({missing} missing), {} change{} detected\n",
            self.detector,
            self.plugin,
            self.values.len(),
            self.detections.len(),
            if self.detections.len() == 1 { "" } else { "s" },
        );
        if !self.detections.is_empty() {
            let rows: Vec<Vec<String>> = self
                .detections
                .iter()
                .map(|&i| {
                    let value = self.values[i].map_or_else(String::new, |v| v.to_string());
                    vec![i.to_string(), value]
                })
                .collect();
            out.push('\n');
            out.push_str(&crate::table::render(&["index", "value"], &rows));
        }
        out
    }
}

/// Runs the detector over the column.
pub fn run(options: &DetectOptions, registry: &Registry) -> anyhow::Result<Detections> {
    let config = match &options.config {
        None => "{}".to_string(),
        Some(text) => serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| InputError(format!("--config is not valid JSON: {e}")))?
            .to_string(),
    };
    let plugin = registry
        .detector(&options.detector)
        .map_err(|e| InputError(format!("{e:#}")))?;
    let values = read_column(&options.input, &options.column)?;

    let name = plugin.info().name.clone();
    let input_error = |error: RuntimeError| -> anyhow::Error {
        match &error {
            RuntimeError::Plugin {
                error: PluginError::InvalidConfig(message),
                ..
            } => InputError(format!("--config rejected by `{name}`: {message}")).into(),
            RuntimeError::Plugin {
                error: PluginError::InvalidInput(message),
                ..
            } => InputError(format!("`{name}` rejected the input: {message}")).into(),
            _ => error.into(),
        }
    };
    let mut session = plugin
        .detector(registry.runtime().shared(), &config, None)
        .map_err(input_error)?;
    // The plugin numbers only the values it saw; map its positions back to rows.
    let rows: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_some()).collect();
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let mut detections = Vec::new();
    for chunk in present.chunks(CHUNK) {
        for position in session.update(chunk).map_err(input_error)? {
            let row = usize::try_from(position)
                .ok()
                .and_then(|p| rows.get(p))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "plugin `{name}` reported change point {position}, past the {} values \
                         it was given",
                        present.len()
                    )
                })?;
            detections.push(*row);
        }
    }
    anyhow::ensure!(
        detections.windows(2).all(|w| w[0] < w[1]),
        "plugin `{name}` reported change points out of stream order"
    );
    let info = plugin.info();
    Ok(Detections {
        detector: info
            .name
            .strip_prefix("detect-")
            .unwrap_or(&info.name)
            .to_string(),
        plugin: format!("{}@{}", info.name, info.version),
        values,
        detections,
    })
}

/// The named column of a CSV file with a header row, as numbers (`None` where missing).
fn read_column(path: &Path, column: &str) -> Result<Vec<Option<f64>>, InputError> {
    let shown = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .from_path(path)
        .map_err(|e| InputError(format!("cannot read {shown}: {}", csv_reason(&e))))?;
    let headers = reader
        .headers()
        .map_err(|e| {
            InputError(format!(
                "{shown} is not a valid CSV file: {}",
                csv_reason(&e)
            ))
        })?
        .clone();
    let Some(index) = headers.iter().position(|h| h.trim() == column) else {
        let names: Vec<String> = headers.iter().map(|h| format!("`{}`", h.trim())).collect();
        return Err(InputError(format!(
            "{shown} has no column `{column}`; its columns are {}",
            names.join(", ")
        )));
    };
    let mut values = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            InputError(format!(
                "{shown} is not a valid CSV file: {}",
                csv_reason(&e)
            ))
        })?;
        let cell = record.get(index).unwrap_or("").trim();
        if crate::vocab::is_missing(cell) {
            values.push(None);
            continue;
        }
        match cell.parse::<f64>() {
            Ok(value) if value.is_finite() => values.push(Some(value)),
            _ => {
                return Err(InputError(format!(
                    "column `{column}` of {shown} must hold finite numbers, but data row {row} \
                     (line {}) holds `{cell}` (missing values may be written as {})",
                    row + 2,
                    crate::vocab::MISSING
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    if values.is_empty() {
        return Err(InputError(format!("{shown} has no data rows")));
    }
    Ok(values)
}

/// The csv crate's message without its own position prefix noise for I/O errors.
fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detections(values: Vec<Option<f64>>, detections: Vec<usize>) -> Detections {
        Detections {
            detector: "adwin".to_string(),
            plugin: "detect-adwin@0.1.0".to_string(),
            values,
            detections,
        }
    }

    #[test]
    fn json_has_exactly_the_three_fields() {
        let json: serde_json::Value =
            serde_json::from_str(&detections(vec![Some(1.5), None], vec![0]).to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"detector": "adwin", "values": [1.5, null], "detections": [0]})
        );
    }

    #[test]
    fn table_lists_each_change_with_its_value() {
        let table = detections(vec![Some(1.0), None, Some(7.25)], vec![2]).to_table("x");
        assert!(table.starts_with("adwin (detect-adwin@0.1.0) on column `x`: 3 values (1 missing), 1 change detected\n"), "{table}");
        assert!(table.ends_with("index  value\n2      7.25\n"), "{table}");
    }

    #[test]
    fn a_column_is_read_with_missing_values_and_row_numbers_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        std::fs::write(&path, "a,b\n1,x\nNA,y\n 2.5 ,z\n").unwrap();
        assert_eq!(
            read_column(&path, "a").unwrap(),
            vec![Some(1.0), None, Some(2.5)]
        );
        let error = read_column(&path, "b").unwrap_err().0;
        assert!(error.contains("data row 0 (line 2) holds `x`"), "{error}");
        let error = read_column(&path, "c").unwrap_err().0;
        assert!(
            error.contains("no column `c`; its columns are `a`, `b`"),
            "{error}"
        );
        std::fs::write(&path, "a\n1\ninf\n").unwrap();
        let error = read_column(&path, "a").unwrap_err().0;
        assert!(error.contains("holds `inf`"), "{error}");
    }
}
