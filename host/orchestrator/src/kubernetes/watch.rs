//! Waiting on one object through a watch (a list, then a watch from its resourceVersion, resumed
//! after a dropped connection), with the backend's backoff between failed attempts.

use std::fmt::Debug;
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::Api;
use kube::runtime::watcher;
use kube::{Resource, runtime::watcher::watch_object};
use serde::de::DeserializeOwned;
use tokio::time::{Instant, timeout_at};

use super::{Kubernetes, api, retry::is_transient};
use crate::{Error, Result};

/// What a look at the object found.
pub enum Step<T> {
    /// The wait is over.
    Done(T),
    /// Not yet, and why (reported when the deadline passes).
    Wait(String),
}

/// Watches `name` through `api` until `check` (called with the object, `None` when it does not
/// exist) says [`Step::Done`]. With a `deadline`, gives up when it passes and returns the last
/// reason to wait as `Err`.
pub async fn until<K, T>(
    k8s: &Kubernetes,
    api: Api<K>,
    name: &str,
    what: &str,
    deadline: Option<Duration>,
    mut check: impl FnMut(Option<&K>) -> Step<T>,
) -> Result<Result<T, String>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let deadline = deadline.map(|after| Instant::now() + after);
    let mut waiting_for = String::from("no answer from the API server yet");
    let mut delays = k8s.retry.delays();
    let events = watch_object(api, name);
    futures_util::pin_mut!(events);
    loop {
        let next = match deadline {
            Some(at) => match timeout_at(at, events.next()).await {
                Ok(next) => next,
                Err(_) => return Ok(Err(waiting_for)),
            },
            None => events.next().await,
        };
        let err = match next {
            Some(Ok(object)) => {
                delays = k8s.retry.delays();
                match check(object.as_ref()) {
                    Step::Done(done) => return Ok(Ok(done)),
                    Step::Wait(reason) => {
                        waiting_for = reason;
                        continue;
                    }
                }
            }
            Some(Err(err)) => err,
            None => {
                return Err(Error::Unavailable(format!("{what}: the watch ended")));
            }
        };
        // The watcher starts over (a new list) on the next poll; between failures, back off.
        let err = match err {
            // The resourceVersion expired: relisting at once is the cure, not an error.
            watcher::Error::WatchError(status) if status.code == 410 => continue,
            watcher::Error::WatchError(status) => kube::Error::Api(status),
            watcher::Error::InitialListFailed(err)
            | watcher::Error::WatchStartFailed(err)
            | watcher::Error::WatchFailed(err) => err,
            watcher::Error::NoResourceVersion => {
                return Err(Error::Invalid(format!(
                    "{what}: the API server sent no resourceVersion"
                )));
            }
        };
        if !is_transient(&err) {
            return Err(api::error(what, err));
        }
        let Some(delay) = delays.next() else {
            return Err(api::error(what, err));
        };
        tracing::warn!(request = what, error = %super::retry::describe(&err), ?delay, "watch failed, retrying");
        match deadline {
            Some(at) => {
                if timeout_at(at, tokio::time::sleep(delay)).await.is_err() {
                    return Ok(Err(format!(
                        "{waiting_for}; the API server was failing: {}",
                        super::retry::describe(&err)
                    )));
                }
            }
            None => tokio::time::sleep(delay).await,
        }
    }
}
