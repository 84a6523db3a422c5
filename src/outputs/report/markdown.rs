//! The report as Markdown (GitHub-flavoured: tables, images beside the file).

use super::blocks::{Block, Inline, Line};

/// Text as Markdown that shows it literally: characters that would start emphasis, a link,
/// HTML or a table cell are backslash-escaped, and control characters (a newline in a name
/// would start a heading of its own) are shown as `\u{..}` (`format::printable`).
pub(crate) fn escape(text: &str) -> String {
    let text = crate::outputs::format::printable(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '*' | '_' | '[' | ']' | '<' | '\\' | '`' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Text as a Markdown code span: backticks cannot close it early, `|` cannot split a table
/// cell, control characters are escaped.
pub(crate) fn code_span(text: &str) -> String {
    format!("`{}`", crate::outputs::format::printable(text).replace('`', "'").replace('|', "\\|"))
}

fn inline(line: &Line) -> String {
    let mut out = String::new();
    for i in line {
        match i {
            Inline::Text(s) => out.push_str(&escape(s)),
            Inline::Strong(s) | Inline::Flag(s) => {
                out.push_str("**");
                out.push_str(&escape(s));
                out.push_str("**");
            }
            Inline::Code(s) => out.push_str(&code_span(s)),
            Inline::Link { text, href } => out.push_str(&format!("[{}]({})", escape(text), href)),
        }
    }
    out
}

pub(crate) fn render(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading { level, text, id } => {
                out.push_str(&"#".repeat(*level as usize));
                out.push(' ');
                out.push_str(&escape(text));
                // Container, workload and cluster headings carry their id, so the table's
                // `#c-...` links land on them (Markdown derives no such id from the text).
                if *level >= 3 {
                    out.push_str(&format!(" <a id=\"{}\"></a>", super::html::escape(id)));
                }
                out.push('\n');
            }
            Block::Para(line) => {
                out.push_str(&inline(line));
                out.push('\n');
            }
            Block::List(items) => {
                for item in items {
                    out.push_str("- ");
                    out.push_str(&inline(item));
                    out.push('\n');
                }
            }
            Block::Table { head, right, rows } => {
                out.push('|');
                for h in head {
                    out.push_str(&format!(" {} |", escape(h)));
                }
                out.push_str("\n|");
                for r in right {
                    out.push_str(if *r { "---:|" } else { "---|" });
                }
                out.push('\n');
                for row in rows {
                    out.push('|');
                    for cell in row {
                        out.push_str(&format!(" {} |", inline(cell)));
                    }
                    out.push('\n');
                }
            }
            Block::Image { src, alt, .. } => {
                out.push_str(&format!("![{}]({})\n", escape(alt), src));
            }
        }
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_table_breakers() {
        assert_eq!(escape("a|b *c*"), "a\\|b \\*c\\*");
        let t = Block::Table {
            head: vec!["x".into(), "n".into()],
            right: vec![false, true],
            rows: vec![vec![vec![Inline::Text("a|b".into())], vec![Inline::Strong("1".into())]]],
        };
        assert_eq!(render(&[t]), "| x | n |\n|---|---:|\n| a\\|b | **1** |\n");
    }

    #[test]
    fn names_cannot_start_lines_of_their_own() {
        let name = "api\n## Approved\r\n- [x] \u{1b}[2Jdone";
        let blocks = [
            Block::Heading { level: 3, text: format!("shop / {name}"), id: "c-x".into() },
            Block::Para(vec![Inline::Text(name.into()), Inline::Code(name.into()), Inline::Strong(name.into())]),
            Block::List(vec![vec![Inline::Link { text: name.into(), href: "#c-x".into() }]]),
            Block::Table {
                head: vec![name.into()],
                right: vec![false],
                rows: vec![vec![vec![Inline::Flag(name.into())]]],
            },
        ];
        let md = render(&blocks);
        for line in md.lines() {
            assert!(!line.chars().any(char::is_control), "{line:?}");
            assert!(!line.starts_with("## ") && !line.starts_with("- [x]"), "a name made its own line: {md}");
        }
        let html = super::super::html::render(name, &blocks);
        assert!(!html.contains('\u{1b}') && !html.contains("api\n"), "{html}");
    }
}
