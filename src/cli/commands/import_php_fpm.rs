//! The php-fpm exporter part of `podsizer import prometheus`: per workload container, the
//! highest memory a child reached, active and total processes and `max_children_reached`,
//! saved beside the import's state file as `imports/phpfpm-<id>.json` (side facts: the sample
//! schema does not change). Nothing is written when the exporter's series are absent.

use crate::sources::php_fpm_exporter::{fetch, php_container};
use crate::sources::prometheus::{Client, Owners, Scope, Window};
use crate::store::facts::PhpFpmFacts;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Fetches the exporter's figures for the import window and saves them; returns how many
/// workload containers had some.
pub fn record(
    client: &Client,
    scope: &Scope,
    range: Window,
    owners: &Owners,
    series: &BTreeSet<(String, String, String)>,
    state_path: &Path,
    cluster: &str,
) -> Result<usize> {
    let figures =
        fetch(client, scope, range.end_ms, range.end_ms - range.start_ms).context("reading php-fpm exporter series")?;
    let name = state_path.file_name().and_then(|n| n.to_str()).unwrap_or("prometheus.json");
    let path = state_path.with_file_name(name.replacen("prometheus-", "phpfpm-", 1));
    // A re-run imports only newer steps: earlier figures are kept and the higher one wins.
    let mut per_container = previous(&path);
    let found_before = per_container.len();
    let fetched = figures.len();
    for ((ns, pod), f) in figures {
        let containers = series.iter().filter(|(n, p, _)| *n == ns && *p == pod).map(|(_, _, c)| c.as_str());
        let Some(container) = php_container(containers) else { continue };
        let (kind, workload, _) = owners.resolve(&ns, &pod);
        per_container.entry((ns.clone(), kind, workload, container.to_string())).or_default().merge(&f.into());
    }
    if per_container.is_empty() || (fetched == 0 && found_before > 0) {
        return Ok(0);
    }
    let list: Vec<serde_json::Value> = per_container
        .iter()
        .map(|((ns, kind, workload, container), f)| {
            let mut v = serde_json::to_value(f).expect("plain numbers");
            v["namespace"] = ns.as_str().into();
            v["workload_kind"] = kind.as_str().into();
            v["workload"] = workload.as_str().into();
            v["container"] = container.as_str().into();
            v
        })
        .collect();
    let text = serde_json::to_string_pretty(&serde_json::json!({ "identity_cluster": cluster, "php_fpm": list }))?;
    crate::outputs::write_file(&path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(per_container.len())
}

type Key = (String, String, String, String);

/// The figures a previous import saved (none when the file is missing or unreadable).
fn previous(path: &Path) -> BTreeMap<Key, PhpFpmFacts> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let s = |e: &serde_json::Value, k: &str| e.get(k).and_then(|x| x.as_str()).map(String::from);
    v.get("php_fpm")
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let key = (s(e, "namespace")?, s(e, "workload_kind")?, s(e, "workload")?, s(e, "container")?);
            Some((key, serde_json::from_value(e.clone()).ok()?))
        })
        .collect()
}
