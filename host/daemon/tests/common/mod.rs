//! What the daemon's integration tests share.

/// A fresh SQLite database file in `dir`, for the tests that need no Postgres run.
pub fn sqlite_database(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("vigil.db").display())
}

/// Fresh databases to run a test on: a SQLite file in `dir` always, and a new database on the
/// Postgres server of `VIGIL_TEST_POSTGRES_URL` when it is set.
pub fn databases(dir: &tempfile::TempDir) -> Vec<String> {
    let mut urls = vec![sqlite_database(dir)];
    if let Ok(server) = std::env::var("VIGIL_TEST_POSTGRES_URL") {
        let name = format!("vigil_daemon_{}", uuid::Uuid::new_v4().simple());
        let status = std::process::Command::new("psql")
            .args([server.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
            .status()
            .expect("psql runs");
        assert!(status.success(), "cannot create the Postgres test database");
        let base = server.rsplit_once('/').expect("a database URL").0;
        urls.push(format!("{base}/{name}"));
    }
    urls
}
