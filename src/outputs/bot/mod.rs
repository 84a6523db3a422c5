//! The pull-request bot: sizes an overlay of a GitOps repo and proposes the change as a
//! reviewed pull request, updating its own PR on later runs and never overwriting commits
//! that a human pushed to its branch.

pub mod evidence;
pub mod git;
pub mod github;
pub mod text;
