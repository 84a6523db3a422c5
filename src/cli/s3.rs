//! `s3://` inputs: which day partitions a command needs, pulled into the local mirror before
//! the ordinary store reader runs on it.

use super::args::InputArgs;
use crate::store::remote::{DaysWanted, RemoteStore};
use crate::store::s3::S3Location;
use crate::store::Store;
use anyhow::{Context, Result};
use std::path::Path;

/// For an `s3://` input: connects, pulls the partitions of `window` (those the selection can
/// touch) into the mirror and returns the mirror as a store. `None` when `path` is not an S3 URL.
pub(super) fn open_input(path: &Path, args: &InputArgs, window: DaysWanted) -> Result<Option<Store>> {
    let Some(location) = S3Location::from_path(path) else { return Ok(None) };
    let location = location?;
    let started = std::time::Instant::now();
    let remote = RemoteStore::open(&location, &args.s3.options())?;
    let transfer = remote.pull(window).with_context(|| format!("reading {location}"))?;
    if std::env::var_os("PODSIZER_STATS").is_some() || transfer.bytes_down > 64 << 20 {
        crate::cli::progress::note(&format!(
            "{location}: {} in {:.1}s (mirror {})",
            transfer.describe(),
            started.elapsed().as_secs_f64(),
            remote.local().root().display()
        ));
    }
    Ok(Some(remote.local().clone()))
}
