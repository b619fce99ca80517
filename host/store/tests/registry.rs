//! The model registry (versions with their status, promotion, rollback target) and run-scoped
//! tokens, on SQLite and on Postgres, a test on each (harness in `common/mod.rs`).

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::json;
use vigil_store::{
    Backend, Error, NewRunToken, NewVersion, Promotion, Registration, RunScope, Store, TRAIN_ROLE,
    TrainingWindow, VersionStatus,
};

fn candidate(version: &str) -> NewVersion {
    NewVersion {
        version: version.into(),
        artifact_uri: format!("file:///models/{version}.json"),
        ..NewVersion::default()
    }
}

fn from_run(version: &str, run: &str) -> NewVersion {
    NewVersion {
        version: version.into(),
        artifact_uri: format!("s3://models/{version}"),
        metrics: BTreeMap::from([("accuracy".into(), 0.91), ("loss".into(), 0.25)]),
        training_window: Some(TrainingWindow {
            start: 1000,
            end: 6000,
        }),
        run_id: Some(run.into()),
        created_by: format!("run:{run}"),
        metadata: json!({"git": "abc123"}),
    }
}

async fn serving_version(s: &Store, model_id: i64) -> Option<String> {
    s.model_by_id(model_id)
        .await
        .unwrap()
        .unwrap()
        .serving_version
}

async fn status_of(s: &Store, model_id: i64, version: &str) -> (VersionStatus, String) {
    let stored = s.model_version(model_id, version).await.unwrap().unwrap();
    (stored.status, stored.status_reason)
}

/// The versions serving now: never more than one, and the one the model names.
async fn check_one_serving(s: &Store, model_id: i64) -> Option<String> {
    let serving: Vec<String> = s
        .model_versions(model_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.status == VersionStatus::Serving)
        .map(|v| v.version)
        .collect();
    assert!(serving.len() <= 1, "{serving:?}");
    let serving = serving.into_iter().next();
    assert_eq!(serving, serving_version(s, model_id).await);
    serving
}

on_both_backends!(a_registered_version_keeps_every_field_and_a_retried_run_finds_it);
async fn a_registered_version_keeps_every_field_and_a_retried_run_finds_it(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "classification", "").await.unwrap();
    let before = vigil_store::now_ms();
    let Registration::Created(v2) = s
        .register_version(model.id, &from_run("v2", "run-7"))
        .await
        .unwrap()
    else {
        panic!("a new version is created")
    };
    assert_eq!(v2.version, "v2");
    assert_eq!(v2.status, VersionStatus::Candidate);
    assert_eq!(v2.status_reason, "");
    assert_eq!(v2.artifact_uri, "s3://models/v2");
    assert_eq!(
        v2.metrics,
        BTreeMap::from([("accuracy".into(), 0.91), ("loss".into(), 0.25)])
    );
    assert_eq!(
        v2.training_window,
        Some(TrainingWindow {
            start: 1000,
            end: 6000
        })
    );
    assert_eq!(v2.run_id.as_deref(), Some("run-7"));
    assert_eq!(v2.created_by, "run:run-7");
    assert_eq!(v2.metadata, json!({"git": "abc123"}));
    assert!(v2.created_at >= before && v2.updated_at == v2.created_at);
    assert_eq!(
        s.model_version(model.id, "v2").await.unwrap(),
        Some(v2.clone())
    );
    assert_eq!(
        s.version_of_run(model.id, "run-7").await.unwrap(),
        Some(v2.clone())
    );
    assert_eq!(s.version_of_run(model.id, "run-8").await.unwrap(), None);
    assert_eq!(s.model_version(model.id, "v9").await.unwrap(), None);

    // The run retries its request: the stored version, unchanged, even if the retry differs.
    let retried = NewVersion {
        artifact_uri: "s3://elsewhere".into(),
        ..from_run("v2", "run-7")
    };
    assert_eq!(
        s.register_version(model.id, &retried).await.unwrap(),
        Registration::Existing(v2.clone())
    );
    // Any other clash is a conflict: another run, no run, or this run with another version.
    for clash in [from_run("v2", "run-8"), candidate("v2")] {
        let answer = s.register_version(model.id, &clash).await;
        assert!(is_conflict(&answer), "{answer:?}");
    }
    match s.register_version(model.id, &from_run("v3", "run-7")).await {
        Err(Error::Conflict(message)) => assert!(message.contains("`v2`"), "{message}"),
        other => panic!("{other:?}"),
    }
    // A version by hand: the defaults. Versions without a run never collide on it.
    let v1 = s
        .register_version(model.id, &candidate("v1"))
        .await
        .unwrap();
    let v1 = v1.version();
    assert_eq!(
        (
            v1.run_id.as_deref(),
            v1.created_by.as_str(),
            v1.training_window
        ),
        (None, "api", None)
    );
    assert!(v1.metrics.is_empty());
    assert_eq!(v1.metadata, json!({}));
    s.register_version(model.id, &candidate("v0"))
        .await
        .unwrap();

    // What cannot be stored faithfully is refused, and nothing is stored.
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut new = from_run("bad", "run-9");
        new.metrics.insert("auc".into(), bad);
        let answer = s.register_version(model.id, &new).await;
        assert!(matches!(answer, Err(Error::Invalid(_))), "{answer:?}");
    }
    for (start, end) in [(-1, 5), (10, 9)] {
        let new = NewVersion {
            training_window: Some(TrainingWindow { start, end }),
            ..from_run("bad", "run-9")
        };
        assert!(matches!(
            s.register_version(model.id, &new).await,
            Err(Error::Invalid(_))
        ));
    }
    let versions: Vec<String> = s
        .model_versions(model.id)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    let mut expected = vec!["v2", "v1", "v0"];
    // Registered in this order; within one millisecond, by name.
    let created: Vec<i64> = s
        .model_versions(model.id)
        .await
        .unwrap()
        .iter()
        .map(|v| v.created_at)
        .collect();
    if created[1] == created[2] {
        expected.swap(1, 2);
    }
    assert_eq!(versions, expected);
}

on_both_backends!(promotion_keeps_one_serving_version_and_knows_where_to_roll_back);
async fn promotion_keeps_one_serving_version_and_knows_where_to_roll_back(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "classification", "").await.unwrap();
    let other = s.create_model("other", "regression", "").await.unwrap();
    for version in ["v1", "v2", "v3"] {
        s.register_version(model.id, &candidate(version))
            .await
            .unwrap();
    }
    s.register_version(other.id, &candidate("v1"))
        .await
        .unwrap();
    assert_eq!(check_one_serving(s, model.id).await, None);
    assert_eq!(s.previous_serving(model.id).await.unwrap(), None);

    let first = s.promote_version(model.id, "v1", "first").await.unwrap();
    assert_eq!(
        first,
        Promotion {
            previous: None,
            changed: true
        }
    );
    assert_eq!(check_one_serving(s, model.id).await.as_deref(), Some("v1"));
    assert_eq!(s.previous_serving(model.id).await.unwrap(), None);
    // Promoting it again writes nothing.
    let updated_at = s
        .model_version(model.id, "v1")
        .await
        .unwrap()
        .unwrap()
        .updated_at;
    assert_eq!(
        s.promote_version(model.id, "v1", "again").await.unwrap(),
        Promotion {
            previous: None,
            changed: false
        }
    );
    let v1 = s.model_version(model.id, "v1").await.unwrap().unwrap();
    assert_eq!(
        (v1.status_reason.as_str(), v1.updated_at),
        ("first", updated_at)
    );

    let second = s
        .promote_version(model.id, "v2", "gate passed: accuracy 0.93 > 0.90")
        .await
        .unwrap();
    assert_eq!(second.previous.as_deref(), Some("v1"));
    assert_eq!(check_one_serving(s, model.id).await.as_deref(), Some("v2"));
    assert_eq!(
        status_of(s, model.id, "v2").await,
        (
            VersionStatus::Serving,
            "gate passed: accuracy 0.93 > 0.90".into()
        )
    );
    let (status, reason) = status_of(s, model.id, "v1").await;
    assert_eq!(status, VersionStatus::Retired);
    assert!(reason.contains("`v2`"), "{reason}");
    assert_eq!(
        s.previous_serving(model.id).await.unwrap().unwrap().version,
        "v1"
    );
    // Another model's versions are its own.
    assert_eq!(check_one_serving(s, other.id).await, None);

    // v2's rollout fails: back to v1, and v2 is marked failed.
    let back = s
        .promote_version(model.id, "v1", "rollback: v2 not ready")
        .await
        .unwrap();
    assert_eq!(back.previous.as_deref(), Some("v2"));
    s.set_version_status(
        model.id,
        "v2",
        VersionStatus::Failed,
        "rollout failed: progress deadline exceeded",
    )
    .await
    .unwrap();
    assert_eq!(check_one_serving(s, model.id).await.as_deref(), Some("v1"));
    assert_eq!(s.previous_serving(model.id).await.unwrap(), None);
    // A failed version is not promoted, until someone sets it back to candidate.
    assert!(is_conflict(
        &s.promote_version(model.id, "v2", "retry").await
    ));
    assert!(!matches!(
        s.set_serving_version(model.id, "v2").await,
        Ok(true)
    ));
    assert_eq!(check_one_serving(s, model.id).await.as_deref(), Some("v1"));

    // The gate refuses v3: it stays a candidate, with the verdict.
    s.set_version_status(
        model.id,
        "v3",
        VersionStatus::Candidate,
        "gate refused: accuracy 0.88 < 0.90 + 0.01",
    )
    .await
    .unwrap();
    assert_eq!(
        status_of(s, model.id, "v3").await,
        (
            VersionStatus::Candidate,
            "gate refused: accuracy 0.88 < 0.90 + 0.01".into()
        )
    );
    // Setting `serving` is a promotion; set_serving_version (the API's by-hand route) too.
    s.set_version_status(model.id, "v3", VersionStatus::Serving, "by hand")
        .await
        .unwrap();
    assert_eq!(check_one_serving(s, model.id).await.as_deref(), Some("v3"));
    assert_eq!(
        s.previous_serving(model.id).await.unwrap().unwrap().version,
        "v1"
    );
    assert!(s.set_serving_version(model.id, "v1").await.unwrap());
    assert_eq!(
        status_of(s, model.id, "v1").await,
        (VersionStatus::Serving, "set by hand".into())
    );
    assert_eq!(
        s.previous_serving(model.id).await.unwrap().unwrap().version,
        "v3"
    );

    // Taking the serving version out of service leaves the model without one.
    s.set_version_status(model.id, "v1", VersionStatus::Retired, "decommissioned")
        .await
        .unwrap();
    assert_eq!(check_one_serving(s, model.id).await, None);

    // Unknown versions and models.
    assert!(matches!(
        s.promote_version(model.id, "v9", "x").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        s.promote_version(model.id + other.id + 10, "v1", "x").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        s.set_version_status(model.id, "v9", VersionStatus::Failed, "x")
            .await,
        Err(Error::NotFound(_))
    ));
    assert!(!s.set_serving_version(model.id, "v9").await.unwrap());
    assert!(!s.set_serving_version(other.id, "v2").await.unwrap());
}

on_both_backends!(
    concurrent_promotions_leave_one_serving_version,
    worker_threads = 4
);
async fn concurrent_promotions_leave_one_serving_version(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "classification", "").await.unwrap();
    let versions: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
    for version in &versions {
        s.register_version(model.id, &candidate(version))
            .await
            .unwrap();
    }
    // A second store on the database: another replica.
    let replica = Store::open(&ctx.url).await.unwrap();
    let tasks: Vec<_> = versions
        .iter()
        .enumerate()
        .map(|(i, version)| {
            let store = if i % 2 == 0 {
                s.clone()
            } else {
                replica.clone()
            };
            let (version, model_id) = (version.clone(), model.id);
            tokio::spawn(async move { store.promote_version(model_id, &version, "race").await })
        })
        .collect();
    let mut previous = Vec::new();
    for task in tasks {
        let promotion = task.await.unwrap().unwrap();
        assert!(promotion.changed);
        previous.extend(promotion.previous);
    }
    replica.close().await;
    let serving = check_one_serving(s, model.id).await.unwrap();
    // Each promotion but the first replaced one version, each replaced once, and the last
    // one promoted is what serves.
    assert_eq!(previous.len(), versions.len() - 1);
    previous.sort();
    previous.dedup();
    assert_eq!(previous.len(), versions.len() - 1);
    assert!(!previous.contains(&serving));
    let retired = s
        .model_versions(model.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.status == VersionStatus::Retired)
        .count();
    assert_eq!(retired, versions.len() - 1);
}

on_both_backends!(a_database_written_before_the_registry_keeps_its_serving_version);
async fn a_database_written_before_the_registry_keeps_its_serving_version(ctx: Ctx) {
    // A database of its own, migrated only up to the registry's migration, with a model
    // serving one of its two versions; then the store opens it and migrates the rest.
    let db = match ctx.store.backend() {
        Backend::Sqlite => fresh_sqlite().await,
        Backend::Postgres => fresh_postgres(&postgres_server()).await,
    };
    let (folder, last) = match db.backend {
        Backend::Sqlite => ("sqlite", "0004_registry_tokens_leases.sql"),
        Backend::Postgres => ("postgres", "0003_registry_tokens_leases.sql"),
    };
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    let older = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.as_str() < last {
            std::fs::copy(&path, older.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(older.path()).await.unwrap();
    let setup = [
        "INSERT INTO models (name, task, description, created_at) \
         VALUES ('m', 'classification', '', 5)",
        "INSERT INTO model_versions (model_id, version, metadata, created_at) \
         VALUES (1, 'v1', '{\"git\":\"a\"}', 10)",
        "INSERT INTO model_versions (model_id, version, metadata, created_at) \
         VALUES (1, 'v2', '{}', 20)",
        "UPDATE models SET serving_version = 'v1' WHERE id = 1",
    ];
    match db.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&format!("{}?mode=rwc", db.url))
                .await
                .unwrap();
            migrator.run(&pool).await.unwrap();
            for sql in setup {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for sql in setup {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
    let s = Store::open(&db.url).await.unwrap();
    let model = s.model("m").await.unwrap().unwrap();
    let versions = s.model_versions(model.id).await.unwrap();
    let summary: Vec<(&str, VersionStatus, i64)> = versions
        .iter()
        .map(|v| (v.version.as_str(), v.status, v.updated_at))
        .collect();
    assert_eq!(
        summary,
        [
            ("v1", VersionStatus::Serving, 10),
            ("v2", VersionStatus::Candidate, 20)
        ]
    );
    assert_eq!(versions[0].metadata, json!({"git": "a"}));
    assert_eq!(versions[0].created_by, "api");
    assert_eq!(versions[0].training_window, None);
    // It served, so it is where a rollback from the next version goes.
    let promotion = s.promote_version(model.id, "v2", "new").await.unwrap();
    assert_eq!(promotion.previous.as_deref(), Some("v1"));
    assert_eq!(
        s.previous_serving(model.id).await.unwrap().unwrap().version,
        "v1"
    );
    s.close().await;
    db.cleanup().await;
}

on_both_backends!(run_tokens_carry_their_scope_and_expiry);
async fn run_tokens_carry_their_scope_and_expiry(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "classification", "").await.unwrap();
    s.insert_token("adm", "admin", "admin", &[1u8; 32])
        .await
        .unwrap();
    for (id, run) in [("t1", "run-1"), ("t2", "run-1"), ("t3", "run-2")] {
        s.insert_run_token(&NewRunToken {
            id,
            name: "retraining",
            secret_sha256: &[2u8; 32],
            model_id: model.id,
            run_id: run,
            expires_at: 1_900_000_000_000,
        })
        .await
        .unwrap();
    }
    let token = s.token("t1").await.unwrap().unwrap();
    assert_eq!(token.role, TRAIN_ROLE);
    assert_eq!(
        token.scope,
        Some(RunScope {
            model_id: model.id,
            run_id: "run-1".into()
        })
    );
    assert_eq!(token.expires_at, Some(1_900_000_000_000));
    assert_eq!(token.revoked_at, None);
    let admin = s.token("adm").await.unwrap().unwrap();
    assert_eq!((admin.scope, admin.expires_at), (None, None));

    // A finished run's tokens are revoked together; another run's stay.
    assert_eq!(s.revoke_run_tokens(model.id, "run-1").await.unwrap(), 2);
    assert_eq!(s.revoke_run_tokens(model.id, "run-1").await.unwrap(), 0);
    assert!(s.token("t1").await.unwrap().unwrap().revoked_at.is_some());
    assert!(s.token("t2").await.unwrap().unwrap().revoked_at.is_some());
    assert_eq!(s.token("t3").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(s.token("adm").await.unwrap().unwrap().revoked_at, None);
}
