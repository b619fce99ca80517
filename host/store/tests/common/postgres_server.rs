//! The Postgres server the tests make their databases on: shared by the store's test harness
//! and the daemon's (`host/daemon/tests/common/mod.rs` includes this file).

/// The variable that names the server.
pub const POSTGRES_ENV: &str = "VIGIL_TEST_POSTGRES_URL";

/// The server `VIGIL_TEST_POSTGRES_URL` names. Only tests marked as needing Postgres
/// (`#[ignore]`d, run when asked for) call this: without the variable, that is a mistake, not a
/// reason to pass.
pub fn postgres_server() -> String {
    std::env::var(POSTGRES_ENV)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{POSTGRES_ENV} is not set: this test runs on Postgres. scripts/test.sh starts \
                 a server; or export {POSTGRES_ENV}=\"$(scripts/postgres.sh)\""
            )
        })
}
