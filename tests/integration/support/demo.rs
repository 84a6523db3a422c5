//! What the command-line tests share: the fixtures folder, the kubectl to render with, and a
//! scratch copy of the demo GitOps tree to patch.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `PODSIZER_KUBECTL` (CI sets it to the kubectl it installed), else `kubectl` on PATH.
pub fn kubectl() -> String {
    std::env::var("PODSIZER_KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

/// A copy of `fixtures/demo/gitops` in a temporary folder; returns it and its production overlay.
pub fn gitops_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(fixtures().join("demo/gitops"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let overlay = dir.path().join("gitops/overlays/production");
    (dir, overlay)
}
