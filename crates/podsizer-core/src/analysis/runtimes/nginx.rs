//! nginx: `worker_processes auto` starts one worker per CPU the host reports, not per core
//! of the cgroup's quota, so a 200m nginx on a 32-thread node runs 32 workers that share a
//! fifth of a core.

use super::{workers_for, Origin, RuntimeAdvice, Setting, SettingChange};
use crate::analysis::sizing::Sizing;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerProcesses {
    Auto,
    Count(u32),
}

impl std::fmt::Display for WorkerProcesses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerProcesses::Auto => write!(f, "auto"),
            WorkerProcesses::Count(n) => write!(f, "{n}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `None`: nginx.conf has no `worker_processes` (nginx then runs one worker).
    pub worker_processes: Option<Setting<WorkerProcesses>>,
    /// Where nginx.conf was found, for the message when the directive is absent.
    pub conf: Origin,
}

/// The main-context `worker_processes` of an nginx.conf. `Err` carries a value that is
/// neither `auto` nor a number (a template placeholder, say).
pub fn worker_processes_in(conf: &str) -> Result<Option<WorkerProcesses>, String> {
    let mut depth = 0usize;
    for line in conf.lines() {
        let code = line.split('#').next().unwrap_or("");
        let trimmed = code.trim();
        if depth == 0 {
            if let Some(rest) = trimmed.strip_prefix("worker_processes") {
                if rest.starts_with(char::is_whitespace) {
                    let value = rest.trim().trim_end_matches(';').trim();
                    return match value {
                        "auto" => Ok(Some(WorkerProcesses::Auto)),
                        v => v.parse().map(|n| Some(WorkerProcesses::Count(n))).map_err(|_| v.to_string()),
                    };
                }
            }
        }
        depth += code.matches('{').count();
        depth = depth.saturating_sub(code.matches('}').count());
    }
    Ok(None)
}

/// The conf with the main-context `worker_processes` value replaced, every other byte kept.
pub fn with_worker_processes(conf: &str, n: u32) -> String {
    let mut out = String::with_capacity(conf.len());
    let mut done = false;
    for line in conf.split_inclusive('\n') {
        let lead = line.len() - line.trim_start().len();
        let body = &line[lead..];
        if !done && body.starts_with("worker_processes") {
            if let Some(semi) = body.find(';') {
                out.push_str(&line[..lead]);
                out.push_str(&format!("worker_processes {n}"));
                out.push_str(&body[semi..]);
                done = true;
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

pub fn advise(s: &Settings, sizing: &Sizing) -> RuntimeAdvice {
    let (workers, budget) = workers_for(sizing);
    let mut advice = RuntimeAdvice { runtime: "nginx".into(), ..Default::default() };
    let Some(current) = &s.worker_processes else {
        advice.found.push(format!("nginx.conf ({}) has no worker_processes: nginx runs 1 worker", s.conf));
        advice.rationale.push(format!(
            "nginx worker_processes not set (1 worker); left as it is: podsizer only changes settings it found ({budget} would allow {workers})"
        ));
        return advice;
    };
    advice.found.push(format!("worker_processes {} ({})", current.value, current.origin));
    if current.value == WorkerProcesses::Count(workers) {
        advice.rationale.push(format!("nginx worker_processes {workers} already matches the {budget}"));
        return advice;
    }
    advice.changes.push(SettingChange {
        setting: "worker_processes".into(),
        current: Some(current.value.to_string()),
        proposed: workers.to_string(),
        origin: current.origin.clone(),
    });
    let why = match current.value {
        WorkerProcesses::Auto => "`auto` counts the node's CPUs, not the container's quota",
        WorkerProcesses::Count(_) => "workers beyond the quota only queue for it",
    };
    advice
        .rationale
        .push(format!("nginx worker_processes {} -> {workers}: matches the {budget}; {why}", current.value));
    advice
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "user nginx;\nworker_processes  auto;   # one per CPU\nevents {\n    worker_connections 1024;\n}\nhttp {\n  server { listen 8080; }\n}\n";

    fn origin() -> Origin {
        Origin::ConfigMap { name: "api-nginx".into(), key: "nginx.conf".into() }
    }

    #[test]
    fn reads_auto_a_number_and_absence_but_not_nested_or_commented() {
        assert_eq!(worker_processes_in(CONF), Ok(Some(WorkerProcesses::Auto)));
        assert_eq!(worker_processes_in("worker_processes 4;\n"), Ok(Some(WorkerProcesses::Count(4))));
        assert_eq!(worker_processes_in("# worker_processes 8;\nevents {}\n"), Ok(None));
        assert_eq!(worker_processes_in("http {\n worker_processes 3;\n}\n"), Ok(None));
        assert!(worker_processes_in("worker_processes ${WORKERS};\n").is_err());
    }

    #[test]
    fn rewrite_keeps_everything_else() {
        let out = with_worker_processes(CONF, 2);
        assert_eq!(out, CONF.replace("worker_processes  auto;", "worker_processes 2;"));
        assert_eq!(worker_processes_in(&out), Ok(Some(WorkerProcesses::Count(2))));
    }

    #[test]
    fn proposes_workers_for_the_limit_and_never_adds_a_missing_directive() {
        let sizing = Sizing {
            cpu_request_cores: 0.04,
            cpu_limit_cores: Some(0.15),
            memory_request_bytes: 1.0,
            memory_limit_bytes: 2.0,
        };
        let auto = Settings {
            worker_processes: Some(Setting { value: WorkerProcesses::Auto, origin: origin() }),
            conf: origin(),
        };
        let a = advise(&auto, &sizing);
        assert_eq!(a.changes[0].proposed, "1");
        assert_eq!(a.changes[0].current.as_deref(), Some("auto"));
        let four = Settings {
            worker_processes: Some(Setting { value: WorkerProcesses::Count(4), origin: origin() }),
            conf: origin(),
        };
        let big = Sizing { cpu_limit_cores: Some(2.5), ..sizing };
        assert_eq!(advise(&four, &big).changes[0].proposed, "3");
        let absent = Settings { worker_processes: None, conf: origin() };
        assert!(advise(&absent, &big).changes.is_empty());
    }
}
