//! What the test areas share: fixtures, fake servers and the real services they start.

pub mod cloudwatch;
pub mod demo;
pub mod fake_api;
pub mod moto;
pub mod prometheus;
pub mod rows;

use std::path::{Path, PathBuf};

pub use demo::{fixtures, kubectl};
pub use prometheus::copy_tree;

/// The repository's root (fixtures, reports and the golden files live under it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The release binary under test.
pub fn podsizer() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("podsizer").unwrap()
}

/// The binary with proxy settings removed: these tests talk only to servers on loopback.
pub fn podsizer_on_loopback() -> assert_cmd::Command {
    let mut cmd = podsizer();
    for var in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Every file and folder under `dir` (recursively), files with their bytes, sorted: to compare a
/// tree before and after, folders included.
pub fn tree_with_bytes(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.push((p.clone(), None));
                stack.push(p);
            } else {
                out.push((p.clone(), Some(std::fs::read(&p).unwrap())));
            }
        }
    }
    out.sort();
    out
}

/// Every file under `dir` (recursively) with its bytes, sorted.
pub fn files_with_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    tree_with_bytes(dir).into_iter().filter_map(|(p, bytes)| Some((p, bytes?))).collect()
}

/// A Kubernetes quantity in rendered YAML (a string or a bare number), as cores or bytes.
pub fn quantity(v: &serde_norway::Value) -> f64 {
    let text = match v {
        serde_norway::Value::String(s) => s.clone(),
        serde_norway::Value::Number(n) => n.to_string(),
        other => panic!("not a quantity: {other:?}"),
    };
    podsizer::domain::parse_quantity(&text).unwrap()
}

/// (setting, current, proposed) of a container's runtime changes.
pub fn runtime_changes(rec: &serde_json::Value) -> Vec<(String, String, String)> {
    rec["runtime"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("unset").to_string();
            (s("setting"), s("current"), s("proposed"))
        })
        .collect()
}
