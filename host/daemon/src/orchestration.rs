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
    /// Made at the first use for Kubernetes (connecting is async); at once for the local
    /// backend, whose routes the predict proxy reads.
    backend: OnceCell<Arc<dyn Orchestrator>>,
    /// The local backend, to stop its children when the daemon stops.
    local: Option<Arc<vigil_orchestrator::Local>>,
    /// The URL runs reach the daemon at, known once it listens.
    public_url: std::sync::OnceLock<String>,
}

impl Orchestration {
    pub fn new(config: Arc<Config>) -> anyhow::Result<Orchestration> {
        let backend = OnceCell::new();
        let mut local = None;
        if config.orchestrator == OrchestratorKind::Local {
            let made = vigil_orchestrator::Local::new(
                &config.run_dir,
                vigil_orchestrator::LocalSettings::default(),
            )
            .with_context(|| {
                format!(
                    "cannot set up the local orchestrator in `{}`",
                    config.run_dir
                )
            })?;
            let made = Arc::new(made);
            backend.set(made.clone() as Arc<dyn Orchestrator>).ok();
            local = Some(made);
        }
        let public_url = std::sync::OnceLock::new();
        if let Some(url) = &config.public_url {
            public_url.set(url.trim_end_matches('/').to_string()).ok();
        }
        Ok(Orchestration {
            kind: config.orchestrator,
            config,
            backend,
            local,
            public_url,
        })
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

    /// The backend, connecting to Kubernetes at the first call; an error when the
    /// orchestrator is `off`.
    pub async fn backend(&self) -> anyhow::Result<Arc<dyn Orchestrator>> {
        match self.kind {
            OrchestratorKind::Off => Err(anyhow!(
                "the daemon's orchestrator is `off`: nothing is run (see docs/orchestration.md)"
            )),
            OrchestratorKind::Local => Ok(self.backend.get().expect("set at start").clone()),
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
        if let Some(local) = &self.local {
            local.shutdown().await;
        }
    }

    /// Where the model's requests go now, when the local backend serves it.
    pub fn upstream(&self, model: &str) -> Option<Upstream> {
        self.backend.get()?.upstream(model)
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
