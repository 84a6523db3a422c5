//! The pull-request bot's run: size an overlay of a GitOps checkout and propose the result as
//! a pull request that it opens, or updates on later runs.
//!
//! Works detached at `REMOTE/BASE` so no local branch is touched, always returns the checkout
//! to where it was, and never force-pushes over commits that are not the bot's.

use super::selection::SelectionSettings;
use super::sizing::{size_all, SizingRun, SizingSettings};
use super::{EngineError, Note, Progress, Result};
use crate::analysis::series::{Prices, Series};
use crate::domain::NodeShape;
use crate::outputs::bot::git::Repo;
use crate::outputs::bot::github::GitHub;
use crate::outputs::bot::text::{self, Thresholds};
use crate::outputs::kustomize;
use crate::outputs::notify::Notice;
use crate::outputs::report::ReportInput;
use std::path::{Path, PathBuf};

/// GitHub refuses bodies over 65,536 characters.
const MAX_BODY: usize = 60_000;

/// Where and how to propose, resolved.
#[derive(Debug, Clone)]
pub struct PrSettings {
    /// A clean checkout of the GitOps repository.
    pub repo: PathBuf,
    /// The overlay to size, relative to the repository.
    pub overlay: String,
    /// The branch the pull request targets and sizing starts from (e.g. `main`).
    pub base: String,
    /// The bot's branch (default: `podsizer/<overlay folder name>`).
    pub branch: Option<String>,
    /// The git remote fetched from and pushed to (e.g. `origin`).
    pub remote: String,
    /// GitHub OWNER/NAME and API base; `None` only with `dry_run`.
    pub github_repo: Option<String>,
    /// Base URL of the GitHub REST API (e.g. `https://api.github.com`).
    pub github_api: String,
    /// GitHub token for pushing and the API; may be empty with `dry_run`.
    pub token: String,
    /// How big a change must be to be proposed.
    pub thresholds: Thresholds,
    /// Show the diff and the text; push nothing, call no API.
    pub dry_run: bool,
    /// Prices for the cost change in the title and body.
    pub prices: Prices,
    /// Node shapes a proposal must fit on.
    pub nodes: Vec<NodeShape>,
    /// Build a notice for a chat webhook when the pull request was opened or updated.
    pub notice: bool,
    /// The kubectl that renders the overlay after the patches are written.
    pub kubectl: crate::outputs::kustomize::Kubectl,
}

impl PrSettings {
    /// What can be refused before any work: no token or repository, an overlay path that leaves the checkout.
    pub fn check(&self) -> Result<()> {
        if !self.dry_run && (self.token.is_empty() || self.github_repo.is_none()) {
            return Err(EngineError::NoGitHub);
        }
        overlay_is_relative(&self.overlay)
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum PrOutcome {
    /// The bot's branch holds commits by others: nothing was overwritten.
    ForeignCommits {
        /// The bot's branch.
        branch: String,
        /// Authors of the commits that are not the bot's.
        authors: Vec<String>,
    },
    /// No change is above the thresholds: no commit, no pull request.
    NothingChanged,
    /// A dry run: what would have been committed and proposed.
    DryRun(DryRun),
    /// A pull request now holds these sizes.
    Proposed(Proposed),
}

/// What a dry run would have committed and proposed (the weekly or the follow-up pull request).
#[derive(Debug)]
pub struct DryRun {
    /// The overlay diff the commit would hold.
    pub diff: String,
    /// The pull request's title.
    pub title: String,
    /// The pull request's body (Markdown).
    pub body: String,
}

/// A pull request opened, updated, or already holding these sizes.
#[derive(Debug)]
pub struct Proposed {
    /// The bot's branch the sizes were pushed to.
    pub branch: String,
    /// False when the branch already held the same tree.
    pub pushed: bool,
    /// Number of changes above the thresholds.
    pub changes: usize,
    /// "opened", "updated", or `None` when the existing pull request was left as it was.
    pub action: Option<&'static str>,
    /// The pull request's number.
    pub number: u64,
    /// The pull request's web address.
    pub url: String,
    /// The pull request's title.
    pub title: String,
    /// For the chat webhook, when asked for and the pull request is news.
    pub notice: Option<Notice>,
}

/// A run's outcome and what it noted on the way.
pub struct PrRun {
    /// How the run ended.
    pub outcome: PrOutcome,
    /// What the run noticed along the way.
    pub notes: Vec<Note>,
}

/// Sizes the overlay at `REMOTE/BASE` and proposes it; the checkout is left as it was found.
pub fn propose_sizes(
    settings: &PrSettings,
    input: SelectionSettings,
    sizing: SizingSettings,
    progress: &dyn Progress,
) -> Result<PrRun> {
    settings.check()?;
    let repo = Repo::new(&settings.repo);
    let branch = bot_branch(settings);
    let (base, old_tip) = match start(settings, &repo, &branch)? {
        Start::Foreign(authors) => {
            return Ok(PrRun { outcome: PrOutcome::ForeignCommits { branch, authors }, notes: vec![] })
        }
        Start::Ready { base, old_tip } => (base, old_tip),
    };
    on_base(settings, &repo, &base, || {
        let bot = Bot { settings, repo: &repo, branch, old_tip };
        bot.propose(input, sizing, progress)
    })
}

/// The bot's weekly branch: the one asked for, or `podsizer/<overlay folder name>`.
pub(crate) fn bot_branch(settings: &PrSettings) -> String {
    settings.branch.clone().unwrap_or_else(|| {
        format!("podsizer/{}", settings.overlay.trim_end_matches('/').rsplit('/').next().unwrap_or("overlay"))
    })
}

/// Where a run on a bot branch starts.
pub(crate) enum Start {
    /// The branch holds commits by these authors, who are not the bot: it is left alone.
    Foreign(Vec<String>),
    /// `REMOTE/BASE` to work from and the branch's tip on the remote, if it exists.
    Ready { base: String, old_tip: Option<String> },
}

/// Refuses a dirty checkout, fetches, and checks that `branch` holds only the bot's commits.
pub(crate) fn start(settings: &PrSettings, repo: &Repo, branch: &str) -> Result<Start> {
    let dirty = repo.dirty()?;
    if !dirty.is_empty() {
        return Err(EngineError::PullRequest(format!(
            "{}: the work tree has uncommitted changes ({}); podsizer pr needs a clean checkout",
            settings.repo.display(),
            dirty.join(", ")
        )));
    }
    repo.run(&["fetch", "-q", "--prune", &settings.remote])?;
    let base = format!("{}/{}", settings.remote, settings.base);
    if repo.resolve(&base).is_none() {
        return Err(EngineError::PullRequest(format!("{base} does not exist in {}", settings.repo.display())));
    }
    let old_tip = repo.resolve(&format!("{}/{branch}", settings.remote));
    if let Some(tip) = &old_tip {
        let authors = repo.foreign_authors(&format!("{base}..{tip}"))?;
        if !authors.is_empty() {
            return Ok(Start::Foreign(authors));
        }
    }
    Ok(Start::Ready { base, old_tip })
}

/// Runs `work` detached at `base`; whatever happens, the checkout is left as it was found.
pub(crate) fn on_base<T>(
    settings: &PrSettings,
    repo: &Repo,
    base: &str,
    work: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let original = repo.head()?;
    repo.run(&["checkout", "-q", "--detach", base])?;
    let result = work();
    let _ = repo.run(&["reset", "-q", "--hard"]);
    let _ = repo.run(&["clean", "-q", "-fd", "--", &settings.overlay]);
    repo.run(&["checkout", "-q", &original]).map_err(EngineError::Checkout)?;
    result
}

/// What to commit from the staged overlay and propose on a bot branch.
pub(crate) struct Publication<'a> {
    pub branch: &'a str,
    /// The branch's tip on the remote before this run.
    pub old_tip: Option<&'a str>,
    pub title: &'a str,
    pub body: &'a str,
    /// The commit message's body.
    pub details: &'a str,
    /// A label the pull request must carry.
    pub label: Option<&'a str>,
}

/// A pull request as a publication left it.
pub(crate) struct Published {
    pub pr: crate::outputs::bot::github::PullRequest,
    /// "opened", "updated", or `None` when it already held this tree.
    pub action: Option<&'static str>,
    /// False when the branch already held the same tree (no commit pushed).
    pub pushed: bool,
    /// Whether any GitHub write was made (the pull request is news).
    pub news: bool,
}

/// Commits the staged overlay, pushes it unless the branch holds the same tree (a re-run adds no
/// commit), and opens or updates the branch's pull request.
pub(crate) fn publish(settings: &PrSettings, repo: &Repo, p: &Publication) -> Result<Published> {
    let s = settings;
    repo.run(&["commit", "-q", "-m", p.title, "-m", p.details])?;
    let same_tree = p.old_tip.is_some_and(|tip| repo.run(&["diff", "--quiet", tip, "HEAD"]).is_ok());
    if !same_tree {
        let lease = format!("--force-with-lease=refs/heads/{}:{}", p.branch, p.old_tip.unwrap_or(""));
        repo.run(&["push", "-q", &lease, &s.remote, &format!("HEAD:refs/heads/{}", p.branch)])?;
    }
    let mut github = GitHub::new(&s.github_api, s.github_repo.as_deref().expect("checked"), s.token.clone());
    let (pr, action) = match github.find_open(p.branch)? {
        Some(existing) if same_tree => (existing, None),
        Some(existing) => (github.update(existing.number, p.title, p.body)?, Some("updated")),
        None => (github.open(p.branch, &s.base, p.title, p.body)?, Some("opened")),
    };
    if let Some(label) = p.label.filter(|l| !pr.labels.iter().any(|x| x == l)) {
        github.add_label(pr.number, label)?;
    }
    Ok(Published { pr, action, pushed: !same_tree, news: github.writes > 0 })
}

struct Bot<'a> {
    settings: &'a PrSettings,
    repo: &'a Repo,
    branch: String,
    old_tip: Option<String>,
}

impl Bot<'_> {
    fn propose(&self, input: SelectionSettings, mut sizing: SizingSettings, progress: &dyn Progress) -> Result<PrRun> {
        let s = self.settings;
        let overlay_dir = overlay_inside(self.repo.dir(), &s.overlay)?;
        sizing.overlay = Some(overlay_dir.clone());
        let mut run = size_all(input, &sizing, progress)?;
        let notes = std::mem::take(&mut run.notes);
        let outcome = self.publish(&run, &overlay_dir, &sizing.strategy)?;
        Ok(PrRun { outcome, notes })
    }

    fn publish(&self, run: &SizingRun, overlay_dir: &Path, strategy: &str) -> Result<PrOutcome> {
        let (s, repo, branch) = (self.settings, self.repo, &self.branch);
        let recs = &run.recommendations;
        let changes = text::significant_changes(recs, &s.thresholds);
        if changes.is_empty() {
            return Ok(PrOutcome::NothingChanged);
        }
        let mut patch_plan = kustomize::plan(overlay_dir, &run.overlay.workloads, recs)?;
        patch_plan.patches.extend(run.hpa_patches.iter().cloned());
        patch_plan.patches.extend(run.runtime_patches.iter().cloned());
        kustomize::write_plan(overlay_dir, &patch_plan, &s.kubectl)?;
        let cost = text::monthly_cost(recs, &s.prices);
        let title = text::title(&s.overlay, changes.len(), cost);
        let series = run.selection.series()?;
        let report = crate::outputs::report::build(&self.report_input(run, strategy, &series));
        let evidence = super::evidence::changed_containers(run, &series, &s.thresholds, &s.prices)?;
        let body = self.body(run, &report, &changes, cost, &crate::outputs::bot::evidence::section(&evidence));
        repo.run(&["add", "-A", "--", &s.overlay])?;
        if s.dry_run {
            let diff = repo.run(&["diff", "--cached"])?;
            return Ok(PrOutcome::DryRun(DryRun { diff, title, body }));
        }
        let details = changes.join("\n");
        let publication = Publication {
            branch,
            old_tip: self.old_tip.as_deref(),
            title: &title,
            body: &body,
            details: &details,
            label: None,
        };
        let Published { pr, action, pushed, news } = publish(s, repo, &publication)?;
        // Only a pull request this run opened or updated is news; an unchanged one is not re-announced.
        let notice = (s.notice && news).then(|| {
            let link = Some((format!("Open pull request #{}", pr.number), pr.url.clone()));
            Notice::from_report(title.clone(), &report.doc, changes.clone(), link)
        });
        Ok(PrOutcome::Proposed(Proposed {
            branch: branch.clone(),
            pushed,
            changes: changes.len(),
            action,
            number: pr.number,
            url: pr.url,
            title,
            notice,
        }))
    }

    /// The weekly report's Markdown (charts left out: a PR body cannot host them) under a
    /// summary of the changes; the short summary alone when the report would not fit.
    fn body(
        &self,
        run: &SizingRun,
        report: &crate::outputs::report::Report,
        changes: &[String],
        cost: (f64, f64),
        evidence: &str,
    ) -> String {
        let overlay = &self.settings.overlay;
        let report = crate::outputs::report::markdown_without_charts(report);
        let (intro, list) = (text::intro(overlay, cost), text::change_list(changes));
        let body = format!("{intro}\n{list}\n{evidence}\n{report}\n{}", text::FOOTER);
        if body.len() <= MAX_BODY {
            body
        } else {
            // The evidence stays, above the short summary's reasons.
            let summary = text::summary_body(overlay, &run.recommendations, changes, cost);
            summary.replacen("\n## Why\n", &format!("\n{evidence}\n## Why\n"), 1)
        }
    }

    /// What the report behind the pull request body (and the notification) is made from.
    fn report_input<'a>(&'a self, run: &'a SizingRun, strategy: &'a str, series: &'a [Series]) -> ReportInput<'a> {
        let s = self.settings;
        ReportInput {
            strategy,
            since: run.selection.since,
            until: run.selection.until,
            recommendations: &run.recommendations,
            series,
            prices: s.prices,
            tz: chrono_tz::UTC,
            current_source: Some(format!("{} on {}/{}", s.overlay, s.remote, s.base)),
            previous: None,
            nodes: &s.nodes,
            // The body shows the evidence in its own section, above the report.
            evidence: &[],
            verdicts: &[],
        }
    }
}

/// `--overlay` names a folder inside the checkout: the patches are committed from there, so
/// a `../` or absolute path would write into files that are not the repository's.
fn overlay_is_relative(overlay: &str) -> Result<()> {
    use std::path::Component;
    let plain = Path::new(overlay).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if overlay.is_empty() || !plain {
        return Err(EngineError::OverlayPath {
            overlay: overlay.to_string(),
            problem: "must be a folder inside the repository, relative to it, without `..`".into(),
        });
    }
    Ok(())
}

/// The overlay folder, proven inside the checkout once symlinks are resolved.
fn overlay_inside(repo: &Path, overlay: &str) -> Result<PathBuf> {
    let dir = repo.join(overlay);
    let (Ok(real_repo), Ok(real_dir)) = (repo.canonicalize(), dir.canonicalize()) else {
        return Err(EngineError::PullRequest(format!(
            "{}: the overlay folder does not exist on the base branch",
            dir.display()
        )));
    };
    if !real_dir.starts_with(&real_repo) {
        return Err(EngineError::OverlayPath {
            overlay: overlay.to_string(),
            problem: format!("resolves to {}, outside the repository {}", real_dir.display(), real_repo.display()),
        });
    }
    Ok(dir)
}
