//! The few git operations the bot needs, through the `git` command (the user's git, their
//! credentials and hooks), each failing with the command and git's own message.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Who the bot commits as; commits by anyone else on the bot branch are a human's.
pub(crate) const BOT_NAME: &str = "podsizer-bot";
pub(crate) const BOT_EMAIL: &str = "podsizer-bot@users.noreply.github.com";

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}")]
    Spawn(std::io::Error),
    #[error("`git {args}` failed in {dir}: {stderr}")]
    Failed { dir: PathBuf, args: String, stderr: String },
}

/// A git work tree.
pub(crate) struct Repo {
    dir: PathBuf,
}

impl Repo {
    pub(crate) fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf() }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs git and returns trimmed stdout.
    pub(crate) fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(["-c", &format!("user.name={BOT_NAME}"), "-c", &format!("user.email={BOT_EMAIL}")])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .map_err(GitError::Spawn)?;
        if !out.status.success() {
            return Err(GitError::Failed {
                dir: self.dir.clone(),
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Uncommitted changes (tracked or untracked), as `git status --porcelain` lines.
    pub(crate) fn dirty(&self) -> Result<Vec<String>, GitError> {
        Ok(self.run(&["status", "--porcelain"])?.lines().map(String::from).collect())
    }

    /// The current branch, or the commit when detached.
    pub(crate) fn head(&self) -> Result<String, GitError> {
        match self.run(&["symbolic-ref", "--quiet", "--short", "HEAD"]) {
            Ok(branch) => Ok(branch),
            Err(_) => self.run(&["rev-parse", "HEAD"]),
        }
    }

    /// The commit a ref points to, or `None` when it does not exist.
    pub(crate) fn resolve(&self, reference: &str) -> Option<String> {
        self.run(&["rev-parse", "--verify", "--quiet", &format!("{reference}^{{commit}}")]).ok()
    }

    /// Authors (`Name <email>`) of commits in `range` that are not the bot.
    pub(crate) fn foreign_authors(&self, range: &str) -> Result<Vec<String>, GitError> {
        let log = self.run(&["log", "--format=%an <%ae>", range])?;
        let mut authors: Vec<String> = log.lines().filter(|l| !l.contains(BOT_EMAIL)).map(String::from).collect();
        authors.dedup();
        Ok(authors)
    }
}
