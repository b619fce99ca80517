//! The `plugins` table: uploaded components by name and version, with their bytes.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Error, Result, Store, now_ms, parse_json};

#[derive(Clone, Debug)]
pub struct NewPlugin<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub sha256: &'a str,
    /// The plugin's `info` as JSON.
    pub info: &'a str,
    pub bytes: &'a [u8],
    pub uploaded_by: &'a str,
    /// The signature it came with (minisign's text), checked by the caller.
    pub signature: Option<&'a str>,
    /// The ID of the key that made it.
    pub signed_by: Option<&'a str>,
}

/// A stored component and the signature it was stored with.
#[derive(Clone, Debug)]
pub struct StoredComponent {
    pub bytes: Vec<u8>,
    pub signature: Option<String>,
}

#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct PluginMeta {
    pub name: String,
    pub version: String,
    pub kind: String,
    pub sha256: String,
    pub size: i64,
    pub info: serde_json::Value,
    pub uploaded_by: String,
    pub uploaded_at: i64,
    /// The ID of the key whose signature the plugin carries; absent when it is unsigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

/// What storing a plugin did.
#[derive(Clone, Debug)]
pub enum PluginInsert {
    Created(PluginMeta),
    /// The same bytes were already stored under this name and version.
    AlreadyStored(PluginMeta),
}

impl Store {
    /// Stores a plugin. The same bytes under the same name and version again is not an
    /// error (a signature they come with replaces the stored one: a key was rotated, or an
    /// unsigned plugin got signed); different bytes are a [`Error::Conflict`].
    pub async fn insert_plugin(&self, plugin: &NewPlugin<'_>) -> Result<PluginInsert> {
        let inserted = sqlx::query(
            "INSERT INTO plugins (name, version, kind, sha256, size, info, bytes, uploaded_by, \
             uploaded_at, signature, signed_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11) ON CONFLICT (name, version) DO NOTHING",
        )
        .bind(plugin.name)
        .bind(plugin.version)
        .bind(plugin.kind)
        .bind(plugin.sha256)
        .bind(plugin.bytes.len() as i64)
        .bind(plugin.info)
        .bind(plugin.bytes)
        .bind(plugin.uploaded_by)
        .bind(now_ms())
        .bind(plugin.signature)
        .bind(plugin.signed_by)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        let mut stored = self
            .plugin(plugin.name, plugin.version)
            .await?
            .ok_or_else(|| Error::Conflict("plugin was deleted while being stored".into()))?;
        if inserted {
            Ok(PluginInsert::Created(stored))
        } else if stored.sha256 == plugin.sha256 {
            if plugin.signature.is_some() {
                sqlx::query(
                    "UPDATE plugins SET signature = $1, signed_by = $2 \
                     WHERE name = $3 AND version = $4 AND sha256 = $5",
                )
                .bind(plugin.signature)
                .bind(plugin.signed_by)
                .bind(plugin.name)
                .bind(plugin.version)
                .bind(plugin.sha256)
                .execute(&self.pool)
                .await?;
                stored.signed_by = plugin.signed_by.map(str::to_string);
            }
            Ok(PluginInsert::AlreadyStored(stored))
        } else {
            Err(Error::Conflict(format!(
                "plugin {}@{} is already stored with different bytes (sha256 {})",
                plugin.name, plugin.version, stored.sha256
            )))
        }
    }

    const PLUGIN_COLUMNS: &str =
        "name, version, kind, sha256, size, info, uploaded_by, uploaded_at, signed_by";

    pub async fn plugins(&self) -> Result<Vec<PluginMeta>> {
        let sql = format!(
            "SELECT {} FROM plugins ORDER BY name, uploaded_at",
            Self::PLUGIN_COLUMNS
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(plugin_meta).collect()
    }

    pub async fn plugin(&self, name: &str, version: &str) -> Result<Option<PluginMeta>> {
        let sql = format!(
            "SELECT {} FROM plugins WHERE name = $1 AND version = $2",
            Self::PLUGIN_COLUMNS
        );
        let row = sqlx::query(&sql)
            .bind(name)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(plugin_meta).transpose()
    }

    pub async fn plugin_bytes(&self, name: &str, version: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT bytes FROM plugins WHERE name = $1 AND version = $2")
                .bind(name)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// A plugin's bytes with the signature they were stored with.
    pub async fn plugin_component(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<StoredComponent>> {
        let row =
            sqlx::query("SELECT bytes, signature FROM plugins WHERE name = $1 AND version = $2")
                .bind(name)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            Ok(StoredComponent {
                bytes: row.try_get("bytes")?,
                signature: row.try_get("signature")?,
            })
        })
        .transpose()
    }

    /// Deletes a plugin; a [`Error::Conflict`] naming the monitors while any uses it.
    pub async fn delete_plugin(&self, name: &str, version: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let users: Vec<String> = sqlx::query_scalar(
            "SELECT m.name FROM monitor_plugins p JOIN monitors m ON m.id = p.monitor_id \
             WHERE p.name = $1 AND p.version = $2 ORDER BY m.name",
        )
        .bind(name)
        .bind(version)
        .fetch_all(&mut **tx)
        .await?;
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "plugin {name}@{version} is used by monitor(s): {}",
                users.join(", ")
            )));
        }
        let shadowing: Vec<String> = sqlx::query_scalar(
            "SELECT m.name FROM shadows s JOIN monitors m ON m.id = s.monitor_id \
             WHERE s.plugin_name = $1 AND s.plugin_version = $2 AND s.status = $3 \
             ORDER BY m.name",
        )
        .bind(name)
        .bind(version)
        .bind(crate::SHADOW_RUNNING)
        .fetch_all(&mut **tx)
        .await?;
        if !shadowing.is_empty() {
            return Err(Error::Conflict(format!(
                "plugin {name}@{version} runs in shadow on monitor(s): {}; drop or promote \
                 the shadow first",
                shadowing.join(", ")
            )));
        }
        let deleted = sqlx::query("DELETE FROM plugins WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted == 1)
    }
}

fn plugin_meta(row: &AnyRow) -> Result<PluginMeta> {
    Ok(PluginMeta {
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        kind: row.try_get("kind")?,
        sha256: row.try_get("sha256")?,
        size: row.try_get("size")?,
        info: parse_json(&row.try_get::<String, _>("info")?)?,
        uploaded_by: row.try_get("uploaded_by")?,
        uploaded_at: row.try_get("uploaded_at")?,
        signed_by: row.try_get("signed_by")?,
    })
}
