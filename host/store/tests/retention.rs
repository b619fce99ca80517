//! Pruning old records (`Store::prune_records`), on SQLite and on Postgres, a test on each (the
//! harness is in `common/mod.rs`).

mod common;

use common::*;
use vigil_store::{
    Backend, Error, IdempotencyKey, LabelValue, NewAlert, PruneOutcome, RecordBatch, Store, now_ms,
};

fn pruned(outcome: (usize, usize)) -> PruneOutcome {
    PruneOutcome {
        records: outcome.0,
        batches: outcome.1,
    }
}

/// The span `Error::Pruned` names, or a panic with what came instead.
fn pruned_span(result: Result<RecordBatch, Error>) -> (i64, i64) {
    match result {
        Err(Error::Pruned { start, end, .. }) => (start, end),
        Err(other) => panic!("expected Pruned, got {other}"),
        Ok(batch) => panic!("expected Pruned, read {} records", batch.len()),
    }
}

fn label(id: &str, value: f64) -> (String, LabelValue) {
    (id.to_string(), LabelValue::Number(value))
}

/// Labels stored for `ids`, whether or not their records are.
async fn labelled(store: &Store, model_id: i64, ids: &[&str]) -> Vec<String> {
    let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let found = store.labels_of(model_id, 0, &ids).await.unwrap();
    found
        .iter()
        .map(|(offset, _)| ids[*offset as usize].clone())
        .collect()
}

/// A millisecond strictly after what was stored before and strictly before what is stored
/// next: waits (by watching the clock, not by sleeping a guess) until `now_ms()` has moved past
/// it both ways.
async fn next_millisecond() -> i64 {
    let before = now_ms();
    let now = later_than(before).await;
    later_than(now).await;
    now
}

/// The first reading of `now_ms()` past `ms`.
async fn later_than(ms: i64) -> i64 {
    loop {
        let now = now_ms();
        if now > ms {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

on_both_backends!(prune_removes_whole_old_batches_with_their_ids_and_labels);
async fn prune_removes_whole_old_batches_with_their_ids_and_labels(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    let key = IdempotencyKey {
        key: "first",
        request_sha256: &[7; 32],
    };
    // Batches at offsets 0..4 (a), 4..7 (b), 7..12 (c), then later 12..15 (d).
    let first = s
        .ingest(model.id, &batch(&rows("a", 4)), Some(&key))
        .await
        .unwrap();
    s.ingest(model.id, &batch(&rows("b", 3)), None)
        .await
        .unwrap();
    s.ingest(model.id, &batch(&rows("c", 5)), None)
        .await
        .unwrap();
    let cut = next_millisecond().await;
    s.ingest(model.id, &batch(&rows("d", 3)), None)
        .await
        .unwrap();
    let all = s.read_records(model.id, 0, 15).await.unwrap();
    let labels = [
        label("a0", 1.0),
        label("a3", 2.0),
        label("b1", 3.0),
        label("c4", 4.0),
        label("d0", 5.0),
        label("waiting", 6.0),
    ];
    assert_eq!(s.upsert_labels(model.id, &labels).await.unwrap().matched, 5);
    let monitor = s
        .create_monitor(&new_monitor("mon", model.id, None, &[]))
        .await
        .unwrap();
    let alert = NewAlert {
        cause: "drift",
        message: "x drifted",
    };
    let (evaluation_id, _) = s
        .record_evaluation(
            &evaluation(monitor.id, 0, 5, 1000),
            &state(5, 1000),
            &[alert],
        )
        .await
        .unwrap();

    // Nothing below offset 0, nothing stored before the epoch, nothing for a stranger.
    assert_eq!(
        s.prune_records(model.id, 0, i64::MAX).await.unwrap(),
        pruned((0, 0))
    );
    assert_eq!(
        s.prune_records(model.id, 15, 0).await.unwrap(),
        pruned((0, 0))
    );
    assert_eq!(
        s.prune_records(model.id + 1000, 15, i64::MAX)
            .await
            .unwrap(),
        pruned((0, 0))
    );

    // Below 9 and before the cut: a and b; c holds offsets 9..12, so it stays whole.
    assert_eq!(
        s.prune_records(model.id, 9, cut).await.unwrap(),
        pruned((7, 2))
    );
    assert_eq!(s.record_count(model.id).await.unwrap(), 15);
    assert_eq!(
        rows_of(&s.read_records(model.id, 7, 15).await.unwrap()),
        rows_of(&all.slice(7..15))
    );
    assert_eq!(pruned_span(s.read_records(model.id, 0, 15).await), (0, 7));
    assert_eq!(
        labelled(s, model.id, &["a0", "a3", "b1", "c4", "d0", "waiting"]).await,
        ["c4", "d0", "waiting"]
    );

    // Everything below the end, but only what was stored before the cut: c, not d.
    assert_eq!(
        s.prune_records(model.id, 15, cut).await.unwrap(),
        pruned((5, 1))
    );
    assert_eq!(
        rows_of(&s.read_records(model.id, 12, 15).await.unwrap()),
        rows_of(&all.slice(12..15))
    );
    assert_eq!(
        s.labels_in_range(model.id, 12, 15).await.unwrap(),
        [(12, LabelValue::Number(5.0))]
    );
    assert_eq!(
        s.prune_records(model.id, 15, cut).await.unwrap(),
        pruned((0, 0))
    );
    assert_eq!(
        s.model_by_id(model.id).await.unwrap().unwrap().record_count,
        15
    );

    // What stays: the last batch with its ids, the labels of d0 and of the record that
    // has not come yet, the evaluation and its alert, and the idempotency key's answer.
    let count = |table: &str| format!("SELECT count(*) FROM {table}");
    assert_eq!(raw_scalar(&ctx, &count("record_batches")).await, 1);
    assert_eq!(raw_scalar(&ctx, &count("labels")).await, 2);
    match ctx.store.backend() {
        Backend::Sqlite => {
            assert_eq!(raw_scalar(&ctx, &count("record_fingerprints")).await, 1);
        }
        Backend::Postgres => assert_eq!(raw_scalar(&ctx, &count("record_ids")).await, 3),
    }
    assert!(s.evaluation(evaluation_id).await.unwrap().is_some());
    assert_eq!(s.alerts(Some(monitor.id), None, 10).await.unwrap().len(), 1);
    let replay = s
        .ingest(model.id, &batch(&rows("a", 4)), Some(&key))
        .await
        .unwrap();
    assert!(replay.replayed);
    assert_eq!((replay.accepted, replay.first_offset), (first.accepted, 0));
    assert_eq!(s.record_count(model.id).await.unwrap(), 15);
}

on_both_backends!(reading_a_pruned_range_fails_and_the_rest_reads_the_same);
/// A range reaching into pruned records is refused whole, naming the first pruned span; the
/// rest reads as before. The middle batch is made old by hand, to leave a hole.
async fn reading_a_pruned_range_fails_and_the_rest_reads_the_same(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    let all: Vec<Row> = rows("r", 12);
    // Batches at 0..3, 3..7, 7..9 and 9..12.
    for range in [0..3, 3..7, 7..9, 9..12] {
        s.ingest(model.id, &batch(&all[range]), None).await.unwrap();
    }
    let changed = raw_execute(
        &ctx,
        &format!(
            "UPDATE record_batches SET received_at = 0 \
             WHERE model_id = {} AND first_offset = 3",
            model.id
        ),
    )
    .await;
    assert_eq!(changed, 1);
    assert_eq!(
        s.prune_records(model.id, 12, 1).await.unwrap(),
        pruned((4, 1))
    );

    for (start, end) in [(0, 3), (1, 2), (7, 12), (8, 10), (9, 100)] {
        let got = rows_of(&s.read_records(model.id, start, end).await.unwrap());
        assert_eq!(
            got,
            all[start as usize..(end as usize).min(12)],
            "{start}..{end}"
        );
    }
    for (start, end, span) in [
        (0, 12, (3, 7)),
        (2, 8, (3, 7)),
        (3, 7, (3, 7)),
        (5, 6, (5, 6)),
        (6, 100, (6, 7)),
    ] {
        assert_eq!(
            pruned_span(s.read_records(model.id, start, end).await),
            span,
            "{start}..{end}"
        );
    }
    assert!(matches!(
        s.labels_in_range(model.id, 0, 12).await,
        Err(Error::Pruned { model_id, start: 3, end: 7 }) if model_id == model.id
    ));

    // With the tail pruned too, the whole stream is gone but its end is where it was.
    assert_eq!(
        s.prune_records(model.id, 12, i64::MAX).await.unwrap(),
        pruned((8, 3))
    );
    assert_eq!(pruned_span(s.read_records(model.id, 0, 12).await), (0, 12));
    assert_eq!(
        pruned_span(s.read_records(model.id, 11, 20).await),
        (11, 12)
    );
    assert!(s.read_records(model.id, 12, 20).await.unwrap().is_empty());
    assert!(s.read_records(model.id, 5, 4).await.unwrap().is_empty());
}

on_both_backends!(a_pruned_id_can_be_stored_again_as_a_new_record);
/// A pruned id is forgotten: stored again, it is a new record at a new offset, without the
/// old one's label; ids still stored are still refused.
async fn a_pruned_id_can_be_stored_again_as_a_new_record(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    s.ingest(model.id, &batch(&rows("a", 5)), None)
        .await
        .unwrap();
    s.ingest(model.id, &batch(&rows("b", 3)), None)
        .await
        .unwrap();
    s.upsert_labels(model.id, &[label("a1", 1.0)])
        .await
        .unwrap();
    assert_eq!(
        s.prune_records(model.id, 5, i64::MAX).await.unwrap(),
        pruned((5, 1))
    );

    let again = [row("a1", 100.0, Some("new")), row("b0", 0.0, None)];
    let outcome = s.ingest(model.id, &batch(&again), None).await.unwrap();
    assert_eq!(
        (outcome.accepted, outcome.duplicates, outcome.first_offset),
        (1, 1, 8)
    );
    assert_eq!(
        rows_of(&s.read_records(model.id, 8, 9).await.unwrap()),
        [again[0].clone()]
    );
    assert!(s.labels_in_range(model.id, 5, 9).await.unwrap().is_empty());
    let outcome = s
        .upsert_labels(model.id, &[label("a1", 2.0), label("a2", 3.0)])
        .await
        .unwrap();
    assert_eq!(outcome.matched, 1, "a1 is stored again, a2 is not");
    assert_eq!(
        s.labels_in_range(model.id, 8, 9).await.unwrap(),
        [(8, LabelValue::Number(2.0))]
    );
}

/// On SQLite the pruned ids leave the in-memory set, which gives its room back, and the
/// `record_fingerprints` table; after a restart the set is rebuilt from what remains.
#[tokio::test]
async fn sqlite_pruning_shrinks_the_ids_in_memory_and_their_rows() {
    let db = fresh_sqlite().await;
    let store = Store::open(&db.url).await.unwrap();
    let ctx = Ctx {
        store: store.clone(),
        url: db.url.clone(),
    };
    let model = store.create_model("m", "t", "d").await.unwrap();
    for i in 0..40 {
        store
            .ingest(model.id, &batch(&rows(&format!("b{i}-"), 500)), None)
            .await
            .unwrap();
    }
    let full = store.record_ids_in_memory().await;
    assert_eq!(full.ids, 20_000);
    let fingerprint_rows = "SELECT count(*) FROM record_fingerprints";
    assert_eq!(raw_scalar(&ctx, fingerprint_rows).await, 40);

    assert_eq!(
        store
            .prune_records(model.id, 19_500, i64::MAX)
            .await
            .unwrap(),
        pruned((19_500, 39))
    );
    let left = store.record_ids_in_memory().await;
    assert_eq!(left.ids, 500);
    assert!(left.capacity * 8 < full.capacity, "{left:?} after {full:?}");
    assert_eq!(raw_scalar(&ctx, fingerprint_rows).await, 1);
    store.close().await;

    let again = Store::open(&db.url).await.unwrap();
    let outcome = again
        .ingest(
            model.id,
            &batch(&[row("b0-0", 0.0, None), row("b39-0", 0.0, None)]),
            None,
        )
        .await
        .unwrap();
    assert_eq!((outcome.accepted, outcome.duplicates), (1, 1));
    assert_eq!(again.record_ids_in_memory().await.ids, 501);
    again.close().await;
}

on_both_backends!(streaming_with_pruning_stays_bounded);
/// A stream ingested while everything but its last records is pruned keeps a bounded
/// footprint: SQLite's database (in pages: freed pages are reused) and its in-memory ids,
/// Postgres's rows of batches and ids; without pruning they would grow fivefold here.
async fn streaming_with_pruning_stays_bounded(ctx: Ctx) {
    const BATCH: usize = 200;
    const KEEP: i64 = 2_000;
    const ROUNDS: usize = 150;
    const WARM: usize = 30;
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    // Wide rows, so that the data, not the schema, fills the pages.
    let padding = "p".repeat(100);
    let mut warm = None;
    for round in 0..ROUNDS {
        let rows: Vec<Row> = (0..BATCH)
            .map(|i| {
                let id = format!("s{round}-{i}");
                let c = format!("{id}{padding}");
                row(&id, i as f64, Some(&c))
            })
            .collect();
        let outcome = s.ingest(model.id, &batch(&rows), None).await.unwrap();
        assert_eq!(outcome.accepted, BATCH);
        let count = s.record_count(model.id).await.unwrap();
        s.prune_records(model.id, count - KEEP, i64::MAX)
            .await
            .unwrap();
        let footprint = footprint(&ctx, model.id).await;
        if round + 1 == WARM {
            warm = Some(footprint);
        }
        if let Some(warm) = warm {
            assert!(
                footprint.within(&warm),
                "round {round}: {footprint:?}, after {WARM} rounds {warm:?}"
            );
        }
        // A hash set doubles its room at times (tombstones of removed ids count until it
        // rehashes), so its bound is a multiple of what it holds, far from the stream's.
        assert!(
            footprint.memory_capacity <= 4 * (KEEP as usize + BATCH),
            "round {round}: {footprint:?}"
        );
    }
    let count = s.record_count(model.id).await.unwrap();
    assert_eq!(count, (BATCH * ROUNDS) as i64);
    let kept = s.read_records(model.id, count - KEEP, count).await.unwrap();
    assert_eq!(kept.len() as i64, KEEP);
    assert_eq!(
        kept.ids[0],
        format!("s{}-0", ROUNDS - KEEP as usize / BATCH)
    );
    assert!(s.read_records(model.id, 0, count).await.is_err());
    eprintln!(
        "after {WARM} rounds {warm:?}; at the end {:?}",
        footprint(&ctx, model.id).await
    );
}

/// What a stream takes: rows of batches and of ids (Postgres), database pages and ids in
/// memory with their room (SQLite).
#[derive(Clone, Copy, Debug)]
struct Footprint {
    batches: i64,
    ids: i64,
    pages: i64,
    ids_in_memory: usize,
    memory_capacity: usize,
}

impl Footprint {
    /// No larger than `warm` (taken once the stream has been pruned a while), give or take a
    /// quarter for pages, which grow in steps.
    fn within(&self, warm: &Footprint) -> bool {
        self.batches <= warm.batches
            && self.ids <= warm.ids
            && self.pages <= warm.pages + warm.pages / 4
            && self.ids_in_memory <= warm.ids_in_memory
    }
}

async fn footprint(ctx: &Ctx, model_id: i64) -> Footprint {
    let batches = raw_scalar(
        ctx,
        &format!("SELECT count(*) FROM record_batches WHERE model_id = {model_id}"),
    )
    .await;
    let memory = ctx.store.record_ids_in_memory().await;
    match ctx.store.backend() {
        Backend::Sqlite => Footprint {
            batches,
            ids: raw_scalar(
                ctx,
                &format!("SELECT count(*) FROM record_fingerprints WHERE model_id = {model_id}"),
            )
            .await,
            pages: raw_scalar(ctx, "PRAGMA page_count").await,
            ids_in_memory: memory.ids,
            memory_capacity: memory.capacity,
        },
        Backend::Postgres => Footprint {
            batches,
            ids: raw_scalar(
                ctx,
                &format!("SELECT count(*) FROM record_ids WHERE model_id = {model_id}"),
            )
            .await,
            pages: 0,
            ids_in_memory: memory.ids,
            memory_capacity: memory.capacity,
        },
    }
}

on_both_backends!(
    pruning_while_ingesting_keeps_the_stream_whole,
    worker_threads = 4
);
/// Ingestion and pruning at once: every batch is stored whole (no id is taken for a
/// duplicate, no write is refused), and what is left is the stream's tail, in order.
async fn pruning_while_ingesting_keeps_the_stream_whole(ctx: Ctx) {
    const BATCH: usize = 100;
    const ROUNDS: usize = 60;
    const KEEP: i64 = 500;
    let model = ctx.store.create_model("m", "t", "d").await.unwrap();
    let writer = {
        let store = ctx.store.clone();
        tokio::spawn(async move {
            for round in 0..ROUNDS {
                let outcome = store
                    .ingest(model.id, &batch(&rows(&format!("w{round}-"), BATCH)), None)
                    .await
                    .unwrap();
                assert_eq!(
                    (outcome.accepted, outcome.first_offset),
                    (BATCH, (round * BATCH) as i64)
                );
            }
        })
    };
    let mut removed = 0;
    while !writer.is_finished() {
        let count = ctx.store.record_count(model.id).await.unwrap();
        removed += ctx
            .store
            .prune_records(model.id, count - KEEP, i64::MAX)
            .await
            .unwrap()
            .records;
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let count = ctx.store.record_count(model.id).await.unwrap();
    assert_eq!(count, (BATCH * ROUNDS) as i64);
    removed += ctx
        .store
        .prune_records(model.id, count - KEEP, i64::MAX)
        .await
        .unwrap()
        .records;
    assert_eq!(removed as i64, count - KEEP);

    let tail = ctx
        .store
        .read_records(model.id, count - KEEP, count)
        .await
        .unwrap();
    let want: Vec<String> = (ROUNDS - KEEP as usize / BATCH..ROUNDS)
        .flat_map(|round| (0..BATCH).map(move |i| format!("w{round}-{i}")))
        .collect();
    assert_eq!(tail.ids, want);
    if ctx.store.backend() == Backend::Sqlite {
        assert_eq!(ctx.store.record_ids_in_memory().await.ids as i64, KEEP);
    }
    // A kept id is still a duplicate; a pruned one is new again.
    let outcome = ctx
        .store
        .ingest(
            model.id,
            &batch(&[row(&want[0], 0.0, None), row("w0-0", 0.0, None)]),
            None,
        )
        .await
        .unwrap();
    assert_eq!((outcome.accepted, outcome.duplicates), (1, 1));
}

on_both_backends!(old_idempotency_keys_are_forgotten_and_recent_ones_still_answer);
async fn old_idempotency_keys_are_forgotten_and_recent_ones_still_answer(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    let key = |key| IdempotencyKey {
        key,
        request_sha256: &[7; 32],
    };
    s.ingest(model.id, &batch(&rows("a", 2)), Some(&key("old")))
        .await
        .unwrap();
    let cut = next_millisecond().await;
    s.ingest(model.id, &batch(&rows("b", 2)), Some(&key("new")))
        .await
        .unwrap();
    assert_eq!(s.prune_idempotency_keys(cut).await.unwrap(), 1);
    assert_eq!(s.prune_idempotency_keys(cut).await.unwrap(), 0);
    // The recent key still gives its first answer; the old one is taken as new, and its
    // records, still stored, are skipped by id.
    let again = s
        .ingest(model.id, &batch(&rows("b", 2)), Some(&key("new")))
        .await
        .unwrap();
    assert!(again.replayed);
    let old = s
        .ingest(model.id, &batch(&rows("a", 2)), Some(&key("old")))
        .await
        .unwrap();
    assert!(!old.replayed);
    assert_eq!((old.accepted, old.duplicates), (0, 2));
}
