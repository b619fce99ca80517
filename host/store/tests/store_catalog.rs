//! What the API configures: tokens, plugins, models with their versions, and monitors, on SQLite
//! and on Postgres, a test on each (the harness is in `common/mod.rs`).

mod common;

use common::*;
use vigil_store::{Error, NewMonitor, NewPlugin, NewVersion, PluginInsert};

/// A version registered by hand, with only metadata.
fn by_hand(version: &str, metadata: serde_json::Value) -> NewVersion {
    NewVersion {
        version: version.into(),
        metadata,
        ..NewVersion::default()
    }
}

// ---- tokens -----------------------------------------------------------------------------------

on_both_backends!(tokens_insert_get_revoke);
async fn tokens_insert_get_revoke(ctx: Ctx) {
    let s = &ctx.store;
    let secret = [0u8, 1, 2, 0xfe, 0xff, 0x80, 0x00];
    s.insert_token("tok1", "ci", "admin", &secret)
        .await
        .unwrap();
    s.insert_token("tok2", "viewer", "read", &[7u8; 32])
        .await
        .unwrap();
    // Ids are unique.
    assert!(s.insert_token("tok1", "again", "read", &[1]).await.is_err());

    let token = s.token("tok1").await.unwrap().expect("stored");
    assert_eq!(token.id, "tok1");
    assert_eq!(token.name, "ci");
    assert_eq!(token.role, "admin");
    assert_eq!(token.secret_sha256, secret);
    assert!(token.created_at > 0);
    assert_eq!(token.revoked_at, None);
    assert!(s.token("nope").await.unwrap().is_none());

    assert!(s.revoke_token("tok1").await.unwrap());
    assert!(s.token("tok1").await.unwrap().unwrap().revoked_at.is_some());
    // Revoking twice, or an unknown token, changes nothing.
    assert!(!s.revoke_token("tok1").await.unwrap());
    assert!(!s.revoke_token("nope").await.unwrap());
    assert_eq!(s.token("tok2").await.unwrap().unwrap().revoked_at, None);
}

// ---- plugins ----------------------------------------------------------------------------------

on_both_backends!(plugins_store_once_and_refuse_other_bytes);
async fn plugins_store_once_and_refuse_other_bytes(ctx: Ctx) {
    let s = &ctx.store;
    // Bytes that are not text, and large enough to cross any small-value path.
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let created = s
        .insert_plugin(&plugin("psi", "1.0.0", &bytes, "aaa"))
        .await;
    let PluginInsert::Created(meta) = created.unwrap() else {
        panic!("first insert is Created")
    };
    assert_eq!(
        (meta.name.as_str(), meta.version.as_str()),
        ("psi", "1.0.0")
    );
    assert_eq!(meta.kind, "detector");
    assert_eq!(meta.sha256, "aaa");
    assert_eq!(meta.size, bytes.len() as i64);
    assert_eq!(meta.info["params"][1], 2);
    assert_eq!(meta.uploaded_by, "alice");

    let again = s
        .insert_plugin(&plugin("psi", "1.0.0", &bytes, "aaa"))
        .await;
    match again.unwrap() {
        PluginInsert::AlreadyStored(meta) => assert_eq!(meta.sha256, "aaa"),
        PluginInsert::Created(_) => panic!("same bytes again must be AlreadyStored"),
    }
    let other = s
        .insert_plugin(&plugin("psi", "1.0.0", b"other", "bbb"))
        .await;
    match other {
        Err(Error::Conflict(message)) => assert!(message.contains("psi@1.0.0")),
        other => panic!("different bytes must conflict, got {other:?}"),
    }
    // The stored plugin is untouched by the refused one.
    assert_eq!(
        s.plugin_bytes("psi", "1.0.0").await.unwrap().unwrap(),
        bytes
    );

    let PluginInsert::Created(_) = s
        .insert_plugin(&plugin("psi", "1.1.0", b"\x00asm", "ccc"))
        .await
        .unwrap()
    else {
        panic!("a new version is Created")
    };
    let PluginInsert::Created(_) = s
        .insert_plugin(&plugin("ks", "0.1.0", b"ks", "ddd"))
        .await
        .unwrap()
    else {
        panic!("a new plugin is Created")
    };
    let listed: Vec<(String, String)> = s
        .plugins()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.name, p.version))
        .collect();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0], ("ks".to_string(), "0.1.0".to_string()));
    assert!(listed.contains(&("psi".to_string(), "1.1.0".to_string())));

    let got = s.plugin("psi", "1.1.0").await.unwrap().unwrap();
    assert_eq!((got.sha256.as_str(), got.size), ("ccc", 4));
    assert_eq!(
        s.plugin_bytes("psi", "1.1.0").await.unwrap().unwrap(),
        b"\x00asm"
    );
    assert!(s.plugin("psi", "9.9.9").await.unwrap().is_none());
    assert!(s.plugin_bytes("psi", "9.9.9").await.unwrap().is_none());

    // A signature is stored with the bytes; the same bytes signed again replace it, and the
    // same bytes without one leave it.
    let unsigned = s.plugin_component("psi", "1.1.0").await.unwrap().unwrap();
    assert_eq!(
        (unsigned.bytes.as_slice(), unsigned.signature),
        (&b"\x00asm"[..], None)
    );
    assert_eq!(got.signed_by, None);
    let signed = |signature, key| NewPlugin {
        signature: Some(signature),
        signed_by: Some(key),
        ..plugin("psi", "1.1.0", b"\x00asm", "ccc")
    };
    let PluginInsert::AlreadyStored(meta) =
        s.insert_plugin(&signed("sig A", "KEY-A")).await.unwrap()
    else {
        panic!("the same bytes are AlreadyStored")
    };
    assert_eq!(meta.signed_by.as_deref(), Some("KEY-A"));
    s.insert_plugin(&plugin("psi", "1.1.0", b"\x00asm", "ccc"))
        .await
        .unwrap();
    let component = s.plugin_component("psi", "1.1.0").await.unwrap().unwrap();
    assert_eq!(component.signature.as_deref(), Some("sig A"));
    s.insert_plugin(&signed("sig B", "KEY-B")).await.unwrap();
    let component = s.plugin_component("psi", "1.1.0").await.unwrap().unwrap();
    assert_eq!(component.signature.as_deref(), Some("sig B"));
    let meta = s.plugin("psi", "1.1.0").await.unwrap().unwrap();
    assert_eq!(meta.signed_by.as_deref(), Some("KEY-B"));
    assert!(s.plugin_component("psi", "9.9.9").await.unwrap().is_none());

    assert!(s.delete_plugin("ks", "0.1.0").await.unwrap());
    assert!(!s.delete_plugin("ks", "0.1.0").await.unwrap());
    assert!(s.plugin("ks", "0.1.0").await.unwrap().is_none());
    assert_eq!(s.plugins().await.unwrap().len(), 2);
}

on_both_backends!(plugins_in_use_cannot_be_deleted);
async fn plugins_in_use_cannot_be_deleted(ctx: Ctx) {
    let s = &ctx.store;
    s.insert_plugin(&plugin("psi", "1.0.0", b"wasm", "aaa"))
        .await
        .unwrap();
    let model = s.create_model("m", "t", "d").await.unwrap();
    let uses = vec![("psi".to_string(), "1.0.0".to_string())];
    let b = s
        .create_monitor(&new_monitor("b-monitor", model.id, None, &uses))
        .await
        .unwrap();
    let a = s
        .create_monitor(&new_monitor("a-monitor", model.id, None, &uses))
        .await
        .unwrap();

    match s.delete_plugin("psi", "1.0.0").await {
        Err(Error::Conflict(message)) => {
            assert!(message.contains("a-monitor, b-monitor"), "{message}")
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert!(s.plugin("psi", "1.0.0").await.unwrap().is_some());

    // Once no monitor uses it (one updated to other plugins, one deleted), it can go.
    s.update_monitor(a.id, r#"{"window":5}"#, None, &[])
        .await
        .unwrap()
        .unwrap();
    match s.delete_plugin("psi", "1.0.0").await {
        Err(Error::Conflict(message)) => {
            assert!(message.contains("b-monitor") && !message.contains("a-monitor"))
        }
        other => panic!("expected Conflict naming b-monitor only, got {other:?}"),
    }
    assert!(s.delete_monitor(b.id).await.unwrap());
    assert!(s.delete_plugin("psi", "1.0.0").await.unwrap());
}

// ---- models -----------------------------------------------------------------------------------

on_both_backends!(models_and_versions);
async fn models_and_versions(ctx: Ctx) {
    let s = &ctx.store;
    let fraud = s
        .create_model("fraud", "classification", "card fraud")
        .await
        .unwrap();
    assert_eq!(fraud.name, "fraud");
    assert_eq!(fraud.task, "classification");
    assert_eq!(fraud.description, "card fraud");
    assert_eq!(fraud.serving_version, None);
    assert_eq!(fraud.record_count, 0);
    assert!(fraud.created_at > 0);
    assert!(is_conflict(
        &s.create_model("fraud", "regression", "x").await
    ));
    let price = s.create_model("price", "regression", "").await.unwrap();
    assert_ne!(price.id, fraud.id);

    let listed: Vec<String> = s
        .models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(listed, ["fraud", "price"]);
    assert_eq!(s.model("price").await.unwrap().unwrap().id, price.id);
    assert_eq!(
        s.model_by_id(fraud.id).await.unwrap().unwrap().name,
        "fraud"
    );
    assert!(s.model("nope").await.unwrap().is_none());
    assert!(
        s.model_by_id(fraud.id + price.id + 100)
            .await
            .unwrap()
            .is_none()
    );

    let v1 = s
        .register_version(fraud.id, &by_hand("v1", serde_json::json!({"git": "abc"})))
        .await
        .unwrap();
    assert_eq!(v1.version().version, "v1");
    assert_eq!(v1.version().metadata["git"], "abc");
    s.register_version(fraud.id, &by_hand("v2", serde_json::json!({})))
        .await
        .unwrap();
    assert!(is_conflict(
        &s.register_version(fraud.id, &by_hand("v1", serde_json::json!({})))
            .await
    ));
    // Versions belong to one model: the same name on another model is fine.
    s.register_version(price.id, &by_hand("v1", serde_json::json!({})))
        .await
        .unwrap();

    let versions: Vec<String> = s
        .model_versions(fraud.id)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, ["v1", "v2"]);
    let stored = &s.model_versions(fraud.id).await.unwrap()[0];
    assert_eq!(stored.metadata["git"], "abc");
    assert_eq!(s.model_versions(price.id).await.unwrap().len(), 1);

    assert!(s.set_serving_version(fraud.id, "v2").await.unwrap());
    assert_eq!(
        s.model("fraud")
            .await
            .unwrap()
            .unwrap()
            .serving_version
            .as_deref(),
        Some("v2")
    );
    // An unknown version is refused and leaves the serving version as it was.
    assert!(!s.set_serving_version(fraud.id, "v3").await.unwrap());
    assert!(!s.set_serving_version(price.id, "v2").await.unwrap());
    assert_eq!(
        s.model("fraud")
            .await
            .unwrap()
            .unwrap()
            .serving_version
            .as_deref(),
        Some("v2")
    );
    assert_eq!(
        s.model("price").await.unwrap().unwrap().serving_version,
        None
    );
}

// ---- monitors ---------------------------------------------------------------------------------

on_both_backends!(monitors_create_update_delete);
async fn monitors_create_update_delete(ctx: Ctx) {
    let s = &ctx.store;
    let model = s.create_model("m", "t", "d").await.unwrap();
    let reference = batch(&[row("ref0", 1.0, Some("a")), row("ref1", 2.0, None)]);
    let encoded = reference.encode();
    let created = s
        .create_monitor(&NewMonitor {
            start_offset: 42,
            ..new_monitor("drift", model.id, Some(&encoded), &[])
        })
        .await
        .unwrap();
    assert_eq!(created.name, "drift");
    assert_eq!(created.model_id, model.id);
    assert_eq!(created.revision, 1);
    assert_eq!(created.spec, r#"{"window":100}"#);
    assert!(is_conflict(
        &s.create_monitor(&new_monitor("drift", model.id, None, &[]))
            .await
    ));
    let other = s
        .create_monitor(&new_monitor("other", model.id, None, &[]))
        .await
        .unwrap();

    let got = s.monitor("drift").await.unwrap().unwrap();
    assert_eq!((got.id, got.revision), (created.id, 1));
    assert_eq!(
        s.monitor_by_id(other.id).await.unwrap().unwrap().name,
        "other"
    );
    assert!(s.monitor("nope").await.unwrap().is_none());
    let names: Vec<String> = s
        .monitors()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["drift", "other"]);

    // The window starts where asked; the reference round-trips byte for byte.
    let st = s.monitor_state(created.id).await.unwrap().unwrap();
    assert_eq!(st.next_offset, 42);
    assert_eq!(st.state, "{}");
    let back = s.monitor_reference(created.id).await.unwrap().unwrap();
    assert_eq!(back, reference);
    assert_eq!(rows_of(&back)[1], row("ref1", 2.0, None));
    assert!(s.monitor_reference(other.id).await.unwrap().is_none());
    assert!(
        s.monitor_reference(other.id + 1000)
            .await
            .unwrap()
            .is_none()
    );

    // Updating without a reference keeps the stored one; the revision moves on.
    let updated = s
        .update_monitor(created.id, r#"{"window":7}"#, None, &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.revision, 2);
    assert_eq!(updated.spec, r#"{"window":7}"#);
    assert!(updated.updated_at >= created.updated_at);
    assert_eq!(
        s.monitor_reference(created.id).await.unwrap().unwrap(),
        reference
    );
    let replacement = batch(&[row("new", 9.0, Some("z"))]);
    let replacement_bytes = replacement.encode();
    let updated = s
        .update_monitor(created.id, "{}", Some(&replacement_bytes), &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.revision, 3);
    assert_eq!(
        s.monitor_reference(created.id).await.unwrap().unwrap(),
        replacement
    );
    // The window position survives updates.
    assert_eq!(
        s.monitor_state(created.id)
            .await
            .unwrap()
            .unwrap()
            .next_offset,
        42
    );
    assert!(
        s.update_monitor(other.id + 1000, "{}", None, &[])
            .await
            .unwrap()
            .is_none()
    );

    // Deleting takes the monitor's evaluations, alerts and state with it.
    let eval = s
        .record_evaluation(&evaluation(created.id, 42, 52, 1000), &state(52, 1000), &[])
        .await
        .unwrap()
        .0;
    s.insert_alert(created.id, Some(eval), "drift", "x drifted", "pending")
        .await
        .unwrap();
    assert!(s.delete_monitor(created.id).await.unwrap());
    assert!(!s.delete_monitor(created.id).await.unwrap());
    assert!(s.monitor("drift").await.unwrap().is_none());
    assert!(s.monitor_state(created.id).await.unwrap().is_none());
    assert!(s.evaluation(eval).await.unwrap().is_none());
    assert!(
        s.alerts(Some(created.id), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The name is free again.
    s.create_monitor(&new_monitor("drift", model.id, None, &[]))
        .await
        .unwrap();
}
