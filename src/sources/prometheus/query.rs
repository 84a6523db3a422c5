//! PromQL text: literals, matchers, the scope every query shares and the usage queries.

use super::{PrometheusError, Setting, CPU_METRIC, MEMORY_METRIC};
use std::collections::BTreeSet;

/// A PromQL string literal (double-quoted, escaped).
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Escapes regex metacharacters so a name matches only itself inside `=~`.
pub(crate) fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `label=~"a|b|c"` matching exactly these values.
pub(crate) fn any_of(label: &str, values: &[&str]) -> String {
    let alternatives: Vec<String> = values.iter().map(|v| regex_escape(v)).collect();
    format!("{label}=~{}", quote(&alternatives.join("|")))
}

/// Which series to read, shared by every query of one import.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only these namespaces (empty: all).
    pub namespaces: Vec<String>,
    /// `name=value` added to every query (one cluster of a multi-cluster Thanos/Mimir).
    pub cluster: Option<(String, String)>,
    /// Extra matchers for the cAdvisor usage series only, e.g. `job="kubelet"`.
    pub selector: Option<String>,
}

impl Scope {
    /// Checks the parts users type, so mistakes are named before any request.
    pub fn validate(&self) -> Result<(), PrometheusError> {
        if let Some((name, _)) = &self.cluster {
            if !is_label_name(name) {
                return Err(PrometheusError::config(
                    Setting::ClusterLabel,
                    name,
                    "not a label name (expected NAME=VALUE, e.g. cluster=prod)",
                ));
            }
        }
        if let Some(sel) = &self.selector {
            let s = sel.trim();
            if s.is_empty() || s.contains('{') || s.contains('}') {
                return Err(PrometheusError::config(
                    Setting::Selector,
                    sel,
                    "expected label matchers without braces, e.g. 'job=\"kubelet\"' or 'cluster=\"prod\",region=~\"eu.*\"'",
                ));
            }
        }
        Ok(())
    }

    /// Matchers every query gets: cluster and namespaces.
    fn common(&self) -> Vec<String> {
        let mut m = Vec::new();
        if let Some((name, value)) = &self.cluster {
            m.push(format!("{name}={}", quote(value)));
        }
        if !self.namespaces.is_empty() {
            let ns: Vec<&str> = self.namespaces.iter().map(String::as_str).collect();
            m.push(any_of("namespace", &ns));
        }
        m
    }

    /// Matchers of the cAdvisor usage series.
    pub fn usage_matchers(&self) -> Vec<String> {
        let mut m = vec![r#"container!="""#.to_string(), r#"container!="POD""#.to_string()];
        m.extend(self.common());
        if let Some(sel) = &self.selector {
            m.push(sel.trim().trim_end_matches(',').to_string());
        }
        m
    }

    /// A kube-state-metrics selector: `metric{extra..., cluster, namespace}`.
    pub fn ksm(&self, metric: &str, extra: &[&str]) -> String {
        let mut m: Vec<String> = extra.iter().map(std::string::ToString::to_string).collect();
        m.extend(self.common());
        format!("{metric}{{{}}}", m.join(","))
    }
}

pub(super) fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The two usage queries for one batch of pods (`pods` empty: no pod restriction).
pub(crate) fn usage_queries(scope: &Scope, pods: &[(String, String)], rate_window_ms: i64) -> (String, String) {
    let mut m = scope.usage_matchers();
    if !pods.is_empty() {
        let namespaces: BTreeSet<&str> = pods.iter().map(|(ns, _)| ns.as_str()).collect();
        let names: BTreeSet<&str> = pods.iter().map(|(_, p)| p.as_str()).collect();
        if scope.namespaces.is_empty() || namespaces.len() < scope.namespaces.len() {
            m.push(any_of("namespace", &namespaces.into_iter().collect::<Vec<_>>()));
        }
        m.push(any_of("pod", &names.into_iter().collect::<Vec<_>>()));
    }
    let sel = m.join(",");
    let window = promql_duration(rate_window_ms);
    (
        format!("max by (namespace, pod, container) (rate({CPU_METRIC}{{{sel}}}[{window}]))"),
        format!("max by (namespace, pod, container) ({MEMORY_METRIC}{{{sel}}})"),
    )
}

/// Milliseconds as a PromQL duration (`60s`, `1500ms`).
pub(crate) fn promql_duration(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_escape_and_scope() {
        let scope = Scope {
            namespaces: vec!["shop".into(), "a.b".into()],
            cluster: Some(("cluster".into(), "prod \"eu\"".into())),
            selector: Some(r#"job="kubelet""#.into()),
        };
        scope.validate().unwrap();
        let (cpu, mem) = usage_queries(&scope, &[("shop".into(), "api-1.x".into())], 60_000);
        assert!(cpu.starts_with("max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{"));
        assert!(cpu.ends_with("[60s]))"), "{cpu}");
        assert!(cpu.contains(r#"container!="",container!="POD""#));
        assert!(cpu.contains(r#"cluster="prod \"eu\"""#), "{cpu}");
        assert!(cpu.contains(r#"namespace=~"shop|a\\.b""#), "{cpu}");
        assert!(cpu.contains(r#"pod=~"api-1\\.x""#), "{cpu}");
        assert!(cpu.contains(r#"job="kubelet""#));
        assert!(mem.contains("container_memory_working_set_bytes{"));
        assert!(Scope { selector: Some("{job=\"x\"}".into()), ..Scope::default() }.validate().is_err());
        assert!(Scope { cluster: Some(("1bad".into(), "x".into())), ..Scope::default() }.validate().is_err());
        let ksm = scope.ksm("kube_pod_owner", &[]);
        assert!(ksm.starts_with("kube_pod_owner{cluster="));
        assert!(!ksm.contains("kubelet"), "the usage selector is not applied to kube-state-metrics");
    }
}
