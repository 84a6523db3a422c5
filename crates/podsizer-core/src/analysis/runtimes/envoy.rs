//! envoy: `--concurrency` defaults to the host's hardware threads, not the container's CPU
//! limit, so an envoy capped at 170m on a 32-thread node starts 32 workers, each with its own
//! buffers and upstream connection pools, and spends its quota switching between them.

use super::{workers_for, RuntimeAdvice, Setting, SettingChange};
use crate::analysis::sizing::Sizing;

/// envoy's settings as the container's args give them.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `None`: no `--concurrency` flag, so envoy uses every hardware thread of the node.
    pub concurrency: Option<Setting<u32>>,
    /// The rendered `args`, needed to patch the list (it has no merge key: a patch replaces it).
    pub args: Vec<String>,
}

/// Reads `--concurrency N` or `--concurrency=N` from an argument list. `Err` carries the
/// flag's text when it is there but not a number.
pub fn concurrency_in(args: &[String]) -> Result<Option<u32>, String> {
    for (i, a) in args.iter().enumerate() {
        let value = if a == "--concurrency" {
            args.get(i + 1).map_or("", String::as_str)
        } else if let Some(v) = a.strip_prefix("--concurrency=") {
            v
        } else {
            continue;
        };
        return value.parse().map(Some).map_err(|_| format!("--concurrency {value:?}"));
    }
    Ok(None)
}

/// The args with `--concurrency` set to `n`: replaced where it was, appended when absent.
pub fn with_concurrency(args: &[String], n: u32) -> Vec<String> {
    let mut out = args.to_vec();
    for i in 0..out.len() {
        if out[i] == "--concurrency" && i + 1 < out.len() {
            out[i + 1] = n.to_string();
            return out;
        }
        if out[i].starts_with("--concurrency=") {
            out[i] = format!("--concurrency={n}");
            return out;
        }
    }
    out.extend(["--concurrency".to_string(), n.to_string()]);
    out
}

/// Sets `--concurrency` to the CPU budget (the limit, or the request without one, rounded up),
/// adding the flag when it is absent: envoy's default follows the node, never the quota.
pub fn advise(s: &Settings, sizing: &Sizing) -> RuntimeAdvice {
    let (workers, budget) = workers_for(sizing);
    let mut advice = RuntimeAdvice { runtime: "envoy".into(), ..Default::default() };
    let current = s.concurrency.as_ref().map(|c| c.value);
    match &s.concurrency {
        Some(c) => advice.found.push(format!("--concurrency {} ({})", c.value, c.origin)),
        None => advice.found.push(
            "no --concurrency in the container args: envoy starts one worker per hardware thread of the node".into(),
        ),
    }
    if current == Some(workers) {
        advice.rationale.push(format!("envoy --concurrency {workers} already matches the {budget}"));
        return advice;
    }
    advice.changes.push(SettingChange {
        setting: "--concurrency".into(),
        current: current.map(|c| c.to_string()),
        proposed: workers.to_string(),
        origin: super::Origin::Args,
    });
    advice.rationale.push(format!(
        "envoy --concurrency {} -> {workers}: one worker per core of the {budget}, rounded up; {}",
        current.map_or("unset (node's hardware threads)".to_string(), |c| c.to_string()),
        "more workers than cores only adds buffers, connection pools and context switches under the CFS quota"
    ));
    advice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(std::string::ToString::to_string).collect()
    }

    fn sizing(limit: Option<f64>) -> Sizing {
        Sizing { cpu_request_cores: 0.045, cpu_limit_cores: limit, memory_request_bytes: 1.0, memory_limit_bytes: 2.0 }
    }

    #[test]
    fn reads_both_flag_forms_and_absence() {
        assert_eq!(concurrency_in(&strings(&["-c", "/e.yaml", "--concurrency", "4"])), Ok(Some(4)));
        assert_eq!(concurrency_in(&strings(&["--concurrency=2", "-c", "x"])), Ok(Some(2)));
        assert_eq!(concurrency_in(&strings(&["-c", "/etc/envoy/envoy.yaml"])), Ok(None));
        assert!(concurrency_in(&strings(&["--concurrency", "$(CORES)"])).is_err());
    }

    #[test]
    fn rewrites_in_place_or_appends() {
        assert_eq!(
            with_concurrency(&strings(&["--concurrency", "32", "-c", "x"]), 1),
            strings(&["--concurrency", "1", "-c", "x"])
        );
        assert_eq!(with_concurrency(&strings(&["--concurrency=32"]), 2), strings(&["--concurrency=2"]));
        assert_eq!(with_concurrency(&strings(&["-c", "x"]), 1), strings(&["-c", "x", "--concurrency", "1"]));
    }

    #[test]
    fn concurrency_follows_the_cpu_limit_rounded_up() {
        let absent = Settings { concurrency: None, args: vec![] };
        // 170m -> 1 worker; 1.2 cores -> 2; exactly 2 cores -> 2.
        for (limit, want) in [(0.17, "1"), (1.2, "2"), (2.0, "2")] {
            let a = advise(&absent, &sizing(Some(limit)));
            assert_eq!(a.changes.len(), 1);
            assert_eq!(a.changes[0].proposed, want, "limit {limit}");
            assert_eq!(a.changes[0].current, None);
        }
        // No limit: the request (45m) gives one worker.
        assert_eq!(advise(&absent, &sizing(None)).changes[0].proposed, "1");
    }

    #[test]
    fn a_matching_setting_is_left_alone() {
        let set = Settings {
            concurrency: Some(Setting { value: 2, origin: super::super::Origin::Args }),
            args: strings(&["--concurrency", "2"]),
        };
        let a = advise(&set, &sizing(Some(1.5)));
        assert!(a.changes.is_empty());
        assert!(a.rationale[0].contains("already matches"), "{:?}", a.rationale);
    }
}
