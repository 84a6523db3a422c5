//! Traffic share: when a workload served only part of production traffic during the window
//! (a canary, a migration at 30%), its usage is projected to full traffic before sizing.
//!
//! Per-pod CPU scales with 1 / share when the replica count is fixed. Memory has a baseline
//! (runtime, caches) that does not scale and a traffic-driven part that does; the baseline
//! is estimated per container as the intercept of a least-squares line of memory on CPU
//! (CPU standing in for load), clamped to [0, lowest working set]. With an HPA the replica
//! count absorbs the traffic instead and per-pod usage is left as measured.

use super::series::{Point, Series};
use crate::domain::{format_timestamp, parse_timestamp};

/// Share of production traffic over time: `(until, share)` steps, the last one open-ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficShare {
    /// The workload's name (any kind, any namespace) the share applies to.
    pub workload: String,
    steps: Vec<(Option<i64>, f64)>,
}

/// Why a traffic share text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid traffic share {text:?}: {reason} (expected WORKLOAD=SHARE, or WORKLOAD=SHARE@UNTIL,...,SHARE, e.g. api=0.3@2026-11-20,1.0)")]
pub struct TrafficShareError {
    /// The share as written.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl TrafficShare {
    /// Parses `api=0.3` or `api=0.3@2026-11-20,0.6@2026-11-24T12:00:00Z,1.0`.
    pub fn parse(text: &str) -> Result<Self, TrafficShareError> {
        let err = |reason: &str| TrafficShareError { text: text.to_string(), reason: reason.to_string() };
        let (workload, spec) = text.split_once('=').ok_or_else(|| err("missing `=`"))?;
        let mut steps = Vec::new();
        for part in spec.split(',') {
            let (share, until) = match part.split_once('@') {
                Some((s, u)) => (s, Some(parse_timestamp(u).map_err(|e| err(&e.to_string()))?)),
                None => (part, None),
            };
            let share: f64 = share.trim().parse().map_err(|_| err("share is not a number"))?;
            // Below 1% the projection multiplies usage by more than 100: a typo, not a canary.
            if !(0.01..=1.0).contains(&share) {
                return Err(err("share must be from 0.01 to 1"));
            }
            steps.push((until, share));
        }
        let open_ended = steps.iter().filter(|(u, _)| u.is_none()).count();
        if open_ended != 1 || steps.last().is_some_and(|(u, _)| u.is_some()) {
            return Err(err("exactly the last step has no date"));
        }
        if steps.windows(2).any(|w| matches!((w[0].0, w[1].0), (Some(a), Some(b)) if a >= b)) {
            return Err(err("dates must increase"));
        }
        Ok(Self { workload: workload.trim().to_string(), steps })
    }

    /// The share (0.01..=1) in force at `ts` (epoch ms): the first step whose `until` is later.
    pub fn at(&self, ts: i64) -> f64 {
        self.steps.iter().find(|(until, _)| until.is_none_or(|u| ts < u)).map_or(1.0, |(_, s)| *s)
    }

    /// Plain words for rationales: "30% until 2026-11-20T00:00:00Z, then 100%".
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .steps
            .iter()
            .map(|(until, s)| match until {
                Some(u) => format!("{:.0}% until {}", s * 100.0, format_timestamp(*u)),
                None => format!("{:.0}%", s * 100.0),
            })
            .collect();
        parts.join(", then ")
    }
}

/// Memory that does not follow load: intercept of memory on CPU, within [0, lowest value].
pub fn memory_baseline(points: &[Point]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return points.first().map_or(0.0, |p| p.memory);
    }
    let (mx, my) = (points.iter().map(|p| p.cpu).sum::<f64>() / n, points.iter().map(|p| p.memory).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.cpu - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.cpu - mx) * (p.memory - my)).sum();
    let lowest = points.iter().map(|p| p.memory).fold(f64::MAX, f64::min);
    if sxx <= 0.0 {
        return lowest;
    }
    let slope = (sxy / sxx).max(0.0);
    (my - slope * mx).clamp(0.0, lowest)
}

/// Projects a series to full traffic. Returns the baseline used, for the rationale.
pub fn project(series: &mut Series, share: &TrafficShare) -> f64 {
    let baseline = memory_baseline(&series.points);
    for p in &mut series.points {
        let s = share.at(p.ts);
        if s < 1.0 {
            p.cpu /= s;
            p.memory = baseline + (p.memory - baseline).max(0.0) / s;
        }
    }
    baseline
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ContainerKey;

    #[test]
    fn parses_steps_and_looks_up_shares() {
        let t = TrafficShare::parse("api=0.3@2026-11-20,0.6@2026-11-24,1.0").unwrap();
        let day = |d: &str| parse_timestamp(d).unwrap();
        assert_eq!(t.workload, "api");
        assert_eq!(t.at(day("2026-11-19")), 0.3);
        assert_eq!(t.at(day("2026-11-20")), 0.6);
        assert_eq!(t.at(day("2026-12-01")), 1.0);
        assert_eq!(TrafficShare::parse("api=0.5").unwrap().at(0), 0.5);
        for bad in ["api", "api=0", "api=1.5", "api=0.3@2026-11-20", "api=0.3@2026-11-24,0.5@2026-11-20,1", "api=x"] {
            assert!(TrafficShare::parse(bad).is_err(), "{bad}");
        }
        assert!(t.describe().starts_with("30% until 2026-11-20"));
    }

    #[test]
    fn projection_scales_cpu_and_the_load_part_of_memory() {
        // memory = 100 + 1000 x cpu: baseline 100, load part scales.
        let points: Vec<Point> = (0..100)
            .map(|i| {
                let cpu = 0.1 + 0.001 * i as f64;
                Point { ts: i, pod: 0, cpu, memory: 100.0 + 1000.0 * cpu }
            })
            .collect();
        let key = ContainerKey::deployment("n", "api", "c");
        let mut s = Series { key, pods: vec!["p".into()], points: points.clone() };
        let baseline = project(&mut s, &TrafficShare::parse("api=0.25").unwrap());
        assert!((baseline - 100.0).abs() < 1e-6);
        for (before, after) in points.iter().zip(&s.points) {
            assert!((after.cpu - before.cpu * 4.0).abs() < 1e-9);
            assert!((after.memory - (100.0 + 4000.0 * before.cpu)).abs() < 1e-6);
        }
    }
}
