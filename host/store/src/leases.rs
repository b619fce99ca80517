//! The `leases` table: which holder (a daemon replica) acts for a name (a monitor, say), and a
//! fencing epoch that lets a write refuse a holder that lost its lease.
//!
//! Time is the database's clock, not the replicas': on Postgres every replica then measures a
//! lease against one clock (`clock_timestamp()`, the time of the statement rather than of its
//! transaction's start), so a replica whose own clock is off cannot take a live lease or keep
//! an expired one. SQLite runs on one machine, where the database's clock is the machine's.
//! Only durations (`ttl_ms`) come from the replicas.
//!
//! The epoch grows by one whenever the holder changes (a release leaves the lease without a
//! holder, so the next acquisition counts too). A write fenced by a [`Fence`] first updates
//! the lease's row, checking holder, epoch and expiry, inside the write's own transaction:
//! the row stays locked until the write commits, so another replica's acquisition waits for
//! it and then sees it, and a write whose lease was taken over stores nothing
//! ([`Error::LeaseLost`]).

use sqlx::Row;

use crate::{Backend, Error, Result, Store};

/// A lease as [`Store::leases`] shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Lease {
    pub name: String,
    /// The last holder; `None` once released.
    pub holder: Option<String>,
    pub epoch: i64,
    /// On the database's clock (Unix ms).
    pub expires_at: i64,
    /// How long it stays held, 0 once expired or released: the lease is live while this is
    /// above 0.
    pub remaining_ms: i64,
}

/// What a fenced write checks before it writes: that `holder` still holds the lease `name`,
/// at `epoch` (what [`Store::acquire_lease`] returned), unexpired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub lease: String,
    pub holder: String,
    pub epoch: i64,
}

/// The database's clock in Unix milliseconds, as SQL.
fn db_now(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
        Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

impl Store {
    /// Takes the lease `name` for `holder` for `ttl_ms` if it is free, expired or released,
    /// or renews it if `holder` has it; returns its epoch, or `None` while another holder's
    /// lease is live. One statement, so that of many replicas trying at once exactly one gets
    /// it.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> Result<Option<i64>> {
        if holder.is_empty() {
            return Err(Error::Invalid("a lease holder needs a name".into()));
        }
        if ttl_ms <= 0 {
            return Err(Error::Invalid(format!(
                "a lease's time to live is positive, not {ttl_ms} ms"
            )));
        }
        let now = db_now(self.backend());
        let sql = format!(
            "INSERT INTO leases (name, holder, expires_at, epoch) VALUES ($1, $2, {now} + $3, 1) \
             ON CONFLICT (name) DO UPDATE SET \
             epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch \
                          ELSE leases.epoch + 1 END, \
             holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= {now} \
             RETURNING epoch"
        );
        let _turn = self.write_turn().await;
        Ok(sqlx::query_scalar(&sql)
            .bind(name)
            .bind(holder)
            .bind(ttl_ms)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Lets go of the lease if `holder` has it, so another can take it at once; false when it
    /// did not have it.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE leases SET holder = NULL, expires_at = 0 WHERE name = $1 AND holder = $2",
        )
        .bind(name)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every lease, by name.
    pub async fn leases(&self) -> Result<Vec<Lease>> {
        let now = db_now(self.backend());
        let sql = format!(
            "SELECT name, holder, epoch, expires_at, {now} AS now FROM leases ORDER BY name"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let expires_at: i64 = row.try_get("expires_at")?;
                let now: i64 = row.try_get("now")?;
                Ok(Lease {
                    name: row.try_get("name")?,
                    holder: row.try_get("holder")?,
                    epoch: row.try_get("epoch")?,
                    expires_at,
                    remaining_ms: (expires_at - now).max(0),
                })
            })
            .collect()
    }
}

/// Fails with [`Error::LeaseLost`] unless `fence` holds, and locks the lease's row until `tx`
/// ends (see the module's documentation). The first statement of a fenced write.
pub(crate) async fn check_fence(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    fence: &Fence,
) -> Result<()> {
    let now = db_now(backend);
    let sql = format!(
        "UPDATE leases SET epoch = epoch \
         WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > {now}"
    );
    let held = sqlx::query(&sql)
        .bind(&fence.lease)
        .bind(&fence.holder)
        .bind(fence.epoch)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if held == 1 {
        Ok(())
    } else {
        Err(Error::LeaseLost {
            lease: fence.lease.clone(),
            holder: fence.holder.clone(),
            epoch: fence.epoch,
        })
    }
}
