//! `podsizer report`: snapshots of the Markdown and JSON, the numbers against
//! `recommend -o json`, week over week, the images, and the page in headless Chromium.

use crate::support::{copy_tree, files_with_bytes, fixtures, podsizer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn demo_samples() -> PathBuf {
    fixtures().join("demo/samples.parquet")
}

/// A scratch folder holding a copy of the demo GitOps tree at `gitops/`; commands run
/// there with relative paths so the output does not depend on where the temp dir is.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("demo/gitops"), &dir.path().join("gitops"));
    dir
}

const OVERLAY: &str = "gitops/overlays/production";

fn report(dir: &Path, out: &str, extra: &[&str]) -> Value {
    podsizer()
        .current_dir(dir)
        .args(["report", "--input"])
        .arg(demo_samples())
        .args(["--kustomize", OVERLAY, "--out", out, "--tz", "Asia/Tokyo"])
        .args(extra)
        .assert()
        .success();
    serde_json::from_slice(&std::fs::read(dir.join(out).join("report.json")).unwrap()).unwrap()
}

#[test]
fn markdown_and_json_snapshots() {
    let ws = workspace();
    let before = files_with_bytes(&ws.path().join("gitops"));
    report(ws.path(), "out", &[]);
    assert_eq!(before, files_with_bytes(&ws.path().join("gitops")), "report reads the overlay but never writes to it");
    let md = std::fs::read_to_string(ws.path().join("out/index.md")).unwrap();
    let json = std::fs::read_to_string(ws.path().join("out/report.json")).unwrap();
    insta::assert_snapshot!("report_markdown", md);
    insta::assert_snapshot!("report_json", json);
    // Re-running into the same folder gives the same bytes (no timestamps, stable order).
    report(ws.path(), "out", &[]);
    assert_eq!(md, std::fs::read_to_string(ws.path().join("out/index.md")).unwrap());
    assert_eq!(json, std::fs::read_to_string(ws.path().join("out/report.json")).unwrap());
}

#[test]
fn numbers_equal_recommend_json_for_the_same_input_and_policy() {
    let ws = workspace();
    let policy = fixtures().join("policy.example.toml");
    for extra in [vec![], vec!["--policy".to_string(), policy.display().to_string()]] {
        let rep = report(ws.path(), "out", &extra.iter().map(String::as_str).collect::<Vec<_>>());
        let out = podsizer()
            .current_dir(ws.path())
            .args(["recommend", "-o", "json", "--dry-run", "--kustomize", OVERLAY, "--input"])
            .arg(demo_samples())
            .args(&extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rep["recommendations"], rec["recommendations"], "policy args {extra:?}");
        assert_eq!(rep["window"], rec["window"]);
        assert_eq!(rep["strategy"], rec["strategy"]);
        assert!(rep["recommendations"].as_array().unwrap().len() == 3);
    }
}

#[test]
fn costs_and_totals_add_up() {
    let ws = workspace();
    let rep = report(ws.path(), "out", &["--core-hour-price", "1", "--gib-hour-price", "0"]);
    let mut proposed = 0.0;
    let mut current = 0.0;
    for (c, r) in rep["containers"].as_array().unwrap().iter().zip(rep["recommendations"].as_array().unwrap()) {
        let replicas = c["replicas"].as_f64().unwrap();
        assert!((replicas - 3.0).abs() < 0.01, "three pods all week: {replicas}");
        let want = r["cpu"]["request_cores"].as_f64().unwrap() * replicas * 730.0;
        let got = c["monthly_cost"]["proposed"].as_f64().unwrap();
        assert!((got - want).abs() < 0.01, "{got} vs {want}");
        proposed += got;
        current += c["monthly_cost"]["current"].as_f64().unwrap();
        assert_eq!(c["risk"]["oom_kills"], Value::Null, "OOM kills are unknown, not zero");
    }
    let totals = &rep["totals"];
    assert!((totals["monthly_cost"]["proposed"].as_f64().unwrap() - proposed).abs() < 0.02);
    assert!((totals["monthly_cost"]["current"].as_f64().unwrap() - current).abs() < 0.02);
    let saving = totals["monthly_savings"].as_f64().unwrap();
    assert!((saving - (current - proposed)).abs() < 0.03);
    // Current requests of the demo: 100m + 1 + 250m per pod, three pods.
    assert!((totals["cpu_request_cores"]["current"].as_f64().unwrap() - 3.0 * 1.35).abs() < 0.01);
}

#[test]
fn week_over_week_names_what_moved_and_why() {
    let ws = workspace();
    let rep = report(ws.path(), "this", &[]);
    assert!(rep["week_over_week"].is_null());
    // Last week's report: php-fpm's CPU request was 500m for another reason, the envoy
    // sidecar did not exist yet, a `legacy` container did; current settings were the same.
    let mut prev = rep.clone();
    prev["week"] = Value::from("2026-W46");
    let recs = prev["recommendations"].as_array_mut().unwrap();
    let php = recs.iter_mut().find(|r| r["container"] == "php-fpm").unwrap();
    php["cpu"]["request_cores"] = Value::from(0.5);
    php["rationale"][0] = Value::from("CPU request: p50 of usage = 498.0m (typical load) -> 500m");
    let mut legacy = php.clone();
    legacy["container"] = Value::from("legacy");
    recs.retain(|r| r["container"] != "envoy");
    recs.push(legacy);
    std::fs::create_dir_all(ws.path().join("last")).unwrap();
    std::fs::write(ws.path().join("last/report.json"), serde_json::to_string_pretty(&prev).unwrap()).unwrap();

    let now = report(ws.path(), "this", &["--previous", "last"]);
    let w = &now["week_over_week"];
    assert_eq!(w["previous_week"], "2026-W46");
    assert_eq!(w["new"], serde_json::json!(["shop/Deployment/api/envoy"]));
    assert_eq!(w["gone"], serde_json::json!(["shop/Deployment/api/legacy"]));
    assert_eq!(w["unchanged"], 1, "nginx did not move");
    let changes = w["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["container"], "shop/Deployment/api/php-fpm");
    let moves = changes[0]["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 1, "{moves:#?}");
    let m = &moves[0];
    assert_eq!(m["what"], "proposed");
    assert_eq!(m["setting"], "CPU request");
    assert_eq!(m["previous"], "500m");
    assert_eq!(m["now"], "240m");
    assert_eq!(m["change"], -0.52);
    let why = m["why"].as_str().unwrap();
    assert!(why.starts_with("last week: p50 of usage = 498.0m"), "{why}");
    assert!(why.contains("this week: p50 of usage = "), "{why}");
    let md = std::fs::read_to_string(ws.path().join("this/index.md")).unwrap();
    assert!(md.contains("Compared with 2026-W46"), "{md}");
    assert!(md.contains("| `shop/Deployment/api/php-fpm` | proposed CPU request | 500m | **240m** | -52% |"), "{md}");

    // A proposal that was applied shows up as a move of the current settings.
    let mut prev2 = rep.clone();
    let php =
        prev2["recommendations"].as_array_mut().unwrap().iter_mut().find(|r| r["container"] == "php-fpm").unwrap();
    php["current"]["memory"]["limit_bytes"] = Value::from(4.0 * 1024f64.powi(3));
    php["memory"]["limit_bytes"] = Value::from(2.0 * 1024f64.powi(3));
    std::fs::write(ws.path().join("last/report.json"), serde_json::to_string_pretty(&prev2).unwrap()).unwrap();
    let now = report(ws.path(), "this", &["--previous", "last/report.json"]);
    let moves = &now["week_over_week"]["changes"][0]["moves"];
    let current_move = moves.as_array().unwrap().iter().find(|m| m["what"] == "current").unwrap();
    assert_eq!(current_move["setting"], "memory limit");
    assert_eq!(current_move["previous"], "4Gi");
    assert_eq!(current_move["now"], "2Gi");
    assert!(current_move["why"].as_str().unwrap().contains("applied"), "{current_move}");
}

#[test]
fn bad_previous_and_time_zone_are_errors() {
    let ws = workspace();
    std::fs::write(ws.path().join("junk.json"), "{\"format\": \"something-else\"}").unwrap();
    for (args, needle) in [
        (vec!["--previous", "junk.json"], "junk.json"),
        (vec!["--previous", "nowhere"], "nowhere"),
        (vec!["--tz", "Mars/Olympus"], "unknown time zone"),
    ] {
        let out = podsizer()
            .current_dir(ws.path())
            .args(["report", "--input"])
            .arg(demo_samples())
            .args(["--out", "out"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{err}");
        assert!(!ws.path().join("out").exists(), "nothing written on error");
    }
}

/// `src="..."` values of the page's images.
fn image_sources(html: &str) -> Vec<String> {
    html.split("<img ")
        .skip(1)
        .map(|tag| {
            let rest = tag.split_once("src=\"").expect("img has src").1;
            rest.split_once('"').unwrap().0.to_string()
        })
        .collect()
}

#[test]
fn every_image_exists_and_is_a_valid_png_or_svg_of_sensible_size() {
    let ws = workspace();
    report(ws.path(), "out", &[]);
    let dir = ws.path().join("out");
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let md = std::fs::read_to_string(dir.join("index.md")).unwrap();
    let sources = image_sources(&html);
    assert_eq!(sources.len(), 3 + 1, "a chart per container and a heat map per workload");
    for src in &sources {
        assert!(!src.contains("://") && !src.starts_with('/'), "{src}: relative, nothing fetched from the network");
        assert!(md.contains(&format!("]({src})")), "{src} is in the Markdown too");
        let bytes = std::fs::read(dir.join(src)).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert!(bytes.len() > 5_000 && bytes.len() < 400_000, "{src}: {} bytes", bytes.len());
        if src.ends_with(".png") {
            let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
            let mut reader = decoder.read_info().unwrap_or_else(|e| panic!("{src}: {e}"));
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert!((600..=2400).contains(&info.width) && (300..=1600).contains(&info.height), "{src}: {info:?}");
            // Not blank: a chart has ink (dark pixels) and mostly white background.
            let px = &buf[..info.buffer_size()];
            let dark = px.chunks(3).filter(|p| p.iter().all(|c| *c < 100)).count();
            assert!(dark > 2_000, "{src}: only {dark} dark pixels");
        } else if src.ends_with(".svg") {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.trim_start().starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{src}");
            assert!(text.contains("width=\"1000\"") && text.contains("height=\"320\""), "{src}");
            assert_eq!(text.matches("<text").count(), text.matches("</text>").count());
            assert!(text.matches("<rect").count() > 7 * 24, "{src}: a cell per hour and weekday");
        } else {
            panic!("{src}: neither PNG nor SVG");
        }
    }
    // Charts left over from an earlier report in the same folder are cleaned up.
    std::fs::write(dir.join("charts/old.other.api.x.usage.png"), b"stale").unwrap();
    report(ws.path(), "out", &[]);
    assert!(!dir.join("charts/old.other.api.x.usage.png").exists());
}

// ---- headless Chromium, driven over --remote-debugging-pipe (via named pipes) ----

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PODSIZER_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
        let found = std::process::Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().ok()?;
        if found.status.success() {
            return Some(PathBuf::from(String::from_utf8_lossy(&found.stdout).trim()));
        }
    }
    None
}

struct Devtools {
    child: std::process::Child,
    to_browser: std::fs::File,
    from_browser: std::sync::mpsc::Receiver<Value>,
    next_id: u64,
    events: Vec<Value>,
}

impl Devtools {
    fn start(chromium: &Path, scratch: &Path) -> Self {
        let (cmd_pipe, out_pipe) = (scratch.join("to-browser"), scratch.join("from-browser"));
        for p in [&cmd_pipe, &out_pipe] {
            assert!(std::process::Command::new("mkfifo").arg(p).status().unwrap().success(), "mkfifo");
        }
        let profile = scratch.join("profile");
        // Chromium reads commands from fd 3 and writes replies to fd 4.
        let script = format!(
            "exec \"$0\" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
             --disable-component-update --disable-sync --disable-extensions --hide-scrollbars \
             --user-data-dir='{}' --remote-debugging-pipe about:blank 3<'{}' 4>'{}'",
            profile.display(),
            cmd_pipe.display(),
            out_pipe.display()
        );
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(chromium)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start chromium");
        let to_browser = std::fs::OpenOptions::new().write(true).open(&cmd_pipe).unwrap();
        let mut reader = std::fs::File::open(&out_pipe).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut pending = Vec::new();
            let mut buf = [0u8; 65536];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                pending.extend_from_slice(&buf[..n]);
                while let Some(end) = pending.iter().position(|b| *b == 0) {
                    let message: Vec<u8> = pending.drain(..=end).collect();
                    if let Ok(v) = serde_json::from_slice::<Value>(&message[..message.len() - 1]) {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Self { child, to_browser, from_browser: rx, next_id: 0, events: Vec::new() }
    }

    /// Sends a command and waits for its reply, keeping events seen meanwhile.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        use std::io::Write;
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = serde_json::json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = Value::from(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to_browser.write_all(&bytes).unwrap();
        self.to_browser.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.from_browser.recv_timeout(left).unwrap_or_else(|_| panic!("no reply to {method} in 60 s"));
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    /// Waits until an event named `method` arrives (or was already seen).
    fn wait_for(&mut self, method: &str) {
        if self.events.iter().any(|e| e["method"] == method) {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.from_browser.recv_timeout(left).unwrap_or_else(|_| panic!("no {method} in 60 s"));
            let done = v["method"] == method;
            self.events.push(v);
            if done {
                return;
            }
        }
    }
}

impl Drop for Devtools {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Console errors, exceptions, error log entries and failed loads among `events`.
fn problems(events: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for e in events {
        let p = &e["params"];
        match e["method"].as_str().unwrap_or("") {
            "Runtime.exceptionThrown" => out.push(format!("exception: {}", p["exceptionDetails"])),
            "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert" | "warning")) => {
                out.push(format!("console.{}: {}", p["type"], p["args"]));
            }
            "Log.entryAdded" if matches!(p["entry"]["level"].as_str(), Some("error" | "warning")) => {
                out.push(format!("log: {} {}", p["entry"]["text"], p["entry"]["url"]));
            }
            "Network.loadingFailed" => out.push(format!("failed to load: {p}")),
            "Network.requestWillBeSent" => {
                let url = p["request"]["url"].as_str().unwrap_or("");
                if !(url.starts_with("file://") || url.starts_with("data:") || url == "about:blank") {
                    out.push(format!("network request: {url}"));
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn page_renders_in_headless_chromium_without_errors() {
    let Some(chromium) = chromium() else {
        let msg = "chromium not found: install the Debian package `chromium` (or set PODSIZER_CHROMIUM)";
        assert!(std::env::var_os("CI").is_none(), "{msg}; CI must install it");
        eprintln!("\n*** NOTICE: SKIPPING the headless Chromium check of the report page: {msg} ***\n");
        return;
    };
    let ws = workspace();
    report(ws.path(), "out", &[]);
    let page = ws.path().join("out/index.html");

    // The harness must catch what it claims to: a page with a missing image and a script error.
    let bad = ws.path().join("out/bad.html");
    std::fs::write(&bad, "<!DOCTYPE html><html><body><img src=\"charts/missing.png\"><script>console.error('boom')</script></body></html>").unwrap();
    let bad_problems = load(&chromium, ws.path(), &bad).0;
    assert!(bad_problems.iter().any(|p| p.contains("missing.png")), "{bad_problems:#?}");
    assert!(bad_problems.iter().any(|p| p.contains("boom")), "{bad_problems:#?}");

    let (found, images, title) = load(&chromium, ws.path(), &page);
    assert!(found.is_empty(), "problems rendering {}: {found:#?}", page.display());
    assert_eq!(title, "Sizing report 2026-W47");
    let images = images.as_array().unwrap();
    assert_eq!(images.len(), 4, "{images:?}");
    for img in images {
        assert!(img["complete"] == true && img["width"].as_u64().unwrap() > 0, "image did not load: {img}");
    }
}

/// Loads `page` and returns (problems, images as [{src, complete, width}], title).
fn load(chromium: &Path, scratch: &Path, page: &Path) -> (Vec<String>, Value, String) {
    let dir = tempfile::tempdir_in(scratch).unwrap();
    let mut dt = Devtools::start(chromium, dir.path());
    let target = dt.call(None, "Target.createTarget", serde_json::json!({"url": "about:blank"}));
    let attached =
        dt.call(None, "Target.attachToTarget", serde_json::json!({"targetId": target["targetId"], "flatten": true}));
    let session = attached["sessionId"].as_str().unwrap().to_string();
    let s = Some(session.as_str());
    for domain in ["Runtime.enable", "Log.enable", "Network.enable", "Page.enable"] {
        dt.call(s, domain, serde_json::json!({}));
    }
    dt.events.clear();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    dt.call(s, "Page.navigate", serde_json::json!({"url": url}));
    dt.wait_for("Page.loadEventFired");
    let result = dt.call(
        s,
        "Runtime.evaluate",
        serde_json::json!({
            "expression": "JSON.stringify({title: document.title, images: Array.from(document.images).map(i => ({src: i.getAttribute('src'), complete: i.complete, width: i.naturalWidth}))})",
            "returnByValue": true
        }),
    );
    let v: Value = serde_json::from_str(result["result"]["value"].as_str().unwrap()).unwrap();
    // Let late console messages arrive.
    let settle = Instant::now() + Duration::from_millis(300);
    while let Ok(e) = dt.from_browser.recv_timeout(settle.saturating_duration_since(Instant::now())) {
        dt.events.push(e);
    }
    let _ = dt.call(None, "Browser.close", serde_json::json!({}));
    (problems(&dt.events), v["images"].clone(), v["title"].as_str().unwrap_or("").to_string())
}

#[test]
fn eviction_exposure_flags_and_nodes_now_and_proposed() {
    let ws = workspace();
    // The old p50 memory request: the working set is above it about half the time.
    std::fs::write(ws.path().join("p50.toml"), "[defaults.memory]\nrequest_basis = \"working-set\"\n").unwrap();
    podsizer()
        .current_dir(ws.path())
        .args(["report", "--input"])
        .arg(demo_samples())
        .args(["--kustomize", OVERLAY, "--out", "out", "--policy", "p50.toml", "--node", "2c4g", "--node", "8c32g"])
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&std::fs::read(ws.path().join("out/report.json")).unwrap()).unwrap();
    for c in doc["containers"].as_array().unwrap() {
        let risk = &c["risk"];
        let share = risk["memory_above_proposed_request"].as_f64().unwrap() / risk["samples"].as_f64().unwrap();
        let flagged = risk["flags"].as_array().unwrap().iter().any(|f| f["code"] == "eviction_exposure");
        assert_eq!(flagged, share > 0.05, "{c}");
        // The demo's current requests (128Mi and up) sit above every sample.
        assert_eq!(risk["memory_above_current_request"].as_u64(), Some(0), "{c}");
    }
    let php = doc["containers"].as_array().unwrap().iter().find(|c| c["container"] == "php-fpm").unwrap();
    assert!(php["risk"]["flags"].as_array().unwrap().iter().any(|f| f["code"] == "eviction_exposure"), "{php}");
    let nodes = doc["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    for n in nodes {
        // Pod names over the week (3 at a time; a rollout replaces them).
        assert!(n["pods"].as_u64().unwrap() >= 3, "{n}");
        let (now, new) = (&n["current"], &n["proposed"]);
        // Smaller requests never need more nodes on the same pods.
        assert!(new["peak_nodes"].as_u64() <= now["peak_nodes"].as_u64(), "{n}");
        assert!(new["mean_nodes"].as_f64() <= now["mean_nodes"].as_f64(), "{n}");
        // Contention as a share of node-steps: some exactly when some node-minutes are contended.
        for f in [now, new] {
            let share = f["cpu_contention_share"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&share), "{n}");
            assert_eq!(share > 0.0, f["cpu_contention_node_minutes"].as_f64().unwrap() > 0.0, "{n}");
        }
    }
    // Now: 3 pods of 1.35 cores / 1.375Gi each at a time; a 2-core node holds one.
    assert_eq!(nodes[0]["current"]["peak_nodes"].as_u64(), Some(3));
    let md = std::fs::read_to_string(ws.path().join("out/index.md")).unwrap();
    assert!(md.contains("## Nodes needed") && md.contains("| 2c4g | proposed |"), "{md}");
    assert!(md.contains("CPU contention on 2c4g:") && md.contains("`cpu.node_contention_budget`"), "{md}");
    assert!(md.contains("**Eviction exposure:**") && md.contains("eviction exposure"), "{md}");
}
