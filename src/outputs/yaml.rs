//! The one way podsizer writes YAML: a `serde_norway::Value` emitted with every string
//! double-quoted.
//!
//! Names are data that YAML re-types when they stand bare: `null`, `yes`, `on`, `y`, `1e3` and
//! `0x10` are valid Kubernetes names, and kustomize's YAML 1.1 reading turns them into a null,
//! a bool or a number (a container `- name: null` replaces the real one). serde_norway quotes
//! only what YAML 1.2 would mis-read, so strings are written here as JSON strings, which are
//! YAML double-quoted scalars, with everything outside printable ASCII escaped.

use serde_norway::Value;
use std::fmt::Write;

/// YAML text of a value: block style, two-space indent, sequences under a key not indented
/// (as kubectl writes them), every string quoted.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Mapping(m) if !m.is_empty() => mapping(&mut out, m, 0),
        Value::Sequence(s) if !s.is_empty() => sequence(&mut out, s, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

/// Any serialisable document, through `serde_norway::Value`.
pub fn to_string_of<T: serde::Serialize>(value: &T) -> Result<String, serde_norway::Error> {
    Ok(to_string(&serde_norway::to_value(value)?))
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn mapping(out: &mut String, m: &serde_norway::Mapping, indent: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        // The first entry of a sequence item follows its `- ` on the same line.
        if i > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        out.push_str(&key(k));
        out.push(':');
        value_after_key(out, v, indent);
    }
}

fn value_after_key(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            mapping(out, m, indent + 2);
        }
        Value::Sequence(s) if !s.is_empty() => {
            out.push('\n');
            sequence(out, s, indent);
        }
        Value::String(text) if is_literal_block(text) => {
            out.push_str(" |\n");
            for line in text.lines() {
                if !line.is_empty() {
                    pad(out, indent + 2);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

/// A file held in a string (a ConfigMap's nginx.conf) is written as a literal block, which
/// every reader takes as a string, byte for byte: several lines of printable ASCII ending in
/// exactly one newline, the first line not indented (its indentation would set the block's).
fn is_literal_block(text: &str) -> bool {
    text.contains('\n')
        && text.ends_with('\n')
        && !text.ends_with("\n\n")
        && !text.starts_with([' ', '\n'])
        && text.chars().all(|c| c == '\n' || (' '..='~').contains(&c))
}

fn sequence(out: &mut String, s: &[Value], indent: usize) {
    for item in s {
        pad(out, indent);
        match item {
            Value::Mapping(m) if !m.is_empty() => {
                out.push_str("- ");
                mapping(out, m, indent + 2);
            }
            Value::Sequence(inner) if !inner.is_empty() => {
                out.push_str("-\n");
                sequence(out, inner, indent + 2);
            }
            other => {
                out.push_str("- ");
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

/// A mapping key: bare when it is a plain identifier that no YAML reader re-types.
fn key(k: &Value) -> String {
    match k {
        Value::String(s) if is_plain_key(s) => s.clone(),
        other => scalar(other),
    }
}

fn is_plain_key(s: &str) -> bool {
    const RETYPED: [&str; 11] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"];
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RETYPED.contains(&s.to_ascii_lowercase().as_str())
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => quoted(s),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Mapping(_) => "{}".into(),
        Value::Sequence(_) => "[]".into(),
        // Numbers and tagged values as serde_norway writes them (`.inf`, `1.0e+300`, `!Tag x`).
        other => serde_norway::to_string(other).map_or_else(|_| "null".into(), |t| t.trim_end().to_string()),
    }
}

/// A YAML double-quoted scalar: JSON's escapes, plus `\u`/`\U` for anything that is not
/// printable ASCII (terminal escapes, line separators, NEL).
pub fn quoted(s: &str) -> String {
    let json = serde_json::to_string(s).expect("a string serialises");
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match u32::from(c) {
            0x20..=0x7e => out.push(c),
            code if code <= 0xffff => {
                let _ = write!(out, "\\u{code:04x}");
            }
            code => {
                let _ = write!(out, "\\U{code:08x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &Value) {
        let text = to_string(v);
        let back: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&back, v, "{text}");
    }

    #[test]
    fn names_that_yaml_would_retype_stay_strings() {
        for name in ["null", "~", "yes", "no", "on", "off", "y", "n", "true", "123", "1e3", "0x10", "0o7", ".5", "-"] {
            let mut m = serde_norway::Mapping::new();
            m.insert("name".into(), name.into());
            let text = to_string(&Value::Mapping(m.clone()));
            assert_eq!(text, format!("name: \"{name}\"\n"));
            round_trip(&Value::Mapping(m));
        }
    }

    #[test]
    fn nested_documents_round_trip() {
        let v: Value = serde_norway::from_str(
            "a: 1\nb: [x, {c: 2, d: [1, 2]}, [3, 4], [], {}]\n\"key with space\": {e: null, f: true, g: 1.5}\nempty: {}\n",
        )
        .unwrap();
        round_trip(&v);
        let text = to_string(&v);
        assert!(text.contains("b:\n- \"x\"\n- c: 2\n  d:\n  - 1\n"), "{text}");
    }

    #[test]
    fn files_in_strings_are_literal_blocks_that_read_back_byte_for_byte() {
        let texts = [
            "worker_processes 1;\nevents {\n    worker_connections 1024;\n}\n",
            "[www]\n\npm = dynamic   \n  ; indented comment\n---\n...\n# not a comment in YAML\n",
            "yes\nno\n",
        ];
        for text in texts {
            let mut m = serde_norway::Mapping::new();
            m.insert("nginx.conf".into(), text.into());
            let mut outer = serde_norway::Mapping::new();
            outer.insert("data".into(), Value::Mapping(m));
            let v = Value::Mapping(outer);
            assert!(to_string(&v).starts_with("data:\n  \"nginx.conf\": |\n    "), "{}", to_string(&v));
            round_trip(&v);
        }
        for text in ["no newline", "two\n\n", " lead\nx\n", "tab\there\n", "é\n", "\nx\n"] {
            let mut m = serde_norway::Mapping::new();
            m.insert("k".into(), text.into());
            let v = Value::Mapping(m);
            assert!(to_string(&v).starts_with("k: \""), "{text:?}: {}", to_string(&v));
            round_trip(&v);
        }
    }

    #[test]
    fn control_characters_and_non_ascii_are_escaped() {
        let nasty = "a\u{1b}[31mred\nline\u{2028}\u{85}é😀\"\\";
        let q = quoted(nasty);
        assert!(q.chars().all(|c| (' '..='~').contains(&c)), "{q}");
        let back: String = serde_norway::from_str(&q).unwrap();
        assert_eq!(back, nasty);
    }
}
