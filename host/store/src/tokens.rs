//! The `api_tokens` table: bearer tokens, stored as the SHA-256 of their secret.

use sqlx::Row;

use crate::{Result, Store, now_ms};

#[derive(Clone, Debug)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub role: String,
    pub secret_sha256: Vec<u8>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
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

    pub async fn token(&self, id: &str) -> Result<Option<Token>> {
        let row = sqlx::query(
            "SELECT id, name, role, secret_sha256, created_at, revoked_at \
             FROM api_tokens WHERE id = $1",
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
}
