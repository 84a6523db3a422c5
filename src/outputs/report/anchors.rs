//! The ids report headings carry and its links point to (`#c-...` in the changes table).
//!
//! Two distinct containers must never share one, or a link lands on the wrong chart. Each
//! name goes through the file-name encoder (`names::safe_name`: `a-z`, `0-9` and `-` kept,
//! every other byte `_` and two hex digits) and the names are joined by `.`, which the
//! encoder never yields: the id is injective, stable from week to week whatever else the
//! report holds, and safe in an HTML attribute and a URL fragment.

use super::{ContainerDoc, WorkloadDoc};
use crate::outputs::names::{kind_word, safe_name};

/// The API's kinds as their lower-case word; any other kind encoded behind a `_`, so
/// `deployment` (not a kind the API has) never takes `Deployment`'s id.
fn kind(kind: &str) -> String {
    let word = kind_word(kind);
    if crate::domain::WORKLOAD_KINDS.contains(&kind) {
        word
    } else {
        format!("_{}", safe_name(kind))
    }
}

fn join(prefix: &str, cluster: &str, names: &[&str]) -> String {
    // An empty cluster (samples without one) adds no part: the part count tells them apart.
    let cluster = (!cluster.is_empty()).then_some(cluster);
    let mut parts: Vec<String> = cluster.into_iter().map(safe_name).collect();
    parts.extend(names.iter().enumerate().map(|(i, n)| if i == 1 { n.to_string() } else { safe_name(n) }));
    format!("{prefix}-{}", parts.join("."))
}

/// `c-shop.deployment.api.php-fpm` (`c-prod.shop...` with a cluster).
pub(super) fn container(c: &ContainerDoc) -> String {
    join("c", &c.cluster, &[&c.namespace, &kind(&c.workload.kind), &c.workload.name, &c.container])
}

/// `w-shop.deployment.api`.
pub(super) fn workload(w: &WorkloadDoc) -> String {
    join("w", &w.cluster, &[&w.namespace, &kind(&w.kind), &w.name])
}

/// `cluster-prod-eu`.
pub(super) fn cluster(name: &str) -> String {
    format!("cluster-{}", safe_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::report::{NowProposed, RiskDoc, UsageDoc, WorkloadRefDoc};

    fn doc(cluster: &str, ns: &str, kind: &str, name: &str, container: &str) -> ContainerDoc {
        ContainerDoc {
            cluster: cluster.into(),
            namespace: ns.into(),
            workload: WorkloadRefDoc { kind: kind.into(), name: name.into() },
            container: container.into(),
            replicas: 1.0,
            usage: UsageDoc::default(),
            monthly_cost: NowProposed::default(),
            risk: RiskDoc::default(),
            chart: String::new(),
        }
    }

    #[test]
    fn names_that_slugs_merged_get_distinct_anchors() {
        // Each pair collided under the old `-`-joined slugs.
        let pairs = [
            (("", "shop", "Deployment", "api-envoy", "x"), ("", "shop", "Deployment", "api", "envoy-x")),
            (("", "shop", "Deployment", "api", "col.x"), ("", "shop", "Deployment", "api", "col-x")),
            (("", "shop", "Deployment", "api", "COL-X"), ("", "shop", "Deployment", "api", "col-x")),
            (("", "a-b", "Deployment", "c", "d"), ("", "a", "Deployment", "b-c", "d")),
            (("prod", "shop", "Deployment", "api", "x"), ("", "prod", "shop", "Deployment", "api.x")),
            (("a.b", "c", "Deployment", "d", "e"), ("a", "b.c", "Deployment", "d", "e")),
        ];
        for (a, b) in pairs {
            let (x, y) = (container(&doc(a.0, a.1, a.2, a.3, a.4)), container(&doc(b.0, b.1, b.2, b.3, b.4)));
            assert_ne!(x, y, "{a:?} vs {b:?}");
        }
        assert_eq!(container(&doc("", "shop", "Deployment", "api", "php-fpm")), "c-shop.deployment.api.php-fpm");
        assert_eq!(container(&doc("prod-eu", "shop", "StatefulSet", "db", "pg")), "c-prod-eu.shop.statefulset.db.pg");
        assert_ne!(cluster("Prod"), cluster("prod"));
    }

    #[test]
    fn anchors_are_injective_and_attribute_safe() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
            cases: 256,
            rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            ..Default::default()
        });
        let name = "[a-zA-Z0-9._\\-/ \n\u{1b}]{0,8}";
        let key = (name, name, name, name);
        runner
            .run(&(key, key), |(a, b)| {
                let (x, y) = (container(&doc("", &a.0, &a.1, &a.2, &a.3)), container(&doc("", &b.0, &b.1, &b.2, &b.3)));
                prop_assert_eq!(x == y, a == b);
                prop_assert!(x.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)), "{}", x);
                Ok(())
            })
            .unwrap();
    }
}
