//! krr's `simple` and `simple_limit` strategies.
//!
//! - simple: CPU request = the highest per-pod p95 of CPU; no CPU limit. Memory request =
//!   limit = the highest per-pod working set x 1.15.
//! - simple_limit: CPU request = p66 and CPU limit = p96 of all pods' samples pooled;
//!   memory as simple.
//! - Floors 10m CPU and 100 MiB; values rounded up to 1m and 1 MiB. krr's window (14 days),
//!   minimum of 100 samples and step are podsizer's own history settings here.

use crate::analysis::sizing::{round_up, Sizing};
use crate::analysis::strategy::{SizingInput, Strategy};
use crate::domain::{human_bytes, Cpu};

const CPU_FLOOR: f64 = 0.010;
const MEMORY_FLOOR: f64 = 100.0 * 1024.0 * 1024.0;
const MEMORY_BUFFER: f64 = 1.15;
const MIB: f64 = 1024.0 * 1024.0;

/// `simple` when `limit` is false, `simple_limit` when true.
pub struct KrrStrategy {
    /// `true`: also set limits (`simple_limit`); `false`: requests only, as krr's `simple` does.
    pub limit: bool,
}

fn memory(input: &SizingInput<'_>, why: &mut Vec<String>) -> f64 {
    let max = input.usage.memory_max();
    let m = round_up((max * MEMORY_BUFFER).max(MEMORY_FLOOR), MIB);
    why.push(format!(
        "krr memory: max working set {} x 1.15 -> request = limit = {}",
        human_bytes(max),
        human_bytes(m)
    ));
    m
}

impl Strategy for KrrStrategy {
    fn name(&self) -> &'static str {
        if self.limit {
            "krr-limit"
        } else {
            "krr"
        }
    }

    fn size(&self, input: &SizingInput<'_>) -> (Sizing, Vec<String>) {
        let mut why = Vec::new();
        let (cpu_request, cpu_limit) = if self.limit {
            let (pooled, _) = input.usage.combined(|_| 1.0);
            let req = pooled.percentile(66.0).unwrap_or(0.0);
            let lim = pooled.percentile(96.0).unwrap_or(0.0);
            why.push(format!(
                "krr simple_limit CPU: request p66 {}, limit p96 {}",
                Cpu(req).millicores_text(),
                Cpu(lim).millicores_text()
            ));
            let req = round_up(req.max(CPU_FLOOR), 0.001);
            (req, Some(round_up(lim.max(req), 0.001)))
        } else {
            let busiest = input.usage.cpu_by_pod().values().filter_map(|h| h.percentile(95.0)).fold(0.0, f64::max);
            why.push(format!("krr simple CPU: highest per-pod p95 {}, no limit", Cpu(busiest).millicores_text()));
            (round_up(busiest.max(CPU_FLOOR), 0.001), None)
        };
        let m = memory(input, &mut why);
        let sizing = Sizing {
            cpu_request_cores: cpu_request,
            cpu_limit_cores: cpu_limit,
            memory_request_bytes: m,
            memory_limit_bytes: m,
        };
        (sizing, why)
    }
}
