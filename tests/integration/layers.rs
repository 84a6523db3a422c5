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

/// The source roots of the workspace's crates: the core (domain, analysis) and podsizer.
fn crate_roots() -> [PathBuf; 2] {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [root.join("crates/podsizer-core/src"), root.join("src")]
}

#[test]
fn every_module_uses_only_earlier_layers() {
    let mut files = Vec::new();
    let mut wrong = Vec::new();
    for src in crate_roots() {
        let before = files.len();
        rust_files(&src, &mut files);
        wrong.extend(layer_breaks(&src, &files[before..]));
    }
    assert!(files.len() > 100, "found the sources");
    assert!(wrong.is_empty(), "layer order broken:\n{}", wrong.join("\n"));
}

/// The `crate::` paths in `files` (under `src`) that name a later layer than their own.
fn layer_breaks(src: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut wrong = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let Some(own) = rel.components().next().and_then(|c| c.as_os_str().to_str()) else { continue };
        let Some(rank) = ORDER.iter().position(|l| *l == own.trim_end_matches(".rs")) else { continue };
        let text = std::fs::read_to_string(file).unwrap();
        for named in layers_named(&text) {
            if ORDER.iter().position(|l| *l == named).unwrap() > rank {
                wrong.push(format!("{} uses crate::{named}", rel.display()));
            }
        }
    }
    wrong
}

#[test]
fn the_check_sees_a_backward_use() {
    assert_eq!(layers_named("use crate::engine::sizing; crate::domain::DAY_MS; crate::engineer"), ["engine", "domain"]);
}

// ---- module cycles ----------------------------------------------------------------------
//
// A module graph of one crate: a node per source file (`src/analysis/backtest/run.rs` is
// `analysis::backtest::run`, a `mod.rs` is its folder's module), an edge for every `crate::`,
// `super::` or `self::` path in non-test code that names another module. A path through a
// parent's `pub use` is followed to the module that defines the item, so a façade re-export is
// not a dependency on the parent; `pub mod` and `pub use` lines themselves are not edges.

type ModPath = Vec<String>;

/// The module a file defines (`None` for the binary's `main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<ModPath> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: ModPath = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    let last = parts.pop()?;
    match last.as_str() {
        "main.rs" if parts.is_empty() => None,
        "lib.rs" if parts.is_empty() => Some(parts),
        "mod.rs" => Some(parts),
        other => {
            parts.push(other.trim_end_matches(".rs").to_string());
            Some(parts)
        }
    }
}

/// `text` without comments and without its `#[cfg(test)]` modules.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") && lines.peek().is_some_and(|l| l.trim_start().starts_with("mod ")) {
            if lines.peek().is_some_and(|l| l.trim_end().ends_with(';')) {
                lines.next();
                continue;
            }
            // Skip the module by brace depth.
            let mut depth = 0i32;
            let mut opened = false;
            for l in lines.by_ref() {
                depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                opened |= l.contains('{');
                if opened && depth <= 0 {
                    break;
                }
            }
            continue;
        }
        code.push_str(line.split(" //").next().unwrap_or(""));
        code.push('\n');
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every full path that starts at `text[at..]` (after `crate::`/`super::`/`self::`), with
/// `{a, b::{c, d}}` groups expanded; `self` inside a group names the group's own path.
fn paths_at(text: &str, at: usize, prefix: ModPath, out: &mut Vec<ModPath>) {
    let bytes = text.as_bytes();
    let mut i = at;
    let mut path = prefix;
    loop {
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'{' {
            // A group: split at top-level commas.
            let mut depth = 0;
            let mut start = i + 1;
            let mut j = i;
            while j < bytes.len() {
                match bytes[j] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => {
                        item_in_group(text, start, j, &path, out);
                        start = j + 1;
                    }
                    _ => {}
                }
                j += 1;
            }
            item_in_group(text, start, j.min(text.len()), &path, out);
            return;
        }
        let end = text[i..].find(|c: char| !is_ident(c)).map_or(text.len(), |e| i + e);
        if end == i {
            break;
        }
        path.push(text[i..end].to_string());
        i = end;
        if text[i..].starts_with("::") {
            i += 2;
        } else {
            break;
        }
    }
    out.push(path);
}

fn item_in_group(text: &str, start: usize, end: usize, path: &ModPath, out: &mut Vec<ModPath>) {
    let item = text[start..end].trim();
    if item.is_empty() || item == "*" {
        return;
    }
    if item == "self" || item.starts_with("self ") {
        out.push(path.clone());
        return;
    }
    let offset = start + (text[start..end].len() - text[start..end].trim_start().len());
    paths_at(text, offset, path.clone(), out);
}

/// Every module path named in `code`, written in module `own`.
fn named_paths(code: &str, own: &ModPath) -> Vec<ModPath> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("::") {
        let before = &code[..i];
        let word_start = before.rfind(|c: char| !is_ident(c)).map_or(0, |s| s + 1);
        if word_start > 0 && code[..word_start].ends_with("::") {
            continue; // inside a longer path, handled from its start
        }
        let word = &before[word_start..];
        // `super` of a file module is its parent; of a folder module (mod.rs), the folder's parent.
        let base: Option<ModPath> = match word {
            "crate" => Some(Vec::new()),
            "self" => Some(own.clone()),
            "super" => {
                let mut up = own.clone();
                let mut k = i + 2;
                up.pop();
                while code[k..].starts_with("super::") {
                    up.pop();
                    k += "super::".len();
                }
                paths_at(code, k, up, &mut out);
                None
            }
            _ => None,
        };
        if let Some(base) = base {
            paths_at(code, i + 2, base, &mut out);
        }
    }
    out
}

struct Crate {
    modules: std::collections::BTreeMap<ModPath, String>,
}

impl Crate {
    fn load(src: &Path) -> Self {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        let modules = files
            .iter()
            .filter_map(|f| Some((module_of(src, f)?, code_of(&std::fs::read_to_string(f).unwrap()))))
            .collect();
        Crate { modules }
    }

    /// What `module`'s `pub use` lines re-export: item name -> full path.
    fn reexports(&self, module: &ModPath) -> Vec<(String, ModPath)> {
        let mut found = Vec::new();
        for statement in interface_statements(&self.modules[module]).0 {
            let Some(rest) = statement.strip_prefix("pub use ").or_else(|| statement.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            let text = if rest.starts_with("crate::") || rest.starts_with("super::") || rest.starts_with("self::") {
                rest.to_string()
            } else {
                format!("self::{rest}")
            };
            for p in named_paths(&text, module) {
                if let Some(name) = p.last() {
                    found.push((name.clone(), p.clone()));
                }
            }
        }
        found
    }

    /// The module that defines what `path` names, following re-exports.
    fn resolve(&self, path: &ModPath, depth: usize) -> Option<ModPath> {
        let known = (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| self.modules.contains_key(p))?;
        if depth < 8 {
            if let Some(next) = path.get(known.len()) {
                if let Some((_, target)) = self.reexports(&known).into_iter().find(|(n, _)| n == next) {
                    let mut full = target.clone();
                    full.extend(path[known.len() + 1..].iter().cloned());
                    if full != *path {
                        return self.resolve(&full, depth + 1).or(Some(known));
                    }
                }
            }
        }
        Some(known)
    }

    fn edges(&self) -> std::collections::BTreeMap<ModPath, std::collections::BTreeSet<ModPath>> {
        let mut edges = std::collections::BTreeMap::new();
        for (module, code) in &self.modules {
            let body = interface_statements(code).1;
            let set: &mut std::collections::BTreeSet<ModPath> = edges.entry(module.clone()).or_default();
            for p in named_paths(&body, module) {
                if let Some(target) = self.resolve(&p, 0) {
                    if target != *module {
                        set.insert(target);
                    }
                }
            }
        }
        edges
    }
}

/// A module's `pub use`, `pub(crate) use` and `pub mod` statements (its interface: not
/// dependencies of its own), and the rest of its code.
fn interface_statements(code: &str) -> (Vec<String>, String) {
    let mut interface = Vec::new();
    let mut rest = String::new();
    let mut open: Option<String> = None;
    for line in code.lines() {
        let trimmed = line.trim();
        let starts = ["pub use ", "pub(crate) use ", "pub mod "].iter().any(|p| trimmed.starts_with(p));
        match open.as_mut() {
            Some(statement) => statement.push_str(trimmed),
            None if starts => open = Some(trimmed.to_string()),
            None => {
                rest.push_str(line);
                rest.push('\n');
                continue;
            }
        }
        if trimmed.ends_with(';') || trimmed.ends_with('{') {
            interface.push(open.take().unwrap_or_default().trim_end_matches(';').to_string());
        }
    }
    (interface, rest)
}

/// Every cycle's members (strongly connected components of more than one module), by name.
fn cycles(edges: &std::collections::BTreeMap<ModPath, std::collections::BTreeSet<ModPath>>) -> Vec<Vec<String>> {
    // Tarjan's algorithm, iterative enough for a few hundred modules.
    struct State<'a> {
        edges: &'a std::collections::BTreeMap<ModPath, std::collections::BTreeSet<ModPath>>,
        index: std::collections::HashMap<&'a ModPath, usize>,
        low: std::collections::HashMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: std::collections::HashSet<&'a ModPath>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a ModPath) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            let Some((w, _)) = s.edges.get_key_value(w) else { continue };
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w.join("::"));
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.found.push(group);
            }
        }
    }
    let mut s = State {
        edges,
        index: Default::default(),
        low: Default::default(),
        stack: Vec::new(),
        on_stack: Default::default(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn no_module_cycles() {
    let mut text = Vec::new();
    for src in crate_roots() {
        let krate = Crate::load(&src);
        assert!(krate.modules.len() > 20, "found the modules of {}", src.display());
        text.extend(cycles(&krate.edges()).iter().map(|c| format!("{}: {}", src.display(), c.join(" <-> "))));
    }
    assert!(text.is_empty(), "module cycles:\n{}", text.join("\n"));
}

#[test]
fn the_cycle_check_sees_a_knot_and_follows_reexports() {
    let mut modules = std::collections::BTreeMap::new();
    let m = |s: &str| -> ModPath { s.split("::").filter(|p| !p.is_empty()).map(String::from).collect() };
    modules.insert(m(""), "pub mod a;\npub mod b;\npub mod c;\n".to_string());
    modules.insert(m("a"), "mod x;\npub use x::Thing;\nuse crate::b::{self, other::Y};\n".to_string());
    modules.insert(m("a::x"), "pub struct Thing;\n".to_string());
    modules.insert(m("b"), "use super::a::Thing;\nfn f() { crate::c::g(); }\n".to_string());
    // A re-export right after an item's closing brace is interface, not a use of b.
    modules.insert(m("c"), "fn g() {}\npub use crate::b::{\n    f,\n};\n".to_string());
    let krate = Crate { modules };
    let edges = krate.edges();
    assert!(edges[&m("b")].contains(&m("a::x")), "a re-export is followed: {edges:?}");
    assert!(edges[&m("b")].contains(&m("c")));
    assert!(cycles(&edges).is_empty(), "b uses a's re-export of a::x, a uses b, c re-exports b: no cycle {edges:?}");
    let mut knot = krate.modules.clone();
    knot.insert(m("c"), "fn g() { crate::b::f(); }\n".to_string());
    let found = cycles(&Crate { modules: knot }.edges());
    assert_eq!(found, vec![vec!["b".to_string(), "c".to_string()]]);
}
