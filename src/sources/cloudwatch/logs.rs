//! Logs mode: Container Insights performance log events.
//!
//! Each `"Type": "Container"` event is one container of one pod at one instant:
//! `container_cpu_usage_total` in millicores, `container_memory_working_set` in bytes,
//! `Timestamp` in epoch milliseconds, and `kubernetes.{namespace_name, pod_name,
//! container_name, pod_owners}`. Limits and requests ride along (`container_cpu_limit` ...).

use super::{workload_from_owner, ApiCalls, AwsError, Clients, PodOwnerSource};
use crate::domain::{Resources, Sample};
use crate::sources::prometheus::ContainerSettings;
use serde_json::Value;
use std::collections::BTreeMap;

/// Events per FilterLogEvents page (the service's maximum).
pub(crate) const PAGE_EVENTS: i32 = 10_000;
/// Examples of malformed events kept for the summary.
const EXAMPLES: usize = 5;

pub(crate) fn log_group(cluster: &str) -> String {
    format!("/aws/containerinsights/{cluster}/performance")
}

/// The server-side filter: only container events (and only these namespaces). Matching is
/// repeated on the client, so a service that ignores the pattern changes nothing.
pub(crate) fn filter_pattern(namespaces: &[String]) -> String {
    if namespaces.is_empty() {
        return r#"{ $.Type = "Container" }"#.to_string();
    }
    let any: Vec<String> =
        namespaces.iter().map(|n| format!("$.kubernetes.namespace_name = {}", json_string(n))).collect();
    format!(r#"{{ $.Type = "Container" && ({}) }}"#, any.join(" || "))
}

fn json_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// One container event, understood.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContainerEvent {
    pub sample: Sample,
    pub resources: Resources,
    pub oom_killed: bool,
    pub resolution: PodOwnerSource,
}

/// What one log event turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    Container(Box<ContainerEvent>),
    /// Node, Pod, Service, ... events, or another namespace: not ours, not an error.
    Skipped,
    /// A container event that cannot be trusted, and why.
    Malformed(String),
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// The number written after `"key":` in the event's text, parsed with Rust's correctly rounded
/// parser: serde_json's default one may land one ulp off, and usage is stored as written.
fn exact_number(message: &str, key: &str) -> Option<f64> {
    let needle = format!("\"{key}\"");
    message.match_indices(&needle).find_map(|(at, _)| {
        let rest = message[at + needle.len()..].trim_start().strip_prefix(':')?.trim_start();
        let rest = rest.strip_prefix('"').unwrap_or(rest);
        let end = rest.find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c))).unwrap_or(rest.len());
        rest[..end].parse::<f64>().ok()
    })
}

/// A usage value: finite and not negative.
fn usage(event: &Value, message: &str, key: &str) -> Result<f64, String> {
    let approx = number(event.get(key));
    // The text's own digits, when they say the same number as the parsed event.
    let exact =
        approx.and_then(|a| exact_number(message, key).filter(|e| (e - a).abs() <= 1e-9 * a.abs().max(1.0))).or(approx);
    match exact {
        Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Some(x) => Err(format!("{key} is {x}")),
        None => Err(format!("no numeric {key}")),
    }
}

fn setting(event: &Value, key: &str, scale: f64) -> Option<f64> {
    number(event.get(key)).filter(|x| x.is_finite() && *x > 0.0).map(|x| x * scale)
}

/// Parses one event message. `namespaces` non-empty keeps only those.
pub(crate) fn parse_event(message: &str, namespaces: &[String]) -> Parsed {
    let Ok(event) = serde_json::from_str::<Value>(message) else {
        return Parsed::Malformed("not JSON".into());
    };
    if event.get("Type").and_then(Value::as_str) != Some("Container") {
        return Parsed::Skipped;
    }
    let k8s = event.get("kubernetes").unwrap_or(&Value::Null);
    let (Some(ns), Some(pod), Some(container)) =
        (text(k8s, "namespace_name"), text(k8s, "pod_name"), text(k8s, "container_name"))
    else {
        return Parsed::Malformed("kubernetes.namespace_name, pod_name or container_name missing".into());
    };
    if !namespaces.is_empty() && !namespaces.iter().any(|n| n == ns) {
        return Parsed::Skipped;
    }
    let timestamp = match number(event.get("Timestamp")) {
        Some(t) if t.is_finite() && t > 0.0 => t as i64,
        _ => return Parsed::Malformed(format!("{ns}/{pod}/{container}: no Timestamp")),
    };
    let (cpu_millicores, memory) = match (
        usage(&event, message, "container_cpu_usage_total"),
        usage(&event, message, "container_memory_working_set"),
    ) {
        (Ok(c), Ok(m)) => (c, m),
        (Err(e), _) | (_, Err(e)) => return Parsed::Malformed(format!("{ns}/{pod}/{container}: {e}")),
    };
    let (kind, workload, resolution) = owner(k8s, pod);
    Parsed::Container(Box::new(ContainerEvent {
        sample: Sample {
            timestamp_ms: timestamp,
            namespace: ns.to_string(),
            workload_kind: kind,
            workload,
            pod: pod.to_string(),
            container: container.to_string(),
            cpu_cores: cpu_millicores / 1000.0,
            memory_bytes: memory,
            ..Default::default()
        },
        resources: Resources {
            cpu_request_cores: setting(&event, "container_cpu_request", 1e-3),
            cpu_limit_cores: setting(&event, "container_cpu_limit", 1e-3),
            memory_request_bytes: setting(&event, "container_memory_request", 1.0),
            memory_limit_bytes: setting(&event, "container_memory_limit", 1.0),
        },
        oom_killed: text(&event, "container_last_termination_reason") == Some("OOMKilled"),
        resolution,
    }))
}

/// The workload from `pod_owners` (a controller owner first), else the pod itself.
fn owner(k8s: &Value, pod: &str) -> (String, String, PodOwnerSource) {
    let hash = k8s.get("labels").and_then(|l| text(l, "pod-template-hash"));
    let owners = k8s.get("pod_owners").and_then(Value::as_array);
    let first = owners.into_iter().flatten().find_map(|o| Some((text(o, "owner_kind")?, text(o, "owner_name")?)));
    match first {
        Some((kind, name)) => {
            let (k, n) = workload_from_owner(kind, name, pod, hash);
            (k, n, PodOwnerSource::Owner)
        }
        None => ("Pod".into(), pod.to_string(), PodOwnerSource::PodItself),
    }
}

/// One FilterLogEvents page, parsed.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub events: Vec<ContainerEvent>,
    pub skipped: u64,
    pub malformed: u64,
    pub malformed_examples: Vec<String>,
    pub next_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LogsError {
    #[error("log group {0} does not exist")]
    NoLogGroup(String),
    #[error("the saved page token was refused ({0})")]
    StaleToken(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The destination refused what was read.
    #[error("storing what was read")]
    Store(#[source] crate::sources::sink::SinkError),
}

/// Reads one page of container events in `[start_ms, end_ms]` (both included).
pub(crate) async fn fetch_page(
    clients: &Clients,
    calls: &ApiCalls,
    cluster: &str,
    namespaces: &[String],
    (start_ms, end_ms): (i64, i64),
    token: Option<String>,
) -> Result<Page, LogsError> {
    let group = log_group(cluster);
    let had_token = token.is_some();
    ApiCalls::add(&calls.filter_log_events, 1);
    let out = clients
        .logs
        .filter_log_events()
        .log_group_name(&group)
        .start_time(start_ms)
        .end_time(end_ms)
        .filter_pattern(filter_pattern(namespaces))
        .limit(PAGE_EVENTS)
        .set_next_token(token)
        .send()
        .await
        .map_err(|e| match crate::sources::aws::service_code(&e) {
            Some("ResourceNotFoundException") => LogsError::NoLogGroup(group.clone()),
            Some("InvalidParameterException") if had_token => {
                LogsError::StaleToken(crate::sources::aws::error_chain(&e))
            }
            _ => LogsError::Aws(clients.logs_error(&e, "FilterLogEvents")),
        })?;
    let mut page = Page { next_token: out.next_token().map(String::from).filter(|t| !t.is_empty()), ..Page::default() };
    for event in out.events() {
        match parse_event(event.message().unwrap_or(""), namespaces) {
            Parsed::Container(c) => page.events.push(*c),
            Parsed::Skipped => page.skipped += 1,
            Parsed::Malformed(why) => {
                page.malformed += 1;
                if page.malformed_examples.len() < EXAMPLES {
                    page.malformed_examples.push(format!("{} ({why})", event.event_id().unwrap_or("?")));
                }
            }
        }
    }
    ApiCalls::add(&calls.datapoints, page.events.len() as u64);
    Ok(page)
}

/// The newest requests/limits seen per workload container, and OOM-killed pods.
#[derive(Debug, Default)]
pub(crate) struct SettingsFold {
    latest: BTreeMap<(String, String, String, String), (i64, ContainerSettings)>,
}

impl SettingsFold {
    pub(crate) fn add(&mut self, e: &ContainerEvent) {
        let s = &e.sample;
        let key = (s.namespace.clone(), s.workload_kind.clone(), s.workload.clone(), s.container.clone());
        let slot = self.latest.entry(key).or_insert_with(|| {
            (
                i64::MIN,
                ContainerSettings {
                    namespace: s.namespace.clone(),
                    workload_kind: s.workload_kind.clone(),
                    workload: s.workload.clone(),
                    container: s.container.clone(),
                    ..Default::default()
                },
            )
        });
        if s.timestamp_ms >= slot.0 && !e.resources.is_empty() {
            slot.0 = s.timestamp_ms;
            slot.1.resources = e.resources;
        }
        if e.oom_killed && !slot.1.oom_killed_pods.contains(&s.pod) {
            slot.1.oom_killed_pods.push(s.pod.clone());
        }
    }

    /// Merges into what an earlier import saved (newer runs win per container).
    pub(crate) fn merge_into(self, current: &mut Vec<ContainerSettings>) {
        for (_, (_, new)) in self.latest {
            match current.iter_mut().find(|c| {
                (&c.namespace, &c.workload_kind, &c.workload, &c.container)
                    == (&new.namespace, &new.workload_kind, &new.workload, &new.container)
            }) {
                Some(old) => {
                    if !new.resources.is_empty() {
                        old.resources = new.resources;
                    }
                    for p in new.oom_killed_pods {
                        if !old.oom_killed_pods.contains(&p) {
                            old.oom_killed_pods.push(p);
                        }
                    }
                }
                None => current.push(new),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Performance-log events in the published Container Insights shape (every field the agent
    /// writes), with this project's own values: fixtures/samples/container-insights/.
    fn event_fixture(name: &str) -> String {
        let path = format!("{}/fixtures/samples/container-insights/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn reads_a_full_container_event() {
        let Parsed::Container(e) = parse_event(&event_fixture("container_event.json"), &[]) else {
            panic!("not a container event")
        };
        let s = &e.sample;
        assert_eq!(s.timestamp_ms, 1_700_000_460_123);
        assert_eq!((s.namespace.as_str(), s.pod.as_str()), ("shop", "api-6b9d8c7f5d-x2kqp"));
        assert_eq!((s.workload_kind.as_str(), s.workload.as_str()), ("Deployment", "api"));
        assert_eq!(s.container, "php-fpm");
        assert_eq!(s.cpu_cores, 238.51742919921875 / 1000.0);
        assert_eq!(s.memory_bytes, 309_329_920.0);
        assert_eq!(e.resources.cpu_limit_cores, Some(2.0));
        assert_eq!(e.resources.memory_limit_bytes, Some(2_147_483_648.0));
        assert_eq!(e.resolution, PodOwnerSource::Owner);
    }

    #[test]
    fn usage_is_read_as_written() {
        let m = r#"{"CloudWatchMetrics":[{"Name":"container_cpu_usage_total"}],"container_cpu_usage_total": 92.83553265556799}"#;
        assert_eq!(exact_number(m, "container_cpu_usage_total"), Some(92.83553265556799));
        assert_eq!(exact_number(r#"{"a":"17"}"#, "a"), Some(17.0));
        assert_eq!(exact_number(r#"{"a":true}"#, "a"), None);
    }

    #[test]
    fn node_and_pod_events_are_skipped_not_malformed() {
        for f in ["node_event.json", "pod_event.json"] {
            assert_eq!(parse_event(&event_fixture(f), &[]), Parsed::Skipped, "{f}");
        }
    }

    #[test]
    fn junk_is_malformed() {
        let bad = [
            "{not json",
            r#"{"Type":"Container","Timestamp":"1","container_cpu_usage_total":1,"container_memory_working_set":1}"#,
            r#"{"Type":"Container","kubernetes":{"namespace_name":"a","pod_name":"p","container_name":"c"},"container_cpu_usage_total":1,"container_memory_working_set":1}"#,
            r#"{"Type":"Container","Timestamp":"5","kubernetes":{"namespace_name":"a","pod_name":"p","container_name":"c"},"container_cpu_usage_total":-3,"container_memory_working_set":1}"#,
            r#"{"Type":"Container","Timestamp":"5","kubernetes":{"namespace_name":"a","pod_name":"p","container_name":"c"},"container_cpu_usage_total":"x","container_memory_working_set":1}"#,
            r#"{"Type":"Container","Timestamp":"5","kubernetes":{"namespace_name":"a","pod_name":"p","container_name":"c"},"container_cpu_usage_total":1}"#,
        ];
        for b in bad {
            assert!(matches!(parse_event(b, &[]), Parsed::Malformed(_)), "{b}");
        }
    }

    #[test]
    fn namespace_filter_and_pattern() {
        let e = r#"{"Type":"Container","Timestamp":5,"kubernetes":{"namespace_name":"a","pod_name":"p","container_name":"c"},"container_cpu_usage_total":1,"container_memory_working_set":1}"#;
        assert_eq!(parse_event(e, &["b".into()]), Parsed::Skipped);
        assert!(matches!(parse_event(e, &["a".into()]), Parsed::Container(_)));
        assert_eq!(filter_pattern(&[]), r#"{ $.Type = "Container" }"#);
        assert_eq!(
            filter_pattern(&["a".into(), "b".into()]),
            r#"{ $.Type = "Container" && ($.kubernetes.namespace_name = "a" || $.kubernetes.namespace_name = "b") }"#
        );
    }
}
