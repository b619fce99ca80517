//! Property tests of every parser at the daemon's edge: records (JSON, NDJSON, CSV), labels
//! and monitor specs. Whatever the input, a parser never panics, and either refuses the input
//! whole or reads it exactly: what was written comes back, value for value, through the
//! parser and through the store.

use proptest::prelude::*;
use serde_json::{Value, json};
use vigil::ingest::{parse_labels, parse_records};
use vigil::monitor::spec::{FeatureKind, MonitorSpec};
use vigil::vocab::{Format, Task};
use vigil_store::{ColumnData, LabelValue, MISSING_CODE, RecordBatch};

/// A record as written: numeric and categorical features (None: missing) and a class.
#[derive(Clone, Debug)]
struct Record {
    id: String,
    numbers: Vec<Option<f64>>,
    texts: Vec<Option<String>>,
    prediction: String,
}

/// Text that is a value in every format: CSV reads an empty cell and a few words as missing.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_map(|s| s.chars().take(12).collect::<String>()),
        // Text that looks like a number (a zip code, a version) must stay as written.
        "-?0?[0-9]{1,4}(\\.[0-9]{0,3}0)?",
        // Text that CSV and JSON must quote or escape.
        "[a\",\r\n\\ ]{1,6}",
    ]
    .prop_filter("a missing marker", |s| {
        !matches!(s.as_str(), "" | "NA" | "NaN" | "nan" | "null")
    })
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        -1e6..1e6f64,
        Just(0.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
    ]
}

/// (numeric features, categorical features, records).
fn records() -> impl Strategy<Value = (usize, usize, Vec<Record>)> {
    (0usize..3, 0usize..3)
        .prop_filter("a feature", |(n, c)| n + c > 0)
        .prop_flat_map(|(n, c)| {
            let record = (
                "[a-z0-9]{1,8}",
                proptest::collection::vec(proptest::option::of(number()), n),
                proptest::collection::vec(proptest::option::of(text()), c),
                text(),
            );
            (Just(n), Just(c), proptest::collection::vec(record, 1..20))
        })
        .prop_map(|(n, c, rows)| {
            let records = rows
                .into_iter()
                .enumerate()
                .map(|(i, (id, numbers, texts, prediction))| Record {
                    // Unique ids: a repeated id is a duplicate, skipped by design.
                    id: format!("{i}-{id}"),
                    numbers,
                    texts,
                    prediction,
                })
                .collect();
            (n, c, records)
        })
}

fn schema(n: usize, c: usize) -> Vec<(String, FeatureKind)> {
    (0..n)
        .map(|i| (format!("n{i}"), FeatureKind::Numeric))
        .chain((0..c).map(|i| (format!("c{i}"), FeatureKind::Categorical)))
        .collect()
}

fn json_record(record: &Record) -> Value {
    let mut features = serde_json::Map::new();
    for (i, v) in record.numbers.iter().enumerate() {
        features.insert(format!("n{i}"), json!(v));
    }
    for (i, v) in record.texts.iter().enumerate() {
        features.insert(format!("c{i}"), json!(v));
    }
    json!({"id": record.id, "features": features, "prediction": record.prediction})
}

fn body(format: Format, n: usize, c: usize, records: &[Record]) -> Vec<u8> {
    match format {
        Format::Json => {
            serde_json::to_vec(&records.iter().map(json_record).collect::<Vec<_>>()).unwrap()
        }
        Format::Ndjson => records
            .iter()
            .map(|r| format!("{}\n", json_record(r)))
            .collect::<String>()
            .into_bytes(),
        Format::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .quote_style(csv::QuoteStyle::NonNumeric)
                .from_writer(Vec::new());
            let mut header = vec!["id".to_string()];
            header.extend(schema(n, c).into_iter().map(|(name, _)| name));
            header.push("prediction".into());
            writer.write_record(&header).unwrap();
            for r in records {
                let mut row = vec![r.id.clone()];
                row.extend(
                    r.numbers
                        .iter()
                        .map(|v| v.map_or(String::new(), |v| v.to_string())),
                );
                row.extend(r.texts.iter().map(|v| v.clone().unwrap_or_default()));
                row.push(r.prediction.clone());
                writer.write_record(&row).unwrap();
            }
            writer.into_inner().unwrap()
        }
    }
}

fn text_column(data: &ColumnData) -> Vec<Option<String>> {
    match data {
        ColumnData::Categorical { categories, codes } => codes
            .iter()
            .map(|&code| (code != MISSING_CODE).then(|| categories[code as usize].clone()))
            .collect(),
        ColumnData::Numeric(_) => panic!("expected a categorical column"),
    }
}

/// The batch holds exactly the records, value for value.
fn assert_exact(batch: &RecordBatch, n: usize, c: usize, records: &[Record]) {
    let ids: Vec<&str> = batch.ids.iter().map(String::as_str).collect();
    let expected_ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, expected_ids);
    for i in 0..n {
        let ColumnData::Numeric(values) = &batch.feature(&format!("n{i}")).unwrap().data else {
            panic!("n{i} is not numeric");
        };
        for (value, record) in values.iter().zip(records) {
            match record.numbers[i] {
                Some(expected) => assert_eq!(value.to_bits(), expected.to_bits()),
                None => assert!(value.is_nan()),
            }
        }
    }
    for i in 0..c {
        let column = text_column(&batch.feature(&format!("c{i}")).unwrap().data);
        let expected: Vec<Option<String>> = records.iter().map(|r| r.texts[i].clone()).collect();
        assert_eq!(column, expected);
    }
    let predictions = text_column(batch.prediction.as_ref().unwrap());
    let expected: Vec<Option<String>> =
        records.iter().map(|r| Some(r.prediction.clone())).collect();
    assert_eq!(predictions, expected);
}

/// Every column of a batch has a value per record.
fn assert_consistent(batch: &RecordBatch) {
    let rows = batch.ids.len();
    assert_eq!(batch.timestamps.len(), rows);
    for column in batch.features.iter().chain(&batch.probabilities) {
        let len = match &column.data {
            ColumnData::Numeric(v) => v.len(),
            ColumnData::Categorical { categories, codes } => {
                assert!(
                    codes
                        .iter()
                        .all(|&c| c == MISSING_CODE || (c as usize) < categories.len())
                );
                codes.len()
            }
        };
        assert_eq!(len, rows, "column {}", column.name);
    }
}

const FORMATS: [Format; 3] = [Format::Json, Format::Ndjson, Format::Csv];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Records written in any format are read back exactly.
    #[test]
    fn records_are_read_exactly((n, c, records) in records()) {
        let schema = schema(n, c);
        for format in FORMATS {
            let body = body(format, n, c, &records);
            let batch = parse_records(&body, format, Some(&schema), Task::Classification, 10_000, 0)
                .unwrap_or_else(|e| panic!("{format:?}: {e}\n{}", String::from_utf8_lossy(&body)));
            assert_exact(&batch, n, c, &records);
        }
    }

    /// A body with bytes changed, inserted or cut is refused, or read into a batch whose
    /// columns all have a value per record; nothing panics.
    #[test]
    fn damaged_bodies_are_refused_or_read_whole(
        (n, c, records) in records(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let schema = schema(n, c);
        for format in FORMATS {
            let mut body = body(format, n, c, &records);
            for &(at, byte, kind) in &edits {
                let at = at % (body.len() + 1);
                match kind {
                    0 if at < body.len() => body[at] = byte,
                    1 => body.insert(at, byte),
                    _ => body.truncate(at),
                }
            }
            for schema in [Some(schema.as_slice()), None] {
                if let Ok(batch) = parse_records(&body, format, schema, Task::Regression, 10_000, 0) {
                    assert_consistent(&batch);
                }
            }
        }
    }

    /// CSV cut inside a quoted field is refused whole, never read as fewer records.
    #[test]
    fn csv_cut_inside_quotes_is_refused((n, c, records) in records(), at in any::<usize>()) {
        let schema = schema(n, c);
        let full = body(Format::Csv, n, c, &records);
        let at = at % full.len();
        let cut = &full[..at];
        let inside_quotes = cut.iter().filter(|&&b| b == b'"').count() % 2 == 1;
        let parsed = parse_records(cut, Format::Csv, Some(&schema), Task::Classification, 10_000, 0);
        if inside_quotes {
            prop_assert!(parsed.is_err(), "cut at {at} inside quotes was read");
        }
    }

    /// Arbitrary bytes: each parser answers, none panics.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let schema = schema(1, 1);
        for format in FORMATS {
            for schema in [Some(schema.as_slice()), None] {
                if let Ok(batch) = parse_records(&bytes, format, schema, Task::Classification, 100, 0) {
                    assert_consistent(&batch);
                }
            }
            for task in [Task::Classification, Task::Regression] {
                let _ = parse_labels(&bytes, format, task, 100);
            }
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = serde_json::from_str::<MonitorSpec>(text).map(|spec| spec.validate());
        }
    }

    /// Labels written in any format are read back exactly.
    #[test]
    fn labels_are_read_exactly(
        labels in proptest::collection::vec((text(), prop_oneof![
            number().prop_map(LabelValue::Number),
            text().prop_map(LabelValue::Text),
        ]), 1..20),
    ) {
        let labels: Vec<(String, LabelValue)> = labels
            .into_iter()
            .enumerate()
            .map(|(i, (id, label))| (format!("{i}-{id}"), label))
            .collect();
        let objects: Vec<Value> = labels
            .iter()
            .map(|(id, label)| match label {
                LabelValue::Number(n) => json!({"id": id, "label": n}),
                LabelValue::Text(t) => json!({"id": id, "label": t}),
            })
            .collect();
        let json_body = serde_json::to_vec(&objects).unwrap();
        let parsed = parse_labels(&json_body, Format::Json, Task::Classification, 100).unwrap();
        prop_assert_eq!(&parsed, &labels);
        let ndjson: String = objects.iter().map(|o| format!("{o}\n")).collect();
        let parsed = parse_labels(ndjson.as_bytes(), Format::Ndjson, Task::Classification, 100).unwrap();
        prop_assert_eq!(&parsed, &labels);
        // A regression model takes number labels only.
        let numbers = labels.iter().all(|(_, l)| matches!(l, LabelValue::Number(_)));
        let parsed = parse_labels(ndjson.as_bytes(), Format::Ndjson, Task::Regression, 100);
        prop_assert_eq!(parsed.is_ok(), numbers);
        // In CSV a classifier's labels are text as written.
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(["id", "label"]).unwrap();
        let mut as_text = Vec::new();
        for (id, label) in &labels {
            let cell = match label {
                LabelValue::Number(n) => format!("{n:e}"),
                LabelValue::Text(t) => t.clone(),
            };
            writer.write_record([id.as_str(), cell.as_str()]).unwrap();
            as_text.push((id.clone(), LabelValue::Text(cell)));
        }
        let csv_body = writer.into_inner().unwrap();
        let parsed = parse_labels(&csv_body, Format::Csv, Task::Classification, 100).unwrap();
        prop_assert_eq!(parsed, as_text);
    }

    /// Any JSON document as a monitor spec: refused with a message naming a field, or a spec
    /// that survives a round trip unchanged.
    #[test]
    fn monitor_specs_are_refused_naming_a_field_or_kept_exactly(spec in spec_json()) {
        let parsed = serde_json::from_value::<MonitorSpec>(spec.clone());
        let Ok(parsed) = parsed else { return Ok(()); };
        match parsed.validate() {
            Ok(()) => {
                let again: MonitorSpec =
                    serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
                prop_assert_eq!(
                    serde_json::to_value(&again).unwrap(),
                    serde_json::to_value(&parsed).unwrap()
                );
            }
            Err(message) => {
                let field = message.split([':', '.', '[']).next().unwrap();
                prop_assert!(
                    ["name", "model", "features", "window", "reference", "pipeline", "policy", "alerts"]
                        .contains(&field),
                    "{message}"
                );
            }
        }
    }
}

/// Monitor specs near the valid ones: right fields, values from edge cases, some fields
/// dropped or of the wrong type.
fn spec_json() -> impl Strategy<Value = Value> {
    let name = prop_oneof![
        Just(json!("m")),
        Just(json!("..")),
        Just(json!("")),
        Just(json!("a b")),
        "[a-z.\\-_]{1,8}".prop_map(Value::from),
        Just(json!(7)),
    ];
    let count = prop_oneof![
        Just(json!(0)),
        Just(json!(1)),
        Just(json!(1_000_000)),
        Just(json!(1_000_001)),
        Just(json!(9_223_372_036_854_776u64)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(1.5)),
    ];
    let window = prop_oneof![
        count.clone().prop_map(|n| json!({"records": n})),
        count.clone().prop_map(|n| json!({"seconds": n})),
        Just(json!({"minutes": 1})),
        Just(json!({})),
    ];
    let feature = (
        prop_oneof![Just("x"), Just("y"), Just(""), Just("prediction")],
        prop_oneof![Just("numeric"), Just("categorical"), Just("text")],
    )
        .prop_map(|(n, t)| json!({"name": n, "type": t}));
    let pipeline = prop_oneof![
        Just(json!({})),
        Just(json!({"numeric": {"plugin": "drift-ks", "config": {"threshold": 0.01}}})),
        Just(json!({"columns": {"x": {"plugin": "drift-psi"}}})),
        Just(json!({"columns": {"ghost": {"plugin": "drift-psi"}}})),
        Just(json!({"detectors": [{"column": "x", "plugin": "detect-page-hinkley"}]})),
        Just(json!({"detectors": [{"column": "x", "plugin": "p", "extra": 1}]})),
        Just(json!({"numeric": {"plugin": "drift-ks", "config": 3}})),
    ];
    let alerts = (
        count,
        prop_oneof![Just(json!(3)), Just(json!(0)), Just(json!(5000))],
    )
        .prop_map(|(cooldown, clear)| {
            json!({"cooldown_seconds": cooldown, "clear_after_windows": clear,
                   "channels": [{"type": "webhook", "url": "https://h.example/x", "secret": "s"}]})
        });
    (
        name,
        window,
        proptest::collection::vec(feature, 0..4),
        pipeline,
        alerts,
        proptest::option::of(prop_oneof![
            Just(json!({"start": 0, "end": 10})),
            Just(json!({"start": 5, "end": 5})),
            Just(json!({"start": -1, "end": 3})),
        ]),
        any::<u8>(),
    )
        .prop_map(
            |(name, window, features, pipeline, alerts, reference, drop)| {
                let mut spec = json!({
                    "name": name, "model": "m", "window": window, "features": features,
                    "pipeline": pipeline, "alerts": alerts,
                });
                if let Some(reference) = reference {
                    spec["reference"] = reference;
                }
                // Sometimes a field is missing.
                let keys = ["name", "model", "window", "features", "pipeline", "alerts"];
                if let Some(key) = keys.get(drop as usize % 16) {
                    spec.as_object_mut().unwrap().remove(*key);
                }
                spec
            },
        )
}

/// Through the store too: a parsed batch is stored and read back as it was.
#[test]
fn parsed_records_are_stored_exactly() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vigil.db").display());
    let store = runtime.block_on(vigil_store::Store::open(&url)).unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(32));
    let models = std::cell::Cell::new(0);
    runner
        .run(&records(), |(n, c, records)| {
            let model = models.get() + 1;
            models.set(model);
            let schema = schema(n, c);
            let body = body(Format::Csv, n, c, &records);
            let batch = parse_records(
                &body,
                Format::Csv,
                Some(&schema),
                Task::Classification,
                100,
                0,
            )
            .unwrap();
            let stored = runtime.block_on(async {
                let model = store
                    .create_model(&format!("m{model}"), "classification", "")
                    .await
                    .unwrap();
                store.ingest(model.id, &batch, None).await.unwrap();
                store
                    .read_records(model.id, 0, records.len() as i64)
                    .await
                    .unwrap()
            });
            assert_exact(&stored, n, c, &records);
            Ok(())
        })
        .unwrap();
    runtime.block_on(store.close());
}
