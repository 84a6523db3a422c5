//! `--notify-webhook`: after `report` or `pr` succeeded, a summary to Slack or Teams.
//!
//! A notification that fails is a warning, not a failed command: the report is written or
//! the pull request is open, and running again would repeat that work.

use crate::cli::args::NotifyArgs;
use crate::cli::progress::note;
use crate::outputs::notify::{self, Notice};

fn webhook(args: &NotifyArgs) -> Option<&str> {
    args.notify_webhook.as_deref().map(str::trim).filter(|u| !u.is_empty())
}

/// Fails before any work when the payload shape cannot be known.
pub(super) fn check(args: &NotifyArgs) -> anyhow::Result<()> {
    if let Some(url) = webhook(args) {
        args.notify_format.resolve(url)?;
    }
    Ok(())
}

pub(super) fn wanted(args: &NotifyArgs) -> bool {
    webhook(args).is_some()
}

pub(super) fn post(args: &NotifyArgs, notice: &Notice) {
    let Some(url) = webhook(args) else { return };
    let sent = args.notify_format.resolve(url).and_then(|flavor| notify::send(url, &notify::payload(flavor, notice)));
    match sent {
        Ok(()) => note("sent the summary to the notification webhook"),
        Err(e) => eprintln!("warning: summary not sent: {e}"),
    }
}
