//! Reading records back, and joining labels to them, on SQLite and on Postgres, a test on each
//! (the harness is in `common/mod.rs`).

mod common;

use common::*;
use vigil_store::{LabelOutcome, LabelValue};

on_both_backends!(read_records_cuts_across_batches);
async fn read_records_cuts_across_batches(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    // Three batches (offsets 0..3, 3..7, 7..9) whose `c` dictionaries differ: the same
    // value has another code in each, and each brings values the others lack.
    let batches = [
        vec![
            row("r0", 0.5, Some("red")),
            row("r1", -1.25, Some("green")),
            row("r2", f64::MAX, None),
        ],
        vec![
            row("r3", 3.0, Some("blue")),
            row("r4", 4.0, Some("red")),
            row("r5", 0.0, None),
            row("r6", 6.5, Some("green")),
        ],
        vec![
            row("r7", 7.0, Some("green")),
            row("r8", 1e-300, Some("violet")),
        ],
    ];
    let mut all = Vec::new();
    for rows in &batches {
        let outcome = s.ingest(model.id, &batch(rows), None).await.unwrap();
        assert_eq!(outcome.first_offset, all.len() as i64);
        all.extend(rows.iter().cloned());
    }
    assert_eq!(s.record_count(model.id).await.unwrap(), 9);

    for (start, end) in [
        (0, 9),
        (0, 3),
        (3, 7),
        (2, 5),
        (1, 8),
        (6, 9),
        (4, 5),
        (5, 5),
        (8, 20),
        (0, 100),
    ] {
        let got = rows_of(&s.read_records(model.id, start, end).await.unwrap());
        let want = &all[start as usize..(end as usize).min(all.len())];
        assert_eq!(got, want, "records {start}..{end}");
    }
    // Ranges with nothing in them.
    assert!(s.read_records(model.id, 9, 20).await.unwrap().is_empty());
    assert!(s.read_records(model.id, 100, 200).await.unwrap().is_empty());
    assert!(s.read_records(model.id, 5, 4).await.unwrap().is_empty());
    assert!(
        s.read_records(model.id + 1000, 0, 9)
            .await
            .unwrap()
            .is_empty()
    );
}

on_both_backends!(chunks_walk_a_range_whole_batches_at_a_time);
/// Reading a long range piece by piece (as the records export does) gives what one read gives,
/// each piece made of whole stored batches cut to the range, and stops at a pruned hole.
async fn chunks_walk_a_range_whole_batches_at_a_time(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    let all: Vec<Row> = rows("r", 40);
    // Batches of 1, 2, 3, … records: 0..1, 1..3, 3..6, 6..10, 10..15, …
    let mut bounds = vec![0];
    let mut at = 0;
    for size in 1.. {
        if at >= all.len() {
            break;
        }
        let end = (at + size).min(all.len());
        s.ingest(model.id, &batch(&all[at..end]), None)
            .await
            .unwrap();
        at = end;
        bounds.push(at as i64);
    }
    for (start, end, budget) in [(0, 40, 1), (0, 40, 5), (2, 37, 4), (7, 8, 100), (0, 100, 3)] {
        let mut got = Vec::new();
        let mut next = start;
        loop {
            let piece = s
                .read_records_chunk(model.id, next, end, budget)
                .await
                .unwrap();
            if piece.is_empty() {
                break;
            }
            let piece_end = next + piece.len() as i64;
            // A piece ends where a stored batch ends, or at the range's end.
            assert!(
                piece_end == end.min(40) || bounds.contains(&piece_end),
                "{start}..{end} by {budget}: a piece ends at {piece_end}"
            );
            // It holds the budget, or runs to the end, and at most one batch more.
            let batch_after = |offset: i64| bounds.iter().find(|&&b| b > offset).copied();
            assert!(
                piece.len() as i64 >= budget || piece_end == end.min(40),
                "{start}..{end} by {budget}: {} records",
                piece.len()
            );
            assert!(piece_end <= batch_after(next + budget - 1).unwrap_or(40));
            got.extend(rows_of(&piece));
            next = piece_end;
        }
        assert_eq!(
            got,
            all[start as usize..(end as usize).min(40)],
            "{start}..{end} by {budget}"
        );
    }
    assert!(
        s.read_records_chunk(model.id, 40, 50, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A hole (the batch 6..10 pruned): the pieces before it read, the one reaching it fails.
    raw_execute(
        &ctx,
        &format!(
            "UPDATE record_batches SET received_at = 0 WHERE model_id = {} AND first_offset = 6",
            model.id
        ),
    )
    .await;
    s.prune_records(model.id, 40, 1).await.unwrap();
    assert_eq!(
        rows_of(&s.read_records_chunk(model.id, 0, 40, 6).await.unwrap()),
        all[0..6]
    );
    assert!(matches!(
        s.read_records_chunk(model.id, 6, 40, 6).await,
        Err(vigil_store::Error::Pruned { start: 6, .. })
    ));
    assert_eq!(
        rows_of(&s.read_records_chunk(model.id, 10, 40, 1).await.unwrap()),
        all[10..15]
    );
}

// ---- labels -----------------------------------------------------------------------------------

on_both_backends!(labels_join_records_by_id);
async fn labels_join_records_by_id(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    s.ingest(model.id, &batch(&rows("r", 5)), None)
        .await
        .unwrap();

    let outcome = s
        .upsert_labels(
            model.id,
            &[
                ("r1".into(), LabelValue::Number(1.0)),
                ("r3".into(), LabelValue::Text("cat".into())),
                ("r7".into(), LabelValue::Number(0.0)), // its record comes later
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        LabelOutcome {
            stored: 3,
            matched: 2
        }
    );
    assert_eq!(
        s.labels_in_range(model.id, 0, 5).await.unwrap(),
        [
            (1, LabelValue::Number(1.0)),
            (3, LabelValue::Text("cat".into()))
        ]
    );
    // The window bounds are [start, end).
    assert_eq!(
        s.labels_in_range(model.id, 2, 5).await.unwrap(),
        [(3, LabelValue::Text("cat".into()))]
    );
    assert!(s.labels_in_range(model.id, 0, 1).await.unwrap().is_empty());
    assert!(
        s.labels_in_range(model.id, 4, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // A later label replaces the earlier, whatever its kind.
    let outcome = s
        .upsert_labels(
            model.id,
            &[
                ("r1".into(), LabelValue::Text("dog".into())),
                ("r3".into(), LabelValue::Number(-2.5)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        LabelOutcome {
            stored: 2,
            matched: 2
        }
    );
    assert_eq!(
        s.labels_in_range(model.id, 0, 5).await.unwrap(),
        [
            (1, LabelValue::Text("dog".into())),
            (3, LabelValue::Number(-2.5))
        ]
    );
    // Within one request too: the last label for a record wins, and it matches once.
    let outcome = s
        .upsert_labels(
            model.id,
            &[
                ("r2".into(), LabelValue::Number(1.0)),
                ("r2".into(), LabelValue::Number(2.0)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(outcome.matched, 1);
    assert_eq!(
        s.labels_in_range(model.id, 2, 3).await.unwrap(),
        [(2, LabelValue::Number(2.0))]
    );

    // r7's label was waiting: it joins when r7 arrives (at offset 7).
    s.ingest(model.id, &batch(&rows("r", 8)), None)
        .await
        .unwrap();
    assert_eq!(
        s.labels_in_range(model.id, 5, 8).await.unwrap(),
        [(7, LabelValue::Number(0.0))]
    );
    // Labels belong to their model.
    let other = s.create_model("other", "t", "d").await.unwrap();
    s.ingest(other.id, &batch(&rows("r", 8)), None)
        .await
        .unwrap();
    assert!(s.labels_in_range(other.id, 0, 8).await.unwrap().is_empty());
}

on_both_backends!(large_requests_span_insert_chunks);
/// Requests larger than one multi-row INSERT (2000 rows), with repeats across its chunks.
async fn large_requests_span_insert_chunks(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    s.ingest(model.id, &batch(&rows("r", 100)), None)
        .await
        .unwrap();
    // r0..r4499: r0..r99 are stored already; r10..r59 come again at the end.
    let mut big = rows("r", 4500);
    big.extend(rows("r", 60).split_off(10));
    let outcome = s.ingest(model.id, &batch(&big), None).await.unwrap();
    assert_eq!(
        (outcome.accepted, outcome.duplicates, outcome.first_offset),
        (4400, 150, 100)
    );
    let all = s.read_records(model.id, 0, 10_000).await.unwrap();
    let want: Vec<String> = (0..4500).map(|i| format!("r{i}")).collect();
    assert_eq!(all.ids, want);
    assert_eq!(rows_of(&all)[4499], row("r4499", 4499.5, Some("k")));

    // Labels for every record, r1000 twice in different chunks (the later wins), plus
    // 10 with no record yet.
    let mut labels: Vec<(String, LabelValue)> = (0..4500)
        .map(|i| (format!("r{i}"), LabelValue::Number(i as f64)))
        .collect();
    labels.push(("r1000".into(), LabelValue::Text("late".into())));
    labels.extend((0..10).map(|i| (format!("future{i}"), LabelValue::Number(0.0))));
    let outcome = s.upsert_labels(model.id, &labels).await.unwrap();
    assert_eq!(outcome.matched, 4500);
    let got = s.labels_in_range(model.id, 0, 4500).await.unwrap();
    assert_eq!(got.len(), 4500);
    assert_eq!(got[1000], (1000, LabelValue::Text("late".into())));
    assert_eq!(got[4499], (4499, LabelValue::Number(4499.0)));
}
