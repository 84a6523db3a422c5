//! Growth detection on daily figures: a Theil–Sen line (median of pairwise slopes), which
//! one odd day cannot swing, plus a consistency test so that noise, weekly cycles and
//! sawtooth patterns (workers recycled every few days) do not count as growth.

/// A sustained trend in a daily series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// Units per day.
    pub slope: f64,
    /// Fitted value at the last day.
    pub level: f64,
    /// Share of day pairs whose slope has the trend's sign.
    pub consistency: f64,
    /// Days in the series the trend was fitted on.
    pub days: usize,
}

impl Trend {
    /// Projected value `days_ahead` after the last day.
    pub fn project(&self, days_ahead: f64) -> f64 {
        self.level + self.slope * days_ahead
    }
}

/// Fewer days than this cannot tell growth from a weekly cycle.
pub const MIN_DAYS: usize = 5;
/// At least this share of day pairs must rise.
pub const MIN_CONSISTENCY: f64 = 0.75;
/// Growth smaller than this share of the level per week is noise.
pub const MIN_WEEKLY_GROWTH: f64 = 0.03;

/// Detects sustained growth in `(day index, value)` points; `None` when there is none.
pub fn growth(points: &[(f64, f64)]) -> Option<Trend> {
    if points.len() < MIN_DAYS {
        return None;
    }
    // With two weeks or more, compare only the same weekday a week apart, so the weekly
    // cycle (quiet weekends) cannot read as growth or decline.
    let span =
        points.iter().map(|p| p.0).fold(f64::MIN, f64::max) - points.iter().map(|p| p.0).fold(f64::MAX, f64::min);
    let seasonal = span >= 13.0;
    let mut slopes = Vec::with_capacity(points.len() * points.len() / 2);
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            let gap = b.0 - a.0;
            if gap != 0.0 && (!seasonal || (gap.round() as i64) % 7 == 0) {
                slopes.push((b.1 - a.1) / gap);
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    let slope = median(&mut slopes)?;
    let rising = slopes.iter().filter(|s| **s > 0.0).count() as f64 / slopes.len() as f64;
    let mut intercepts: Vec<f64> = points.iter().map(|(x, y)| y - slope * x).collect();
    let intercept = median(&mut intercepts)?;
    let last_x = points.iter().map(|p| p.0).fold(f64::MIN, f64::max);
    let level = intercept + slope * last_x;
    let trend = Trend { slope, level, consistency: rising, days: points.len() };
    let meaningful = slope > 0.0 && level > 0.0 && slope * 7.0 >= MIN_WEEKLY_GROWTH * level;
    (meaningful && rising >= MIN_CONSISTENCY).then_some(trend)
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { f64::midpoint(values[n / 2 - 1], values[n / 2]) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_growth_is_found_and_projected() {
        let points: Vec<(f64, f64)> =
            (0..14).map(|d| (f64::from(d), 100.0 + 5.0 * f64::from(d) + if d % 3 == 0 { 4.0 } else { 0.0 })).collect();
        let t = growth(&points).expect("growth");
        assert!((t.slope - 5.0).abs() < 0.6, "{t:?}");
        assert!((t.project(7.0) - (165.0 + 35.0)).abs() < 10.0, "{t:?}");
    }

    #[test]
    fn flat_weekly_cycle_and_sawtooth_are_not_growth() {
        let weekly: Vec<(f64, f64)> = (0..14).map(|d| (f64::from(d), if d % 7 >= 5 { 60.0 } else { 100.0 })).collect();
        assert_eq!(growth(&weekly), None);
        let sawtooth: Vec<(f64, f64)> = (0..14).map(|d| (f64::from(d), 200.0 + 40.0 * f64::from(d % 5))).collect();
        assert_eq!(growth(&sawtooth), None);
        let noise: Vec<(f64, f64)> = (0..14).map(|d| (f64::from(d), 100.0 + f64::from((d * 37) % 11))).collect();
        assert_eq!(growth(&noise), None);
        assert_eq!(growth(&[(0.0, 1.0), (1.0, 2.0)]), None, "too few days");
    }

    #[test]
    fn growth_under_a_weekly_cycle_is_found() {
        let points: Vec<(f64, f64)> = (0..14)
            .map(|d| (f64::from(d), (if d % 7 >= 5 { 60.0 } else { 100.0 }) * 1.08f64.powf(f64::from(d) / 7.0)))
            .collect();
        let t = growth(&points).expect("8% a week under a weekly cycle");
        assert!(t.slope > 0.0);
    }

    #[test]
    fn shrinking_is_not_growth() {
        let points: Vec<(f64, f64)> = (0..10).map(|d| (f64::from(d), 100.0 - 3.0 * f64::from(d))).collect();
        assert_eq!(growth(&points), None);
    }
}
