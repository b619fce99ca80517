//! The inputs of the multivariate drift tests (docs/statistics.md, "Multivariate"): a batch of
//! numeric columns, read into rows. The reference fixes the columns; a window must carry
//! exactly the same ones (matched by name, in any order).

use vigil_plugin_sdk::{Batch, ColumnData, Error, Result};

use crate::batch::check_shape;
use crate::sum::{mean, variance};

/// Numeric columns as rows: `values[row * names.len() + column]`, NaN for a missing value.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// The columns' names, in the reference's order.
    pub names: Vec<String>,
    /// The values, row-major.
    pub values: Vec<f64>,
}

impl Rows {
    /// The number of columns.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.width()).unwrap_or(0)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.width()..(i + 1) * self.width()]
    }

    /// The rows with no missing value, in order (listwise deletion), in place.
    pub fn complete(mut self) -> Rows {
        let width = self.width();
        let mut kept = 0;
        for i in 0..self.len() {
            let start = i * width;
            if !self.values[start..start + width].iter().any(|v| v.is_nan()) {
                self.values.copy_within(start..start + width, kept * width);
                kept += 1;
            }
        }
        self.values.truncate(kept * width);
        self
    }

    /// Rows `picked`, in the order given.
    pub fn pick(&self, picked: &[usize]) -> Rows {
        let values = picked.iter().flat_map(|&i| self.row(i)).copied().collect();
        Rows {
            names: self.names.clone(),
            values,
        }
    }

    /// Column `j`'s values.
    pub fn column(&self, j: usize) -> Vec<f64> {
        self.values
            .iter()
            .skip(j)
            .step_by(self.width())
            .copied()
            .collect()
    }
}

/// scikit-learn's `StandardScaler` on a column without missing values: its mean (`np.mean`)
/// and scale, the population standard deviation, or 1 when the column is constant up to
/// rounding (scikit-learn's `_is_constant_feature` bound), so that a constant column is only
/// centred.
pub fn standard_scale(values: &[f64]) -> (f64, f64) {
    let mean = mean(values);
    let var = variance(values, 0);
    let n = values.len() as f64;
    let eps = f64::EPSILON;
    let constant = var <= n * eps * var + (n * mean * eps).powi(2);
    (mean, if constant { 1.0 } else { var.sqrt() })
}

/// The reference's columns: at least one, all numeric, equal lengths, no infinite value.
/// `test` names the test in the errors.
pub fn reference_rows(reference: Batch, test: &str) -> Result<Rows> {
    if reference.columns.is_empty() {
        return Err(Error::InvalidInput(format!(
            "the reference has no columns; `{test}` compares one or more numeric columns"
        )));
    }
    let names = reference.columns.iter().map(|c| c.name.clone()).collect();
    to_rows(reference, names, "reference", test)
}

/// A window's columns, in the reference's order: the same names as the reference's, numeric,
/// equal lengths, no infinite value.
pub fn window_rows(window: Batch, names: &[String], test: &str) -> Result<Rows> {
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !window.columns.iter().any(|c| &&c.name == n))
        .map(String::as_str)
        .collect();
    let extra: Vec<&str> = window
        .columns
        .iter()
        .filter(|c| !names.contains(&c.name))
        .map(|c| c.name.as_str())
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("lacks {}", quoted(&missing)));
        }
        if !extra.is_empty() {
            problems.push(format!("has {} the reference has not", quoted(&extra)));
        }
        return Err(Error::InvalidInput(format!(
            "the window's columns differ from the reference's ({}): it {}",
            quoted(&names.iter().map(String::as_str).collect::<Vec<_>>()),
            problems.join(" and ")
        )));
    }
    let mut window = window;
    window
        .columns
        .sort_by_key(|c| names.iter().position(|n| n == &c.name));
    to_rows(window, names.to_vec(), "window", test)
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn to_rows(batch: Batch, names: Vec<String>, what: &str, test: &str) -> Result<Rows> {
    check_shape(&batch, what)?;
    let width = batch.columns.len();
    let rows = batch.columns.first().map_or(0, |c| c.data.len());
    let mut values = vec![0.0; rows * width];
    // Each column is dropped once copied, so that a large window is held about twice at most.
    for (j, column) in batch.columns.into_iter().enumerate() {
        let ColumnData::Numeric(data) = column.data else {
            return Err(Error::InvalidInput(format!(
                "`{test}` compares numeric columns, and the {what}'s column `{}` is categorical; \
                 leave it out of the test's columns",
                column.name
            )));
        };
        if let Some(x) = data.iter().find(|x| x.is_infinite()) {
            return Err(Error::InvalidInput(format!(
                "the {what}'s column `{}` contains {x}; only finite values (or NaN for missing) \
                 can be compared",
                column.name
            )));
        }
        for (i, &v) in data.iter().enumerate() {
            values[i * width + j] = v;
        }
    }
    Ok(Rows { names, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::{CategoricalColumn, Column};

    fn numeric(name: &str, values: &[f64]) -> Column {
        Column {
            name: name.into(),
            data: ColumnData::Numeric(values.to_vec()),
        }
    }

    #[test]
    fn windows_are_matched_by_name() {
        let reference = reference_rows(
            Batch {
                columns: vec![numeric("a", &[1.0, 2.0]), numeric("b", &[3.0, f64::NAN])],
            },
            "t",
        )
        .unwrap();
        assert_eq!(reference.len(), 2);
        assert_eq!(reference.row(1)[0], 2.0);
        assert_eq!(reference.clone().complete().values, [1.0, 3.0]);
        let window = window_rows(
            Batch {
                columns: vec![numeric("b", &[5.0]), numeric("a", &[4.0])],
            },
            &reference.names,
            "t",
        )
        .unwrap();
        assert_eq!(window.values, [4.0, 5.0]);
        assert_eq!(window.column(1), [5.0]);
    }

    #[test]
    fn mismatched_or_categorical_columns_are_refused() {
        let names = vec!["a".to_string(), "b".to_string()];
        let message = |e: Error| match e {
            Error::InvalidInput(m) => m,
            other => panic!("{other:?}"),
        };
        let m = message(
            window_rows(
                Batch {
                    columns: vec![numeric("a", &[1.0]), numeric("c", &[1.0])],
                },
                &names,
                "t",
            )
            .unwrap_err(),
        );
        assert!(m.contains("lacks `b`") && m.contains("has `c`"), "{m}");
        let categorical = Column {
            name: "k".into(),
            data: ColumnData::Categorical(CategoricalColumn {
                categories: vec!["x".into()],
                codes: vec![0],
            }),
        };
        let m = message(
            reference_rows(
                Batch {
                    columns: vec![numeric("a", &[1.0]), categorical],
                },
                "t",
            )
            .unwrap_err(),
        );
        assert!(m.contains("`k` is categorical"), "{m}");
        let m = message(
            reference_rows(
                Batch {
                    columns: vec![numeric("a", &[f64::INFINITY])],
                },
                "t",
            )
            .unwrap_err(),
        );
        assert!(m.contains("inf"), "{m}");
    }
}
