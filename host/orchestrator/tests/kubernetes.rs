//! The Kubernetes backend against a real API server and controller manager: the one
//! scripts/test.sh starts (scripts/k8s-testenv.sh), or any cluster `VIGIL_TEST_KUBECONFIG`
//! names. Each test works in a namespace of its own and deletes it afterwards.
//!
//! No kubelet runs: the tests play it by writing pod status (a pod is Ready, Succeeded or
//! Failed when a test says so), and play KServe's controller by writing an
//! `InferenceService`'s status conditions.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::jiff::Timestamp;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{conditions, wait::await_condition, watcher};
use kube::{Client, Config};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use vigil_orchestrator::{
    Error, FIELD_MANAGER, JobTemplate, KubeJob, Kubernetes, Orchestrator, RetryPolicy, Rollout,
    RolloutOutcome, RolloutTarget, RunOutcome, TrainingRun,
};

const KUBECONFIG_VAR: &str = "VIGIL_TEST_KUBECONFIG";
/// How long any one thing the tests wait for may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);
const IMAGE: &str = "example.invalid/model:{version}";
const MODEL_URI_ENV: &str = "MODEL_URI";

// ---------------------------------------------------------------------------------------------
// The cluster, namespaces, clients.

async fn config() -> Config {
    let path = std::env::var(KUBECONFIG_VAR).unwrap_or_else(|_| {
        panic!("{KUBECONFIG_VAR} is not set: run scripts/test.sh, which starts an API server")
    });
    let kubeconfig = Kubeconfig::read_from(&path).expect("read the kubeconfig");
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    config.default_retry = false;
    config
}

/// Counts the requests a client sends, by method and path.
#[derive(Clone, Default)]
struct Requests(Arc<Mutex<Vec<(String, String)>>>);

impl Requests {
    fn all(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }

    /// POST, PUT, PATCH and DELETE: the requests that write.
    fn mutating(&self) -> Vec<(String, String)> {
        self.all()
            .into_iter()
            .filter(|(method, _)| !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS"))
            .collect()
    }

    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl<S> tower::Layer<S> for Requests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            requests: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Counted<S> {
    inner: S,
    requests: Requests,
}

impl<S, B> tower::Service<http::Request<B>> for Counted<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> S::Future {
        self.requests.0.lock().unwrap().push((
            request.method().to_string(),
            request.uri().path().to_string(),
        ));
        self.inner.call(request)
    }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(500),
        retries: 3,
    }
}

/// A backend on a client of its own (as a restarted daemon would have), whose requests are
/// counted.
async fn counted_backend() -> (Kubernetes, Requests) {
    let requests = Requests::default();
    let client = kube::client::ClientBuilder::try_from(config().await)
        .expect("a client")
        .with_layer(&requests)
        .build();
    (Kubernetes::new(client).with_retry(fast_retries()), requests)
}

/// A failing API server, put in front of a client: while it is down, every request fails
/// without reaching the server, in turn with a 500, a 429 asking to come back in 1 s, a 503
/// and a connection reset; the requests it failed are counted.
#[derive(Clone, Default)]
struct Outage {
    down: Arc<std::sync::atomic::AtomicBool>,
    failed: Arc<std::sync::atomic::AtomicUsize>,
}

impl Outage {
    fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    fn failed(&self) -> usize {
        self.failed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl<S> tower::Layer<S> for Outage {
    type Service = Failing<S>;

    fn layer(&self, inner: S) -> Failing<S> {
        Failing {
            inner,
            outage: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Failing<S> {
    inner: S,
    outage: Outage,
}

type ApiResponse = http::Response<Box<kube::client::DynBody>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S> tower::Service<http::Request<kube::client::Body>> for Failing<S>
where
    S: tower::Service<http::Request<kube::client::Body>, Response = ApiResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = ApiResponse;
    type Error = BoxError;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<ApiResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<kube::client::Body>) -> Self::Future {
        if !self.outage.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Box::pin(self.inner.call(request));
        }
        let n = self
            .outage
            .failed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (code, reason) = match n % 4 {
            0 => (500, "InternalError"),
            1 => (429, "TooManyRequests"),
            2 => (503, "ServiceUnavailable"),
            _ => return Box::pin(async { Err("connection reset by peer".into()) }),
        };
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "injected by the test", "reason": reason, "code": code,
            "details": {"retryAfterSeconds": 1},
        });
        let body = http_body_util::BodyExt::map_err(
            http_body_util::Full::new(bytes::Bytes::from(status.to_string())),
            |never| -> BoxError { match never {} },
        );
        let response = http::Response::builder()
            .status(code)
            .header("content-type", "application/json")
            .body(Box::new(body) as Box<kube::client::DynBody>)
            .unwrap();
        Box::pin(async move { Ok(response) })
    }
}

/// A namespace for one test, deleted when it is dropped (even when the test panics).
struct TestNamespace {
    name: String,
    client: Client,
}

impl TestNamespace {
    async fn new(purpose: &str) -> Self {
        let client = Client::try_from(config().await).expect("a client");
        let name = format!("vigil-test-{purpose}-{:06x}", fastrand::u32(..0xff_ffff));
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"vigil.dev/test": "true"}}
        }))
        .unwrap();
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .expect("create the test namespace");
        // Pods are admitted only once the controller manager made the default ServiceAccount.
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
        eventually("the namespace's default ServiceAccount", || async {
            accounts.get_opt("default").await.ok().flatten()
        })
        .await;
        TestNamespace { name, client }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    fn backend(&self) -> Kubernetes {
        Kubernetes::new(self.client.clone()).with_retry(fast_retries())
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        // The test's runtime is going away: delete from a runtime and client of our own.
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let client = Client::try_from(config().await).expect("a client");
                let namespaces: Api<Namespace> = Api::all(client);
                namespaces.delete(&name, &DeleteParams::default()).await
            })
        })
        .join();
        if !matches!(deleted, Ok(Ok(_))) {
            eprintln!("could not delete test namespace {}", self.name);
        }
    }
}

/// Polls `check` until it returns `Some`, failing the test after [`PATIENCE`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "timed out after {PATIENCE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------------------------------------
// Playing the kubelet.

/// Moves pods forward as a kubelet would once their containers run: `decide` gives the status
/// to write for a pod (or `None` to leave it Pending). Each pod is written once.
struct Kubelet {
    task: JoinHandle<()>,
}

impl Kubelet {
    fn start(ns: &TestNamespace, decide: impl Fn(&Pod) -> Option<Value> + Send + 'static) -> Self {
        let pods: Api<Pod> = ns.api();
        let task = tokio::spawn(async move {
            let mut written = BTreeSet::new();
            let mut events = watcher(pods.clone(), watcher::Config::default()).boxed();
            while let Some(event) = events.next().await {
                let pod = match event {
                    Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => pod,
                    _ => continue,
                };
                let name = pod.metadata.name.clone().unwrap();
                let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
                let settled = is_ready(&pod) || matches!(phase, Some("Succeeded" | "Failed"));
                if settled || pod.metadata.deletion_timestamp.is_some() || written.contains(&name) {
                    continue;
                }
                if let Some(status) = decide(&pod) {
                    written.insert(name.clone());
                    // A pod deleted meanwhile is fine: its ReplicaSet or Job moved on.
                    let _ = pods
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                        .await;
                }
            }
        });
        Kubelet { task }
    }

    /// Marks Ready the pods whose version label is one of `versions`.
    fn serving(ns: &TestNamespace, versions: &[&str]) -> Self {
        let versions: BTreeSet<String> = versions.iter().map(|v| v.to_string()).collect();
        Self::start(ns, move |pod| {
            let version = pod.metadata.labels.as_ref()?.get("vigil.dev/version")?;
            versions.contains(version).then(ready_status)
        })
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn ready_status() -> Value {
    json!({"status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True",
                        "lastTransitionTime": Timestamp::now().to_string()}],
    }})
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|condition| condition.type_ == "Ready" && condition.status == "True")
}

/// Watches one kind of object in a namespace and folds a figure over every state the namespace
/// passes through (the watch delivers every change, in order): each object is reduced to a
/// value, each state of the namespace to a figure, and the figures are folded into one.
struct Tally<T> {
    seen: Arc<Mutex<Option<T>>>,
    task: JoinHandle<()>,
}

impl<T: Copy + Send + 'static> Tally<T> {
    async fn watch<K, V>(
        api: Api<K>,
        value: impl Fn(&K) -> V + Send + 'static,
        measure: impl Fn(&HashMap<String, V>) -> T + Send + 'static,
        fold: impl Fn(T, T) -> T + Send + 'static,
    ) -> Self
    where
        K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
        V: Send + 'static,
    {
        let seen: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let listed = Arc::new(tokio::sync::Notify::new());
        let task = {
            let seen = seen.clone();
            let listed = listed.clone();
            tokio::spawn(async move {
                let mut objects: HashMap<String, V> = HashMap::new();
                let mut live = false;
                let mut events = watcher(api, watcher::Config::default()).boxed();
                while let Some(event) = events.next().await {
                    match event {
                        Ok(watcher::Event::Init) => objects.clear(),
                        Ok(watcher::Event::InitApply(object) | watcher::Event::Apply(object)) => {
                            objects.insert(object.meta().name.clone().unwrap(), value(&object));
                        }
                        Ok(watcher::Event::Delete(object)) => {
                            objects.remove(object.meta().name.as_ref().unwrap());
                        }
                        Ok(watcher::Event::InitDone) => {
                            live = true;
                            listed.notify_one();
                        }
                        Err(_) => continue,
                    }
                    if live {
                        let now = measure(&objects);
                        let mut seen = seen.lock().unwrap();
                        *seen = Some(seen.map_or(now, |before| fold(before, now)));
                    }
                }
            })
        };
        listed.notified().await;
        Tally { seen, task }
    }

    fn get(&self) -> T {
        self.seen.lock().unwrap().expect("the objects were watched")
    }
}

impl<T> Drop for Tally<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The fewest Ready pods the namespace had at any moment (a terminating pod is not Ready).
async fn fewest_ready_pods(ns: &TestNamespace) -> Tally<usize> {
    Tally::watch(
        ns.api::<Pod>(),
        |pod| is_ready(pod) && pod.metadata.deletion_timestamp.is_none(),
        |ready| ready.values().filter(|ready| **ready).count(),
        usize::min,
    )
    .await
}

/// The most pods the namespace's ReplicaSets asked for at any moment: what a Deployment's
/// `maxSurge` bounds. (The pods themselves may briefly outnumber it: a ReplicaSet that is
/// scaled up creates its pod while another that was scaled down may still be deleting its
/// own, and a ReplicaSet controller whose create timed out creates again.)
async fn most_pods_asked_for(ns: &TestNamespace) -> Tally<i32> {
    Tally::watch(
        ns.api::<ReplicaSet>(),
        |set| {
            set.spec
                .as_ref()
                .and_then(|spec| spec.replicas)
                .unwrap_or(1)
        },
        |asked| asked.values().sum(),
        i32::max,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// A model's Deployment, as its owner would create it.

/// Creates the model's Deployment as its owner would with `kubectl apply --server-side`
/// (`maxUnavailable: 0` and `maxSurge: 1` as Vigil needs them), and hands its container's
/// image to Vigil as docs/orchestration.md says: Vigil's field manager applies the image it
/// has (co-owning it), then the owner applies its manifest without the image (releasing it).
async fn create_model_deployment(ns: &TestNamespace, replicas: i32, progress_deadline: i32) {
    let deployments: Api<Deployment> = ns.api();
    let manifest = |image: Option<&str>| {
        let mut container = json!({
            "name": "model",
            "env": [{"name": "LOG_LEVEL", "value": "info"}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
        });
        if let Some(image) = image {
            container["image"] = json!(image);
        }
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "model"},
            "spec": {
                "replicas": replicas,
                "progressDeadlineSeconds": progress_deadline,
                "selector": {"matchLabels": {"app": "model"}},
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": {"app": "model"}},
                    "spec": {"containers": [container]},
                },
            },
        })
    };
    let owner = PatchParams::apply("model-owner");
    let created = manifest(Some("example.invalid/model:v0"));
    deployments
        .patch("model", &owner, &Patch::Apply(&created))
        .await
        .expect("create the model's Deployment");
    let co_own = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "model"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "model", "image": "example.invalid/model:v0"}
        ]}}},
    });
    deployments
        .patch(
            "model",
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&co_own),
        )
        .await
        .expect("Vigil co-owns the image");
    let released = manifest(None);
    deployments
        .patch("model", &owner, &Patch::Apply(&released))
        .await
        .expect("the owner releases the image");
}

fn rollout(ns: &TestNamespace, version: &str) -> Rollout {
    Rollout {
        model: "model".into(),
        version: version.into(),
        artifact_uri: format!("s3://models/model/{version}"),
        target: RolloutTarget::Deployment {
            namespace: ns.name.clone(),
            name: "model".into(),
            container: "model".into(),
            image: Some(IMAGE.into()),
            model_uri_env: Some(MODEL_URI_ENV.into()),
        },
    }
}

/// The pod template's version label, its container's image and model URI.
async fn serving(ns: &TestNamespace) -> (String, String, String) {
    let deployment = ns.api::<Deployment>().get("model").await.unwrap();
    let template = deployment.spec.unwrap().template;
    let label = template.metadata.unwrap().labels.unwrap()["vigil.dev/version"].clone();
    let container = template
        .spec
        .unwrap()
        .containers
        .into_iter()
        .find(|c| c.name == "model")
        .unwrap();
    let uri = container
        .env
        .unwrap()
        .into_iter()
        .find(|var| var.name == MODEL_URI_ENV)
        .and_then(|var| var.value)
        .unwrap_or_default();
    (label, container.image.unwrap(), uri)
}

/// Rolls `version` out with every pod of it made Ready, and waits for completion.
async fn roll_out_to_completion(k8s: &Kubernetes, ns: &TestNamespace, version: &str) -> Duration {
    let _kubelet = Kubelet::serving(ns, &[version]);
    let started = Instant::now();
    k8s.roll_out(&rollout(ns, version)).await.unwrap();
    let outcome = k8s
        .watch_rollout(&rollout(ns, version), PATIENCE)
        .await
        .unwrap();
    assert_eq!(outcome, RolloutOutcome::Complete, "rollout of {version}");
    started.elapsed()
}

async fn replica_sets_by_version(ns: &TestNamespace) -> HashMap<String, (i32, i32)> {
    let sets = ns
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .await
        .unwrap();
    sets.items
        .into_iter()
        .filter_map(|set| {
            let version = set
                .spec
                .as_ref()?
                .template
                .as_ref()?
                .metadata
                .as_ref()?
                .labels
                .as_ref()?
                .get("vigil.dev/version")?
                .clone();
            let status = set.status?;
            Some((
                version,
                (status.replicas, status.ready_replicas.unwrap_or(0)),
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Rollouts to a Deployment.

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn rollout_completes_without_losing_a_ready_replica() {
    let ns = TestNamespace::new("rollout").await;
    let k8s = ns.backend();
    create_model_deployment(&ns, 2, 600).await;
    let first = roll_out_to_completion(&k8s, &ns, "v1").await;
    assert_eq!(
        serving(&ns).await,
        (
            "v1".into(),
            "example.invalid/model:v1".into(),
            "s3://models/model/v1".into()
        )
    );

    // v2, with the number of Ready pods and the Deployment's availability watched throughout.
    let ready_pods = fewest_ready_pods(&ns).await;
    let asked_for = most_pods_asked_for(&ns).await;
    let deployment_status = {
        let deployments: Api<Deployment> = ns.api();
        tokio::spawn(async move {
            let mut fewest_available = i32::MAX;
            let mut events = kube::runtime::watcher::watch_object(deployments, "model").boxed();
            while let Some(Ok(Some(deployment))) = events.next().await {
                let status = deployment.status.unwrap_or_default();
                fewest_available = fewest_available.min(status.available_replicas.unwrap_or(0));
                let done = deployment
                    .spec
                    .unwrap()
                    .template
                    .metadata
                    .unwrap()
                    .labels
                    .unwrap()["vigil.dev/version"]
                    == "v2"
                    && status.updated_replicas == Some(2)
                    && status.replicas == Some(2)
                    && status.available_replicas == Some(2);
                if done {
                    break;
                }
            }
            fewest_available
        })
    };
    let second = roll_out_to_completion(&k8s, &ns, "v2").await;
    let fewest_available = tokio::time::timeout(PATIENCE, deployment_status)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ready_pods.get(),
        2,
        "a Ready pod went before its replacement was Ready"
    );
    assert_eq!(
        fewest_available, 2,
        "the Deployment reported fewer available replicas"
    );
    assert_eq!(asked_for.get(), 3, "one surge pod at a time (maxSurge 1)");

    assert_eq!(
        serving(&ns).await,
        (
            "v2".into(),
            "example.invalid/model:v2".into(),
            "s3://models/model/v2".into()
        )
    );
    let template = ns
        .api::<Deployment>()
        .get("model")
        .await
        .unwrap()
        .spec
        .unwrap()
        .template;
    let annotations = template.metadata.unwrap().annotations.unwrap();
    assert_eq!(annotations["vigil.dev/version"], "v2");
    assert_eq!(annotations["vigil.dev/artifact"], "s3://models/model/v2");
    let sets = replica_sets_by_version(&ns).await;
    assert_eq!(sets["v2"], (2, 2));
    assert_eq!(sets["v1"], (0, 0));
    eprintln!(
        "timing: rollout to completion, 2 replicas, pods marked Ready on sight: first {}, \
         second {}",
        ms(first),
        ms(second)
    );
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_rollout_whose_pods_never_get_ready_fails_and_is_rolled_back() {
    let ns = TestNamespace::new("rollback").await;
    let k8s = ns.backend();
    create_model_deployment(&ns, 2, 3).await;
    roll_out_to_completion(&k8s, &ns, "v1").await;

    // v2's pods never become Ready: only v1's are served.
    let ready_pods = fewest_ready_pods(&ns).await;
    let kubelet = Kubelet::serving(&ns, &["v1"]);
    let v1 = rollout(&ns, "v1");
    let v2 = rollout(&ns, "v2");
    let started = Instant::now();
    k8s.roll_out(&v2).await.unwrap();

    // The caller's deadline passes first...
    let RolloutOutcome::Failed { reason } = k8s
        .watch_rollout(&v2, Duration::from_millis(500))
        .await
        .unwrap()
    else {
        panic!("v2 cannot complete")
    };
    assert!(
        reason.starts_with("pods not ready within 500ms"),
        "{reason}"
    );
    // ... then the Deployment's own progress deadline (3 s).
    let RolloutOutcome::Failed { reason } = k8s.watch_rollout(&v2, PATIENCE).await.unwrap() else {
        panic!("v2 cannot complete")
    };
    let detected = started.elapsed();
    assert!(reason.contains("progress deadline exceeded"), "{reason}");
    let sets = replica_sets_by_version(&ns).await;
    assert_eq!(sets["v1"], (2, 2), "v1 kept serving with every replica");
    assert_eq!(sets["v2"].1, 0, "no v2 pod served");

    let rollback_started = Instant::now();
    k8s.roll_back(&v2, &v1).await.unwrap();
    let outcome = k8s.watch_rollout(&v1, PATIENCE).await.unwrap();
    let rolled_back = rollback_started.elapsed();
    assert_eq!(outcome, RolloutOutcome::Complete);
    assert_eq!(serving(&ns).await.0, "v1");
    eventually("v2's pods to be gone", || async {
        let sets = replica_sets_by_version(&ns).await;
        (sets["v2"] == (0, 0)).then_some(())
    })
    .await;
    assert_eq!(
        ready_pods.get(),
        2,
        "a Ready pod went during the failed rollout"
    );
    drop(kubelet);
    eprintln!(
        "timing: failed rollout (progressDeadlineSeconds 3) detected after {}; rollback \
         complete after {}",
        ms(detected),
        ms(rolled_back)
    );
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_second_rollout_of_the_same_version_writes_nothing() {
    let ns = TestNamespace::new("noop").await;
    create_model_deployment(&ns, 1, 600).await;
    roll_out_to_completion(&ns.backend(), &ns, "v1").await;
    let before = ns.api::<Deployment>().get("model").await.unwrap();

    // As a restarted daemon would: a new backend, on a new client whose requests are counted.
    let (k8s, requests) = counted_backend().await;
    for _ in 0..3 {
        k8s.roll_out(&rollout(&ns, "v1")).await.unwrap();
    }
    assert_eq!(
        requests.mutating(),
        [],
        "all requests: {:?}",
        requests.all()
    );
    assert_eq!(requests.all().len(), 3, "one read per pass");
    // The controller may still be writing the Deployment's status, so its resourceVersion is
    // no witness here (the KServe test checks it, where nothing else writes): its spec
    // (generation) and what Vigil's field manager last wrote are.
    let after = ns.api::<Deployment>().get("model").await.unwrap();
    assert_eq!(before.metadata.generation, after.metadata.generation);
    let vigil_entry = |d: &Deployment| {
        let entries = d.metadata.managed_fields.clone().unwrap_or_default();
        let entry = entries
            .into_iter()
            .find(|e| e.manager.as_deref() == Some(FIELD_MANAGER))
            .expect("Vigil's managed fields");
        serde_json::to_value(entry).unwrap()
    };
    assert_eq!(
        vigil_entry(&before),
        vigil_entry(&after),
        "Vigil's fields were written"
    );

    // A pass with something to change writes exactly one apply.
    requests.clear();
    k8s.roll_out(&rollout(&ns, "v2")).await.unwrap();
    let mutating = requests.mutating();
    assert_eq!(mutating.len(), 1, "{mutating:?}");
    assert_eq!(mutating[0].0, "PATCH");
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_field_owned_by_another_manager_is_a_conflict_not_a_takeover() {
    let ns = TestNamespace::new("conflict").await;
    create_model_deployment(&ns, 1, 600).await;
    roll_out_to_completion(&ns.backend(), &ns, "v1").await;

    // Someone else takes the image by force.
    let rogue = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "model"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "model", "image": "example.invalid/hotfix:1"}
        ]}}},
    });
    ns.api::<Deployment>()
        .patch(
            "model",
            &PatchParams::apply("hotfix-tool").force(),
            &Patch::Apply(&rogue),
        )
        .await
        .unwrap();

    let (k8s, requests) = counted_backend().await;
    let err = k8s.roll_out(&rollout(&ns, "v2")).await.unwrap_err();
    let Error::Conflict(message) = &err else {
        panic!("expected a conflict, got {err:?}")
    };
    assert!(message.contains("\"hotfix-tool\""), "{message}");
    assert!(message.contains(".image"), "{message}");
    assert_eq!(
        requests.mutating().len(),
        1,
        "one apply, not a retry loop: {:?}",
        requests.all()
    );
    let (version, image, _) = serving(&ns).await;
    assert_eq!(
        (version.as_str(), image.as_str()),
        ("v1", "example.invalid/hotfix:1"),
        "nothing of v2 was applied"
    );
}

// ---------------------------------------------------------------------------------------------
// Retraining Jobs.

fn training_run(ns: &TestNamespace, key: &str, backoff_limit: i32) -> (TrainingRun, String) {
    let token = format!("tok-{:016x}", fastrand::u64(..));
    let name = vigil_orchestrator::object_name("vigil-train", "model", key);
    let run = TrainingRun {
        name: name.clone(),
        model: "model".into(),
        env: vec![
            ("VIGIL_URL".into(), "http://vigil.vigil.svc:8080".into()),
            ("VIGIL_TOKEN".into(), token.clone()),
            ("VIGIL_MODEL".into(), "model".into()),
            ("VIGIL_RUN_ID".into(), name),
        ],
        job: JobTemplate::Kubernetes(KubeJob {
            namespace: ns.name.clone(),
            image: "example.invalid/train:1".into(),
            command: vec!["train".into()],
            args: vec!["--epochs".into(), "3".into()],
            resources: Some(json!({"requests": {"cpu": "100m"}, "limits": {"memory": "256Mi"}})),
            service_account: Some("trainer".into()),
            backoff_limit,
            active_deadline_seconds: 600,
            run_as_user: Some(65532),
        }),
    };
    (run, token)
}

async fn create_trainer_account(ns: &TestNamespace) {
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "trainer"}})).unwrap();
    ns.api::<ServiceAccount>()
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
}

/// Plays the kubelet for a Job's pods: each ends in `phase`.
fn finish_job_pods(ns: &TestNamespace, phase: &'static str) -> Kubelet {
    Kubelet::start(ns, move |pod| {
        pod.metadata.labels.as_ref()?.get("job-name")?;
        Some(json!({"status": {"phase": phase}}))
    })
}

async fn jobs_of(ns: &TestNamespace, run: &TrainingRun) -> Vec<Job> {
    ns.api::<Job>()
        .list(&ListParams::default().labels(&format!("vigil.dev/run={}", run.name)))
        .await
        .unwrap()
        .items
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_job_runs_to_success() {
    let ns = TestNamespace::new("job-ok").await;
    create_trainer_account(&ns).await;
    let k8s = ns.backend();
    let (run, _) = training_run(&ns, "monitor/1/window/100/retrain", 20);

    let started = Instant::now();
    k8s.start_training(&run).await.unwrap();
    let created = started.elapsed();
    let job = ns.api::<Job>().get(&run.name).await.unwrap();
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.backoff_limit, Some(6), "capped at 6");
    assert_eq!(spec.active_deadline_seconds, Some(600));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(pod.service_account_name.as_deref(), Some("trainer"));
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some("example.invalid/train:1")
    );
    assert_eq!(
        pod.containers[0].args.as_deref(),
        Some(&["--epochs".to_string(), "3".to_string()][..])
    );
    let labels = job.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "vigil");
    assert_eq!(labels["vigil.dev/model"], "model");
    assert_eq!(labels["vigil.dev/run"], run.name);

    let pod_seen = Instant::now();
    let _kubelet = finish_job_pods(&ns, "Succeeded");
    let outcome = k8s.watch_training(&run).await.unwrap();
    assert_eq!(outcome, RunOutcome::Succeeded);
    eprintln!(
        "timing: start_training -> Job created (call returned): {}; test kubelet started -> \
         Job's pod created, marked Succeeded, Job Complete, watch_training returned: {}",
        ms(created),
        ms(pod_seen.elapsed())
    );
    // Watching a finished run again (a restarted daemon) answers at once.
    assert_eq!(
        k8s.watch_training(&run).await.unwrap(),
        RunOutcome::Succeeded
    );
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_job_whose_pods_fail_fails_with_the_reason() {
    let ns = TestNamespace::new("job-fail").await;
    create_trainer_account(&ns).await;
    let k8s = ns.backend();
    let (run, _) = training_run(&ns, "monitor/1/window/200/retrain", 1);
    k8s.start_training(&run).await.unwrap();
    let _kubelet = finish_job_pods(&ns, "Failed");
    let RunOutcome::Failed { reason } = k8s.watch_training(&run).await.unwrap() else {
        panic!("the Job cannot succeed")
    };
    assert!(reason.starts_with("BackoffLimitExceeded"), "{reason}");
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels(&format!("job-name={}", run.name)))
        .await
        .unwrap();
    assert_eq!(
        pods.items.len(),
        2,
        "the first pod and one retry (backoffLimit 1)"
    );
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_restarted_daemon_does_not_start_a_second_job() {
    let ns = TestNamespace::new("job-once").await;
    create_trainer_account(&ns).await;
    let (run, token) = training_run(&ns, "monitor/7/window/300/retrain", 1);

    // Two replicas start the same run at once.
    let (a, b) = (ns.backend(), ns.backend());
    let (ra, rb) = tokio::join!(a.start_training(&run), b.start_training(&run));
    ra.unwrap();
    rb.unwrap();
    assert_eq!(jobs_of(&ns, &run).await.len(), 1);

    // The daemon restarts and starts the run again: one read, nothing written.
    let (restarted, requests) = counted_backend().await;
    restarted.start_training(&run).await.unwrap();
    assert_eq!(
        requests.mutating(),
        [],
        "all requests: {:?}",
        requests.all()
    );
    assert_eq!(jobs_of(&ns, &run).await.len(), 1);

    // A daemon that died between creating the Job and its Secret: the next start finishes the
    // work, still with one Job.
    let secrets: Api<Secret> = ns.api();
    secrets
        .delete(&run.name, &DeleteParams::default())
        .await
        .unwrap();
    let unmark = json!({"metadata": {"annotations": {"vigil.dev/token-secret": null}}});
    ns.api::<Job>()
        .patch(&run.name, &PatchParams::default(), &Patch::Merge(&unmark))
        .await
        .unwrap();
    eventually("the Secret to be gone", || async {
        secrets
            .get_opt(&run.name)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    requests.clear();
    restarted.start_training(&run).await.unwrap();
    let methods: Vec<String> = requests.mutating().into_iter().map(|(m, _)| m).collect();
    assert_eq!(methods, ["POST", "PATCH"], "the Secret, then the mark");
    assert_eq!(jobs_of(&ns, &run).await.len(), 1);
    let secret = secrets.get(&run.name).await.unwrap();
    let value = &secret.data.unwrap()["VIGIL_TOKEN"];
    assert_eq!(value.0, token.as_bytes());
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn the_token_is_in_a_secret_owned_by_the_job_and_nowhere_in_the_job() {
    let ns = TestNamespace::new("job-secret").await;
    create_trainer_account(&ns).await;
    let k8s = ns.backend();
    let (run, token) = training_run(&ns, "monitor/1/window/400/retrain", 1);
    k8s.start_training(&run).await.unwrap();

    let job = ns.api::<Job>().get(&run.name).await.unwrap();
    let job_json = serde_json::to_string(&job).unwrap();
    assert!(
        !job_json.contains(&token),
        "the token is in the Job: {job_json}"
    );
    let env = serde_json::to_value(
        &job.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .env,
    )
    .unwrap();
    assert!(
        env.as_array()
            .unwrap()
            .contains(&json!({"name": "VIGIL_TOKEN", "valueFrom":
            {"secretKeyRef": {"name": run.name, "key": "VIGIL_TOKEN", "optional": false}}})),
        "{env}"
    );
    let pods: Api<Pod> = ns.api();
    let pod = eventually("the Job's pod", || async {
        let list = pods
            .list(&ListParams::default().labels(&format!("job-name={}", run.name)))
            .await
            .unwrap();
        list.items.into_iter().next()
    })
    .await;
    assert!(
        !serde_json::to_string(&pod).unwrap().contains(&token),
        "the token is in the pod"
    );

    let secrets: Api<Secret> = ns.api();
    let secret = secrets.get(&run.name).await.unwrap();
    let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Job", run.name.as_str())
    );
    assert_eq!(Some(&owner.uid), job.metadata.uid.as_ref());
    assert_eq!(
        secret.metadata.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"],
        "vigil"
    );

    // Deleting the Job deletes its Secret (the garbage collector follows the owner reference).
    ns.api::<Job>()
        .delete(&run.name, &DeleteParams::background())
        .await
        .unwrap();
    eventually("the garbage collector to delete the Secret", || async {
        secrets
            .get_opt(&run.name)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// KServe.

fn inference_services() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("serving.kserve.io", "v1beta1", "InferenceService"),
        "inferenceservices",
    )
}

/// A minimal `InferenceService` CRD, installed unless the cluster has KServe's already: any
/// spec and status, with a status subresource, as KServe's. The path to `storageUri` is
/// declared as in KServe's schema: server-side apply treats an undeclared subtree as one
/// atomic field, and Vigil's apply would then take the whole `spec`.
async fn install_kserve_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = "inferenceservices.serving.kserve.io";
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name, "labels": {"vigil.dev/test": "true"}},
        "spec": {
            "group": "serving.kserve.io",
            "scope": "Namespaced",
            "names": {"kind": "InferenceService", "listKind": "InferenceServiceList",
                      "plural": "inferenceservices", "singular": "inferenceservice",
                      "shortNames": ["isvc"]},
            "versions": [{
                "name": "v1beta1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": open_object(json!({
                        "predictor": open_object(json!({
                            "model": open_object(json!({"storageUri": {"type": "string"}})),
                        })),
                    })),
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                }}},
            }],
        },
    }))
    .unwrap();
    let kserve_installed = crds.get_opt(name).await.unwrap().is_some_and(|crd| {
        crd.metadata
            .labels
            .unwrap_or_default()
            .get("vigil.dev/test")
            != Some(&"true".into())
    });
    if !kserve_installed {
        crds.patch(
            name,
            &PatchParams::apply("vigil-tests").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("install the InferenceService CRD");
    }
    tokio::time::timeout(
        PATIENCE,
        await_condition(crds, name, conditions::is_crd_established()),
    )
    .await
    .expect("the CRD established in time")
    .unwrap();
}

/// An object schema with `properties` declared and any other field kept.
fn open_object(properties: Value) -> Value {
    json!({"type": "object", "properties": properties, "x-kubernetes-preserve-unknown-fields": true})
}

/// Plays KServe's controller: writes the service's status for its current generation.
async fn kserve_status(services: &Api<DynamicObject>, status: Value) {
    let generation = services.get("model").await.unwrap().metadata.generation;
    let mut status = status;
    status["observedGeneration"] = json!(generation);
    services
        .patch_status(
            "model",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .unwrap();
}

fn ready_condition(status: &str) -> Value {
    json!({"conditions": [{"type": "Ready", "status": status,
                           "lastTransitionTime": Timestamp::now().to_string()}]})
}

/// Creates the model's `InferenceService` as its owner would, and hands its storage URI to
/// Vigil as for a Deployment's image (docs/orchestration.md): co-owned by Vigil, then released
/// by the owner.
async fn create_inference_service(ns: &TestNamespace) -> Api<DynamicObject> {
    install_kserve_crd(&ns.client).await;
    let services: Api<DynamicObject> =
        Api::namespaced_with(ns.client.clone(), &ns.name, &inference_services());
    let manifest = |storage_uri: Option<&str>| {
        let mut model = json!({"modelFormat": {"name": "sklearn"}});
        if let Some(uri) = storage_uri {
            model["storageUri"] = json!(uri);
        }
        json!({
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "model"},
            "spec": {"predictor": {"model": model}},
        })
    };
    let owner = PatchParams::apply("model-owner");
    let created = manifest(Some("gs://models/model/v0"));
    services
        .patch("model", &owner, &Patch::Apply(&created))
        .await
        .unwrap();
    let co_own = json!({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "model"},
        "spec": {"predictor": {"model": {"storageUri": "gs://models/model/v0"}}},
    });
    services
        .patch(
            "model",
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&co_own),
        )
        .await
        .unwrap();
    let released = manifest(None);
    services
        .patch("model", &owner, &Patch::Apply(&released))
        .await
        .unwrap();

    services
}

fn kserve_rollout(ns: &TestNamespace, version: &str) -> Rollout {
    Rollout {
        model: "model".into(),
        version: version.into(),
        artifact_uri: format!("gs://models/model/{version}"),
        target: RolloutTarget::KServe {
            namespace: ns.name.clone(),
            name: "model".into(),
        },
    }
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_kserve_rollout_follows_the_ready_condition() {
    let ns = TestNamespace::new("kserve").await;
    let services = create_inference_service(&ns).await;

    let k8s = ns.backend();
    let kserve = |version: &str| kserve_rollout(&ns, version);

    // v1: not ready, then ready.
    k8s.roll_out(&kserve("v1")).await.unwrap();
    let object = services.get("model").await.unwrap();
    assert_eq!(
        object.data["spec"]["predictor"]["model"]["storageUri"],
        "gs://models/model/v1"
    );
    assert_eq!(
        object.data["spec"]["predictor"]["model"]["modelFormat"]["name"],
        "sklearn"
    );
    assert_eq!(
        object.metadata.labels.as_ref().unwrap()["vigil.dev/version"],
        "v1"
    );
    assert_eq!(
        object.metadata.annotations.as_ref().unwrap()["vigil.dev/artifact"],
        "gs://models/model/v1"
    );
    kserve_status(&services, ready_condition("False")).await;
    let outcome = k8s
        .watch_rollout(&kserve("v1"), Duration::from_millis(300))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, RolloutOutcome::Failed { reason } if reason.contains("Ready is False")),
        "not complete before Ready: {outcome:?}"
    );
    let ready_written = Instant::now();
    kserve_status(&services, ready_condition("True")).await;
    let outcome = k8s.watch_rollout(&kserve("v1"), PATIENCE).await.unwrap();
    assert_eq!(outcome, RolloutOutcome::Complete);
    let noticed = ready_written.elapsed();

    // The same version again: nothing written.
    let before = services
        .get("model")
        .await
        .unwrap()
        .metadata
        .resource_version;
    let (counted, requests) = counted_backend().await;
    counted.roll_out(&kserve("v1")).await.unwrap();
    assert_eq!(
        requests.mutating(),
        [],
        "all requests: {:?}",
        requests.all()
    );
    assert_eq!(
        services
            .get("model")
            .await
            .unwrap()
            .metadata
            .resource_version,
        before
    );

    // v2: the stale Ready of v1's generation does not count; the model fails to load.
    k8s.roll_out(&kserve("v2")).await.unwrap();
    let outcome = k8s
        .watch_rollout(&kserve("v2"), Duration::from_millis(300))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, RolloutOutcome::Failed { reason } if reason.contains("KServe has not seen generation")),
        "{outcome:?}"
    );
    let mut failed = ready_condition("False");
    failed["modelStatus"] = json!({"transitionStatus": "BlockedByFailedLoad",
                                   "lastFailureInfo": {"message": "storage not found"}});
    kserve_status(&services, failed).await;
    let RolloutOutcome::Failed { reason } =
        k8s.watch_rollout(&kserve("v2"), PATIENCE).await.unwrap()
    else {
        panic!("v2 failed to load")
    };
    assert!(reason.contains("storage not found"), "{reason}");
    k8s.roll_back(&kserve("v2"), &kserve("v1")).await.unwrap();
    let mut recovered = ready_condition("True");
    recovered["modelStatus"] = json!({"transitionStatus": "UpToDate"});
    kserve_status(&services, recovered).await;
    assert_eq!(
        k8s.watch_rollout(&kserve("v1"), PATIENCE).await.unwrap(),
        RolloutOutcome::Complete
    );
    let object = services.get("model").await.unwrap();
    assert_eq!(
        object.data["spec"]["predictor"]["model"]["storageUri"],
        "gs://models/model/v1"
    );
    eprintln!(
        "timing: KServe Ready written -> watch_rollout returned Complete: {}",
        ms(noticed)
    );
}

// ---------------------------------------------------------------------------------------------
// Errors.

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_missing_target_is_invalid_and_an_unreachable_server_unavailable() {
    let ns = TestNamespace::new("errors").await;
    let err = ns
        .backend()
        .roll_out(&rollout(&ns, "v1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(m) if m.contains("does not exist")),
        "{err:?}"
    );

    // A server that refuses connections: retried with backoff, then given up.
    let mut config = config().await;
    config.cluster_url = "https://127.0.0.1:9".parse().unwrap();
    let k8s = Kubernetes::from_config(config)
        .unwrap()
        .with_retry(fast_retries());
    let started = Instant::now();
    let err = k8s.roll_out(&rollout(&ns, "v1")).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(&err, Error::Unavailable(_)), "{err:?}");
    // Three retries: 50 + 100 + 200 ms at most, at least half of that.
    assert!(
        elapsed >= Duration::from_millis(175) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// RBAC.

/// The Role docs/orchestration.md lists for the namespaces Vigil works in.
fn documented_role() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "vigil"},
        "rules": [
            {"apiGroups": ["batch"], "resources": ["jobs"],
             "verbs": ["get", "list", "watch", "create", "patch"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
            {"apiGroups": ["apps"], "resources": ["deployments"],
             "verbs": ["get", "list", "watch", "patch"]},
            {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"],
             "verbs": ["get", "list", "watch", "patch"]},
        ],
    })
}

/// A backend acting as ServiceAccount `vigil` of the namespace, bound to `role` there.
async fn backend_as_service_account(ns: &TestNamespace, role: Value) -> Kubernetes {
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "vigil"}})).unwrap();
    ns.api::<ServiceAccount>()
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let roles: Api<k8s_openapi::api::rbac::v1::Role> = ns.api();
    roles
        .create(
            &PostParams::default(),
            &serde_json::from_value(role).unwrap(),
        )
        .await
        .unwrap();
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "vigil"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "vigil"},
        "subjects": [{"kind": "ServiceAccount", "name": "vigil", "namespace": ns.name}],
    });
    ns.api::<k8s_openapi::api::rbac::v1::RoleBinding>()
        .create(
            &PostParams::default(),
            &serde_json::from_value(binding).unwrap(),
        )
        .await
        .unwrap();
    // Kubernetes 1.20 puts a ServiceAccount's token in a Secret it makes for it.
    let accounts: Api<ServiceAccount> = ns.api();
    let secret_name = eventually("the ServiceAccount's token Secret", || async {
        let account = accounts.get("vigil").await.unwrap();
        account.secrets?.first()?.name.clone()
    })
    .await;
    let secret = ns.api::<Secret>().get(&secret_name).await.unwrap();
    let token = String::from_utf8(secret.data.unwrap()["token"].0.clone()).unwrap();
    let mut config = config().await;
    config.auth_info = serde_json::from_value(json!({"token": token})).unwrap();
    Kubernetes::from_config(config)
        .unwrap()
        .with_retry(fast_retries())
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn the_documented_role_is_enough_for_every_action() {
    let ns = TestNamespace::new("rbac").await;
    create_trainer_account(&ns).await;
    create_model_deployment(&ns, 1, 600).await;
    let k8s = backend_as_service_account(&ns, documented_role()).await;

    let (run, _) = training_run(&ns, "monitor/1/window/500/retrain", 1);
    k8s.start_training(&run).await.unwrap();
    k8s.start_training(&run).await.unwrap();
    let _jobs = finish_job_pods(&ns, "Succeeded");
    assert_eq!(
        k8s.watch_training(&run).await.unwrap(),
        RunOutcome::Succeeded
    );

    {
        let _kubelet = Kubelet::serving(&ns, &["v1", "v2"]);
        for version in ["v1", "v2"] {
            k8s.roll_out(&rollout(&ns, version)).await.unwrap();
            assert_eq!(
                k8s.watch_rollout(&rollout(&ns, version), PATIENCE)
                    .await
                    .unwrap(),
                RolloutOutcome::Complete
            );
        }
        k8s.roll_back(&rollout(&ns, "v2"), &rollout(&ns, "v1"))
            .await
            .unwrap();
    }

    let services = create_inference_service(&ns).await;
    k8s.roll_out(&kserve_rollout(&ns, "v1")).await.unwrap();
    kserve_status(&services, ready_condition("True")).await;
    assert_eq!(
        k8s.watch_rollout(&kserve_rollout(&ns, "v1"), PATIENCE)
            .await
            .unwrap(),
        RolloutOutcome::Complete
    );

    // Where the Role does not reach, the error says what to grant.
    let elsewhere = Rollout {
        target: RolloutTarget::Deployment {
            namespace: "default".into(),
            name: "model".into(),
            container: "model".into(),
            image: None,
            model_uri_env: None,
        },
        ..rollout(&ns, "v1")
    };
    let err = k8s.roll_out(&elsewhere).await.unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable(m) if m.contains("403") && m.contains("docs/orchestration.md")),
        "{err:?}"
    );
}

/// K5 in docs/reliability.md, scaled down: the backoff of a backend whose policy goes from
/// 100 ms to 800 ms, through a 4 s outage.
const OUTAGE: Duration = Duration::from_secs(4);

#[tokio::test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_failing_api_server_is_retried_at_the_backoff_pace_and_the_rollout_converges_after() {
    let ns = TestNamespace::new("outage").await;
    create_model_deployment(&ns, 2, 600).await;
    let _kubelet = Kubelet::serving(&ns, &["v1"]);
    let outage = Outage::default();
    let client = kube::client::ClientBuilder::try_from(config().await)
        .expect("a client")
        .with_layer(&outage)
        .build();
    let policy = RetryPolicy {
        base: Duration::from_millis(100),
        cap: Duration::from_millis(800),
        retries: 30,
    };
    let k8s = Kubernetes::new(client).with_retry(policy);

    outage.set_down(true);
    let rollout = rollout(&ns, "v1");
    let task = tokio::spawn(async move {
        k8s.roll_out(&rollout).await?;
        k8s.watch_rollout(&rollout, PATIENCE).await
    });
    // The outage's length is the test's input, not a wait for something.
    tokio::time::sleep(OUTAGE).await;
    outage.set_down(false);
    let failed = outage.failed();
    let recovered = Instant::now();
    let outcome = task
        .await
        .unwrap()
        .expect("the rollout goes on after the outage");
    let converged = recovered.elapsed();
    eprintln!(
        "outage of {}: {failed} requests failed; the rollout complete {} after it",
        ms(OUTAGE),
        ms(converged)
    );
    assert_eq!(outcome, RolloutOutcome::Complete);
    // Each delay is at least half its step (jitter), the steps 100, 200, 400, 800, 800… ms
    // (a 429's Retry-After of 1 s is cut to the cap): at most 15 requests in 4 s, one at a
    // time. And it did retry: at least one request per 800 ms once the cap is reached.
    assert!(
        (5..=15).contains(&failed),
        "{failed} requests in {OUTAGE:?}"
    );
    assert!(
        converged < policy.cap + Duration::from_secs(10),
        "{converged:?}"
    );
    assert_eq!(
        serving(&ns).await,
        (
            "v1".into(),
            "example.invalid/model:v1".into(),
            "s3://models/model/v1".into()
        )
    );
}
