//! Python web servers: gunicorn and uvicorn fork a fixed number of worker processes
//! (`--workers`, else `WEB_CONCURRENCY`), each holding its own copy of the application. Like
//! php-fpm children, workers × memory per worker + the master must fit under the memory
//! limit, and workers beyond what the CPU limit runs only queue for the quota.

use super::{growth_risk, workers_for, RuntimeAdvice, Setting, SettingChange};
use crate::analysis::policy::Policy;
use crate::analysis::sizing::{round_up, Sizing};
use crate::domain::human_bytes;

const MI: f64 = 1024.0 * 1024.0;
/// Memory of the master (arbiter) process, which serves no requests.
pub const MASTER_BYTES: f64 = 32.0 * MI;

/// Which server forks the workers: their CPU rule differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// Sync workers block on I/O: gunicorn's own guidance is 2 × cores + 1.
    Gunicorn,
    /// Async workers keep a core busy each: one per core.
    Uvicorn,
}

impl Server {
    /// The server's name in messages and the advice (`gunicorn`, `uvicorn`).
    pub fn name(self) -> &'static str {
        match self {
            Server::Gunicorn => "gunicorn",
            Server::Uvicorn => "uvicorn",
        }
    }

    /// The most workers the CPU budget runs.
    pub fn workers_for_cores(self, cores: u32) -> u32 {
        match self {
            Server::Gunicorn => 2 * cores + 1,
            Server::Uvicorn => cores,
        }
    }
}

/// A Python web server's worker setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Which server forks the workers.
    pub server: Server,
    /// `--workers`/`-w` or `WEB_CONCURRENCY`, checked to be a count when read.
    pub workers: Option<Setting<String>>,
}

/// Judges the worker count against `sizing`: lowered to what the CPU budget runs and the
/// memory limit holds (memory per worker from the `peak` working set in bytes, every worker
/// busy at it); the limit is raised in `sizing` when not even one worker fits. Workers are
/// never added.
pub fn advise(
    s: &Settings,
    sizing: &mut Sizing,
    current_limit: Option<f64>,
    policy: &Policy,
    peak: f64,
) -> RuntimeAdvice {
    let name = s.server.name();
    let mut advice = RuntimeAdvice { runtime: name.into(), ..Default::default() };
    let Some(current) = &s.workers else {
        advice.rationale.push(format!(
            "{name}: --workers and WEB_CONCURRENCY not set: one worker; left as it is (podsizer only changes settings it found)"
        ));
        return advice;
    };
    advice.found.push(format!("workers {} ({})", current.value, current.origin));
    let workers: u32 = current.value.parse().expect("checked when read");
    // Every worker busy at the peak: the smallest per-worker figure the history allows.
    let per = (peak - MASTER_BYTES).max(0.0) / f64::from(workers.max(1));
    let need = |n: u32| f64::from(n) * per + MASTER_BYTES;
    let growth = |n: u32| {
        format!("{n} × {} + master {} = {}", human_bytes(per), human_bytes(MASTER_BYTES), human_bytes(need(n)))
    };
    advice.rationale.push(format!(
        "{name}: memory per worker estimated as (peak working set {} - master {}) / {workers} workers = {}",
        human_bytes(peak),
        human_bytes(MASTER_BYTES),
        human_bytes(per)
    ));
    let today = |_: f64| growth(workers);
    if let Some(risk) = growth_risk(name, current_limit, sizing.memory_limit_bytes, |_| need(workers), today) {
        advice.risks.push(risk);
    }
    let (cores, budget) = workers_for(sizing);
    let by_cpu = s.server.workers_for_cores(cores);
    let running = workers.min(by_cpu);
    let mut limit = sizing.memory_limit_bytes;
    let fits_in = |limit: f64| if per > 0.0 { ((limit - MASTER_BYTES) / per).floor().max(0.0) } else { f64::INFINITY };
    if fits_in(limit) < 1.0 {
        let raised = round_up(need(running), policy.memory.step_bytes);
        advice.rationale.push(format!(
            "{name}: refused memory limit {}: not even one worker fits it; limit raised to {} ({})",
            human_bytes(limit),
            human_bytes(raised),
            growth(running)
        ));
        sizing.memory_limit_bytes = raised;
        limit = raised;
    }
    let proposed = running.min(fits_in(limit).min(f64::from(u32::MAX)) as u32).max(1);
    if proposed == workers {
        advice.rationale.push(format!(
            "{name}: {workers} workers fit the {budget} (at most {by_cpu}) and the proposed memory limit {}: {}",
            human_bytes(limit),
            growth(workers)
        ));
        return advice;
    }
    let why = if proposed == by_cpu {
        format!(
            "the {budget} runs at most {by_cpu} (gunicorn's 2 × cores + 1 for sync workers, one per core for uvicorn)"
        )
    } else {
        format!(
            "{} is above the proposed memory limit {}; {} fits",
            growth(workers),
            human_bytes(limit),
            growth(proposed)
        )
    };
    advice.rationale.push(format!(
        "{name}: workers {workers} -> {proposed}: {why}; workers are never added, more is a capacity decision"
    ));
    advice.changes.push(SettingChange {
        setting: "--workers".into(),
        current: Some(current.value.clone()),
        proposed: proposed.to_string(),
        origin: current.origin.clone(),
    });
    advice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::runtimes::Origin;

    fn set(server: Server, n: &str) -> Settings {
        Settings { server, workers: Some(Setting { value: n.into(), origin: Origin::Args }) }
    }

    fn sizing(cpu: f64, limit_mib: f64) -> Sizing {
        Sizing {
            cpu_request_cores: 0.1,
            cpu_limit_cores: Some(cpu),
            memory_request_bytes: 1.0,
            memory_limit_bytes: limit_mib * MI,
        }
    }

    #[test]
    fn workers_follow_the_cpu_limit_and_memory() {
        // Peak 832Mi, 8 workers: (832 - 32) / 8 = 100Mi each. CPU 1.2 -> 2 cores -> 2 × 2 + 1 = 5.
        let mut z = sizing(1.2, 1024.0);
        let a = advise(&set(Server::Gunicorn, "8"), &mut z, Some(2048.0 * MI), &Policy::default(), 832.0 * MI);
        assert_eq!(a.changes[0].proposed, "5");
        assert!(a.risks.is_empty(), "832Mi fits 2Gi and 1Gi: {:?}", a.risks);
        // Uvicorn: one per core -> 2.
        assert_eq!(
            advise(&set(Server::Uvicorn, "8"), &mut z, None, &Policy::default(), 832.0 * MI).changes[0].proposed,
            "2"
        );
        // Memory binds: 4 cores allow 9, but (500 - 32) / 100 = 4.68 -> 4 workers.
        let a = advise(&set(Server::Gunicorn, "8"), &mut sizing(4.0, 500.0), None, &Policy::default(), 832.0 * MI);
        assert_eq!(a.changes[0].proposed, "4");
        // Never raised: 3 workers under 4 cores stay 3.
        assert!(advise(&set(Server::Gunicorn, "3"), &mut sizing(4.0, 4096.0), None, &Policy::default(), 332.0 * MI)
            .changes
            .is_empty());
    }

    #[test]
    fn refusal_raises_the_limit_when_not_even_one_worker_fits() {
        // 100Mi per worker, limit 120Mi: (120 - 32) / 100 < 1. The CPU (0.5 -> 1 core) runs
        // 2 × 1 + 1 = 3 workers, so the limit is raised to 3 × 100 + 32 = 332Mi.
        let mut z = sizing(0.5, 120.0);
        let a = advise(&set(Server::Gunicorn, "8"), &mut z, Some(512.0 * MI), &Policy::default(), 832.0 * MI);
        assert_eq!(z.memory_limit_bytes, 332.0 * MI);
        assert!(a.rationale.iter().any(|r| r.starts_with("gunicorn: refused memory limit 120Mi")), "{:?}", a.rationale);
        assert_eq!(a.changes[0].proposed, "3");
        assert_eq!(a.risks, ["gunicorn can grow to 8 × 100Mi + master 32Mi = 832Mi, above its limit 512Mi"]);
    }
}
