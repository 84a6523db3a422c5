//! Command-line flags inside an argument list or an options variable (`JAVA_TOOL_OPTIONS`,
//! `NODE_OPTIONS`, `GUNICORN_CMD_ARGS`): found the way the runtimes read them (the last
//! occurrence wins) and rewritten in place, every other word and space kept.

/// How one flag may be spelled: `joined` spellings carry the value in the same word
/// (`-Xmx512m`, `--workers=4`), the others in the next word (`--workers 4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spelling {
    /// The flag as written, up to its value (`-Xmx`, `--workers=`, `-w`).
    pub text: &'static str,
    /// `true`: the value follows in the same word; `false`: it is the next word.
    pub joined: bool,
}

/// A flag podsizer reads and writes: the setting's name (as the advice names it) and its spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The setting's name in the advice and in [`by_setting`] (`-Xmx`, `--workers`).
    pub setting: &'static str,
    /// Every way the flag may be written; any of them is read and rewritten in place.
    pub spellings: &'static [Spelling],
}

const fn joined(text: &'static str) -> Spelling {
    Spelling { text, joined: true }
}

const fn spaced(text: &'static str) -> Spelling {
    Spelling { text, joined: false }
}

/// The JVM's maximum heap (`-Xmx512m`, `-XX:MaxHeapSize=`), a size with an optional k/m/g suffix.
pub const XMX: Flag = Flag { setting: "-Xmx", spellings: &[joined("-Xmx"), joined("-XX:MaxHeapSize=")] };
/// The JVM's heap as a percentage of the container's memory limit.
pub const MAX_RAM_PERCENTAGE: Flag =
    Flag { setting: "-XX:MaxRAMPercentage", spellings: &[joined("-XX:MaxRAMPercentage=")] };
/// The CPUs the JVM believes it has (sizes its GC and worker pools), a count.
pub const ACTIVE_PROCESSOR_COUNT: Flag =
    Flag { setting: "-XX:ActiveProcessorCount", spellings: &[joined("-XX:ActiveProcessorCount=")] };
/// Node.js's old-generation heap, in MiB.
pub const MAX_OLD_SPACE: Flag = Flag {
    setting: "--max-old-space-size",
    spellings: &[
        joined("--max-old-space-size="),
        joined("--max_old_space_size="),
        spaced("--max-old-space-size"),
        spaced("--max_old_space_size"),
    ],
};
/// gunicorn's and uvicorn's worker processes, a count.
pub const WORKERS: Flag =
    Flag { setting: "--workers", spellings: &[joined("--workers="), spaced("--workers"), spaced("-w")] };

/// Every flag a runtime advice may change, by its setting name.
pub const ALL: &[Flag] = &[XMX, MAX_RAM_PERCENTAGE, ACTIVE_PROCESSOR_COUNT, MAX_OLD_SPACE, WORKERS];

/// The flag whose setting name is `setting`; `None` for a setting that is a whole value
/// (`GOMEMLIMIT`, `WEB_CONCURRENCY`).
pub fn by_setting(setting: &str) -> Option<&'static Flag> {
    ALL.iter().find(|f| f.setting == setting)
}

/// A word of a text with its byte offset.
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

/// Where the flag's last occurrence puts its value: (index of the word holding the value,
/// byte offset of the value within that word). A spaced flag at the end has no value: `None`.
fn last<S: AsRef<str>>(words: &[S], flag: &Flag) -> Option<(usize, usize)> {
    let mut found = None;
    for (i, w) in words.iter().enumerate() {
        let w = w.as_ref();
        for s in flag.spellings {
            if s.joined && w.len() > s.text.len() && w.starts_with(s.text) {
                found = Some((i, s.text.len()));
            } else if !s.joined && w == s.text {
                found = (i + 1 < words.len()).then_some((i + 1, 0));
            }
        }
    }
    found
}

/// The flag's value in an argument list (last occurrence), as written.
pub fn value_in_args<'a>(args: &'a [String], flag: &Flag) -> Option<&'a str> {
    last(args, flag).map(|(i, at)| &args[i][at..])
}

/// The flag's value in an options text (last occurrence), as written.
pub fn value_in_text<'a>(text: &'a str, flag: &Flag) -> Option<&'a str> {
    let words = words(text);
    let texts: Vec<&str> = words.iter().map(|(_, w)| *w).collect();
    last(&texts, flag).map(|(i, at)| &texts[i][at..])
}

/// The argument list with the flag's last value replaced; unchanged when the flag is absent.
pub fn set_in_args(args: &[String], flag: &Flag, value: &str) -> Vec<String> {
    let mut out = args.to_vec();
    if let Some((i, at)) = last(args, flag) {
        out[i] = format!("{}{value}", &args[i][..at]);
    }
    out
}

/// The text with the flag's last value replaced, every other byte kept; unchanged when absent.
pub fn set_in_text(text: &str, flag: &Flag, value: &str) -> String {
    let words = words(text);
    let texts: Vec<&str> = words.iter().map(|(_, w)| *w).collect();
    match last(&texts, flag) {
        Some((i, at)) => {
            let (start, word) = words[i];
            let from = start + at;
            format!("{}{value}{}", &text[..from], &text[start + word.len()..])
        }
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn the_last_occurrence_is_read_and_rewritten_in_place() {
        let text = "-Xms256m  -Xmx512m -XX:+UseG1GC -XX:MaxHeapSize=1g\t-Dx=y";
        assert_eq!(value_in_text(text, &XMX), Some("1g"));
        assert_eq!(set_in_text(text, &XMX, "768m"), "-Xms256m  -Xmx512m -XX:+UseG1GC -XX:MaxHeapSize=768m\t-Dx=y");
        assert_eq!(value_in_text("-Xms256m", &XMX), None);
        assert_eq!(set_in_text("-Xms256m", &XMX, "1m"), "-Xms256m");
        let opts = "--enable-source-maps --max-old-space-size=1536";
        assert_eq!(value_in_text(opts, &MAX_OLD_SPACE), Some("1536"));
        assert_eq!(set_in_text(opts, &MAX_OLD_SPACE, "384"), "--enable-source-maps --max-old-space-size=384");
    }

    #[test]
    fn spaced_and_joined_spellings_in_argument_lists() {
        let args = v(&["--bind", "0.0.0.0:8000", "-w", "8", "app:app"]);
        assert_eq!(value_in_args(&args, &WORKERS), Some("8"));
        assert_eq!(set_in_args(&args, &WORKERS, "3"), v(&["--bind", "0.0.0.0:8000", "-w", "3", "app:app"]));
        let eq = v(&["--workers=4", "--worker-class", "gthread"]);
        assert_eq!(value_in_args(&eq, &WORKERS), Some("4"));
        assert_eq!(set_in_args(&eq, &WORKERS, "2"), v(&["--workers=2", "--worker-class", "gthread"]));
        // A spaced flag without a value is not a value.
        assert_eq!(value_in_args(&v(&["--workers"]), &WORKERS), None);
        assert_eq!(value_in_args(&v(&["--worker-connections", "9"]), &WORKERS), None);
    }
}
