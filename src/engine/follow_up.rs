//! The follow-up on harm, part of the bot's run: when `verify` says `raise` or `revert` for a
//! container of the overlay, a separate pull request, on its own branch and with its own label,
//! changes only the harmed settings. A revert puts back the values in force before the bot's
//! change, read from git history (the overlay rendered at the parent of the bot's commit that
//! changed them). The weekly bot's rules hold: a branch with commits by others is never
//! overwritten, and a re-run that finds the same fix pushes nothing and writes nothing.

use super::pull_request::{
    bot_branch, on_base, publish, start, DryRun, PrSettings, Proposed, Publication, Published, Start,
};
use super::selection::SelectionSettings;
use super::verify::{verify, ContainerCheck, VerifySettings};
use super::{Note, Result};
use crate::analysis::verdict::{self, Thresholds, Verdict};
use crate::domain::Resources;
use crate::outputs::bot::follow_up::{self as text, Fix, LABEL};
use crate::outputs::bot::git::{Repo, BOT_EMAIL};
use crate::outputs::kustomize::{self, PatchPlan, RenderedWorkload};
use crate::outputs::notify::Notice;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// How far back git history is searched for the bot's change of a container.
const HISTORY_COMMITS: usize = 20;

/// How a follow-up ended.
#[derive(Debug)]
pub enum FollowUpOutcome {
    /// No container of the overlay needs a raise or a revert: no branch, no API call.
    NoHarm,
    /// The follow-up branch holds commits by others: nothing was overwritten.
    ForeignCommits {
        /// The follow-up branch.
        branch: String,
        /// Authors of the commits that are not the bot's.
        authors: Vec<String>,
    },
    /// A dry run: what the follow-up would have committed and proposed.
    DryRun(DryRun),
    /// The follow-up pull request now holds the fixes.
    Proposed(Proposed),
}

/// A follow-up's outcome and what it noted on the way.
#[derive(Debug)]
pub struct FollowUpRun {
    /// How it ended.
    pub outcome: FollowUpOutcome,
    /// One line per fixed container: `id: verdict (old -> new)`.
    pub fixes: Vec<String>,
    /// What it noticed along the way.
    pub notes: Vec<Note>,
}

/// The follow-up branch: the weekly branch with `-follow-up`.
pub fn follow_up_branch(settings: &PrSettings) -> String {
    format!("{}-follow-up", bot_branch(settings))
}

/// Verifies the changes recorded in `selection` and, when any container of the overlay needs a
/// raise or a revert, opens or updates the follow-up pull request; the checkout is left as found.
pub fn follow_up(settings: &PrSettings, selection: SelectionSettings, thresholds: Thresholds) -> Result<FollowUpRun> {
    settings.check()?;
    let run = verify(VerifySettings { selection, thresholds })?;
    // The selection's notes were the weekly run's too; only the follow-up's own are news.
    let mut notes = Vec::new();
    let harmed: Vec<ContainerCheck> =
        run.checks.into_iter().filter(|c| c.assessment.verdict != Verdict::Holds).collect();
    let none = |notes| Ok(FollowUpRun { outcome: FollowUpOutcome::NoHarm, fixes: vec![], notes });
    if harmed.is_empty() {
        return none(notes);
    }
    let repo = Repo::new(&settings.repo);
    let branch = follow_up_branch(settings);
    let (base, old_tip) = match start(settings, &repo, &branch)? {
        Start::Foreign(authors) => {
            let outcome = FollowUpOutcome::ForeignCommits { branch, authors };
            return Ok(FollowUpRun { outcome, fixes: vec![], notes });
        }
        Start::Ready { base, old_tip } => (base, old_tip),
    };
    let job = FollowUp { settings, repo: &repo, base: &base, branch: &branch, old_tip: old_tip.as_deref() };
    let (outcome, fixes) = on_base(settings, &repo, &base, || job.run(&harmed, &mut notes))?;
    match outcome {
        Some(outcome) => Ok(FollowUpRun { outcome, fixes, notes }),
        None => none(notes),
    }
}

struct FollowUp<'a> {
    settings: &'a PrSettings,
    repo: &'a Repo,
    base: &'a str,
    branch: &'a str,
    old_tip: Option<&'a str>,
}

impl FollowUp<'_> {
    /// The fixes written, committed and proposed; `None` when none of the harmed containers is
    /// in the overlay or the overlay already holds every fix.
    fn run(&self, harmed: &[ContainerCheck], notes: &mut Vec<Note>) -> Result<(Option<FollowUpOutcome>, Vec<String>)> {
        let s = self.settings;
        let overlay_dir = self.repo.dir().join(&s.overlay);
        let workloads = kustomize::render_overlay(&overlay_dir, &s.kubectl)?.workloads;
        let mut history =
            History { repo: self.repo, overlay: &s.overlay, kubectl: &s.kubectl, rendered: HashMap::new() };
        let mut fixes: Vec<(usize, Fix)> = Vec::new();
        for check in harmed {
            let Some((index, target)) = find(&workloads, check) else {
                notes.push(Note::Note(format!(
                    "{}: harmed ({}), but not in the overlay {}: no follow-up for it",
                    check.key,
                    check.assessment.verdict.as_str(),
                    s.overlay
                )));
                continue;
            };
            let current = target.containers.iter().find(|(n, _)| *n == check.key.container).map(|(_, r)| *r);
            let Some(current) = current else { continue };
            let (previous, previous_from) = match history.previous(self.base, target, &check.key.container)? {
                Some((values, commit)) => (values, format!("commit {commit}, the parent of the bot's change")),
                None => (check.change.before, "the settings the pods ran with before the change".to_string()),
            };
            let change = (&check.change.before, &check.change.after);
            let peak = check.observed.peak_working_set_bytes;
            let proposed = verdict::follow_up(change, &current, &previous, &check.assessment.harms, peak);
            if proposed == current {
                continue;
            }
            let revert = check.assessment.verdict == Verdict::Revert;
            let fix = Fix {
                id: format!(
                    "{} / {}/{} / {}",
                    target.namespace.as_deref().unwrap_or("-"),
                    target.kind.to_lowercase(),
                    target.name,
                    check.key.container
                ),
                container: check.key.container.clone(),
                verdict: check.assessment.verdict,
                reasons: check.assessment.harms.iter().map(|h| h.reason.clone()).collect(),
                current,
                proposed,
                previous_from: revert.then_some(previous_from),
            };
            fixes.push((index, fix));
        }
        if fixes.is_empty() {
            return Ok((None, vec![]));
        }
        self.write(&workloads, &fixes, &overlay_dir)?;
        let fixes: Vec<Fix> = fixes.into_iter().map(|(_, f)| f).collect();
        let lines = text::lines(&fixes);
        Ok((Some(self.propose(&fixes, &lines)?), lines))
    }

    /// One patch per workload with a fix, written and checked against the render.
    fn write(&self, workloads: &[RenderedWorkload], fixes: &[(usize, Fix)], overlay_dir: &Path) -> Result<()> {
        let mut by_workload: BTreeMap<usize, Vec<&Fix>> = BTreeMap::new();
        for (index, fix) in fixes {
            by_workload.entry(*index).or_default().push(fix);
        }
        let patches = by_workload.iter().map(|(i, fixes)| text::patch(&workloads[*i], fixes)).collect();
        kustomize::write_plan(overlay_dir, &PatchPlan { patches, ..PatchPlan::default() }, &self.settings.kubectl)?;
        Ok(())
    }

    fn propose(&self, fixes: &[Fix], lines: &[String]) -> Result<FollowUpOutcome> {
        let s = self.settings;
        let (title, body) = (text::title(&s.overlay, fixes), text::body(&s.overlay, fixes));
        self.repo.run(&["add", "-A", "--", &s.overlay])?;
        if s.dry_run {
            let diff = self.repo.run(&["diff", "--cached"])?;
            return Ok(FollowUpOutcome::DryRun(DryRun { diff, title, body }));
        }
        let details = lines.join("\n");
        let publication = Publication {
            branch: self.branch,
            old_tip: self.old_tip,
            title: &title,
            body: &body,
            details: &details,
            label: Some(LABEL),
        };
        let Published { pr, action, pushed, news } = publish(s, self.repo, &publication)?;
        // Harm is news when the pull request is: opened, or updated with another fix.
        let notice = (s.notice && news).then(|| Notice {
            title: title.clone(),
            monthly_cost: None,
            changes: lines.to_vec(),
            risks: fixes
                .iter()
                .flat_map(|f| {
                    f.reasons.iter().map(move |r| format!("{}: {r}", crate::outputs::format::printable(&f.id)))
                })
                .collect(),
            link: Some((format!("Open follow-up pull request #{}", pr.number), pr.url.clone())),
        });
        Ok(FollowUpOutcome::Proposed(Proposed {
            branch: self.branch.to_string(),
            pushed,
            changes: fixes.len(),
            action,
            number: pr.number,
            url: pr.url,
            title,
            notice,
        }))
    }
}

/// The rendered workload a check belongs to (kind and name, and the namespace when rendered).
fn find<'a>(workloads: &'a [RenderedWorkload], check: &ContainerCheck) -> Option<(usize, &'a RenderedWorkload)> {
    let w = &check.key.workload;
    workloads.iter().enumerate().find(|(_, x)| {
        x.kind == w.kind && x.name == w.name && x.namespace.as_deref().is_none_or(|ns| ns == w.namespace)
    })
}

/// The overlay as git history renders it, commit by commit.
struct History<'a> {
    repo: &'a Repo,
    overlay: &'a str,
    kubectl: &'a kustomize::Kubectl,
    rendered: HashMap<String, Option<Vec<RenderedWorkload>>>,
}

impl History<'_> {
    /// The container's settings before the newest bot commit on `base` that changed them, and
    /// that commit's parent (short); `None` when no bot commit in reach changed them.
    fn previous(
        &mut self,
        base: &str,
        target: &RenderedWorkload,
        container: &str,
    ) -> Result<Option<(Resources, String)>> {
        let log = self.repo.run(&["log", "--format=%H %ae", base, "--", self.overlay])?;
        let bot_commits = log.lines().filter_map(|l| l.split_once(' ')).filter(|(_, email)| *email == BOT_EMAIL);
        for (commit, _) in bot_commits.take(HISTORY_COMMITS) {
            let Some(parent) = self.repo.resolve(&format!("{commit}^")) else { continue };
            let (at, before) = (self.values(commit, target, container)?, self.values(&parent, target, container)?);
            if let (Some(at), Some(before)) = (at, before) {
                if at != before {
                    return Ok(Some((before, parent.chars().take(12).collect())));
                }
            }
        }
        Ok(None)
    }

    /// The container's settings as the overlay renders at `commit` (`None`: not there).
    fn values(&mut self, commit: &str, target: &RenderedWorkload, container: &str) -> Result<Option<Resources>> {
        if !self.rendered.contains_key(commit) {
            let rendered = self.render(commit)?;
            self.rendered.insert(commit.to_string(), rendered);
        }
        let workloads = self.rendered[commit].as_deref().unwrap_or_default();
        let same =
            |w: &&RenderedWorkload| w.kind == target.kind && w.name == target.name && w.namespace == target.namespace;
        Ok(workloads.iter().find(same).and_then(|w| w.containers.iter().find(|(n, _)| n == container)).map(|(_, r)| *r))
    }

    /// Renders the overlay of `commit` from a temporary work tree of it (the overlay may use
    /// bases anywhere in the repository); `None` when it does not render there.
    fn render(&self, commit: &str) -> Result<Option<Vec<RenderedWorkload>>> {
        // A fresh path: `git worktree add` makes the folder and `remove` deletes it again.
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let tree = std::env::temp_dir().join(format!("podsizer-history-{}-{stamp}", std::process::id()));
        let tree_arg = tree.to_string_lossy().to_string();
        self.repo.run(&["worktree", "add", "-q", "--detach", &tree_arg, commit])?;
        let rendered = kustomize::render_overlay(&tree.join(self.overlay), self.kubectl).ok().map(|o| o.workloads);
        let _ = self.repo.run(&["worktree", "remove", "--force", &tree_arg]);
        let _ = self.repo.run(&["worktree", "prune"]);
        Ok(rendered)
    }
}
