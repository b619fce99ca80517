//! The store's error type: what callers match on to answer (retry, conflict, refuse).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database cannot take the request now (locked, unreachable, disk full): retryable.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The write conflicts with what is stored (a name taken, a plugin in use, a key reused).
    #[error("{0}")]
    Conflict(String),
    /// Refused: the database is configured so that acknowledged writes could be lost.
    #[error("unsafe database settings: {0}")]
    UnsafeSettings(String),
    /// Holds the URL's scheme only: the rest may hold a password.
    #[error("unsupported database URL (scheme `{0}`): expected sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// Records asked for were removed by [`Store::prune_records`](crate::Store::prune_records):
    /// `start..end` is the first pruned span of the range asked for.
    #[error("records {start}..{end} of model {model_id} were pruned")]
    Pruned { model_id: i64, start: i64, end: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Error::Unavailable(error.to_string())
            }
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                // SQLite: 5 busy, 6 locked, 13 full, 10 I/O. Postgres: 53xxx insufficient
                // resources, 57P0x shutdown, 08xxx connection.
                let transient = matches!(&*code, "5" | "6" | "13" | "10" | "517" | "261")
                    || code.starts_with("53")
                    || code.starts_with("57P0")
                    || code.starts_with("08");
                if transient {
                    Error::Unavailable(error.to_string())
                } else {
                    Error::Database(error)
                }
            }
            _ => Error::Database(error),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
