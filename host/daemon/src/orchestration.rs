//! The daemon's side of acting on models: which orchestrator backend runs retraining and
//! rollouts (from the `orchestrator` setting), and turning a monitor's `actions` section into
//! what the backend runs, checked again against the operator's allowlists at the moment it
//! runs (see docs/orchestration.md).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use tokio::sync::OnceCell;
use vigil_orchestrator::{JobTemplate, Orchestrator, RolloutTarget, Upstream};

use crate::config::{Config, OrchestratorKind};
use crate::monitor::spec::{ActionsSpec, RetrainSpec, RolloutSpec};

pub struct Orchestration {
    kind: OrchestratorKind,
    config: Arc<Config>,
    /// Made at the first use (connecting to Kubernetes is async; the local backend makes its
    /// directories), so a daemon that never acts touches neither.
    backend: OnceCell<Arc<dyn Orchestrator>>,
    /// The local backend once made: its routes are what the predict proxy reads, and its
    /// children are stopped when the daemon stops.
    local: OnceCell<Arc<vigil_orchestrator::Local>>,
    /// The URL runs reach the daemon at, known once it listens.
    public_url: std::sync::OnceLock<String>,
}

impl Orchestration {
    pub fn new(config: Arc<Config>) -> Orchestration {
        let public_url = std::sync::OnceLock::new();
        if let Some(url) = &config.public_url {
            public_url.set(url.trim_end_matches('/').to_string()).ok();
        }
        Orchestration {
            kind: config.orchestrator,
            config,
            backend: OnceCell::new(),
            local: OnceCell::new(),
            public_url,
        }
    }

    /// Records the address the daemon listens on, for runs' `VIGIL_URL` (unless
    /// `public_url` is set).
    pub fn set_listening(&self, mut address: std::net::SocketAddr) {
        // Listening on every interface: runs on this machine reach it on loopback.
        if address.ip().is_unspecified() {
            address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        self.public_url.set(format!("http://{address}")).ok();
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .get()
            .cloned()
            .unwrap_or_else(|| format!("http://{}", self.config.listen))
    }

    pub fn training_timeout(&self) -> Duration {
        Duration::from_secs(self.config.training_timeout_secs)
    }

    pub fn rollout_timeout(&self) -> Duration {
        Duration::from_secs(self.config.rollout_timeout_secs)
    }

    /// How often a serving version's target is checked between rollouts; `None`: never (or
    /// nothing runs).
    pub fn target_check_interval(&self) -> Option<Duration> {
        (self.config.target_check_secs > 0 && self.kind != OrchestratorKind::Off)
            .then(|| Duration::from_secs(self.config.target_check_secs))
    }

    /// The backend, connecting to Kubernetes at the first call; an error when the
    /// orchestrator is `off`.
    pub async fn backend(&self) -> anyhow::Result<Arc<dyn Orchestrator>> {
        match self.kind {
            OrchestratorKind::Off => Err(anyhow!(
                "the daemon's orchestrator is `off`: nothing is run (see docs/orchestration.md)"
            )),
            OrchestratorKind::Local => {
                let local = self
                    .local
                    .get_or_try_init(|| async {
                        let local = vigil_orchestrator::Local::new(
                            &self.config.run_dir,
                            vigil_orchestrator::LocalSettings::default(),
                        )
                        .with_context(|| {
                            format!(
                                "cannot set up the local orchestrator in `{}`",
                                self.config.run_dir
                            )
                        })?;
                        anyhow::Ok(Arc::new(local))
                    })
                    .await?;
                Ok(local.clone())
            }
            OrchestratorKind::Kubernetes => {
                let backend = self
                    .backend
                    .get_or_try_init(|| async {
                        let kube = vigil_orchestrator::Kubernetes::try_default()
                            .await
                            .context("cannot connect to Kubernetes")?;
                        anyhow::Ok(Arc::new(kube) as Arc<dyn Orchestrator>)
                    })
                    .await?;
                Ok(backend.clone())
            }
        }
    }

    /// Stops what the local backend runs (model servers, runs: a run stopped this way runs
    /// again at the next start).
    pub async fn shutdown(&self) {
        if let Some(local) = self.local.get() {
            local.shutdown().await;
        }
    }

    /// Where the model's requests go now, when the local backend serves it.
    pub fn upstream(&self, model: &str) -> Option<Upstream> {
        self.local.get()?.upstream(model)
    }

    /// What runs the monitor's retraining, checked against the operator's configuration now.
    pub fn job(&self, actions: &ActionsSpec) -> Result<Option<JobTemplate>, String> {
        actions.allowed_by(&self.config)?;
        Ok(match &actions.retrain {
            None => None,
            Some(RetrainSpec::Local { command }) => {
                Some(JobTemplate::Local(self.config.commands[command].clone()))
            }
            Some(RetrainSpec::Kubernetes(job)) => Some(JobTemplate::Kubernetes(job.clone())),
        })
    }

    /// What serves the monitor's model, checked against the operator's configuration now.
    pub fn target(&self, actions: &ActionsSpec) -> Result<Option<RolloutTarget>, String> {
        actions.allowed_by(&self.config)?;
        Ok(actions.rollout.as_ref().map(|rollout| match rollout {
            RolloutSpec::Local {
                command,
                health_path,
            } => RolloutTarget::Local {
                command: self.config.commands[command].clone(),
                health_path: health_path.clone(),
            },
            RolloutSpec::Deployment {
                namespace,
                name,
                container,
                image,
                model_uri_env,
            } => RolloutTarget::Deployment {
                namespace: namespace.clone(),
                name: name.clone(),
                container: container.clone(),
                image: image.clone(),
                model_uri_env: model_uri_env.clone(),
            },
            RolloutSpec::Kserve { namespace, name } => RolloutTarget::KServe {
                namespace: namespace.clone(),
                name: name.clone(),
            },
        }))
    }
}
