//! What a container's usage looked like over time, for reports: fixed-width buckets with
//! median, p95 and peak; an hour-of-day x weekday grid; how often usage crossed a limit.
//!
//! Pure computation over a container's raw points (`series::Series`); local time is
//! given as a function so this module knows nothing about time-zone databases.

use super::series::{Point, Series};

/// p50, p95 and maximum of the samples in one bucket (all pods pooled).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Spread {
    /// Median (nearest rank), in the figure's unit (cores or bytes).
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// Highest sample; 0 for an empty bucket.
    pub max: f64,
}

/// One time bucket `[start_ms, start_ms + width)` of one container.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Start of the bucket in epoch ms, a multiple of the bucket width.
    pub start_ms: i64,
    /// Samples in the bucket, every pod's counted (never 0: empty buckets are left out).
    pub samples: u32,
    /// CPU usage in cores.
    pub cpu: Spread,
    /// Memory usage (working set) in bytes.
    pub memory: Spread,
}

/// Nearest-rank percentile of `values` (reordered in place); `q` in 0..=100.
fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let rank = ((q / 100.0) * values.len() as f64).ceil().max(1.0) as usize - 1;
    let rank = rank.min(values.len() - 1);
    *values.select_nth_unstable_by(rank, f64::total_cmp).1
}

fn spread(values: &mut [f64]) -> Spread {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let p95 = percentile(values, 95.0);
    let p50 = percentile(values, 50.0);
    Spread { p50, p95, max: if max.is_finite() { max } else { 0.0 } }
}

/// Buckets of `width_ms` aligned to multiples of the width (so that 10-minute buckets start
/// at :00, :10 ...), covering `points` (sorted by time, as `SeriesBuilder::finish` leaves
/// them). Empty buckets are left out: a gap in the data stays a gap.
pub fn buckets(points: &[Point], width_ms: i64) -> Vec<Bucket> {
    assert!(width_ms > 0, "bucket width must be positive");
    let mut out = Vec::new();
    let mut cpu: Vec<f64> = Vec::new();
    let mut memory: Vec<f64> = Vec::new();
    let mut current: Option<i64> = None;
    let flush = |start: i64, cpu: &mut Vec<f64>, memory: &mut Vec<f64>, out: &mut Vec<Bucket>| {
        if !cpu.is_empty() {
            out.push(Bucket { start_ms: start, samples: cpu.len() as u32, cpu: spread(cpu), memory: spread(memory) });
        }
        cpu.clear();
        memory.clear();
    };
    for p in points {
        let start = p.ts.div_euclid(width_ms) * width_ms;
        if current != Some(start) {
            if let Some(c) = current {
                flush(c, &mut cpu, &mut memory, &mut out);
            }
            current = Some(start);
        }
        cpu.push(p.cpu);
        memory.push(p.memory);
    }
    if let Some(c) = current {
        flush(c, &mut cpu, &mut memory, &mut out);
    }
    out
}

/// Mean of a value per (weekday, hour of day) cell; weekday 0 = Monday.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekGrid {
    /// Sum of the values per `[weekday][hour]`.
    pub sum: [[f64; 24]; 7],
    /// Number of values per `[weekday][hour]`.
    pub count: [[u64; 24]; 7],
}

impl Default for WeekGrid {
    fn default() -> Self {
        Self { sum: [[0.0; 24]; 7], count: [[0; 24]; 7] }
    }
}

impl WeekGrid {
    /// Mean of one cell (weekday 0 = Monday, hour 0..24); `None` when no value fell in it.
    pub fn mean(&self, weekday: usize, hour: usize) -> Option<f64> {
        let n = self.count[weekday][hour];
        (n > 0).then(|| self.sum[weekday][hour] / n as f64)
    }

    /// Cell-wise sum of the means of several grids (e.g. the containers of one pod): a cell
    /// is present when any grid has it.
    pub fn sum_of_means<'a>(grids: impl IntoIterator<Item = &'a WeekGrid>) -> [[Option<f64>; 24]; 7] {
        let mut out = [[None; 24]; 7];
        for g in grids {
            for (d, row) in out.iter_mut().enumerate() {
                for (h, cell) in row.iter_mut().enumerate() {
                    if let Some(m) = g.mean(d, h) {
                        *cell = Some(cell.unwrap_or(0.0) + m);
                    }
                }
            }
        }
        out
    }
}

/// Mean CPU per (local weekday, local hour). `local` maps epoch ms to (weekday 0 = Monday,
/// hour 0..24); it is called once per quarter hour of data, not once per sample (every
/// time zone's offset is a multiple of 15 minutes).
pub fn cpu_week_grid(points: &[Point], local: impl Fn(i64) -> (usize, usize)) -> WeekGrid {
    const QUARTER: i64 = 15 * 60_000;
    let mut grid = WeekGrid::default();
    let mut cached: Option<(i64, (usize, usize))> = None;
    for p in points {
        let quarter = p.ts.div_euclid(QUARTER);
        let (d, h) = match cached {
            Some((q, cell)) if q == quarter => cell,
            _ => {
                let cell = local(p.ts);
                cached = Some((quarter, cell));
                cell
            }
        };
        grid.sum[d % 7][h % 24] += p.cpu;
        grid.count[d % 7][h % 24] += 1;
    }
    grid
}

/// How often usage went above given limits, over a series.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Crossings {
    /// Samples counted (every pod's).
    pub samples: u64,
    /// Samples whose CPU usage was above the CPU limit (throttled).
    pub cpu_above_limit: u64,
    /// Samples whose working set was above the memory limit.
    pub memory_above_limit: u64,
}

impl Crossings {
    /// Share of samples above the CPU limit, 0..=1 (0 without samples).
    pub fn cpu_share(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.cpu_above_limit as f64 / self.samples as f64
        }
    }
}

/// Counts samples above `cpu_limit` / `memory_limit` (`None`: no limit, never above).
pub fn crossings(points: &[Point], cpu_limit: Option<f64>, memory_limit: Option<f64>) -> Crossings {
    let mut c = Crossings { samples: points.len() as u64, ..Crossings::default() };
    for p in points {
        if cpu_limit.is_some_and(|l| p.cpu > l + 1e-9) {
            c.cpu_above_limit += 1;
        }
        if memory_limit.is_some_and(|l| p.memory > l) {
            c.memory_above_limit += 1;
        }
    }
    c
}

/// Average number of pods running over the series' span: pod-samples x sampling interval
/// / span (3 replicas sampled every minute for a week -> 3.0).
pub fn average_replicas(series: &Series) -> f64 {
    let (Some(first), Some(last)) = (series.points.first(), series.points.last()) else {
        return 0.0;
    };
    let step = series.step_ms().max(1);
    let span = (last.ts - first.ts + step) as f64;
    series.points.len() as f64 * step as f64 / span
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(ts: i64, pod: u32, cpu: f64) -> Point {
        Point { ts, pod, cpu, memory: cpu * 1000.0 }
    }

    #[test]
    fn buckets_are_aligned_and_keep_gaps() {
        // Minutes 0..20 of pod 0 and pod 1, then a gap, then minute 45.
        let mut points = Vec::new();
        for m in 0..20 {
            points.push(pt(m * 60_000, 0, m as f64));
            points.push(pt(m * 60_000, 1, 100.0));
        }
        points.push(pt(45 * 60_000, 0, 7.0));
        let b = buckets(&points, 10 * 60_000);
        assert_eq!(b.iter().map(|b| b.start_ms / 60_000).collect::<Vec<_>>(), vec![0, 10, 40]);
        assert_eq!(b[0].samples, 20);
        // Bucket 0 holds 0..=9 and ten 100s: the p50 is the 10th smallest value (9).
        assert_eq!(b[0].cpu.p50, 9.0);
        assert_eq!(b[0].cpu.p95, 100.0);
        assert_eq!(b[0].cpu.max, 100.0);
        assert_eq!(b[0].memory.p50, 9000.0);
        assert_eq!(b[2].cpu, Spread { p50: 7.0, p95: 7.0, max: 7.0 });
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v, 50.0), 50.0);
        assert_eq!(percentile(&mut v, 95.0), 95.0);
        assert_eq!(percentile(&mut v, 100.0), 100.0);
        assert_eq!(percentile(&mut [], 50.0), 0.0);
    }

    #[test]
    fn week_grid_means_by_local_cell() {
        // Local time = UTC + 9 h; epoch day 0 (1970-01-01) was a Thursday (weekday 3).
        let local = |ms: i64| {
            let t = ms + 9 * 3_600_000;
            let day = t.div_euclid(86_400_000);
            (((day + 3).rem_euclid(7)) as usize, (t.rem_euclid(86_400_000) / 3_600_000) as usize)
        };
        let points = [pt(0, 0, 1.0), pt(60_000, 0, 3.0), pt(15 * 3_600_000, 0, 5.0)];
        let g = cpu_week_grid(&points, local);
        assert_eq!(g.mean(3, 9), Some(2.0));
        assert_eq!(g.mean(4, 0), Some(5.0), "15:00 UTC Thursday is midnight Friday in UTC+9");
        assert_eq!(g.mean(3, 10), None);
        let both = WeekGrid::sum_of_means([&g, &g]);
        assert_eq!(both[3][9], Some(4.0));
        assert_eq!(both[0][0], None);
    }

    #[test]
    fn crossings_and_replicas() {
        let points: Vec<Point> = (0..10).flat_map(|m| [pt(m * 60_000, 0, 0.5), pt(m * 60_000, 1, 1.5)]).collect();
        let c = crossings(&points, Some(1.0), Some(1000.0));
        assert_eq!((c.samples, c.cpu_above_limit, c.memory_above_limit), (20, 10, 10));
        assert_eq!(crossings(&points, None, None).cpu_above_limit, 0);
        let s = Series {
            key: crate::domain::ContainerKey {
                workload: crate::domain::Workload {
                    namespace: "n".into(),
                    kind: "Deployment".into(),
                    name: "w".into(),
                    ..Default::default()
                },
                container: "c".into(),
            },
            pods: vec!["a".into(), "b".into()],
            points,
        };
        assert!((average_replicas(&s) - 2.0).abs() < 1e-9);
    }
}
