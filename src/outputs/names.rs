//! Names as file names: the one function every writer derives a file from a Kubernetes name
//! with (patch files, chart files).
//!
//! A name is data: `../../x`, `a/b`, `.` or a 600-byte string must not choose where a file
//! lands, and `col-x`, `col.x` and `COL-X` must not share a file (not even on a file system
//! that ignores case). Lower-case letters, digits and `-` pass through, so a DNS-1123 label
//! (most workload and every container name) is its own file name; every other byte becomes
//! `_` and two lower-case hex digits. The encoding is prefix-free, so it is injective
//! ([`decode`] undoes it), and it never yields `/`, `.`, `\` or upper case.

use std::fmt::Write;

/// Longest file name stem before the tail is replaced by a hash: file systems allow 255 bytes,
/// and a prefix, an extension and the temp-file decoration of `fileset` come on top.
const MAX_STEM: usize = 180;

/// `name` as one safe, injective path-component fragment.
pub fn safe_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "_{b:02x}");
        }
    }
    out
}

/// The inverse of [`safe_name`]; `None` for text it never produces.
pub fn decode(encoded: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'_' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            if hex.bytes().any(|h| h.is_ascii_uppercase()) {
                return None;
            }
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' {
            bytes.push(b);
            rest = tail;
        } else {
            return None;
        }
    }
    String::from_utf8(bytes).ok()
}

/// A file name stem from several names, each encoded and joined by `.` (which the encoding
/// never yields, so the join stays injective). A stem too long for a file system keeps its
/// first part and ends in `~` and a hash of the whole; `~` is never produced otherwise, and
/// the writers refuse two files with one name, so a hash collision is an error, not a merge.
pub fn file_stem(parts: &[&str]) -> String {
    let mut stem = parts.iter().map(|p| safe_name(p)).collect::<Vec<_>>().join(".");
    // An empty first name would make the stem empty, `.` or hidden: a lone `_` (never produced
    // by `safe_name`, whose `_` is always followed by two hex digits) stands in front.
    if stem.is_empty() || stem.starts_with('.') {
        stem.insert(0, '_');
    }
    if stem.len() <= MAX_STEM {
        return stem;
    }
    let mut cut = MAX_STEM - 17;
    // Never end inside an `_xx` escape.
    while stem.as_bytes()[..cut].iter().rev().take(2).any(|&b| b == b'_') {
        cut -= 1;
    }
    format!("{}~{:016x}", &stem[..cut], crate::domain::stable_hash(&stem))
}

/// The file-name word for a workload kind: the API's kinds are known single words, written
/// in lower case as kubectl users expect (`deployment`); anything else is encoded.
pub fn kind_word(kind: &str) -> String {
    // ConfigMap: the runtime settings patches; ScaledObject: KEDA's, beside the HPA's;
    // VerticalPodAutoscaler and StartupCPUBoost: the start-up boosts.
    let known = crate::domain::WORKLOAD_KINDS
        .iter()
        .chain(&["HorizontalPodAutoscaler", "ConfigMap", "ScaledObject", "VerticalPodAutoscaler", "StartupCPUBoost"])
        .any(|k| *k == kind);
    if known {
        kind.to_ascii_lowercase()
    } else {
        safe_name(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_kinds_are_plain_lower_case_words() {
        assert_eq!(kind_word("ConfigMap"), "configmap");
        assert_eq!(kind_word("StatefulSet"), "statefulset");
        assert_eq!(kind_word("HorizontalPodAutoscaler"), "horizontalpodautoscaler");
        assert_ne!(kind_word("Configmap"), "configmap", "only the API's spelling is a known kind");
    }

    #[test]
    fn dns_labels_pass_and_everything_else_is_escaped() {
        assert_eq!(safe_name("api-v2"), "api-v2");
        assert_eq!(safe_name("col.x"), "col_2ex");
        assert_eq!(safe_name("COL-X"), "_43_4f_4c-_58");
        assert_eq!(safe_name("../../extra"), "_2e_2e_2f_2e_2e_2fextra");
        assert_eq!(safe_name("a/b"), "a_2fb");
        assert_eq!(safe_name("_2e"), "_5f2e");
        for name in ["col-x", "col.x", "COL-X", "", "é", "a_b", "..", "x\u{0}y"] {
            assert_eq!(decode(&safe_name(name)).as_deref(), Some(name));
        }
    }

    #[test]
    fn long_stems_end_in_a_hash_and_stay_distinct() {
        let a = "a".repeat(300);
        let b = format!("{}b", "a".repeat(299));
        let (sa, sb) = (file_stem(&[&a]), file_stem(&[&b]));
        assert!(sa.len() <= MAX_STEM && sb.len() <= MAX_STEM, "{sa}");
        assert_ne!(sa, sb);
        let escaped = file_stem(&[&".".repeat(300)]);
        assert!(escaped.len() <= MAX_STEM);
        let head = escaped.split('~').next().unwrap();
        assert!(decode(head).is_some(), "cut inside an escape: {head}");
        assert_eq!(file_stem(&["a.b", "c"]), "a_2eb.c");
        assert_eq!(file_stem(&["", ""]), "_.");
        assert_eq!(file_stem(&[""]), "_");
        assert_ne!(file_stem(&["a.b", "c"]), file_stem(&["a", "b.c"]));
    }

    #[test]
    fn known_kinds_are_lower_case_words() {
        assert_eq!(kind_word("Deployment"), "deployment");
        assert_eq!(kind_word("HorizontalPodAutoscaler"), "horizontalpodautoscaler");
        assert_eq!(kind_word("Rollout"), "_52ollout");
    }
}
