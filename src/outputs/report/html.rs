//! The report as one HTML page: inline CSS, no scripts, images beside it in `charts/`.

use super::blocks::{Block, Inline, Line};

/// Text as HTML character data or an attribute value; control characters shown as `\u{..}`
/// (`format::printable`), as in every other output.
pub(crate) fn escape(text: &str) -> String {
    let text = crate::outputs::format::printable(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn inline(line: &Line) -> String {
    let mut out = String::new();
    for i in line {
        match i {
            Inline::Text(s) => out.push_str(&escape(s)),
            Inline::Strong(s) => out.push_str(&format!("<strong>{}</strong>", escape(s))),
            Inline::Code(s) => out.push_str(&format!("<code>{}</code>", escape(s))),
            Inline::Flag(s) => out.push_str(&format!("<span class=\"flag\">{}</span>", escape(s))),
            Inline::Link { text, href } => out.push_str(&format!("<a href=\"{}\">{}</a>", escape(href), escape(text))),
        }
    }
    out
}

const STYLE: &str = "
:root { --now: #d95f02; --new: #1b9e77; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, 'Segoe UI', 'DejaVu Sans', Helvetica, Arial, sans-serif; color: var(--ink);
       max-width: 1320px; margin: 0 auto; padding: 24px 20px 60px; }
h1 { font-size: 28px; margin: 0 0 8px; }
h2 { font-size: 21px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 30px 0 8px; }
p, ul { margin: 8px 0; }
table { border-collapse: collapse; margin: 10px 0; font-size: 13.5px; display: block; overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
th { background: #f6f8fa; text-align: left; }
td.r, th.r { text-align: right; white-space: nowrap; }
td:first-child { white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
img { display: block; max-width: 100%; height: auto; margin: 10px 0; border: 1px solid #eef1f4; }
code { font: 13px/1.4 ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace; background: #f3f5f7; padding: 1px 4px; border-radius: 4px; }
.flag { color: #9a3412; background: #fff4e5; padding: 0 4px; border-radius: 3px; }
strong { font-weight: 600; }
nav { font-size: 14px; color: var(--muted); margin: 4px 0 16px; }
nav a { margin-right: 12px; }
";

pub(crate) fn render(title: &str, blocks: &[Block]) -> String {
    let mut body = String::new();
    let mut nav = Vec::new();
    for block in blocks {
        match block {
            Block::Heading { level, text, id } => {
                if *level == 2 {
                    nav.push(format!("<a href=\"#{}\">{}</a>", escape(id), escape(text)));
                }
                body.push_str(&format!("<h{level} id=\"{}\">{}</h{level}>\n", escape(id), escape(text)));
                if *level == 1 {
                    body.push_str("<!--nav-->\n");
                }
            }
            Block::Para(line) => body.push_str(&format!("<p>{}</p>\n", inline(line))),
            Block::List(items) => {
                body.push_str("<ul>\n");
                for item in items {
                    body.push_str(&format!("<li>{}</li>\n", inline(item)));
                }
                body.push_str("</ul>\n");
            }
            Block::Table { head, right, rows } => {
                let class = |i: usize| if right.get(i).copied().unwrap_or(false) { " class=\"r\"" } else { "" };
                body.push_str("<table>\n<thead><tr>");
                for (i, h) in head.iter().enumerate() {
                    body.push_str(&format!("<th{}>{}</th>", class(i), escape(h)));
                }
                body.push_str("</tr></thead>\n<tbody>\n");
                for row in rows {
                    body.push_str("<tr>");
                    for (i, cell) in row.iter().enumerate() {
                        body.push_str(&format!("<td{}>{}</td>", class(i), inline(cell)));
                    }
                    body.push_str("</tr>\n");
                }
                body.push_str("</tbody>\n</table>\n");
            }
            Block::Image { src, alt, width, height } => body.push_str(&format!(
                "<img src=\"{}\" alt=\"{}\" width=\"{width}\" height=\"{height}\">\n",
                escape(src),
                escape(alt)
            )),
        }
    }
    let body = body.replacen("<!--nav-->", &format!("<nav>{}</nav>", nav.join("")), 1);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}
