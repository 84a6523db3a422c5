//! One import across a fleet: the clusters a querier (Thanos, Mimir, VictoriaMetrics) holds
//! are the values of one label on the usage series; each is then imported on its own, with
//! its own state, under its own name.

use super::client::Client;
use super::import::ImportSettings;
use super::query::is_label_name;
use super::windows::Window;
use super::{PrometheusError, MEMORY_METRIC};
use crate::domain::format_timestamp;
use std::collections::BTreeSet;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ClustersError {
    #[error("`{0}` is not a label name (letters, digits and `_`, not starting with a digit)")]
    LabelName(String),
    #[error("listing the values of label `{label}` on the usage series")]
    Lookup { label: String, source: PrometheusError },
    #[error(
        "{url}: no {MEMORY_METRIC} series carry label `{label}` between {} and {} (matchers: {matchers})",
        format_timestamp(range.start_ms),
        format_timestamp(range.end_ms)
    )]
    NoValues { url: String, label: String, range: Window, matchers: String },
}

/// The values of `label` on the usage series of `settings`' scope and range, sorted: one
/// per cluster (one series request, index only).
pub(crate) fn cluster_values(settings: &ImportSettings, label: &str) -> Result<Vec<String>, ClustersError> {
    if !is_label_name(label) {
        return Err(ClustersError::LabelName(label.to_string()));
    }
    let lookup = |source| ClustersError::Lookup { label: label.to_string(), source };
    settings.scope.validate().map_err(lookup)?;
    let client = Client::new(settings.client.clone()).map_err(lookup)?;
    let mut matchers = settings.scope.usage_matchers();
    matchers.push(format!(r#"{label}!="""#));
    let selector = format!("{MEMORY_METRIC}{{{}}}", matchers.join(","));
    let series = client.series(&selector, settings.from_ms, settings.to_ms).map_err(lookup)?;
    let values: BTreeSet<String> =
        series.iter().filter_map(|l| l.get(label).filter(|v| !v.is_empty()).cloned()).collect();
    if values.is_empty() {
        return Err(ClustersError::NoValues {
            url: client.url().to_string(),
            label: label.to_string(),
            range: Window { start_ms: settings.from_ms, end_ms: settings.to_ms },
            matchers: matchers.join(","),
        });
    }
    Ok(values.into_iter().collect())
}
