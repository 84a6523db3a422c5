//! The report's document model (blocks of lines of inlines, rendered to Markdown and to
//! HTML) and the cells every section builds from: titles, settings, money, changes.

use super::{NowProposed, Report};
use crate::domain::{human_bytes, Cpu};
use crate::outputs::format::RecommendationDoc;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Inline {
    Text(String),
    Strong(String),
    Code(String),
    /// A risk flag: highlighted in HTML, bold in Markdown.
    Flag(String),
    Link {
        text: String,
        href: String,
    },
}

pub(super) type Line = Vec<Inline>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    Heading {
        level: u8,
        text: String,
        id: String,
    },
    Para(Line),
    List(Vec<Line>),
    /// `right[i]`: right-align column i (numbers).
    Table {
        head: Vec<String>,
        right: Vec<bool>,
        rows: Vec<Vec<Line>>,
    },
    Image {
        src: String,
        alt: String,
        width: u32,
        height: u32,
    },
}

pub(super) fn t(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

pub(super) fn b(s: impl Into<String>) -> Inline {
    Inline::Strong(s.into())
}

pub(super) fn code(s: impl Into<String>) -> Inline {
    Inline::Code(s.into())
}

pub(super) fn heading(level: u8, text: impl Into<String>, id: impl Into<String>) -> Block {
    Block::Heading { level, text: text.into(), id: id.into() }
}

pub(super) fn money(v: f64) -> String {
    let sign = if v < 0.0 { "-" } else { "" };
    let v = v.abs();
    let whole = v.trunc() as u64;
    let cents = ((v - whole as f64) * 100.0).round() as u64;
    let (whole, cents) = if cents == 100 { (whole + 1, 0) } else { (whole, cents) };
    format!("{sign}${}.{cents:02}", count(whole))
}

pub(super) fn percent_change(before: f64, after: f64) -> String {
    if before == 0.0 {
        return String::new();
    }
    let p = (after - before) / before * 100.0;
    if p.abs() < 0.5 {
        "±0%".into()
    } else {
        format!("{}{:.0}%", if p > 0.0 { "+" } else { "-" }, p.abs())
    }
}

pub(super) fn cpu(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| Cpu(v).to_string())
}

pub(super) fn mem(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), human_bytes)
}

pub(super) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(super) fn local_time(report: &Report, ms: i64) -> String {
    use chrono::TimeZone;
    report
        .tz
        .timestamp_millis_opt(ms)
        .single()
        .map_or_else(|| ms.to_string(), |t| t.format("%a %-d %b %Y %H:%M").to_string())
}

/// Settings of one container as (now, proposed) in `SETTINGS` order.
pub(super) fn settings(r: &RecommendationDoc) -> [(Option<f64>, Option<f64>, bool); 4] {
    let cur = r.current.as_ref();
    let sized = r.status == "sized";
    [
        (cur.and_then(|c| c.cpu.request_cores), r.cpu.as_ref().and_then(|c| c.request_cores), sized),
        (cur.and_then(|c| c.cpu.limit_cores), r.cpu.as_ref().and_then(|c| c.limit_cores), sized),
        (cur.and_then(|c| c.memory.request_bytes), r.memory.as_ref().and_then(|m| m.request_bytes), sized),
        (cur.and_then(|c| c.memory.limit_bytes), r.memory.as_ref().and_then(|m| m.limit_bytes), sized),
    ]
}

pub(super) fn show(i: usize, v: Option<f64>) -> String {
    if i < 2 {
        cpu(v)
    } else {
        mem(v)
    }
}

/// `1 -> **240m** (-76%)` for the summary table.
pub(super) fn change_cell(i: usize, now: Option<f64>, proposed: Option<f64>, sized: bool) -> Line {
    if !sized {
        return vec![t(show(i, now)), t(" (kept)")];
    }
    let new_text = match proposed {
        None if i == 1 => "no limit".to_string(),
        v => show(i, v),
    };
    match now {
        None => vec![t("not set → "), b(new_text)],
        Some(n) => {
            let same = proposed.is_some_and(|p| (p - n).abs() < 1e-9 * n.abs().max(1.0));
            if same {
                vec![t(format!("{new_text} (same)"))]
            } else {
                let pc = proposed.map(|p| percent_change(n, p)).unwrap_or_default();
                let mut line = vec![t(format!("{} → ", show(i, Some(n)))), b(new_text)];
                if !pc.is_empty() {
                    line.push(t(format!(" ({pc})")));
                }
                line
            }
        }
    }
}

pub(super) fn workload_title(ns: &str, kind: &str, name: &str) -> String {
    format!("{ns} / {}/{name}", kind.to_lowercase())
}

/// `cluster / ` before a title, for workloads with a cluster.
pub(super) fn cluster_title(cluster: &str) -> String {
    if cluster.is_empty() {
        String::new()
    } else {
        format!("{cluster} / ")
    }
}

pub(super) fn short_flag(code: &str) -> &'static str {
    match code {
        "not_enough_history" => "not enough history",
        "excluded" => "excluded",
        "short_history" => "short history",
        "throttled_now" => "throttled now",
        "memory_above_limit_now" => "over memory limit now",
        "oom_risk_now" => "OOM risk now",
        "throttling_risk" => "throttling risk",
        "oom_risk_proposed" => "OOM risk",
        "eviction_exposure_now" => "eviction exposure now",
        "eviction_exposure" => "eviction exposure",
        "runtime_risk" => "runtime settings outgrow the limit",
        "current_unknown" => "current unknown",
        _ => "see details",
    }
}

pub(super) fn cost_cell(c: &NowProposed) -> Line {
    match (c.current, c.proposed) {
        (Some(a), Some(p)) => vec![t(format!("{} → ", money(a))), b(money(p))],
        (None, Some(p)) => vec![t("? → "), b(money(p))],
        (Some(a), None) => vec![t(money(a))],
        (None, None) => vec![t("-")],
    }
}

/// Text whose `backticked` parts (names in rationales) become code spans.
pub(super) fn with_code(text: &str) -> Line {
    if !text.matches('`').count().is_multiple_of(2) {
        return vec![t(text)];
    }
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| if i % 2 == 1 { code(part) } else { t(part) })
        .collect()
}
