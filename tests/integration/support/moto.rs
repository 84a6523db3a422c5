//! moto's server: the local stand-in for S3, CloudWatch and CloudWatch Logs.
//!
//! `.ci/run` starts one on loopback and exports `PODSIZER_MOTO_URL`; tests then share it and
//! keep apart by using their own bucket, cluster and log-group names. Without that variable
//! (a developer's `cargo test`), each test binary starts its own from `PODSIZER_MOTO_SERVER`
//! or the venv `.ci/install-moto.sh` makes (run here when needed, so the
//! README's test command works on a fresh machine). These tests are never skipped.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    pub url: String,
    child: Option<Child>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A unique name per call, so tests sharing one moto server never see each other's data.
pub fn unique(prefix: &str) -> String {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}-{}-{seq}-{nanos}", std::process::id())
}

pub fn moto() -> Moto {
    if let Ok(url) = std::env::var("PODSIZER_MOTO_URL") {
        return Moto { url: url.trim_end_matches('/').to_string(), child: None };
    }
    let server = server_path();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {}: {e}; install it with `bash .ci/install-moto.sh`", server.display())
        });
    let moto = Moto { url: format!("http://127.0.0.1:{port}"), child: Some(child) };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not listen on port {port} within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}

pub fn server_path() -> PathBuf {
    if let Ok(p) = std::env::var("PODSIZER_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    // Not `moto_server` from PATH: its Python may lack cbor2, which the CloudWatch translator needs.
    // A fresh machine: make the venv the way CI does (idempotent; quick when it is there).
    static INSTALLED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/install-moto.sh");
            let out = Command::new("bash").arg(&script).stderr(Stdio::inherit()).output();
            let out = out.unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(out.status.success(), "{} failed: moto_server is needed (pip, PyPI)", script.display());
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
}
