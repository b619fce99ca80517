"""Reference values for the daemon's model-quality metrics (host/daemon/src/performance/),
from scikit-learn.

Run with /opt/vigil-py/bin/python from anywhere (it needs scikit-learn:
`/opt/vigil-py/bin/pip install scikit-learn`); writes metrics.json next to this script.
Every case is drawn from a fixed seed, so reruns with the same scikit-learn and NumPy give the
same file. Inputs are rounded to at most 6 decimals so that any JSON parser reads them exactly.

Classification (labels are text): if the classes seen in actual + predicted are at most two and
one of them is the positive class (the scores' positive class when scores are given, otherwise
"1", else a case-insensitive "true"), precision, recall and f1 use average="binary" with that
pos_label; otherwise average="macro" over the sorted union of classes. zero_division=0.
roc_auc = roc_auc_score(actual == positive, scores), only when scores are given and actual holds
both the positive class and some other class.

Regression: mean_absolute_error, root_mean_squared_error, and r2_score only when the actual
values are not all equal. An empty window has no metrics.
"""

import json
from pathlib import Path

import numpy as np
import sklearn
from sklearn import metrics

OUT = Path(__file__).with_name("metrics.json")


def positive_class(classes, scores):
    if scores is not None:
        return scores["positive"]
    if "1" in classes:
        return "1"
    trues = sorted(c for c in classes if c.lower() == "true")
    return trues[0] if trues else None


def expected_classification(predicted, actual, scores):
    if not actual:
        return {}
    classes = sorted(set(actual) | set(predicted))
    positive = positive_class(classes, scores)
    if len(classes) <= 2 and positive in classes:
        kwargs = {"average": "binary", "pos_label": positive}
    else:
        kwargs = {"average": "macro", "labels": classes}
    out = {
        "accuracy": metrics.accuracy_score(actual, predicted),
        "precision": metrics.precision_score(actual, predicted, zero_division=0, **kwargs),
        "recall": metrics.recall_score(actual, predicted, zero_division=0, **kwargs),
        "f1": metrics.f1_score(actual, predicted, zero_division=0, **kwargs),
    }
    if scores is not None:
        is_positive = np.array([a == scores["positive"] for a in actual])
        if is_positive.any() and not is_positive.all():
            out["roc_auc"] = metrics.roc_auc_score(is_positive, np.array(scores["values"]))
    return {name: float(value) for name, value in out.items()}


def expected_regression(predicted, actual):
    if not actual:
        return {}
    y_pred = np.array(predicted, dtype=np.float64)
    y_true = np.array(actual, dtype=np.float64)
    out = {
        "mae": metrics.mean_absolute_error(y_true, y_pred),
        "rmse": metrics.root_mean_squared_error(y_true, y_pred),
    }
    if np.any(y_true != y_true[0]):
        out["r2"] = metrics.r2_score(y_true, y_pred)
    return {name: float(value) for name, value in out.items()}


def floats(array, decimals=6):
    return [float(v) for v in np.round(np.asarray(array, dtype=np.float64), decimals)]


def labels(codes, names):
    return [names[c] for c in codes]


def noisy_copy(rng, codes, k, error_rate):
    """codes with a fraction replaced by a uniformly drawn (possibly equal) class."""
    codes = np.array(codes)
    wrong = rng.random(len(codes)) < error_rate
    codes[wrong] = rng.integers(0, k, wrong.sum())
    return codes


def binary_with_scores(rng, n, decimals, names=("0", "1"), prevalence=0.3, separation=1.0):
    """Labels, predicted labels (score >= 0.5) and logistic scores for the positive class."""
    is_pos = rng.random(n) < prevalence
    logit = rng.normal(0, 1, n) + separation * np.where(is_pos, 1.0, -1.0)
    score = np.round(1 / (1 + np.exp(-logit)), decimals)
    actual = [names[1] if p else names[0] for p in is_pos]
    predicted = [names[1] if s >= 0.5 else names[0] for s in score]
    return predicted, actual, floats(score, decimals)


def cases():
    out = []

    def cls(name, predicted, actual, positive=None, score_values=None):
        scores = None if positive is None else {"positive": positive, "values": score_values}
        out.append(
            {
                "name": name,
                "kind": "classification",
                "predicted": list(predicted),
                "actual": list(actual),
                "scores": scores,
                "expected": expected_classification(list(predicted), list(actual), scores),
            }
        )

    def reg(name, predicted, actual):
        predicted, actual = floats(predicted), floats(actual)
        out.append(
            {
                "name": name,
                "kind": "regression",
                "predicted": predicted,
                "actual": actual,
                "scores": None,
                "expected": expected_regression(predicted, actual),
            }
        )

    rng = np.random.default_rng(20240610)

    # Binary, labels "0"/"1": positive "1" without scores.
    cls("binary_01_small", list("0110101001"), list("0111001011"))
    codes = rng.integers(0, 2, 300)
    cls("binary_01_random", labels(noisy_copy(rng, codes, 2, 0.3), "01"), labels(codes, "01"))
    cls("binary_01_never_predicts_positive", ["0"] * 20, ["0"] * 14 + ["1"] * 6)
    cls("binary_01_only_positive_seen", ["1"] * 5, ["1"] * 5)
    cls("binary_true_false", *(
        labels(c, ["false", "true"]) for c in (noisy_copy(rng, codes, 2, 0.2), codes)))
    cls("binary_True_False_capitalised", ["True", "False", "True", "True", "False", "False"],
        ["True", "True", "False", "True", "False", "True"])
    # Two classes but no positive one: macro average.
    cls("two_classes_no_positive_macro", *(
        labels(c, ["no", "yes"]) for c in (noisy_copy(rng, codes, 2, 0.25), codes)))
    cls("all_correct_binary", list("0110100111"), list("0110100111"))
    cls("all_wrong_binary", list("1001011000"), list("0110100111"))

    # Binary with scores.
    pred, act, score = binary_with_scores(rng, 400, 6)
    cls("binary_scores", pred, act, "1", score)
    pred, act, score = binary_with_scores(rng, 500, 1)
    cls("binary_scores_heavy_ties", pred, act, "1", score)
    pred, act, _ = binary_with_scores(rng, 60, 2)
    cls("binary_scores_all_tied", pred, act, "1", [0.5] * 60)
    pred, act, score = binary_with_scores(rng, 200, 3, names=("ham", "spam"))
    cls("binary_scores_string_positive", pred, act, "spam", score)
    cls("binary_scores_perfect_separation", ["b", "a", "b", "a", "a"], ["b", "a", "b", "a", "a"],
        "b", [0.9, 0.1, 0.8, 0.2, 0.3])
    cls("binary_scores_reversed", ["b", "a", "b", "a", "a"], ["b", "a", "b", "a", "a"],
        "b", [0.1, 0.9, 0.2, 0.8, 0.7])
    cls("binary_scores_signed_zero_ties", ["1", "0", "0", "1", "0", "1"],
        ["1", "0", "1", "0", "0", "1"], "1", [0.0, -0.0, -0.0, 0.0, 1.0, -1.0])
    cls("binary_scores_extreme_magnitudes", ["1", "0", "0", "1", "0", "1", "1"],
        ["1", "0", "1", "0", "0", "1", "0"], "1", [1e300, -1e300, 1e-300, 2e-300, 0.0, 5.0, 5.0])
    # The scores' positive class decides, even when it is "0".
    cls("binary_scores_positive_zero", list("0110101001"), list("0111001011"), "0",
        floats(rng.random(10), 2))

    # Multiclass.
    names3 = ["bird", "cat", "dog"]
    codes = rng.choice(3, 300, p=[0.2, 0.5, 0.3])
    cls("multiclass_3", labels(noisy_copy(rng, codes, 3, 0.35), names3), labels(codes, names3))
    names5 = ["setosa", "versicolor", "virginica", "x-ray", "Zulu"]
    codes = rng.choice(5, 1000, p=[0.4, 0.25, 0.2, 0.1, 0.05])
    cls("multiclass_5", labels(noisy_copy(rng, codes, 5, 0.4), names5), labels(codes, names5))
    names12 = [f"c{i}" for i in range(12)]
    codes = rng.integers(0, 12, 2000)
    cls("multiclass_12_classes", labels(noisy_copy(rng, codes, 12, 0.5), names12),
        labels(codes, names12))
    cls("class_only_in_predictions", ["a", "b", "c", "a", "c", "b", "a"],
        ["a", "b", "b", "a", "a", "b", "a"])
    cls("class_only_in_actual", ["a", "b", "a", "a", "b", "b"], ["a", "b", "c", "a", "c", "b"])
    cls("numbers_as_labels", ["1", "2", "10", "2", "1", "10", "10"],
        ["1", "2", "2", "10", "1", "10", "1"])
    cls("all_correct_multiclass", ["x", "y", "z", "y"], ["x", "y", "z", "y"])
    cls("all_wrong_multiclass", ["y", "z", "x", "z"], ["x", "y", "z", "y"])
    codes = rng.choice(3, 150)
    cls("multiclass_one_vs_rest_scores", labels(noisy_copy(rng, codes, 3, 0.3), names3),
        labels(codes, names3), "cat", floats(rng.random(150), 2))

    # Single class in actual: no roc_auc.
    cls("single_class_actual_positive", ["1", "0", "1", "1"], ["1"] * 4, "1", [0.9, 0.4, 0.6, 0.7])
    cls("single_class_actual_negative", ["0", "0", "0"], ["0"] * 3, "1", [0.1, 0.2, 0.3])
    cls("scores_positive_never_seen", ["a", "b", "a", "b"], ["a", "b", "b", "b"], "c",
        [0.1, 0.2, 0.3, 0.4])

    # Tiny windows.
    cls("tiny_n1_correct", ["1"], ["1"])
    cls("tiny_n1_wrong", ["0"], ["1"])
    cls("tiny_n2_scores", ["1", "1"], ["0", "1"], "1", [0.7, 0.7])
    cls("empty_classification", [], [])

    # Mid-size.
    pred, act, score = binary_with_scores(rng, 10000, 3, prevalence=0.2, separation=0.8)
    cls("binary_scores_10k", pred, act, "1", score)

    # Regression.
    reg("regression_small", [2.5, 0.0, 2.0, 8.0], [3.0, -0.5, 2.0, 7.0])
    y = rng.normal(10, 3, 1000)
    reg("regression_random", y + rng.normal(0, 1, 1000), y)
    reg("regression_perfect", [1.5, 2.5, -3.25], [1.5, 2.5, -3.25])
    reg("regression_worse_than_mean", rng.normal(0, 5, 50), rng.normal(0, 1, 50))
    reg("regression_constant_actual", [4.0, 5.0, 3.5, 4.25], [4.0] * 4)
    reg("regression_constant_actual_perfect", [4.0] * 3, [4.0] * 3)
    reg("regression_large_values", rng.normal(1e9, 1e7, 200).round(),
        rng.normal(1e9, 1e7, 200).round())
    y = rng.lognormal(12, 1, 300)
    reg("regression_large_values_close", y + rng.normal(0, 1e3, 300), y)
    reg("regression_tiny_n1", [2.0], [3.0])
    reg("regression_tiny_n2", [2.0, 1.0], [3.0, 0.5])
    y = rng.standard_t(2, 5000)
    reg("regression_heavy_tails_5k", y + rng.standard_t(3, 5000), y)
    reg("empty_regression", [], [])
    return out


def main():
    header = {
        "generated_by": "tests/reference/generate_metrics.py",
        "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
    }
    lines = [json.dumps(case, ensure_ascii=False, allow_nan=False) for case in cases()]
    head = json.dumps(header, ensure_ascii=False)[:-1]
    text = head + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"
    json.loads(text)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(lines)} cases, {len(text.encode())} bytes to {OUT}")


if __name__ == "__main__":
    main()
