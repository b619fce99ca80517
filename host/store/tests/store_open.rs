//! Opening a store (migrations, the URLs it takes, the durability settings it insists on), on
//! SQLite and on Postgres (the harness is in `common/mod.rs`).

mod common;

use common::*;
use sqlx::Connection;
use vigil_store::{Error, Store};

on_both_backends!(open_runs_migrations_and_reopening_keeps_data);
async fn open_runs_migrations_and_reopening_keeps_data(ctx: Ctx) {
    ctx.store.ping().await.unwrap();
    // The schema is there: every table the store uses answers.
    let model = ctx
        .store
        .create_model("m", "classification", "d")
        .await
        .unwrap();
    assert_eq!(ctx.store.models().await.unwrap().len(), 1);
    ctx.store.close().await;

    // Reopening runs the (already applied) migrations again without error.
    let again = Store::open(&ctx.url).await.unwrap();
    let found = again
        .model("m")
        .await
        .unwrap()
        .expect("model survives reopening");
    assert_eq!(found.id, model.id);
    again.ping().await.unwrap();
    // And a second handle on the same database works alongside the first.
    let third = Store::open(&ctx.url).await.unwrap();
    assert_eq!(third.models().await.unwrap().len(), 1);
    third.close().await;
    again.close().await;
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in [
        "mysql://root:password@localhost/vigil",
        "vigil.db",
        "",
        "http://example.com/db",
        "postgre://x/y",
    ] {
        match Store::open(url).await {
            Err(Error::UnsupportedUrl(scheme)) => assert!(url.starts_with(&scheme)),
            Err(other) => panic!("`{url}`: expected UnsupportedUrl, got {other}"),
            Ok(_) => panic!("`{url}` was accepted"),
        }
    }
}

/// An in-memory SQLite database cannot use WAL, so the durability check refuses it.
#[tokio::test]
async fn sqlite_without_wal_is_refused() {
    match Store::open("sqlite::memory:").await {
        Err(Error::UnsafeSettings(message)) => assert!(message.contains("journal_mode")),
        Err(other) => panic!("expected UnsafeSettings, got {other}"),
        Ok(_) => panic!("an in-memory database was accepted"),
    }
}

/// The settings check on a real file (docs/reliability.md, D1): the store leaves the database
/// in WAL mode, which a second, independent connection sees. (`synchronous` is per connection,
/// so another connection cannot see the store's; the store's own check of it is covered by the
/// unit test of the pure check.)
#[tokio::test]
async fn sqlite_file_is_left_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.db");
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let model = store.create_model("m", "t", "d").await.unwrap();
    store
        .ingest(model.id, &batch(&rows("r", 3)), None)
        .await
        .unwrap();

    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(journal.to_ascii_lowercase(), "wal");
    // The committed rows are visible to the other connection.
    let count: i64 = sqlx::query_scalar("SELECT record_count FROM models WHERE id = $1")
        .bind(model.id)
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(count, 3);
    raw.close().await.unwrap();
    assert!(dir.path().join("vigil.db-wal").exists());
    store.close().await;
}

/// The write-ahead log does not grow without end: writes that pile up while a reader holds an
/// old snapshot (so that no checkpoint can restart the log) are checkpointed and the file is
/// emptied once the reader is gone, with the daemon still running.
#[tokio::test]
async fn sqlite_write_ahead_log_is_cut_back_while_the_store_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url).await.unwrap();
    let model = store.create_model("m", "t", "d").await.unwrap();
    let mut reader = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut reader).await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT count(*) FROM models")
        .fetch_one(&mut reader)
        .await
        .unwrap();
    // About 80 MB of distinct categories, in batches.
    let text = "x".repeat(1000);
    for chunk in 0..8 {
        let rows: Vec<Row> = (0..10_000)
            .map(|i| {
                let id = format!("r{chunk}-{i}");
                let c = format!("{id}{text}");
                row(&id, i as f64, Some(&c))
            })
            .collect();
        store.ingest(model.id, &batch(&rows), None).await.unwrap();
    }
    let wal = dir.path().join("vigil.db-wal");
    let size = || std::fs::metadata(&wal).map_or(0, |m| m.len() as i64);
    assert!(size() > vigil_store::WAL_LIMIT_BYTES, "{} bytes", size());
    sqlx::query("COMMIT").execute(&mut reader).await.unwrap();
    reader.close().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while size() > vigil_store::WAL_LIMIT_BYTES {
        assert!(
            std::time::Instant::now() < deadline,
            "the log stayed at {} bytes",
            size()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    store.close().await;
}

/// The settings check on Postgres (docs/reliability.md, D1): a session with
/// `synchronous_commit=off` is refused.
#[tokio::test]
#[ignore = "needs Postgres: VIGIL_TEST_POSTGRES_URL (scripts/test.sh starts a server)"]
async fn postgres_without_synchronous_commit_is_refused() {
    let server = postgres_server();
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}options=-c%20synchronous_commit%3Doff");
    match Store::open(&url).await {
        Err(Error::UnsafeSettings(message)) => assert!(message.contains("synchronous_commit")),
        Err(other) => panic!("expected UnsafeSettings, got {other}"),
        Ok(_) => panic!("synchronous_commit=off was accepted"),
    }
    // The same server with its own settings is fine.
    let db = fresh_postgres(&server).await;
    Store::open(&db.url).await.unwrap().close().await;
    db.cleanup().await;
}
