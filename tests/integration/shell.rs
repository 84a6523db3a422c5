//! The binary in the user's shell: the kubectl plugin form, bash completion, man pages,
//! `--quiet` and what piped output holds.

use crate::support::demo;
use crate::support::podsizer;
use demo::{fixtures, gitops_copy, kubectl};
use std::path::{Path, PathBuf};

fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("podsizer")
}

/// A folder holding only `kubectl-podsizer`, a symlink to the built binary.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(binary(), dir.path().join("kubectl-podsizer")).unwrap();
    dir
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn kubectl_runs_the_plugin_through_a_symlink_and_help_shows_the_plugin_form() {
    let dir = plugin_dir();
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let output = std::process::Command::new(kubectl())
        .args(["podsizer", "--help"])
        .env("PATH", &path)
        .output()
        .expect("kubectl runs");
    let help = stdout_of(&output);
    assert!(output.status.success(), "{help}{}", String::from_utf8_lossy(&output.stderr));
    assert!(help.contains("Usage: kubectl podsizer [OPTIONS] <COMMAND>"), "{help}");
    assert!(help.contains("`kubectl podsizer demo`"), "{help}");

    let output = std::process::Command::new(kubectl())
        .args(["podsizer", "recommend", "--help"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let help = stdout_of(&output);
    assert!(help.contains("Usage: kubectl podsizer recommend [OPTIONS]"), "{help}");
    // Under its own name the help is the plain form.
    let plain = podsizer().arg("--help").output().unwrap();
    assert!(stdout_of(&plain).contains("Usage: podsizer [OPTIONS] <COMMAND>"));
}

#[test]
fn kubectl_plugin_does_real_work() {
    let dir = plugin_dir();
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let output = std::process::Command::new(kubectl())
        .args(["podsizer", "recommend", "-o", "json", "--input"])
        .arg(fixtures().join("demo/samples.parquet"))
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let direct = podsizer()
        .args(["recommend", "-o", "json", "--input"])
        .arg(fixtures().join("demo/samples.parquet"))
        .output()
        .unwrap();
    assert_eq!(output.stdout, direct.stdout, "the plugin sizes exactly as the binary does");
}

/// Runs bash's programmable completion for `line` (cursor at the end) with the generated
/// script loaded, and returns the candidates.
fn bash_complete(script: &Path, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let program = format!(
        "source {script}\n\
         COMP_LINE={line:?}; COMP_POINT=${{#COMP_LINE}}\n\
         COMP_WORDS=({words}); COMP_CWORD={cword}\n\
         func=$(complete -p podsizer | sed -E 's/.*-F ([^ ]+).*/\\1/')\n\
         \"$func\" podsizer {current:?} {previous:?}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display(),
        words = words.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(" "),
        cword = words.len() - 1,
        current = words[words.len() - 1],
        previous = words[words.len().saturating_sub(2)],
    );
    let output = std::process::Command::new("bash").arg("--norc").arg("-c").arg(program).output().expect("bash runs");
    assert!(output.status.success(), "bash: {}", String::from_utf8_lossy(&output.stderr));
    stdout_of(&output).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn bash_loads_the_completion_script_and_completes_subcommands_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let output = podsizer().args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success());
    let script = dir.path().join("podsizer.bash");
    std::fs::write(&script, &output.stdout).unwrap();

    assert_eq!(bash_complete(&script, "podsizer rec"), ["recommend"]);
    let subcommands = bash_complete(&script, "podsizer ");
    for expected in ["recommend", "report", "import", "backtest", "pr", "collect", "completions", "man"] {
        assert!(subcommands.iter().any(|s| s == expected), "{expected} missing from {subcommands:?}");
    }
    assert_eq!(bash_complete(&script, "podsizer recommend --kust"), ["--kustomize"]);
    assert_eq!(bash_complete(&script, "podsizer completions po"), ["powershell"]);
}

#[test]
fn every_shell_gets_a_script() {
    for (shell, marker) in
        [("zsh", "#compdef podsizer"), ("fish", "complete -c podsizer"), ("powershell", "Register-ArgumentCompleter")]
    {
        let output = podsizer().args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}");
        assert!(stdout_of(&output).contains(marker), "{shell} script lacks {marker:?}");
    }
    podsizer().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn man_pages_for_the_command_and_each_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let output = podsizer().args(["man", "--out"]).arg(&out).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let top = std::fs::read_to_string(out.join("podsizer.1")).unwrap();
    assert!(
        top.starts_with(".ie \\n(.g .ds Aq \\(aq") || top.contains(".TH podsizer"),
        "{}",
        &top[..200.min(top.len())]
    );
    assert!(top.contains("recommend"));
    let recommend = std::fs::read_to_string(out.join("podsizer-recommend.1")).unwrap();
    assert!(recommend.contains("\\-\\-kustomize"), "recommend page lists its options");
    assert!(out.join("podsizer-import-prometheus.1").exists());
    let count = std::fs::read_dir(&out).unwrap().count();
    assert!(stdout_of(&output).contains(&format!("wrote {count} man page(s)")), "{}", stdout_of(&output));
}

#[test]
fn quiet_keeps_results_and_drops_notes() {
    let run = |quiet: bool| {
        let (_dir, overlay) = gitops_copy();
        let mut cmd = podsizer();
        if quiet {
            cmd.arg("-q");
        }
        let output = cmd
            .args(["recommend", "-o", "json", "--input"])
            .arg(fixtures().join("demo/samples.parquet"))
            .arg("--kustomize")
            .arg(&overlay)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(overlay.join("podsizer-deployment-api.yaml").exists(), "patches are written either way");
        (output.stdout, String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (loud_out, loud_err) = run(false);
    let (quiet_out, quiet_err) = run(true);
    assert!(loud_err.contains("wrote "), "{loud_err}");
    assert_eq!(quiet_err, "", "--quiet prints nothing but warnings and errors");
    assert_eq!(loud_out, quiet_out, "the result is the same");
    // Piped stderr (as here) never gets progress bars: no carriage returns, no escapes.
    assert!(!loud_err.contains('\r') && !loud_err.contains('\u{1b}'), "{loud_err:?}");
}

#[test]
fn quiet_is_accepted_after_the_subcommand_too() {
    let dir = tempfile::tempdir().unwrap();
    let output = podsizer()
        .args(["import", "--store"])
        .arg(dir.path().join("st"))
        .arg(fixtures().join("demo/samples.parquet"))
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout_of(&output).contains("rows read"), "the import's result still goes to stdout");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn krew_package_names_its_archive_with_the_right_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/krew/package.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .arg(binary())
        .arg(dir.path())
        .arg("https://downloads.example.com/podsizer/")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let manifest: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(dir.path().join("podsizer.yaml")).unwrap()).unwrap();
    assert_eq!(manifest["kind"], "Plugin");
    assert_eq!(manifest["metadata"]["name"], "podsizer", "installed as kubectl-podsizer");
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["spec"]["version"].as_str(), Some(version.as_str()));
    let platform = &manifest["spec"]["platforms"][0];
    assert_eq!(platform["bin"], "podsizer");
    let archive = format!("podsizer-{}-linux-amd64.tar.gz", env!("CARGO_PKG_VERSION"));
    assert_eq!(platform["uri"].as_str().unwrap(), format!("https://downloads.example.com/podsizer/{archive}"));
    let sum = std::process::Command::new("sha256sum").arg(dir.path().join(&archive)).output().unwrap();
    let sum = String::from_utf8(sum.stdout).unwrap();
    assert_eq!(platform["sha256"].as_str(), sum.split_whitespace().next());
    let listing = std::process::Command::new("tar").arg("-tzf").arg(dir.path().join(&archive)).output().unwrap();
    assert_eq!(String::from_utf8(listing.stdout).unwrap().trim(), "podsizer");
    let text = std::fs::read_to_string(dir.path().join("podsizer.yaml")).unwrap();
    let unfilled: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with('#') && l.contains('@')).collect();
    assert!(unfilled.is_empty(), "placeholders left: {unfilled:?}");
}

#[test]
fn kubectl_completes_the_plugin_through_its_completion_helper() {
    let dir = plugin_dir();
    std::os::unix::fs::symlink(binary(), dir.path().join("kubectl_complete-podsizer")).unwrap();
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let complete = |words: &[&str]| {
        let output = std::process::Command::new(kubectl())
            .arg("__complete")
            .arg("podsizer")
            .args(words)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        stdout_of(&output).lines().map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(complete(&["rec"]), ["recommend", ":4"]);
    assert_eq!(complete(&["recommend", "--kusto"]), ["--kustomize", ":4"]);
    assert_eq!(complete(&["report", "--notify-format", ""]), ["auto", "slack", "teams", ":4"]);
}
