//! Windows: time windows within Prometheus's point limit, UTC-day windows for remote read,
//! pod batches within a response budget, and how many requests an import makes.

use super::MAX_POINTS_PER_SERIES;
pub(crate) use crate::sources::time::{align_down, align_up};
use std::collections::BTreeMap;

/// One `query_range` time window: both ends on the step grid, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Window {
    pub fn points(&self, step_ms: i64) -> i64 {
        (self.end_ms - self.start_ms) / step_ms + 1
    }
}

/// Splits `[from, to]` (grid-aligned) into windows of at most `max_points` points each.
pub(crate) fn time_windows(from_ms: i64, to_ms: i64, step_ms: i64, max_points: i64) -> Vec<Window> {
    let mut out = Vec::new();
    let span = (max_points.clamp(1, MAX_POINTS_PER_SERIES) - 1) * step_ms;
    let mut start = from_ms;
    while start <= to_ms {
        let end = (start + span).min(to_ms);
        out.push(Window { start_ms: start, end_ms: end });
        start = end + step_ms;
    }
    out
}

/// Splits a window at UTC midnights, so each piece lies in one day of the store.
pub(crate) fn day_windows(window: Window, step_ms: i64) -> Vec<Window> {
    pieces(window, step_ms, crate::domain::DAY_MS)
}

/// Rows an import holds for one window before storing it (about 32 bytes each; one window is
/// stored while the next is fetched).
pub(super) const WINDOW_ROWS: u64 = 1_000_000;

/// Splits a window (within one UTC day) into pieces of whole hours that divide the day, as
/// long as `series` series keep each piece within `WINDOW_ROWS` rows: the import's memory
/// then stays flat however many containers there are.
pub(super) fn storage_windows(window: Window, step_ms: i64, series: usize) -> Vec<Window> {
    let span_ms = (WINDOW_ROWS / series.max(1) as u64).max(1) as i64 * step_ms;
    let hours = [24, 12, 8, 6, 4, 3, 2, 1].into_iter().find(|h| h * crate::domain::HOUR_MS <= span_ms).unwrap_or(1);
    pieces(window, step_ms, hours * crate::domain::HOUR_MS)
}

/// Splits a window at multiples of `piece_ms` since the epoch (UTC midnights included).
fn pieces(window: Window, step_ms: i64, piece_ms: i64) -> Vec<Window> {
    let mut out = Vec::new();
    let mut start = window.start_ms;
    while start <= window.end_ms {
        let boundary = (start.div_euclid(piece_ms) + 1) * piece_ms;
        let end = align_down(boundary - 1, step_ms).max(start).min(window.end_ms);
        out.push(Window { start_ms: start, end_ms: end });
        start = end + step_ms;
    }
    out
}

/// How usage series are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPath {
    /// Raw samples through remote read; rates computed here (`rate.rs`).
    RemoteRead,
    /// `query_range`: Prometheus evaluates `rate()` at every step.
    QueryRange,
}

impl std::fmt::Display for ReadPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadPath::RemoteRead => "remote read (raw samples as XOR chunks, rates computed by podsizer)",
            ReadPath::QueryRange => "query_range (rates evaluated by Prometheus)",
        })
    }
}

/// Points one remote-read batch may decode: its samples are held as rows until stored, so
/// batches are smaller than a query_range answer may be.
pub(crate) const REMOTE_READ_POINTS: u64 = 50_000;

/// Groups pods into batches whose containers × points stay within `max_points_per_request`
/// (a pod is never split; one pod alone may exceed the budget).
pub(crate) fn pod_batches(
    pods: &BTreeMap<(String, String), usize>,
    points_per_series: i64,
    max_points_per_request: u64,
) -> Vec<Vec<(String, String)>> {
    let per_request = (max_points_per_request / points_per_series.max(1) as u64).max(1) as usize;
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    let mut current = Vec::new();
    let mut used = 0;
    for (pod, &containers) in pods {
        if !current.is_empty() && used + containers > per_request {
            out.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(pod.clone());
        used += containers;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// How many HTTP requests an import of `containers` containers in pods of `containers_per_pod`
/// over `[from, to]` makes at most (without retries): per window one series discovery and,
/// per pod batch, two range queries or one remote read (plus its probe), and the
/// kube-state-metrics and php-fpm exporter requests.
pub fn request_count(
    containers: usize,
    containers_per_pod: usize,
    from_ms: i64,
    to_ms: i64,
    step_ms: i64,
    max_points_per_request: u64,
    path: ReadPath,
) -> u64 {
    let mut pods = BTreeMap::new();
    for i in 0..containers.div_ceil(containers_per_pod.max(1)) {
        pods.insert((String::new(), format!("{i:08}")), containers_per_pod.max(1));
    }
    let mut windows = time_windows(from_ms, to_ms, step_ms, MAX_POINTS_PER_SERIES);
    let (per_batch, probe, budget) = match path {
        ReadPath::QueryRange => (2, 0, max_points_per_request),
        ReadPath::RemoteRead => {
            windows = windows.into_iter().flat_map(|w| day_windows(w, step_ms)).collect();
            (1, 1, max_points_per_request.min(REMOTE_READ_POINTS))
        }
    };
    let pieces = |w: Window| match path {
        ReadPath::QueryRange => vec![w],
        ReadPath::RemoteRead => storage_windows(w, step_ms, containers),
    };
    let per_window: u64 = windows
        .iter()
        .map(|w| {
            let batches: usize = pieces(*w).iter().map(|p| pod_batches(&pods, p.points(step_ms), budget).len()).sum();
            1 + per_batch * batches as u64
        })
        .sum();
    KSM_REQUESTS + PHP_FPM_EXPORTER_REQUESTS + probe + per_window
}

/// Requests made once per import for the php-fpm exporter's figures (`sources::php_fpm_exporter`:
/// one query per figure).
pub(crate) const PHP_FPM_EXPORTER_REQUESTS: u64 = 4;

/// Requests made once per import for kube-state-metrics data.
pub(crate) const KSM_REQUESTS: u64 = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_windows_tile_a_day_in_whole_hours_within_the_row_budget() {
        let step = 60_000;
        let day = 20_000 * crate::domain::DAY_MS;
        let whole = Window { start_ms: day, end_ms: day + crate::domain::DAY_MS - step };
        for (series, hours) in [(1, 24), (600, 24), (900, 12), (2_700, 6), (5_400, 3), (1_000_000, 1)] {
            let pieces = storage_windows(whole, step, series);
            assert_eq!(pieces.len(), 24 / hours, "{series} series");
            assert_eq!((pieces[0].start_ms, pieces.last().unwrap().end_ms), (whole.start_ms, whole.end_ms));
            for pair in pieces.windows(2) {
                assert_eq!(pair[1].start_ms, pair[0].end_ms + step, "no gap, no overlap");
            }
            if hours > 1 {
                assert!(pieces.iter().all(|p| p.points(step) as u64 * series as u64 <= WINDOW_ROWS));
            }
        }
        // A window starting mid-piece (a resumed or incremental run) ends at the piece boundary.
        let late = Window { start_ms: day + 5 * 3_600_000, end_ms: whole.end_ms };
        assert_eq!(storage_windows(late, step, 2_700)[0].end_ms, day + 6 * 3_600_000 - step);
    }

    #[test]
    fn windows_respect_the_point_limit_and_tile_the_range() {
        let step = 60_000;
        let from = align_up(1_000_123, step);
        let to = from + 20 * 1440 * step; // 20 days
        let windows = time_windows(from, to, step, MAX_POINTS_PER_SERIES);
        assert!(windows.len() >= 3);
        assert_eq!(windows[0].start_ms, from);
        assert_eq!(windows.last().unwrap().end_ms, to);
        for pair in windows.windows(2) {
            assert_eq!(pair[1].start_ms, pair[0].end_ms + step, "no gap, no overlap");
        }
        assert!(windows.iter().all(|w| w.points(step) <= MAX_POINTS_PER_SERIES));
        let total: i64 = windows.iter().map(|w| w.points(step)).sum();
        assert_eq!(total, (to - from) / step + 1);
        assert_eq!(align_up(120_001, step), 180_000);
        assert_eq!(align_down(179_999, step), 120_000);
        assert_eq!(align_up(120_000, step), 120_000);
    }

    #[test]
    fn day_windows_cut_at_midnight() {
        let step = 60_000;
        let day = crate::domain::DAY_MS;
        let w = Window { start_ms: day - 10 * step, end_ms: 3 * day + 5 * step };
        let pieces = day_windows(w, step);
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces[0], Window { start_ms: day - 10 * step, end_ms: day - step });
        assert_eq!(pieces[1], Window { start_ms: day, end_ms: 2 * day - step });
        assert_eq!(pieces[3], Window { start_ms: 3 * day, end_ms: 3 * day + 5 * step });
        let total: i64 = pieces.iter().map(|p| p.points(step)).sum();
        assert_eq!(total, w.points(step));
    }

    #[test]
    fn batches_stay_within_budget_and_keep_pods_whole() {
        let mut pods = BTreeMap::new();
        for i in 0..100 {
            pods.insert(("ns".to_string(), format!("p{i:03}")), 1 + i % 3);
        }
        let batches = pod_batches(&pods, 1000, 10_000);
        let total: usize = batches.iter().map(Vec::len).sum();
        assert_eq!(total, 100);
        for b in &batches {
            let containers: usize = b.iter().map(|p| pods[p]).sum();
            assert!(containers * 1000 <= 10_000 || b.len() == 1, "batch of {containers} containers");
        }
        assert!(batches.len() >= 20);
    }

    #[test]
    fn a_week_of_500_containers_takes_few_requests() {
        let step = 60_000;
        let n = request_count(500, 3, 0, 7 * 1440 * step, step, 500_000, ReadPath::QueryRange);
        // One window of 10,081 points; 49 containers (16 pods) per request: 11 batches.
        assert_eq!(n, KSM_REQUESTS + PHP_FPM_EXPORTER_REQUESTS + 1 + 2 * 11);
        let n_small = request_count(500, 3, 0, 7 * 1440 * step, step, 100_000, ReadPath::QueryRange);
        assert!(n_small > n);
        // Remote read: one window per day (8 here: the range ends on a midnight), 50,000 points
        // a batch: 33 containers (11 pods) of a day, 16 batches.
        let remote = request_count(500, 3, 0, 7 * 1440 * step, step, 500_000, ReadPath::RemoteRead);
        let php_fpm = PHP_FPM_EXPORTER_REQUESTS;
        assert_eq!(
            remote,
            KSM_REQUESTS + php_fpm + 1 + 7 * (1 + 16) + (1 + 1),
            "one request per batch, plus the probe"
        );
    }
}
