//! The model: a logistic regression fitted with linfa, and the artifact (`model.json`) that holds
//! everything needed to predict with it again.

use std::ops::Range;
use std::path::Path;

use anyhow::{Context as _, bail};
use linfa::DatasetBase;
use linfa::traits::Fit as _;
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2, ArrayView1};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::dataset::Dataset;
use crate::encoding::{self, FeatureEncoding, InputError};

/// What `format` says in every artifact this program writes.
pub const FORMAT: &str = "vigil-model/logistic-regression/1";

/// The L2 penalty on the weights (not on the intercepts): linfa minimizes the summed log loss
/// plus `ALPHA / 2 * |w|²`, which is scikit-learn's objective with `C = 1 / ALPHA`; 1 is
/// scikit-learn's default.
pub const ALPHA: f64 = 1.0;
const MAX_ITERATIONS: u64 = 1_000;
/// On the summed (not averaged) loss's gradient; tight enough that the weights match
/// scikit-learn's lbfgs to within 1e-6 (tests/reference.rs).
const GRADIENT_TOLERANCE: f64 = 1e-6;

/// A class a binary model calls positive when it has it (the convention of `proba_1` columns).
pub const POSITIVE: &str = "1";

/// A fitted model, as stored in `model.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub format: String,
    /// The classes, as strings. A binary model's second class is its positive class.
    pub classes: Vec<String>,
    /// The inputs, in the order of the weights.
    pub features: Vec<FeatureEncoding>,
    /// Binary: one row, the positive class's log-odds. More classes: one row per class, a
    /// softmax over them.
    pub weights: Vec<Vec<f64>>,
    pub intercepts: Vec<f64>,
    /// How many labeled records it was fitted on.
    pub training_records: usize,
}

/// One prediction: the class and each class's probability, in the order of `Model::classes`.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub class: usize,
    pub probabilities: Vec<f64>,
}

impl Model {
    /// Fits the model on `rows` of the dataset: encodings from those rows, then the regression.
    pub fn fit(dataset: &Dataset, rows: Range<usize>) -> anyhow::Result<Model> {
        let mut classes = dataset.classes(rows.clone());
        match classes.len() {
            0 => bail!("no labeled records to train on"),
            1 => bail!(
                "the {} training records all have the label `{}`: a classifier needs two \
                 classes at least",
                rows.len(),
                classes[0]
            ),
            // The positive class goes second: `1` when there is one, else the greater.
            2 if classes[0] == POSITIVE => classes.swap(0, 1),
            _ => {}
        }
        let features = encoding::fit(dataset, rows.clone());
        if encoding::width(&features) == 0 {
            bail!("the records have no feature with a value to learn from");
        }
        let x = encoding::encode_rows(&features, dataset, rows.clone());
        let targets: Array1<usize> = dataset.labels[rows.clone()]
            .iter()
            .map(|label| classes.iter().position(|c| c == label).expect("a class"))
            .collect();
        let (weights, intercepts) = if classes.len() == 2 {
            fit_binary(x, targets)?
        } else {
            fit_multinomial(x, targets)?
        };
        Ok(Model {
            format: FORMAT.to_string(),
            classes,
            features,
            weights,
            intercepts,
            training_records: rows.len(),
        })
    }

    /// The class probabilities for encoded inputs.
    pub fn predict_encoded(&self, x: ArrayView1<'_, f64>) -> Prediction {
        let scores: Vec<f64> = self
            .weights
            .iter()
            .zip(&self.intercepts)
            .map(|(w, b)| w.iter().zip(x.iter()).map(|(w, x)| w * x).sum::<f64>() + b)
            .collect();
        let probabilities = if let [score] = scores[..] {
            let p = 1.0 / (1.0 + (-score).exp());
            vec![1.0 - p, p]
        } else {
            softmax(&scores)
        };
        let class = if probabilities.len() == 2 {
            // Ties go to the positive class, as linfa's 0.5 threshold does.
            usize::from(probabilities[1] >= 0.5)
        } else {
            argmax(&probabilities)
        };
        Prediction {
            class,
            probabilities,
        }
    }

    /// Predicts `rows` of a dataset with the features the model was fitted on.
    pub fn predict_rows(&self, dataset: &Dataset, rows: Range<usize>) -> Vec<Prediction> {
        let x = encoding::encode_rows(&self.features, dataset, rows);
        x.rows()
            .into_iter()
            .map(|row| self.predict_encoded(row))
            .collect()
    }

    /// Predicts one request's features (a JSON object by feature name).
    pub fn predict_json(&self, features: &Map<String, Value>) -> Result<Prediction, InputError> {
        let x = encoding::encode_json(&self.features, features)?;
        Ok(self.predict_encoded(ArrayView1::from(&x)))
    }

    /// The positive class's index for a binary model.
    pub fn positive(&self) -> Option<usize> {
        (self.classes.len() == 2).then_some(1)
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }

    pub fn load(path: &Path) -> anyhow::Result<Model> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the artifact {}", path.display()))?;
        let model: Model = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a model artifact", path.display()))?;
        model
            .check()
            .with_context(|| format!("{}", path.display()))?;
        Ok(model)
    }

    /// Refuses an artifact whose parts do not fit together, so that serving never indexes out
    /// of bounds.
    fn check(&self) -> anyhow::Result<()> {
        if self.format != FORMAT {
            bail!("format `{}`, expected `{FORMAT}`", self.format);
        }
        let rows = if self.classes.len() == 2 {
            1
        } else {
            self.classes.len()
        };
        let width = encoding::width(&self.features);
        if self.classes.len() < 2
            || self.weights.len() != rows
            || self.intercepts.len() != rows
            || self.weights.iter().any(|w| w.len() != width)
        {
            bail!(
                "{} classes, {} weight rows, {} intercepts for {width} inputs do not fit together",
                self.classes.len(),
                self.weights.len(),
                self.intercepts.len()
            );
        }
        Ok(())
    }
}

fn fit_binary(x: Array2<f64>, targets: Array1<usize>) -> anyhow::Result<(Vec<Vec<f64>>, Vec<f64>)> {
    let fitted = LogisticRegression::default()
        .alpha(ALPHA)
        .max_iterations(MAX_ITERATIONS)
        .gradient_tolerance(GRADIENT_TOLERANCE)
        .fit(&DatasetBase::new(x, targets))
        .context("fitting the logistic regression")?;
    // linfa models the log-odds of the more frequent class; ours are those of class 1 (the
    // positive one). The logistic is odd, so the other class's log-odds are the negation.
    let sign = if fitted.labels().pos.class == 1 {
        1.0
    } else {
        -1.0
    };
    let weights = fitted.params().iter().map(|w| sign * w).collect();
    Ok((vec![weights], vec![sign * fitted.intercept()]))
}

fn fit_multinomial(
    x: Array2<f64>,
    targets: Array1<usize>,
) -> anyhow::Result<(Vec<Vec<f64>>, Vec<f64>)> {
    let fitted = MultiLogisticRegression::default()
        .alpha(ALPHA)
        .max_iterations(MAX_ITERATIONS)
        .gradient_tolerance(GRADIENT_TOLERANCE)
        .fit(&DatasetBase::new(x, targets))
        .context("fitting the multinomial logistic regression")?;
    // Every class is among the targets, so linfa's sorted classes are 0..n in order.
    debug_assert!(fitted.classes().iter().enumerate().all(|(i, c)| i == *c));
    let params = fitted.params();
    let weights = params.columns().into_iter().map(|c| c.to_vec()).collect();
    Ok((weights, fitted.intercept().to_vec()))
}

fn softmax(scores: &[f64]) -> Vec<f64> {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

fn argmax(values: &[f64]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// linfa models the more frequent class, and takes the first class it sees when they tie:
    /// whichever it took, the stored weights are the log-odds of class `1`.
    #[test]
    fn the_weights_are_the_positive_class_log_odds_whatever_linfa_picked() {
        for (ones, zeros) in [(10, 30), (30, 10), (20, 20)] {
            for ones_first in [true, false] {
                let mut rows: Vec<(f64, u8)> =
                    (0..ones).map(|i| (2.0 + i as f64 * 0.1, 1)).collect();
                let negatives = (0..zeros).map(|i| (-2.0 - i as f64 * 0.1, 0));
                if ones_first {
                    rows.extend(negatives);
                } else {
                    rows.splice(0..0, negatives);
                }
                let csv: String = std::iter::once("x,label\n".to_string())
                    .chain(rows.iter().map(|(x, label)| format!("{x},{label}\n")))
                    .collect();
                let data = Dataset::from_csv(csv.as_bytes()).unwrap();
                let model = Model::fit(&data, 0..data.len()).unwrap();
                assert_eq!(model.classes, ["0", "1"]);
                assert!(
                    model.weights[0][0] > 0.0,
                    "{ones}/{zeros}, ones first {ones_first}"
                );
                let high = model.predict_json(serde_json::json!({"x": 3}).as_object().unwrap());
                assert_eq!(high.unwrap().class, 1);
            }
        }
    }

    #[test]
    fn an_artifact_round_trips_and_a_broken_one_is_refused() {
        let data = Dataset::from_csv("x,label\n1,0\n2,1\n3,0\n4,1\n".as_bytes()).unwrap();
        let model = Model::fit(&data, 0..4).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        model.save(&path).unwrap();
        assert_eq!(Model::load(&path).unwrap(), model);
        let mut broken = model.clone();
        broken.weights[0].push(1.0);
        broken.save(&path).unwrap();
        let error = format!("{:#}", Model::load(&path).unwrap_err());
        assert!(error.contains("do not fit together"), "{error}");
    }
}
