//! `--notify-webhook`: the summary a report posts to Slack or Teams, checked against a
//! loopback stand-in for the webhook; the webhook URL (a credential) never shows in output.

use crate::support::demo;
use assert_cmd::Command;
use demo::{fixtures, gitops_copy};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const SECRET: &str = "T0000SECRET/B0000SECRET/xoxSECRETtoken";

/// What the stand-in received: (method, path, content type, body).
type Received = Arc<Mutex<Vec<(String, String, String, String)>>>;

/// A webhook stand-in answering every POST with `status` and `answer`; the answer of a
/// failing webhook echoes the path, as some proxies do, to prove it is redacted.
fn webhook(status: u16, answer: &'static str) -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/services/{SECRET}", listener.local_addr().unwrap().port());
    let received: Received = Arc::default();
    let log = received.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
            let (mut length, mut content_type) = (0, String::new());
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap(),
                    "content-type" => content_type = value.trim().to_string(),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            log.lock().unwrap().push((method, path.clone(), content_type, String::from_utf8(body).unwrap()));
            let text = answer.replace("{path}", &path);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, received)
}

/// `podsizer report` on the demo week with its overlay, the webhook URL in the environment.
fn report(url: &str, extra: &[&str]) -> (std::process::Output, Value, tempfile::TempDir) {
    let (dir, overlay) = gitops_copy();
    let out = dir.path().join("report");
    let output = Command::cargo_bin("podsizer")
        .unwrap()
        .args(["report", "--input"])
        .arg(fixtures().join("demo/samples.parquet"))
        .arg("--kustomize")
        .arg(&overlay)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .env("PODSIZER_NOTIFY_WEBHOOK", url)
        .output()
        .unwrap();
    let doc =
        std::fs::read_to_string(out.join("report.json")).map_or(Value::Null, |t| serde_json::from_str(&t).unwrap());
    (output, doc, dir)
}

fn all_output(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn flag_count(doc: &Value) -> usize {
    doc["containers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["risk"]["flags"].as_array().unwrap())
        .filter(|f| f["code"] != "current_unknown")
        .count()
}

#[test]
fn slack_gets_savings_changes_risks_and_the_link() {
    let (url, received) = webhook(200, "ok");
    let link = "https://reports.example.com/2026-W47/";
    let (output, doc, _dir) = report(&url, &["--notify-format", "slack", "--notify-link", link]);
    assert!(output.status.success(), "{}", all_output(&output));
    assert!(!all_output(&output).contains("SECRET"), "{}", all_output(&output));

    let calls = received.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "one post");
    let (method, path, content_type, body) = &calls[0];
    assert_eq!((method.as_str(), content_type.as_str()), ("POST", "application/json"));
    assert_eq!(path, &format!("/services/{SECRET}"));
    let p: Value = serde_json::from_str(body).unwrap();

    let now = doc["totals"]["monthly_cost"]["current"].as_f64().unwrap();
    let proposed = doc["totals"]["monthly_cost"]["proposed"].as_f64().unwrap();
    assert!(now > proposed, "the demo saves money");
    let week = doc["week"].as_str().unwrap();
    assert_eq!(p["blocks"][0]["text"]["text"], format!("podsizer weekly report {week}"));
    let fields: Vec<&str> =
        p["blocks"][1]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
    assert_eq!(fields[0], format!("*Requests cost*\n${now:.0} → ${proposed:.0} per month"));
    assert_eq!(fields[1], format!("*Change*\nsaves ${:.0}/month", now - proposed));
    // The demo's three containers all move well beyond the bot's thresholds.
    assert_eq!(fields[2], "*Containers to change*\n3");
    assert_eq!(fields[3], format!("*Risk flags*\n{}", flag_count(&doc)));
    let changes = p["blocks"][2]["text"]["text"].as_str().unwrap();
    assert!(changes.starts_with("*Changes*\n• shop/Deployment/api/"), "{changes}");
    assert_eq!(changes.matches('•').count(), 3);
    let last = p["blocks"].as_array().unwrap().last().unwrap();
    assert_eq!(last["elements"][0]["url"], link);
    assert!(p["text"].as_str().unwrap().contains("3 container(s) to change"));
}

#[test]
fn teams_gets_an_adaptive_card_with_the_same_figures() {
    let (url, received) = webhook(202, "");
    let (output, doc, _dir) = report(&url, &["--notify-format", "teams"]);
    assert!(output.status.success(), "{}", all_output(&output));
    let calls = received.lock().unwrap().clone();
    let p: Value = serde_json::from_str(&calls[0].3).unwrap();
    assert_eq!(p["type"], "message");
    let attachment = &p["attachments"][0];
    assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = &attachment["content"];
    assert_eq!((card["type"].as_str(), card["version"].as_str()), (Some("AdaptiveCard"), Some("1.4")));
    let facts: Vec<(String, String)> = card["body"][1]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["title"].as_str().unwrap().to_string(), f["value"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(facts[2], ("Containers to change".to_string(), "3".to_string()));
    assert_eq!(facts[3], ("Risk flags".to_string(), flag_count(&doc).to_string()));
    assert_eq!(card["actions"].as_array().unwrap().len(), 0, "no link given, no button");
}

#[test]
fn a_failing_webhook_is_a_warning_without_the_url() {
    let (url, received) = webhook(404, "no_service at {path}");
    let (output, doc, _dir) = report(&url, &["--notify-format", "slack"]);
    let text = all_output(&output);
    assert!(output.status.success(), "the report is written: {text}");
    assert!(doc.is_object());
    assert_eq!(received.lock().unwrap().len(), 1);
    assert!(text.contains("warning: summary not sent: the notification webhook answered HTTP 404"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");

    // Nobody listening: a transport error, also without the URL.
    let dead = format!("http://127.0.0.1:9/services/{SECRET}");
    let (output, _, _dir) = report(&dead, &["--notify-format", "teams"]);
    let text = all_output(&output);
    assert!(text.contains("cannot reach the notification webhook"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
}

#[test]
fn an_unknown_host_fails_before_any_work_and_help_hides_the_value() {
    let (url, received) = webhook(200, "ok");
    let (output, doc, _dir) = report(&url, &[]);
    let text = all_output(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("--notify-format slack"), "{text}");
    assert!(doc.is_null(), "no report written");
    assert!(received.lock().unwrap().is_empty());
    assert!(!text.contains("SECRET"));

    let help = Command::cargo_bin("podsizer")
        .unwrap()
        .args(["report", "--help"])
        .env("PODSIZER_NOTIFY_WEBHOOK", &url)
        .output()
        .unwrap();
    let help = all_output(&help);
    assert!(help.contains("PODSIZER_NOTIFY_WEBHOOK"), "{help}");
    assert!(!help.contains("SECRET"), "{help}");
}
