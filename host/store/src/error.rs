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
    /// What was asked for is not stored (a model version, say).
    #[error("{0}")]
    NotFound(String),
    /// The input cannot be stored as given (a metric that is not a finite number, an empty
    /// lease holder): a caller's mistake, not the database's.
    #[error("{0}")]
    Invalid(String),
    /// A fenced write found its lease no longer held by its holder at its epoch (see
    /// [`Fence`](crate::Fence)): another replica took over, and nothing was written.
    #[error(
        "lease `{lease}` is no longer held by `{holder}` at epoch {epoch}: another holder took \
         it over, or it expired; nothing was written"
    )]
    LeaseLost {
        lease: String,
        holder: String,
        epoch: i64,
    },
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
