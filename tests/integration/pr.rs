//! `podsizer pr` against real git repositories (a bare remote, real pushes) and an
//! in-process stand-in for the GitHub REST API that records every request.

use crate::support::copy_tree;
use assert_cmd::Command;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub const TOKEN: &str = "ghp_secret-token-4711";

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    headers: Vec<(String, String)>,
    pub body: Value,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How the fake API answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    Unauthorized,
    RateLimited,
    Invalid,
}

#[derive(Default)]
pub struct State {
    requests: Vec<Request>,
    pub open: Vec<Value>,
}

pub struct FakeGitHub {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    mode: Arc<Mutex<Mode>>,
}

impl FakeGitHub {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let mode = Arc::new(Mutex::new(Mode::Normal));
        let (s, m) = (state.clone(), mode.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve(stream, &s, &m);
            }
        });
        Self { url, state, mode }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn writes(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.method != "GET").collect()
    }
}

fn serve(stream: std::net::TcpStream, state: &Mutex<State>, mode: &Mutex<Mode>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let request = Request { method, path, headers, body: serde_json::from_slice(&body).unwrap_or(Value::Null) };
    let (status, extra, reply) = answer(&request, state, *mode.lock().unwrap());
    state.lock().unwrap().requests.push(request);
    let text = reply.to_string();
    let mut stream = stream;
    write!(stream, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{text}", text.len())?;
    stream.flush()
}

fn answer(r: &Request, state: &Mutex<State>, mode: Mode) -> (u16, String, Value) {
    match mode {
        Mode::Unauthorized => return (401, String::new(), json!({"message": format!("Bad credentials for {TOKEN}")})),
        Mode::RateLimited => {
            return (
                403,
                "x-ratelimit-remaining: 0\r\nx-ratelimit-reset: 1798761600\r\n".into(),
                json!({"message": "API rate limit exceeded"}),
            )
        }
        Mode::Invalid if r.method == "POST" => {
            return (
                422,
                String::new(),
                json!({"message": "Validation Failed", "errors": [{"message": "A pull request already exists for acme:podsizer/production."}]}),
            )
        }
        _ => {}
    }
    let mut s = state.lock().unwrap();
    match (r.method.as_str(), r.path.as_str()) {
        // As GitHub does, `head=OWNER:BRANCH` selects the pull requests from that branch.
        ("GET", p) if p.starts_with("/repos/acme/gitops/pulls?") => {
            let head = p.split_once("head=acme:").map(|(_, b)| b.split('&').next().unwrap_or(b).to_string());
            let open = s.open.iter().filter(|pr| head.as_deref().is_none_or(|h| pr["head"]["ref"] == h));
            (200, String::new(), Value::Array(open.cloned().collect()))
        }
        ("POST", "/repos/acme/gitops/pulls") => {
            let number = s.open.len() as u64 + 1;
            let pr = json!({"number": number, "html_url": format!("https://github.example/acme/gitops/pull/{number}"), "title": r.body["title"], "body": r.body["body"], "head": {"ref": r.body["head"]}, "labels": []});
            s.open.push(pr.clone());
            (201, String::new(), pr)
        }
        ("PATCH", p) if p.starts_with("/repos/acme/gitops/pulls/") => {
            let number: u64 = p.rsplit('/').next().unwrap().parse().unwrap();
            let pr = s.open.iter_mut().find(|p| p["number"] == number).expect("updating a PR that exists");
            pr["title"] = r.body["title"].clone();
            pr["body"] = r.body["body"].clone();
            (200, String::new(), pr.clone())
        }
        // Labels go through the issues API; the answer is the labels.
        ("POST", p) if p.starts_with("/repos/acme/gitops/issues/") && p.ends_with("/labels") => {
            let number: u64 = p.split('/').nth(5).unwrap().parse().unwrap();
            let pr = s.open.iter_mut().find(|p| p["number"] == number).expect("labelling a PR that exists");
            for label in r.body["labels"].as_array().unwrap() {
                pr["labels"].as_array_mut().unwrap().push(json!({"name": label}));
            }
            (200, String::new(), pr["labels"].clone())
        }
        // The chat webhook stand-in for --notify-webhook.
        ("POST", p) if p.starts_with("/webhook/") => (200, String::new(), json!("ok")),
        _ => (404, String::new(), json!({"message": "Not Found"})),
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Jane Doe", "-c", "user.email=jane@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare remote holding the demo GitOps tree on `main`, and a clean clone of it.
fn gitops_repo() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote.git");
    let work = tmp.path().join("work");
    git(tmp.path(), &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
    git(tmp.path(), &["clone", "-q", remote.to_str().unwrap(), work.to_str().unwrap()]);
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/gitops"), &work);
    git(&work, &["checkout", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "gitops: api"]);
    git(&work, &["push", "-q", "origin", "main"]);
    (tmp, remote, work)
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/samples.parquet")
}

fn pr(work: &Path, api: &FakeGitHub, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("podsizer")
        .unwrap()
        .args(["pr", "--overlay", "overlays/production", "--github-repo", "acme/gitops", "--input"])
        .arg(samples())
        .arg("--repo")
        .arg(work)
        .args(["--github-api", &api.url])
        .args(extra)
        .env("GITHUB_TOKEN", TOKEN)
        .output()
        .unwrap()
}

pub fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn assert_clean_on_main(work: &Path) {
    assert_eq!(git(work, &["status", "--porcelain"]), "", "work tree left dirty");
    assert_eq!(git(work, &["symbolic-ref", "--short", "HEAD"]), "main");
}

fn render_branch(remote: &Path, branch: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("c");
    git(dir.path(), &["clone", "-q", "-b", branch, remote.to_str().unwrap(), checkout.to_str().unwrap()]);
    let kubectl = std::env::var("PODSIZER_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let out = std::process::Command::new(kubectl)
        .arg("kustomize")
        .arg(checkout.join("overlays/production"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn opens_one_pull_request_then_updates_it() {
    let (_tmp, remote, work) = gitops_repo();
    let api = FakeGitHub::start();
    let first = pr(&work, &api, &[]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(!text(&first).contains(TOKEN), "token leaked");
    let writes = api.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    let open = &writes[0];
    assert_eq!((open.method.as_str(), open.path.as_str()), ("POST", "/repos/acme/gitops/pulls"));
    assert_eq!(open.header("Authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(open.header("X-GitHub-Api-Version"), Some("2022-11-28"));
    assert_eq!(open.header("Accept"), Some("application/vnd.github+json"));
    assert_eq!(open.body["head"], "podsizer/production");
    assert_eq!(open.body["base"], "main");
    assert!(open.body["title"].as_str().unwrap().contains("saves $"), "{}", open.body["title"]);
    let body = open.body["body"].as_str().unwrap();
    assert!(
        body.contains("## What to change") && body.contains("### shop / deployment/api / php-fpm"),
        "the weekly report is the body: {body}"
    );
    assert!(!body.contains("!["), "no chart images: a PR body cannot host them");
    // Evidence: the demo's limits are raised to cover its peaks, so the replay has no OOM kill either way;
    // the demo's samples come without outcome signals, so throttling is unknown, not 0.
    let row = body.lines().find(|l| l.starts_with("| shop / deployment/api / php-fpm |")).expect("an evidence row");
    assert!(row.starts_with("| shop / deployment/api / php-fpm | 0 → 0 |") && row.contains("| unknown |"), "{row}");
    assert!(body.find("## Evidence") < body.find("## What to change") && body.contains("<details>"), "{body}");
    let list = &api.requests()[0];
    assert_eq!(list.path, "/repos/acme/gitops/pulls?state=open&head=acme:podsizer/production");
    let rendered = render_branch(&remote, "podsizer/production");
    assert!(rendered.contains("averageUtilization: 291"), "HPA patch on the branch");
    assert_clean_on_main(&work);
    let first_tip = git(&remote, &["rev-parse", "podsizer/production"]);

    // New data (a shorter window): the same PR is updated, not a second one opened.
    let second = pr(&work, &api, &["--window", "3d"]);
    assert!(second.status.success(), "{}", text(&second));
    let writes = api.writes();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!((writes[1].method.as_str(), writes[1].path.as_str()), ("PATCH", "/repos/acme/gitops/pulls/1"));
    assert_ne!(git(&remote, &["rev-parse", "podsizer/production"]), first_tip, "branch updated");
    assert_eq!(
        git(&remote, &["rev-list", "--count", "main..podsizer/production"]),
        "1",
        "one bot commit on top of main"
    );
    assert_eq!(api.state.lock().unwrap().open.len(), 1);
    assert_clean_on_main(&work);
}

#[test]
fn below_the_threshold_nothing_is_committed_or_written() {
    let (_tmp, remote, work) = gitops_repo();
    let api = FakeGitHub::start();
    assert!(pr(&work, &api, &[]).status.success());
    // The team merges the bot's PR; next week's numbers barely move.
    git(&work, &["fetch", "-q"]);
    git(&work, &["merge", "-q", "--ff-only", "origin/podsizer/production"]);
    git(&work, &["push", "-q", "origin", "main"]);
    let before = api.requests().len();
    let tip = git(&remote, &["rev-parse", "podsizer/production"]);
    let out = pr(&work, &api, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing changed beyond --min-change"), "{}", text(&out));
    assert_eq!(api.requests().len(), before, "no API call at all");
    assert_eq!(git(&remote, &["rev-parse", "podsizer/production"]), tip);
    assert_eq!(git(&remote, &["rev-parse", "main"]), git(&work, &["rev-parse", "HEAD"]));
    assert_clean_on_main(&work);
}

#[test]
fn a_human_commit_on_the_bot_branch_is_never_overwritten() {
    let (_tmp, remote, work) = gitops_repo();
    let api = FakeGitHub::start();
    assert!(pr(&work, &api, &[]).status.success());
    git(&work, &["fetch", "-q"]);
    git(&work, &["checkout", "-q", "-b", "fix", "origin/podsizer/production"]);
    std::fs::write(work.join("overlays/production/NOTE.md"), "php-fpm needs 1Gi during the sale\n").unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "keep php-fpm memory"]);
    git(&work, &["push", "-q", "origin", "HEAD:podsizer/production"]);
    git(&work, &["checkout", "-q", "main"]);
    let tip = git(&remote, &["rev-parse", "podsizer/production"]);
    let writes = api.writes().len();
    let out = pr(&work, &api, &["--window", "3d"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("Jane Doe <jane@example.com>") && text(&out).contains("not overwriting"),
        "{}",
        text(&out)
    );
    assert_eq!(git(&remote, &["rev-parse", "podsizer/production"]), tip);
    assert_eq!(api.writes().len(), writes);
    assert_clean_on_main(&work);
}

#[test]
fn api_errors_are_explained_without_the_token_and_leave_the_checkout_clean() {
    for (mode, expected) in [
        (Mode::Unauthorized, "rejected the token (401)"),
        (Mode::RateLimited, "rate limit reached (403); it resets at 2027-01-01T00:00:00Z"),
        (Mode::Invalid, "(422): Validation Failed: A pull request already exists"),
    ] {
        let (_tmp, _remote, work) = gitops_repo();
        let api = FakeGitHub::start();
        *api.mode.lock().unwrap() = mode;
        let out = pr(&work, &api, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(expected), "{}", text(&out));
        assert!(!text(&out).contains(TOKEN), "token leaked: {}", text(&out));
        assert_clean_on_main(&work);
    }
}

#[test]
fn dry_run_touches_nothing_and_dirty_trees_are_refused() {
    let (_tmp, remote, work) = gitops_repo();
    let api = FakeGitHub::start();
    let out = pr(&work, &api, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("+  - path: \"podsizer-deployment-api.yaml\"") && text(&out).contains("dry run"),
        "{}",
        text(&out)
    );
    assert!(api.requests().is_empty());
    assert!(git(&remote, &["branch", "--list", "podsizer/production"]).is_empty());
    assert_clean_on_main(&work);
    std::fs::write(work.join("stray.txt"), "x").unwrap();
    let out = pr(&work, &api, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("uncommitted changes"), "{}", text(&out));
}

#[test]
fn weekly_workflow_is_valid_with_minimal_permissions() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/github-actions/podsizer-weekly.yml");
    let wf: serde_norway::Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(wf["on"]["schedule"][0]["cron"].as_str().is_some_and(|c| c.split_whitespace().count() == 5));
    assert!(wf["on"].get("workflow_dispatch").is_some());
    let perms = wf["permissions"].as_mapping().unwrap();
    assert_eq!(perms.len(), 2, "only what the bot needs: {perms:?}");
    assert_eq!(wf["permissions"]["contents"], "write");
    assert_eq!(wf["permissions"]["pull-requests"], "write");
    let steps = wf["jobs"]["size"]["steps"].as_sequence().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(runs.iter().any(|r| r.contains("podsizer pr") && r.contains("${{ matrix.overlay }}")));
    assert!(
        steps.iter().any(|s| s["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"),
        "token via env, never a flag"
    );
    assert!(!runs.iter().any(|r| r.contains("GITHUB_TOKEN")), "token never on a command line");
}

#[test]
fn notifies_the_chat_webhook_with_the_pull_request_link() {
    let (_tmp, _remote, work) = gitops_repo();
    let api = FakeGitHub::start();
    let webhook = format!("{}/webhook/T000/B000/hook-secret-0815", api.url);
    let out = Command::cargo_bin("podsizer")
        .unwrap()
        .args(["pr", "--overlay", "overlays/production", "--github-repo", "acme/gitops", "--input"])
        .arg(samples())
        .arg("--repo")
        .arg(&work)
        .args(["--github-api", &api.url, "--notify-format", "teams"])
        .env("GITHUB_TOKEN", TOKEN)
        .env("PODSIZER_NOTIFY_WEBHOOK", &webhook)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("hook-secret-0815"), "webhook URL leaked: {}", text(&out));
    let writes = api.writes();
    let opened = writes.iter().find(|r| r.path == "/repos/acme/gitops/pulls").expect("PR opened");
    let hooks: Vec<&Request> = writes.iter().filter(|r| r.path.starts_with("/webhook/")).collect();
    assert_eq!(hooks.len(), 1, "{writes:?}");
    let card = &hooks[0].body["attachments"][0]["content"];
    assert_eq!(card["body"][0]["text"], opened.body["title"], "the pull request's title");
    assert_eq!(card["actions"][0]["title"], "Open pull request #1");
    assert_eq!(card["actions"][0]["url"], "https://github.example/acme/gitops/pull/1");
    assert!(!hooks[0].body.to_string().contains(TOKEN), "no GitHub token in the chat");

    // The same sizes again: the pull request is left as it is, and not announced again.
    let again = Command::cargo_bin("podsizer")
        .unwrap()
        .args(["pr", "--overlay", "overlays/production", "--github-repo", "acme/gitops", "--input"])
        .arg(samples())
        .arg("--repo")
        .arg(&work)
        .args(["--github-api", &api.url, "--notify-format", "teams"])
        .env("GITHUB_TOKEN", TOKEN)
        .env("PODSIZER_NOTIFY_WEBHOOK", &webhook)
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("already holds these sizes"), "{}", text(&again));
    assert_eq!(api.writes().iter().filter(|r| r.path.starts_with("/webhook/")).count(), 1);
}

/// The demo week again as CSV, every row of cluster `prod-us`, with CPU tripled.
fn other_cluster_csv(dir: &Path) -> PathBuf {
    let base = dir.join("demo.csv");
    Command::cargo_bin("podsizer")
        .unwrap()
        .args(["synth", "--scenario", "demo", "--out"])
        .arg(&base)
        .assert()
        .success();
    let text = std::fs::read_to_string(&base).unwrap();
    let mut lines = text.lines();
    let mut out = format!("cluster,{}\n", lines.next().unwrap());
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        cells[6] = (cells[6].parse::<f64>().unwrap() * 3.0).to_string();
        out.push_str(&format!("prod-us,{}\n", cells.join(",")));
    }
    let path = dir.join("prod-us.csv");
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn one_overlay_takes_one_cluster() {
    let (tmp, remote, work) = gitops_repo();
    let api = FakeGitHub::start();
    let us = other_cluster_csv(tmp.path());
    // The demo samples (no cluster) and prod-us's: refused before any git or API work.
    let mixed = pr(&work, &api, &["--input", us.to_str().unwrap()]);
    assert_eq!(mixed.status.code(), Some(2), "{}", text(&mixed));
    assert!(text(&mixed).contains("2 clusters ((no cluster), prod-us)"), "{}", text(&mixed));
    assert!(text(&mixed).contains("choose it with --cluster NAME"), "{}", text(&mixed));
    assert!(api.writes().is_empty());
    assert_eq!(git(&remote, &["branch", "--list", "podsizer/production"]), "");
    assert_clean_on_main(&work);
    // --cluster picks prod-us: its (tripled) CPU is what the branch proposes.
    let chosen = pr(&work, &api, &["--input", us.to_str().unwrap(), "--cluster", "prod-us"]);
    assert!(chosen.status.success(), "{}", text(&chosen));
    assert_eq!(api.writes().len(), 1);
    let out = Command::cargo_bin("podsizer")
        .unwrap()
        .args(["recommend", "-o", "json", "--cluster", "prod-us", "--input"])
        .arg(&us)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let php = doc["recommendations"].as_array().unwrap().iter().find(|r| r["container"] == "php-fpm").unwrap();
    let want = format!("cpu: {}m", (php["cpu"]["request_cores"].as_f64().unwrap() * 1000.0).round());
    let rendered = render_branch(&remote, "podsizer/production");
    assert!(rendered.contains(&want), "{want} in\n{rendered}");
    assert_clean_on_main(&work);
}
