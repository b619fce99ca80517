//! The `labels` table: true labels by record id, which may arrive before their record.

use sqlx::Row;

use crate::{Backend, Error, Result, Store, now_ms};

/// Rows per multi-row `INSERT`, well under both backends' limits on bound parameters.
const INSERT_CHUNK: usize = 2000;

#[derive(Clone, Debug, PartialEq)]
pub enum LabelValue {
    Number(f64),
    Text(String),
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct LabelOutcome {
    pub stored: usize,
    /// Labels whose record is already stored (the rest wait for their record).
    pub matched: usize,
}

impl Store {
    /// Stores labels by record id (a later label for the same record replaces the earlier).
    pub async fn upsert_labels(
        &self,
        model_id: i64,
        labels: &[(String, LabelValue)],
    ) -> Result<LabelOutcome> {
        // One row per record, with the last label given for it: Postgres refuses an upsert
        // that touches the same row twice in one statement, and a record is counted once.
        let mut last = std::collections::HashMap::with_capacity(labels.len());
        for (i, (id, _)) in labels.iter().enumerate() {
            last.insert(id.as_str(), i);
        }
        let unique: Vec<&(String, LabelValue)> = labels
            .iter()
            .enumerate()
            .filter(|(i, (id, _))| last[id.as_str()] == *i)
            .map(|(_, label)| label)
            .collect();
        // Taken before the write transaction (on SQLite, see `sqlite/record_ids.rs`).
        let mut stored = self.ops.stored_ids().await;
        let mut tx = self.begin().await?;
        stored.load(&mut tx, model_id).await?;
        let now = now_ms();
        let mut matched = 0;
        for chunk in unique.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO labels (model_id, record_id, value_number, value_text, received_at) \
                 VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                let p = 3 * i + 3;
                sql.push_str(&format!("($1, ${}, ${}, ${}, $2)", p, p + 1, p + 2));
            }
            sql.push_str(
                " ON CONFLICT (model_id, record_id) DO UPDATE SET \
                 value_number = excluded.value_number, value_text = excluded.value_text, \
                 received_at = excluded.received_at",
            );
            let mut query = sqlx::query(&sql).bind(model_id).bind(now);
            for (id, value) in chunk {
                let (number, text) = match value {
                    LabelValue::Number(n) => (Some(*n), None),
                    LabelValue::Text(t) => (None, Some(t.as_str())),
                };
                query = query.bind(id.as_str()).bind(number).bind(text);
            }
            query.execute(&mut **tx).await?;

            let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
            matched += stored.count_stored(&mut tx, model_id, &ids).await?;
        }
        tx.commit().await?;
        Ok(LabelOutcome {
            stored: labels.len(),
            matched,
        })
    }

    /// Labels of the records at offsets `start..end`, as (offset, label).
    pub async fn labels_in_range(
        &self,
        model_id: i64,
        start: i64,
        end: i64,
    ) -> Result<Vec<(i64, LabelValue)>> {
        let records = self.read_records(model_id, start, end).await?;
        self.labels_of(model_id, start, &records.ids).await
    }

    /// Labels of the records `ids`, stored from offset `first_offset` on (as read by
    /// [`Store::read_records`]), as (offset, label) in offset order.
    pub async fn labels_of(
        &self,
        model_id: i64,
        first_offset: i64,
        ids: &[String],
    ) -> Result<Vec<(i64, LabelValue)>> {
        self.labels_known_at(model_id, first_offset, ids, i64::MAX)
            .await
    }

    /// [`Store::labels_of`] as they stood at `at_ms` (Unix ms): labels received later are
    /// left out, so a replay sees the labels its evaluation saw.
    pub async fn labels_known_at(
        &self,
        model_id: i64,
        first_offset: i64,
        ids: &[String],
        at_ms: i64,
    ) -> Result<Vec<(i64, LabelValue)>> {
        let any_labels: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM labels WHERE model_id = $1 LIMIT 1")
                .bind(model_id)
                .fetch_optional(&self.pool)
                .await?;
        if ids.is_empty() || any_labels.is_none() {
            return Ok(Vec::new());
        }
        // The ids drive the join, one primary-key probe each: `IN (subquery)` would make
        // SQLite build a temporary index of them first (130 ms for 100k), and a join from
        // the labels side would read every label the model has. The backends unpack a JSON
        // array differently; both texts stay here, with the table's other SQL.
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT j.key AS position, l.value_number, l.value_text \
                 FROM json_each($2) AS j CROSS JOIN labels AS l \
                 WHERE l.model_id = $1 AND l.record_id = j.value AND l.received_at <= $3 \
                 ORDER BY j.key"
            }
            Backend::Postgres => {
                "SELECT e.ord - 1 AS position, l.value_number, l.value_text \
                 FROM json_array_elements_text($2::json) WITH ORDINALITY AS e(value, ord) \
                 JOIN labels AS l ON l.model_id = $1 AND l.record_id = e.value \
                 AND l.received_at <= $3 ORDER BY e.ord"
            }
        };
        let rows = sqlx::query(sql)
            .bind(model_id)
            .bind(serde_json::to_string(ids).expect("strings serialise"))
            .bind(at_ms)
            .fetch_all(&self.pool)
            .await?;
        // Stored ids are unique per model, so each label lands on one offset.
        rows.iter()
            .map(|row| {
                let position: i64 = row.try_get("position")?;
                let number: Option<f64> = row.try_get("value_number")?;
                let text: Option<String> = row.try_get("value_text")?;
                let value = match (number, text) {
                    (Some(n), _) => LabelValue::Number(n),
                    (None, Some(t)) => LabelValue::Text(t),
                    (None, None) => return Err(Error::Corrupt("label without a value".into())),
                };
                Ok((first_offset + position, value))
            })
            .collect()
    }
}

/// Deletes the model's labels of the records `ids`, which are being pruned, in `tx`. Nothing
/// to do (and no list to unpack) for a model without labels.
pub(crate) async fn delete_labels_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    model_id: i64,
    ids: &[String],
) -> Result<()> {
    let any_labels: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM labels WHERE model_id = $1 LIMIT 1")
            .bind(model_id)
            .fetch_optional(&mut **tx)
            .await?;
    if ids.is_empty() || any_labels.is_none() {
        return Ok(());
    }
    let sql = match backend {
        Backend::Sqlite => {
            "DELETE FROM labels WHERE model_id = $1 \
             AND record_id IN (SELECT value FROM json_each($2))"
        }
        Backend::Postgres => {
            "DELETE FROM labels WHERE model_id = $1 \
             AND record_id IN (SELECT json_array_elements_text($2::json))"
        }
    };
    sqlx::query(sql)
        .bind(model_id)
        .bind(serde_json::to_string(ids).expect("strings serialise"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
