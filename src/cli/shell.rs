//! How the binary meets the user's shell: the name it was started under (`podsizer`, or the
//! kubectl plugin `kubectl-podsizer`), completion scripts and man pages, all generated from the
//! clap definitions so they cannot drift from the arguments.

use super::args::{Cli, CompletionsArgs, ManArgs};
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;

/// The file name kubectl looks for on PATH to run `kubectl podsizer`.
pub(super) const PLUGIN_FILE: &str = "kubectl-podsizer";

/// The file name kubectl runs to complete `kubectl podsizer ...` (kubectl 1.26 and later).
pub(super) const PLUGIN_COMPLETION_FILE: &str = "kubectl_complete-podsizer";

fn file_stem(argv0: Option<&OsStr>) -> &str {
    argv0.map(Path::new).and_then(Path::file_stem).and_then(OsStr::to_str).unwrap_or("")
}

/// True when started as kubectl's completion helper for the plugin.
pub(super) fn is_plugin_completion(argv0: Option<&OsStr>) -> bool {
    file_stem(argv0) == PLUGIN_COMPLETION_FILE
}

/// How the user typed the command: `kubectl podsizer` when this binary runs as the plugin
/// (kubectl passes the plugin's path as argv[0]), else `podsizer`.
pub(super) fn invoked_as(argv0: Option<&OsStr>) -> &'static str {
    if file_stem(argv0) == PLUGIN_FILE {
        "kubectl podsizer"
    } else {
        "podsizer"
    }
}

/// The clap command with usage lines and hints in the form the user typed.
pub(super) fn command(invoked: &str) -> clap::Command {
    let cmd = Cli::command();
    if invoked == "podsizer" {
        return cmd;
    }
    cmd.bin_name(invoked)
        .display_name(invoked)
        .after_help(format!("Start with `{invoked} demo` to see it work on a bundled week of samples."))
}

/// The executable's own file name, which is what the shell completes.
fn executable_name(invoked: &str) -> &'static str {
    if invoked == "podsizer" {
        "podsizer"
    } else {
        PLUGIN_FILE
    }
}

pub(super) fn completions(args: &CompletionsArgs, invoked: &str, out: &mut dyn Write) -> Result<u8> {
    let name = executable_name(invoked);
    let mut cmd = Cli::command().bin_name(name);
    clap_complete::generate(args.shell, &mut cmd, name, out);
    Ok(0)
}

/// Cobra's directives, which kubectl passes on to the shell: offer files, or only the words given.
const FILES: u8 = 0;
const NO_FILES: u8 = 4;

/// kubectl's completion protocol for plugins: `kubectl_complete-podsizer WORD... PARTIAL` prints
/// one candidate per line, then `:DIRECTIVE`. Candidates are subcommands, long options and the
/// possible values of an option or positional, from the clap definitions.
pub(super) fn plugin_completions(words: &[String]) -> (Vec<String>, u8) {
    let (partial, before) = words.split_last().map_or(("", &[][..]), |(p, b)| (p.as_str(), b));
    let mut cmd = Cli::command();
    cmd.build();
    let mut current = &cmd;
    for word in before {
        if let Some(sub) = current.find_subcommand(word) {
            current = sub;
        }
    }
    let pick = |names: Vec<String>| names.into_iter().filter(|n| n.starts_with(partial)).collect::<Vec<_>>();
    if let Some(option) = before.last().and_then(|w| option_named(current, w)) {
        if option.get_action().takes_values() {
            let values = possible_values(option);
            return if values.is_empty() { (Vec::new(), FILES) } else { (pick(values), NO_FILES) };
        }
    }
    if partial.starts_with('-') {
        let longs = current.get_arguments().filter(|a| !a.is_hide_set()).filter_map(|a| a.get_long());
        return (pick(longs.map(|l| format!("--{l}")).collect()), NO_FILES);
    }
    let subcommands: Vec<String> =
        current.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name().to_string()).collect();
    let positional_values: Vec<String> = current.get_positionals().flat_map(possible_values).collect();
    if subcommands.is_empty() && positional_values.is_empty() {
        return (Vec::new(), FILES);
    }
    (pick(subcommands.into_iter().chain(positional_values).collect()), NO_FILES)
}

/// The option a word names: `--output` or `-o`.
fn option_named<'a>(cmd: &'a clap::Command, word: &str) -> Option<&'a clap::Arg> {
    if let Some(long) = word.strip_prefix("--") {
        return cmd.get_arguments().find(|a| a.get_long() == Some(long));
    }
    let mut chars = word.strip_prefix('-')?.chars();
    let (short, None) = (chars.next()?, chars.next()) else { return None };
    cmd.get_arguments().find(|a| a.get_short() == Some(short))
}

fn possible_values(arg: &clap::Arg) -> Vec<String> {
    arg.get_possible_values().iter().filter(|v| !v.is_hide_set()).map(|v| v.get_name().to_string()).collect()
}

/// One page for the command and one per (nested) subcommand: `podsizer.1`,
/// `podsizer-recommend.1`, `podsizer-import-prometheus.1`, ...
pub(super) fn man_pages(args: &ManArgs, out: &mut dyn Write) -> Result<u8> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    collect_pages(&cmd, &mut pages);
    for page in &pages {
        let mut text = Vec::new();
        page.render(&mut text)?;
        let path = args.out.join(page.get_filename());
        crate::store::atomic::write_atomically(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    writeln!(out, "wrote {} man page(s) into {}", pages.len(), args.out.display())?;
    Ok(0)
}

fn collect_pages(cmd: &clap::Command, pages: &mut Vec<clap_mangen::Man>) {
    pages.push(clap_mangen::Man::new(cmd.clone()));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect_pages(sub, pages);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_name_is_recognised_with_any_directory_or_extension() {
        for argv0 in ["kubectl-podsizer", "/usr/local/bin/kubectl-podsizer", "C:\\bin\\kubectl-podsizer.exe"] {
            let argv0 = argv0.replace('\\', "/");
            assert_eq!(invoked_as(Some(OsStr::new(&argv0))), "kubectl podsizer", "{argv0}");
        }
        for argv0 in ["podsizer", "/usr/bin/podsizer", "kubectl-podsizer-old", "kubectl"] {
            assert_eq!(invoked_as(Some(OsStr::new(argv0))), "podsizer", "{argv0}");
        }
        assert_eq!(invoked_as(None), "podsizer");
    }

    #[test]
    fn plugin_help_shows_the_kubectl_form() {
        let mut cmd = command("kubectl podsizer");
        let help = cmd.render_help().to_string();
        assert!(help.contains("Usage: kubectl podsizer [OPTIONS] <COMMAND>"), "{help}");
        assert!(help.contains("`kubectl podsizer demo`"), "{help}");
        let mut cmd = command("kubectl podsizer");
        cmd.build();
        let recommend = cmd.find_subcommand_mut("recommend").unwrap();
        assert!(recommend.render_usage().to_string().contains("kubectl podsizer recommend"));
    }

    fn complete(line: &str) -> (Vec<String>, u8) {
        plugin_completions(&line.split(' ').map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn plugin_completion_offers_subcommands_options_and_values() {
        assert_eq!(complete("rec"), (vec!["recommend".to_string()], NO_FILES));
        assert_eq!(complete("import pro"), (vec!["prometheus".to_string()], NO_FILES));
        assert_eq!(complete("recommend --kust"), (vec!["--kustomize".to_string()], NO_FILES));
        assert_eq!(complete("recommend -o j"), (vec!["json".to_string()], NO_FILES));
        assert_eq!(complete("recommend --output y"), (vec!["yaml".to_string()], NO_FILES));
        assert_eq!(complete("completions ba"), (vec!["bash".to_string()], NO_FILES));
        assert_eq!(complete("recommend --input "), (vec![], FILES), "paths come from the shell");
        let all = complete("").0;
        assert!(all.contains(&"report".to_string()) && all.contains(&"man".to_string()), "{all:?}");
        assert!(is_plugin_completion(Some(OsStr::new("/usr/local/bin/kubectl_complete-podsizer"))));
        assert!(!is_plugin_completion(Some(OsStr::new("kubectl-podsizer"))));
    }

    #[test]
    fn every_subcommand_gets_a_man_page() {
        let mut cmd = Cli::command().disable_help_subcommand(true);
        cmd.build();
        let mut pages = Vec::new();
        collect_pages(&cmd, &mut pages);
        let names: Vec<String> = pages.iter().map(clap_mangen::Man::get_filename).collect();
        for expected in ["podsizer.1", "podsizer-recommend.1", "podsizer-import-prometheus.1", "podsizer-completions.1"]
        {
            assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
        }
        let top_level = cmd.get_subcommands().count();
        assert!(pages.len() > top_level, "{} pages for {top_level} subcommands", pages.len());
    }
}
