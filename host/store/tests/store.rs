//! The store against real databases: every case runs on a fresh SQLite file, and also on
//! Postgres when `VIGIL_TEST_POSTGRES_URL` names a server (`scripts/postgres.sh` starts one;
//! the harness is in `common/mod.rs`).

mod common;

use std::collections::{BTreeSet, HashSet};

use common::*;
use sqlx::Connection;
use vigil_store::{
    Error, EvaluationQuery, IdempotencyKey, IngestOutcome, LabelOutcome, LabelValue, NewAlert,
    NewMonitor, PENDING_DELIVERY, PluginInsert, Store,
};

// ---- opening ----------------------------------------------------------------------------------

#[tokio::test]
async fn open_runs_migrations_and_reopening_keeps_data() {
    each(|ctx| async move {
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
    })
    .await;
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
async fn postgres_without_synchronous_commit_is_refused() {
    let Some(server) = postgres_server() else {
        eprintln!("{POSTGRES_ENV} is not set: skipped");
        return;
    };
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

// ---- tokens -----------------------------------------------------------------------------------

#[tokio::test]
async fn tokens_insert_get_revoke() {
    each(|ctx| async move {
        let s = &ctx.store;
        let secret = [0u8, 1, 2, 0xfe, 0xff, 0x80, 0x00];
        s.insert_token("tok1", "ci", "admin", &secret)
            .await
            .unwrap();
        s.insert_token("tok2", "viewer", "read", &[7u8; 32])
            .await
            .unwrap();
        // Ids are unique.
        assert!(s.insert_token("tok1", "again", "read", &[1]).await.is_err());

        let token = s.token("tok1").await.unwrap().expect("stored");
        assert_eq!(token.id, "tok1");
        assert_eq!(token.name, "ci");
        assert_eq!(token.role, "admin");
        assert_eq!(token.secret_sha256, secret);
        assert!(token.created_at > 0);
        assert_eq!(token.revoked_at, None);
        assert!(s.token("nope").await.unwrap().is_none());

        assert!(s.revoke_token("tok1").await.unwrap());
        assert!(s.token("tok1").await.unwrap().unwrap().revoked_at.is_some());
        // Revoking twice, or an unknown token, changes nothing.
        assert!(!s.revoke_token("tok1").await.unwrap());
        assert!(!s.revoke_token("nope").await.unwrap());
        assert_eq!(s.token("tok2").await.unwrap().unwrap().revoked_at, None);
    })
    .await;
}

// ---- plugins ----------------------------------------------------------------------------------

#[tokio::test]
async fn plugins_store_once_and_refuse_other_bytes() {
    each(|ctx| async move {
        let s = &ctx.store;
        // Bytes that are not text, and large enough to cross any small-value path.
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let created = s
            .insert_plugin(&plugin("psi", "1.0.0", &bytes, "aaa"))
            .await;
        let PluginInsert::Created(meta) = created.unwrap() else {
            panic!("first insert is Created")
        };
        assert_eq!(
            (meta.name.as_str(), meta.version.as_str()),
            ("psi", "1.0.0")
        );
        assert_eq!(meta.kind, "detector");
        assert_eq!(meta.sha256, "aaa");
        assert_eq!(meta.size, bytes.len() as i64);
        assert_eq!(meta.info["params"][1], 2);
        assert_eq!(meta.uploaded_by, "alice");

        let again = s
            .insert_plugin(&plugin("psi", "1.0.0", &bytes, "aaa"))
            .await;
        match again.unwrap() {
            PluginInsert::AlreadyStored(meta) => assert_eq!(meta.sha256, "aaa"),
            PluginInsert::Created(_) => panic!("same bytes again must be AlreadyStored"),
        }
        let other = s
            .insert_plugin(&plugin("psi", "1.0.0", b"other", "bbb"))
            .await;
        match other {
            Err(Error::Conflict(message)) => assert!(message.contains("psi@1.0.0")),
            other => panic!("different bytes must conflict, got {other:?}"),
        }
        // The stored plugin is untouched by the refused one.
        assert_eq!(
            s.plugin_bytes("psi", "1.0.0").await.unwrap().unwrap(),
            bytes
        );

        let PluginInsert::Created(_) = s
            .insert_plugin(&plugin("psi", "1.1.0", b"\x00asm", "ccc"))
            .await
            .unwrap()
        else {
            panic!("a new version is Created")
        };
        let PluginInsert::Created(_) = s
            .insert_plugin(&plugin("ks", "0.1.0", b"ks", "ddd"))
            .await
            .unwrap()
        else {
            panic!("a new plugin is Created")
        };
        let listed: Vec<(String, String)> = s
            .plugins()
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.version))
            .collect();
        assert_eq!(listed.len(), 3);
        assert_eq!(listed[0], ("ks".to_string(), "0.1.0".to_string()));
        assert!(listed.contains(&("psi".to_string(), "1.1.0".to_string())));

        let got = s.plugin("psi", "1.1.0").await.unwrap().unwrap();
        assert_eq!((got.sha256.as_str(), got.size), ("ccc", 4));
        assert_eq!(
            s.plugin_bytes("psi", "1.1.0").await.unwrap().unwrap(),
            b"\x00asm"
        );
        assert!(s.plugin("psi", "9.9.9").await.unwrap().is_none());
        assert!(s.plugin_bytes("psi", "9.9.9").await.unwrap().is_none());

        assert!(s.delete_plugin("ks", "0.1.0").await.unwrap());
        assert!(!s.delete_plugin("ks", "0.1.0").await.unwrap());
        assert!(s.plugin("ks", "0.1.0").await.unwrap().is_none());
        assert_eq!(s.plugins().await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn plugins_in_use_cannot_be_deleted() {
    each(|ctx| async move {
        let s = &ctx.store;
        s.insert_plugin(&plugin("psi", "1.0.0", b"wasm", "aaa"))
            .await
            .unwrap();
        let model = s.create_model("m", "t", "d").await.unwrap();
        let uses = vec![("psi".to_string(), "1.0.0".to_string())];
        let b = s
            .create_monitor(&new_monitor("b-monitor", model.id, None, &uses))
            .await
            .unwrap();
        let a = s
            .create_monitor(&new_monitor("a-monitor", model.id, None, &uses))
            .await
            .unwrap();

        match s.delete_plugin("psi", "1.0.0").await {
            Err(Error::Conflict(message)) => {
                assert!(message.contains("a-monitor, b-monitor"), "{message}")
            }
            other => panic!("expected Conflict, got {other:?}"),
        }
        assert!(s.plugin("psi", "1.0.0").await.unwrap().is_some());

        // Once no monitor uses it (one updated to other plugins, one deleted), it can go.
        s.update_monitor(a.id, r#"{"window":5}"#, None, &[])
            .await
            .unwrap()
            .unwrap();
        match s.delete_plugin("psi", "1.0.0").await {
            Err(Error::Conflict(message)) => {
                assert!(message.contains("b-monitor") && !message.contains("a-monitor"))
            }
            other => panic!("expected Conflict naming b-monitor only, got {other:?}"),
        }
        assert!(s.delete_monitor(b.id).await.unwrap());
        assert!(s.delete_plugin("psi", "1.0.0").await.unwrap());
    })
    .await;
}

// ---- models -----------------------------------------------------------------------------------

#[tokio::test]
async fn models_and_versions() {
    each(|ctx| async move {
        let s = &ctx.store;
        let fraud = s
            .create_model("fraud", "classification", "card fraud")
            .await
            .unwrap();
        assert_eq!(fraud.name, "fraud");
        assert_eq!(fraud.task, "classification");
        assert_eq!(fraud.description, "card fraud");
        assert_eq!(fraud.serving_version, None);
        assert_eq!(fraud.record_count, 0);
        assert!(fraud.created_at > 0);
        assert!(is_conflict(
            &s.create_model("fraud", "regression", "x").await
        ));
        let price = s.create_model("price", "regression", "").await.unwrap();
        assert_ne!(price.id, fraud.id);

        let listed: Vec<String> = s
            .models()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(listed, ["fraud", "price"]);
        assert_eq!(s.model("price").await.unwrap().unwrap().id, price.id);
        assert_eq!(
            s.model_by_id(fraud.id).await.unwrap().unwrap().name,
            "fraud"
        );
        assert!(s.model("nope").await.unwrap().is_none());
        assert!(
            s.model_by_id(fraud.id + price.id + 100)
                .await
                .unwrap()
                .is_none()
        );

        let v1 = s
            .create_model_version(fraud.id, "v1", r#"{"git":"abc"}"#)
            .await
            .unwrap();
        assert_eq!(v1.version, "v1");
        assert_eq!(v1.metadata["git"], "abc");
        s.create_model_version(fraud.id, "v2", "{}").await.unwrap();
        assert!(is_conflict(
            &s.create_model_version(fraud.id, "v1", "{}").await
        ));
        // Versions belong to one model: the same name on another model is fine.
        s.create_model_version(price.id, "v1", "{}").await.unwrap();

        let versions: Vec<String> = s
            .model_versions(fraud.id)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(versions, ["v1", "v2"]);
        let stored = &s.model_versions(fraud.id).await.unwrap()[0];
        assert_eq!(stored.metadata["git"], "abc");
        assert_eq!(s.model_versions(price.id).await.unwrap().len(), 1);

        assert!(s.set_serving_version(fraud.id, "v2").await.unwrap());
        assert_eq!(
            s.model("fraud")
                .await
                .unwrap()
                .unwrap()
                .serving_version
                .as_deref(),
            Some("v2")
        );
        // An unknown version is refused and leaves the serving version as it was.
        assert!(!s.set_serving_version(fraud.id, "v3").await.unwrap());
        assert!(!s.set_serving_version(price.id, "v2").await.unwrap());
        assert_eq!(
            s.model("fraud")
                .await
                .unwrap()
                .unwrap()
                .serving_version
                .as_deref(),
            Some("v2")
        );
        assert_eq!(
            s.model("price").await.unwrap().unwrap().serving_version,
            None
        );
    })
    .await;
}

// ---- monitors ---------------------------------------------------------------------------------

#[tokio::test]
async fn monitors_create_update_delete() {
    each(|ctx| async move {
        let s = &ctx.store;
        let model = s.create_model("m", "t", "d").await.unwrap();
        let reference = batch(&[row("ref0", 1.0, Some("a")), row("ref1", 2.0, None)]);
        let encoded = reference.encode();
        let created = s
            .create_monitor(&NewMonitor {
                start_offset: 42,
                ..new_monitor("drift", model.id, Some(&encoded), &[])
            })
            .await
            .unwrap();
        assert_eq!(created.name, "drift");
        assert_eq!(created.model_id, model.id);
        assert_eq!(created.revision, 1);
        assert_eq!(created.spec, r#"{"window":100}"#);
        assert!(is_conflict(
            &s.create_monitor(&new_monitor("drift", model.id, None, &[]))
                .await
        ));
        let other = s
            .create_monitor(&new_monitor("other", model.id, None, &[]))
            .await
            .unwrap();

        let got = s.monitor("drift").await.unwrap().unwrap();
        assert_eq!((got.id, got.revision), (created.id, 1));
        assert_eq!(
            s.monitor_by_id(other.id).await.unwrap().unwrap().name,
            "other"
        );
        assert!(s.monitor("nope").await.unwrap().is_none());
        let names: Vec<String> = s
            .monitors()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["drift", "other"]);

        // The window starts where asked; the reference round-trips byte for byte.
        let st = s.monitor_state(created.id).await.unwrap().unwrap();
        assert_eq!(st.next_offset, 42);
        assert_eq!(st.state, "{}");
        let back = s.monitor_reference(created.id).await.unwrap().unwrap();
        assert_eq!(back, reference);
        assert_eq!(rows_of(&back)[1], row("ref1", 2.0, None));
        assert!(s.monitor_reference(other.id).await.unwrap().is_none());
        assert!(
            s.monitor_reference(other.id + 1000)
                .await
                .unwrap()
                .is_none()
        );

        // Updating without a reference keeps the stored one; the revision moves on.
        let updated = s
            .update_monitor(created.id, r#"{"window":7}"#, None, &[])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(updated.revision, 2);
        assert_eq!(updated.spec, r#"{"window":7}"#);
        assert!(updated.updated_at >= created.updated_at);
        assert_eq!(
            s.monitor_reference(created.id).await.unwrap().unwrap(),
            reference
        );
        let replacement = batch(&[row("new", 9.0, Some("z"))]);
        let replacement_bytes = replacement.encode();
        let updated = s
            .update_monitor(created.id, "{}", Some(&replacement_bytes), &[])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(updated.revision, 3);
        assert_eq!(
            s.monitor_reference(created.id).await.unwrap().unwrap(),
            replacement
        );
        // The window position survives updates.
        assert_eq!(
            s.monitor_state(created.id)
                .await
                .unwrap()
                .unwrap()
                .next_offset,
            42
        );
        assert!(
            s.update_monitor(other.id + 1000, "{}", None, &[])
                .await
                .unwrap()
                .is_none()
        );

        // Deleting takes the monitor's evaluations, alerts and state with it.
        let eval = s
            .record_evaluation(&evaluation(created.id, 42, 52, 1000), &state(52, 1000), &[])
            .await
            .unwrap()
            .0;
        s.insert_alert(created.id, Some(eval), "drift", "x drifted", "pending")
            .await
            .unwrap();
        assert!(s.delete_monitor(created.id).await.unwrap());
        assert!(!s.delete_monitor(created.id).await.unwrap());
        assert!(s.monitor("drift").await.unwrap().is_none());
        assert!(s.monitor_state(created.id).await.unwrap().is_none());
        assert!(s.evaluation(eval).await.unwrap().is_none());
        assert!(
            s.alerts(Some(created.id), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // The name is free again.
        s.create_monitor(&new_monitor("drift", model.id, None, &[]))
            .await
            .unwrap();
    })
    .await;
}

// ---- ingestion --------------------------------------------------------------------------------

#[tokio::test]
async fn ingest_assigns_offsets_and_skips_duplicates() {
    each(|ctx| async move {
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
    })
    .await;
}

#[tokio::test]
async fn duplicates_are_found_after_reopening() {
    each(|ctx| async move {
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
    })
    .await;
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

#[tokio::test]
async fn ingest_idempotency_key_replays_the_first_answer() {
    each(|ctx| async move {
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
    })
    .await;
}

#[tokio::test]
async fn read_records_cuts_across_batches() {
    each(|ctx| async move {
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
    })
    .await;
}

/// Eight writers at once on one model: distinct batches, ids shared between them, and the
/// same idempotent request sent many times. Every id is stored once and offsets have no gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingestion_is_consistent() {
    each(|ctx| async move {
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
    })
    .await;
}

// ---- labels -----------------------------------------------------------------------------------

#[tokio::test]
async fn labels_join_records_by_id() {
    each(|ctx| async move {
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
    })
    .await;
}

/// Requests larger than one multi-row INSERT (2000 rows), with repeats across its chunks.
#[tokio::test]
async fn large_requests_span_insert_chunks() {
    each(|ctx| async move {
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
    })
    .await;
}

// ---- monitoring state and evaluations ---------------------------------------------------------

#[tokio::test]
async fn record_evaluation_moves_the_window_once() {
    each(|ctx| async move {
        let s = &ctx.store;
        let model = s.create_model("m", "t", "d").await.unwrap();
        let monitor = s
            .create_monitor(&new_monitor("mon", model.id, None, &[]))
            .await
            .unwrap();
        assert_eq!(
            s.monitor_state(monitor.id)
                .await
                .unwrap()
                .unwrap()
                .next_offset,
            0
        );
        assert!(s.monitor_state(monitor.id + 1000).await.unwrap().is_none());

        let next = state(10, 5000);
        let fired = [
            NewAlert {
                cause: "drift",
                message: "3 of 5 columns drifted",
            },
            NewAlert {
                cause: "quarantine:p",
                message: "p failed",
            },
        ];
        let (id, alert_ids) = s
            .record_evaluation(&evaluation(monitor.id, 0, 10, 5000), &next, &fired)
            .await
            .unwrap();
        assert_eq!(s.monitor_state(monitor.id).await.unwrap().unwrap(), next);
        // The alerts are stored with the evaluation, waiting for delivery.
        let pending = s.pending_alerts().await.unwrap();
        assert_eq!(pending.iter().map(|a| a.id).collect::<Vec<_>>(), alert_ids);
        assert!(pending.iter().all(|a| a.evaluation_id == Some(id)
            && a.monitor_id == monitor.id
            && a.delivery == PENDING_DELIVERY));
        assert_eq!(
            (pending[0].cause.as_str(), pending[0].message.as_str()),
            ("drift", "3 of 5 columns drifted")
        );

        // The same window again (another replica got there first) is a conflict, and so is a
        // window that does not start where the monitor stands; neither changes anything, nor
        // stores its alerts.
        for start in [0, 20] {
            let again = s
                .record_evaluation(
                    &evaluation(monitor.id, start, start + 10, 6000),
                    &state(99, 6000),
                    &fired,
                )
                .await;
            assert!(is_conflict(&again), "window at {start}: {again:?}");
        }
        assert_eq!(s.monitor_state(monitor.id).await.unwrap().unwrap(), next);
        assert_eq!(s.pending_alerts().await.unwrap().len(), 2);
        s.set_alert_delivery(alert_ids[0], "logged").await.unwrap();
        let pending = s.pending_alerts().await.unwrap();
        assert_eq!(
            pending.iter().map(|a| a.id).collect::<Vec<_>>(),
            [alert_ids[1]]
        );
        let stored = s
            .evaluations(&EvaluationQuery {
                monitor_id: monitor.id,
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].id, id);

        // Saving state does not move the window.
        s.save_monitor_state(monitor.id, r#"{"quarantine":true}"#)
            .await
            .unwrap();
        let saved = s.monitor_state(monitor.id).await.unwrap().unwrap();
        assert_eq!(saved.state, r#"{"quarantine":true}"#);
        assert_eq!((saved.next_offset, saved.last_closed_at), (10, 5000));
        s.record_evaluation(&evaluation(monitor.id, 10, 20, 7000), &state(20, 7000), &[])
            .await
            .unwrap();
        assert_eq!(
            s.monitor_state(monitor.id)
                .await
                .unwrap()
                .unwrap()
                .next_offset,
            20
        );
    })
    .await;
}

#[tokio::test]
async fn evaluations_page_and_filter() {
    each(|ctx| async move {
        let s = &ctx.store;
        let model = s.create_model("m", "t", "d").await.unwrap();
        let one = s
            .create_monitor(&new_monitor("one", model.id, None, &[]))
            .await
            .unwrap();
        let two = s
            .create_monitor(&new_monitor("two", model.id, None, &[]))
            .await
            .unwrap();
        let idle = s
            .create_monitor(&new_monitor("idle", model.id, None, &[]))
            .await
            .unwrap();

        // Five windows of `one` finishing at 1000..=5000, interleaved with two of `two`.
        let mut ids = Vec::new();
        for k in 0..5i64 {
            ids.push(
                s.record_evaluation(
                    &evaluation(one.id, k * 10, k * 10 + 10, (k + 1) * 1000),
                    &state(k * 10 + 10, (k + 1) * 1000),
                    &[],
                )
                .await
                .unwrap()
                .0,
            );
            if k < 2 {
                s.record_evaluation(
                    &evaluation(two.id, k * 5, k * 5 + 5, 10_000 + k),
                    &state(k * 5 + 5, 10_000 + k),
                    &[],
                )
                .await
                .unwrap();
            }
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let page = |since, until, before_id, limit| EvaluationQuery {
            monitor_id: one.id,
            since,
            until,
            before_id,
            limit,
        };
        let ids_of = |query: EvaluationQuery| async move {
            let evals = s.evaluations(&query).await.unwrap();
            assert!(evals.iter().all(|e| e.monitor_id == one.id));
            evals.into_iter().map(|e| e.id).collect::<Vec<i64>>()
        };

        // Newest first, paged by id.
        assert_eq!(ids_of(page(None, None, None, 2)).await, [ids[4], ids[3]]);
        assert_eq!(
            ids_of(page(None, None, Some(ids[3]), 2)).await,
            [ids[2], ids[1]]
        );
        assert_eq!(ids_of(page(None, None, Some(ids[1]), 2)).await, [ids[0]]);
        assert!(ids_of(page(None, None, Some(ids[0]), 2)).await.is_empty());
        // since is inclusive, until exclusive (on finished_at).
        assert_eq!(
            ids_of(page(Some(2000), Some(4000), None, 10)).await,
            [ids[2], ids[1]]
        );
        assert_eq!(ids_of(page(Some(4500), None, None, 10)).await, [ids[4]]);
        assert_eq!(ids_of(page(None, Some(1001), None, 10)).await, [ids[0]]);
        assert_eq!(
            ids_of(page(Some(2000), None, Some(ids[3]), 10)).await,
            [ids[2], ids[1]]
        );
        assert_eq!(ids_of(page(None, None, None, 100)).await.len(), 5);

        let e = s.evaluation(ids[2]).await.unwrap().unwrap();
        assert_eq!(e.monitor_id, one.id);
        assert_eq!((e.window_start, e.window_end), (20, 30));
        assert_eq!((e.started_at, e.finished_at), (2990, 3000));
        assert_eq!((e.status.as_str(), e.action.as_str()), ("ok", "none"));
        assert_eq!(e.reason, "no drift");
        assert_eq!(e.result["psi"], 0.01);
        assert!(s.evaluation(ids[4] + 1000).await.unwrap().is_none());

        // The newest of each monitor that has any, in monitor order.
        let latest = s.latest_evaluations().await.unwrap();
        let summary: Vec<(i64, i64)> = latest
            .iter()
            .map(|e| (e.monitor_id, e.window_start))
            .collect();
        assert_eq!(summary, [(one.id, 40), (two.id, 5)]);
        assert_eq!(latest[0].id, ids[4]);
        assert!(latest.iter().all(|e| e.monitor_id != idle.id));
    })
    .await;
}

// ---- alerts -----------------------------------------------------------------------------------

#[tokio::test]
async fn alerts_list_and_delivery() {
    each(|ctx| async move {
        let s = &ctx.store;
        let model = s.create_model("m", "t", "d").await.unwrap();
        let one = s
            .create_monitor(&new_monitor("one", model.id, None, &[]))
            .await
            .unwrap();
        let two = s
            .create_monitor(&new_monitor("two", model.id, None, &[]))
            .await
            .unwrap();
        let eval = s
            .record_evaluation(&evaluation(one.id, 0, 10, 1000), &state(10, 1000), &[])
            .await
            .unwrap()
            .0;

        let a1 = s
            .insert_alert(one.id, Some(eval), "drift", "x drifted", "pending")
            .await
            .unwrap();
        let a2 = s
            .insert_alert(two.id, None, "stale", "no data", "pending")
            .await
            .unwrap();
        let a3 = s
            .insert_alert(one.id, None, "error", "plugin failed", "pending")
            .await
            .unwrap();
        assert!(a1 < a2 && a2 < a3);

        let of_one = s.alerts(Some(one.id), None, 10).await.unwrap();
        let listed: Vec<i64> = of_one.iter().map(|a| a.id).collect();
        assert_eq!(listed, [a3, a1]);
        let first = &of_one[1];
        assert_eq!(first.monitor_id, one.id);
        assert_eq!(first.evaluation_id, Some(eval));
        assert_eq!(
            (first.cause.as_str(), first.message.as_str()),
            ("drift", "x drifted")
        );
        assert_eq!(first.delivery, "pending");
        assert!(first.created_at > 0);
        assert_eq!(of_one[0].evaluation_id, None);

        let all: Vec<i64> = s
            .alerts(None, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(all, [a3, a2, a1]);
        let paged: Vec<i64> = s
            .alerts(None, Some(a3), 1)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(paged, [a2]);
        let of_two: Vec<i64> = s
            .alerts(Some(two.id), None, 10)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(of_two, [a2]);

        s.set_alert_delivery(a1, "delivered").await.unwrap();
        let deliveries: BTreeSet<(i64, String)> = s
            .alerts(None, None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.id, a.delivery))
            .collect();
        assert_eq!(
            deliveries,
            BTreeSet::from([
                (a1, "delivered".to_string()),
                (a2, "pending".to_string()),
                (a3, "pending".to_string())
            ])
        );
    })
    .await;
}
