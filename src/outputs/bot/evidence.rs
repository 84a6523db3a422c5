//! The evidence section of the pull-request body: per changed container, the proposal
//! replayed over the window it was sized from beside the current settings
//! (`analysis::evidence`), as one short table and a collapsed `<details>` section (GitHub
//! renders Markdown inside `<details>` when a blank line follows `<summary>`).

use crate::analysis::evidence::{Evidence, Replayed};
use crate::domain::ContainerKey;
use crate::outputs::report::markdown::escape;

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn money(delta: f64) -> String {
    if delta < 0.0 {
        format!("-${:.2}", -delta)
    } else {
        format!("+${delta:.2}")
    }
}

fn name(key: &ContainerKey) -> String {
    let w = &key.workload;
    escape(&format!("{} / {}/{} / {}", w.namespace, w.kind.to_lowercase(), w.name, key.container))
}

fn detail_line(label: &str, r: &Replayed) -> String {
    format!(
        "- {label}: {} OOM kill(s), working set above the memory request in {} of samples, {:.0} core-seconds of \
         CPU above the limit ({} of samples), requests ${:.2}/month\n",
        r.oom_kills,
        percent(r.eviction_exposure),
        r.cpu_seconds_above_limit,
        percent(r.cpu_above_limit_share),
        r.monthly_cost
    )
}

/// The section, empty when no changed container has evidence.
pub(crate) fn section(rows: &[(ContainerKey, Evidence)]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "## Evidence\n\nEach change replayed over the samples it was sized from (current → proposed).\n\n\
         | container | OOM kills | eviction exposure | CPU above limit (core-s) | throttling now | cost / month |\n\
         |---|---|---|---|---|---|\n",
    );
    for (key, e) in rows {
        let (c, p) = (&e.current, &e.proposed);
        md.push_str(&format!(
            "| {} | {} → {} | {} → {} | {:.0} → {:.0} | {} | {} |\n",
            name(key),
            c.oom_kills,
            p.oom_kills,
            percent(c.eviction_exposure),
            percent(p.eviction_exposure),
            c.cpu_seconds_above_limit,
            p.cpu_seconds_above_limit,
            e.measured_throttling.map_or("unknown".into(), percent),
            money(e.monthly_cost_delta()),
        ));
    }
    md.push_str("\n<details>\n<summary>How each change was replayed</summary>\n\n");
    for (key, e) in rows {
        md.push_str(&format!("**{}**: {} samples over {:.1} h\n\n", name(key), e.samples, e.hours));
        md.push_str(&detail_line("current", &e.current));
        md.push_str(&detail_line("proposed", &e.proposed));
        md.push('\n');
    }
    md.push_str(
        "An OOM kill is counted each time a pod's working set rises above the memory limit; throttling is measured \
         (CFS periods under the current settings) where the store recorded it.\n\n</details>\n",
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Workload;

    #[test]
    fn one_row_per_change_and_the_detail_collapsed() {
        let key = ContainerKey {
            workload: Workload {
                cluster: String::new(),
                namespace: "shop".into(),
                kind: "Deployment".into(),
                name: "api|x".into(),
            },
            container: "php-fpm".into(),
        };
        let e = Evidence {
            hours: 168.0,
            samples: 30_240,
            current: Replayed { monthly_cost: 31.025, ..Default::default() },
            proposed: Replayed {
                oom_kills: 2,
                eviction_exposure: 0.75,
                cpu_seconds_above_limit: 6.0,
                cpu_above_limit_share: 0.25,
                monthly_cost: 7.75625,
            },
            measured_throttling: None,
        };
        let md = section(&[(key, e)]);
        assert!(
            md.contains("| shop / deployment/api\\|x / php-fpm | 0 → 2 | 0.0% → 75.0% | 0 → 6 | unknown | -$23.27 |\n"),
            "{md}"
        );
        assert!(md.contains("<details>\n<summary>How each change was replayed</summary>\n\n"), "{md}");
        assert!(md.contains("- proposed: 2 OOM kill(s), working set above the memory request in 75.0% of samples"));
        assert!(md.trim_end().ends_with("</details>"));
        assert_eq!(section(&[]), "");
    }
}
