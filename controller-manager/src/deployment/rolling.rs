//! Rollout arithmetic, free of I/O: surge and unavailability budgets, how far to scale the
//! new ReplicaSet up and the old ones down, and proportional scaling.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::revision;

/// `spec.replicas` of a ReplicaSet (default 1, as the API defaults it).
#[must_use]
pub fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `status.availableReplicas` of a ReplicaSet.
#[must_use]
pub fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

/// Whether the Deployment uses the Recreate strategy.
#[must_use]
pub fn is_recreate(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("Recreate")
}

/// An int or a percent of `total`, rounded up or down (`GetScaledValueFromIntOrPercent`).
/// Unreadable percents count as 0.
fn scaled(value: &IntOrString, total: i32, round_up: bool) -> i32 {
    match value {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let Some(pct) = s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
                return 0;
            };
            let product = pct * i64::from(total);
            let v = if round_up {
                product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(v).unwrap_or(0)
        }
    }
}

/// `(maxSurge, maxUnavailable)` for the rolling update, at least one of them positive.
#[must_use]
pub fn fenceposts(d: &Deployment) -> (i32, i32) {
    let replicas = revision::replicas_of(d);
    let rolling = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::String("25%".into());
    let surge = rolling
        .and_then(|r| r.max_surge.as_ref())
        .unwrap_or(&quarter);
    let unavailable = rolling
        .and_then(|r| r.max_unavailable.as_ref())
        .unwrap_or(&quarter);
    let surge = scaled(surge, replicas, true).max(0);
    let unavailable = scaled(unavailable, replicas, false).max(0);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// The surge allowed (0 for Recreate).
#[must_use]
pub fn max_surge(d: &Deployment) -> i32 {
    if is_recreate(d) {
        0
    } else {
        fenceposts(d).0
    }
}

/// The unavailability allowed (0 for Recreate), never more than the replicas.
#[must_use]
pub fn max_unavailable(d: &Deployment) -> i32 {
    let replicas = revision::replicas_of(d);
    if is_recreate(d) || replicas == 0 {
        return 0;
    }
    fenceposts(d).1.min(replicas)
}

/// Replicas the new ReplicaSet should have now (`NewRSNewReplicas`).
#[must_use]
pub fn new_rs_replicas(d: &Deployment, all: &[ReplicaSet], new_spec: i32) -> i32 {
    let replicas = revision::replicas_of(d);
    if is_recreate(d) {
        return replicas;
    }
    let (surge, _) = fenceposts(d);
    let current: i32 = all.iter().map(spec_replicas).sum();
    let max_total = replicas + surge;
    if current >= max_total {
        return new_spec;
    }
    let up = (max_total - current).min(replicas - new_spec).max(0);
    new_spec + up
}

/// How many old replicas may go now (`maxScaledDown` of `reconcileOldReplicaSets`).
#[must_use]
pub fn old_scale_down_budget(d: &Deployment, all: &[ReplicaSet], new: Option<&ReplicaSet>) -> i32 {
    let total: i32 = all.iter().map(spec_replicas).sum();
    let min_available = revision::replicas_of(d) - max_unavailable(d);
    let new_unavailable = new.map_or(0, |rs| spec_replicas(rs) - available(rs));
    total - min_available - new_unavailable
}

/// New sizes for old ReplicaSets, first shedding their unhealthy replicas up to `budget`
/// (`cleanupUnhealthyReplicas`), oldest first. Returns `(index, new size)` pairs and the
/// count removed.
#[must_use]
pub fn shed_unhealthy(old: &[ReplicaSet], budget: i32) -> (Vec<(usize, i32)>, i32) {
    let mut done = 0;
    let mut out = Vec::new();
    for (i, rs) in old.iter().enumerate() {
        if done >= budget {
            break;
        }
        let spec = spec_replicas(rs);
        if spec == 0 || spec == available(rs) {
            continue;
        }
        let down = (budget - done).min(spec - available(rs)).max(0);
        if down > 0 {
            out.push((i, spec - down));
            done += down;
        }
    }
    (out, done)
}

/// New sizes for old ReplicaSets keeping `min available` pods (`scaleDownOldReplicaSetsForRollingUpdate`),
/// oldest first.
#[must_use]
pub fn scale_down_available(
    d: &Deployment,
    all: &[ReplicaSet],
    old: &[ReplicaSet],
) -> Vec<(usize, i32)> {
    let min_available = revision::replicas_of(d) - max_unavailable(d);
    let available_now: i32 = all.iter().map(available).sum();
    if available_now <= min_available {
        return Vec::new();
    }
    let total = available_now - min_available;
    let mut done = 0;
    let mut out = Vec::new();
    for (i, rs) in old.iter().enumerate() {
        if done >= total {
            break;
        }
        let spec = spec_replicas(rs);
        if spec == 0 {
            continue;
        }
        let down = spec.min(total - done);
        out.push((i, spec - down));
        done += down;
    }
    out
}

/// New sizes when the Deployment is resized mid-rollout: spread the change over the active
/// ReplicaSets in proportion to their sizes (`scale`'s proportional branch). `active` is
/// ordered largest first (newer first when adding, older first when removing).
#[must_use]
pub fn proportional(d: &Deployment, active: &[ReplicaSet]) -> Vec<i32> {
    let replicas = revision::replicas_of(d);
    let surge = max_surge(d);
    let current: i32 = active.iter().map(spec_replicas).sum();
    let allowed = if replicas > 0 { replicas + surge } else { 0 };
    let to_add = allowed - current;
    let mut added = 0;
    let mut sizes: Vec<i32> = active.iter().map(spec_replicas).collect();
    if to_add == 0 {
        return sizes;
    }
    for (i, rs) in active.iter().enumerate() {
        let fraction = fraction(d, rs, replicas + surge);
        let allowed_left = to_add - added;
        let step = if to_add > 0 {
            fraction.min(allowed_left)
        } else {
            fraction.max(allowed_left)
        };
        sizes[i] += step;
        added += step;
    }
    if let Some(first) = sizes.first_mut() {
        *first = (*first + to_add - added).max(0);
    }
    sizes
}

/// The change a ReplicaSet gets for the Deployment's new size (`getReplicaSetFraction`).
fn fraction(d: &Deployment, rs: &ReplicaSet, new_total: i32) -> i32 {
    let spec = spec_replicas(rs);
    if revision::replicas_of(d) == 0 {
        return -spec;
    }
    let old_total = revision::annotated(&rs.metadata, revision::MAX_REPLICAS)
        .unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    if old_total <= 0 {
        return 0;
    }
    let scaled = f64::from(spec) * f64::from(new_total) / f64::from(old_total);
    // Sizes are small integers: the rounded value fits an i32.
    #[allow(clippy::cast_possible_truncation)]
    let rounded = scaled.round() as i32;
    rounded - spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};

    fn deploy(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(surge),
                        max_unavailable: Some(unavailable),
                    }),
                }),
                ..DeploymentSpec::default()
            }),
            ..Deployment::default()
        }
    }

    #[test]
    fn percents_round_surge_up_and_unavailable_down() {
        let d = deploy(
            10,
            IntOrString::String("25%".into()),
            IntOrString::String("25%".into()),
        );
        assert_eq!(fenceposts(&d), (3, 2));
        let d = deploy(3, IntOrString::Int(0), IntOrString::Int(0));
        assert_eq!(fenceposts(&d), (0, 1));
        let d = deploy(
            1,
            IntOrString::String("25%".into()),
            IntOrString::String("25%".into()),
        );
        assert_eq!(fenceposts(&d), (1, 0));
    }
}
