//! `--store s3://...` against moto's S3 server on loopback (the one `.ci/run` starts, shared by
//! test binaries, so every test uses its own bucket). The binary is driven with `assert_cmd`;
//! the bucket is inspected with the library's own S3 client.

use assert_cmd::Command;
use podsizer::store::remote::{DaysWanted, RemoteStore};
use podsizer::store::s3::{Put, S3Location, S3Options, S3};
use podsizer::store::Store;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::moto;
use moto::{moto, unique, Moto};

use crate::support::fake_api;

/// Fake credentials and nothing from this machine's AWS setup.
const AWS_ENV: [(&str, &str); 6] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/nonexistent/podsizer-test"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/podsizer-test"),
];
const AWS_UNSET: [&str; 10] = [
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
];

fn podsizer(endpoint: &str, cache: &Path) -> Command {
    let mut cmd = Command::cargo_bin("podsizer").unwrap();
    for var in AWS_UNSET {
        cmd.env_remove(var);
    }
    cmd.envs(AWS_ENV).env("PODSIZER_S3_ENDPOINT", endpoint).env("PODSIZER_CACHE_DIR", cache);
    cmd
}

/// The library reads credentials from the environment too: the same fake ones.
fn set_test_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for var in AWS_UNSET {
            std::env::remove_var(var);
        }
        for (k, v) in AWS_ENV {
            std::env::set_var(k, v);
        }
    });
}

fn options(moto: &Moto, cache: &Path) -> S3Options {
    set_test_env();
    S3Options { endpoint: Some(moto.url.clone()), cache_dir: Some(cache.to_path_buf()), ..S3Options::default() }
}

/// A new, empty bucket (moto accepts an unsigned create).
fn bucket(moto: &Moto) -> String {
    let name = unique("podsizer-s3").to_lowercase();
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(63).collect();
    let name = name.trim_end_matches('-').to_string();
    ureq::put(&format!("{}/{name}", moto.url)).send_empty().expect("create bucket");
    name
}

fn s3(moto: &Moto, url: &str, cache: &Path) -> S3 {
    S3::connect(&S3Location::parse(url).unwrap(), &options(moto, cache)).unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Synthetic samples (CSV) from the binary itself.
fn synth(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    Command::cargo_bin("podsizer").unwrap().arg("synth").args(args).arg("--out").arg(&path).assert().success();
    path
}

fn recommend_json(cmd: &mut Command, input: &str) -> String {
    let out = cmd.args(["recommend", "-i", input, "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "recommend -i {input}: {}", String::from_utf8_lossy(&out.stderr));
    stdout(&out).replace(input, "INPUT")
}

#[test]
fn round_trip_matches_a_local_store_and_fetches_nothing_twice() {
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let samples = synth(dir.path(), "demo.parquet", &["--days", "7", "--step", "5m"]);
    let url = format!("s3://{}/fleet/prod", bucket(&moto));
    let local = dir.path().join("local");
    let writer_cache = dir.path().join("writer-cache");

    podsizer(&moto.url, &writer_cache).arg("import").arg(&samples).arg("--store").arg(&local).assert().success();
    let first =
        podsizer(&moto.url, &writer_cache).arg("import").arg(&samples).args(["--store", &url]).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(stdout(&first).contains("0 already stored, 7 day partition(s)"), "{}", stdout(&first));

    // The bucket holds the local layout: manifest, one part per day.
    let objects = s3(&moto, &url, &writer_cache).list("").unwrap();
    let names: Vec<&str> = objects.iter().map(|o| o.rel.as_str()).collect();
    assert!(names.contains(&"podsizer-store.json"), "{names:?}");
    let parts: Vec<&&str> = names.iter().filter(|n| n.starts_with("day=") && n.ends_with(".parquet")).collect();
    assert_eq!(parts.len(), 7, "{names:?}");
    assert!(parts.iter().all(|p| p.contains("/part-")), "{parts:?}");

    // Re-importing from a machine with an empty mirror adds nothing: de-duplication sees the bucket.
    let other_cache = dir.path().join("other-cache");
    let again = podsizer(&moto.url, &other_cache).arg("import").arg(&samples).args(["--store", &url]).output().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(stdout(&again).contains(" 0 added, "), "{}", stdout(&again));
    assert_eq!(s3(&moto, &url, &writer_cache).list("").unwrap().len(), objects.len());

    // recommend from S3 (fresh mirror) equals recommend from the local store, every format.
    let reader_cache = dir.path().join("reader-cache");
    let from_local = recommend_json(&mut podsizer(&moto.url, &reader_cache), local.to_str().unwrap());
    let from_s3 = recommend_json(&mut podsizer(&moto.url, &reader_cache), &url);
    assert_eq!(from_local, from_s3);
    assert!(from_s3.contains("php-fpm"));

    // A second run fetches nothing (parts are immutable and cached), and still agrees.
    let out = podsizer(&moto.url, &reader_cache)
        .env("PODSIZER_STATS", "1")
        .args(["recommend", "-i", &url, "-o", "json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0 object(s) fetched (0.0 MiB)"), "{err}");
    assert_eq!(stdout(&out).replace(&url, "INPUT"), from_s3);

    // A window reads only the partitions it overlaps.
    let narrow_cache = dir.path().join("narrow-cache");
    let out = podsizer(&moto.url, &narrow_cache)
        .env("PODSIZER_STATS", "1")
        .args(["recommend", "-i", &url, "--window", "2d", "--force", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 day(s); 3 object(s) fetched"), "{err}");
    let local_narrow = podsizer(&moto.url, &narrow_cache)
        .args(["recommend", "-i", local.to_str().unwrap(), "--window", "2d", "--force", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).replace(&url, "X"), stdout(&local_narrow).replace(local.to_str().unwrap(), "X"));
}

/// Rewrites the namespace column of a sample CSV: the same fleet as seen by another cluster.
fn renamespace(from: &Path, to: &Path, prefix: &str) {
    let text = std::fs::read_to_string(from).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let mut fields: Vec<String> = line.split(',').map(String::from).collect();
        if i > 0 {
            fields[1] = format!("{prefix}{}", fields[1]);
        }
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    std::fs::write(to, out).unwrap();
}

/// Splits a sample CSV into one file per day, so one import makes several appends.
fn per_day(from: &Path, dir: &Path, tag: &str) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(from).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let mut days: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let day = line[..10].to_string();
        let body = days.entry(day).or_insert_with(|| format!("{header}\n"));
        body.push_str(line);
        body.push('\n');
    }
    days.into_iter()
        .map(|(day, body)| {
            let path = dir.join(format!("{tag}-{day}.csv"));
            std::fs::write(&path, body).unwrap();
            path
        })
        .collect()
}

#[test]
fn two_concurrent_writers_never_overwrite_each_other() {
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let fleet =
        synth(dir.path(), "fleet.csv", &["--scenario", "fleet", "--containers", "30", "--days", "4", "--step", "10m"]);
    let cluster_b = dir.path().join("fleet-b.csv");
    renamespace(&fleet, &cluster_b, "b-");
    // Two collectors' worth of appends: A and B write the same four days at the same time.
    let a_files = per_day(&fleet, dir.path(), "a");
    let b_files = per_day(&cluster_b, dir.path(), "b");
    assert_eq!((a_files.len(), b_files.len()), (4, 4));
    let url = format!("s3://{}/shared", bucket(&moto));

    let spawn = |files: &[PathBuf], cache: &str| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("podsizer"));
        for var in AWS_UNSET {
            cmd.env_remove(var);
        }
        cmd.envs(AWS_ENV)
            .env("PODSIZER_S3_ENDPOINT", &moto.url)
            .env("PODSIZER_CACHE_DIR", dir.path().join(cache))
            .arg("import")
            .args(files)
            .args(["--store", &url])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(&a_files, "cache-a"), spawn(&b_files, "cache-b"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "writer A: {}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "writer B: {}", String::from_utf8_lossy(&b.stderr));
    let added = |out: &std::process::Output| -> u64 {
        stdout(out)
            .lines()
            .map(|l| l.split(" rows read, ").nth(1).unwrap().split(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    let rows = std::fs::read_to_string(&fleet).unwrap().lines().count() as u64 - 1;
    assert_eq!((added(&a), added(&b)), (rows, rows), "A: {}\nB: {}", stdout(&a), stdout(&b));

    // Every part either writer made is in the bucket, byte for byte the writer's own.
    let listed: BTreeMap<String, u64> = s3(&moto, &url, &dir.path().join("cache-a"))
        .list("day=")
        .unwrap()
        .into_iter()
        .map(|o| (o.rel, o.size))
        .collect();
    let mut written = BTreeSet::new();
    for cache in ["cache-a", "cache-b"] {
        let mirror = options(&moto, &dir.path().join(cache)).mirror_dir(&S3Location::parse(&url).unwrap());
        let store = Store::open(&mirror).unwrap();
        for (_, day) in store.partitions().unwrap() {
            for part in Store::parts(&day).unwrap() {
                let rel = part.strip_prefix(&mirror).unwrap().to_str().unwrap().to_string();
                let size = std::fs::metadata(&part).unwrap().len();
                if let Some(remote) = listed.get(&rel) {
                    assert_eq!(*remote, size, "{rel} differs between the bucket and {cache}");
                }
                written.insert(rel);
            }
        }
    }
    assert_eq!(listed.keys().cloned().collect::<BTreeSet<_>>(), written, "every part uploaded, none lost");
    assert!(listed.len() >= 8, "{listed:?}");

    // A reader elsewhere sees the union, the same as a local store with both imports.
    let reader =
        RemoteStore::open(&S3Location::parse(&url).unwrap(), &options(&moto, &dir.path().join("reader"))).unwrap();
    let transfer = reader.pull(DaysWanted::Range { since: None, until: None }).unwrap();
    assert_eq!(transfer.downloaded as usize, listed.len());
    let mut namespaces = BTreeSet::new();
    let stats = reader.local().scan(None, None, |r| {
        namespaces.insert(r.namespace.starts_with("b-"));
    });
    assert_eq!(stats.unwrap().rows, 2 * rows);
    assert_eq!(namespaces.len(), 2);
    let local = dir.path().join("local");
    podsizer(&moto.url, dir.path())
        .arg("import")
        .args([&fleet, &cluster_b])
        .arg("--store")
        .arg(&local)
        .assert()
        .success();
    let from_local = recommend_json(&mut podsizer(&moto.url, &dir.path().join("r2")), local.to_str().unwrap());
    let from_s3 = recommend_json(&mut podsizer(&moto.url, &dir.path().join("r2")), &url);
    assert_eq!(from_local, from_s3);
}

#[test]
fn conditional_put_refuses_to_overwrite() {
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{}/p", bucket(&moto));
    let client = s3(&moto, &url, dir.path());
    let rel = "day=2026-11-20/part-1.parquet";
    assert!(matches!(client.put_new(rel, b"first".to_vec()).unwrap(), Put::Created { .. }));
    assert_eq!(client.put_new(rel, b"second, longer".to_vec()).unwrap(), Put::AlreadyExists);
    assert_eq!(client.get(rel).unwrap().unwrap(), b"first");
    assert_eq!(client.get("day=2026-11-20/missing").unwrap(), None);
}

#[test]
fn side_files_of_other_writers_reach_readers() {
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let location = S3Location::parse(&format!("s3://{}/side", bucket(&moto))).unwrap();
    let writer = RemoteStore::open_or_create(&location, &options(&moto, &dir.path().join("w"))).unwrap();
    let state = r#"{"version":1,"containers":[{"namespace":"shop","workload_kind":"Deployment","workload":"api",
        "container":"php-fpm","resources":{"cpu_request_cores":1.0,"cpu_limit_cores":2.0,"memory_request_bytes":1e9,
        "memory_limit_bytes":2e9},"restarts":0,"seen_ms":5}],"oom_kills":[]}"#;
    std::fs::create_dir_all(writer.local().root().join("collector")).unwrap();
    std::fs::write(writer.local().root().join("collector/state.json"), state).unwrap();
    assert_eq!(writer.push_side_files().unwrap().uploaded, 1);
    assert_eq!(writer.push_side_files().unwrap().uploaded, 0, "unchanged: not sent again");

    let reader = RemoteStore::open(&location, &options(&moto, &dir.path().join("r"))).unwrap();
    reader.pull(DaysWanted::Range { since: None, until: None }).unwrap();
    let facts = podsizer::store::facts::Facts::load(reader.local().root());
    assert_eq!(facts.current.len(), 1, "{:?}", facts.current);
    assert_eq!(facts.current.values().next().unwrap().cpu_request_cores, Some(1.0));
}

fn failure(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "stdout: {}", stdout(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn clear_errors_for_missing_bucket_missing_store_and_bad_endpoint() {
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");

    let missing = unique("absent").to_lowercase().replace('_', "-");
    let err = failure(podsizer(&moto.url, &cache).args(["recommend", "-i", &format!("s3://{missing}/p")]));
    assert!(err.contains(&format!("s3://{missing}: no such bucket")), "{err}");

    let empty = bucket(&moto);
    let err = failure(podsizer(&moto.url, &cache).args(["recommend", "-i", &format!("s3://{empty}/nothing")]));
    assert!(err.contains(&format!("s3://{empty}/nothing: no podsizer store here")), "{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = format!("http://127.0.0.1:{port}");
    let err = failure(podsizer(&moto.url, &cache).args([
        "recommend",
        "-i",
        &format!("s3://{empty}/p"),
        "--s3-endpoint",
        &dead,
    ]));
    assert!(err.contains(&format!("cannot reach S3 at {dead}")), "{err}");

    let err = failure(podsizer(&moto.url, &cache).args(["recommend", "-i", "s3://x/p"]));
    assert!(err.contains("not a valid S3 store URL"), "{err}");
    let err = failure(podsizer(&moto.url, &cache).args([
        "recommend",
        "-i",
        &format!("s3://{empty}/p"),
        "--s3-endpoint",
        "127.0.0.1:9",
    ]));
    assert!(err.contains("must start with http:// or https://"), "{err}");
}

/// A moto of our own with authentication on: the shared one accepts any key, and switching
/// its authentication on would disturb the other tests.
fn authenticating_moto() -> (std::process::Child, String) {
    let server = std::env::var("PODSIZER_MOTO_SERVER").map_or_else(
        |_| {
            let on_path = std::env::var_os("PATH")
                .and_then(|p| std::env::split_paths(&p).map(|d| d.join("moto_server")).find(|p| p.is_file()));
            on_path.unwrap_or_else(|| {
                let tools = std::env::var("PODSIZER_TOOLS").map_or_else(
                    |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/podsizer-tools"),
                    PathBuf::from,
                );
                tools.join("moto-venv/bin/moto_server")
            })
        },
        PathBuf::from,
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        // The first request (creating the bucket) goes through; every later one is checked.
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {}: {e}; install it with `bash .ci/install-moto.sh`", server.display())
        });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

#[test]
fn access_denied_names_the_action_and_the_permissions() {
    let (mut child, url) = authenticating_moto();
    let dir = tempfile::tempdir().unwrap();
    ureq::put(&format!("{url}/denied-bucket")).send_empty().expect("create bucket");
    let samples = synth(dir.path(), "demo.csv", &["--days", "1", "--step", "1h"]);
    let err = failure(
        podsizer(&url, &dir.path().join("cache")).arg("import").arg(&samples).args(["--store", "s3://denied-bucket/p"]),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(err.contains("s3://denied-bucket/p/podsizer-store.json: access denied for s3:GetObject"), "{err}");
    assert!(err.contains("s3:ListBucket"), "{err}");
}

#[test]
fn collector_uploads_parts_and_its_state_after_each_flush() {
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let api = fake_api::FakeApi::start(fake_api::fleet().0);
    let kubeconfig = api.kubeconfig(dir.path(), "fake");
    let url = format!("s3://{}/cluster-a", bucket(&moto));
    let cache = dir.path().join("cache");
    let out = podsizer(&moto.url, &cache)
        .env_remove("KUBECONFIG")
        .args(["collect", "metrics-server", "--store", &url, "--context", "fake", "--interval", "1s"])
        .args(["--rounds", "2", "--flush-every", "1", "--kubeconfig"])
        .arg(&kubeconfig)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(stdout(&out).contains(&format!("written to {url}")), "{}", stdout(&out));
    let objects = s3(&moto, &url, &cache).list("").unwrap();
    let names: Vec<&str> = objects.iter().map(|o| o.rel.as_str()).collect();
    assert!(names.iter().any(|n| n.starts_with("day=") && n.contains("/part-")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("writers/") && n.ends_with("/collector/state.json")), "{names:?}");
    // What the collector stored is what a reader elsewhere gets.
    let reader = RemoteStore::open(&S3Location::parse(&url).unwrap(), &options(&moto, &dir.path().join("r"))).unwrap();
    reader.pull(DaysWanted::Range { since: None, until: None }).unwrap();
    let mirror = options(&moto, &cache).mirror_dir(&S3Location::parse(&url).unwrap());
    let count = |store: &Store| store.scan(None, None, |_| {}).unwrap().rows;
    assert_eq!(count(reader.local()), count(&Store::open(&mirror).unwrap()));
    assert!(count(reader.local()) > 0);
    let facts = podsizer::store::facts::Facts::load(reader.local().root());
    assert!(!facts.current.is_empty(), "the collector's settings reach the reader");
}
