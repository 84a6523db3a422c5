//! Arguments of `podsizer verify`.

use super::InputArgs;
use crate::outputs::OutputFormat;
use clap::Args;

pub(crate) const VERIFY_HELP: &str = "For each container whose requests or limits changed, finds when the change took \
effect (the first hour a pod ran with the new values, from the settings over time that `import prometheus` \
records beside the samples), compares what its pods on the new values went through since with what the change \
promised, and gives a verdict: `holds`, `raise` (harm on a setting the change did not lower: raise it) or \
`revert` (harm on a resource the change lowered: put the previous values back), with the reasons and the numbers.\n\n\
Signals: OOM kills and other restarts, evictions, throttled CFS periods, usage samples above the new CPU limit \
and working set above the new memory request. A signal the source did not record is unknown, never zero \
(docs/verify.md).\n\n\
Exit codes: 0 success, 1 a verdict is raise or revert (with --fail-on-harm), 2 error.";

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: OutputFormat,
    /// Exit with code 1 when any verdict is raise or revert (for CI gates and the bot).
    #[arg(long)]
    pub fail_on_harm: bool,
}
