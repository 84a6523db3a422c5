//! Evidence for the pull request: each changed container's proposal replayed over the window
//! it was sized from, beside its current settings (`analysis::evidence`), with the throttling
//! measured under the current settings where the store recorded it.

use super::sizing::SizingRun;
use super::Result;
use crate::analysis::changes::{moves, Thresholds};
use crate::analysis::evidence::{evidence, Evidence};
use crate::analysis::series::{Prices, Series};
use crate::domain::{ContainerKey, Resources};
use crate::sources::outcomes::ContainerOutcomes;
use std::collections::HashMap;

/// Throttled share of CFS periods in `[since, until)` of the pods that ran `current` (`None`:
/// not recorded, or no pod ran those values).
pub fn measured_throttling(
    c: &ContainerOutcomes,
    current: &Resources,
    since: Option<i64>,
    until: Option<i64>,
) -> Option<f64> {
    let inside = |h: i64| since.is_none_or(|s| h > s) && until.is_none_or(|u| h <= u);
    let hours: Vec<_> =
        c.throttling.iter().filter(|t| inside(t.hour_ms) && t.resources.as_ref() == Some(current)).collect();
    let (throttled, periods) = hours.iter().fold((0.0, 0.0), |(a, b), t| (a + t.throttled_periods, b + t.periods));
    (periods > 0.0).then(|| throttled / periods)
}

/// The evidence of every container whose proposal moves a setting beyond `thresholds`, in
/// the order of the recommendations.
pub fn changed_containers(
    run: &SizingRun,
    series: &[Series],
    thresholds: &Thresholds,
    prices: &Prices,
) -> Result<Vec<(ContainerKey, Evidence)>> {
    let outcomes = super::verify::load_outcomes(&run.selection)?;
    let by_key: HashMap<&ContainerKey, &Series> = series.iter().map(|s| (&s.key, s)).collect();
    let (since, until) = (run.selection.since, run.selection.until);
    let mut rows = Vec::new();
    for r in &run.recommendations {
        if moves(r, thresholds).is_empty() {
            continue;
        }
        let (Some(proposal), Some(current), Some(s)) = (r.sizing(), r.current, by_key.get(&r.key)) else { continue };
        let throttling = outcomes.get(&r.key).and_then(|c| measured_throttling(c, &current, since, until));
        if let Some(e) = evidence(s, &current, proposal, prices, throttling) {
            rows.push((r.key.clone(), e));
        }
    }
    Ok(rows)
}
