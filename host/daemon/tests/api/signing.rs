//! Signed plugins (docs/security.md, "Signed plugins"): a daemon that requires signatures stores
//! only components signed by a key it trusts, refuses the rest with 422 and stores nothing;
//! it checks the signature again each time it loads a plugin; and the CLI's keys and
//! signatures are minisign's, which Debian's `minisign` verifies and makes.

use std::path::Path;
use std::process::Command;

use reqwest::{Method, StatusCode};
use vigil::monitor::stored_plugins::StoredPlugins;
use vigil::plugins::STANDARD_PLUGINS;
use vigil::signing::{self, SIGNATURE_HEADER, Trust};
use vigil_store::NewPlugin;

use crate::common::{sqlite_database, start_with};

const MINISIGN_VAR: &str = "VIGIL_TEST_MINISIGN";

fn keys(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let public = signing::generate_keys(&dir.join(name), None).unwrap();
    (dir.join(format!("{name}.key")), public)
}

fn vigil(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command
        .args(args)
        .env_remove("VIGIL_TOKEN")
        .env_remove("VIGIL_URL");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("vigil runs")
}

/// [`vigil`] off the async threads, so the daemon this test runs keeps serving it.
async fn vigil_beside(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        vigil(&args, &env)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_daemon_that_requires_signatures_stores_only_what_a_trusted_key_signed() {
    let dir = tempfile::tempdir().unwrap();
    let (alice_key, alice) = keys(dir.path(), "alice");
    let (mallory_key, _) = keys(dir.path(), "mallory");
    let db = sqlite_database(&dir);
    let daemon = start_with(&db, |c| {
        c.plugin_trusted_keys = vec![alice.clone()];
        c.plugin_require_signed = true;
    })
    .await;
    let (_, ks) = STANDARD_PLUGINS
        .iter()
        .find(|(name, _)| *name == "drift-ks")
        .unwrap();
    let upload = |bytes: Vec<u8>, signature: Option<String>| {
        let header = signature.map(|s| signing::header_value(&s));
        let daemon = &daemon;
        async move {
            let headers: Vec<(&str, &str)> = header
                .as_deref()
                .map(|value| (SIGNATURE_HEADER, value))
                .into_iter()
                .collect();
            daemon
                .call(
                    Method::POST,
                    "/v1/plugins",
                    Some(&daemon.admin),
                    Some(("application/wasm", bytes)),
                    &headers,
                )
                .await
        }
    };
    let message = |body: &serde_json::Value| body["error"]["message"].as_str().unwrap().to_string();
    let stored = || async {
        let (_, list) = daemon.admin(Method::GET, "/v1/plugins", None).await;
        list["plugins"].as_array().unwrap().len()
    };
    let before = stored().await;
    assert_eq!(
        before,
        STANDARD_PLUGINS.len(),
        "the standard plugins need no signature"
    );

    // Unsigned: refused before it is even read as a component.
    let (status, body) = upload(b"\0asm\x0d\0\x01\0 a plugin".to_vec(), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(message(&body).contains("not signed"), "{body}");

    // Signed by a key the daemon does not trust.
    let by_mallory = signing::sign(&mallory_key, None, ks, "drift-ks.wasm").unwrap();
    let (status, body) = upload(ks.to_vec(), Some(by_mallory)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(message(&body).contains("does not trust"), "{body}");

    // A tampered byte.
    let by_alice = signing::sign(&alice_key, None, ks, "drift-ks.wasm").unwrap();
    let mut tampered = ks.to_vec();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x20;
    let (status, body) = upload(tampered, Some(by_alice.clone())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(message(&body).contains("does not match"), "{body}");

    // A header that is not a signature.
    let (status, body) = daemon
        .call(
            Method::POST,
            "/v1/plugins",
            Some(&daemon.admin),
            Some(("application/wasm", ks.to_vec())),
            &[(SIGNATURE_HEADER, "not base64!")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(stored().await, before, "nothing was stored");

    // Signed by alice: stored, with the key that signed it.
    let (status, meta) = upload(ks.to_vec(), Some(by_alice)).await;
    assert!(status.is_success(), "{status} {meta}");
    let alice_id = Trust::new(std::slice::from_ref(&alice), true)
        .unwrap()
        .check(ks, Some(&signing::sign(&alice_key, None, ks, "x").unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(meta["signed_by"], alice_id.as_str());

    // The CLI: keys, a signature beside the file, and a push that sends it.
    let env = [
        ("VIGIL_URL", daemon.url.as_str()),
        ("VIGIL_TOKEN", daemon.admin.as_str()),
    ];
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x0d\0\x01\0 a plugin").unwrap();
    let unsigned = vigil_beside(&["plugin", "push", junk.to_str().unwrap()], &env).await;
    assert!(!unsigned.status.success());
    let stderr = String::from_utf8_lossy(&unsigned.stderr);
    assert!(stderr.contains("not signed"), "{stderr}");
    let file = dir.path().join("drift-ks.wasm");
    std::fs::write(&file, ks).unwrap();
    let file_arg = file.to_str().unwrap();
    let sign = vigil(
        &[
            "plugin",
            "sign",
            "--key",
            alice_key.to_str().unwrap(),
            file_arg,
        ],
        &[],
    );
    assert!(sign.status.success(), "{sign:?}");
    assert!(dir.path().join("drift-ks.wasm.minisig").exists());
    let pushed = vigil_beside(&["plugin", "push", file_arg], &env).await;
    let stdout = String::from_utf8_lossy(&pushed.stdout);
    assert!(pushed.status.success(), "{pushed:?}");
    assert!(
        stdout.contains(&format!("signed by {alice_id}")),
        "{stdout}"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_plugin_is_checked_again_each_time_it_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keys(dir.path(), "k");
    let store = vigil_store::Store::open(&sqlite_database(&dir))
        .await
        .unwrap();
    let bytes = b"component bytes".to_vec();
    let signature = signing::sign(&key, None, &bytes, "p.wasm").unwrap();
    let mut other = bytes.clone();
    other.push(b'!');
    for (version, bytes, signature) in [
        ("1.0.0", &bytes, None),
        ("2.0.0", &bytes, Some(signature.as_str())),
        // A row whose bytes were changed in the database after the signature was checked.
        ("3.0.0", &other, Some(signature.as_str())),
    ] {
        store
            .insert_plugin(&NewPlugin {
                name: "p",
                version,
                kind: "policy",
                sha256: "-",
                info: "{}",
                bytes,
                uploaded_by: "test",
                signature,
                signed_by: None,
            })
            .await
            .unwrap();
    }
    let runtime = vigil_runtime::Runtime::new(Default::default()).unwrap();
    let load = |require_signed: bool, keys: Vec<String>| {
        let plugins = StoredPlugins::new(
            store.clone(),
            runtime.clone(),
            Trust::new(&keys, require_signed).unwrap(),
            vigil::config::Config::default().plugin_limits(),
        );
        async move {
            let mut outcomes = Vec::new();
            for version in ["1.0.0", "2.0.0", "3.0.0"] {
                let outcome = match plugins.get(&format!("p@{version}")).await {
                    Ok(_) => "loaded".to_string(),
                    Err(error) => format!("{error:#}"),
                };
                outcomes.push(outcome);
            }
            outcomes
        }
    };
    // Past the signature check, these bytes fail as a component: that is how the test tells
    // a plugin let through from one stopped.
    let let_through = |outcome: &String| outcome.contains("component") && !outcome.contains("sign");
    let trusted = load(true, vec![public.clone()]).await;
    assert!(trusted[0].contains("not signed"), "{}", trusted[0]);
    assert!(let_through(&trusted[1]), "{}", trusted[1]);
    assert!(trusted[2].contains("does not match"), "{}", trusted[2]);
    // The key taken off the list: its plugins stop.
    let (_, stranger) = keys(dir.path(), "stranger");
    let untrusted = load(false, vec![stranger]).await;
    assert!(let_through(&untrusted[0]), "{}", untrusted[0]);
    assert!(untrusted[1].contains("does not trust"), "{}", untrusted[1]);
}

/// The signatures are minisign's: Debian's `minisign` verifies what `vigil plugin sign` writes,
/// and the daemon trusts a key and a signature `minisign` made.
#[test]
#[ignore = "needs Debian's minisign: scripts/test.sh installs it"]
fn minisign_verifies_vigil_signatures_and_vigil_verifies_minisign_signatures() {
    let minisign = std::env::var(MINISIGN_VAR)
        .unwrap_or_else(|_| panic!("{MINISIGN_VAR} names the minisign binary"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plugin.wasm");
    std::fs::write(&file, STANDARD_PLUGINS[0].1).unwrap();
    let file_arg = file.to_str().unwrap();

    let keygen = vigil(
        &["plugin", "keygen", dir.path().join("v").to_str().unwrap()],
        &[],
    );
    assert!(keygen.status.success(), "{keygen:?}");
    let public = String::from_utf8(keygen.stdout).unwrap();
    let signed = vigil(
        &[
            "plugin",
            "sign",
            "--key",
            dir.path().join("v.key").to_str().unwrap(),
            file_arg,
        ],
        &[],
    );
    assert!(signed.status.success(), "{signed:?}");
    let verified = Command::new(&minisign)
        .args(["-V", "-m", file_arg, "-P", public.trim()])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
    let pub_file = dir.path().join("v.pub");
    let verified = Command::new(&minisign)
        .args(["-V", "-m", file_arg, "-p", pub_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");

    // minisign's own keys (password-protected, the password given on stdin) and signature.
    let (m_pub, m_key) = (dir.path().join("m.pub"), dir.path().join("m.key"));
    let with_password = |args: &[&str], input: &str| {
        use std::io::Write as _;
        let mut child = Command::new(&minisign)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{args:?}: {output:?}");
    };
    let (m_pub_arg, m_key_arg) = (m_pub.to_str().unwrap(), m_key.to_str().unwrap());
    with_password(&["-G", "-p", m_pub_arg, "-s", m_key_arg], "pw\npw\n");
    with_password(&["-S", "-s", m_key_arg, "-m", file_arg], "pw\n");
    let key = signing::public_key_line(&std::fs::read_to_string(&m_pub).unwrap()).unwrap();
    let signature = std::fs::read_to_string(signing::signature_path(&file)).unwrap();
    let trust = Trust::new(&[key], true).unwrap();
    assert!(
        trust
            .check(STANDARD_PLUGINS[0].1, Some(&signature))
            .unwrap()
            .is_some()
    );
    // And `vigil plugin sign` takes minisign's secret key too, with its password.
    let signed = vigil(
        &["plugin", "sign", "--key", m_key_arg, file_arg],
        &[("VIGIL_SIGNING_PASSWORD", "pw")],
    );
    assert!(signed.status.success(), "{signed:?}");
    let signature = std::fs::read_to_string(signing::signature_path(&file)).unwrap();
    assert!(
        trust
            .check(STANDARD_PLUGINS[0].1, Some(&signature))
            .unwrap()
            .is_some()
    );
}
