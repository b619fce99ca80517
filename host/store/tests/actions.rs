//! Actions (`Store::record_evaluation` with actions, `start_action`, `finish_action`), on
//! SQLite and on Postgres, a test on each (harness in `common/mod.rs`).

mod common;

use common::*;
use serde_json::json;
use vigil_store::{ActionState, NewAction, NewAlert, NewEvaluation, Store, action_key};

async fn monitor(s: &Store) -> i64 {
    let model = s.create_model("m", "t", "d").await.unwrap();
    s.create_monitor(&new_monitor("mon", model.id, None, &[]))
        .await
        .unwrap()
        .id
}

fn retrain() -> NewAction<'static> {
    NewAction {
        kind: "retrain",
        detail: "",
        input: json!({"reason": "x drifted"}),
    }
}

on_both_backends!(an_evaluation_stores_its_actions_pending_under_keys_from_the_decision);
async fn an_evaluation_stores_its_actions_pending_under_keys_from_the_decision(ctx: Ctx) {
    let s = &ctx.store;
    let monitor_id = monitor(s).await;
    let actions = [retrain()];
    let alerts = [
        NewAlert {
            cause: "drift",
            message: "x drifted",
        },
        NewAlert {
            cause: "error",
            message: "a plugin failed",
        },
    ];
    let (evaluation_id, alert_ids) = s
        .record_evaluation(
            &NewEvaluation {
                actions: &actions,
                ..evaluation(monitor_id, 0, 10, 1000)
            },
            &state(10, 1000),
            &alerts,
        )
        .await
        .unwrap();

    let pending = s.pending_actions_of(evaluation_id).await.unwrap();
    let summary: Vec<(&str, &str, ActionState, i64)> = pending
        .iter()
        .map(|a| (a.kind.as_str(), a.key.as_str(), a.state, a.attempts))
        .collect();
    let key = |kind, detail| action_key(monitor_id, 0, kind, detail);
    assert_eq!(
        summary,
        [
            (
                "alert",
                key("alert", "drift").as_str(),
                ActionState::Pending,
                0
            ),
            (
                "alert",
                key("alert", "error").as_str(),
                ActionState::Pending,
                0
            ),
            (
                "retrain",
                key("retrain", "").as_str(),
                ActionState::Pending,
                0
            ),
        ]
    );
    assert_eq!(pending[0].input, json!({"alert_id": alert_ids[0]}));
    assert_eq!(pending[1].input, json!({"alert_id": alert_ids[1]}));
    assert_eq!(pending[2].input, json!({"reason": "x drifted"}));
    assert!(
        pending
            .iter()
            .all(|a| a.evaluation_id == Some(evaluation_id))
    );
    assert_eq!(s.unfinished_actions().await.unwrap().len(), 3);
    assert_eq!(
        s.actions(Some(monitor_id), None, 2).await.unwrap()[0].kind,
        "retrain"
    );
}

on_both_backends!(the_same_decision_can_never_be_recorded_twice);
async fn the_same_decision_can_never_be_recorded_twice(ctx: Ctx) {
    let s = &ctx.store;
    let monitor_id = monitor(s).await;
    let actions = [retrain(), retrain()];
    // Two actions with one key: the whole evaluation is refused, nothing is stored.
    let twice = s
        .record_evaluation(
            &NewEvaluation {
                actions: &actions,
                ..evaluation(monitor_id, 0, 10, 1000)
            },
            &state(10, 1000),
            &[],
        )
        .await;
    assert!(twice.is_err(), "{twice:?}");
    assert!(s.unfinished_actions().await.unwrap().is_empty());
    assert_eq!(
        s.monitor_state(monitor_id)
            .await
            .unwrap()
            .unwrap()
            .next_offset,
        0
    );

    // The window once, then again (another replica, a retry): a conflict, one action.
    let once = [retrain()];
    let first = NewEvaluation {
        actions: &once,
        ..evaluation(monitor_id, 0, 10, 1000)
    };
    s.record_evaluation(&first, &state(10, 1000), &[])
        .await
        .unwrap();
    let again = s.record_evaluation(&first, &state(10, 1000), &[]).await;
    assert!(is_conflict(&again));
    assert_eq!(s.unfinished_actions().await.unwrap().len(), 1);
}

on_both_backends!(an_action_starts_once_and_a_resumed_one_counts_its_attempts);
async fn an_action_starts_once_and_a_resumed_one_counts_its_attempts(ctx: Ctx) {
    let s = &ctx.store;
    let monitor_id = monitor(s).await;
    let once = [retrain()];
    let (evaluation_id, _) = s
        .record_evaluation(
            &NewEvaluation {
                actions: &once,
                ..evaluation(monitor_id, 0, 10, 1000)
            },
            &state(10, 1000),
            &[],
        )
        .await
        .unwrap();
    let id = s.pending_actions_of(evaluation_id).await.unwrap()[0].id;
    assert_eq!(s.last_success(monitor_id, "retrain").await.unwrap(), None);

    assert!(s.start_action(id, false).await.unwrap());
    // Running: a second start does nothing; only a resume after a crash takes it again.
    assert!(!s.start_action(id, false).await.unwrap());
    assert!(
        s.pending_actions_of(evaluation_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.unfinished_actions().await.unwrap()[0].state,
        ActionState::Running
    );
    assert!(s.start_action(id, true).await.unwrap());

    s.finish_action(id, false, "no job").await.unwrap();
    let failed = &s.actions(None, None, 10).await.unwrap()[0];
    assert_eq!(
        (failed.state, failed.attempts, failed.outcome.as_str()),
        (ActionState::Failed, 2, "no job")
    );
    // Finished: neither a start nor a resume takes it again, and a failure is no success.
    assert!(!s.start_action(id, true).await.unwrap());
    assert!(s.unfinished_actions().await.unwrap().is_empty());
    assert_eq!(s.last_success(monitor_id, "retrain").await.unwrap(), None);

    // A retraining that succeeds is what the policy's history sees.
    let (second, _) = s
        .record_evaluation(
            &NewEvaluation {
                actions: &once,
                ..evaluation(monitor_id, 10, 20, 2000)
            },
            &state(20, 2000),
            &[],
        )
        .await
        .unwrap();
    let id = s.pending_actions_of(second).await.unwrap()[0].id;
    let before = vigil_store::now_ms();
    assert!(s.start_action(id, false).await.unwrap());
    s.finish_action(id, true, "job done").await.unwrap();
    let last = s
        .last_success(monitor_id, "retrain")
        .await
        .unwrap()
        .unwrap();
    assert!(last >= before && last <= vigil_store::now_ms());
    assert_eq!(s.last_success(monitor_id, "rollback").await.unwrap(), None);
}
