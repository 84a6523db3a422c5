//! The report as Markdown (GitHub-flavoured: tables, images beside the file).

use super::content::{Block, Inline, Line};

fn escape(text: &str) -> String {
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
            Inline::Code(s) => {
                out.push('`');
                out.push_str(&s.replace('`', "'").replace('|', "\\|"));
                out.push('`');
            }
            Inline::Link { text, href } => out.push_str(&format!("[{}]({})", escape(text), href)),
        }
    }
    out
}

pub fn render(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading { level, text, .. } => {
                out.push_str(&"#".repeat(*level as usize));
                out.push(' ');
                out.push_str(&escape(text));
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
}
