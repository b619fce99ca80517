use vigil_plugin_sdk::testing;
use vigil_plugin_stats::preprocess_harness::{categorical, expect_error, labels, numeric};

use super::*;

fn reference() -> Batch {
    Batch {
        columns: vec![
            numeric("a", &[1.0, 2.0, 6.0, f64::NAN]),
            categorical("c", &[Some("x"), None, Some("y"), Some("x")]),
        ],
    }
}

fn run(input: Vec<Column>, config: &str) -> Result<Batch> {
    testing::preprocess::<Impute>(reference(), Batch { columns: input }, config)
}

#[test]
fn defaults_fill_the_mean_and_the_most_frequent_label() {
    let out = run(
        vec![
            numeric("a", &[f64::NAN, 5.0]),
            categorical("c", &[None, Some("unseen")]),
            numeric("new", &[f64::NAN, 1.0]),
        ],
        "",
    )
    .unwrap();
    assert_eq!(out.columns[0].data, ColumnData::numeric(vec![3.0, 5.0]));
    let ColumnData::Categorical(c) = &out.columns[1].data else {
        panic!("`c` stays categorical")
    };
    assert_eq!(labels(c), [Some("x"), Some("unseen")]);
    let ColumnData::Numeric(new) = &out.columns[2].data else {
        panic!("`new` stays numeric")
    };
    assert!(
        new[0].is_nan(),
        "a column the reference lacks passes through"
    );
}

#[test]
fn per_column_constants_and_keep() {
    let config = r#"{"strategy": "keep", "columns": {
        "c": {"strategy": "constant", "fill_value": "unknown"}}}"#;
    let out = run(
        vec![numeric("a", &[f64::NAN]), categorical("c", &[None])],
        config,
    )
    .unwrap();
    let ColumnData::Numeric(a) = &out.columns[0].data else {
        panic!()
    };
    assert!(a[0].is_nan());
    let ColumnData::Categorical(c) = &out.columns[1].data else {
        panic!()
    };
    assert_eq!(labels(c), [Some("unknown")]);
}

#[test]
fn empty_input_keeps_its_columns() {
    let input = vec![numeric("a", &[]), categorical("c", &[])];
    let out = run(input.clone(), "").unwrap();
    assert_eq!(out.columns, input);
}

#[test]
fn config_errors() {
    for (config, needle) in [
        (r#"{"columns": {"zz": {"strategy": "mean"}}}"#, "zz"),
        (r#"{"columns": {"c": {"strategy": "mean"}}}"#, "categorical"),
        (
            r#"{"categorical_strategy": "median"}"#,
            "categorical_strategy",
        ),
        (
            r#"{"columns": {"a": {"strategy": "mean", "fill_value": 1}}}"#,
            "only used by the constant",
        ),
        (
            r#"{"columns": {"a": {"strategy": "constant", "fill_value": "x"}}}"#,
            "must be a number",
        ),
        (
            r#"{"columns": {"c": {"strategy": "constant", "fill_value": 1}}}"#,
            "must be a label",
        ),
        (r#"{"strategy": "average"}"#, "average"),
        (r#"{"fill": 1}"#, "fill"),
    ] {
        expect_error(run(vec![numeric("a", &[1.0])], config), true, needle);
    }
}

#[test]
fn input_errors() {
    expect_error(
        run(
            vec![categorical("c", &[None])],
            r#"{"columns": {"a": {"strategy": "median"}}}"#,
        ),
        false,
        "column `a` is configured for imputation but missing from the input",
    );
    expect_error(
        run(vec![categorical("a", &[Some("1")])], ""),
        false,
        "categorical in the input but was numeric",
    );
    expect_error(
        run(vec![numeric("a", &[1.0, 2.0]), numeric("b", &[1.0])], ""),
        false,
        "differ in length",
    );
}

#[test]
fn reference_errors() {
    let fit = |columns: Vec<Column>, config: &str| {
        let reference = Batch { columns };
        testing::preprocess::<Impute>(reference.clone(), reference, config)
    };
    expect_error(
        fit(vec![numeric("a", &[f64::NAN, f64::NAN])], ""),
        false,
        "no non-missing values",
    );
    expect_error(
        fit(vec![categorical("c", &[None])], ""),
        false,
        "no non-missing values",
    );
    expect_error(
        fit(vec![numeric("a", &[1.0, f64::INFINITY])], ""),
        false,
        "inf",
    );
    // An all-missing column can be filled with a constant, or kept.
    fit(
        vec![numeric("a", &[f64::NAN])],
        r#"{"columns": {"a": {"strategy": "constant"}}}"#,
    )
    .unwrap();
    fit(vec![numeric("a", &[])], r#"{"strategy": "keep"}"#).unwrap();
}
