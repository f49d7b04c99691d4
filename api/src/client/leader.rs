//! Leader election on a `coordination.k8s.io/v1` Lease, as Kubernetes' components do it.
//!
//! Candidates race to write their identity into one Lease. The holder renews it every
//! `retry_period`; the others take it over once they have seen it unchanged for
//! `lease_duration` (judged on their own clock from when they observed the record, so clock
//! skew between machines does not matter). A holder that cannot renew for `renew_deadline`
//! stops its work before anyone else may start (`renew_deadline < lease_duration`). On a
//! clean shutdown the holder releases the Lease so a successor starts at once.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::Client;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Why leader election stopped.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("the leader work for lease {lease} ended on its own")]
    WorkEnded { lease: String },
}

/// One candidate's view of a leader election.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    pub namespace: String,
    pub name: String,
    /// This candidate: unique per process (`<host>_<uuid>`).
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

/// The Lease record as last seen, and when this process first saw it so.
struct Observed {
    resource_version: Option<String>,
    since: Instant,
}

impl LeaderElection {
    /// Kubernetes' defaults: the Lease `name` in kube-system, 15 s duration, 10 s renew
    /// deadline, 2 s retry period, and a fresh identity on `host`.
    pub fn new(name: &str, host: &str) -> Self {
        Self {
            namespace: "kube-system".to_owned(),
            name: name.to_owned(),
            identity: format!("{host}_{}", uuid::Uuid::new_v4()),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// Campaigns for the Lease until `shutdown`; while this candidate holds it, runs
    /// `lead(term)`, and cancels `term` (then waits for the work to end) when leadership is
    /// lost, after which it campaigns again. Releases the Lease on shutdown.
    ///
    /// # Errors
    /// When the work ends on its own while still leading.
    pub async fn run<F, Fut>(
        &self,
        client: Client,
        shutdown: CancellationToken,
        mut lead: F,
    ) -> Result<(), LeaderError>
    where
        F: FnMut(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let api: Api<Lease> = Api::namespaced(client, &self.namespace);
        let mut observed = None;
        loop {
            // Campaign.
            loop {
                match self.try_acquire_or_renew(&api, &mut observed).await {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(error) => {
                        warn!(lease = %self.name, %error, "failed to read or write the lease")
                    }
                }
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(self.jittered_retry()) => {}
                }
            }
            info!(lease = %self.name, identity = %self.identity, "became leader");
            let term = shutdown.child_token();
            let mut work = tokio::spawn(lead(term.clone()));
            let mut renewed = Instant::now();
            let outcome = loop {
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break Outcome::Shutdown,
                    // The work also ends when `term`, a child of `shutdown`, is cancelled.
                    _ = &mut work => break if shutdown.is_cancelled() {
                        Outcome::Shutdown
                    } else {
                        Outcome::WorkEnded
                    },
                    () = tokio::time::sleep(self.retry_period) => {}
                }
                match self.try_acquire_or_renew(&api, &mut observed).await {
                    Ok(true) => renewed = Instant::now(),
                    Ok(false) => break Outcome::Lost,
                    Err(error) => {
                        warn!(lease = %self.name, %error, "failed to renew the lease");
                        if renewed.elapsed() >= self.renew_deadline {
                            break Outcome::Lost;
                        }
                    }
                }
            };
            term.cancel();
            if !work.is_finished() {
                let _ = work.await;
            }
            match outcome {
                Outcome::Lost => warn!(lease = %self.name, "lost leadership; stopped leading"),
                Outcome::Shutdown => {
                    self.release(&api).await;
                    return Ok(());
                }
                Outcome::WorkEnded => {
                    self.release(&api).await;
                    return Err(LeaderError::WorkEnded {
                        lease: self.name.clone(),
                    });
                }
            }
        }
    }

    fn jittered_retry(&self) -> Duration {
        self.retry_period.mul_f64(1.0 + rand::random::<f64>() * 0.2)
    }

    /// Takes the Lease when it is free, expired or already ours, and renews it when ours.
    /// `Ok(false)`: another live candidate holds it (or won a race for it).
    async fn try_acquire_or_renew(
        &self,
        api: &Api<Lease>,
        observed: &mut Option<Observed>,
    ) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let duration_secs = i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    *observed = Some(Observed::new(&created));
                    Ok(true)
                }
                Err(error) if is_conflict(&error) => Ok(false),
                Err(error) => Err(error),
            };
        };
        let rv = lease.metadata.resource_version.clone();
        if observed.as_ref().is_none_or(|o| o.resource_version != rv) {
            *observed = Some(Observed::new(&lease));
        }
        let spec = lease.spec.take().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == self.identity;
        let held_for = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.lease_duration, Duration::from_secs);
        let expired = observed
            .as_ref()
            .is_none_or(|o| o.since.elapsed() >= held_for);
        if !ours && !holder.is_empty() && !expired {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0);
        lease.spec = Some(LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(duration_secs),
            acquire_time: if ours {
                spec.acquire_time
            } else {
                Some(now.clone())
            },
            renew_time: Some(now),
            lease_transitions: Some(if ours { transitions } else { transitions + 1 }),
            ..spec
        });
        match api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                *observed = Some(Observed::new(&written));
                Ok(true)
            }
            Err(error) if is_conflict(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Gives the Lease up so another candidate takes over without waiting for it to expire.
    async fn release(&self, api: &Api<Lease>) {
        let result = async {
            let Some(mut lease) = api.get_opt(&self.name).await? else {
                return Ok(());
            };
            let Some(spec) = lease.spec.as_mut() else {
                return Ok(());
            };
            if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
                return Ok(());
            }
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(MicroTime(Timestamp::now()));
            api.replace(&self.name, &PostParams::default(), &lease)
                .await
                .map(|_| ())
        }
        .await;
        match result {
            Ok(()) => info!(lease = %self.name, "released the lease"),
            Err(error) => warn!(lease = %self.name, %error, "failed to release the lease"),
        }
    }
}

enum Outcome {
    Shutdown,
    Lost,
    WorkEnded,
}

impl Observed {
    fn new(lease: &Lease) -> Self {
        Self {
            resource_version: lease.metadata.resource_version.clone(),
            since: Instant::now(),
        }
    }
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}
