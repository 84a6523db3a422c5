//! Hostile or broken servers and careless output folders, on real parts: the in-process fake
//! Kubernetes API server (a `continue` token that repeats, pages without end, Status messages
//! with terminal escapes), loopback webhooks and a loopback Prometheus (redirects, echoed
//! secrets, control characters), kubeconfigs and other input files that never end, and
//! `report`/`demo` output folders that hold someone else's files.

use crate::support::fake_api::{self, Cluster, FakeApi, Paging};
use crate::support::{fixtures, podsizer_on_loopback, tree_with_bytes};
use podsizer::sources::cluster::{read_live_objects, LiveScope};
use podsizer::sources::metrics_server::client::{ConnectOptions, ListLimits, MetricsServerError};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn demo_samples() -> PathBuf {
    fixtures().join("demo/samples.parquet")
}

fn output_of(cmd: &mut assert_cmd::Command) -> (Option<i32>, String) {
    let out = cmd.timeout(Duration::from_secs(120)).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

fn requests_to(api: &FakeApi, prefix: &str) -> usize {
    api.requests().iter().filter(|r| r.starts_with(prefix)).count()
}

/// `recommend` with current settings read live from `kubeconfig`'s `fake` context.
fn recommend_live(kubeconfig: &Path) -> (Option<i32>, String) {
    output_of(
        podsizer_on_loopback()
            .env_remove("KUBECONFIG")
            .args(["recommend", "--context", "fake", "--input"])
            .arg(demo_samples())
            .arg("--kubeconfig")
            .arg(kubeconfig),
    )
}

// ---------------------------------------------------------------------------------------------
// Paging

/// Every list `--live` makes, as (path, the resource as messages name it).
const LIVE_LISTS: [(&str, &str); 6] = [
    ("/apis/apps/v1/deployments", "deployments.apps"),
    ("/apis/apps/v1/statefulsets", "statefulsets.apps"),
    ("/apis/apps/v1/daemonsets", "daemonsets.apps"),
    ("/apis/batch/v1/cronjobs", "cronjobs.batch"),
    ("/apis/autoscaling/v2/horizontalpodautoscalers", "horizontalpodautoscalers.autoscaling"),
    ("/api/v1/configmaps", "configmaps"),
];

#[test]
fn a_repeated_continue_token_ends_every_live_list_at_once() {
    let kube_dir = tempfile::tempdir().unwrap();
    for (path, resource) in LIVE_LISTS {
        let api = FakeApi::start(Cluster { window_every: 1, ..Cluster::default() });
        api.paging(path, Paging::RepeatToken);
        let kubeconfig = api.kubeconfig(kube_dir.path(), "dead");
        let (code, text) = recommend_live(&kubeconfig);
        assert_eq!(code, Some(2), "{path}: {text}");
        let server = format!("http://127.0.0.1:{}/", api.port);
        assert!(text.contains(&format!("listing {resource} from the API server {server}")), "{path}: {text}");
        assert!(text.contains("page 2 repeats an earlier `continue` token"), "{path}: {text}");
        assert_eq!(requests_to(&api, path), 2, "{path}: the first page and the one that repeats");
    }
}

#[test]
fn a_repeated_continue_token_ends_every_collector_list_at_once() {
    for (path, resource) in [
        ("/apis/metrics.k8s.io/v1beta1/pods", "pods.metrics.k8s.io"),
        ("/api/v1/pods", "pods from"),
        ("/apis/apps/v1/replicasets", "replicasets.apps"),
        ("/apis/batch/v1/jobs", "jobs.batch"),
    ] {
        let (cluster, _) = fake_api::fleet();
        let api = FakeApi::start(cluster);
        api.paging(path, Paging::RepeatToken);
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = api.kubeconfig(dir.path(), "fake");
        let started = Instant::now();
        let (code, text) = output_of(
            podsizer_on_loopback()
                .env_remove("KUBECONFIG")
                .args(["collect", "metrics-server", "--once", "--page-size", "2", "--store"])
                .arg(dir.path().join("store"))
                .arg("--kubeconfig")
                .arg(&kubeconfig),
        );
        assert_eq!(code, Some(2), "{path}: {text}");
        let server = format!("http://127.0.0.1:{}/", api.port);
        assert!(text.contains(&format!("listing {resource}")) && text.contains(&server), "{path}: {text}");
        assert!(text.contains("repeats an earlier `continue` token"), "{path}: {text}");
        assert_eq!(requests_to(&api, path), 2, "{path}: not retried, not looped");
        assert!(started.elapsed() < Duration::from_secs(30), "{path}: {:?}", started.elapsed());
    }
}

fn live_with_limits(api: &FakeApi, dir: &Path, limits: ListLimits) -> Result<(), MetricsServerError> {
    let connect = ConnectOptions {
        kubeconfig: Some(api.kubeconfig(dir, "fake")),
        context: None,
        request_timeout: Some(Duration::from_secs(10)),
        limits,
    };
    read_live_objects(&connect, &LiveScope::default()).map(|_| ())
}

fn deployment(name: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "x"}]}}}})
}

#[test]
fn pages_without_end_stop_at_the_page_limit() {
    let dir = tempfile::tempdir().unwrap();
    let api = FakeApi::start(Cluster { window_every: 1, ..Cluster::default() });
    api.paging("/apis/apps/v1/statefulsets", Paging::Endless { objects_per_page: 0 });
    let limits = ListLimits { max_pages: 25, max_items: 1_000_000 };
    let err = live_with_limits(&api, dir.path(), limits).unwrap_err().to_string();
    assert!(err.contains("listing statefulsets.apps from the API server http://127.0.0.1:"), "{err}");
    assert!(err.contains("more than 25 pages"), "{err}");
    assert_eq!(requests_to(&api, "/apis/apps/v1/statefulsets"), 25);
}

#[test]
fn objects_without_end_stop_at_the_object_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster { window_every: 1, ..Cluster::default() };
    cluster.objects.insert("deployments", vec![deployment("api")]);
    let api = FakeApi::start(cluster);
    api.paging("/apis/apps/v1/deployments", Paging::Endless { objects_per_page: 40 });
    let limits = ListLimits { max_pages: 1_000, max_items: 100 };
    let err = live_with_limits(&api, dir.path(), limits).unwrap_err().to_string();
    assert!(
        err.contains("listing deployments.apps from the API server") && err.contains("more than 100 objects"),
        "{err}"
    );
    assert_eq!(requests_to(&api, "/apis/apps/v1/deployments"), 3, "40 + 40 + 40 objects pass 100 on the third page");
    // Within the limits the same lists are read whole.
    let api = FakeApi::start(Cluster { window_every: 1, ..Cluster::default() });
    live_with_limits(&api, dir.path(), ListLimits::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Kubeconfigs and other input files

fn kubeconfig_with_server(dir: &Path, server: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server}\nusers:\n- name: t\n  user:\n    token: x\n\
contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: t\ncurrent-context: fake\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_kubeconfig_server_without_a_scheme_names_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_with_server(dir.path(), "127.0.0.1:6443");
    let collect = |k: &Path| {
        output_of(
            podsizer_on_loopback()
                .env_remove("KUBECONFIG")
                .args(["collect", "metrics-server", "--once", "--retries", "0", "--store"])
                .arg(dir.path().join("store"))
                .arg("--kubeconfig")
                .arg(k),
        )
    };
    for (code, text) in [recommend_live(&kubeconfig), collect(&kubeconfig)] {
        assert_eq!(code, Some(2), "{text}");
        assert!(!text.contains("panicked"), "{text}");
        let want = format!("{}: clusters[name=fake].cluster.server `127.0.0.1:6443`", kubeconfig.display());
        assert!(text.contains(&want) && text.contains("https://127.0.0.1:6443"), "{text}");
    }
}

/// A FIFO fed without end by a thread (until the reader goes away).
fn endless_fifo(dir: &Path) -> PathBuf {
    let path = dir.join("endless-fifo");
    assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
    let writer = path.clone();
    std::thread::spawn(move || {
        let Ok(mut fifo) = std::fs::OpenOptions::new().write(true).open(&writer) else { return };
        let line = "# comment line that never ends the file\n".repeat(1024);
        while fifo.write_all(line.as_bytes()).is_ok() {}
    });
    path
}

#[test]
fn input_files_that_never_end_are_refused_at_a_bound() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge-sparse-file");
    std::fs::File::create(&huge).unwrap().set_len(8 << 30).unwrap();
    let sources: Vec<(&str, PathBuf)> = vec![
        ("/dev/zero", PathBuf::from("/dev/zero")),
        ("a FIFO", endless_fifo(dir.path())),
        ("an 8 GiB file", huge.clone()),
    ];
    for (what, path) in sources {
        let flags: [(&str, Vec<&str>); 3] = [
            ("--kubeconfig", vec!["recommend", "--context", "fake"]),
            ("--policy", vec!["recommend"]),
            ("--previous", vec!["report", "--out", "never-written"]),
        ];
        for (flag, command) in flags {
            if what == "a FIFO" && flag != "--kubeconfig" {
                continue; // one reader of the FIFO is enough
            }
            let started = Instant::now();
            let (code, text) = output_of(
                podsizer_on_loopback()
                    .current_dir(dir.path())
                    .env_remove("KUBECONFIG")
                    .args(&command)
                    .arg("--input")
                    .arg(demo_samples())
                    .arg(flag)
                    .arg(&path),
            );
            assert_eq!(code, Some(2), "{what} as {flag}: {text}");
            assert!(
                text.contains(&path.display().to_string()) && text.contains("larger than"),
                "{what}, {flag}: {text}"
            );
            assert!(started.elapsed() < Duration::from_secs(30), "{what}, {flag}: {:?}", started.elapsed());
        }
    }
    assert!(!dir.path().join("never-written").exists());
    // The same bound on a kubeconfig named by KUBECONFIG rather than --kubeconfig.
    let (code, text) = output_of(
        podsizer_on_loopback()
            .env("KUBECONFIG", "/dev/zero")
            .args(["recommend", "--context", "fake", "--input"])
            .arg(demo_samples()),
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("/dev/zero: larger than 16 MiB"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Webhooks, Prometheus and the Kubernetes API: what servers say back

/// A loopback server answering every request with `status`, `headers` and `body`; counts requests.
fn answering(status: u16, headers: String, body: Vec<u8>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut request_body = vec![0; length];
            let _ = reader.read_exact(&mut request_body);
            let head = format!(
                "HTTP/1.1 {status} X\r\n{headers}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes()).and_then(|()| conn.write_all(&body));
        }
    });
    (port, hits)
}

const SECRET_PATH: &str = "/services/T0SECRET42/B0SECRET42/xoxSECRETtoken42";

/// `report` on the demo week with a Slack webhook at `url`.
fn report_notifying(url: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    output_of(
        podsizer_on_loopback()
            .args(["report", "--notify-format", "slack", "--input"])
            .arg(demo_samples())
            .arg("--out")
            .arg(dir.path().join("report"))
            .env("PODSIZER_NOTIFY_WEBHOOK", url),
    )
}

#[test]
fn a_webhook_redirect_is_not_followed_and_not_sent() {
    for status in [301, 302, 303, 307, 308] {
        let (elsewhere, elsewhere_hits) = answering(200, String::new(), b"ok".to_vec());
        let location = format!("location: http://localhost:{elsewhere}/catch{SECRET_PATH}\r\n");
        let (hook, hook_hits) = answering(status, location, Vec::new());
        let (code, text) = report_notifying(&format!("http://127.0.0.1:{hook}{SECRET_PATH}"));
        assert_eq!(code, Some(0), "a notification failing is a warning: {text}");
        assert_eq!(hook_hits.load(Ordering::SeqCst), 1, "{status}");
        assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0, "{status}: the redirect was followed");
        assert!(text.contains(&format!("HTTP {status}, a redirect to localhost:{elsewhere}")), "{status}: {text}");
        assert!(text.contains("summary not sent") && !text.contains("sent the summary"), "{status}: {text}");
        assert!(!text.contains("SECRET"), "{status}: {text}");
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3F) as usize] as char);
        }
    }
    out
}

#[test]
fn a_webhook_echoing_its_url_encoded_leaks_no_secret_and_no_escape() {
    let percent: String = SECRET_PATH.replace('/', "%2F");
    let dump = base64(format!("POST {SECRET_PATH} HTTP/1.1").as_bytes());
    let body = format!(
        "\u{1b}[2J\u{1b}[31mno route\r\nfor {percent} ({}), json {}, base64 {}, lower {}\u{7}",
        percent.replace("%2F", "%252F"),
        serde_json::json!({ "path": SECRET_PATH }).to_string().replace('/', "\\/"),
        dump,
        SECRET_PATH.replace('/', "%2f"),
    );
    let (hook, _) = answering(404, String::new(), body.into_bytes());
    let (code, text) = report_notifying(&format!("http://127.0.0.1:{hook}{SECRET_PATH}"));
    assert_eq!(code, Some(0), "{text}");
    let warning = text.lines().find(|l| l.contains("summary not sent")).unwrap_or_else(|| panic!("{text}"));
    assert!(warning.contains("HTTP 404: [2J[31mno route for <webhook>"), "{warning}");
    for leak in ["SECRET", "U0VDUkVU", "\u{1b}", "\r", "\u{7}"] {
        assert!(!text.contains(leak), "{leak:?} in {text}");
    }
    assert!(!text.contains(&dump[16..56]), "the base64 dump's middle, which encodes the path: {text}");
}

#[test]
fn server_text_reaches_the_terminal_without_control_characters() {
    let hostile = "bad\u{1b}[2J\u{1b}]0;owned\u{7} request\r\nerror: forged line\u{202e}txt.exe";
    // The Kubernetes API's Status message.
    let api = FakeApi::start(Cluster { window_every: 1, ..Cluster::default() });
    api.cluster.lock().unwrap().status_message = Some(hostile.to_string());
    api.fault("/apis/apps/v1/deployments", 400, 0, 10);
    let dir = tempfile::tempdir().unwrap();
    let (code, kube_text) = recommend_live(&api.kubeconfig(dir.path(), "fake"));
    assert_eq!(code, Some(2), "{kube_text}");
    // Prometheus's error body.
    let error = serde_json::json!({"status": "error", "errorType": "bad_data", "error": hostile}).to_string();
    let (prometheus, _) = answering(400, String::new(), error.into_bytes());
    let (code, prometheus_text) = output_of(
        podsizer_on_loopback()
            .args(["import", "prometheus", "--retries", "0", "--url"])
            .arg(format!("http://127.0.0.1:{prometheus}"))
            .arg("--store")
            .arg(dir.path().join("store")),
    );
    assert_eq!(code, Some(2), "{prometheus_text}");
    // A webhook's error body.
    let (hook, _) = answering(500, String::new(), hostile.as_bytes().to_vec());
    let (_, webhook_text) = report_notifying(&format!("http://127.0.0.1:{hook}{SECRET_PATH}"));
    for (server, text) in [("kubernetes", kube_text), ("prometheus", prometheus_text), ("webhook", webhook_text)] {
        assert!(text.contains("bad[2J]0;owned request error: forged linetxt.exe"), "{server}: {text}");
        for c in ['\u{1b}', '\u{7}', '\r', '\u{202e}'] {
            assert!(!text.contains(c), "{server}: {c:?} in {text}");
        }
        assert!(!text.lines().any(|l| l.starts_with("error: forged")), "{server}: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Output folders

fn report_into(out: &Path) -> (Option<i32>, String) {
    output_of(podsizer_on_loopback().args(["report", "--input"]).arg(demo_samples()).arg("--out").arg(out))
}

#[test]
fn a_report_writes_only_into_a_new_empty_or_report_folder() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("css")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>our product</h1>").unwrap();
    std::fs::write(site.join("css/site.css"), "h1 {}").unwrap();
    let before = tree_with_bytes(&site);
    let (code, text) = report_into(&site);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains(&format!("{}: refusing to write the report there", site.display())), "{text}");
    assert_eq!(tree_with_bytes(&site), before, "the site is untouched");

    let (code, text) = report_into(Path::new("/"));
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("/: refusing to write the report there"), "{text}");

    let fresh = dir.path().join("weekly");
    std::fs::create_dir(&fresh).unwrap();
    for run in ["into an empty folder", "over its own report"] {
        let (code, text) = report_into(&fresh);
        assert_eq!(code, Some(0), "{run}: {text}");
    }
    assert!(fresh.join(".podsizer-report").is_file() && fresh.join("index.html").is_file());
    // A report written before the marker existed is still a report.
    std::fs::remove_file(fresh.join(".podsizer-report")).unwrap();
    let (code, text) = report_into(&fresh);
    assert_eq!(code, Some(0), "{text}");
    // Someone's file beside it makes it a folder of theirs again, unless they mark it.
    std::fs::remove_file(fresh.join(".podsizer-report")).unwrap();
    std::fs::write(fresh.join("notes.md"), "ours").unwrap();
    let (code, text) = report_into(&fresh);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("1 entry a report does not write (notes.md)"), "{text}");
    std::fs::write(fresh.join(".podsizer-report"), "").unwrap();
    let (code, text) = report_into(&fresh);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(std::fs::read_to_string(fresh.join("notes.md")).unwrap(), "ours");
}

#[test]
fn the_demo_writes_only_into_a_new_or_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("samples.parquet"), "my own data").unwrap();
    let before = tree_with_bytes(dir.path());
    let (code, text) = output_of(podsizer_on_loopback().args(["demo", "--out"]).arg(dir.path()));
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains(&format!("{}: refusing to write the demo there", dir.path().display())), "{text}");
    assert_eq!(tree_with_bytes(dir.path()), before);
}

#[test]
fn a_prometheus_redirect_is_not_followed_and_its_headers_go_nowhere() {
    for status in [301, 302, 307, 308] {
        let (elsewhere, elsewhere_hits) = answering(200, String::new(), b"{}".to_vec());
        let location = format!("location: http://user:pw@localhost:{elsewhere}/prom{SECRET_PATH}\r\n");
        let (prometheus, hits) = answering(status, location, Vec::new());
        let dir = tempfile::tempdir().unwrap();
        let (code, text) = output_of(
            podsizer_on_loopback()
                .args(["import", "prometheus", "--retries", "0", "--header", "X-Scope-OrgID: tenant-secret", "--url"])
                .arg(format!("http://127.0.0.1:{prometheus}"))
                .arg("--store")
                .arg(dir.path().join("store")),
        );
        assert_eq!(code, Some(2), "{status}: {text}");
        assert!(hits.load(Ordering::SeqCst) >= 1, "{status}: Prometheus was asked");
        assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0, "{status}: the redirect was followed");
        assert!(text.contains(&format!("HTTP {status}, a redirect to localhost:{elsewhere}")), "{status}: {text}");
        assert!(
            !text.contains("SECRET") && !text.contains("pw@"),
            "{status}: the path and credentials stay out: {text}"
        );
    }
}
