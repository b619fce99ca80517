//! `preprocess-select`: keeps or drops columns by name (docs/preprocessors.md).
//!
//! `keep` lists the columns to keep, in the order they come out; each must be in the reference
//! and in every input. `drop` lists columns to remove; each must be in the reference, and one an
//! input lacks is simply not there to remove. Exactly one of the two is set.

use std::collections::{HashMap, HashSet};

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Batch, ColumnKind, Error, Preprocessor, Result};
use vigil_plugin_stats::batch::{check_configured, check_input, check_shape, kinds};

/// Configuration of the selection: exactly one of `keep` and `drop`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The columns to keep, in output order.
    #[serde(default)]
    pub keep: Option<Vec<String>>,
    /// The columns to remove.
    #[serde(default)]
    pub drop: Option<Vec<String>>,
}

/// A selection checked against the reference.
#[derive(Debug)]
pub struct Select {
    /// `Some` to keep these columns in this order, `None` to drop `dropped`.
    kept: Option<Vec<String>>,
    dropped: HashSet<String>,
    kinds: HashMap<String, ColumnKind>,
}

impl Preprocessor for Select {
    type Config = Config;
    const DESCRIPTION: &'static str = "Keeps or drops columns by name";

    fn fit(reference: Batch, config: Config) -> Result<Self> {
        check_shape(&reference, "reference")?;
        let kinds = kinds(&reference);
        let (setting, names) = match (&config.keep, &config.drop) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(Error::InvalidConfig(
                    "set exactly one of keep and drop".to_string(),
                ));
            }
            (Some(keep), None) => ("keep", keep),
            (None, Some(drop)) => ("drop", drop),
        };
        let mut seen = HashSet::new();
        for name in names {
            if !seen.insert(name) {
                return Err(Error::InvalidConfig(format!(
                    "{setting} lists `{name}` twice"
                )));
            }
            check_configured(name, setting, &kinds, None)?;
        }
        Ok(Select {
            kept: config.keep,
            dropped: config.drop.unwrap_or_default().into_iter().collect(),
            kinds,
        })
    }

    fn transform(&self, input: Batch) -> Result<Batch> {
        let required = self.kept.as_deref().unwrap_or_default();
        check_input(&input, required, &self.kinds, "keeping")?;
        let mut columns = input.columns;
        match &self.kept {
            Some(kept) => {
                let mut by_name: HashMap<String, _> =
                    columns.drain(..).map(|c| (c.name.clone(), c)).collect();
                columns = kept
                    .iter()
                    .map(|name| by_name.remove(name).expect("checked present"))
                    .collect();
            }
            None => columns.retain(|c| !self.dropped.contains(&c.name)),
        }
        Ok(Batch { columns })
    }
}

vigil_plugin_sdk::export_preprocessor!(Select);

#[cfg(test)]
mod tests {
    use vigil_plugin_sdk::{Column, testing};
    use vigil_plugin_stats::preprocess_harness::{categorical, expect_error, numeric};

    use super::*;

    fn reference() -> Batch {
        Batch {
            columns: vec![
                numeric("a", &[1.0]),
                categorical("c", &[Some("x")]),
                numeric("b", &[2.0]),
            ],
        }
    }

    fn run(input: Vec<Column>, config: &str) -> Result<Batch> {
        testing::preprocess::<Select>(reference(), Batch { columns: input }, config)
    }

    fn names(batch: &Batch) -> Vec<&str> {
        batch.columns.iter().map(|c| c.name.as_str()).collect()
    }

    fn input() -> Vec<Column> {
        vec![
            numeric("b", &[3.0, 4.0]),
            numeric("extra", &[0.0, 0.0]),
            categorical("c", &[None, Some("y")]),
            numeric("a", &[5.0, 6.0]),
        ]
    }

    #[test]
    fn keeps_in_the_listed_order() {
        let out = run(input(), r#"{"keep": ["c", "a"]}"#).unwrap();
        assert_eq!(names(&out), ["c", "a"]);
        assert_eq!(out.columns[1].data, input()[3].data);
    }

    #[test]
    fn drops_what_is_there() {
        let out = run(input(), r#"{"drop": ["b", "c"]}"#).unwrap();
        assert_eq!(names(&out), ["extra", "a"]);
        let out = run(vec![numeric("a", &[1.0])], r#"{"drop": ["b"]}"#).unwrap();
        assert_eq!(names(&out), ["a"]);
    }

    #[test]
    fn errors() {
        for (config, needle) in [
            (r#"{}"#, "exactly one"),
            (r#"{"keep": ["a"], "drop": ["b"]}"#, "exactly one"),
            (r#"{"keep": ["zz"]}"#, "zz"),
            (r#"{"drop": ["a", "a"]}"#, "twice"),
            (r#"{"select": ["a"]}"#, "select"),
        ] {
            expect_error(run(input(), config), true, needle);
        }
        expect_error(
            run(vec![numeric("a", &[1.0])], r#"{"keep": ["a", "b"]}"#),
            false,
            "`b` is configured for keeping but missing",
        );
    }

    #[test]
    fn empty_input() {
        let out = run(
            vec![numeric("a", &[]), numeric("b", &[])],
            r#"{"keep": ["b"]}"#,
        )
        .unwrap();
        assert_eq!(names(&out), ["b"]);
        assert!(out.columns[0].data.is_empty());
    }
}
