//! Changes that must be delivered and figures that must stay in range, end to end: a
//! runtime-only fix is a change for `recommend --fail-on-change`, `pr` (real git, a bare
//! remote), the report and its notification (a loopback webhook); caps hold after php-fpm
//! raises a limit; HPAs without metrics, with `ContainerResource`, `External` or out-of-range
//! targets are patched or warned about (rendered with the real `kubectl kustomize`); absurd
//! side files and flags exit 2 naming what is wrong.

use crate::support::{kubectl, podsizer};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

const MI: f64 = 1024.0 * 1024.0;
const TI: f64 = 1024.0 * 1024.0 * 1024.0 * 1024.0;

/// Three days of steady 5-minute samples of one php-fpm container of `web`, imported into a
/// store whose side file says each php-fpm child reaches `per_child` bytes.
fn store(dir: &Path, per_child: f64) -> PathBuf {
    let mut csv = String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
    let start = chrono::DateTime::parse_from_rfc3339("2025-11-16T00:00:00Z").unwrap().timestamp();
    for step in 0..(3 * 288) {
        let t = chrono::DateTime::from_timestamp(start + step * 300, 0).unwrap().to_rfc3339();
        csv.push_str(&format!("{t},shop,Deployment,web,web-1,php-fpm,0.2,{}\n", 500.0 * MI));
    }
    std::fs::write(dir.join("samples.csv"), csv).unwrap();
    let store = dir.join("store");
    podsizer().arg("import").arg(dir.join("samples.csv")).arg("--store").arg(&store).assert().success();
    side_file(&store, serde_json::json!(per_child));
    store
}

fn side_file(store: &Path, per_child: Value) {
    let facts = serde_json::json!({"php_fpm": [{"namespace": "shop", "workload_kind": "Deployment", "workload": "web",
        "container": "php-fpm", "per_child_peak_bytes": per_child, "max_active": 7.0}]});
    std::fs::create_dir_all(store.join("imports")).unwrap();
    std::fs::write(store.join("imports/phpfpm-test.json"), facts.to_string()).unwrap();
}

/// (cpu request, cpu limit, memory request, memory limit) as quantities.
type Quantities = [String; 4];

/// What podsizer proposes for the container, as quantities an overlay can hold.
fn proposal(store: &Path) -> (Quantities, f64) {
    let out = podsizer().args(["recommend", "-o", "json", "--force", "--input"]).arg(store).assert().success();
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let r = &doc["recommendations"][0];
    let cores = |v: &Value| format!("{}m", (v.as_f64().unwrap() * 1000.0).round());
    let bytes = |v: &Value| format!("{}", v.as_f64().unwrap().round());
    let q = [
        cores(&r["cpu"]["request_cores"]),
        cores(&r["cpu"]["limit_cores"]),
        bytes(&r["memory"]["request_bytes"]),
        bytes(&r["memory"]["limit_bytes"]),
    ];
    (q, r["cpu"]["request_cores"].as_f64().unwrap())
}

/// An overlay of `web` (one php-fpm container with `resources`, its pool in a ConfigMap)
/// and, when given, an HPA manifest.
fn overlay(dir: &Path, resources: &Quantities, max_children: u32, hpa: Option<&str>) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let [cr, cl, mr, ml] = resources;
    let extra = if hpa.is_some() { "  - hpa.yaml\n" } else { "" };
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\nresources:\n  - deployment.yaml\n  - pool.yaml\n{extra}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("deployment.yaml"),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n        - name: php-fpm\n          image: php:8.3-fpm-alpine\n          resources:\n            requests: {{cpu: \"{cr}\", memory: \"{mr}\"}}\n            limits: {{cpu: \"{cl}\", memory: \"{ml}\"}}\n          volumeMounts:\n            - name: pool\n              mountPath: /usr/local/etc/php-fpm.d\n      volumes:\n        - name: pool\n          configMap: {{name: web-php-fpm}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("pool.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-php-fpm\ndata:\n  www.conf: |\n    [www]\n    pm = static\n    pm.max_children = {max_children}\n"),
    )
    .unwrap();
    if let Some(hpa) = hpa {
        std::fs::write(dir.join("hpa.yaml"), hpa).unwrap();
    }
    dir.to_path_buf()
}

fn render(dir: &Path) -> Vec<serde_norway::Value> {
    use serde::Deserialize;
    let out = std::process::Command::new(kubectl()).arg("kustomize").arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_norway::Deserializer::from_slice(&out.stdout).map(|d| serde_norway::Value::deserialize(d).unwrap()).collect()
}

fn of_kind<'a>(docs: &'a [serde_norway::Value], kind: &str) -> &'a serde_norway::Value {
    docs.iter().find(|d| d["kind"] == kind).unwrap()
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Ops", "-c", "user.email=ops@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A one-request webhook on loopback; the join handle yields the body it received.
fn webhook() -> (String, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/hooks/abc", listener.local_addr().unwrap().port());
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim_end().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        String::from_utf8(body).unwrap()
    });
    (url, handle)
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn a_runtime_only_fix_is_a_change_for_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path(), 100.0 * MI);
    let (resources, _) = proposal(&store);
    // The resources already are what podsizer proposes; only pm.max_children 200 is unsafe.
    let repo = tmp.path().join("work");
    let dir = overlay(&repo.join("overlays/production"), &resources, 200, None);

    let out = podsizer()
        .args(["recommend", "-o", "json", "--force", "--dry-run", "--fail-on-change", "--input"])
        .arg(&store)
        .arg("--kustomize")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "--fail-on-change: {}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &doc["recommendations"][0];
    assert_eq!(r["cpu"]["request_cores"], r["current"]["cpu"]["request_cores"], "resources unchanged");
    assert_eq!(r["memory"]["limit_bytes"], r["current"]["memory"]["limit_bytes"], "resources unchanged");
    let change = &r["runtime"]["changes"][0];
    assert_eq!((change["setting"].as_str(), change["current"].as_str()), (Some("pm.max_children"), Some("200")));
    let to = change["proposed"].as_str().unwrap().to_string();
    assert!(to.parse::<u32>().unwrap() < 200);
    let moved = format!("php-fpm pm.max_children 200 -> {to}");

    // pr: a real clone of a bare remote; the dry run shows the commit it would push.
    let remote = tmp.path().join("remote.git");
    git(tmp.path(), &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["remote", "add", "origin", remote.to_str().unwrap()]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "web"]);
    git(&repo, &["push", "-q", "origin", "main"]);
    let out = podsizer()
        .args(["pr", "--dry-run", "--force", "--overlay", "overlays/production", "--input"])
        .arg(&store)
        .arg("--repo")
        .arg(&repo)
        .output()
        .unwrap();
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(!shown.contains("nothing changed"), "{shown}");
    assert!(shown.contains(&format!("+    pm.max_children = {to}")), "the pool patch is committed: {shown}");
    let listed = format!("shop/Deployment/web/php-fpm: php-fpm pm.max\\_children 200 -> {to}");
    assert!(shown.contains(&listed), "the body lists it: {shown}");

    // report: counted, listed, and in the notification.
    let (url, received) = webhook();
    let out = podsizer()
        .args(["report", "--force", "--notify-format", "slack", "--input"])
        .arg(&store)
        .arg("--kustomize")
        .arg(&dir)
        .arg("--out")
        .arg(tmp.path().join("report"))
        .env("PODSIZER_NOTIFY_WEBHOOK", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let md = std::fs::read_to_string(tmp.path().join("report/index.md")).unwrap();
    assert!(md.contains("1 of 1 container would change"), "{md}");
    assert!(md.contains(&format!("php-fpm pm.max\\_children 200 → **{to}**")), "{md}");
    let chat: Value = serde_json::from_str(&received.join().unwrap()).unwrap();
    assert!(chat["text"].as_str().unwrap().contains("1 container(s) to change"), "{chat}");
    // Slack's mrkdwn escapes `>`.
    assert!(chat.to_string().contains(&moved.replace('>', "&gt;")), "{chat}");

    // Written and rendered by the real kubectl: the pool is what the change says.
    podsizer().args(["recommend", "--force", "--input"]).arg(&store).arg("--kustomize").arg(&dir).assert().success();
    let docs = render(&dir);
    let conf = of_kind(&docs, "ConfigMap")["data"]["www.conf"].as_str().unwrap().to_string();
    assert!(conf.contains(&format!("pm.max_children = {to}\n")), "{conf}");
}

#[test]
fn caps_hold_after_php_fpm_raises_the_limit_and_absurd_exporter_figures_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    // Within bounds per child, but 200 children need 12.5Pi: the refusal must stop at 64Ti.
    let store = store(tmp.path(), 64.0 * TI);
    let (resources, _) = proposal(&store);
    let dir = overlay(&tmp.path().join("overlay"), &resources, 200, None);
    let out = podsizer()
        .args(["recommend", "-o", "json", "--force", "--input"])
        .arg(&store)
        .arg("--kustomize")
        .arg(&dir)
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let r = &doc["recommendations"][0];
    assert_eq!(r["memory"]["limit_bytes"].as_f64(), Some(64.0 * TI), "{r}");
    let why = r["rationale"].to_string();
    assert!(why.contains("php-fpm: refused memory limit") && why.contains("memory limit capped at 64Ti"), "{why}");
    let docs = render(&dir);
    let limit =
        &of_kind(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"];
    assert_eq!(crate::support::quantity(limit), 64.0 * TI, "{limit:?}");

    // A side file holding figures no exporter can report: exit 2 naming file and field.
    for (value, why) in [
        (serde_json::json!(1e300), "more than one container can use"),
        (serde_json::json!(-1.0), "negative"),
        (serde_json::json!(65.0 * TI), "more than one container can use"),
    ] {
        side_file(&store, value.clone());
        let out = podsizer()
            .args(["recommend", "--force", "--input"])
            .arg(&store)
            .arg("--kustomize")
            .arg(&dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {err}");
        assert!(err.contains("phpfpm-test.json") && err.contains("php_fpm[0].per_child_peak_bytes"), "{err}");
        assert!(err.contains(why), "{value}: {err}");
    }
}

/// (case, HPA manifest, path to the target in the rendered HPA's spec, expected target, warning)
type HpaCase = (&'static str, String, &'static [&'static str], Option<f64>, Option<&'static str>);

/// The HPA variants of issue #30 on a workload whose CPU request drops from 1 core.
#[test]
fn hpas_are_patched_within_the_api_or_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path(), 10.0 * MI);
    let (mut resources, new_cpu) = proposal(&store);
    resources[0] = "1".into();
    resources[1] = "2".into();
    let head = |api: &str| {
        format!("apiVersion: {api}\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}\n  maxReplicas: 10\n")
    };
    let v2 = head("autoscaling/v2");
    let utilization = |n: &str| {
        format!("{v2}  metrics:\n    - type: Resource\n      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: {n}}}}}\n")
    };
    let moved = |target: f64| (target / new_cpu).round();
    let cases: Vec<HpaCase> = vec![
        ("no metrics", v2.clone(), &["metrics", "0", "resource", "target", "averageUtilization"], Some(moved(80.0)), None),
        (
            "autoscaling/v1",
            format!("{}  targetCPUUtilizationPercentage: 50\n", head("autoscaling/v1")),
            &["targetCPUUtilizationPercentage"],
            Some(moved(50.0)),
            None,
        ),
        (
            "ContainerResource",
            format!("{v2}  metrics:\n    - type: ContainerResource\n      containerResource: {{name: cpu, container: php-fpm, target: {{type: Utilization, averageUtilization: 60}}}}\n"),
            &["metrics", "0", "containerResource", "target", "averageUtilization"],
            Some(moved(60.0)),
            None,
        ),
        (
            "External",
            format!("{v2}  metrics:\n    - type: External\n      external: {{metric: {{name: queue_depth}}, target: {{type: Value, value: \"5\"}}}}\n"),
            &["metrics", "0", "external", "target", "value"],
            None,
            Some("HPA `web` also scales on External metric `queue_depth`"),
        ),
        (
            "above int32",
            utilization("2000000000"),
            &["metrics", "0", "resource", "target", "averageUtilization"],
            Some(f64::from(i32::MAX)),
            Some("outside the API's 1 to 2147483647"),
        ),
        (
            "zero",
            utilization("0"),
            &["metrics", "0", "resource", "target", "averageUtilization"],
            Some(0.0),
            Some("not an integer from 1 to 2147483647"),
        ),
    ];
    for (case, hpa, path, expected, warning) in cases {
        let dir = overlay(&tmp.path().join(case.replace([' ', '/'], "-")), &resources, 4, Some(&hpa));
        let out = podsizer()
            .args(["recommend", "--force", "--input"])
            .arg(&store)
            .arg("--kustomize")
            .arg(&dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{case}: {err}");
        let docs = render(&dir);
        let rendered = of_kind(&docs, "HorizontalPodAutoscaler");
        let value = path.iter().fold(rendered["spec"].clone(), |v, k| match k.parse::<usize>() {
            Ok(i) => v[i].clone(),
            Err(_) => v[*k].clone(),
        });
        match expected {
            Some(n) => assert_eq!(value.as_f64(), Some(n), "{case}: {rendered:?}"),
            None => assert_eq!(value.as_str(), Some("5"), "{case}: external target untouched"),
        }
        if let Some(n) = value.as_f64() {
            assert!((0.0..=f64::from(i32::MAX)).contains(&n), "{case}: {n}");
        }
        match warning {
            Some(w) => assert!(err.contains(w) && err.contains("warning: HPA `web`"), "{case}: {err}"),
            None => assert!(!err.contains("warning: HPA"), "{case}: {err}"),
        }
    }
}

#[test]
fn absurd_previous_reports_and_node_shapes_exit_2_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path(), 10.0 * MI);
    let out_dir = tmp.path().join("report");
    podsizer().args(["report", "--force", "--input"]).arg(&store).arg("--out").arg(&out_dir).assert().success();
    let good: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap()).unwrap();
    for (pointer, value, field) in [
        ("/recommendations/0/cpu/request_cores", serde_json::json!(-1.0), "recommendations[0].cpu.request_cores"),
        ("/recommendations/0/memory/limit_bytes", serde_json::json!(1e300), "recommendations[0].memory.limit_bytes"),
        ("/totals/monthly_cost/proposed", serde_json::json!(-5.0), "totals.monthly_cost.proposed"),
    ] {
        let mut doc = good.clone();
        *doc.pointer_mut(pointer).unwrap() = value;
        let previous = tmp.path().join("previous.json");
        std::fs::write(&previous, doc.to_string()).unwrap();
        let out = podsizer()
            .args(["report", "--force", "--input"])
            .arg(&store)
            .arg("--out")
            .arg(tmp.path().join("next"))
            .arg("--previous")
            .arg(&previous)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{field}: {err}");
        assert!(err.contains("previous.json") && err.contains(field), "{err}");
    }
    for (shape, why) in [
        ("1e300c16g", "at most 1024"),
        ("-4c16g", "> 0"),
        ("nanc16g", "> 0"),
        ("0c16g", "> 0"),
        ("4c1e12g", "64Ti"),
        ("cpu=4,memory=16Gi,price=1e300", "price"),
    ] {
        let out = podsizer()
            .args(["report", "--force", "--input"])
            .arg(&store)
            .arg("--out")
            .arg(tmp.path().join("nodes"))
            .arg(format!("--node={shape}"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{shape}: {err}");
        assert!(err.contains(shape) && err.contains(why), "{shape}: {err}");
    }
}

#[test]
fn names_with_control_characters_make_no_markdown_of_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
    let start = chrono::DateTime::parse_from_rfc3339("2025-11-16T00:00:00Z").unwrap().timestamp();
    for step in 0..(2 * 288) {
        let t = chrono::DateTime::from_timestamp(start + step * 300, 0).unwrap().to_rfc3339();
        csv.push_str(&format!(
            "{t},\"shop\n## Approved\",Deployment,\"api\u{1b}[2J\",api-1,\"php\r\n- [x] ok\",0.2,1e8\n"
        ));
    }
    let samples = tmp.path().join("samples.csv");
    std::fs::write(&samples, csv).unwrap();
    let out_dir = tmp.path().join("report");
    let out =
        podsizer().args(["report", "--force", "--input"]).arg(&samples).arg("--out").arg(&out_dir).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let md = std::fs::read_to_string(out_dir.join("index.md")).unwrap();
    for line in md.lines() {
        assert!(!line.starts_with("## Approved") && !line.starts_with("- [x]"), "a name made a line: {line:?}");
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }
    let html = std::fs::read_to_string(out_dir.join("index.html")).unwrap();
    assert!(!html.contains('\u{1b}') && !html.contains("shop\n"), "control characters in the HTML");
    // Shown, escaped for the eye (`\u{a}`) and for Markdown (its backslash doubled).
    assert!(md.contains("shop\\\\u{a}## Approved"), "shown escaped: {md}");
}
