//! Turning features into the numbers the regression sees, the same way at training and at
//! prediction time: numeric features standardized with the training mean and standard
//! deviation (a missing value becomes the mean, so 0), categorical ones one-hot over the
//! categories seen in training (a missing or unseen category is all zeros).

use std::fmt;
use std::ops::Range;

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::dataset::{Dataset, Values};

/// How one feature is encoded, as the artifact stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureEncoding {
    /// One input: `(x - mean) / std`.
    Numeric { name: String, mean: f64, std: f64 },
    /// One input per category, in this order.
    Categorical {
        name: String,
        categories: Vec<String>,
    },
}

impl FeatureEncoding {
    pub fn name(&self) -> &str {
        match self {
            FeatureEncoding::Numeric { name, .. } | FeatureEncoding::Categorical { name, .. } => {
                name
            }
        }
    }

    /// How many inputs of the regression this feature takes.
    pub fn width(&self) -> usize {
        match self {
            FeatureEncoding::Numeric { .. } => 1,
            FeatureEncoding::Categorical { categories, .. } => categories.len(),
        }
    }

    /// Learns the encoding of a column from the training rows.
    fn fit(name: &str, values: &Values, rows: Range<usize>) -> FeatureEncoding {
        match values {
            Values::Numeric(cells) => {
                let present: Vec<f64> = cells[rows].iter().flatten().copied().collect();
                let n = present.len().max(1) as f64;
                let mean = present.iter().sum::<f64>() / n;
                // The population standard deviation, as scikit-learn's StandardScaler; a
                // constant column keeps a scale of 1 rather than dividing by zero.
                let std = (present.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
                FeatureEncoding::Numeric {
                    name: name.to_string(),
                    mean,
                    std: if std > 0.0 { std } else { 1.0 },
                }
            }
            Values::Categorical(cells) => {
                let mut categories: Vec<String> = cells[rows].iter().flatten().cloned().collect();
                categories.sort();
                categories.dedup();
                FeatureEncoding::Categorical {
                    name: name.to_string(),
                    categories,
                }
            }
        }
    }
}

/// Why a request's features cannot be encoded: what a client must fix.
#[derive(Debug, PartialEq)]
pub enum InputError {
    Missing(String),
    WrongType {
        feature: String,
        expected: &'static str,
        got: &'static str,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Missing(name) => write!(f, "feature `{name}` is missing"),
            InputError::WrongType {
                feature,
                expected,
                got,
            } => write!(f, "feature `{feature}` must be {expected}, got {got}"),
        }
    }
}

impl std::error::Error for InputError {}

/// Learns every feature's encoding from the training rows.
pub fn fit(dataset: &Dataset, rows: Range<usize>) -> Vec<FeatureEncoding> {
    dataset
        .features
        .iter()
        .map(|feature| FeatureEncoding::fit(&feature.name, &feature.values, rows.clone()))
        .collect()
}

/// How many inputs the encodings make.
pub fn width(encodings: &[FeatureEncoding]) -> usize {
    encodings.iter().map(FeatureEncoding::width).sum()
}

/// Encodes `rows` of a dataset whose features are the ones `encodings` were fitted on.
pub fn encode_rows(
    encodings: &[FeatureEncoding],
    dataset: &Dataset,
    rows: Range<usize>,
) -> Array2<f64> {
    let mut x = Array2::zeros((rows.len(), width(encodings)));
    let mut column = 0;
    for (encoding, feature) in encodings.iter().zip(&dataset.features) {
        debug_assert_eq!(encoding.name(), feature.name);
        for (out, row) in rows.clone().enumerate() {
            match (encoding, &feature.values) {
                (FeatureEncoding::Numeric { mean, std, .. }, Values::Numeric(cells)) => {
                    x[(out, column)] = cells[row].map_or(0.0, |v| (v - mean) / std);
                }
                (FeatureEncoding::Categorical { categories, .. }, Values::Categorical(cells)) => {
                    if let Some(at) = cells[row].as_ref().and_then(|c| position(categories, c)) {
                        x[(out, column + at)] = 1.0;
                    }
                }
                _ => unreachable!("an encoding is fitted on a column of its own kind"),
            }
        }
        column += encoding.width();
    }
    x
}

/// Encodes one request's features (a JSON object by feature name). Keys the model does not know
/// are ignored; `null` is a missing value.
pub fn encode_json(
    encodings: &[FeatureEncoding],
    features: &Map<String, Value>,
) -> Result<Vec<f64>, InputError> {
    let mut x = vec![0.0; width(encodings)];
    let mut column = 0;
    for encoding in encodings {
        let name = encoding.name();
        let value = features
            .get(name)
            .ok_or_else(|| InputError::Missing(name.to_string()))?;
        let wrong = |expected| InputError::WrongType {
            feature: name.to_string(),
            expected,
            got: json_type(value),
        };
        match encoding {
            FeatureEncoding::Numeric { mean, std, .. } => match value {
                Value::Null => {}
                Value::Number(n) => {
                    let v = n.as_f64().ok_or_else(|| wrong("a number"))?;
                    x[column] = (v - mean) / std;
                }
                _ => return Err(wrong("a number")),
            },
            FeatureEncoding::Categorical { categories, .. } => {
                let category = match value {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    // Categories are read from CSV text: a number is its text, `1` not `1.0`.
                    Value::Number(n) => Some(number_text(n)),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => return Err(wrong("a string")),
                };
                if let Some(at) = category.and_then(|c| position(categories, &c)) {
                    x[column + at] = 1.0;
                }
            }
        }
        column += encoding.width();
    }
    Ok(x)
}

fn position(categories: &[String], category: &str) -> Option<usize> {
    categories
        .binary_search_by(|c| c.as_str().cmp(category))
        .ok()
}

fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        _ => n.to_string(),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data() -> Dataset {
        Dataset::from_csv("age,plan,label\n1,basic,0\n3,pro,1\n,basic,1\n100,gold,0\n".as_bytes())
            .unwrap()
    }

    #[test]
    fn numeric_features_are_standardized_on_the_training_rows_only() {
        let data = data();
        let encodings = fit(&data, 0..3);
        assert_eq!(
            encodings[0],
            FeatureEncoding::Numeric {
                name: "age".into(),
                mean: 2.0,
                std: 1.0
            }
        );
        // `gold` first appears in row 3, after the training rows: not a category.
        assert_eq!(
            encodings[1],
            FeatureEncoding::Categorical {
                name: "plan".into(),
                categories: vec!["basic".into(), "pro".into()]
            }
        );
        let x = encode_rows(&encodings, &data, 0..4);
        assert_eq!(
            x,
            ndarray::array![
                [-1.0, 1.0, 0.0],
                [1.0, 0.0, 1.0],
                // missing age: the mean, so 0
                [0.0, 1.0, 0.0],
                // unseen category: all zeros
                [98.0, 0.0, 0.0],
            ]
        );
    }

    #[test]
    fn requests_encode_like_training_rows() {
        let encodings = fit(&data(), 0..3);
        let x = encode_json(
            &encodings,
            json!({"age": 3, "plan": "pro", "extra": [1]})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(x, [1.0, 0.0, 1.0]);
        let x = encode_json(
            &encodings,
            json!({"age": null, "plan": "gold"}).as_object().unwrap(),
        )
        .unwrap();
        assert_eq!(x, [0.0, 0.0, 0.0]);
    }

    #[test]
    fn a_request_missing_a_feature_or_of_the_wrong_type_is_refused_by_name() {
        let encodings = fit(&data(), 0..3);
        let missing = encode_json(&encodings, json!({"age": 1}).as_object().unwrap());
        assert_eq!(
            missing.unwrap_err().to_string(),
            "feature `plan` is missing"
        );
        let wrong = encode_json(
            &encodings,
            json!({"age": "old", "plan": "pro"}).as_object().unwrap(),
        );
        assert_eq!(
            wrong.unwrap_err().to_string(),
            "feature `age` must be a number, got a string"
        );
    }

    #[test]
    fn numbers_name_categories_as_csv_writes_them() {
        let data = Dataset::from_csv("zone,label\n1,0\nA,1\n".as_bytes()).unwrap();
        let encodings = fit(&data, 0..2);
        let x = encode_json(&encodings, json!({"zone": 1.0}).as_object().unwrap()).unwrap();
        assert_eq!(x, [1.0, 0.0]);
    }
}
