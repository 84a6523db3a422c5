//! The pull-request bot: sizes an overlay of a GitOps repo and proposes the change as a
//! reviewed pull request, updating its own PR on later runs and never overwriting commits
//! that a human pushed to its branch.

pub(crate) mod evidence;
pub(crate) mod follow_up;
pub(crate) mod git;
pub(crate) mod github;
pub(crate) mod text;
