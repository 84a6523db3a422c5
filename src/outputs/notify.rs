//! A short summary of a report or a pull request, posted to a chat incoming webhook (Slack or
//! Microsoft Teams): money, containers to change, risk flags and a link.
//!
//! An incoming-webhook URL is a credential (whoever has it can post), so it appears in no
//! message, error or log line: errors say "the notification webhook" and what it answered.

use crate::domain::server_text::{server_message, Redactor, SERVER_TEXT_MAX_CHARS};
use crate::outputs::report::ReportDoc;
use serde_json::{json, Value};

/// Lines of each list in a message; chat clients truncate long posts.
const MAX_LINES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub(crate) enum NotifyError {
    #[error("cannot tell whether the notification webhook is Slack or Microsoft Teams from its host")]
    UnknownFlavor,
    #[error("the notification webhook answered HTTP {status}: {message}")]
    Rejected { status: u16, message: String },
    #[error("cannot reach the notification webhook: {message}")]
    Transport { message: String },
    #[error(
        "the notification webhook answered HTTP {status}, a redirect to {to}; redirects are not followed, \
so the summary was not sent (give the webhook's final URL)"
    )]
    Redirected { status: u16, to: String },
}

/// The chat service behind a webhook, which decides the payload's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Flavor {
    /// From the webhook's host: hooks.slack.com is Slack; webhook.office.com, logic.azure.com
    /// and powerplatform.com (Teams workflows) are Teams.
    Auto,
    Slack,
    Teams,
}

impl Flavor {
    /// The concrete flavor for `url`; `Auto` looks at the host only.
    pub(crate) fn resolve(self, url: &str) -> Result<Flavor, NotifyError> {
        if self != Flavor::Auto {
            return Ok(self);
        }
        let host = url.split("://").nth(1).unwrap_or(url).split(['/', '?', ':']).next().unwrap_or("");
        let host = host.to_ascii_lowercase();
        let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        if under("hooks.slack.com") {
            Ok(Flavor::Slack)
        } else if under("webhook.office.com") || under("logic.azure.com") || under("powerplatform.com") {
            Ok(Flavor::Teams)
        } else {
            Err(NotifyError::UnknownFlavor)
        }
    }
}

/// What one notification says.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub title: String,
    /// Monthly cost of requests, now and proposed (containers with known current requests).
    pub monthly_cost: Option<(f64, f64)>,
    /// One line per container to change.
    pub changes: Vec<String>,
    /// One line per risk flag: `container: what`.
    pub risks: Vec<String>,
    /// (label, URL): the pull request, or wherever the report is published.
    pub link: Option<(String, String)>,
}

impl Notice {
    /// The report's money and risk flags; `changes` as the caller counts them (the bot's
    /// thresholds, or every proposal that moves a setting).
    pub fn from_report(title: String, doc: &ReportDoc, changes: Vec<String>, link: Option<(String, String)>) -> Self {
        let totals = &doc.totals.monthly_cost;
        let risks = doc
            .containers
            .iter()
            .flat_map(|c| {
                let id =
                    ReportDoc::container_id(&c.cluster, &c.namespace, &c.workload.kind, &c.workload.name, &c.container);
                c.risk.flags.iter().filter(|f| f.code != "current_unknown").map(move |f| format!("{id}: {}", f.text))
            })
            .collect();
        Notice { title, monthly_cost: totals.current.zip(totals.proposed), changes, risks, link }
    }

    fn money(&self) -> Option<(String, String)> {
        let (now, proposed) = self.monthly_cost?;
        let delta = now - proposed;
        let saving =
            if delta >= 0.0 { format!("saves ${delta:.0}/month") } else { format!("adds ${:.0}/month", -delta) };
        Some((format!("${now:.0} → ${proposed:.0} per month"), saving))
    }

    /// The same notice with control characters in every text shown as `\u{..}`.
    fn printable(&self) -> Notice {
        use crate::outputs::format::printable;
        let all = |lines: &[String]| lines.iter().map(|l| printable(l)).collect();
        Notice {
            title: printable(&self.title),
            monthly_cost: self.monthly_cost,
            changes: all(&self.changes),
            risks: all(&self.risks),
            link: self.link.as_ref().map(|(label, url)| (printable(label), url.clone())),
        }
    }

    /// One line for notifications shown without formatting (phone banners, Slack's `text`).
    pub fn fallback_text(&self) -> String {
        let mut parts = vec![self.title.clone()];
        if let Some((_, saving)) = self.money() {
            parts.push(saving);
        }
        parts.push(format!("{} container(s) to change", self.changes.len()));
        parts.push(format!("{} risk flag(s)", self.risks.len()));
        parts.join("; ")
    }
}

/// The first lines of a list and how many were left out.
fn capped(lines: &[String]) -> Vec<String> {
    let mut shown: Vec<String> = lines.iter().take(MAX_LINES).cloned().collect();
    if lines.len() > MAX_LINES {
        shown.push(format!("... and {} more", lines.len() - MAX_LINES));
    }
    shown
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The JSON body for the chat service. Every text goes through `format::printable` first:
/// names are data, and a newline or escape sequence in one must not shape the message.
pub(crate) fn payload(flavor: Flavor, notice: &Notice) -> Value {
    let notice = &notice.printable();
    match flavor {
        Flavor::Teams => teams_payload(notice),
        Flavor::Slack | Flavor::Auto => slack_payload(notice),
    }
}

fn facts(notice: &Notice) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    if let Some((cost, saving)) = notice.money() {
        facts.push(("Requests cost", cost));
        facts.push(("Change", saving));
    }
    facts.push(("Containers to change", notice.changes.len().to_string()));
    facts.push(("Risk flags", notice.risks.len().to_string()));
    facts
}

/// Block Kit: a header, the figures as fields, the lists, and a button to the link.
fn slack_payload(notice: &Notice) -> Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": notice.title.chars().take(150).collect::<String>()}}),
        json!({"type": "section", "fields": facts(notice)
            .into_iter()
            .map(|(k, v)| json!({"type": "mrkdwn", "text": format!("*{k}*\n{}", slack_escape(&v))}))
            .collect::<Vec<_>>()}),
    ];
    for (heading, lines) in [("Changes", &notice.changes), ("Risks", &notice.risks)] {
        if !lines.is_empty() {
            let list: String = capped(lines).iter().map(|l| format!("\n• {}", slack_escape(l))).collect();
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{heading}*{list}")}}));
        }
    }
    if let Some((label, url)) = &notice.link {
        blocks.push(json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
        ]}));
    }
    json!({"text": notice.fallback_text(), "blocks": blocks})
}

/// An Adaptive Card in a message, the shape both Teams incoming webhooks and Teams workflows take.
fn teams_payload(notice: &Notice) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "text": notice.title, "size": "Medium", "weight": "Bolder", "wrap": true}),
        json!({"type": "FactSet", "facts": facts(notice)
            .into_iter()
            .map(|(k, v)| json!({"title": k, "value": v}))
            .collect::<Vec<_>>()}),
    ];
    for (heading, lines) in [("Changes", &notice.changes), ("Risks", &notice.risks)] {
        if !lines.is_empty() {
            let list: String = capped(lines).iter().map(|l| format!("\n- {l}")).collect();
            body.push(json!({"type": "TextBlock", "text": format!("**{heading}**\n{list}"), "wrap": true}));
        }
    }
    let actions: Vec<Value> =
        notice.link.iter().map(|(label, url)| json!({"type": "Action.OpenUrl", "title": label, "url": url})).collect();
    json!({
        "type": "message",
        "summary": notice.fallback_text(),
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            }
        }]
    })
}

/// Posts the payload. A redirect is not followed (and is not a delivery); every server text
/// in an error is cleaned of control characters and has the URL redacted in every encoding.
pub(crate) fn send(url: &str, payload: &Value) -> Result<(), NotifyError> {
    use std::io::Read;
    let agent = super::http_agent_without_redirects();
    let redactor = redactor(url);
    let transport = |e: &dyn std::fmt::Display| NotifyError::Transport {
        message: server_message(&e.to_string(), &redactor, SERVER_TEXT_MAX_CHARS),
    };
    let body = serde_json::to_vec(payload).expect("JSON value serialises");
    let mut response =
        agent.post(url).header("Content-Type", "application/json").send(body.as_slice()).map_err(|e| transport(&e))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    if (300..400).contains(&status) {
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
        return Err(NotifyError::Redirected { status, to: redirect_host(location, &redactor) });
    }
    let mut text = String::new();
    let _ = response.body_mut().as_reader().take(16 * 1024).read_to_string(&mut text);
    Err(NotifyError::Rejected { status, message: server_message(&text, &redactor, SERVER_TEXT_MAX_CHARS) })
}

/// The webhook URL (a credential) in every encoding a server may echo it in.
fn redactor(url: &str) -> Redactor {
    Redactor::new().url(url, "<webhook>")
}

/// Where a redirect points, said as its host only (its path may carry the secret on).
fn redirect_host(location: &str, redactor: &Redactor) -> String {
    match crate::domain::server_text::location_host(location) {
        Some(host) => server_message(host, redactor, 100),
        None => "the same host".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(changes: usize) -> Notice {
        Notice {
            title: "podsizer: resize 2 container(s) in overlays/prod".into(),
            monthly_cost: Some((120.4, 50.0)),
            changes: (0..changes).map(|i| format!("shop/Deployment/api/c{i}: CPU request 1 -> 240m")).collect(),
            risks: vec!["shop/Deployment/api/c0: memory peak 900Mi is 95% of the current limit 1Gi: OOM risk".into()],
            link: Some(("Open pull request".into(), "https://github.com/acme/gitops/pull/7".into())),
        }
    }

    #[test]
    fn flavor_comes_from_the_host_only() {
        let auto = Flavor::Auto;
        assert_eq!(auto.resolve("https://hooks.slack.com/services/T0/B0/x").unwrap(), Flavor::Slack);
        assert_eq!(auto.resolve("https://acme.webhook.office.com/webhookb2/x").unwrap(), Flavor::Teams);
        assert_eq!(auto.resolve("https://prod-1.westeurope.logic.azure.com:443/workflows/x").unwrap(), Flavor::Teams);
        assert!(auto.resolve("https://example.com/hooks.slack.com/x").is_err(), "path is not host");
        assert!(auto.resolve("https://hooks.slack.com.evil.example/x").is_err());
        assert_eq!(Flavor::Teams.resolve("http://127.0.0.1:9/x").unwrap(), Flavor::Teams);
    }

    #[test]
    fn slack_payload_carries_money_counts_and_link() {
        let p = payload(Flavor::Slack, &notice(2));
        let text = p["text"].as_str().unwrap();
        assert!(text.contains("saves $70/month") && text.contains("2 container(s) to change"), "{text}");
        let fields = p["blocks"][1]["fields"].as_array().unwrap();
        assert_eq!(fields[0]["text"], "*Requests cost*\n$120 → $50 per month");
        assert_eq!(p["blocks"][4]["elements"][0]["url"], "https://github.com/acme/gitops/pull/7");
    }

    #[test]
    fn long_lists_are_cut_with_a_count() {
        let p = payload(Flavor::Teams, &notice(25));
        let changes = p["attachments"][0]["content"]["body"][2]["text"].as_str().unwrap();
        assert_eq!(changes.matches("\n- ").count(), MAX_LINES + 1, "{changes}");
        assert!(changes.ends_with("... and 15 more"));
    }

    #[test]
    fn slack_control_characters_are_escaped() {
        let mut n = notice(0);
        n.risks = vec!["a <b> & c".into()];
        let p = payload(Flavor::Slack, &n);
        assert_eq!(p["blocks"][2]["text"]["text"], "*Risks*\n• a &lt;b&gt; &amp; c");
    }

    #[test]
    fn redaction_removes_url_and_path() {
        let url = "https://hooks.slack.com/services/T000/B000/SECRET";
        let text = format!("error at {url} and again /services/T000/B000/SECRET");
        let clean = redactor(url).apply(&text);
        assert!(!clean.contains("SECRET"), "{clean}");
    }

    #[test]
    fn a_redirect_is_named_by_its_host_only() {
        let r = redactor("https://hooks.slack.com/services/T000/B000/SECRETSECRET");
        assert_eq!(redirect_host("https://user:pw@evil.example:8443/x/SECRETSECRET?y", &r), "evil.example:8443");
        assert_eq!(redirect_host("/elsewhere", &r), "the same host");
        assert_eq!(redirect_host("http://ev\u{1b}[2Jil.example/", &r), "ev[2Jil.example");
    }
}
