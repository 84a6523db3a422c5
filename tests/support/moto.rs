//! moto's server: the local stand-in for S3, CloudWatch and CloudWatch Logs.
//!
//! `.ci/run` starts one on loopback and exports `PODSIZER_MOTO_URL`; tests then share it and
//! keep apart by using their own bucket, cluster and log-group names. Without that variable
//! (a developer's `cargo test`), each test binary starts its own from `PODSIZER_MOTO_SERVER`,
//! `moto_server` on PATH, or the venv `.ci/install-moto.sh` makes. A missing moto fails the
//! test with the command that installs it: these tests are never skipped.
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
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|d| d.join("moto_server")).find(|p| p.is_file()));
    if let Some(Some(p)) = on_path {
        return p;
    }
    let tools = std::env::var("PODSIZER_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/podsizer-tools"));
    let venv = tools.join("moto-venv/bin/moto_server");
    assert!(
        venv.is_file(),
        "moto_server not found (PODSIZER_MOTO_URL, PODSIZER_MOTO_SERVER, PATH, {}); install it with `bash .ci/install-moto.sh`",
        venv.display()
    );
    venv
}
