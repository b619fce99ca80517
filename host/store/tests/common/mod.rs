//! What the store's test files share: the harness that runs a case on each backend, as a test
//! of its own on each (a fresh SQLite file; a database of its own on the Postgres server
//! `VIGIL_TEST_POSTGRES_URL` names, which `scripts/postgres.sh` starts, created for the case and
//! dropped after it, so cases running on parallel threads never see each other's rows), and
//! the records the cases store.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;
use vigil_store::{
    Backend, Column, ColumnData, Error, MISSING_CODE, MonitorState, NewEvaluation, NewMonitor,
    NewPlugin, RecordBatch, Store,
};

mod postgres_server;
pub use postgres_server::{POSTGRES_ENV, postgres_server};

// ---- harness ----------------------------------------------------------------------------------

/// One database a case runs against.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// Holds the SQLite file's directory until the case ends.
    _dir: Option<tempfile::TempDir>,
    /// The Postgres server's URL and the database made for the case, dropped after it.
    postgres: Option<(String, String)>,
}

/// What a case gets: an open store and the URL it was opened with (to reopen it).
#[derive(Clone)]
pub struct Ctx {
    pub store: Store,
    pub url: String,
}

/// `url` with its database (the path) replaced by `database`, query kept.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").expect("URL has a scheme") + 3;
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

pub fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "vigil_t_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn fresh_sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vigil.db").display());
    TestDb {
        url,
        backend: Backend::Sqlite,
        _dir: Some(dir),
        postgres: None,
    }
}

/// A new, empty database on the Postgres server: the store's migrations run on it from zero.
pub async fn fresh_postgres(server: &str) -> TestDb {
    let name = unique_name();
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("connecting to {POSTGRES_ENV}={server}: {e}"));
    // template0 accepts no connections, so concurrent creations never find it busy.
    sqlx::raw_sql(&format!("CREATE DATABASE {name} TEMPLATE template0"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    TestDb {
        url: with_database(server, &name),
        backend: Backend::Postgres,
        _dir: None,
        postgres: Some((server.to_string(), name)),
    }
}

impl TestDb {
    pub async fn cleanup(self) {
        if let Some((server, name)) = self.postgres {
            let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
    }
}

/// Runs `case` on the fresh database `db`, then drops the database. A failing case leaves its
/// Postgres database behind, to look at.
pub async fn run<F, Fut>(db: TestDb, case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = Store::open(&db.url)
        .await
        .unwrap_or_else(|e| panic!("{:?}: opening {}: {e}", db.backend, db.url));
    assert_eq!(store.backend(), db.backend);
    case(Ctx {
        store: store.clone(),
        url: db.url.clone(),
    })
    .await;
    store.close().await;
    db.cleanup().await;
}

/// Declares the case `async fn NAME(ctx: Ctx)` as two tests: `NAME::sqlite`, on a fresh SQLite
/// file, and `NAME::postgres`, on a fresh database of the server `VIGIL_TEST_POSTGRES_URL`
/// names. The Postgres one is `#[ignore]`d, so that a plain `cargo test` on a machine without
/// a server counts it as not run instead of passing it; `scripts/test.sh` starts a server and
/// runs it (`--include-ignored`), and there it fails if it has no server. With
/// `worker_threads = N`, the tests run on a multi-threaded runtime of N threads.
#[allow(unused_macros)] // not every test binary has cases on both backends
macro_rules! on_both_backends {
    ($case:ident $(, worker_threads = $threads:literal)?) => {
        mod $case {
            #[tokio::test$((flavor = "multi_thread", worker_threads = $threads))?]
            async fn sqlite() {
                let db = crate::common::fresh_sqlite().await;
                crate::common::run(db, super::$case).await;
            }

            #[tokio::test$((flavor = "multi_thread", worker_threads = $threads))?]
            #[ignore = "needs Postgres: VIGIL_TEST_POSTGRES_URL (scripts/test.sh starts a server)"]
            async fn postgres() {
                let db = crate::common::fresh_postgres(&crate::common::postgres_server()).await;
                crate::common::run(db, super::$case).await;
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;

// ---- data -------------------------------------------------------------------------------------

/// One record as the tests think of it: id, numeric feature `x`, categorical feature `c`.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub id: String,
    pub x: f64,
    pub c: Option<String>,
}

pub fn row(id: &str, x: f64, c: Option<&str>) -> Row {
    Row {
        id: id.to_string(),
        x,
        c: c.map(str::to_string),
    }
}

/// A batch of `rows`; `c`'s dictionary is in order of first appearance, so batches with other
/// values (or the same values in another order) get different dictionaries.
pub fn batch(rows: &[Row]) -> RecordBatch {
    let mut categories: Vec<String> = Vec::new();
    let codes = rows
        .iter()
        .map(|r| match &r.c {
            None => MISSING_CODE,
            Some(c) => match categories.iter().position(|k| k == c) {
                Some(i) => i as u32,
                None => {
                    categories.push(c.clone());
                    (categories.len() - 1) as u32
                }
            },
        })
        .collect();
    RecordBatch {
        ids: rows.iter().map(|r| r.id.clone()).collect(),
        timestamps: (0..rows.len() as i64)
            .map(|i| 1_700_000_000_000 + i)
            .collect(),
        model_versions: rows.iter().map(|_| Some("v1".to_string())).collect(),
        features: vec![
            Column {
                name: "x".into(),
                data: ColumnData::Numeric(rows.iter().map(|r| r.x).collect()),
            },
            Column {
                name: "c".into(),
                data: ColumnData::Categorical { categories, codes },
            },
        ],
        prediction: Some(ColumnData::Numeric(
            rows.iter().map(|r| r.x * 2.0).collect(),
        )),
        probabilities: Vec::new(),
    }
}

/// Rows `prefix0..prefix{n-1}` with simple values.
pub fn rows(prefix: &str, n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| row(&format!("{prefix}{i}"), i as f64 + 0.5, Some("k")))
        .collect()
}

/// The rows of a batch read back, checking that every column has one entry per row.
pub fn rows_of(batch: &RecordBatch) -> Vec<Row> {
    let n = batch.len();
    if n == 0 {
        return Vec::new();
    }
    assert_eq!(batch.timestamps.len(), n);
    assert_eq!(batch.model_versions.len(), n);
    let x = match &batch.feature("x").expect("feature x").data {
        ColumnData::Numeric(values) => values.clone(),
        other => panic!("x is not numeric: {other:?}"),
    };
    let c: Vec<Option<String>> = match &batch.feature("c").expect("feature c").data {
        ColumnData::Categorical { categories, codes } => codes
            .iter()
            .map(|&code| (code != MISSING_CODE).then(|| categories[code as usize].clone()))
            .collect(),
        other => panic!("c is not categorical: {other:?}"),
    };
    assert_eq!((x.len(), c.len()), (n, n));
    if let Some(ColumnData::Numeric(prediction)) = &batch.prediction {
        assert_eq!(prediction.len(), n);
        for (p, x) in prediction.iter().zip(&x) {
            assert_eq!(*p, x * 2.0);
        }
    }
    (0..n)
        .map(|i| Row {
            id: batch.ids[i].clone(),
            x: x[i],
            c: c[i].clone(),
        })
        .collect()
}

pub fn ids(batch: &RecordBatch) -> Vec<String> {
    batch.ids.clone()
}

pub fn plugin<'a>(name: &'a str, version: &'a str, bytes: &'a [u8], sha: &'a str) -> NewPlugin<'a> {
    NewPlugin {
        name,
        version,
        kind: "detector",
        sha256: sha,
        info: r#"{"description":"test plugin","params":[1,2]}"#,
        bytes,
        uploaded_by: "alice",
        signature: None,
        signed_by: None,
    }
}

pub fn new_monitor<'a>(
    name: &'a str,
    model_id: i64,
    reference: Option<&'a [u8]>,
    plugins: &'a [(String, String)],
) -> NewMonitor<'a> {
    NewMonitor {
        name,
        model_id,
        spec: r#"{"window":100}"#,
        reference,
        plugins,
        start_offset: 0,
    }
}

pub fn evaluation(
    monitor_id: i64,
    start: i64,
    end: i64,
    finished_at: i64,
) -> NewEvaluation<'static> {
    NewEvaluation {
        monitor_id,
        window_start: start,
        window_end: end,
        started_at: finished_at - 10,
        finished_at,
        status: "ok",
        action: "none",
        reason: "no drift",
        result: r#"{"psi":0.01}"#,
        actions: &[],
    }
}

pub fn state(next_offset: i64, last_closed_at: i64) -> MonitorState {
    MonitorState {
        next_offset,
        last_closed_at,
        state: format!(r#"{{"closed":{next_offset}}}"#),
    }
}

pub fn is_conflict<T: std::fmt::Debug>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::Conflict(_)))
}

/// The first column of the first row `sql` returns, as a number, read through a connection
/// of its own: for what the store does not expose (row counts, SQLite's page count).
pub async fn raw_scalar(ctx: &Ctx, sql: &str) -> i64 {
    match ctx.store.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&ctx.url).await.unwrap();
            let value = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
            conn.close().await.unwrap();
            value
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&ctx.url).await.unwrap();
            let value = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
            conn.close().await.unwrap();
            value
        }
    }
}

/// Runs `sql` through a connection of its own; returns the rows it changed.
pub async fn raw_execute(ctx: &Ctx, sql: &str) -> u64 {
    match ctx.store.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&ctx.url).await.unwrap();
            let done = sqlx::query(sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
            done.rows_affected()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&ctx.url).await.unwrap();
            let done = sqlx::query(sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
            done.rows_affected()
        }
    }
}
