//! The fitted imputation, scaling and principal components, and the reconstruction error.

use nalgebra::{DMatrix, SymmetricEigen};
use vigil_plugin_sdk::{Error, Result};
use vigil_plugin_stats::columns::{Rows, standard_scale};
use vigil_plugin_stats::sum::{mean, pairwise_sum, variance};

use crate::{TEST, THRESHOLD_FLOOR};

/// What the reference fixed: per column the imputed mean and the scaler's mean and scale; the
/// PCA's centre and its kept components.
pub struct Reconstruction {
    names: Vec<String>,
    impute: Vec<f64>,
    scale: Vec<(f64, f64)>,
    centre: Vec<f64>,
    /// `components[c]` is the c-th kept principal axis, a unit vector over the columns.
    components: Vec<Vec<f64>>,
}

impl Reconstruction {
    /// Fits on the reference rows, keeping the fewest components whose explained variance
    /// reaches `share` of the total (scikit-learn's `searchsorted(cumsum, share, "right") + 1`).
    pub fn fit(rows: &Rows, share: f64) -> Result<Reconstruction> {
        let width = rows.width();
        if width < 2 {
            return Err(Error::InvalidInput(format!(
                "`{TEST}` needs at least 2 columns: one column is its own principal component and \
                 always reconstructs exactly; use a one-column drift test for it"
            )));
        }
        if rows.len() < 2 {
            return Err(Error::InvalidInput(format!(
                "the reference has {} rows; `{TEST}` needs at least 2",
                rows.len()
            )));
        }
        let mut impute = Vec::with_capacity(width);
        for (j, name) in rows.names.iter().enumerate() {
            let present: Vec<f64> = rows.column(j).into_iter().filter(|v| !v.is_nan()).collect();
            if present.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "the reference's column `{name}` has no value, so there is no mean to \
                     impute its missing values with; leave it out"
                )));
            }
            impute.push(mean(&present));
        }
        let mut fitted = Reconstruction {
            names: rows.names.clone(),
            impute,
            scale: Vec::new(),
            centre: vec![0.0; width],
            components: Vec::new(),
        };
        let imputed = fitted.imputed(rows);
        fitted.scale = (0..width)
            .map(|j| standard_scale(&column(&imputed, width, j)))
            .collect();
        let standardized = fitted.standardized(imputed);
        fitted.centre = (0..width)
            .map(|j| mean(&column(&standardized, width, j)))
            .collect();
        let n = rows.len();
        let centred: Vec<f64> = standardized
            .iter()
            .enumerate()
            .map(|(k, v)| v - fitted.centre[k % width])
            .collect();
        let data = DMatrix::from_row_slice(n, width, &centred);
        let covariance = (data.transpose() * &data) / (n as f64 - 1.0);
        let eigen = SymmetricEigen::new(covariance);
        let mut order: Vec<usize> = (0..width).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let variances: Vec<f64> = order
            .iter()
            .map(|&i| eigen.eigenvalues[i].max(0.0))
            .collect();
        let total = pairwise_sum(&variances);
        if total <= 0.0 {
            return Err(Error::InvalidInput(format!(
                "every column is constant in the reference, so `{TEST}` has no structure to \
                 reconstruct"
            )));
        }
        let mut cumulative = 0.0;
        let mut kept = 0;
        for v in &variances {
            cumulative += v / total;
            if cumulative > share {
                break;
            }
            kept += 1;
        }
        let kept = (kept + 1).min(width);
        fitted.components = order[..kept]
            .iter()
            .map(|&i| eigen.eigenvectors.column(i).iter().copied().collect())
            .collect();
        Ok(fitted)
    }

    /// The columns, in the reference's order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The number of components kept.
    pub fn kept(&self) -> usize {
        self.components.len()
    }

    /// The mean reconstruction error of `rows` (same columns as the reference).
    pub fn mean_error(&self, rows: &Rows) -> f64 {
        let width = self.names.len();
        let standardized = self.standardized(self.imputed(rows));
        let errors: Vec<f64> = standardized
            .chunks_exact(width)
            .map(|row| self.error(row))
            .collect();
        mean(&errors)
    }

    /// The reference chunks' errors' mean plus `multiplier` population standard deviations,
    /// at least [`THRESHOLD_FLOOR`].
    pub fn derived_threshold(&self, rows: &Rows, chunks: usize, multiplier: f64) -> Result<f64> {
        let n = rows.len();
        if n < chunks {
            return Err(Error::InvalidInput(format!(
                "the reference has {n} rows, fewer than the {chunks} chunks the threshold is \
                 derived from; lower `chunks` or set `threshold`"
            )));
        }
        // np.array_split: the first n % chunks chunks get one row more.
        let (size, larger) = (n / chunks, n % chunks);
        let mut start = 0;
        let mut errors = Vec::with_capacity(chunks);
        for c in 0..chunks {
            let len = size + usize::from(c < larger);
            let picked: Vec<usize> = (start..start + len).collect();
            errors.push(self.mean_error(&rows.pick(&picked)));
            start += len;
        }
        let threshold = mean(&errors) + multiplier * variance(&errors, 0).sqrt();
        Ok(threshold.max(THRESHOLD_FLOOR))
    }

    fn imputed(&self, rows: &Rows) -> Vec<f64> {
        let width = self.names.len();
        rows.values
            .iter()
            .enumerate()
            .map(|(k, &v)| {
                if v.is_nan() {
                    self.impute[k % width]
                } else {
                    v
                }
            })
            .collect()
    }

    fn standardized(&self, mut values: Vec<f64>) -> Vec<f64> {
        let width = self.names.len();
        for (k, v) in values.iter_mut().enumerate() {
            let (mean, scale) = self.scale[k % width];
            *v = (*v - mean) / scale;
        }
        values
    }

    /// `|x − x̂|` where `x̂ = c + Wᵀ W (x − c)`.
    fn error(&self, row: &[f64]) -> f64 {
        let centred: Vec<f64> = row.iter().zip(&self.centre).map(|(x, c)| x - c).collect();
        let mut residual = centred.clone();
        for axis in &self.components {
            let t: f64 = axis.iter().zip(&centred).map(|(a, x)| a * x).sum();
            for (r, a) in residual.iter_mut().zip(axis) {
                *r -= t * a;
            }
        }
        residual.iter().map(|r| r * r).sum::<f64>().sqrt()
    }
}

fn column(values: &[f64], width: usize, j: usize) -> Vec<f64> {
    values.iter().skip(j).step_by(width).copied().collect()
}
