//! Storing records: offsets, duplicate ids (also after reopening, and across stores of one file),
//! idempotency keys, and concurrent writers, on SQLite and on Postgres, a test on each (the
//! harness is in `common/mod.rs`).

mod common;

use std::collections::HashSet;

use common::*;
use sqlx::Connection;
use vigil_store::{Error, IdempotencyKey, IngestOutcome, LabelValue, Store};

on_both_backends!(ingest_assigns_offsets_and_skips_duplicates);
async fn ingest_assigns_offsets_and_skips_duplicates(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    let first = rows("a", 3);
    let outcome = s.ingest(model.id, &batch(&first), None).await.unwrap();
    assert_eq!(
        outcome,
        IngestOutcome {
            accepted: 3,
            duplicates: 0,
            first_offset: 0,
            replayed: false
        }
    );
    let second = rows("b", 2);
    let outcome = s.ingest(model.id, &batch(&second), None).await.unwrap();
    assert_eq!((outcome.accepted, outcome.first_offset), (2, 3));
    assert_eq!(s.record_count(model.id).await.unwrap(), 5);
    assert_eq!(
        s.model_by_id(model.id).await.unwrap().unwrap().record_count,
        5
    );

    // a1 is stored already; n1 repeats within the batch (its first occurrence wins).
    let mixed = vec![
        row("a1", 100.0, Some("dup")),
        row("n1", 1.0, Some("first")),
        row("n1", 2.0, Some("second")),
        row("n2", 3.0, None),
    ];
    let outcome = s.ingest(model.id, &batch(&mixed), None).await.unwrap();
    assert_eq!(
        (outcome.accepted, outcome.duplicates, outcome.first_offset),
        (2, 2, 5)
    );
    assert_eq!(s.record_count(model.id).await.unwrap(), 7);
    assert_eq!(
        rows_of(&s.read_records(model.id, 5, 7).await.unwrap()),
        [row("n1", 1.0, Some("first")), row("n2", 3.0, None)]
    );
    // The stored a1 is the original.
    assert_eq!(
        rows_of(&s.read_records(model.id, 1, 2).await.unwrap()),
        [first[1].clone()]
    );

    // A batch of nothing but duplicates stores nothing and moves no offset.
    let outcome = s.ingest(model.id, &batch(&first), None).await.unwrap();
    assert_eq!(
        (outcome.accepted, outcome.duplicates, outcome.first_offset),
        (0, 3, 7)
    );
    assert_eq!(s.record_count(model.id).await.unwrap(), 7);
    assert_eq!(s.read_records(model.id, 0, 100).await.unwrap().len(), 7);

    // Ids are per model: another model takes the same ids from offset 0.
    let other = s.create_model("other", "t", "d").await.unwrap();
    let outcome = s.ingest(other.id, &batch(&first), None).await.unwrap();
    assert_eq!((outcome.accepted, outcome.first_offset), (3, 0));
    assert_eq!(s.record_count(other.id).await.unwrap(), 3);
    assert_eq!(s.record_count(model.id).await.unwrap(), 7);
    // An unknown model has no records and cannot ingest.
    assert_eq!(s.record_count(other.id + 1000).await.unwrap(), 0);
    assert!(is_conflict(
        &s.ingest(other.id + 1000, &batch(&first), None).await
    ));
}

on_both_backends!(duplicates_are_found_after_reopening);
async fn duplicates_are_found_after_reopening(ctx: Ctx) {
    let model = ctx.store.create_model("m", "t", "d").await.unwrap();
    let first = rows("a", 3);
    ctx.store
        .ingest(model.id, &batch(&first), None)
        .await
        .unwrap();
    ctx.store.close().await;

    let again = Store::open(&ctx.url).await.unwrap();
    let mixed = [first[1].clone(), row("new", 1.0, None)];
    let outcome = again.ingest(model.id, &batch(&mixed), None).await.unwrap();
    assert_eq!(
        (outcome.accepted, outcome.duplicates, outcome.first_offset),
        (1, 1, 3)
    );
    // Labels find the records stored before and after the restart.
    let labels = [
        ("a0".to_string(), LabelValue::Number(1.0)),
        ("new".to_string(), LabelValue::Number(2.0)),
        ("absent".to_string(), LabelValue::Number(3.0)),
    ];
    let outcome = again.upsert_labels(model.id, &labels).await.unwrap();
    assert_eq!((outcome.stored, outcome.matched), (3, 2));
    again.close().await;
}

/// Stores of one process on one file share its record ids however the URL spells the path
/// (percent-encoded, with `..`), and the ingestion lock sits beside the file SQLite opened.
#[tokio::test]
async fn sqlite_stores_on_one_file_share_record_ids() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("my data")).unwrap();
    let root = dir.path().display();
    let first = Store::open(&format!("sqlite://{root}/my%20data/vigil.db"))
        .await
        .unwrap();
    let second = Store::open(&format!("sqlite://{root}/my%20data/../my%20data/vigil.db"))
        .await
        .unwrap();
    let model = first.create_model("m", "t", "d").await.unwrap();
    // The second store loads the model's ids first; with a set of its own it would not see
    // what the first stores next (and could not take the file's lock).
    let outcome = second
        .ingest(model.id, &batch(&rows("b", 1)), None)
        .await
        .unwrap();
    assert_eq!(outcome.accepted, 1);
    let outcome = first
        .ingest(model.id, &batch(&rows("a", 3)), None)
        .await
        .unwrap();
    assert_eq!(outcome.accepted, 3);
    let outcome = second
        .ingest(model.id, &batch(&rows("a", 4)), None)
        .await
        .unwrap();
    assert_eq!((outcome.accepted, outcome.duplicates), (1, 3));
    assert!(dir.path().join("my data/vigil.db-ingest.lock").exists());
    // Closing one leaves the other's ids in place.
    first.close().await;
    let outcome = second
        .ingest(model.id, &batch(&rows("a", 5)), None)
        .await
        .unwrap();
    assert_eq!((outcome.accepted, outcome.duplicates), (1, 4));
    second.close().await;
}

/// A SQLite database written before record fingerprints were stored (or one that lost them)
/// gets them again from the stored batches the first time its model is used.
#[tokio::test]
async fn sqlite_rebuilds_missing_record_fingerprints() {
    let db = fresh_sqlite().await;
    let store = Store::open(&db.url).await.unwrap();
    let model = store.create_model("m", "t", "d").await.unwrap();
    store
        .ingest(model.id, &batch(&rows("a", 4)), None)
        .await
        .unwrap();
    store
        .ingest(model.id, &batch(&rows("b", 2)), None)
        .await
        .unwrap();
    store.close().await;

    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let deleted = sqlx::query("DELETE FROM record_fingerprints")
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(deleted, 2);
    conn.close().await.unwrap();

    let again = Store::open(&db.url).await.unwrap();
    let repeat = [
        row("b1", 0.0, None),
        row("a3", 0.0, None),
        row("c0", 0.0, None),
    ];
    let outcome = again.ingest(model.id, &batch(&repeat), None).await.unwrap();
    assert_eq!((outcome.accepted, outcome.duplicates), (1, 2));
    again.close().await;

    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let rebuilt: i64 = sqlx::query_scalar("SELECT count(*) FROM record_fingerprints")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rebuilt, 3, "two batches rebuilt and the new one");
    conn.close().await.unwrap();
}

on_both_backends!(ingest_idempotency_key_replays_the_first_answer);
async fn ingest_idempotency_key_replays_the_first_answer(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    s.ingest(model.id, &batch(&rows("x", 2)), None)
        .await
        .unwrap();
    let body = batch(&[
        row("x0", 0.0, None), // already stored
        row("k0", 1.0, Some("a")),
        row("k1", 2.0, Some("b")),
    ]);
    let key = IdempotencyKey {
        key: "req-1",
        request_sha256: &[0xab; 32],
    };
    let first = s.ingest(model.id, &body, Some(&key)).await.unwrap();
    assert_eq!(
        first,
        IngestOutcome {
            accepted: 2,
            duplicates: 1,
            first_offset: 2,
            replayed: false
        }
    );
    let replay = s.ingest(model.id, &body, Some(&key)).await.unwrap();
    assert_eq!(
        replay,
        IngestOutcome {
            replayed: true,
            ..first.clone()
        }
    );
    assert_eq!(s.record_count(model.id).await.unwrap(), 4);
    assert_eq!(
        ids(&s.read_records(model.id, 0, 100).await.unwrap()),
        ["x0", "x1", "k0", "k1"]
    );

    // The same key for another body is refused, and stores nothing.
    let other_body = batch(&rows("z", 3));
    let reused = IdempotencyKey {
        key: "req-1",
        request_sha256: &[0xcd; 32],
    };
    match s.ingest(model.id, &other_body, Some(&reused)).await {
        Err(Error::Conflict(message)) => assert!(message.contains("req-1")),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(s.record_count(model.id).await.unwrap(), 4);

    // A key whose request stored nothing still answers the same way later.
    let empty_key = IdempotencyKey {
        key: "req-2",
        request_sha256: &[1; 32],
    };
    let all_dups = batch(&rows("x", 2));
    let first = s
        .ingest(model.id, &all_dups, Some(&empty_key))
        .await
        .unwrap();
    assert_eq!(
        (first.accepted, first.duplicates, first.first_offset),
        (0, 2, 4)
    );
    let replay = s
        .ingest(model.id, &all_dups, Some(&empty_key))
        .await
        .unwrap();
    assert!(replay.replayed);
    assert_eq!((replay.accepted, replay.first_offset), (0, 4));

    // Keys are per model.
    let other = s.create_model("other", "t", "d").await.unwrap();
    let there = s.ingest(other.id, &body, Some(&key)).await.unwrap();
    assert_eq!(
        (there.accepted, there.first_offset, there.replayed),
        (3, 0, false)
    );
}

on_both_backends!(concurrent_ingestion_is_consistent, worker_threads = 4);
/// Eight writers at once on one model: distinct batches, ids shared between them, and the
/// same idempotent request sent many times. Every id is stored once and offsets have no gaps.
async fn concurrent_ingestion_is_consistent(ctx: Ctx) {
    const TASKS: usize = 8;
    const OWN: usize = 20;
    const COMMON: usize = 5;
    const SHARED: usize = 10;
    let model = ctx.store.create_model("m", "t", "d").await.unwrap();
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = ctx.store.clone();
        handles.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            let mut own = rows(&format!("t{task}-"), OWN);
            own.extend(rows("common-", COMMON));
            let own_digest = [task as u8; 32];
            let own_key = format!("task-{task}");
            let shared = batch(&rows("shared-", SHARED));
            for round in 0..3 {
                if round == task % 3 {
                    let key = IdempotencyKey {
                        key: &own_key,
                        request_sha256: &own_digest,
                    };
                    let outcome = store.ingest(model.id, &batch(&own), Some(&key)).await;
                    outcomes.push((own_key.clone(), outcome.unwrap()));
                }
                let key = IdempotencyKey {
                    key: "shared",
                    request_sha256: &[0xaa; 32],
                };
                let outcome = store.ingest(model.id, &shared, Some(&key)).await;
                outcomes.push(("shared".to_string(), outcome.unwrap()));
            }
            outcomes
        }));
    }
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.extend(handle.await.unwrap());
    }

    // The shared request was stored once; every other send got that answer back.
    let shared: Vec<&IngestOutcome> = outcomes
        .iter()
        .filter(|(key, _)| key == "shared")
        .map(|(_, o)| o)
        .collect();
    assert_eq!(shared.len(), TASKS * 3);
    let stored: Vec<&&IngestOutcome> = shared.iter().filter(|o| !o.replayed).collect();
    assert_eq!(stored.len(), 1, "{shared:?}");
    assert_eq!(stored[0].accepted, SHARED);
    for o in &shared {
        assert_eq!(o.first_offset, stored[0].first_offset);
        assert_eq!(o.accepted, SHARED);
    }

    // The stored requests tile the stream: each starts where the one before ended.
    let mut fresh: Vec<(&String, &IngestOutcome)> = outcomes
        .iter()
        .filter(|(_, o)| !o.replayed)
        .map(|(k, o)| (k, o))
        .collect();
    assert_eq!(fresh.len(), TASKS + 1);
    fresh.sort_by_key(|(_, o)| (o.first_offset, o.accepted));
    let mut next = 0;
    for (_, o) in &fresh {
        assert_eq!(o.first_offset, next, "{fresh:?}");
        next += o.accepted as i64;
    }
    let total = TASKS * OWN + COMMON + SHARED;
    assert_eq!(next, total as i64);
    assert_eq!(
        ctx.store.record_count(model.id).await.unwrap(),
        total as i64
    );
    // Each common id was taken by exactly one writer.
    let duplicates: usize = fresh.iter().map(|(_, o)| o.duplicates).sum();
    assert_eq!(duplicates, (TASKS - 1) * COMMON);

    // Every id once, and each request's rows sit at the offsets it was told.
    let all = ctx
        .store
        .read_records(model.id, 0, total as i64 + 10)
        .await
        .unwrap();
    assert_eq!(all.len(), total);
    let unique: HashSet<&String> = all.ids.iter().collect();
    assert_eq!(unique.len(), total);
    for (key, o) in &fresh {
        let start = o.first_offset as usize;
        for id in &all.ids[start..start + o.accepted] {
            let prefix = if *key == "shared" {
                "shared-".to_string()
            } else {
                format!("t{}-", key.trim_start_matches("task-"))
            };
            assert!(
                id.starts_with(&prefix) || id.starts_with("common-"),
                "{id} at offset in {key}'s rows"
            );
        }
    }
}
