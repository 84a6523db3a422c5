use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config { cases, rng_seed: RngSeed::Fixed(30), failure_persistence: None, ..Config::default() }
}

/// A reference base64 (standard alphabet, padded), written plainly, to check the aligned pieces.
fn base64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[((n >> (18 - 6 * i)) & 0x3F) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn percent_all(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn percent_lower(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02x}") })
        .collect()
}

const URL: &str = "https://hooks.slack.com/services/T0000SECRET/B0000SECRET/xoxSECRETtoken";

/// How servers and proxies plausibly echo the URL they were sent.
fn echoes() -> Vec<(&'static str, String)> {
    let path = "/services/T0000SECRET/B0000SECRET/xoxSECRETtoken";
    vec![
        ("raw url", format!("no route for {URL}")),
        ("raw path", format!("POST {path} -> 404")),
        ("last segment", "invalid token xoxSECRETtoken".to_string()),
        ("percent-encoded path", format!("unknown {}", percent_all(path))),
        ("percent-encoded url, lower hex", percent_lower(URL)),
        ("double-encoded", percent_all(URL).replace('%', "%25")),
        ("json with \\/", serde_json::json!({"url": URL}).to_string().replace('/', "\\/")),
        ("json", serde_json::json!({"error": "bad hook", "path": path}).to_string()),
        ("html entities", path.replace('/', "&#x2F;")),
        ("base64 of the request line", base64(format!("POST {path} HTTP/1.1").as_bytes())),
        ("base64 of the url", base64(URL.as_bytes())),
        ("base64 of the url, shifted", base64(format!("u={URL}").as_bytes())),
        ("base64 of the url, shifted twice", base64(format!("ur={URL}").as_bytes())),
        ("url-safe base64", base64(format!("x{path}").as_bytes()).replace('+', "-").replace('/', "_")),
        ("split by a control character", "see /services/T0000SE\u{1b}CRET/B0000SECRET/xoxSECRET\u{7}token".to_string()),
    ]
}

#[test]
fn every_echo_of_a_webhook_url_is_redacted() {
    let redactor = Redactor::new().url(URL, "<webhook>");
    for (how, echo) in echoes() {
        let shown = server_message(&echo, &redactor, 10_000);
        assert!(!shown.contains("SECRET"), "{how}: {shown}");
        for needle in ["T0000SECRET", "xoxSECRETtoken"] {
            for encoded in [base64(needle.as_bytes()), percent_all(needle)] {
                let inner = &encoded[2..encoded.len() - 3];
                assert!(!shown.contains(inner), "{how}: {shown} holds {inner}");
            }
        }
    }
}

#[test]
fn control_and_invisible_characters_are_dropped_and_lines_joined() {
    let cases = [
        ("\u{1b}[31mred\u{1b}[0m", "[31mred[0m"),
        ("line one\r\nline two\n\n", "line one line two"),
        ("tab\there", "tab here"),
        ("bell\u{7} and del\u{7f} and c1\u{9b}", "bell and del and c1"),
        ("admin\u{202e}gnp.exe", "admingnp.exe"),
        ("zero\u{200b}width\u{feff}", "zerowidth"),
        ("  plain text  ", "plain text"),
        ("ünïcode ✓ stays", "ünïcode ✓ stays"),
    ];
    for (raw, want) in cases {
        assert_eq!(sanitize(raw), want, "{raw:?}");
    }
}

#[test]
fn a_cut_keeps_whole_characters_and_says_so() {
    assert_eq!(truncate_chars("ééééé", 3), "ééé…");
    assert_eq!(truncate_chars("short", 5), "short");
    let redactor = Redactor::new().secret("abcdefghijkl", "<secret>");
    assert_eq!(server_message(&format!("{}abcdefghijkl", "x".repeat(10)), &redactor, 12), "xxxxxxxxxx<s…");
}

#[test]
fn short_pieces_are_not_redacted_alone() {
    let redactor = Redactor::new().url("https://hooks.slack.com/services/T0/B0/abc", "<webhook>");
    assert_eq!(redactor.apply("services are up"), "services are up");
    assert_eq!(redactor.apply("at /services/T0/B0/abc"), "at <webhook>");
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn sanitized_text_has_no_control_or_invisible_characters(text in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}\\u{200b}-\\u{202e} a-z]{0,60}") {
        let clean = sanitize(&text);
        prop_assert!(!clean.chars().any(|c| c.is_control() || is_invisible_format(c)), "{:?}", clean);
        prop_assert!(!clean.contains("  ") && clean.trim() == clean);
        prop_assert_eq!(sanitize(&clean), clean.clone());
    }

    #[test]
    fn a_secret_is_redacted_in_every_encoding_anywhere_in_a_text(
        secret in "[A-Za-z0-9/_.~:?&=%+-]{8,40}",
        before in "[ -~]{0,12}",
        after in "[ -~]{0,12}",
    ) {
        let redactor = Redactor::new().secret(&secret, "<redacted>");
        for encoded in encodings(&secret).into_iter().filter(|e| e.len() >= MIN_SECRET_LEN) {
            let shown = redactor.apply(&format!("{before}{encoded}{after}"));
            prop_assert!(!shown.contains(&encoded), "{:?} in {:?}", encoded, shown);
        }
        let dump = base64(format!("{before}{secret}{after}").as_bytes());
        let shown = redactor.apply(&dump);
        let inner = base64_inner(secret.as_bytes(), before.len() % 3);
        prop_assert!(!shown.contains(&inner), "base64 {:?} still holds {:?}", shown, inner);
        prop_assert!(dump.contains(&inner), "the aligned piece is what base64 of the text holds");
    }
}
