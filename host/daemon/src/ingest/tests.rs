//! Records requests in each format, through `parse_records`.

use vigil_store::ColumnData;

use super::*;

fn schema() -> Vec<(String, FeatureKind)> {
    vec![
        ("age".into(), FeatureKind::Numeric),
        ("plan".into(), FeatureKind::Categorical),
    ]
}

#[test]
fn the_three_formats_give_the_same_batch() {
    let json = br#"[
        {"id": "a", "timestamp": 1700000000, "model_version": "v1", "features": {"age": 31, "plan": "pro"}, "prediction": 1, "probabilities": {"1": 0.9, "0": 0.1}},
        {"id": "b", "timestamp": "2023-11-14T22:13:21Z", "features": {"age": null, "plan": 7}, "prediction": "0", "probabilities": {"1": 0.2, "0": 0.8}}
    ]"#;
    let ndjson = br#"{"id": "a", "timestamp": 1700000000, "model_version": "v1", "features": {"age": 31, "plan": "pro"}, "prediction": 1, "probabilities": {"1": 0.9, "0": 0.1}}

{"id": "b", "timestamp": "2023-11-14T22:13:21Z", "features": {"age": null, "plan": 7}, "prediction": "0", "probabilities": {"1": 0.2, "0": 0.8}}
"#;
    let csv = b"id,timestamp,model_version,age,plan,prediction,proba_1,proba_0\n\
                a,1700000000,v1,31,pro,1,0.9,0.1\n\
                b,2023-11-14T22:13:21Z,,NA,7,0,0.2,0.8\n";
    let s = schema();
    let parse = |body: &[u8], format| {
        parse_records(body, format, Some(&s), Task::Classification, 100, 0).unwrap()
    };
    let a = parse(json, Format::Json);
    let b = parse(ndjson, Format::Ndjson);
    let c = parse(csv, Format::Csv);
    assert_eq!(a.encode(), b.encode());
    assert_eq!(a.encode(), c.encode());
    assert_eq!(a.ids, ["a", "b"]);
    assert_eq!(a.timestamps, [1_700_000_000_000, 1_700_000_001_000]);
    assert_eq!(a.model_versions, [Some("v1".into()), None]);
    let ColumnData::Categorical { categories, codes } = &a.feature("plan").unwrap().data else {
        panic!()
    };
    assert_eq!(categories, &["pro", "7"]);
    assert_eq!(codes, &[0, 1]);
}

#[test]
fn errors_name_row_and_field() {
    let s = schema();
    let check = |body: &[u8], format, expected: &str| {
        let e = parse_records(body, format, Some(&s), Task::Classification, 2, 0).unwrap_err();
        assert_eq!(e.to_string(), expected);
    };
    check(
        br#"[{"features": {"age": 1}}, {"features": {"age": "old"}}]"#,
        Format::Json,
        "row 2, field `age`: expected a number",
    );
    check(
        br#"[{"features": {"height": 1}}]"#,
        Format::Json,
        "row 1, field `height`: not a feature of this model's monitors",
    );
    check(
        b"{\"features\": {}}\n{\"features\": {\"age\": 1}, \"probabilities\": {\"x\": 2}}\n",
        Format::Ndjson,
        "row 2, field `probabilities.x`: must lie in [0, 1]",
    );
    check(
        b"age,plan\nx,y\n",
        Format::Csv,
        "row 1, field `age`: expected a number",
    );
    check(b"[]", Format::Json, "the request holds no records");
    check(
        br#"[{"features": {}}, {"features": {}}, {"features": {}}]"#,
        Format::Json,
        "row 3: more than 2 records in one request",
    );
    let e = parse_records(
        b"{\"features\": {}}\n{oops\n",
        Format::Ndjson,
        Some(&s),
        Task::Classification,
        9,
        0,
    )
    .unwrap_err();
    assert_eq!(e.row, Some(2));
    let e = parse_records(
        br#"[{"features": {}, "prediction": "cat"}]"#,
        Format::Json,
        None,
        Task::Regression,
        9,
        0,
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("prediction"));
    let e = parse_records(
        br#"[{"features": {}, "extra": 1}]"#,
        Format::Json,
        None,
        Task::Regression,
        9,
        0,
    )
    .unwrap_err();
    assert!(e.message.contains("extra"), "{e}");
}

#[test]
fn without_a_schema_columns_are_inferred() {
    let batch = parse_records(
        br#"[{"features": {"x": 1, "c": 2}}, {"features": {"c": "two", "late": 5}}]"#,
        Format::Json,
        None,
        Task::Regression,
        9,
        42,
    )
    .unwrap();
    assert_eq!(batch.timestamps, [42, 42]);
    assert_eq!(batch.ids.len(), 2);
    assert_ne!(batch.ids[0], batch.ids[1]);
    let ColumnData::Numeric(x) = &batch.feature("x").unwrap().data else {
        panic!()
    };
    assert_eq!(x[0], 1.0);
    assert!(x[1].is_nan());
    let ColumnData::Categorical { categories, codes } = &batch.feature("c").unwrap().data else {
        panic!()
    };
    assert_eq!(
        (categories.as_slice(), codes.as_slice()),
        (&["2".to_string(), "two".into()][..], &[0, 1][..])
    );
    let ColumnData::Numeric(late) = &batch.feature("late").unwrap().data else {
        panic!()
    };
    assert!(late[0].is_nan() && late[1] == 5.0);
}

#[test]
fn content_types() {
    assert_eq!(
        Format::from_content_type("application/json; charset=utf-8"),
        Some(Format::Json)
    );
    assert_eq!(
        Format::from_content_type("application/x-ndjson"),
        Some(Format::Ndjson)
    );
    assert_eq!(Format::from_content_type("text/csv"), Some(Format::Csv));
    assert_eq!(Format::from_content_type("text/plain"), None);
}
