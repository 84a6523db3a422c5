//! php-fpm exporter series (hipages/php-fpm_exporter) read through the Prometheus API as
//! side facts: the highest memory one child reached, the most active and total processes and
//! how often `pm.max_children` was reached, per pod over the import's window. The exporter
//! runs as a sidecar, so its series carry the pod's `namespace` and `pod` labels.

use super::prometheus::{promql_duration, Client, Labels, PrometheusError, Scope, PHP_FPM_EXPORTER_REQUESTS};
use std::collections::BTreeMap;

/// One pod's figures over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PodFigures {
    pub per_child_peak_bytes: Option<f64>,
    pub max_active: Option<f64>,
    pub max_total: Option<f64>,
    pub max_children_reached: Option<f64>,
}

/// The instant queries, each `max by (namespace, pod)` over the window ending at its time.
pub(crate) fn queries(scope: &Scope, window_ms: i64) -> [(&'static str, String); PHP_FPM_EXPORTER_REQUESTS as usize] {
    let r = promql_duration(window_ms.max(60_000));
    let sel = |metric: &str| scope.ksm(metric, &[]);
    [
        (
            "per_child_peak_bytes",
            format!("max by (namespace, pod) (max_over_time({}[{r}]))", sel("phpfpm_process_last_request_memory")),
        ),
        ("max_active", format!("max by (namespace, pod) (max_over_time({}[{r}]))", sel("phpfpm_active_processes"))),
        ("max_total", format!("max by (namespace, pod) (max_over_time({}[{r}]))", sel("phpfpm_total_processes"))),
        (
            "max_children_reached",
            format!("max by (namespace, pod) (increase({}[{r}]))", sel("phpfpm_max_children_reached")),
        ),
    ]
}

/// Most processes one php-fpm pool can count (`pm.max_children` is a 32-bit count).
const MAX_PROCESSES: f64 = u32::MAX as f64;

/// Checks one figure like a sample: finite, not negative, and within what one container can
/// hold (64Ti for the per-child memory, a 32-bit count for the process figures). The
/// message names the value; the caller names the field and where it came from.
pub(crate) fn check(field: &str, value: f64) -> Result<(), String> {
    if field == "per_child_peak_bytes" {
        return crate::domain::bounds::check_memory(value);
    }
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{} is not a count (finite, not negative)", crate::domain::bounds::short_number(value)));
    }
    if value > MAX_PROCESSES {
        return Err(format!("{} is more processes than a pool can have", crate::domain::bounds::short_number(value)));
    }
    Ok(())
}

/// Folds one query's answer into the per-pod figures; a figure out of bounds is refused,
/// naming its metric and pod.
pub(crate) fn fold(
    figures: &mut BTreeMap<(String, String), PodFigures>,
    field: &str,
    answer: &[(Labels, f64)],
) -> Result<(), String> {
    for (labels, value) in answer {
        let (Some(ns), Some(pod)) = (labels.get("namespace"), labels.get("pod")) else { continue };
        check(field, *value)
            .map_err(|reason| format!("php-fpm exporter figure {field} of pod {ns}/{pod}: {reason}"))?;
        let f = figures.entry((ns.clone(), pod.clone())).or_default();
        let slot = match field {
            "per_child_peak_bytes" => &mut f.per_child_peak_bytes,
            "max_active" => &mut f.max_active,
            "max_total" => &mut f.max_total,
            _ => &mut f.max_children_reached,
        };
        *slot = Some(slot.map_or(*value, |v: f64| v.max(*value)));
    }
    Ok(())
}

/// Asks Prometheus for the four figures at `end_ms` over `window_ms`. Four requests; an
/// answer without exporter series is simply empty.
pub(crate) fn fetch(
    client: &Client,
    scope: &Scope,
    end_ms: i64,
    window_ms: i64,
) -> Result<BTreeMap<(String, String), PodFigures>, PrometheusError> {
    let mut figures = BTreeMap::new();
    for (field, q) in queries(scope, window_ms) {
        fold(&mut figures, field, &client.query(&q, end_ms)?)
            .map_err(|message| PrometheusError::BadResponse { url: client.url().to_string(), message })?;
    }
    Ok(figures)
}

/// The container the exporter speaks for: the one named `php-fpm`, else the only one whose
/// name contains `php`.
pub(crate) fn php_container<'a>(containers: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let all: Vec<&str> = containers.into_iter().collect();
    if let Some(c) = all.iter().find(|c| **c == "php-fpm") {
        return Some(c);
    }
    let php: Vec<&&str> = all.iter().filter(|c| c.contains("php")).collect();
    (php.len() == 1).then(|| *php[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ns: &str, pod: &str) -> Labels {
        [("namespace".to_string(), ns.to_string()), ("pod".to_string(), pod.to_string())].into_iter().collect()
    }

    #[test]
    fn folds_answers_per_pod_keeping_the_highest() {
        let mut f = BTreeMap::new();
        fold(&mut f, "per_child_peak_bytes", &[(labels("shop", "api-1"), 2.0e8), (labels("shop", "api-2"), 1.5e8)])
            .unwrap();
        fold(&mut f, "per_child_peak_bytes", &[(labels("shop", "api-1"), 1.0e8)]).unwrap();
        fold(&mut f, "max_children_reached", &[(labels("shop", "api-1"), 3.0), (Labels::new(), 9.0)]).unwrap();
        let api1 = f[&("shop".to_string(), "api-1".to_string())];
        assert_eq!(api1.per_child_peak_bytes, Some(2.0e8));
        assert_eq!(api1.max_children_reached, Some(3.0));
        assert_eq!(api1.max_active, None);
        assert_eq!(f.len(), 2, "a series without namespace/pod is not attributed");
    }

    #[test]
    fn figures_out_of_bounds_are_refused_naming_metric_and_pod() {
        // (field, value, refused)
        let cases = [
            ("per_child_peak_bytes", 2.0e8, false),
            ("per_child_peak_bytes", 0.0, false),
            ("per_child_peak_bytes", -1.0, true),
            ("per_child_peak_bytes", f64::NAN, true),
            ("per_child_peak_bytes", f64::INFINITY, true),
            ("per_child_peak_bytes", 1e300, true),
            ("per_child_peak_bytes", 65.0 * 1024f64.powi(4), true),
            ("max_active", 7.0, false),
            ("max_active", -3.0, true),
            ("max_total", f64::NAN, true),
            ("max_children_reached", 1e300, true),
            ("max_children_reached", 12.0, false),
        ];
        for (field, value, refused) in cases {
            let mut f = BTreeMap::new();
            let result = fold(&mut f, field, &[(labels("shop", "api-1"), value)]);
            assert_eq!(result.is_err(), refused, "{field} = {value}: {result:?}");
            if let Err(e) = result {
                assert!(e.contains(field) && e.contains("shop/api-1"), "{e}");
                assert!(f.is_empty(), "nothing kept from a refused answer");
            }
        }
    }

    #[test]
    fn queries_keep_the_scope() {
        let scope = Scope { namespaces: vec!["shop".into()], cluster: None, selector: None };
        let q = queries(&scope, 7 * 86_400_000);
        assert_eq!(
            q[0].1,
            r#"max by (namespace, pod) (max_over_time(phpfpm_process_last_request_memory{namespace=~"shop"}[604800s]))"#
        );
        assert!(q[3].1.starts_with("max by (namespace, pod) (increase(phpfpm_max_children_reached{"));
    }

    #[test]
    fn picks_the_php_container() {
        assert_eq!(php_container(["nginx", "php-fpm", "envoy"]), Some("php-fpm"));
        assert_eq!(php_container(["nginx", "app-php", "envoy"]), Some("app-php"));
        assert_eq!(php_container(["php-a", "php-b"]), None);
        assert_eq!(php_container(["nginx"]), None);
    }
}
