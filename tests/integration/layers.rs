//! The library's layer order (src/lib.rs, docs/architecture.md) holds for every `crate::` path:
//! a module names only its own layer and those before it.

use std::path::{Path, PathBuf};

const ORDER: &[&str] = &["domain", "sources", "store", "analysis", "outputs", "engine", "cli"];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Every `crate::LAYER` named in `text`.
fn layers_named(text: &str) -> Vec<&str> {
    text.match_indices("crate::")
        .filter_map(|(i, _)| {
            let rest = &text[i + "crate::".len()..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            ORDER.iter().copied().find(|layer| *layer == &rest[..end])
        })
        .collect()
}

#[test]
fn every_module_uses_only_earlier_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let Some(own) = rel.components().next().and_then(|c| c.as_os_str().to_str()) else { continue };
        let Some(rank) = ORDER.iter().position(|l| *l == own.trim_end_matches(".rs")) else { continue };
        let text = std::fs::read_to_string(file).unwrap();
        for named in layers_named(&text) {
            if ORDER.iter().position(|l| *l == named).unwrap() > rank {
                wrong.push(format!("{} uses crate::{named}", rel.display()));
            }
        }
    }
    assert!(files.len() > 50, "found the sources");
    assert!(wrong.is_empty(), "layer order broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_a_backward_use() {
    assert_eq!(layers_named("use crate::engine::sizing; crate::domain::DAY_MS; crate::engineer"), ["engine", "domain"]);
}
