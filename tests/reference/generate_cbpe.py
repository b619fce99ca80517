"""Reference values for the daemon's label-free performance estimation
(host/daemon/src/performance/estimation/), from NannyML's CBPE itself.

Run with a Python that has NannyML (`python3 -m venv V && V/bin/pip install nannyml`, then
`V/bin/python tests/reference/generate_cbpe.py`); writes cbpe.json next to this script. Every
case is drawn from a fixed seed, and inputs are rounded to 6 decimals so that any JSON parser
reads them exactly.

NannyML decides whether to calibrate with a cross-validated check over random splits; Vigil
keeps its deterministic part (the reference has labels of both classes and a ROC AUC of at most
0.999) and calibrates whenever that holds. To compare the estimates themselves, this script
replaces NannyML's `needs_calibration` with that rule; everything else (the isotonic
calibrator, the expected confusion matrix, estimate_roc_auc, the realized reference metrics) is
NannyML's own code. Each case runs one CBPE fitted on the reference, with one chunk for the
reference and one for each window.
"""

import json
import warnings
from pathlib import Path

import nannyml
import nannyml.performance_estimation.confidence_based.cbpe as cbpe_module
import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import roc_auc_score

OUT = Path(__file__).with_name("cbpe.json")
METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc"]


def vigil_needs_calibration(y_true, y_pred_proba, calibrator, bin_count=10, split_count=10):
    y_true = np.asarray(y_true)
    if len(np.unique(y_true)) == 1:
        return False
    return bool(roc_auc_score(y_true, np.asarray(y_pred_proba)) <= 0.999)


cbpe_module.needs_calibration = vigil_needs_calibration


def frame(scores, threshold, labels=None):
    df = pd.DataFrame({"p": scores, "y_pred": (np.asarray(scores) >= threshold).astype(int)})
    if labels is not None:
        df["y"] = np.asarray(labels, dtype=int)
    return df


def run(name, ref_scores, ref_labels, windows, threshold):
    ref_scores = [round(float(s), 6) for s in ref_scores]
    ref_labels = [int(v) for v in ref_labels]
    windows = [[round(float(s), 6) for s in w] for w in windows]
    estimator = nannyml.CBPE(
        y_pred_proba="p",
        y_pred="y_pred",
        y_true="y",
        problem_type="classification_binary",
        metrics=METRICS,
        chunk_number=1,
    )
    estimator.fit(frame(ref_scores, threshold, ref_labels))
    reference = estimator.result.to_df()
    realized = {}
    for metric in METRICS:
        value = reference[(metric, "realized")].iloc[0]
        if np.isfinite(value):
            realized[metric] = float(value)
    expected = []
    for window in windows:
        result = estimator.estimate(frame(window, threshold)).filter(period="analysis").to_df()
        values = {}
        for metric in METRICS:
            value = result[(metric, "value")].iloc[0]
            if np.isfinite(value):
                values["estimated_" + metric] = float(value)
        expected.append(values)
    return {
        "name": name,
        "threshold": threshold,
        "reference_scores": ref_scores,
        "reference_labels": ref_labels,
        "calibrated": bool(estimator.needs_calibration),
        "realized": {"estimated_" + k: v for k, v in realized.items()},
        "windows": windows,
        "expected": expected,
    }


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def main():
    # Chunks of one window make NannyML warn about sampling errors it cannot estimate.
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(20261207)
    cases = []

    # A miscalibrated model: labels drawn from a sharper curve than the scores say.
    x = rng.normal(size=2000)
    scores = logistic(x)
    labels = rng.random(2000) < logistic(2.5 * x)
    shifted = [logistic(rng.normal(loc=m, size=n)) for m, n in [(0.0, 500), (0.8, 700), (-1.2, 300)]]
    cases.append(run("miscalibrated_shifts", scores, labels, shifted, 0.5))

    # Well calibrated, another threshold.
    x = rng.normal(size=1500)
    scores = logistic(x)
    labels = rng.random(1500) < scores
    cases.append(run("calibrated_threshold_0_3", scores, labels,
                     [logistic(rng.normal(loc=0.5, size=400)), scores[:200]], 0.3))

    # Probabilities on a grid: many ties on both sides.
    grid = rng.integers(0, 11, size=800) / 10.0
    labels = rng.random(800) < np.clip(grid * 0.8 + 0.1, 0, 1)
    cases.append(run("ties_on_a_grid", grid, labels,
                     [rng.integers(0, 11, size=300) / 10.0, rng.integers(3, 8, size=50) / 10.0], 0.5))

    # A window outside the reference's range (clipped) and a tiny window.
    x = rng.normal(size=600)
    scores = 0.2 + 0.6 * logistic(x)
    labels = rng.random(600) < logistic(1.5 * x)
    cases.append(run("clipped_and_tiny", scores, labels,
                     [rng.random(250), [0.05, 0.95, 0.5]], 0.5))

    # A reference the scores separate perfectly: no calibration.
    scores = np.concatenate([rng.uniform(0.0, 0.45, 300), rng.uniform(0.55, 1.0, 300)])
    labels = np.concatenate([np.zeros(300), np.ones(300)])
    cases.append(run("separable_reference_not_calibrated", scores, labels,
                     [rng.random(400)], 0.5))

    # A reference of one class: no calibration, no realized ROC AUC.
    scores = rng.random(300)
    cases.append(run("one_class_reference", scores, np.ones(300),
                     [rng.random(200)], 0.5))

    document = {
        "generated_by": "tests/reference/generate_cbpe.py",
        "versions": {"nannyml": nannyml.__version__, "scikit-learn": sklearn.__version__,
                     "numpy": np.__version__, "pandas": pd.__version__},
        "cases": cases,
    }
    OUT.write_text(json.dumps(document) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
