//! Leases (acquire, renew, release, expiry, the epoch) and writes fenced by them, on SQLite and
//! on Postgres, a test on each (harness in `common/mod.rs`).

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use vigil_store::{Error, Fence, NewAction, NewEvaluation, Store};

/// Polls until the lease `name` is expired (bounded); the database's clock decides.
async fn wait_until_expired(s: &Store, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let leases = s.leases().await.unwrap();
        let lease = leases.iter().find(|l| l.name == name).expect("stored");
        if lease.remaining_ms == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{lease:?} never expired");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn fence(holder: &str, epoch: i64) -> Fence {
    Fence {
        lease: "monitor/1".into(),
        holder: holder.into(),
        epoch,
    }
}

fn is_lease_lost<T: std::fmt::Debug>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::LeaseLost { .. }))
}

const MINUTE: i64 = 60_000;

on_both_backends!(a_lease_is_held_renewed_released_and_taken_over);
async fn a_lease_is_held_renewed_released_and_taken_over(ctx: Ctx) {
    let s = &ctx.store;
    assert!(s.leases().await.unwrap().is_empty());
    assert_eq!(s.acquire_lease("m", "a", MINUTE).await.unwrap(), Some(1));
    // Held: another holder gets nothing, the holder renews it at the same epoch.
    assert_eq!(s.acquire_lease("m", "b", MINUTE).await.unwrap(), None);
    assert_eq!(s.acquire_lease("m", "a", MINUTE).await.unwrap(), Some(1));
    // Leases are by name.
    assert_eq!(s.acquire_lease("n", "b", MINUTE).await.unwrap(), Some(1));
    let leases = s.leases().await.unwrap();
    assert_eq!(leases.len(), 2);
    assert_eq!(
        (
            leases[0].name.as_str(),
            leases[0].holder.as_deref(),
            leases[0].epoch
        ),
        ("m", Some("a"), 1)
    );
    assert!(leases[0].remaining_ms > 50_000 && leases[0].remaining_ms <= MINUTE);

    // Only the holder releases; then anyone takes it, at the next epoch.
    assert!(!s.release_lease("m", "b").await.unwrap());
    assert!(s.release_lease("m", "a").await.unwrap());
    assert!(!s.release_lease("m", "a").await.unwrap());
    let released = &s.leases().await.unwrap()[0];
    assert_eq!(
        (released.holder.as_deref(), released.remaining_ms),
        (None, 0)
    );
    assert_eq!(s.acquire_lease("m", "b", MINUTE).await.unwrap(), Some(2));
    assert_eq!(s.acquire_lease("m", "a", MINUTE).await.unwrap(), None);
    // Released and taken again by the same holder: still a change of hands.
    assert!(s.release_lease("m", "b").await.unwrap());
    assert_eq!(s.acquire_lease("m", "b", MINUTE).await.unwrap(), Some(3));

    // Expired: taken by another at the next epoch. A short lease, renewed, stays held.
    assert_eq!(s.acquire_lease("m", "b", 1).await.unwrap(), Some(3));
    wait_until_expired(s, "m").await;
    assert_eq!(s.acquire_lease("m", "a", 1).await.unwrap(), Some(4));
    wait_until_expired(s, "m").await;
    // The holder of an expired lease nobody took keeps its epoch: nobody acted meanwhile.
    assert_eq!(s.acquire_lease("m", "a", MINUTE).await.unwrap(), Some(4));
    assert_eq!(s.acquire_lease("m", "b", MINUTE).await.unwrap(), None);

    for (holder, ttl) in [("", MINUTE), ("a", 0), ("a", -5)] {
        assert!(matches!(
            s.acquire_lease("m", holder, ttl).await,
            Err(Error::Invalid(_))
        ));
    }
}

on_both_backends!(
    of_many_concurrent_acquirers_exactly_one_wins,
    worker_threads = 4
);
async fn of_many_concurrent_acquirers_exactly_one_wins(ctx: Ctx) {
    // Two stores on the database: two replicas, each with its own pool.
    let replicas = [ctx.store.clone(), Store::open(&ctx.url).await.unwrap()];
    let race = |round: usize| {
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let store = replicas[i % 2].clone();
                tokio::spawn(async move {
                    // New holders each round: a change of hands, whoever wins.
                    let holder = format!("round-{round}-holder-{i}");
                    let epoch = store.acquire_lease("monitor/1", &holder, MINUTE).await;
                    (holder, epoch.unwrap())
                })
            })
            .collect();
        async move {
            let mut winners = Vec::new();
            for task in tasks {
                let (holder, epoch) = task.await.unwrap();
                if let Some(epoch) = epoch {
                    winners.push((holder, epoch));
                }
            }
            assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
            winners.remove(0)
        }
    };
    let (first, epoch) = race(1).await;
    assert_eq!(epoch, 1);
    let stored = &replicas[1].leases().await.unwrap()[0];
    assert_eq!(stored.holder.as_deref(), Some(first.as_str()));

    // Released: again one of them, at the next epoch.
    assert!(
        replicas[0]
            .release_lease("monitor/1", &first)
            .await
            .unwrap()
    );
    let (_, epoch) = race(2).await;
    assert_eq!(epoch, 2);

    // Expired: the same.
    let (holder, _) = {
        let stored = &replicas[0].leases().await.unwrap()[0];
        (stored.holder.clone().unwrap(), stored.epoch)
    };
    assert_eq!(
        replicas[0]
            .acquire_lease("monitor/1", &holder, 1)
            .await
            .unwrap(),
        Some(2)
    );
    wait_until_expired(&replicas[0], "monitor/1").await;
    let (_, epoch) = race(3).await;
    assert_eq!(epoch, 3);
    replicas[1].close().await;
}

on_both_backends!(a_fenced_write_is_refused_once_its_lease_is_lost);
async fn a_fenced_write_is_refused_once_its_lease_is_lost(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    let monitor_id = s
        .create_monitor(&new_monitor("mon", model.id, None, &[]))
        .await
        .unwrap()
        .id;
    let retrain = [NewAction {
        kind: "retrain",
        detail: "",
        input: json!({}),
    }];
    let a = s
        .acquire_lease("monitor/1", "a", MINUTE)
        .await
        .unwrap()
        .unwrap();

    // Held: the fenced write goes through, as without a fence.
    let (first, _) = s
        .record_evaluation_fenced(
            &NewEvaluation {
                actions: &retrain,
                ..evaluation(monitor_id, 0, 10, 1000)
            },
            &state(10, 1000),
            &[],
            Some(&fence("a", a)),
        )
        .await
        .unwrap();
    let action = s.pending_actions_of(first).await.unwrap()[0].id;

    // Another holder, or the right holder at another epoch, is refused.
    for wrong in [fence("b", a), fence("a", a + 1)] {
        let refused = s.start_action_fenced(action, false, Some(&wrong)).await;
        assert!(is_lease_lost(&refused), "{refused:?}");
    }
    // b takes over once a's lease expires; a's writes are refused and store nothing.
    assert_eq!(s.acquire_lease("monitor/1", "a", 1).await.unwrap(), Some(a));
    wait_until_expired(s, "monitor/1").await;
    let expired = s
        .record_evaluation_fenced(
            &evaluation(monitor_id, 10, 20, 2000),
            &state(20, 2000),
            &[],
            Some(&fence("a", a)),
        )
        .await;
    assert!(is_lease_lost(&expired), "{expired:?}");
    let b = s
        .acquire_lease("monitor/1", "b", MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b, a + 1);
    let lost = s
        .record_evaluation_fenced(
            &evaluation(monitor_id, 10, 20, 2000),
            &state(20, 2000),
            &[],
            Some(&fence("a", a)),
        )
        .await;
    match &lost {
        Err(error @ Error::LeaseLost { .. }) => {
            assert!(error.to_string().contains("monitor/1"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    let stored = s.monitor_state(monitor_id).await.unwrap().unwrap();
    assert_eq!(stored.next_offset, 10);
    assert_eq!(
        s.evaluations(&vigil_store::EvaluationQuery {
            monitor_id,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .len(),
        1
    );
    let refused = s
        .start_action_fenced(action, false, Some(&fence("a", a)))
        .await;
    assert!(is_lease_lost(&refused), "{refused:?}");
    assert_eq!(s.pending_actions_of(first).await.unwrap().len(), 1);

    // The new holder's writes go through.
    assert!(
        s.start_action_fenced(action, false, Some(&fence("b", b)))
            .await
            .unwrap()
    );
    s.record_evaluation_fenced(
        &evaluation(monitor_id, 10, 20, 2000),
        &state(20, 2000),
        &[],
        Some(&fence("b", b)),
    )
    .await
    .unwrap();
    assert_eq!(
        s.monitor_state(monitor_id)
            .await
            .unwrap()
            .unwrap()
            .next_offset,
        20
    );
    // A released lease fences nothing.
    assert!(s.release_lease("monitor/1", "b").await.unwrap());
    let released = s
        .record_evaluation_fenced(
            &evaluation(monitor_id, 20, 30, 3000),
            &state(30, 3000),
            &[],
            Some(&fence("b", b)),
        )
        .await;
    assert!(is_lease_lost(&released), "{released:?}");
}
