//! `vigil-model serve` as a process, over HTTP: health, single and batch predictions, the
//! answers to bad requests, and a clean stop on SIGTERM. The artifact comes from `vigil-model
//! train --csv` on the demo's reference data.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vigil_model::model::Model;
use vigil_model::serve::artifact_path;

const BIN: &str = env!("CARGO_BIN_EXE_vigil-model");

fn demo_reference() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/reference.csv")
}

/// Trains offline and returns the printed `{"artifact_uri", "metrics"}`.
fn train_offline(out: &std::path::Path) -> Value {
    let output = Command::new(BIN)
        .args(["train", "--csv"])
        .arg(demo_reference())
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

/// A `serve` child and the base URL it printed.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(artifact_uri: &str, version: &str) -> Server {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--port",
                "0",
                "--artifact",
                artifact_uri,
                "--version",
                version,
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, url }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running 10 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(client: &reqwest::Client, url: &str, body: &str) -> (u16, Value) {
    let response = client
        .post(format!("{url}/predict"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn serve_answers_predictions_over_http_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let trained = train_offline(&dir.path().join("artifacts"));
    let uri = trained["artifact_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/model.json"),
        "{uri}"
    );
    let accuracy = trained["metrics"]["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.8, "{trained}");
    assert_eq!(trained["metrics"]["training_records"], 2000);
    let model = Model::load(&artifact_path(uri).unwrap()).unwrap();

    let mut server = Server::start(uri, "v-test");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let health = loop {
        match client.get(format!("{}/healthz", server.url)).send().await {
            Ok(response) if response.status().is_success() => {
                break response.json::<Value>().await.unwrap();
            }
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("never healthy: {other:?}"),
        }
    };
    assert_eq!(health, json!({"status": "ok", "version": "v-test"}));

    // A new customer on the basic plan: the reference rule says churn.
    let customer =
        json!({"age": 30.0, "income": 35000.0, "tenure": 2.0, "plan": "basic", "region": "north"});
    let (status, answer) = post(
        &client,
        &server.url,
        &json!({"id": "c1", "features": customer}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let expected = model.predict_json(customer.as_object().unwrap()).unwrap();
    assert_eq!(answer["id"], "c1");
    assert_eq!(answer["version"], "v-test");
    assert_eq!(answer["prediction"], "1");
    assert_eq!(
        answer["probabilities"]["1"],
        json!(expected.probabilities[1])
    );
    assert_eq!(
        answer["probabilities"]["0"],
        json!(expected.probabilities[0])
    );

    // A batch: one request of the single form, one flat record as the records API gives them.
    let batch = json!({"records": [
        {"features": customer},
        {"id": "c2", "timestamp": "2026-01-01T00:00:00Z", "age": 60, "income": 80000,
         "tenure": 90, "plan": "pro", "region": "moon", "label": 0},
    ]});
    let (status, answer) = post(&client, &server.url, &batch.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    let predictions = answer["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 2);
    assert_eq!(predictions[0]["prediction"], "1");
    assert_eq!(predictions[1]["id"], "c2");
    assert_eq!(predictions[1]["prediction"], "0", "{answer}");
    assert_eq!(answer["version"], "v-test");

    // What a client gets wrong, named.
    for (body, status, message) in [
        (
            json!({"features": {"age": 30, "income": 1, "plan": "basic", "region": "north"}})
                .to_string(),
            422,
            "feature `tenure` is missing",
        ),
        (
            json!({"features": {"age": "thirty", "income": 1, "tenure": 2, "plan": "basic", "region": "north"}})
                .to_string(),
            422,
            "feature `age` must be a number, got a string",
        ),
        (
            json!({"records": [{"features": customer}, {"age": 1}]}).to_string(),
            422,
            "records[1]: feature `income` is missing",
        ),
        (json!({"customer": 1}).to_string(), 422, "`features`"),
        ("{not json".to_string(), 400, "not JSON"),
    ] {
        let (got, answer) = post(&client, &server.url, &body).await;
        assert_eq!(got, status, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(message), "{body}: {error}");
    }

    let status = server.terminate();
    assert!(status.success(), "a SIGTERM is a clean stop: {status}");
    assert!(
        client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .is_err(),
        "nothing listens after the stop"
    );
}

/// Reads from `stream` until a blank line ends the headers; returns them.
fn read_head(stream: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert_eq!(
            n,
            1,
            "the connection closed after {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[test]
fn a_request_in_flight_at_sigterm_is_answered_before_the_server_stops() {
    let dir = tempfile::tempdir().unwrap();
    let trained = train_offline(&dir.path().join("artifacts"));
    let mut server = Server::start(trained["artifact_uri"].as_str().unwrap(), "v1");
    let address = server.url.trim_start_matches("http://").to_string();
    let body = json!({"records": [{"features":
        {"age": 30.0, "income": 35000.0, "tenure": 2.0, "plan": "basic", "region": "north"}}]})
    .to_string();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // `Expect: 100-continue`: the server says `100 Continue` once the handler reads the body,
    // so the request is provably in flight when the signal comes.
    write!(
        stream,
        "POST /predict HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    assert!(read_head(&mut stream).starts_with("HTTP/1.1 100"));
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    // Once new connections are refused the server is shutting down; only then comes the body.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&address).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    stream.write_all(body.as_bytes()).unwrap();
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut rest = String::new();
    stream.read_to_string(&mut rest).unwrap();
    assert!(rest.contains(r#""prediction":"1""#), "{rest}");
    let status = server.terminate();
    assert!(status.success(), "{status}");
}

#[test]
fn serve_refuses_an_artifact_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    std::fs::write(&path, "{\"weights\": []}").unwrap();
    for (artifact, message) in [
        (path.display().to_string(), "is not a model artifact"),
        (
            "s3://bucket/model.json".to_string(),
            "only file:// artifacts",
        ),
        (
            dir.path().join("absent.json").display().to_string(),
            "reading the artifact",
        ),
    ] {
        let output = Command::new(BIN)
            .args([
                "serve",
                "--port",
                "0",
                "--version",
                "v1",
                "--artifact",
                &artifact,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{artifact}");
        assert!(stderr.contains(message), "{artifact}: {stderr}");
    }
}
