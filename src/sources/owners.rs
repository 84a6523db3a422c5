//! Pod names -> workloads: the heuristics every source falls back on when it is not told a
//! pod's owner chain. Controllers name their pods predictably:
//!
//! ```text
//! Deployment   api-5d9c7b8f6d-x2x9z      <name>-<pod-template hash>-<5-char suffix>
//! StatefulSet  db-0                      <name>-<ordinal>
//! DaemonSet    fluent-bit-x2x9z          <name>-<5-char suffix>
//! CronJob      report-29012345-x2x9z     <name>-<minutes since epoch>-<5-char suffix>
//! ```
//!
//! The hashes and suffixes use Kubernetes' safe alphabet (no vowels, no 0, 1, 3), which is
//! what tells `my-app-aaaaaa-bbbbb` (its own pod) from a Deployment's pod.

/// The characters of pod-template hashes and pod-name suffixes.
const NAME_HASH_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";

/// True when `s` is `min..=max` characters of the safe alphabet.
pub(crate) fn is_hash(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.chars().all(|c| NAME_HASH_ALPHABET.contains(c))
}

/// `api-5b8f7d9c4-x2x9k` -> `api`: the Deployment of a pod named by a ReplicaSet.
pub(crate) fn deployment_of_pod(pod: &str) -> Option<&str> {
    let mut parts = pod.rsplitn(3, '-');
    let (suffix, hash, base) = (parts.next()?, parts.next()?, parts.next()?);
    (is_hash(suffix, 5, 5) && is_hash(hash, 6, 10) && !base.is_empty()).then_some(base)
}

/// `<cronjob>-<minutes since epoch>`: the name the CronJob controller gives its Jobs.
pub(crate) fn cronjob_of(job: &str) -> Option<&str> {
    let (base, stamp) = job.rsplit_once('-')?;
    (stamp.len() >= 8 && stamp.chars().all(|c| c.is_ascii_digit()) && !base.is_empty()).then_some(base)
}

/// The workload of a pod from one owner reference, climbing ReplicaSet -> Deployment and
/// Job -> CronJob by name (without the owner chain). `template_hash` is the pod's
/// `pod-template-hash` label when known.
pub(crate) fn workload_from_owner(kind: &str, name: &str, pod: &str, template_hash: Option<&str>) -> (String, String) {
    match kind {
        "ReplicaSet" => {
            let base = template_hash
                .and_then(|h| name.strip_suffix(h).and_then(|b| b.strip_suffix('-')))
                .or_else(|| name.rsplit_once('-').filter(|(_, h)| is_hash(h, 6, 10)).map(|(b, _)| b));
            match base {
                Some(b) if !b.is_empty() => ("Deployment".into(), b.to_string()),
                _ => ("ReplicaSet".into(), name.to_string()),
            }
        }
        "Job" => match cronjob_of(name) {
            Some(c) => ("CronJob".into(), c.to_string()),
            None => ("Job".into(), name.to_string()),
        },
        // Static (mirror) pods are owned by their node: each is its own workload.
        "Node" => ("Pod".into(), pod.to_string()),
        other => (crate::domain::canonical_kind(other), name.to_string()),
    }
}

/// The kind of the controller named `owner` that named `pod`, read from the rest of the
/// pod's name; `None` when the name does not follow a controller's pattern.
pub(crate) fn kind_from_pod_name(owner: &str, pod: &str) -> Option<&'static str> {
    if owner == pod || owner.is_empty() {
        return None;
    }
    let suffix = pod.strip_prefix(owner)?.strip_prefix('-')?;
    match suffix.split_once('-') {
        Some((hash, id)) if is_hash(hash, 6, 10) && is_hash(id, 5, 5) => Some("Deployment"),
        Some((stamp, id)) if stamp.len() >= 8 && stamp.chars().all(|c| c.is_ascii_digit()) && is_hash(id, 5, 5) => {
            Some("CronJob")
        }
        None if !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_digit()) => Some("StatefulSet"),
        None if is_hash(suffix, 5, 5) => Some("DaemonSet"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_climb_to_the_workload() {
        let w = |k, n, p, h| workload_from_owner(k, n, p, h);
        assert_eq!(
            w("ReplicaSet", "api-5b8f7d9c4", "api-5b8f7d9c4-x2x9k", Some("5b8f7d9c4")),
            ("Deployment".into(), "api".into())
        );
        assert_eq!(w("ReplicaSet", "api-5b8f7d9c4", "api-5b8f7d9c4-x2x9k", None), ("Deployment".into(), "api".into()));
        assert_eq!(w("ReplicaSet", "legacy", "legacy-abcde", None), ("ReplicaSet".into(), "legacy".into()));
        assert_eq!(w("Deployment", "statsd", "statsd-df44f855f-ts4q2", None), ("Deployment".into(), "statsd".into()));
        assert_eq!(w("Job", "backup-29012345", "backup-29012345-abcde", None), ("CronJob".into(), "backup".into()));
        assert_eq!(w("Job", "migrate", "migrate-abcde", None), ("Job".into(), "migrate".into()));
        assert_eq!(
            w("Node", "ip-10-0-0-1", "kube-proxy-ip-10-0-0-1", None),
            ("Pod".into(), "kube-proxy-ip-10-0-0-1".into())
        );
        assert_eq!(w("statefulset", "db", "db-0", None), ("StatefulSet".into(), "db".into()));
    }

    #[test]
    fn kinds_and_deployments_from_pod_names() {
        assert_eq!(kind_from_pod_name("api", "api-5b8f7d9c4-x2x9k"), Some("Deployment"));
        assert_eq!(kind_from_pod_name("db", "db-12"), Some("StatefulSet"));
        assert_eq!(kind_from_pod_name("fluent-bit", "fluent-bit-x2x9k"), Some("DaemonSet"));
        assert_eq!(kind_from_pod_name("report", "report-29012345-x2x9k"), Some("CronJob"));
        assert_eq!(kind_from_pod_name("debug", "debug"), None);
        assert_eq!(kind_from_pod_name("api", "other-1"), None);
        assert_eq!(deployment_of_pod("web-7c9d5f8b6-bcdfg"), Some("web"));
        assert_eq!(deployment_of_pod("db-0"), None);
        assert_eq!(deployment_of_pod("my-app-aaaaaa-bbbbb"), None, "vowels are not in pod hashes");
        assert_eq!(cronjob_of("backup-29012345"), Some("backup"));
        assert_eq!(cronjob_of("migrate"), None);
    }
}
