//! kubectl 1.20 over `deploy/`: rendering (no cluster), and a test cluster to apply to.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where scripts/k8s-testenv.sh caches the kubectl matching its API server.
const CACHED_KUBECTL: &str = "/var/cache/vigil-k8s-testenv/current/bin/kubectl";

/// The ServiceAccount the daemon runs as, as the API server names it.
pub const SERVICE_ACCOUNT: &str = "system:serviceaccount:vigil:vigil";

/// `deploy/` in this repository.
pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// `$VIGIL_TEST_KUBECTL`, else the test environment's kubectl.
fn kubectl_path() -> PathBuf {
    std::env::var_os("VIGIL_TEST_KUBECTL")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| CACHED_KUBECTL.into())
}

fn run(args: &[&OsStr]) -> Output {
    let kubectl = kubectl_path();
    Command::new(&kubectl)
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run {}: {err}; scripts/test.sh installs kubectl 1.20 there, or set \
                 VIGIL_TEST_KUBECTL",
                kubectl.display()
            )
        })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What `kubectl kustomize deploy/DIR` prints.
pub fn render_text(dir: &str) -> String {
    kustomize(&deploy_dir().join(dir))
}

fn kustomize(path: &Path) -> String {
    let output = run(&["kustomize".as_ref(), path.as_os_str()]);
    assert!(
        output.status.success(),
        "kubectl kustomize {}: {}",
        path.display(),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// The objects `deploy/DIR` renders to.
pub fn render(dir: &str) -> Vec<Value> {
    parse_yaml(&render_text(dir), &format!("deploy/{dir}"))
}

/// The objects the kustomization in `path` renders to.
pub fn render_path(path: &Path) -> Vec<Value> {
    parse_yaml(&kustomize(path), &path.display().to_string())
}

/// The documents of a YAML stream, as JSON values.
pub fn parse_yaml(text: &str, what: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|err| panic!("{what} is not YAML: {err}"))
        .into_iter()
        .filter(|document| !document.is_null())
        .collect()
}

/// The object of `kind` and `name` among `objects`.
pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|object| object["kind"] == kind && object["metadata"]["name"] == name)
}

/// A cluster to install into, from `VIGIL_TEST_KUBECONFIG`.
pub struct Cluster {
    kubeconfig: PathBuf,
}

/// The cluster tests install into the same namespaces, one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

impl Cluster {
    /// The test cluster, held by this test alone until the guard drops. Refuses a cluster where
    /// Vigil is installed: these tests install it and delete it again.
    pub fn get() -> (Cluster, MutexGuard<'static, ()>) {
        let serial = SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let kubeconfig = std::env::var_os("VIGIL_TEST_KUBECONFIG")
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
            .expect(
                "VIGIL_TEST_KUBECONFIG names no kubeconfig: scripts/test.sh starts an API \
                 server and sets it; or point it at a test cluster",
            );
        let cluster = Cluster { kubeconfig };
        let existing = cluster.kubectl(&["get", "namespace", "vigil", "--ignore-not-found"]);
        assert!(
            existing.status.success() && existing.stdout.is_empty(),
            "the cluster has a namespace `vigil` already ({}{}): these tests install Vigil \
             there and delete it; use a cluster without it",
            text(&existing.stdout),
            text(&existing.stderr)
        );
        (cluster, serial)
    }

    /// kubectl on this cluster.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        let mut all: Vec<&OsStr> = vec!["--kubeconfig".as_ref(), self.kubeconfig.as_os_str()];
        all.extend(args.iter().map(OsStr::new));
        run(&all)
    }

    /// kubectl on this cluster, which must succeed; its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.kubectl(args);
        assert!(
            output.status.success(),
            "kubectl {}: {}{}",
            args.join(" "),
            text(&output.stdout),
            text(&output.stderr)
        );
        text(&output.stdout)
    }

    /// `kubectl auth can-i VERB RESOURCE` as the daemon, in `namespace` (`None`: across all).
    pub fn daemon_can(&self, verb: &str, resource: &str, namespace: Option<&str>) -> bool {
        let who = format!("--as={SERVICE_ACCOUNT}");
        let mut args = vec!["auth", "can-i", verb, resource, who.as_str()];
        match namespace {
            Some(namespace) => args.extend(["--namespace", namespace]),
            None => args.push("--all-namespaces"),
        }
        let output = self.kubectl(&args);
        match text(&output.stdout).trim() {
            "yes" => true,
            "no" => false,
            other => panic!(
                "kubectl {}: neither yes nor no: {other} {}",
                args.join(" "),
                text(&output.stderr)
            ),
        }
    }

    /// Creates `name` unless it exists, and deletes it when the guard drops if it was created.
    pub fn namespace(&self, name: &str) -> Namespace<'_> {
        let output = self.kubectl(&["create", "namespace", name]);
        let created = output.status.success();
        assert!(
            created || text(&output.stderr).contains("AlreadyExists"),
            "kubectl create namespace {name}: {}",
            text(&output.stderr)
        );
        Namespace {
            cluster: self,
            name: name.to_string(),
            created,
        }
    }

    /// `kubectl apply -k deploy/DIR` with `flags` (e.g. `--server-side`), uninstalled when
    /// the guard drops.
    pub fn install(&self, dir: &str, flags: &[&str]) -> Installed<'_> {
        let path = deploy_dir().join(dir);
        let path = path.to_str().expect("a UTF-8 path").to_string();
        self.ok(&[&["apply", "-k", &path], flags].concat());
        Installed {
            cluster: self,
            path,
        }
    }

    /// Waits until `kubectl get namespace NAME` finds nothing (panics after two minutes,
    /// unless the thread is panicking already: then it only stops waiting).
    fn wait_namespace_gone(&self, name: &str) {
        let gone = || {
            let output = self.kubectl(&["get", "namespace", name, "--ignore-not-found"]);
            output.status.success() && output.stdout.is_empty()
        };
        let deleted = within(Duration::from_secs(120), gone);
        assert!(
            deleted || std::thread::panicking(),
            "namespace {name}: not deleted within 2 min"
        );
    }
}

/// A namespace a test needs; see [`Cluster::namespace`].
pub struct Namespace<'a> {
    cluster: &'a Cluster,
    name: String,
    created: bool,
}

impl Drop for Namespace<'_> {
    fn drop(&mut self) {
        if self.created {
            self.cluster
                .kubectl(&["delete", "namespace", &self.name, "--wait=false"]);
            self.cluster.wait_namespace_gone(&self.name);
        }
    }
}

/// An install of one of `deploy/`'s directories; see [`Cluster::install`].
pub struct Installed<'a> {
    cluster: &'a Cluster,
    path: String,
}

impl Installed<'_> {
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl Drop for Installed<'_> {
    /// Uninstalls as docs/deploy.md says, and waits until the namespace `vigil` is gone, so that
    /// the next install starts from nothing.
    fn drop(&mut self) {
        let output = self.cluster.kubectl(&[
            "delete",
            "-k",
            &self.path,
            "--ignore-not-found",
            "--wait=false",
        ]);
        if !std::thread::panicking() {
            assert!(
                output.status.success(),
                "kubectl delete -k {}: {}",
                self.path,
                text(&output.stderr)
            );
        }
        self.cluster.wait_namespace_gone("vigil");
    }
}

/// Polls `done` until it holds (true) or `limit` passes (false).
fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
