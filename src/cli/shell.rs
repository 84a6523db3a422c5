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
pub const PLUGIN_FILE: &str = "kubectl-podsizer";

/// How the user typed the command: `kubectl podsizer` when this binary runs as the plugin
/// (kubectl passes the plugin's path as argv[0]), else `podsizer`.
pub fn invoked_as(argv0: Option<&OsStr>) -> &'static str {
    let stem = argv0.map(Path::new).and_then(Path::file_stem).and_then(OsStr::to_str).unwrap_or("");
    if stem == PLUGIN_FILE {
        "kubectl podsizer"
    } else {
        "podsizer"
    }
}

/// The clap command with usage lines and hints in the form the user typed.
pub fn command(invoked: &str) -> clap::Command {
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

pub fn completions(args: &CompletionsArgs, invoked: &str, out: &mut dyn Write) -> Result<u8> {
    let name = executable_name(invoked);
    let mut cmd = Cli::command().bin_name(name);
    clap_complete::generate(args.shell, &mut cmd, name, out);
    Ok(0)
}

/// One page for the command and one per (nested) subcommand: `podsizer.1`,
/// `podsizer-recommend.1`, `podsizer-import-prometheus.1`, ...
pub fn man_pages(args: &ManArgs, out: &mut dyn Write) -> Result<u8> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    collect_pages(&cmd, &mut pages);
    for page in &pages {
        let mut text = Vec::new();
        page.render(&mut text)?;
        let path = args.out.join(page.get_filename());
        crate::outputs::write_file(&path, &text).with_context(|| format!("writing {}", path.display()))?;
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

    #[test]
    fn every_subcommand_gets_a_man_page() {
        let mut cmd = Cli::command().disable_help_subcommand(true);
        cmd.build();
        let mut pages = Vec::new();
        collect_pages(&cmd, &mut pages);
        let names: Vec<String> = pages.iter().map(|p| p.get_filename()).collect();
        for expected in ["podsizer.1", "podsizer-recommend.1", "podsizer-import-prometheus.1", "podsizer-completions.1"]
        {
            assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
        }
        let top_level = cmd.get_subcommands().count();
        assert!(pages.len() > top_level, "{} pages for {top_level} subcommands", pages.len());
    }
}
