//! The `actions` table: what evaluations set in motion (an alert's delivery; a retraining),
//! each recorded in its evaluation's transaction and moved through its states by the daemon
//! (see docs/architecture.md, "Actions").

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::leases::check_fence;
use crate::{Error, Fence, Result, Store, now_ms, parse_json};

/// Where an action is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActionState {
    /// Recorded, not started.
    Pending,
    /// Started; if the daemon stopped meanwhile, it is resumed at the next start.
    Running,
    Succeeded,
    Failed,
}

impl ActionState {
    pub fn name(self) -> &'static str {
        match self {
            ActionState::Pending => "pending",
            ActionState::Running => "running",
            ActionState::Succeeded => "succeeded",
            ActionState::Failed => "failed",
        }
    }

    fn parse(name: &str) -> Result<ActionState> {
        Ok(match name {
            "pending" => ActionState::Pending,
            "running" => ActionState::Running,
            "succeeded" => ActionState::Succeeded,
            "failed" => ActionState::Failed,
            other => return Err(Error::Corrupt(format!("unknown action state `{other}`"))),
        })
    }
}

/// An action an evaluation decides, stored with it.
#[derive(Clone, Debug)]
pub struct NewAction<'a> {
    /// What to do: `alert`, `retrain`, … (the daemon knows how to run each kind).
    pub kind: &'a str,
    /// Told apart from the evaluation's other actions of the same kind (an alert's cause);
    /// empty when there is one of its kind.
    pub detail: &'a str,
    /// What running it needs, as JSON.
    pub input: serde_json::Value,
}

#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Action {
    pub id: i64,
    pub monitor_id: i64,
    pub evaluation_id: Option<i64>,
    pub kind: String,
    /// Derived from the decision (see [`action_key`]): unique, so never recorded twice.
    pub key: String,
    pub state: ActionState,
    pub input: serde_json::Value,
    /// What happened: a delivery report, an error.
    pub outcome: String,
    pub attempts: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The key of the action of `kind` (and `detail`) that the window starting at `window_start`
/// decided. Windows of a monitor never start twice at the same offset, so two decisions never
/// share a key.
pub fn action_key(monitor_id: i64, window_start: i64, kind: &str, detail: &str) -> String {
    let mut key = format!("monitor/{monitor_id}/window/{window_start}/{kind}");
    if !detail.is_empty() {
        key.push('/');
        key.push_str(detail);
    }
    key
}

const ACTION_COLUMNS: &str = "id, monitor_id, evaluation_id, kind, key, state, input, outcome, \
                              attempts, created_at, updated_at";

impl Store {
    /// Actions not finished (pending, or running when the daemon stopped), oldest first.
    pub async fn unfinished_actions(&self) -> Result<Vec<Action>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE state IN ('pending', 'running') \
             ORDER BY id"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(action).collect()
    }

    /// Records an action a person asked for (a promotion by hand, say), pending, under `key`;
    /// a key recorded before is a [`Conflict`](Error::Conflict).
    pub async fn insert_action(
        &self,
        monitor_id: i64,
        kind: &str,
        key: &str,
        input: &serde_json::Value,
    ) -> Result<Action> {
        let _turn = self.write_turn().await;
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO actions (monitor_id, evaluation_id, kind, key, state, input, \
             created_at, updated_at) VALUES ($1, NULL, $2, $3, 'pending', $4, $5, $5) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(monitor_id)
        .bind(kind)
        .bind(key)
        .bind(input.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(Error::Conflict(format!("an action `{key}` exists already")));
        }
        let sql = format!("SELECT {ACTION_COLUMNS} FROM actions WHERE key = $1");
        let row = sqlx::query(&sql).bind(key).fetch_one(&self.pool).await?;
        action(&row)
    }

    /// The pending actions an evaluation decided, in the order they were recorded.
    pub async fn pending_actions_of(&self, evaluation_id: i64) -> Result<Vec<Action>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE evaluation_id = $1 AND state = 'pending' \
             ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(evaluation_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(action).collect()
    }

    /// Marks an action running and counts the attempt, if it is pending or `resume` is set and
    /// it was left running; false when another run has it or it finished. This is what keeps
    /// an action from starting twice.
    pub async fn start_action(&self, id: i64, resume: bool) -> Result<bool> {
        self.start_action_fenced(id, resume, None).await
    }

    /// [`Store::start_action`], by the holder of a lease: with a `fence`, the action is not
    /// started and the answer is [`Error::LeaseLost`] unless the fence's holder still holds
    /// its lease at its epoch (see `leases.rs`). Without one, the same as `start_action`.
    pub async fn start_action_fenced(
        &self,
        id: i64,
        resume: bool,
        fence: Option<&Fence>,
    ) -> Result<bool> {
        const START: &str = "UPDATE actions SET state = 'running', attempts = attempts + 1, \
                             updated_at = $1 \
                             WHERE id = $2 AND (state = 'pending' OR ($3 = 1 AND state = 'running'))";
        let start = sqlx::query(START)
            .bind(now_ms())
            .bind(id)
            .bind(i64::from(resume));
        let started = match fence {
            None => {
                let _turn = self.write_turn().await;
                start.execute(&self.pool).await?.rows_affected()
            }
            Some(fence) => {
                let mut tx = self.begin().await?;
                check_fence(&mut tx, self.backend(), fence).await?;
                let started = start.execute(&mut **tx).await?.rows_affected();
                tx.commit().await?;
                started
            }
        };
        Ok(started == 1)
    }

    /// Records how a running action ended.
    pub async fn finish_action(&self, id: i64, succeeded: bool, outcome: &str) -> Result<()> {
        let state = if succeeded {
            ActionState::Succeeded
        } else {
            ActionState::Failed
        };
        let _turn = self.write_turn().await;
        sqlx::query(
            "UPDATE actions SET state = $1, outcome = $2, updated_at = $3 \
             WHERE id = $4 AND state = 'running'",
        )
        .bind(state.name())
        .bind(outcome)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When the monitor's last action of `kind` succeeded (Unix ms): what policies see as
    /// the last retraining, say.
    pub async fn last_success(&self, monitor_id: i64, kind: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MAX(updated_at) FROM actions \
             WHERE monitor_id = $1 AND kind = $2 AND state = 'succeeded'",
        )
        .bind(monitor_id)
        .bind(kind)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Actions newest first, of one monitor or of all.
    pub async fn actions(
        &self,
        monitor_id: Option<i64>,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Action>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE ($1 < 0 OR monitor_id = $1) AND id < $2 \
             ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(monitor_id.unwrap_or(-1))
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(action).collect()
    }
}

fn action(row: &AnyRow) -> Result<Action> {
    Ok(Action {
        id: row.try_get("id")?,
        monitor_id: row.try_get("monitor_id")?,
        evaluation_id: row.try_get("evaluation_id")?,
        kind: row.try_get("kind")?,
        key: row.try_get("key")?,
        state: ActionState::parse(&row.try_get::<String, _>("state")?)?,
        input: parse_json(&row.try_get::<String, _>("input")?)?,
        outcome: row.try_get("outcome")?,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
