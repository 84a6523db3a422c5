//! Editing the overlay: the `patches:` entries of the kustomization (a text edit that keeps
//! every other line), and writing a plan all or nothing, then proving it in the render.

use super::kustomize::{
    kustomization_path, patch_file_name, render_text, Kubectl, KustomizeError, PatchFile, PatchPlan,
};
use std::path::{Path, PathBuf};

/// A kustomize `target.name` (a regular expression) matching exactly `name`.
fn name_regex(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `patches:` entry of one patch file, indented by `pad`, selecting `namespace` when given.
fn patch_entry(patch: &PatchFile, namespace: Option<&str>, pad: &str) -> String {
    use serde_norway::{Mapping, Value};
    let mut target = Mapping::new();
    target.insert("kind".into(), patch.kind.clone().into());
    target.insert("name".into(), name_regex(&patch.name).into());
    if let Some(ns) = namespace {
        target.insert("namespace".into(), name_regex(ns).into());
    }
    let mut entry = Mapping::new();
    entry.insert("path".into(), patch.file_name.clone().into());
    entry.insert("target".into(), Value::Mapping(target));
    let text = super::yaml::to_string(&Value::Sequence(vec![Value::Mapping(entry)]));
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// Adds `- path: FILE` (with its target) to the `patches:` list, keeping every other line
/// of the file as it was. Returns `None` when the entry is already there.
pub fn add_patch_entry(path: &Path, original: &str, patch: &PatchFile) -> Result<Option<String>, KustomizeError> {
    let bad = |message: String| KustomizeError::Kustomization { path: path.to_path_buf(), message };
    let parsed: serde_norway::Value =
        serde_norway::from_str(original).map_err(|e| bad(format!("not valid YAML: {e}")))?;
    let namespace = target_namespace(&parsed, patch);
    if let Some(listed) = listed_target(&parsed, &patch.file_name) {
        return accept_listed(patch, namespace, listed).map(|()| None).map_err(bad);
    }
    let lines: Vec<&str> = original.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.trim_end() == "patches:" || l.starts_with("patches: #") || l.trim_end() == "patches: []");
    let updated = match header {
        Some(h) if lines[h].trim_end() == "patches: []" => {
            let mut out: Vec<String> = lines.iter().map(|l| (*l).to_string()).collect();
            out[h] = format!("patches:\n{}", patch_entry(patch, namespace, "").trim_end());
            out.join("\n") + "\n"
        }
        Some(h) => append_to_list(&lines, h, |pad| patch_entry(patch, namespace, pad)),
        None => {
            let mut out = original.to_string();
            if !out.ends_with('\n') && !out.is_empty() {
                out.push('\n');
            }
            out + "patches:\n" + &patch_entry(patch, namespace, "")
        }
    };
    check_only_patch_added(&parsed, &updated, &patch.file_name).map_err(bad)?;
    Ok(Some(updated))
}

/// `lines` with one entry added at the end of the block list whose key is on line `header`,
/// indented like the list's existing items; `entry` gets that indent and returns the item's
/// lines. The list ends at the next line that starts a new top-level key, so comments, blank
/// lines and every other key stay exactly where they were.
pub(super) fn append_to_list(lines: &[&str], header: usize, entry: impl FnOnce(&str) -> String) -> String {
    let end = (header + 1..lines.len())
        .find(|&i| !lines[i].is_empty() && !lines[i].starts_with([' ', '-', '#', '\t']))
        .unwrap_or(lines.len());
    let pad = lines[header + 1..end]
        .iter()
        .find_map(|l| l.strip_suffix(l.trim_start()).filter(|_| l.trim_start().starts_with('-')))
        .unwrap_or("");
    let mut out: Vec<String> = lines[..end].iter().map(|l| (*l).to_string()).collect();
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.push(entry(pad).trim_end().to_string());
    out.extend(lines[end..].iter().map(|l| (*l).to_string()));
    out.join("\n") + "\n"
}

/// The namespace a `target` selects: the one the object renders in, except when this
/// kustomization sets `namespace:` itself. kustomize applies that after the patches, so at
/// patch time the object still has its earlier namespace; and every object then renders in
/// that one namespace, so kind and name alone select exactly one.
fn target_namespace<'a>(kustomization: &serde_norway::Value, patch: &'a PatchFile) -> Option<&'a str> {
    let sets_namespace = kustomization.get("namespace").is_some_and(|n| n.as_str().is_some_and(|n| !n.is_empty()));
    patch.namespace.as_deref().filter(|_| !sets_namespace)
}

/// The `target` of the entry listing `file`, when one does (`Null` for an entry without one).
fn listed_target<'a>(v: &'a serde_norway::Value, file: &str) -> Option<&'a serde_norway::Value> {
    let entries = v.get("patches")?.as_sequence()?;
    let entry = entries.iter().find(|e| e.get("path").and_then(|p| p.as_str()) == Some(file))?;
    Some(entry.get("target").unwrap_or(&serde_norway::Value::Null))
}

/// An entry already listing the file must select the same object: kind, name and namespace.
/// An entry of an earlier podsizer without the namespace is kept: the file name has no
/// namespace only when the overlay renders that kind and name in one namespace.
fn accept_listed(patch: &PatchFile, namespace: Option<&str>, listed: &serde_norway::Value) -> Result<(), String> {
    let field = |k: &str| listed.get(k).and_then(|v| v.as_str()).map(|v| v.replace('\\', ""));
    let same = field("kind").as_deref() == Some(patch.kind.as_str())
        && field("name").as_deref() == Some(patch.name.as_str())
        && field("namespace").is_none_or(|ns| Some(ns.as_str()) == namespace);
    if same {
        Ok(())
    } else {
        Err(format!(
            "`patches:` lists {} with another target ({}) than the object podsizer writes it for ({}); remove that entry and run again",
            patch.file_name,
            super::yaml::to_string(listed).trim().replace('\n', ", "),
            patch.object()
        ))
    }
}

fn lists_patch(v: &serde_norway::Value, file: &str) -> bool {
    v.get("patches")
        .and_then(|p| p.as_sequence())
        .is_some_and(|s| s.iter().any(|e| e.get("path").and_then(|p| p.as_str()) == Some(file)))
}

/// Guards the text edit: the result parses, lists the patch, and differs from the original
/// in nothing else.
fn check_only_patch_added(before: &serde_norway::Value, after: &str, file: &str) -> Result<(), String> {
    let mut after: serde_norway::Value =
        serde_norway::from_str(after).map_err(|e| format!("edit produced invalid YAML ({e}); file left unchanged"))?;
    if !lists_patch(&after, file) {
        return Err("could not add the patch entry to `patches:` (unusual layout); add it by hand".into());
    }
    let mut before = before.clone();
    for v in [&mut before, &mut after] {
        if let Some(m) = v.as_mapping_mut() {
            if let Some(serde_norway::Value::Sequence(s)) = m.get_mut("patches") {
                s.retain(|e| e.get("path").and_then(|p| p.as_str()) != Some(file));
                if s.is_empty() {
                    m.remove("patches");
                }
            }
        }
    }
    if before == after {
        Ok(())
    } else {
        Err("adding the patch entry would change other settings; file left unchanged".into())
    }
}

/// What `write_plan` changed.
#[derive(Debug, Default)]
pub struct WriteReport {
    pub written: Vec<PathBuf>,
    pub unchanged: Vec<PathBuf>,
}

/// Writes patch files and the kustomization entry all or nothing (`fileset`), then renders
/// the overlay again with `kubectl`; if it no longer renders, or a patch does not show in the
/// render (a target that matched nothing), every file is put back as it was.
pub fn write_plan(dir: &Path, plan: &PatchPlan, kubectl: &Kubectl) -> Result<WriteReport, KustomizeError> {
    let kpath = kustomization_path(dir)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KustomizeError::Io { path, source }
    };
    let patches = qualified(&plan.patches, &rendered_docs(dir, &render_text(dir, kubectl)?)?);
    let original = std::fs::read_to_string(&kpath).map_err(io(&kpath))?;
    let mut kustomization = original.clone();
    let mut changes: Vec<(String, Vec<u8>)> = Vec::new();
    let mut report = WriteReport::default();
    for patch in &patches {
        let path = dir.join(&patch.file_name);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(patch.text.as_str()) {
            report.unchanged.push(path);
        } else {
            changes.push((patch.file_name.clone(), patch.text.clone().into_bytes()));
        }
        let entry = if patch.new_object {
            add_resource_entry(&kpath, &kustomization, &patch.file_name)?
        } else {
            add_patch_entry(&kpath, &kustomization, patch)?
        };
        if let Some(updated) = entry {
            kustomization = updated;
        }
    }
    if original != kustomization {
        let name = kpath.file_name().and_then(|n| n.to_str()).unwrap_or("kustomization.yaml");
        changes.push((name.to_string(), kustomization.into_bytes()));
    }
    let committed = super::fileset::commit(dir, &changes, super::fileset::stage_file)?;
    let checked = render_text(dir, kubectl)
        .map_err(|e| KustomizeError::RolledBack(Box::new(e)))
        .and_then(|yaml| rendered_docs(dir, &yaml))
        .and_then(|docs| patches.iter().try_for_each(|p| super::applied::check(p, &docs)));
    if let Err(e) = checked {
        committed.rollback();
        return Err(e);
    }
    committed.finish();
    report.written = changes.iter().map(|(name, _)| dir.join(name)).collect();
    Ok(report)
}

fn rendered_docs(dir: &Path, yaml: &str) -> Result<Vec<serde_norway::Value>, KustomizeError> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(yaml)
        .map(serde_norway::Value::deserialize)
        .collect::<Result<_, _>>()
        .map_err(|e| KustomizeError::RenderedYaml { dir: dir.to_path_buf(), message: e.to_string() })
}

/// The patches with the namespace in the file name of every object whose kind and name the
/// overlay renders in more than one namespace (one file per object).
fn qualified(patches: &[PatchFile], docs: &[serde_norway::Value]) -> Vec<PatchFile> {
    let namespaces = |kind: &str, name: &str| {
        let mut seen: Vec<Option<&str>> = docs
            .iter()
            .filter(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
            .map(|d| d["metadata"]["namespace"].as_str())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    };
    patches
        .iter()
        .map(|p| {
            let mut p = p.clone();
            if namespaces(&p.kind, &p.name) > 1 {
                p.file_name = patch_file_name(&p.kind, &p.name, p.runtime, Some(p.namespace.as_deref().unwrap_or("")));
            }
            p
        })
        .collect()
}
/// Adds `- FILE` to the kustomization's `resources:` (kept as it was otherwise); `None` when it
/// is listed already. The edit is checked: the result must parse to the same document with the
/// file added to `resources` and nothing else changed.
pub(crate) fn add_resource_entry(path: &Path, original: &str, file: &str) -> Result<Option<String>, KustomizeError> {
    let bad = |message: String| KustomizeError::Kustomization { path: path.to_path_buf(), message };
    let parsed: serde_norway::Value =
        serde_norway::from_str(original).map_err(|e| bad(format!("not valid YAML: {e}")))?;
    let listed = |v: &serde_norway::Value| {
        v["resources"].as_sequence().is_some_and(|s| s.iter().any(|r| r.as_str() == Some(file)))
    };
    if listed(&parsed) {
        return Ok(None);
    }
    let entry = super::yaml::to_string(&serde_norway::Value::Sequence(vec![file.into()]));
    let lines: Vec<&str> = original.lines().collect();
    let updated = match lines.iter().position(|l| l.trim_end() == "resources:") {
        Some(h) => append_to_list(&lines, h, |pad| format!("{pad}{entry}")),
        None if parsed.get("resources").is_none() => {
            let sep = if original.ends_with('\n') || original.is_empty() { "" } else { "\n" };
            format!("{original}{sep}resources:\n{entry}")
        }
        None => return Err(bad(format!("could not add {file} to `resources:` (unusual layout); add it by hand"))),
    };
    let mut after: serde_norway::Value = serde_norway::from_str(&updated)
        .map_err(|e| bad(format!("edit produced invalid YAML ({e}); file left unchanged")))?;
    let mut expected = parsed.clone();
    if let Some(m) = expected.as_mapping_mut() {
        let list = m.entry("resources".into()).or_insert_with(|| serde_norway::Value::Sequence(Vec::new()));
        if let serde_norway::Value::Sequence(s) = list {
            s.push(file.into());
        }
    }
    if !listed(&after) || std::mem::take(&mut after) != expected {
        return Err(bad(format!("adding {file} to `resources:` would change other settings; file left unchanged")));
    }
    Ok(Some(updated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch() -> PatchFile {
        PatchFile::new("Deployment", "api", None, false, "", serde_norway::Value::Null)
    }

    #[test]
    fn appends_to_an_existing_list_keeping_comments() {
        let original = "# team comment\nresources:\n  - ../../base\npatches:\n  - path: other.yaml\nlabels:\n  - pairs: {env: prod}\n";
        let updated = add_patch_entry(Path::new("k.yaml"), original, &patch()).unwrap().unwrap();
        assert!(updated.starts_with("# team comment\n"));
        assert!(
            updated.contains("  - path: other.yaml\n  - path: \"podsizer-deployment-api.yaml\"\n    target:\n"),
            "{updated}"
        );
        assert!(updated.ends_with("labels:\n  - pairs: {env: prod}\n"));
        assert_eq!(
            add_patch_entry(Path::new("k.yaml"), &updated, &patch()).unwrap(),
            None,
            "re-run must not duplicate"
        );
    }

    #[test]
    fn creates_the_list_when_missing_or_empty() {
        for original in
            ["resources:\n- ../../base\n", "resources:\n- ../../base\npatches: []\n", "resources: [../../base]"]
        {
            let updated = add_patch_entry(Path::new("k.yaml"), original, &patch()).unwrap().unwrap();
            let v: serde_norway::Value = serde_norway::from_str(&updated).unwrap();
            assert!(lists_patch(&v, "podsizer-deployment-api.yaml"), "{updated}");
            assert_eq!(v["patches"][0]["target"]["name"].as_str(), Some("api"));
        }
    }

    #[test]
    fn targets_name_the_namespace_and_listed_entries_must_select_the_same_object() {
        let in_a = PatchFile::new("Deployment", "api", Some("a"), false, "", serde_norway::Value::Null);
        let target = |k: &str| {
            let updated = add_patch_entry(Path::new("k.yaml"), k, &in_a).unwrap().unwrap();
            let v: serde_norway::Value = serde_norway::from_str(&updated).unwrap();
            v["patches"][0]["target"]["namespace"].as_str().map(String::from)
        };
        assert_eq!(target("resources: [../a, ../b]\n"), Some("a".into()));
        // The kustomization's own `namespace:` is applied after its patches: not in the target.
        assert_eq!(target("namespace: a\nresources: [../base]\n"), None);
        let listed = |t: &str| {
            let k = format!("resources: [../a]\npatches:\n- path: podsizer-deployment-api.yaml\n  target: {t}\n");
            add_patch_entry(Path::new("k.yaml"), &k, &in_a)
        };
        assert_eq!(listed("{kind: Deployment, name: api, namespace: a}").unwrap(), None);
        assert_eq!(listed("{kind: Deployment, name: api}").unwrap(), None, "an earlier podsizer's entry");
        for other in [
            "{kind: Deployment, name: api, namespace: b}",
            "{kind: Deployment, name: web}",
            "{kind: StatefulSet, name: api}",
        ] {
            let err = listed(other).unwrap_err().to_string();
            assert!(err.contains("another target") && err.contains("a/Deployment/api"), "{err}");
        }
    }

    #[test]
    fn invalid_kustomization_is_refused() {
        assert!(add_patch_entry(Path::new("k.yaml"), "resources: [unclosed\n", &patch()).is_err());
    }

    #[test]
    fn a_resource_entry_is_added_keeping_every_other_line() {
        let p = Path::new("kustomization.yaml");
        let original = "# team comment\nresources:\n  - ../../base\npatches:\n  - path: other.yaml\n";
        let updated = add_resource_entry(p, original, "podsizer-startupcpuboost-x.yaml").unwrap().unwrap();
        assert_eq!(
            updated,
            "# team comment\nresources:\n  - ../../base\n  - \"podsizer-startupcpuboost-x.yaml\"\npatches:\n  - path: other.yaml\n"
        );
        assert_eq!(add_resource_entry(p, &updated, "podsizer-startupcpuboost-x.yaml").unwrap(), None);
        let none = add_resource_entry(p, "namespace: a\n", "f.yaml").unwrap().unwrap();
        assert_eq!(none, "namespace: a\nresources:\n- \"f.yaml\"\n");
        // A flow-style list is not edited by text: refused, naming the file.
        let err = add_resource_entry(p, "resources: [../base]\n", "f.yaml").unwrap_err().to_string();
        assert!(err.contains("kustomization.yaml") && err.contains("add it by hand"), "{err}");
    }
}
