//! The `api_tokens` table: bearer tokens, stored as the SHA-256 of their secret. A token of
//! the role [`TRAIN_ROLE`] is scoped to one model and one retraining run, and expires.

use sqlx::Row;

use crate::{Result, Store, now_ms};

/// The role of the tokens the daemon gives its retraining runs (see [`Store::insert_run_token`]).
pub const TRAIN_ROLE: &str = "train";

#[derive(Clone, Debug)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub role: String,
    pub secret_sha256: Vec<u8>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// What a run-scoped token may touch; `None` for the other roles.
    pub scope: Option<RunScope>,
    /// When the token stops being accepted (Unix ms); `None`: never.
    pub expires_at: Option<i64>,
}

/// The model and the run a [`TRAIN_ROLE`] token is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunScope {
    pub model_id: i64,
    pub run_id: String,
}

/// A run-scoped token to store (see [`Store::insert_run_token`]).
#[derive(Clone, Debug)]
pub struct NewRunToken<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub secret_sha256: &'a [u8],
    pub model_id: i64,
    pub run_id: &'a str,
    /// Unix ms.
    pub expires_at: i64,
}

impl Store {
    pub async fn insert_token(
        &self,
        id: &str,
        name: &str,
        role: &str,
        secret_sha256: &[u8],
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO api_tokens (id, name, role, secret_sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(name)
        .bind(role)
        .bind(secret_sha256)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a token of the role [`TRAIN_ROLE`], for one retraining run of one model until
    /// `expires_at`.
    pub async fn insert_run_token(&self, token: &NewRunToken<'_>) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO api_tokens (id, name, role, secret_sha256, created_at, model_id, run_id, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token.id)
        .bind(token.name)
        .bind(TRAIN_ROLE)
        .bind(token.secret_sha256)
        .bind(now_ms())
        .bind(token.model_id)
        .bind(token.run_id)
        .bind(token.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn token(&self, id: &str) -> Result<Option<Token>> {
        let row = sqlx::query(
            "SELECT id, name, role, secret_sha256, created_at, revoked_at, model_id, run_id, \
             expires_at FROM api_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Token {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                role: row.try_get("role")?,
                secret_sha256: row.try_get("secret_sha256")?,
                created_at: row.try_get("created_at")?,
                revoked_at: row.try_get("revoked_at")?,
                scope: match (
                    row.try_get::<Option<i64>, _>("model_id")?,
                    row.try_get::<Option<String>, _>("run_id")?,
                ) {
                    (Some(model_id), Some(run_id)) => Some(RunScope { model_id, run_id }),
                    _ => None,
                },
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Marks a token revoked; false when there is no such live token.
    pub async fn revoke_token(&self, id: &str) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes the live tokens of a retraining run (once it has finished); returns how many.
    pub async fn revoke_run_tokens(&self, model_id: i64, run_id: &str) -> Result<u64> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 \
             WHERE model_id = $2 AND run_id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(model_id)
        .bind(run_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
