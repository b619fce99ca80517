//! `{{name}}`: clips each numeric column to the range the reference saw, widened by `margin`
//! of that range, so outliers do not dominate the drift tests. Replace `transform` with yours:
//! it must return as many rows as it was given.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Batch, Column, ColumnData, Error, Preprocessor, Result};

/// The plugin's settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Extra room, as a share of the range.
    #[serde(default)]
    pub margin: f64,
}

/// The bounds of each numeric column, fitted on the reference.
pub struct {{class}} {
    bounds: HashMap<String, (f64, f64)>,
}

impl Preprocessor for {{class}} {
    type Config = Config;
    const DESCRIPTION: &'static str = "{{description}}";

    fn fit(reference: Batch, config: Config) -> Result<Self> {
        if !(config.margin >= 0.0) {
            return Err(Error::InvalidConfig(format!(
                "margin must be 0 or more, got {}",
                config.margin
            )));
        }
        let mut bounds = HashMap::new();
        for column in reference.columns {
            let ColumnData::Numeric(values) = column.data else { continue };
            let present = values.iter().filter(|v| !v.is_nan());
            let (low, high) = present.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(*v), h.max(*v))
            });
            if low <= high {
                let room = (high - low) * config.margin;
                bounds.insert(column.name, (low - room, high + room));
            }
        }
        Ok({{class}} { bounds })
    }

    fn transform(&self, input: Batch) -> Result<Batch> {
        let columns = input
            .columns
            .into_iter()
            .map(|column| match (self.bounds.get(&column.name), column.data) {
                (Some(&(low, high)), ColumnData::Numeric(values)) => Column {
                    name: column.name,
                    // NaN (missing) stays NaN: `clamp` keeps it.
                    data: ColumnData::Numeric(values.into_iter().map(|v| v.clamp(low, high)).collect()),
                },
                (_, data) => Column { name: column.name, data },
            })
            .collect();
        Ok(Batch { columns })
    }
}

vigil_plugin_sdk::export_preprocessor!({{class}});

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing::preprocess;

    fn batch(x: Vec<f64>) -> Batch {
        Batch {
            columns: vec![
                Column { name: "x".into(), data: ColumnData::numeric(x.clone()) },
                Column {
                    name: "kind".into(),
                    data: ColumnData::categorical(x.iter().map(|_| Some("a"))),
                },
            ],
        }
    }

    #[test]
    fn values_are_clipped_to_the_reference_range_and_the_rest_kept() {
        let out = preprocess::<{{class}}>(batch(vec![0.0, 10.0]), batch(vec![-5.0, 5.0, 50.0, f64::NAN]), "{}")
            .unwrap();
        let ColumnData::Numeric(x) = &out.columns[0].data else { panic!() };
        assert_eq!(&x[..3], &[0.0, 5.0, 10.0]);
        assert!(x[3].is_nan());
        assert_eq!(out.columns[1].data.len(), 4);
        let wider = preprocess::<{{class}}>(batch(vec![0.0, 10.0]), batch(vec![50.0]), r#"{"margin": 0.5}"#)
            .unwrap();
        assert_eq!(wider.columns[0].data, ColumnData::numeric(vec![15.0]));
    }
}
