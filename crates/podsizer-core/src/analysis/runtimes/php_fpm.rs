//! php-fpm: peak memory is about `pm.max_children` × the memory one child reaches + the
//! master, whatever the container's limit says. A pool of 50 children of 250 MiB behind a
//! 3 GiB limit is OOM-killed the first time load fills it; lowering the limit without
//! lowering `pm.max_children` plants the same failure.

use super::{Measured, Origin, RuntimeAdvice, Setting, SettingChange};
use crate::analysis::policy::Policy;
use crate::analysis::sizing::round_up;
use crate::analysis::sizing::Sizing;
use crate::domain::human_bytes;

/// Environment variables read as pool settings: the `PHP_FPM_PM_*` family (images whose pool
/// file says `pm.max_children = ${PHP_FPM_PM_MAX_CHILDREN}`, as the docker-library layout with
/// an env-templated `www.conf` does) and the `FPM_PM_*` family of the webdevops images.
pub const ENV_NAMES: &[(&str, &str)] = &[
    ("PHP_FPM_PM", "pm"),
    ("PHP_FPM_PM_MAX_CHILDREN", "pm.max_children"),
    ("PHP_FPM_PM_START_SERVERS", "pm.start_servers"),
    ("PHP_FPM_PM_MIN_SPARE_SERVERS", "pm.min_spare_servers"),
    ("PHP_FPM_PM_MAX_SPARE_SERVERS", "pm.max_spare_servers"),
    ("PHP_FPM_PM_MAX_REQUESTS", "pm.max_requests"),
    ("FPM_PROCESS_MANAGER", "pm"),
    ("FPM_PM_MAX_CHILDREN", "pm.max_children"),
    ("FPM_PM_START_SERVERS", "pm.start_servers"),
    ("FPM_PM_MIN_SPARE_SERVERS", "pm.min_spare_servers"),
    ("FPM_PM_MAX_SPARE_SERVERS", "pm.max_spare_servers"),
    ("FPM_MAX_REQUESTS", "pm.max_requests"),
];

/// The pool keys podsizer reads.
pub const KEYS: &[&str] =
    &["pm", "pm.max_children", "pm.start_servers", "pm.min_spare_servers", "pm.max_spare_servers", "pm.max_requests"];

/// A pool's process-manager settings; `None` where the overlay does not set them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pool {
    /// `pm`: `static`, `dynamic` or `ondemand` (how children are started).
    pub pm: Option<Setting<String>>,
    /// `pm.max_children`: most children at once, and so the pool's peak memory.
    pub max_children: Option<Setting<u32>>,
    /// `pm.start_servers`: children started with the master (`dynamic`).
    pub start_servers: Option<Setting<u32>>,
    /// `pm.min_spare_servers`: fewest idle children kept (`dynamic`).
    pub min_spare_servers: Option<Setting<u32>>,
    /// `pm.max_spare_servers`: most idle children kept (`dynamic`).
    pub max_spare_servers: Option<Setting<u32>>,
    /// `pm.max_requests`: requests a child serves before it is replaced (bounds leaks).
    pub max_requests: Option<Setting<u32>>,
}

impl Pool {
    /// Stores one value read from the tree; `Err` when a count is not a number.
    pub fn set(&mut self, key: &str, raw: &str, origin: Origin) -> Result<(), String> {
        let count = |raw: &str| raw.parse::<u32>().map_err(|_| format!("{key} = {raw:?} ({origin}) is not a number"));
        match key {
            "pm" => self.pm = Some(Setting { value: raw.to_string(), origin }),
            "pm.max_children" => self.max_children = Some(Setting { value: count(raw)?, origin }),
            "pm.start_servers" => self.start_servers = Some(Setting { value: count(raw)?, origin }),
            "pm.min_spare_servers" => self.min_spare_servers = Some(Setting { value: count(raw)?, origin }),
            "pm.max_spare_servers" => self.max_spare_servers = Some(Setting { value: count(raw)?, origin }),
            "pm.max_requests" => self.max_requests = Some(Setting { value: count(raw)?, origin }),
            _ => {}
        }
        Ok(())
    }

    /// A setting's value as text, `None` when it was not found.
    pub fn value_of(&self, key: &str) -> Option<String> {
        if key == "pm" {
            return self.pm.as_ref().map(|s| s.value.clone());
        }
        self.counts().into_iter().find(|(k, _)| *k == key).and_then(|(_, s)| s).map(|s| s.value.to_string())
    }

    /// Where each setting that was found lives.
    pub fn origins(&self) -> impl Iterator<Item = &Origin> {
        let counts = self.counts().into_iter().filter_map(|(_, s)| s).map(|s| &s.origin);
        self.pm.iter().map(|s| &s.origin).chain(counts)
    }

    fn counts(&self) -> [(&'static str, Option<&Setting<u32>>); 5] {
        [
            ("pm.max_children", self.max_children.as_ref()),
            ("pm.start_servers", self.start_servers.as_ref()),
            ("pm.min_spare_servers", self.min_spare_servers.as_ref()),
            ("pm.max_spare_servers", self.max_spare_servers.as_ref()),
            ("pm.max_requests", self.max_requests.as_ref()),
        ]
    }
}

/// One line of a php-fpm `.conf` (INI syntax, `;` comments), as the reader and the writer
/// both see it.
#[derive(Debug, Clone, PartialEq)]
enum Line<'a> {
    /// `[name]`, maybe followed by a comment.
    Section(&'a str),
    /// A pool key podsizer reads, with its raw value (comment and quotes removed).
    Setting {
        key: &'a str,
        value: &'a str,
    },
    Other,
}

fn classify(line: &str) -> Line<'_> {
    let code = line.split(';').next().unwrap_or("").trim();
    if let Some(name) = code.strip_prefix('[').and_then(|c| c.strip_suffix(']')) {
        return Line::Section(name.trim());
    }
    match line.split_once('=') {
        Some((k, v)) if KEYS.contains(&k.trim()) && !k.trim_start().starts_with(';') => {
            Line::Setting { key: k.trim(), value: v.split(';').next().unwrap_or("").trim().trim_matches('"') }
        }
        _ => Line::Other,
    }
}

/// The pool settings of one file, per section in file order. Keys before any section header
/// are under the name `""` (php-fpm would give them to whatever section included the file,
/// which the file alone does not say). `[global]` holds no pool keys.
pub fn pool_sections(conf: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut section = String::new();
    for line in conf.lines() {
        match classify(line) {
            Line::Section(name) => section = name.to_string(),
            Line::Setting { key, value } if !section.eq_ignore_ascii_case("global") => {
                match out.iter_mut().find(|(s, _)| *s == section) {
                    Some((_, values)) => values.push((key.to_string(), value.to_string())),
                    None => out.push((section.clone(), vec![(key.to_string(), value.to_string())])),
                }
            }
            _ => {}
        }
    }
    out
}

/// The variable a value names when it is `${NAME}` (php-fpm expands these from the
/// environment at start).
pub fn env_reference(value: &str) -> Option<&str> {
    value.strip_prefix("${")?.strip_suffix('}')
}

/// The conf with every `key = value` line of section `pool` replaced (php-fpm keeps the last
/// of repeated keys, so all of them get the new value), every other byte kept.
pub fn with_values(conf: &str, pool: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(conf.len());
    let mut section = String::new();
    for line in conf.split_inclusive('\n') {
        let new = match classify(line) {
            Line::Section(name) => {
                section = name.to_string();
                None
            }
            Line::Setting { key, .. } if section == pool => values.iter().find(|(k, _)| *k == key),
            _ => None,
        };
        match new {
            Some((k, v)) => {
                let lead = line.len() - line.trim_start().len();
                let eol = if line.ends_with('\n') { "\n" } else { "" };
                out.push_str(&format!("{}{k} = {v}{eol}", &line[..lead]));
            }
            None => out.push_str(line),
        }
    }
    out
}

/// What the php-fpm exporter (hipages/php-fpm_exporter) said over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExporterFacts {
    /// Highest `phpfpm_process_last_request_memory` of any child.
    pub per_child_peak_bytes: Option<f64>,
    /// Highest `phpfpm_active_processes`.
    pub max_active: Option<f64>,
    /// Highest `phpfpm_total_processes`.
    pub max_total: Option<f64>,
    /// Increase of `phpfpm_max_children_reached` over the window.
    pub max_children_reached: Option<f64>,
}

/// How the memory one child reaches was found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PerChild {
    /// The exporter's per-process figure.
    Exporter(f64),
    /// (peak working set − master) / pm.max_children: assumes every child was busy at the peak.
    FromPeak {
        /// The estimate, in bytes.
        bytes: f64,
        /// The container's peak working set it was taken from, in bytes.
        peak: f64,
        /// The `pm.max_children` it was divided by.
        children: u32,
    },
}

impl PerChild {
    /// The memory one child reaches, in bytes.
    pub fn bytes(&self) -> f64 {
        match *self {
            PerChild::Exporter(b) | PerChild::FromPeak { bytes: b, .. } => b,
        }
    }

    /// The best estimate there is: the exporter's figure when it has one, else the peak working
    /// set (from `measured`) less the `master`'s bytes, shared by `children`.
    pub fn estimate(children: u32, master: f64, measured: &Measured) -> Self {
        if let Some(b) = measured.php_fpm.and_then(|f| f.per_child_peak_bytes).filter(|b| *b > 0.0) {
            return PerChild::Exporter(b);
        }
        let peak = measured.peak_working_set_bytes;
        let children_memory = if peak > master { peak - master } else { peak };
        PerChild::FromPeak { bytes: children_memory / f64::from(children.max(1)), peak, children }
    }

    fn explain(&self, master: f64) -> String {
        match *self {
            PerChild::Exporter(b) => {
                format!("memory per child {} from the php-fpm exporter (highest last-request memory of a child)", human_bytes(b))
            }
            PerChild::FromPeak { bytes, peak, children } => format!(
                "memory per child estimated as (peak working set {} - master {}) / pm.max_children {children} = {} (no exporter metrics: assumes every child was busy at the peak)",
                human_bytes(peak),
                human_bytes(master),
                human_bytes(bytes)
            ),
        }
    }
}

/// The memory rule's verdict on a limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fit {
    /// children × per child + master fits under the limit.
    Fits {
        /// What the pool can reach, in bytes.
        need_bytes: f64,
    },
    /// The limit holds only `to` children: the policy lets pm.max_children go down.
    LowerChildren {
        /// The most children the limit holds: the new `pm.max_children`.
        to: u32,
        /// What the pool can reach with `to` children, in bytes.
        need_bytes: f64,
    },
    /// The limit is refused: it must be at least `to_bytes` for the children configured.
    RaiseLimit {
        /// What the configured children and the master can reach, in bytes.
        to_bytes: f64,
    },
}

/// The memory rule: a limit must hold `children` × `per_child` + `master`.
pub fn fit(children: u32, per_child: f64, master: f64, limit: f64, may_lower_children: bool) -> Fit {
    let need = f64::from(children) * per_child + master;
    if need <= limit {
        return Fit::Fits { need_bytes: need };
    }
    if may_lower_children && per_child > 0.0 {
        let to = ((limit - master) / per_child).floor();
        if to >= 1.0 {
            let to = to as u32;
            return Fit::LowerChildren { to, need_bytes: f64::from(to) * per_child + master };
        }
    }
    Fit::RaiseLimit { to_bytes: need }
}

/// `N × M + master K = X`, as the rationale and risk flags write it.
fn growth(children: u32, per_child: f64, master: f64) -> String {
    format!(
        "{children} × {} + master {} = {}",
        human_bytes(per_child),
        human_bytes(master),
        human_bytes(f64::from(children) * per_child + master)
    )
}

/// Applies the memory rule to `pool` against `sizing`'s memory limit: lowers
/// `pm.max_children` (with the spare servers) when the policy allows and the limit holds at least
/// one child, else raises the limit in `sizing`. `current_limit` (bytes) only flags a risk today.
pub fn advise(
    pool: &Pool,
    sizing: &mut Sizing,
    current_limit: Option<f64>,
    policy: &Policy,
    measured: &Measured,
) -> RuntimeAdvice {
    let mut advice = RuntimeAdvice { runtime: "php-fpm".into(), ..Default::default() };
    if let Some(pm) = &pool.pm {
        advice.found.push(format!("pm = {} ({})", pm.value, pm.origin));
    }
    for (key, s) in pool.counts() {
        if let Some(s) = s {
            advice.found.push(format!("{key} = {} ({})", s.value, s.origin));
        }
    }
    let Some(max_children) = &pool.max_children else {
        advice.unread.push("pm.max_children not found: the php-fpm memory rule is not applied".into());
        return advice;
    };
    let children = max_children.value;
    let master = policy.php_fpm.master_bytes;
    let per_child = PerChild::estimate(children, master, measured);
    let m = per_child.bytes();
    advice.rationale.push(format!("php-fpm: {}", per_child.explain(master)));
    if let Some(limit) = current_limit.filter(|l| f64::from(children) * m + master > *l) {
        advice.risks.push(format!(
            "php-fpm can grow to {}, above its limit {}",
            growth(children, m, master),
            human_bytes(limit)
        ));
    }
    let limit = sizing.memory_limit_bytes;
    match fit(children, m, master, limit, policy.php_fpm.lower_max_children) {
        Fit::Fits { .. } => advice.rationale.push(format!(
            "php-fpm: pm.max_children {children} fits the proposed memory limit {}: {}",
            human_bytes(limit),
            growth(children, m, master)
        )),
        Fit::LowerChildren { to, .. } => lower_children(pool, to, &mut advice, |to| {
            format!(
                "php-fpm: pm.max_children {children} -> {to}: {} is above the proposed memory limit {}; {} fits, so load queues for a child instead of OOM-killing the pod",
                growth(children, m, master),
                human_bytes(limit),
                growth(to, m, master)
            )
        }),
        Fit::RaiseLimit { to_bytes } => {
            let raised = round_up(to_bytes, policy.memory.step_bytes);
            sizing.memory_limit_bytes = raised;
            advice.rationale.push(format!(
                "php-fpm: refused memory limit {}: php-fpm can grow to {}; limit raised to {} ({})",
                human_bytes(limit),
                growth(children, m, master),
                human_bytes(raised),
                if policy.php_fpm.lower_max_children {
                    "not even one child fits the lower limit"
                } else {
                    "the policy keeps pm.max_children (php_fpm.lower_max_children = false)"
                }
            ));
        }
    }
    if let Some(reached) = measured.php_fpm.and_then(|f| f.max_children_reached).filter(|r| *r > 0.0) {
        advice.rationale.push(format!(
            "php-fpm reached pm.max_children {reached:.0} time(s) in the window: requests already queued for a child"
        ));
    }
    advice
}

/// Lowers pm.max_children and pulls the spare-server settings php-fpm checks against it
/// (min/max spare ≤ max_children, start between them) down with it; only settings found.
fn lower_children(pool: &Pool, to: u32, advice: &mut RuntimeAdvice, why: impl Fn(u32) -> String) {
    let change = |s: &Setting<u32>, key: &str, value: u32| SettingChange {
        setting: key.into(),
        current: Some(s.value.to_string()),
        proposed: value.to_string(),
        origin: s.origin.clone(),
    };
    let mc = pool.max_children.as_ref().expect("caller checked");
    advice.changes.push(change(mc, "pm.max_children", to));
    advice.rationale.push(why(to));
    let max_spare = pool.max_spare_servers.as_ref().map(|s| s.value.min(to));
    let min_spare = pool.min_spare_servers.as_ref().map(|s| s.value.min(max_spare.unwrap_or(to)));
    let start = pool.start_servers.as_ref().map(|s| s.value.clamp(min_spare.unwrap_or(1), max_spare.unwrap_or(to)));
    for (key, s, new) in [
        ("pm.max_spare_servers", &pool.max_spare_servers, max_spare),
        ("pm.min_spare_servers", &pool.min_spare_servers, min_spare),
        ("pm.start_servers", &pool.start_servers, start),
    ] {
        if let (Some(s), Some(new)) = (s, new) {
            if new != s.value {
                advice.changes.push(change(s, key, new));
                advice.rationale.push(format!(
                    "php-fpm: {key} {} -> {new}: php-fpm refuses to start unless min spare <= start <= max spare <= pm.max_children",
                    s.value
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: f64 = 1024.0 * 1024.0;

    fn cm() -> Origin {
        Origin::ConfigMap { name: "api-php-fpm".into(), key: "www.conf".into() }
    }

    /// The pool: 50 children, dynamic, spares 5..35, start 20.
    fn pool() -> Pool {
        let mut p = Pool::default();
        for (k, v) in [
            ("pm", "dynamic"),
            ("pm.max_children", "50"),
            ("pm.start_servers", "20"),
            ("pm.min_spare_servers", "5"),
            ("pm.max_spare_servers", "35"),
            ("pm.max_requests", "500"),
        ] {
            p.set(k, v, cm()).unwrap();
        }
        p
    }

    fn policy(lower: bool) -> Policy {
        let mut p = Policy::default();
        p.php_fpm.lower_max_children = lower;
        p.php_fpm.master_bytes = 32.0 * MI;
        p
    }

    fn sizing(limit_mi: f64) -> Sizing {
        Sizing {
            cpu_request_cores: 0.5,
            cpu_limit_cores: Some(1.0),
            memory_request_bytes: 1024.0 * MI,
            memory_limit_bytes: limit_mi * MI,
        }
    }

    fn exporter(per_child_mi: f64) -> Measured {
        Measured {
            peak_working_set_bytes: 900.0 * MI,
            php_fpm: Some(ExporterFacts { per_child_peak_bytes: Some(per_child_mi * MI), ..Default::default() }),
        }
    }

    #[test]
    fn memory_rule_by_hand() {
        // 50 × 250Mi + 32Mi = 12532Mi needed.
        assert_eq!(fit(50, 250.0 * MI, 32.0 * MI, 12532.0 * MI, false), Fit::Fits { need_bytes: 12532.0 * MI });
        // Under 3Gi = 3072Mi: (3072 - 32) / 250 = 12.16 -> 12 children, 12 × 250 + 32 = 3032Mi.
        assert_eq!(
            fit(50, 250.0 * MI, 32.0 * MI, 3072.0 * MI, true),
            Fit::LowerChildren { to: 12, need_bytes: 3032.0 * MI }
        );
        // Refused when the policy keeps the children: the limit must be 12532Mi.
        assert_eq!(fit(50, 250.0 * MI, 32.0 * MI, 3072.0 * MI, false), Fit::RaiseLimit { to_bytes: 12532.0 * MI });
        // Not even one child fits 200Mi (200 - 32 < 250): refused even when lowering is allowed.
        assert_eq!(fit(50, 250.0 * MI, 32.0 * MI, 200.0 * MI, true), Fit::RaiseLimit { to_bytes: 12532.0 * MI });
    }

    #[test]
    fn lowering_children_pulls_the_spares_down_and_flags_the_current_limit() {
        let mut s = sizing(3072.0);
        let a = advise(&pool(), &mut s, Some(3072.0 * MI), &policy(true), &exporter(250.0));
        assert_eq!(s.memory_limit_bytes, 3072.0 * MI, "limit kept");
        let changes: Vec<(&str, &str, &str)> = a
            .changes
            .iter()
            .map(|c| (c.setting.as_str(), c.current.as_deref().unwrap(), c.proposed.as_str()))
            .collect();
        // max spare 35 -> 12; min spare 5 stays; start 20 -> 12 (within 5..12).
        assert_eq!(
            changes,
            [("pm.max_children", "50", "12"), ("pm.max_spare_servers", "35", "12"), ("pm.start_servers", "20", "12")]
        );
        assert_eq!(a.risks, ["php-fpm can grow to 50 × 250Mi + master 32Mi = 12.2Gi, above its limit 3Gi"]);
        assert!(a.changes.iter().all(|c| c.origin == cm()));
    }

    #[test]
    fn refusal_raises_the_limit_when_the_policy_keeps_the_children() {
        let mut s = sizing(3072.0);
        let a = advise(&pool(), &mut s, None, &policy(false), &exporter(250.0));
        assert!(a.changes.is_empty(), "{:?}", a.changes);
        assert_eq!(s.memory_limit_bytes, 12532.0 * MI);
        assert!(a.rationale.iter().any(|r| r.starts_with("php-fpm: refused memory limit 3Gi")), "{:?}", a.rationale);
        assert!(a.risks.is_empty(), "no current limit known, nothing to flag");
    }

    #[test]
    fn without_exporter_the_peak_is_shared_among_the_children() {
        // (482Mi - 32Mi) / 50 = 9Mi per child; 50 × 9 + 32 = 482Mi fits 1041Mi.
        let measured = Measured { peak_working_set_bytes: 482.0 * MI, php_fpm: None };
        let per_child = PerChild::estimate(50, 32.0 * MI, &measured);
        assert_eq!(per_child, PerChild::FromPeak { bytes: 9.0 * MI, peak: 482.0 * MI, children: 50 });
        let mut s = sizing(1041.0);
        let a = advise(&pool(), &mut s, Some(2048.0 * MI), &policy(true), &measured);
        assert!(a.changes.is_empty());
        assert!(a.rationale[0].contains("no exporter metrics"), "{:?}", a.rationale);
        assert!(a.rationale[1].contains("pm.max_children 50 fits"), "{:?}", a.rationale);
    }

    #[test]
    fn without_max_children_nothing_is_proposed() {
        let mut p = Pool::default();
        p.set("pm", "ondemand", cm()).unwrap();
        let mut s = sizing(100.0);
        let a = advise(&p, &mut s, None, &policy(true), &exporter(250.0));
        assert!(a.changes.is_empty());
        assert_eq!(s.memory_limit_bytes, 100.0 * MI);
        assert_eq!(a.unread, ["pm.max_children not found: the php-fpm memory rule is not applied"]);
    }

    #[test]
    fn reads_and_rewrites_a_pool_file_by_section() {
        let conf = "[global]\nerror_log = /proc/self/fd/2\n[www] ; the app\n; tuned in 2024\npm = dynamic\npm.max_children = 50 ; peak season\npm.start_servers=${START}\n[other]\npm.max_children = 3\n";
        let sections = pool_sections(conf);
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            sections,
            [
                (
                    "www".to_string(),
                    vec![pair("pm", "dynamic"), pair("pm.max_children", "50"), pair("pm.start_servers", "${START}")]
                ),
                ("other".to_string(), vec![pair("pm.max_children", "3")]),
            ]
        );
        assert_eq!(env_reference("${START}"), Some("START"));
        let out = with_values(conf, "www", &[("pm.max_children", "12".to_string())]);
        assert!(out.contains("pm.max_children = 12\npm.start_servers=${START}\n"), "{out}");
        assert_eq!(out.lines().count(), conf.lines().count());
        assert!(out.ends_with("[other]\npm.max_children = 3\n"), "only the named pool: {out}");
        let other = with_values(conf, "other", &[("pm.max_children", "2".to_string())]);
        assert!(other.ends_with("[other]\npm.max_children = 2\n") && other.contains("= 50 ; peak"), "{other}");
        assert!(Pool::default().set("pm.max_children", "lots", cm()).is_err());
    }

    #[test]
    fn keys_outside_a_section_and_in_global_are_told_apart() {
        let sections = pool_sections("pm.max_children = 9\n[global]\npm.max_children = 1\n[www]\npm = static\n");
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].0, "", "headerless keys are not given to a pool");
        assert_eq!(sections[1].0, "www");
    }
}
