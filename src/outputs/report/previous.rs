//! Last week's `report.json`, read back, and what moved since.

use super::{ContainerChangeDoc, MoveDoc, ReportError, TotalsDoc, WeekOverWeekDoc, WeekPair, SETTINGS};
use crate::domain::{human_bytes, Cpu};
use crate::outputs::format::{RecommendationDoc, WindowDoc};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The parts of an earlier report that the comparison needs.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PreviousReport {
    pub format: String,
    pub week: String,
    pub window: PrevWindow,
    pub recommendations: Vec<PrevRecommendation>,
    pub totals: PrevTotals,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PrevWindow {
    pub since: Option<String>,
    pub until: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PrevTotals {
    pub monthly_cost: PrevNowProposed,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PrevNowProposed {
    pub current: Option<f64>,
    pub proposed: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PrevWorkload {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct PrevCpu {
    pub request_cores: Option<f64>,
    pub limit_cores: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct PrevMemory {
    pub request_bytes: Option<f64>,
    pub limit_bytes: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct PrevCurrent {
    pub cpu: PrevCpu,
    pub memory: PrevMemory,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PrevRecommendation {
    /// Reports written before clusters were recorded have none.
    #[serde(default)]
    pub cluster: String,
    pub namespace: String,
    pub workload: PrevWorkload,
    pub container: String,
    pub status: String,
    pub cpu: Option<PrevCpu>,
    pub memory: Option<PrevMemory>,
    pub current: Option<PrevCurrent>,
    #[serde(default)]
    pub rationale: Vec<String>,
}

impl PreviousReport {
    /// Reads `DIR/report.json` (or the file itself when given one).
    pub(crate) fn load(path: &Path) -> Result<Self, ReportError> {
        let file = if path.is_dir() { path.join("report.json") } else { path.to_path_buf() };
        let limit = crate::sources::input_file::REPORT_JSON_MAX_BYTES;
        let text = crate::sources::input_file::read_to_string_bounded(&file, limit)
            .map_err(|source| ReportError::Io { path: file.clone(), source })?;
        let report: Self = serde_json::from_str(&text)
            .map_err(|e| ReportError::Previous { path: file.clone(), message: e.to_string() })?;
        if report.format != super::FORMAT {
            return Err(ReportError::Previous {
                path: file,
                message: format!("format `{}`, expected `{}`", report.format, super::FORMAT),
            });
        }
        report.check().map_err(|message| ReportError::PreviousFigure { path: file, message })?;
        Ok(report)
    }

    /// Every figure checked like a sample (finite, not negative, within one container's
    /// 1,024 cores / 64Ti; costs below [`MAX_MONTHLY_COST`]): a hand-edited or damaged file
    /// would otherwise print nonsense week-over-week figures. `Err` names the field.
    pub(crate) fn check(&self) -> Result<(), String> {
        use crate::domain::bounds::{check_cores, check_memory};
        let costs = &self.totals.monthly_cost;
        for (field, v) in [("current", costs.current), ("proposed", costs.proposed)] {
            if let Some(v) = v {
                check_cost(v).map_err(|why| format!("totals.monthly_cost.{field}: {why}"))?;
            }
        }
        for (i, r) in self.recommendations.iter().enumerate() {
            let mut sides = vec![("", four(r.cpu, r.memory))];
            if let Some(c) = r.current {
                sides.push(("current.", four(Some(c.cpu), Some(c.memory))));
            }
            for (side, values) in sides {
                for (setting, v) in FIELDS.iter().zip(values) {
                    let Some(v) = v else { continue };
                    let checked = if setting.starts_with("cpu") { check_cores(v) } else { check_memory(v) };
                    checked.map_err(|why| format!("recommendations[{i}].{side}{setting}: {why}"))?;
                }
            }
        }
        Ok(())
    }
}

/// More than any cluster's requests cost a month: a figure above is a damaged file.
pub(crate) const MAX_MONTHLY_COST: f64 = 1e12;

/// The JSON fields of the four settings, in `SETTINGS` order.
const FIELDS: [&str; 4] = ["cpu.request_cores", "cpu.limit_cores", "memory.request_bytes", "memory.limit_bytes"];

fn check_cost(v: f64) -> Result<(), String> {
    if !v.is_finite() || !(0.0..=MAX_MONTHLY_COST).contains(&v) {
        return Err(format!(
            "{} is not a monthly cost (a number from 0 to {})",
            crate::domain::bounds::short_number(v),
            crate::domain::bounds::short_number(MAX_MONTHLY_COST)
        ));
    }
    Ok(())
}

/// Four settings of one side (proposed or current), in `SETTINGS` order.
type Four = [Option<f64>; 4];

fn four(cpu: Option<PrevCpu>, memory: Option<PrevMemory>) -> Four {
    let c = cpu.unwrap_or_default();
    let m = memory.unwrap_or_default();
    [c.request_cores, c.limit_cores, m.request_bytes, m.limit_bytes]
}

/// The same sides of this week's document, through JSON so both weeks go through one shape.
fn reread(doc: &RecommendationDoc) -> PrevRecommendation {
    serde_json::from_value(serde_json::to_value(doc).expect("serialises")).expect("same shape")
}

fn text(setting: usize, v: Option<f64>, sized: bool) -> String {
    match v {
        None if !sized => "-".into(),
        None if setting == 1 => "no limit".into(),
        None => "-".into(),
        Some(v) if setting < 2 => Cpu(v).to_string(),
        Some(v) => human_bytes(v),
    }
}

fn moved(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() > 0.005 * x.abs().max(y.abs()),
        (None, None) => false,
        _ => true,
    }
}

fn reason(rationale: &[String], setting: &str) -> Option<String> {
    let prefix = format!("{setting}:");
    rationale
        .iter()
        .find(|l| l.to_lowercase().starts_with(&prefix.to_lowercase()))
        .map(|l| l[prefix.len()..].trim().to_string())
}

fn id(r: &PrevRecommendation) -> String {
    super::ReportDoc::container_id(&r.cluster, &r.namespace, &r.workload.kind, &r.workload.name, &r.container)
}

fn status_words(s: &str) -> &str {
    match s {
        "sized" => "sized",
        "insufficient_history" => "not enough history",
        "excluded" => "excluded",
        other => other,
    }
}

/// What moved between `prev` and this week's recommendations.
pub(crate) fn compare(prev: &PreviousReport, now: &[RecommendationDoc], totals: &TotalsDoc) -> WeekOverWeekDoc {
    let before: BTreeMap<String, &PrevRecommendation> = prev.recommendations.iter().map(|r| (id(r), r)).collect();
    let after: Vec<PrevRecommendation> = now.iter().map(reread).collect();
    let after_ids: BTreeMap<String, &PrevRecommendation> = after.iter().map(|r| (id(r), r)).collect();
    let mut changes = Vec::new();
    let mut unchanged = 0;
    let mut new = Vec::new();
    for (key, a) in &after_ids {
        let Some(b) = before.get(key) else {
            new.push(key.clone());
            continue;
        };
        let mut moves = Vec::new();
        if a.status != b.status {
            moves.push(MoveDoc {
                what: "proposed",
                setting: "status",
                previous: status_words(&b.status).into(),
                now: status_words(&a.status).into(),
                change: None,
                why: a
                    .rationale
                    .iter()
                    .find(|l| l.contains("history") || l.contains("excluded"))
                    .cloned()
                    .unwrap_or_else(|| "enough history now: sized from the usage of the window".to_string()),
            });
        }
        let (pa, pb) = (four(a.cpu, a.memory), four(b.cpu, b.memory));
        let (ca, cb) = (
            a.current.map(|c| four(Some(c.cpu), Some(c.memory))),
            b.current.map(|c| four(Some(c.cpu), Some(c.memory))),
        );
        let sized_a = a.status == "sized";
        let sized_b = b.status == "sized";
        if sized_a && sized_b {
            for (i, setting) in SETTINGS.iter().enumerate() {
                if moved(pb[i], pa[i]) {
                    let then_why = reason(&b.rationale, setting);
                    let now_why = reason(&a.rationale, setting);
                    let why = match (then_why, now_why) {
                        (Some(t), Some(n)) if t != n => format!("last week: {t}; this week: {n}"),
                        (_, Some(n)) => format!("this week: {n}"),
                        _ => "the rationale is not recorded".into(),
                    };
                    moves.push(MoveDoc {
                        what: "proposed",
                        setting,
                        previous: text(i, pb[i], true),
                        now: text(i, pa[i], true),
                        change: relative(pb[i], pa[i]),
                        why,
                    });
                }
            }
        }
        let (ca4, cb4) = (ca.unwrap_or([None; 4]), cb.unwrap_or([None; 4]));
        for (i, setting) in SETTINGS.iter().enumerate() {
            if moved(cb4[i], ca4[i]) {
                let applied = sized_b && !moved(pb[i], ca4[i]);
                let why = if applied {
                    "current setting changed to last week's proposal (applied)".to_string()
                } else {
                    "current setting changed in the overlay, not to last week's proposal".to_string()
                };
                moves.push(MoveDoc {
                    what: "current",
                    setting,
                    previous: text(i, cb4[i], cb.is_some()),
                    now: text(i, ca4[i], ca.is_some()),
                    change: relative(cb4[i], ca4[i]),
                    why,
                });
            }
        }
        if moves.is_empty() {
            unchanged += 1;
        } else {
            changes.push(ContainerChangeDoc { container: key.clone(), moves });
        }
    }
    let gone = before.keys().filter(|k| !after_ids.contains_key(*k)).cloned().collect();
    WeekOverWeekDoc {
        previous_week: prev.week.clone(),
        previous_window: WindowDoc { since: prev.window.since.clone(), until: prev.window.until.clone() },
        changes,
        unchanged,
        new,
        gone,
        monthly_cost: WeekPair { previous: prev.totals.monthly_cost.current, now: totals.monthly_cost.current },
        monthly_cost_proposed: WeekPair {
            previous: prev.totals.monthly_cost.proposed,
            now: totals.monthly_cost.proposed,
        },
    }
}

fn relative(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if b != 0.0 => Some(((a - b) / b * 1000.0).round() / 1000.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> serde_json::Value {
        json!({
            "format": super::super::FORMAT, "week": "2026-W47",
            "window": {"since": null, "until": null},
            "totals": {"monthly_cost": {"current": 100.0, "proposed": 40.0}},
            "recommendations": [{
                "namespace": "shop", "workload": {"kind": "Deployment", "name": "api"}, "container": "php-fpm",
                "status": "sized",
                "cpu": {"request_cores": 0.24, "limit_cores": 1.2},
                "memory": {"request_bytes": 5.4e8, "limit_bytes": 1.1e9},
                "current": {"cpu": {"request_cores": 1.0, "limit_cores": 2.0},
                            "memory": {"request_bytes": 1.07e9, "limit_bytes": 2.1e9}}
            }]
        })
    }

    #[test]
    fn absurd_figures_are_refused_naming_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.json");
        std::fs::write(&file, report().to_string()).unwrap();
        assert!(PreviousReport::load(dir.path()).is_ok(), "the valid file loads");
        // (JSON pointer, value, field named in the message)
        let cases = [
            ("/recommendations/0/cpu/request_cores", json!(-1.0), "recommendations[0].cpu.request_cores"),
            ("/recommendations/0/cpu/limit_cores", json!(1e300), "recommendations[0].cpu.limit_cores"),
            ("/recommendations/0/cpu/request_cores", json!(2048), "recommendations[0].cpu.request_cores"),
            ("/recommendations/0/memory/limit_bytes", json!(1e300), "recommendations[0].memory.limit_bytes"),
            ("/recommendations/0/memory/request_bytes", json!(-5), "recommendations[0].memory.request_bytes"),
            ("/recommendations/0/current/cpu/limit_cores", json!(-0.5), "recommendations[0].current.cpu.limit_cores"),
            (
                "/recommendations/0/current/memory/limit_bytes",
                json!(7.1e13),
                "recommendations[0].current.memory.limit_bytes",
            ),
            ("/totals/monthly_cost/current", json!(-3.0), "totals.monthly_cost.current"),
            ("/totals/monthly_cost/proposed", json!(1e300), "totals.monthly_cost.proposed"),
        ];
        for (pointer, value, field) in cases {
            let mut doc = report();
            *doc.pointer_mut(pointer).unwrap() = value.clone();
            std::fs::write(&file, doc.to_string()).unwrap();
            let err = PreviousReport::load(&file).unwrap_err().to_string();
            assert!(err.contains("report.json") && err.contains(field), "{pointer} = {value}: {err}");
        }
    }
}
