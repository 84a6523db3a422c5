//! Writing the report's folder: `index.html`, `index.md`, `report.json`, `charts/` and the
//! marker file [`MARKER`], all or nothing (`outputs::fileset`).
//!
//! A report replaces files by name, so it writes only where nothing of the user's can be
//! replaced: a missing or empty folder, or one that holds a podsizer report (the marker, or,
//! for reports written before the marker, nothing but a report's own files with a podsizer
//! `report.json`). Any other folder (a website with its own `index.html`, a home directory,
//! `/`) is refused before anything is written.

use super::{charts, content, html, markdown, Report, ReportError, FORMAT};
use crate::outputs::fileset::{self, Stage};
use std::path::Path;

/// The file that marks a folder as a podsizer report's; a later report may write there.
pub(crate) const MARKER: &str = ".podsizer-report";

const MARKER_TEXT: &str = "This folder holds a report written by `podsizer report`.\n\
A later `podsizer report --out` into it replaces index.html, index.md, report.json and charts/.\n";

/// What a report writes at the top of its folder (a folder holding only these is a report).
const REPORT_ENTRIES: [&str; 5] = ["index.html", "index.md", "report.json", "charts", MARKER];

/// Files a written report consists of, relative to its folder (the marker left out).
#[derive(Debug, Default)]
pub(crate) struct Written {
    pub files: Vec<String>,
}

/// Whether a report may be written into `dir`: missing, empty, or holding a podsizer report.
pub(crate) fn check_folder(dir: &Path) -> Result<(), ReportError> {
    let refuse = |why: String| ReportError::NotReportFolder { path: dir.to_path_buf(), why };
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(ReportError::Io { path: dir.to_path_buf(), source }),
        Ok(meta) if !meta.is_dir() => return Err(refuse("it is not a folder".into())),
        Ok(_) => {}
    }
    if std::fs::symlink_metadata(dir.join(MARKER)).is_ok_and(|m| m.is_file()) {
        return Ok(());
    }
    let entries: Vec<String> = std::fs::read_dir(dir)
        .and_then(|list| list.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned())).collect())
        .map_err(|source| ReportError::Io { path: dir.to_path_buf(), source })?;
    if entries.is_empty() || is_earlier_report(dir, &entries) {
        return Ok(());
    }
    let mut foreign: Vec<&String> = entries.iter().filter(|e| !REPORT_ENTRIES.contains(&e.as_str())).collect();
    foreign.sort();
    let shown: Vec<&str> = foreign.iter().take(3).map(|s| s.as_str()).collect();
    let what = if foreign.is_empty() {
        let mut names: Vec<&str> = entries.iter().map(String::as_str).collect();
        names.sort_unstable();
        format!("{} but no report.json of a podsizer report", names.join(", "))
    } else {
        format!("{} entr{} a report does not write ({})", foreign.len(), plural(foreign.len()), shown.join(", "))
    };
    Err(refuse(format!("it holds {what} and no {MARKER} file")))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "y"
    } else {
        "ies"
    }
}

/// A report written before reports left a marker: only a report's own entries, and a
/// `report.json` in podsizer's format.
fn is_earlier_report(dir: &Path, entries: &[String]) -> bool {
    if !entries.iter().all(|e| REPORT_ENTRIES.contains(&e.as_str())) {
        return false;
    }
    let limit = crate::sources::input_file::REPORT_JSON_MAX_BYTES;
    let Ok(text) = crate::sources::input_file::read_to_string_bounded(&dir.join("report.json"), limit) else {
        return false;
    };
    let format =
        serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["format"].as_str().map(String::from));
    format.is_some_and(|f| f.split('/').next() == FORMAT.split('/').next())
}

/// Writes `index.html`, `index.md`, `report.json`, `charts/` and the marker into `dir`
/// (created if missing) after [`check_folder`]. Charts left from an earlier run into the
/// same folder that this report does not use are removed.
pub(crate) fn write(report: &Report, dir: &Path) -> Result<Written, ReportError> {
    write_with(report, dir, fileset::stage_file)
}

/// [`write`] with the temp-file writer given (tests inject a full disk). Every file goes in
/// all or nothing (`outputs::fileset`): a failed write leaves last week's report whole.
pub(crate) fn write_with(report: &Report, dir: &Path, stage: Stage) -> Result<Written, ReportError> {
    check_folder(dir)?;
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io { path: dir.to_path_buf(), source })?;
    let mut files = charts::render_all(report)?;
    let blocks = content::blocks(report);
    let json = serde_json::to_string_pretty(&report.doc).expect("report serialises") + "\n";
    for (name, text) in [
        ("index.md", markdown::render(&blocks)),
        ("index.html", html::render(&format!("Sizing report {}", report.doc.week), &blocks)),
        ("report.json", json),
        (MARKER, MARKER_TEXT.to_string()),
    ] {
        files.push((name.to_string(), text.into_bytes()));
    }
    fileset::commit(dir, &files, stage)?.finish();
    remove_stale_charts(&dir.join("charts"), &files);
    Ok(Written { files: files.into_iter().map(|(name, _)| name).filter(|name| name != MARKER).collect() })
}

/// Charts left from an earlier run into the same folder that this report does not use.
fn remove_stale_charts(chart_dir: &Path, files: &[(String, Vec<u8>)]) {
    let keep: std::collections::HashSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    if let Ok(entries) = std::fs::read_dir(chart_dir) {
        for e in entries.flatten() {
            let name = format!("charts/{}", e.file_name().to_string_lossy());
            let ours = name.ends_with(".usage.png") || name.ends_with(".cpu-by-hour.svg");
            if ours && !keep.contains(name.as_str()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_empty_or_report_folders_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let at = |rel: &str| dir.path().join(rel);
        std::fs::create_dir_all(at("empty")).unwrap();
        std::fs::create_dir_all(at("site/assets")).unwrap();
        std::fs::write(at("site/index.html"), "<h1>our site</h1>").unwrap();
        std::fs::create_dir_all(at("marked")).unwrap();
        std::fs::write(at("marked/index.html"), "x").unwrap();
        std::fs::write(at("marked/notes.txt"), "kept").unwrap();
        std::fs::write(at("marked").join(MARKER), MARKER_TEXT).unwrap();
        std::fs::create_dir_all(at("old-report/charts")).unwrap();
        std::fs::write(at("old-report/index.html"), "x").unwrap();
        std::fs::write(at("old-report/report.json"), format!("{{\"format\": \"{FORMAT}\"}}")).unwrap();
        std::fs::create_dir_all(at("other-json")).unwrap();
        std::fs::write(at("other-json/report.json"), "{\"format\": \"someone-else/1\"}").unwrap();
        std::fs::write(at("a-file"), "x").unwrap();
        std::fs::create_dir_all(at("lone-page")).unwrap();
        std::fs::write(at("lone-page/index.html"), "<h1>our site</h1>").unwrap();
        std::os::unix::fs::symlink("/", at("root-link")).unwrap();
        for (rel, ok, why) in [
            ("missing", true, ""),
            ("empty", true, ""),
            ("marked", true, ""),
            ("old-report", true, ""),
            ("site", false, "1 entry a report does not write (assets)"),
            ("other-json", false, "it holds report.json but no report.json of a podsizer report"),
            ("lone-page", false, "it holds index.html but no report.json of a podsizer report"),
            ("a-file", false, "it is not a folder"),
            ("root-link", false, "entries a report does not write"),
        ] {
            let checked = check_folder(&at(rel));
            assert_eq!(checked.is_ok(), ok, "{rel}: {checked:?}");
            if let Err(e) = checked {
                let text = e.to_string();
                assert!(text.contains(why) && text.contains(&at(rel).display().to_string()), "{rel}: {text}");
            }
        }
    }
}
