//! Retention through the daemon: under a steady stream, stored records and the in-memory set
//! of record ids stay bounded, monitors keep evaluating, evaluations are all kept, and a
//! replay of a pruned window is `410`.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use vigil_store::Store;

use crate::common::{Daemon, model_and_monitor, records_csv, sqlite_database, start_with};

const WINDOW: usize = 500;
const KEEP: i64 = 1000;
const ROUNDS: usize = 20;

#[tokio::test]
async fn a_steady_stream_keeps_storage_and_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_database(&dir);
    let daemon = start_with(&db, |config| {
        config.retention_keep_records = KEEP as u64;
        config.retention_keep_seconds = 0;
        config.retention_interval_ms = 20;
    })
    .await;
    model_and_monitor(&daemon, WINDOW as u64, json!({})).await;
    let store = Store::open(&db).await.unwrap();
    let model = store.model("m").await.unwrap().unwrap();

    let mut most_stored = 0;
    for round in 1..=ROUNDS {
        let (status, body) = daemon
            .admin(
                Method::POST,
                "/v1/models/m/records",
                Some((
                    "text/csv",
                    records_csv(&format!("r{round}-"), round as u64, WINDOW, 0.0),
                )),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        daemon.evaluations("watch", round).await;
        most_stored = most_stored.max(store.stored_records(model.id).await.unwrap());
    }
    // Pruning runs beside the loop: wait (bounded) until it has caught up with the stream.
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.stored_records(model.id).await.unwrap() > KEEP {
        assert!(Instant::now() < deadline, "records were not pruned");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let streamed = (ROUNDS * WINDOW) as i64;
    assert_eq!(store.record_count(model.id).await.unwrap(), streamed);
    // Whole batches go, so at most one window's batch more than what is kept, at any time.
    assert!(
        most_stored <= KEEP + 2 * WINDOW as i64,
        "{most_stored} records stored at once"
    );
    let memory = store.record_ids_in_memory().await;
    assert_eq!(
        memory.ids as i64,
        store.stored_records(model.id).await.unwrap()
    );
    assert!(memory.capacity < streamed as usize / 2, "{memory:?}");

    // Every evaluation is kept; the oldest window is gone, the newest replays.
    let evaluations = daemon.evaluations("watch", ROUNDS).await;
    assert_eq!(evaluations.len(), ROUNDS);
    let (status, body) = replay(&daemon, evaluations[ROUNDS - 1]["id"].as_i64().unwrap()).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pruned"),
        "{body}"
    );
    let (status, body) = replay(&daemon, evaluations[0]["id"].as_i64().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The ids of pruned records are forgotten; those still stored are still duplicates.
    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some((
                "text/csv",
                records_csv(&format!("r{ROUNDS}-"), ROUNDS as u64, WINDOW, 0.0),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["duplicates"], WINDOW, "{body}");
    store.close().await;
    daemon.stop().await;
}

async fn replay(daemon: &Daemon, id: i64) -> (StatusCode, serde_json::Value) {
    let path = format!("/v1/evaluations/{id}/replay");
    daemon.json(Method::POST, &path, json!({})).await
}
