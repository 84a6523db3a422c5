//! Remote read against a real Prometheus 2.42: rates computed by podsizer from raw samples
//! equal Prometheus's own `rate()` on data with jittered scrapes, counter resets and gaps;
//! the import stores the same rows by either path; a server that refuses remote read makes
//! the import fall back to query_range and say so. Fixtures in support/prometheus.rs.
//!
//! Without `prometheus`/`promtool` on PATH the tests print a NOTICE and pass, unless `CI` is set.

use assert_cmd::Command;
use podsizer::domain::DAY_MS;
use podsizer::sources::prometheus::rate::{instant_on_grid, rate_on_grid, LOOKBACK_MS};
use podsizer::sources::prometheus::remote_read::{MatchType, Matcher, ReadQuery};
use podsizer::sources::prometheus::{Client, ClientConfig, Window};
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::podsizer_on_loopback;
use crate::support::prometheus;
use crate::support::rows;
use prometheus::*;
use rows::stored;

const CPU: &str = "container_cpu_usage_seconds_total";
const MEMORY: &str = "container_memory_working_set_bytes";
const HOURS: i64 = 12;

struct Data {
    blocks: PathBuf,
    start_ms: i64,
    end_ms: i64,
}

/// Six containers scraped every 15, 30 or 60 s with a few seconds of jitter; every series
/// misses 7 minutes two hours in, the odd ones 40 minutes at five hours; the even counters
/// reset to near zero every 500 scrapes (a container restart).
fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("remote-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let start_ms = now.div_euclid(60_000) * 60_000 - DAY_MS;
        let end_ms = start_ms + HOURS * 3_600_000;
        let mut cpu = Vec::new();
        let mut memory = Vec::new();
        for i in 0..6i64 {
            let every = [15, 30, 60, 60, 30, 15][i as usize];
            let labels = format!(r#"namespace="rr",pod="p-{i}",container="c",job="kubelet""#);
            let mut counter = 1000.0 * i as f64;
            let mut k = 0i64;
            loop {
                let jitter = (k * 7 + i * 3) % 5 - 2;
                let t = start_ms / 1000 + k * every + jitter;
                if t * 1000 > end_ms {
                    break;
                }
                let since = t * 1000 - start_ms;
                let gap = (2 * 3_600_000..2 * 3_600_000 + 7 * 60_000).contains(&since)
                    || (i % 2 == 1 && (5 * 3_600_000..5 * 3_600_000 + 40 * 60_000).contains(&since));
                let rate = 0.2 + 0.15 * ((k as f64) / 40.0 + i as f64).sin() + 0.05 * i as f64;
                counter += rate * every as f64;
                if i % 2 == 0 && k % 500 == 499 {
                    counter = 0.37 * (k % 7) as f64;
                }
                if !gap {
                    cpu.push(format!("{CPU}{{{labels}}} {counter} {t}"));
                    let mem = 2e8 + 1e7 * i as f64 + 3e6 * ((k as f64) / 25.0).cos();
                    memory.push(format!("{MEMORY}{{{labels}}} {} {t}", mem.round()));
                }
                k += 1;
            }
        }
        let text = dir.join("rr.om");
        let mut f = BufWriter::new(std::fs::File::create(&text).unwrap());
        for line in cpu.iter().chain(&memory) {
            writeln!(f, "{line}").unwrap();
        }
        writeln!(f, "# EOF").unwrap();
        f.flush().unwrap();
        drop(f);
        let blocks = dir.join("blocks");
        backfill(&text, &blocks);
        Data { blocks, start_ms, end_ms }
    })
}

fn client(url: &str) -> Client {
    Client::new(ClientConfig {
        url: url.to_string(),
        headers: vec![],
        timeout: Duration::from_secs(60),
        retries: 0,
        backoff: Duration::from_millis(100),
    })
    .unwrap()
}

fn pod_of(labels: &BTreeMap<String, String>) -> String {
    labels["pod"].clone()
}

fn assert_close(what: &str, got: &BTreeMap<(String, i64), f64>, want: &BTreeMap<(String, i64), f64>) {
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).take(3).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} points vs Prometheus's {}; missing e.g. {missing:?}, extra e.g. {extra:?}",
        got.len(),
        want.len()
    );
    for (k, w) in want {
        let g = got[k];
        assert!((g - w).abs() <= 1e-9 * w.abs().max(1e-300), "{what} {k:?}: podsizer {g}, Prometheus {w}");
    }
}

#[test]
fn rates_from_raw_samples_equal_prometheus_rate() {
    if !tools_present("rates_from_raw_samples_equal_prometheus_rate") {
        return;
    }
    let d = data();
    let prom = Prometheus::start(&d.blocks);
    let c = client(&prom.url());
    // A grid that is not aligned to the scrapes, over the whole data and a bit beyond.
    let window = Window { start_ms: d.start_ms + 17_000, end_ms: d.end_ms + 10 * 60_000 + 17_000 };
    let step = 60_000;
    let mut compared = 0;
    for range in [45_000i64, 60_000, 120_000, 300_000] {
        let promql = format!("rate({CPU}{{namespace=\"rr\"}}[{}s])", range / 1000);
        let want: BTreeMap<(String, i64), f64> = c
            .query_range(&promql, window, step)
            .unwrap()
            .iter()
            .flat_map(|s| s.points.iter().map(move |(t, v)| ((pod_of(&s.labels), *t), *v)))
            .collect();
        let query = ReadQuery {
            start_ms: window.start_ms - range,
            end_ms: window.end_ms,
            matchers: vec![
                Matcher::new(MatchType::Equal, "__name__", CPU),
                Matcher::new(MatchType::Equal, "namespace", "rr"),
            ],
            hint_func: Some(("rate".into(), range)),
            step_ms: step,
        };
        let raw = c.remote_read(&[query]).unwrap().remove(0);
        assert_eq!(raw.len(), 6);
        let resets = raw.iter().map(|s| s.samples.windows(2).filter(|w| w[1].1 < w[0].1).count()).sum::<usize>();
        let gaps =
            raw.iter().map(|s| s.samples.windows(2).filter(|w| w[1].0 - w[0].0 > 5 * 60_000).count()).sum::<usize>();
        assert!(resets >= 3 && gaps >= 6, "the data has counter resets ({resets}) and gaps ({gaps})");
        let got: BTreeMap<(String, i64), f64> = raw
            .iter()
            .flat_map(|s| {
                rate_on_grid(&s.samples, window.start_ms, window.end_ms, step, range)
                    .into_iter()
                    .map(move |(t, v)| ((pod_of(&s.labels), t), v))
            })
            .collect();
        assert!(want.len() > 1000, "range {range}: {} points", want.len());
        assert_close(&format!("rate over {range} ms"), &got, &want);
        compared += want.len();
    }
    // The memory gauge: an instant selector with Prometheus's 5-minute lookback.
    let want: BTreeMap<(String, i64), f64> = c
        .query_range(&format!("{MEMORY}{{namespace=\"rr\"}}"), window, step)
        .unwrap()
        .iter()
        .flat_map(|s| s.points.iter().map(move |(t, v)| ((pod_of(&s.labels), *t), *v)))
        .collect();
    let query = ReadQuery {
        start_ms: window.start_ms - LOOKBACK_MS,
        end_ms: window.end_ms,
        matchers: vec![Matcher::new(MatchType::Equal, "__name__", MEMORY)],
        hint_func: None,
        step_ms: step,
    };
    let got: BTreeMap<(String, i64), f64> = c
        .remote_read(&[query])
        .unwrap()
        .remove(0)
        .iter()
        .flat_map(|s| {
            instant_on_grid(&s.samples, window.start_ms, window.end_ms, step)
                .into_iter()
                .map(move |(t, v)| ((pod_of(&s.labels), t), v))
        })
        .collect();
    assert_close("memory", &got, &want);
    println!("{compared} rate points and {} memory points equal Prometheus's", want.len());
}

fn podsizer() -> Command {
    podsizer_on_loopback()
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn import(url: &str, store: &Path, extra: &[&str]) -> Run {
    let d = data();
    let out = podsizer()
        .args(["import", "prometheus", "--url", url, "--store"])
        .arg(store)
        .args(["--since", &podsizer::domain::format_timestamp(d.start_ms)])
        .args(["--until", &podsizer::domain::format_timestamp(d.end_ms)])
        .args(["--rate-window", "2m"])
        .args(extra)
        .output()
        .unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

#[test]
fn both_read_paths_store_the_same_rows() {
    if !tools_present("both_read_paths_store_the_same_rows") {
        return;
    }
    let prom = Prometheus::start(&data().blocks);
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for api in ["query-range", "remote-read"] {
        let store = dir.path().join(api);
        let run = import(&prom.url(), &store, &["--read-api", api, "--max-points", "2000"]);
        assert!(run.ok, "{api}: {}", run.stderr);
        println!("{api}:\n{}", run.stdout);
        let path = if api == "remote-read" { "read path: remote read" } else { "read path: query_range" };
        assert!(run.stdout.contains(path), "{}", run.stdout);
        rows.push(stored(&store));
    }
    let (by_range, by_read) = (&rows[0], &rows[1]);
    assert!(by_range.len() > 6 * 600, "{} rows", by_range.len());
    assert_eq!(by_read.keys().collect::<Vec<_>>(), by_range.keys().collect::<Vec<_>>(), "the same instants");
    for (k, (cpu, mem)) in by_range {
        let (c, m) = by_read[k];
        assert!((c - cpu).abs() <= 1e-9 * cpu.abs(), "{k:?}: cpu {c} by remote read, {cpu} by query_range");
        assert_eq!(m, *mem, "{k:?}: memory");
    }
}

#[test]
fn a_server_without_remote_read_falls_back_and_says_so() {
    if !tools_present("a_server_without_remote_read_falls_back_and_says_so") {
        return;
    }
    let prom = Prometheus::start(&data().blocks);
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (404, "404 page not found", "HTTP 404: 404 page not found"),
        (405, "Method Not Allowed", "HTTP 405: Method Not Allowed"),
        (200, "<html>remote read is not enabled here</html>", "not \"application/x-streamed-protobuf"),
    ];
    for (i, (status, body, said)) in cases.iter().enumerate() {
        let proxy = Proxy::start(
            prom.port,
            ProxyConfig { read_answer: Some((*status, body.to_string())), ..Default::default() },
        );
        let store = dir.path().join(format!("fallback-{i}"));
        let run = import(&proxy.url(), &store, &[]);
        assert!(run.ok, "{}", run.stderr);
        let url = format!("{}/api/v1/read", proxy.url());
        assert!(run.stderr.contains(&url) && run.stderr.contains(said), "case {i}: {}", run.stderr);
        assert!(run.stderr.contains("reading with query_range instead"), "{}", run.stderr);
        assert!(run.stdout.contains("read path: query_range"), "{}", run.stdout);
        assert!(!stored(&store).is_empty());

        // Asked for remote read only: an error that names the URL and what the server said.
        let forced = import(&proxy.url(), &dir.path().join(format!("forced-{i}")), &["--read-api", "remote-read"]);
        assert!(!forced.ok);
        assert!(forced.stderr.contains(&url) && forced.stderr.contains(said), "case {i}: {}", forced.stderr);
    }
}

fn recommend(args: &[&str], cache: &Path) -> (String, String) {
    let out = podsizer()
        .args(["recommend", "-o", "json", "--force"])
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "{stderr}");
    (stdout, stderr)
}

#[test]
fn recommend_from_prometheus_in_one_command_with_a_cache_store() {
    if !tools_present("recommend_from_prometheus_in_one_command_with_a_cache_store") {
        return;
    }
    let d = data();
    let prom = Prometheus::start(&d.blocks);
    let proxy = Proxy::start(prom.port, ProxyConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let until = podsizer::domain::format_timestamp(d.end_ms);
    let one = ["--prometheus", &proxy.url(), "--window", "2d", "--until", &until, "--rate-window", "2m"];
    let (first, said) = recommend(&one, &cache);
    assert!(said.contains("read path: remote read") && said.contains("requests: "), "{said}");
    let doc: serde_json::Value = serde_json::from_str(&first).expect("stdout is only the JSON document");
    assert_eq!(doc["recommendations"].as_array().unwrap().len(), 6);

    // The cache store: one per URL and scope under XDG_CACHE_HOME, read like any store.
    let stores: Vec<PathBuf> =
        std::fs::read_dir(cache.join("podsizer").join("prometheus")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(stores.len(), 1, "{stores:?}");
    let (direct, _) = recommend(&["--input", stores[0].to_str().unwrap(), "--window", "2d", "--until", &until], &cache);
    assert_eq!(first, direct, "the same sizing as from the store");

    // A second run fetches nothing new, and sizes the same.
    let before = proxy.requests();
    let (second, said) = recommend(&one, &cache);
    assert!(said.contains("nothing new"), "{said}");
    assert!(proxy.requests() - before <= 1, "{} requests", proxy.requests() - before);
    assert_eq!(first, second);

    // Another scope is another cache; --store chooses the place.
    let chosen = dir.path().join("chosen");
    let mut scoped = one.to_vec();
    scoped.extend(["-n", "rr", "--store", chosen.to_str().unwrap()]);
    recommend(&scoped, &cache);
    assert!(podsizer::store::Store::is_store(&chosen));
    assert_eq!(std::fs::read_dir(cache.join("podsizer").join("prometheus")).unwrap().count(), 1);
}
