//! The Kubernetes VPA recommender's target estimate.
//!
//! - CPU: every sample, decayed with a 24 h half-life, in exponential buckets (first 0.01
//!   core, each 5% wider); target = p90, taken as the upper edge of its bucket, x 1.15.
//! - Memory: one peak per pod per day, weight 1, same decay, buckets from 1e7 bytes;
//!   target = p90 of those peaks (bucket upper edge) x 1.15.
//! - Floors: 25m CPU and 250 MiB per pod, split evenly across the pod's containers.
//! - Limits: the current limit:request ratio is kept (no limit stays no limit); where the
//!   current settings are unknown, 2 x.
//!
//! Differences from the real recommender, and why: decay is applied per UTC day (each
//! day's samples weigh as at the day's middle) because podsizer keeps per-day summaries;
//! memory peaks use UTC days rather than intervals anchored at each container's start; the
//! OOM bump needs OOM events, which samples do not carry yet.

use crate::analysis::histogram::Histogram;
use crate::analysis::sizing::{round_up, Sizing};
use crate::analysis::strategy::{SizingInput, Strategy};
use crate::domain::{human_bytes, Cpu, DAY_MS};

const HALF_LIFE_MS: f64 = DAY_MS as f64;
const RATIO: f64 = 1.05;
const CPU_FIRST_BUCKET: f64 = 0.01;
const MEMORY_FIRST_BUCKET: f64 = 1e7;
const TARGET_PERCENTILE: f64 = 90.0;
const SAFETY_MARGIN: f64 = 1.15;
const POD_MIN_CPU: f64 = 0.025;
const POD_MIN_MEMORY: f64 = 250.0 * 1024.0 * 1024.0;

/// Upper edge of the VPA exponential bucket holding `value`: bucket n starts at
/// first * (ratio^n - 1) / (ratio - 1).
pub fn bucket_upper_edge(value: f64, first: f64) -> f64 {
    let start = |n: f64| first * (RATIO.powf(n) - 1.0) / (RATIO - 1.0);
    let n = ((1.0 + value * (RATIO - 1.0) / first).ln() / RATIO.ln()).floor().max(0.0);
    start(n + 1.0)
}

/// `vpa`: the Vertical Pod Autoscaler recommender's rules, as the module describes them.
pub struct VpaStrategy;

impl Strategy for VpaStrategy {
    fn name(&self) -> &'static str {
        "vpa"
    }

    fn size(&self, input: &SizingInput<'_>) -> (Sizing, Vec<String>) {
        let end = input.window_end_ms;
        let decay = |t: i64| 2f64.powf(-((end - t).max(0) as f64) / HALF_LIFE_MS);
        let (cpu_hist, _) = input.usage.combined(|day| decay(day + DAY_MS / 2));
        let mut peaks = Histogram::new();
        for (day, usage) in &input.usage.days {
            for peak in usage.pod_memory_peaks.values() {
                peaks.add(*peak, decay(day + DAY_MS / 2));
            }
        }
        let share = input.containers_in_pod.max(1) as f64;
        let cpu_p90 = cpu_hist.percentile(TARGET_PERCENTILE).unwrap_or(0.0);
        let cpu = (bucket_upper_edge(cpu_p90, CPU_FIRST_BUCKET) * SAFETY_MARGIN).max(POD_MIN_CPU / share);
        let mem_p90 = peaks.percentile(TARGET_PERCENTILE).unwrap_or(0.0);
        let memory = (bucket_upper_edge(mem_p90, MEMORY_FIRST_BUCKET) * SAFETY_MARGIN).max(POD_MIN_MEMORY / share);
        let cpu_request = round_up(cpu, 0.001);
        let memory_request = round_up(memory, 1024.0 * 1024.0);
        let current = input.current.copied().unwrap_or_default();
        let ratio = |req: Option<f64>, lim: Option<f64>| match (req, lim) {
            (Some(r), Some(l)) if r > 0.0 => Some(l / r),
            (Some(_), None) => None,
            _ => Some(2.0),
        };
        let cpu_ratio = ratio(current.cpu_request_cores, current.cpu_limit_cores);
        let mem_ratio = ratio(current.memory_request_bytes, current.memory_limit_bytes).unwrap_or(2.0);
        let why = vec![
            format!(
                "VPA CPU target: p90 {} (24 h half-life), bucket edge x 1.15 -> {}",
                Cpu(cpu_p90).millicores_text(),
                Cpu(cpu_request)
            ),
            format!(
                "VPA memory target: p90 of daily per-pod peaks {} x 1.15 -> {}",
                human_bytes(mem_p90),
                human_bytes(memory_request)
            ),
            format!(
                "VPA limits keep the limit:request ratio (CPU {}, memory {mem_ratio:.2})",
                cpu_ratio.map_or("none".into(), |r| format!("{r:.2}"))
            ),
        ];
        let sizing = Sizing {
            cpu_request_cores: cpu_request,
            cpu_limit_cores: cpu_ratio.map(|r| round_up(cpu_request * r, 0.001)),
            memory_request_bytes: memory_request,
            memory_limit_bytes: round_up(memory_request * mem_ratio, 1024.0 * 1024.0),
        };
        (sizing, why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_edges_follow_the_exponential_layout() {
        // Bucket 0 is [0, 0.01), bucket 1 is [0.01, 0.0205), ...
        assert!((bucket_upper_edge(0.005, 0.01) - 0.01).abs() < 1e-12);
        assert!((bucket_upper_edge(0.015, 0.01) - 0.0205).abs() < 1e-12);
        for v in [0.05, 0.3, 2.0, 17.0] {
            let edge = bucket_upper_edge(v, 0.01);
            assert!(edge > v && edge <= v * 1.05 + 0.01, "{v} -> {edge}");
        }
    }
}
