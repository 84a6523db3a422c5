//! The memory request that spends a stated risk budget: the lowest request whose eviction
//! exposure (share of samples with the working set above the request), estimated out of
//! sample inside the training window, stays within the budget.
//!
//! Candidate requests form a ladder of levels, each a rule on past samples (a percentile of
//! the working set, then the highest working set times a margin), higher levels never lower.
//! Each level is validated day by day: sized from the days before day d (recent days weighted
//! more, as the final request is), it is replayed on day d and the days after it up to the
//! review horizon, as a request made on day d would live until the next review. Only days with
//! at least half the window before them are validated: a request sized from two days cannot
//! know the weekly batch day that one sized from fourteen has seen twice. The lowest
//! level whose exposure over all those replays is within the budget wins and is applied to the
//! whole window. With few validation days the estimate is noisy, so the result is shrunk
//! towards the daily-peaks rule (what all pods hold through their busy hours) by
//! 1 / (validation days + 1); below `MIN_VALIDATION_DAYS` it is that rule.

use crate::analysis::histogram::Histogram;
use crate::analysis::usage::ContainerUsage;
use crate::domain::{human_bytes, DAY_MS};

/// One rung of the ladder: percentile `percentile` of the working set times `factor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Percentile of the working-set samples (0-100).
    pub percentile: f64,
    /// Multiplier on that percentile (1 for the percentile itself).
    pub factor: f64,
}

impl Level {
    fn request(&self, samples: &Histogram) -> Option<f64> {
        samples.percentile(self.percentile).map(|v| v * self.factor)
    }

    fn text(&self) -> String {
        match (self.percentile >= 100.0, self.factor == 1.0) {
            (true, true) => "max of working set".into(),
            (true, false) => format!("max of working set x {:.2}", self.factor),
            _ => format!("p{} of working set", self.percentile),
        }
    }
}

/// The ladder, lowest first.
pub const LEVELS: &[Level] = &[
    Level { percentile: 50.0, factor: 1.0 },
    Level { percentile: 60.0, factor: 1.0 },
    Level { percentile: 70.0, factor: 1.0 },
    Level { percentile: 80.0, factor: 1.0 },
    Level { percentile: 85.0, factor: 1.0 },
    Level { percentile: 90.0, factor: 1.0 },
    Level { percentile: 93.0, factor: 1.0 },
    Level { percentile: 95.0, factor: 1.0 },
    Level { percentile: 97.0, factor: 1.0 },
    Level { percentile: 98.0, factor: 1.0 },
    Level { percentile: 99.0, factor: 1.0 },
    Level { percentile: 99.5, factor: 1.0 },
    Level { percentile: 99.9, factor: 1.0 },
    Level { percentile: 100.0, factor: 1.0 },
    Level { percentile: 100.0, factor: 1.05 },
    Level { percentile: 100.0, factor: 1.1 },
    Level { percentile: 100.0, factor: 1.2 },
    Level { percentile: 100.0, factor: 1.35 },
    Level { percentile: 100.0, factor: 1.5 },
    Level { percentile: 100.0, factor: 2.0 },
];

/// Fewer validation days than this say nothing: the request is the daily-peaks rule.
pub const MIN_VALIDATION_DAYS: usize = 2;

/// The out-of-sample exposure of every level, from the training window alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// Days that were sized from the days before them and replayed.
    pub days: usize,
    /// Per level of `LEVELS`, the share of replayed samples above the request.
    pub exposure: Vec<f64>,
}

/// Replays every level day by day: sized from the days before day d (weighted by their age
/// from d's start), replayed on d and the days after it within `horizon_ms`; d runs over the
/// days with at least half the window's days (and one) before them.
pub fn validate(usage: &ContainerUsage, half_life_ms: Option<i64>, horizon_ms: i64) -> Validation {
    let days: Vec<(&i64, &crate::analysis::usage::DayUsage)> = usage.days.iter().collect();
    let weight = |age_ms: i64| match half_life_ms {
        Some(h) => 2f64.powf(-(age_ms.max(0) as f64) / h as f64),
        None => 1.0,
    };
    let mut above = vec![0.0; LEVELS.len()];
    let mut replayed = 0.0;
    let mut validated = 0;
    for d in (days.len() / 2).max(1)..days.len() {
        let start = *days[d].0;
        let mut past = Histogram::new();
        for (day, u) in &days[..d] {
            past.merge_scaled(&u.memory, weight(start - (**day + DAY_MS / 2)));
        }
        let ahead: Vec<&Histogram> =
            days[d..].iter().take_while(|(day, _)| **day < start + horizon_ms).map(|(_, u)| &u.memory).collect();
        validated += 1;
        for (level, sum) in LEVELS.iter().zip(above.iter_mut()) {
            let Some(request) = level.request(&past) else { continue };
            *sum += ahead.iter().map(|h| h.share_above(request) * h.count() as f64).sum::<f64>();
        }
        replayed += ahead.iter().map(|h| h.count() as f64).sum::<f64>();
    }
    let exposure = above.iter().map(|a| if replayed > 0.0 { a / replayed } else { 0.0 }).collect();
    Validation { days: validated, exposure }
}

/// The risk-budget request before floors and steps, and its rationale line.
pub struct RiskRequest {
    /// The request, in bytes.
    pub bytes: f64,
    /// How it was chosen, for the rationale.
    pub line: String,
}

/// The lowest level within `budget`, applied to `samples` (the whole window, decayed), shrunk
/// towards `prior` (the daily-peaks rule) when validation days are few.
pub fn choose(validation: &Validation, budget: f64, samples: &Histogram, prior: f64) -> RiskRequest {
    let prior_text = format!("the daily-peaks rule {}", human_bytes(prior));
    if validation.days < MIN_VALIDATION_DAYS {
        let line = format!(
            "memory request: {prior_text} ({} day(s) to validate a {:.0}% risk budget on, need {MIN_VALIDATION_DAYS})",
            validation.days,
            budget * 100.0
        );
        return RiskRequest { bytes: prior, line };
    }
    let chosen = validation.exposure.iter().position(|e| *e <= budget).unwrap_or(LEVELS.len() - 1);
    let level = LEVELS[chosen];
    let own = level.request(samples).unwrap_or(0.0);
    let kept = validation.days as f64 / (validation.days as f64 + 1.0);
    let bytes = kept * own + (1.0 - kept) * prior;
    let line = format!(
        "memory request: {} = {} has {:.1}% out-of-sample exposure (risk budget {:.0}%; each of {} days sized from the days \
         before it and replayed to the next review), shrunk {:.0}% towards {prior_text} = {}",
        level.text(),
        human_bytes(own),
        validation.exposure[chosen] * 100.0,
        budget * 100.0,
        validation.days,
        (1.0 - kept) * 100.0,
        human_bytes(bytes)
    );
    RiskRequest { bytes, line }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ContainerKey;

    const MIB: f64 = 1048576.0;

    /// `days` days of hourly samples of one pod, `memory(day, hour)` MiB.
    fn usage(days: i64, memory: impl Fn(i64, i64) -> f64) -> ContainerUsage {
        let key = ContainerKey::deployment("ns", "w", "c");
        let mut u = ContainerUsage::new(key);
        for d in 0..days {
            for h in 0..24 {
                u.observe(d * DAY_MS + h * 3_600_000, "p", 0.1, memory(d, h) * MIB);
            }
        }
        u
    }

    fn level(p: f64, f: f64) -> usize {
        LEVELS.iter().position(|l| *l == Level { percentile: p, factor: f }).unwrap()
    }

    #[test]
    fn out_of_sample_exposure_by_hand() {
        // Three days; each hour h holds 100 + h MiB, except day 2 whose 4 last hours hold 200.
        // No decay, horizon 2 days.
        let u = usage(3, |d, h| if d == 2 && h >= 20 { 200.0 } else { 100.0 + h as f64 });
        let v = validate(&u, None, 2 * DAY_MS);
        assert_eq!(v.days, 2);
        // Day 1 is sized from day 0, day 2 from days 0 and 1: both pasts hold 100..123 alike.
        // Replays: from day 1, days 1 and 2 (48 samples); from day 2, day 2 (24): 72 samples.
        // Max (123): day 2's four 200s above, counted twice: 8 of 72.
        assert!((v.exposure[level(100.0, 1.0)] - 8.0 / 72.0).abs() < 1e-12, "{v:?}");
        // p50 of 100..123 (one sample per 1 MiB bucket) is the top of hour 11's bucket, 112 MiB:
        // 113 MiB and up are above. Day 1: 11; day 2: 113..119 and the four 200s, 11. From
        // day 1 both days count, from day 2 day 2: 33 of 72.
        assert!((v.exposure[level(50.0, 1.0)] - 33.0 / 72.0).abs() < 1e-12, "{v:?}");
        // p95 is 122.8 MiB: 123 (day 1) and the 200s above, 5 + 4 = 9 of 72 (12.5%).
        assert!((v.exposure[level(95.0, 1.0)] - 9.0 / 72.0).abs() < 1e-12, "{v:?}");
        // Max x 2 (246) is never exceeded.
        assert_eq!(v.exposure[level(100.0, 2.0)], 0.0);
        // A 12% budget: p97 is already the past max (123 MiB), 11.1%. Applied to the whole
        // window, whose top 3% are the 200s: 200 MiB; 2 validation days keep 2/3 of it.
        let (_, all) = u.combined(|_| 1.0);
        let r = choose(&v, 0.12, &all, 300.0 * MIB);
        let own = 200.0 * MIB;
        assert!((r.bytes - (2.0 / 3.0 * own + 1.0 / 3.0 * 300.0 * MIB)).abs() < 1.0, "{}", r.bytes);
        assert!(r.line.contains("p97 of working set = 200Mi") && r.line.contains("11.1%"), "{}", r.line);
        // A 3% budget allows 2 of 72 above: only max x 2 keeps the 200s under it.
        let r = choose(&v, 0.03, &all, 300.0 * MIB);
        assert!(r.line.contains("max of working set x 2.00"), "{}", r.line);
    }

    #[test]
    fn short_history_keeps_the_daily_peaks_rule() {
        let u = usage(2, |_, h| 100.0 + h as f64);
        let v = validate(&u, Some(7 * DAY_MS), 7 * DAY_MS);
        assert_eq!(v.days, 1);
        let (_, all) = u.combined(|_| 1.0);
        let r = choose(&v, 0.03, &all, 150.0 * MIB);
        assert_eq!(r.bytes, 150.0 * MIB);
        assert!(r.line.contains("the daily-peaks rule 150Mi"), "{}", r.line);
    }

    #[test]
    fn a_steady_container_spends_its_budget_low() {
        // Two weeks of the same day: p97 of the day is exceeded by 3% of each later day at most.
        // Days 7 to 13 have half the window before them.
        let u = usage(14, |_, h| 100.0 + h as f64);
        let v = validate(&u, Some(7 * DAY_MS), 7 * DAY_MS);
        assert_eq!(v.days, 7);
        let chosen = v.exposure.iter().position(|e| *e <= 0.03).unwrap();
        assert!(LEVELS[chosen].percentile >= 95.0 && LEVELS[chosen].percentile < 100.0, "{v:?}");
        let (_, all) = u.combined(|_| 1.0);
        let r = choose(&v, 0.03, &all, 200.0 * MIB);
        // 7/8 of p97 (123 MiB) + 1/8 of the daily-peaks rule's 200 MiB.
        assert!((r.bytes - (7.0 / 8.0 * 123.0 + 25.0) * MIB).abs() < 2.0 * MIB, "{}", r.line);
    }
}
