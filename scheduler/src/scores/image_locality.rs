//! ImageLocality: nodes that already hold the pod's images score higher, by image size.

use crate::cache::NodeInfo;
use crate::pod_info::PodInfo;
use crate::scores::MAX_SCORE;

const MB: i64 = 1024 * 1024;
/// Below this much image data present, the score is 0.
const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container, this much image data present gives the full score.
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// Size of the pod's images present on the node, scaled between the thresholds.
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    if pod.images.is_empty() || node.images.is_empty() {
        return 0;
    }
    let present: i64 = pod
        .images
        .iter()
        .filter_map(|image| {
            node.images
                .get(image)
                .or_else(|| node.images.get(&format!("docker.io/library/{image}")))
        })
        .sum();
    let max = MAX_CONTAINER_THRESHOLD * pod.images.len() as i64;
    let clamped = present.clamp(MIN_THRESHOLD, max);
    (clamped - MIN_THRESHOLD) * MAX_SCORE / (max - MIN_THRESHOLD)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn present_images_score() {
        let pod = PodInfo {
            images: vec!["big".into()],
            ..PodInfo::default()
        };
        let mut node = NodeInfo::default();
        assert_eq!(score(&pod, &node), 0);
        node.images.insert("big".into(), 1000 * MB);
        assert_eq!(score(&pod, &node), 100);
    }
}
