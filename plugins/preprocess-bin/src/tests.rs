use vigil_plugin_sdk::testing;
use vigil_plugin_stats::preprocess_harness::{categorical, expect_error, labels, numeric};

use super::*;

fn reference() -> Batch {
    Batch {
        columns: vec![
            numeric("a", &[0.0, 10.0, 20.0, 30.0, 40.0, f64::NAN]),
            categorical("c", &[Some("x"), None, Some("y"), None, None, None]),
        ],
    }
}

fn run(input: Vec<Column>, config: &str) -> Result<Batch> {
    testing::preprocess::<Bin>(reference(), Batch { columns: input }, config)
}

fn names(batch: &Batch) -> Vec<&str> {
    batch.columns.iter().map(|c| c.name.as_str()).collect()
}

fn bin_labels(batch: &Batch, name: &str) -> Vec<Option<String>> {
    let column = batch.columns.iter().find(|c| c.name == name).unwrap();
    let ColumnData::Categorical(c) = &column.data else {
        panic!("`{name}` is numeric")
    };
    labels(c)
        .into_iter()
        .map(|l| l.map(str::to_string))
        .collect()
}

#[test]
fn bins_are_right_closed_at_reference_quantiles() {
    // Quartiles of [0, 10, 20, 30, 40]: 10, 20, 30.
    let out = run(
        vec![numeric("a", &[-1.0, 10.0, 10.5, 30.0, 99.0, f64::NAN])],
        r#"{"bins": 4}"#,
    )
    .unwrap();
    assert_eq!(names(&out), ["a", "a_bin"]);
    let got = bin_labels(&out, "a_bin");
    let want = [Some("0"), Some("0"), Some("1"), Some("2"), Some("3"), None];
    assert_eq!(got, want.map(|l| l.map(str::to_string)));
}

#[test]
fn duplicate_edges_collapse_and_the_source_can_go() {
    let reference = Batch {
        columns: vec![numeric("a", &[1.0, 1.0, 1.0, 1.0, 2.0])],
    };
    let input = Batch {
        columns: vec![numeric("a", &[0.5, 1.0, 1.5, 3.0])],
    };
    let out = testing::preprocess::<Bin>(reference, input, r#"{"keep_source": false}"#).unwrap();
    assert_eq!(names(&out), ["a_bin"]);
    // Seven deciles at 1 collapse into one edge: the edges are [1, 1.2, 1.6].
    let got = bin_labels(&out, "a_bin");
    let want = [Some("0"), Some("0"), Some("2"), Some("3")];
    assert_eq!(got, want.map(|l| l.map(str::to_string)));
}

#[test]
fn a_categorical_placeholder_is_replaced() {
    let out = run(
        vec![categorical("a_bin", &[None]), numeric("a", &[25.0])],
        r#"{"bins": 2}"#,
    )
    .unwrap();
    assert_eq!(names(&out), ["a", "a_bin"]);
    assert_eq!(bin_labels(&out, "a_bin"), [Some("1".to_string())]);
    expect_error(
        run(vec![numeric("a_bin", &[1.0]), numeric("a", &[25.0])], ""),
        false,
        "numeric column `a_bin`, where a categorical column goes",
    );
}

#[test]
fn errors() {
    for (config, needle) in [
        (r#"{"bins": 1}"#, "from 2 to 1000"),
        (r#"{"bins": 4, "quantiles": [0.5]}"#, "not both"),
        (r#"{"quantiles": [0.5, 0.2]}"#, "increasing"),
        (r#"{"quantiles": [0.0, 0.5]}"#, "between 0 and 1"),
        (r#"{"quantiles": []}"#, "from 1 to 999"),
        (r#"{"suffix": ""}"#, "suffix"),
        (r#"{"columns": ["c"]}"#, "categorical"),
        (r#"{"edges": [1]}"#, "edges"),
    ] {
        expect_error(run(vec![numeric("a", &[1.0])], config), true, needle);
    }
    expect_error(
        run(vec![categorical("c", &[None])], r#"{"columns": ["a"]}"#),
        false,
        "`a` is configured for binning but missing",
    );
}

#[test]
fn empty_input_gets_an_empty_bin_column() {
    let out = run(vec![numeric("a", &[]), categorical("c", &[])], "").unwrap();
    assert_eq!(names(&out), ["a", "a_bin", "c"]);
    assert!(out.columns.iter().all(|c| c.data.is_empty()));
}
