//! Monitoring state, evaluations and alerts, on SQLite and on Postgres, a test on each (the
//! harness is in `common/mod.rs`).

mod common;

use std::collections::BTreeSet;

use common::*;
use vigil_store::{EvaluationQuery, NewAlert, PENDING_DELIVERY};

// ---- monitoring state and evaluations ---------------------------------------------------------

on_both_backends!(record_evaluation_moves_the_window_once);
async fn record_evaluation_moves_the_window_once(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    let monitor = s
        .create_monitor(&new_monitor("mon", model.id, None, &[]))
        .await
        .unwrap();
    assert_eq!(
        s.monitor_state(monitor.id)
            .await
            .unwrap()
            .unwrap()
            .next_offset,
        0
    );
    assert!(s.monitor_state(monitor.id + 1000).await.unwrap().is_none());

    let next = state(10, 5000);
    let fired = [
        NewAlert {
            cause: "drift",
            message: "3 of 5 columns drifted",
        },
        NewAlert {
            cause: "quarantine:p",
            message: "p failed",
        },
    ];
    let (id, alert_ids) = s
        .record_evaluation(&evaluation(monitor.id, 0, 10, 5000), &next, &fired)
        .await
        .unwrap();
    assert_eq!(s.monitor_state(monitor.id).await.unwrap().unwrap(), next);
    // The alerts are stored with the evaluation, waiting for delivery.
    let pending = s.pending_alerts().await.unwrap();
    assert_eq!(pending.iter().map(|a| a.id).collect::<Vec<_>>(), alert_ids);
    assert!(pending.iter().all(|a| a.evaluation_id == Some(id)
        && a.monitor_id == monitor.id
        && a.delivery == PENDING_DELIVERY));
    assert_eq!(
        (pending[0].cause.as_str(), pending[0].message.as_str()),
        ("drift", "3 of 5 columns drifted")
    );

    // The same window again (another replica got there first) is a conflict, and so is a
    // window that does not start where the monitor stands; neither changes anything, nor
    // stores its alerts.
    for start in [0, 20] {
        let again = s
            .record_evaluation(
                &evaluation(monitor.id, start, start + 10, 6000),
                &state(99, 6000),
                &fired,
            )
            .await;
        assert!(is_conflict(&again), "window at {start}: {again:?}");
    }
    assert_eq!(s.monitor_state(monitor.id).await.unwrap().unwrap(), next);
    assert_eq!(s.pending_alerts().await.unwrap().len(), 2);
    s.set_alert_delivery(alert_ids[0], "logged").await.unwrap();
    let pending = s.pending_alerts().await.unwrap();
    assert_eq!(
        pending.iter().map(|a| a.id).collect::<Vec<_>>(),
        [alert_ids[1]]
    );
    let stored = s
        .evaluations(&EvaluationQuery {
            monitor_id: monitor.id,
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, id);

    // Saving state does not move the window.
    s.save_monitor_state(monitor.id, r#"{"quarantine":true}"#)
        .await
        .unwrap();
    let saved = s.monitor_state(monitor.id).await.unwrap().unwrap();
    assert_eq!(saved.state, r#"{"quarantine":true}"#);
    assert_eq!((saved.next_offset, saved.last_closed_at), (10, 5000));
    s.record_evaluation(&evaluation(monitor.id, 10, 20, 7000), &state(20, 7000), &[])
        .await
        .unwrap();
    assert_eq!(
        s.monitor_state(monitor.id)
            .await
            .unwrap()
            .unwrap()
            .next_offset,
        20
    );
}

on_both_backends!(evaluations_page_and_filter);
async fn evaluations_page_and_filter(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    let one = s
        .create_monitor(&new_monitor("one", model.id, None, &[]))
        .await
        .unwrap();
    let two = s
        .create_monitor(&new_monitor("two", model.id, None, &[]))
        .await
        .unwrap();
    let idle = s
        .create_monitor(&new_monitor("idle", model.id, None, &[]))
        .await
        .unwrap();

    // Five windows of `one` finishing at 1000..=5000, interleaved with two of `two`.
    let mut ids = Vec::new();
    for k in 0..5i64 {
        ids.push(
            s.record_evaluation(
                &evaluation(one.id, k * 10, k * 10 + 10, (k + 1) * 1000),
                &state(k * 10 + 10, (k + 1) * 1000),
                &[],
            )
            .await
            .unwrap()
            .0,
        );
        if k < 2 {
            s.record_evaluation(
                &evaluation(two.id, k * 5, k * 5 + 5, 10_000 + k),
                &state(k * 5 + 5, 10_000 + k),
                &[],
            )
            .await
            .unwrap();
        }
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let page = |since, until, before_id, limit| EvaluationQuery {
        monitor_id: one.id,
        since,
        until,
        before_id,
        limit,
    };
    let ids_of = |query: EvaluationQuery| async move {
        let evals = s.evaluations(&query).await.unwrap();
        assert!(evals.iter().all(|e| e.monitor_id == one.id));
        evals.into_iter().map(|e| e.id).collect::<Vec<i64>>()
    };

    // Newest first, paged by id.
    assert_eq!(ids_of(page(None, None, None, 2)).await, [ids[4], ids[3]]);
    assert_eq!(
        ids_of(page(None, None, Some(ids[3]), 2)).await,
        [ids[2], ids[1]]
    );
    assert_eq!(ids_of(page(None, None, Some(ids[1]), 2)).await, [ids[0]]);
    assert!(ids_of(page(None, None, Some(ids[0]), 2)).await.is_empty());
    // since is inclusive, until exclusive (on finished_at).
    assert_eq!(
        ids_of(page(Some(2000), Some(4000), None, 10)).await,
        [ids[2], ids[1]]
    );
    assert_eq!(ids_of(page(Some(4500), None, None, 10)).await, [ids[4]]);
    assert_eq!(ids_of(page(None, Some(1001), None, 10)).await, [ids[0]]);
    assert_eq!(
        ids_of(page(Some(2000), None, Some(ids[3]), 10)).await,
        [ids[2], ids[1]]
    );
    assert_eq!(ids_of(page(None, None, None, 100)).await.len(), 5);

    let e = s.evaluation(ids[2]).await.unwrap().unwrap();
    assert_eq!(e.monitor_id, one.id);
    assert_eq!((e.window_start, e.window_end), (20, 30));
    assert_eq!((e.started_at, e.finished_at), (2990, 3000));
    assert_eq!((e.status.as_str(), e.action.as_str()), ("ok", "none"));
    assert_eq!(e.reason, "no drift");
    assert_eq!(e.result["psi"], 0.01);
    assert!(s.evaluation(ids[4] + 1000).await.unwrap().is_none());

    // The newest of each monitor that has any, in monitor order.
    let latest = s.latest_evaluations().await.unwrap();
    let summary: Vec<(i64, i64)> = latest
        .iter()
        .map(|e| (e.monitor_id, e.window_start))
        .collect();
    assert_eq!(summary, [(one.id, 40), (two.id, 5)]);
    assert_eq!(latest[0].id, ids[4]);
    assert!(latest.iter().all(|e| e.monitor_id != idle.id));
}

// ---- alerts -----------------------------------------------------------------------------------

on_both_backends!(alerts_list_and_delivery);
async fn alerts_list_and_delivery(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    let one = s
        .create_monitor(&new_monitor("one", model.id, None, &[]))
        .await
        .unwrap();
    let two = s
        .create_monitor(&new_monitor("two", model.id, None, &[]))
        .await
        .unwrap();
    let eval = s
        .record_evaluation(&evaluation(one.id, 0, 10, 1000), &state(10, 1000), &[])
        .await
        .unwrap()
        .0;

    let a1 = s
        .insert_alert(one.id, Some(eval), "drift", "x drifted", "pending")
        .await
        .unwrap();
    let a2 = s
        .insert_alert(two.id, None, "stale", "no data", "pending")
        .await
        .unwrap();
    let a3 = s
        .insert_alert(one.id, None, "error", "plugin failed", "pending")
        .await
        .unwrap();
    assert!(a1 < a2 && a2 < a3);

    let of_one = s.alerts(Some(one.id), None, 10).await.unwrap();
    let listed: Vec<i64> = of_one.iter().map(|a| a.id).collect();
    assert_eq!(listed, [a3, a1]);
    let first = &of_one[1];
    assert_eq!(first.monitor_id, one.id);
    assert_eq!(first.evaluation_id, Some(eval));
    assert_eq!(
        (first.cause.as_str(), first.message.as_str()),
        ("drift", "x drifted")
    );
    assert_eq!(first.delivery, "pending");
    assert!(first.created_at > 0);
    assert_eq!(of_one[0].evaluation_id, None);

    let all: Vec<i64> = s
        .alerts(None, None, 10)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(all, [a3, a2, a1]);
    let paged: Vec<i64> = s
        .alerts(None, Some(a3), 1)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(paged, [a2]);
    let of_two: Vec<i64> = s
        .alerts(Some(two.id), None, 10)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(of_two, [a2]);

    s.set_alert_delivery(a1, "delivered").await.unwrap();
    let deliveries: BTreeSet<(i64, String)> = s
        .alerts(None, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.id, a.delivery))
        .collect();
    assert_eq!(
        deliveries,
        BTreeSet::from([
            (a1, "delivered".to_string()),
            (a2, "pending".to_string()),
            (a3, "pending".to_string())
        ])
    );
}
