//! nginx: `worker_processes auto` starts one worker per CPU the host reports, not per core
//! of the cgroup's quota, so a 200m nginx on a 32-thread node runs 32 workers that share a
//! fifth of a core.

use super::{workers_for, Origin, RuntimeAdvice, Setting, SettingChange};
use crate::analysis::sizing::Sizing;

/// nginx's `worker_processes` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerProcesses {
    /// `auto`: one worker per CPU the host reports, not per core of the quota.
    Auto,
    /// A fixed number of workers.
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

/// What the overlay says about nginx.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `None`: nginx.conf has no `worker_processes` (nginx then runs one worker).
    pub worker_processes: Option<Setting<WorkerProcesses>>,
    /// Where nginx.conf was found, for the message when the directive is absent.
    pub conf: Origin,
}

/// One token of an nginx.conf: a word (quotes kept) or one of `;`, `{`, `}`, with its bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Token<'a> {
    text: &'a str,
    start: usize,
}

/// The tokens of an nginx.conf, comments dropped. nginx reads a directive up to its `;`
/// whatever the line breaks, so the reader and the writer work on tokens, never on lines.
fn tokens(conf: &str) -> Vec<Token<'_>> {
    let bytes = conf.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if matches!(b, b';' | b'{' | b'}') {
            out.push(Token { text: &conf[i..=i], start: i });
            i += 1;
        } else {
            let start = i;
            let quote = matches!(b, b'"' | b'\'').then_some(b);
            i += 1;
            while i < bytes.len() {
                let c = bytes[i];
                match quote {
                    Some(_) if c == b'\\' => i += 1,
                    Some(q) if c == q => {
                        i += 1;
                        break;
                    }
                    Some(_) => {}
                    None if c.is_ascii_whitespace() || matches!(c, b';' | b'{' | b'}') => break,
                    None => {}
                }
                i += 1;
            }
            out.push(Token { text: &conf[start..i.min(bytes.len())], start });
        }
    }
    out
}

/// The value tokens of the main-context `worker_processes` directive: its text and its byte
/// span in the file (from the first value token to the end of the last).
fn main_worker_processes(conf: &str) -> Option<(String, std::ops::Range<usize>)> {
    let tokens = tokens(conf);
    let mut depth = 0usize;
    let mut statement_start = true;
    for (i, t) in tokens.iter().enumerate() {
        match t.text {
            "{" => depth += 1,
            "}" => depth = depth.saturating_sub(1),
            "worker_processes" if depth == 0 && statement_start => {
                let values: Vec<&Token> = tokens[i + 1..].iter().take_while(|v| v.text != ";").collect();
                let (first, last) = (values.first()?, values.last()?);
                let span = first.start..last.start + last.text.len();
                let text = values.iter().map(|v| v.text).collect::<Vec<_>>().join(" ");
                return Some((text, span));
            }
            _ => {}
        }
        statement_start = matches!(t.text, ";" | "{" | "}");
    }
    None
}

/// The main-context `worker_processes` of an nginx.conf (a directive may span lines). `Err`
/// carries a value that is neither `auto` nor a number (a template placeholder, say).
pub fn worker_processes_in(conf: &str) -> Result<Option<WorkerProcesses>, String> {
    let Some((value, _)) = main_worker_processes(conf) else { return Ok(None) };
    match value.as_str() {
        "auto" => Ok(Some(WorkerProcesses::Auto)),
        v => v.parse().map(|n| Some(WorkerProcesses::Count(n))).map_err(|_| v.to_string()),
    }
}

/// The conf with the main-context `worker_processes` value replaced (the same directive the
/// reader found), every other byte kept.
pub fn with_worker_processes(conf: &str, n: u32) -> String {
    match main_worker_processes(conf) {
        Some((_, span)) => format!("{}{n}{}", &conf[..span.start], &conf[span.end..]),
        None => conf.to_string(),
    }
}

/// Sets `worker_processes` to the CPU budget (the limit, or the request without one, rounded
/// up); a directive that is not set is left as it is.
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
    fn directives_split_over_lines_are_read_and_rewritten_in_place() {
        let cases = [
            (
                "worker_processes\n    4;\nevents {}\n",
                Some(WorkerProcesses::Count(4)),
                "worker_processes\n    2;\nevents {}\n",
            ),
            (
                "user nginx; worker_processes auto; # x\n",
                Some(WorkerProcesses::Auto),
                "user nginx; worker_processes 2; # x\n",
            ),
            (
                "events {\n}\nworker_processes # how many\n  8\n  ;\n",
                Some(WorkerProcesses::Count(8)),
                "events {\n}\nworker_processes # how many\n  2\n  ;\n",
            ),
            ("http { server { worker_processes 3; } }\n", None, "http { server { worker_processes 3; } }\n"),
            ("set $x \"worker_processes 9;\"; events {}\n", None, "set $x \"worker_processes 9;\"; events {}\n"),
        ];
        for (conf, want, rewritten) in cases {
            assert_eq!(worker_processes_in(conf), Ok(want.clone()), "{conf:?}");
            assert_eq!(with_worker_processes(conf, 2), rewritten, "{conf:?}");
            if want.is_some() {
                assert_eq!(worker_processes_in(&with_worker_processes(conf, 2)), Ok(Some(WorkerProcesses::Count(2))));
            }
        }
        assert!(worker_processes_in("worker_processes 2\n 4;\n").is_err(), "two values are not a count");
    }

    #[test]
    fn rewrite_keeps_everything_else() {
        let out = with_worker_processes(CONF, 2);
        assert_eq!(out, CONF.replace("worker_processes  auto;", "worker_processes  2;"));
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
