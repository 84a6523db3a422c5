//! `podsizer import FILE... --store DIR`

use crate::cli::args::ImportArgs;
use crate::sources::files::read_sample_file;
use crate::store::remote::AnyStore;
use anyhow::Result;
use std::io::Write;

/// Validates every file before writing anything: one bad file means nothing is imported.
pub fn run(args: &ImportArgs, out: &mut dyn Write) -> Result<u8> {
    let mut batches = Vec::new();
    let progress = crate::cli::progress::bar(args.files.len() as u64, "reading files");
    for file in &args.files {
        progress.set_message(file.display().to_string());
        let outcome = read_sample_file(file, args.skip_bad_rows);
        progress.inc(1);
        let outcome = outcome.inspect_err(|_| progress.finish_and_clear())?;
        if outcome.skipped_count > 0 {
            progress.suspend(|| {
                eprintln!("warning: {}: skipped {} bad row(s):", file.display(), outcome.skipped_count);
                for bad in &outcome.skipped {
                    eprintln!("  {bad}");
                }
            });
        }
        let mut samples = outcome.samples;
        if let Some(cluster) = &args.cluster {
            samples.iter_mut().filter(|s| s.cluster.is_empty()).for_each(|s| s.cluster.clone_from(cluster));
        }
        batches.push((file, samples));
    }
    progress.finish_and_clear();
    let store = AnyStore::open_or_create(args.store.as_deref().expect("clap requires --store"), &args.s3.options())?;
    for (file, samples) in batches {
        let report = store.append(samples)?;
        writeln!(
            out,
            "{}: {} rows read, {} added, {} already stored, {} day partition(s)",
            file.display(),
            report.received,
            report.written,
            report.duplicates,
            report.days
        )?;
    }
    Ok(0)
}

/// An importer's resume state, if a previous run saved one.
pub(super) fn load_state<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<Option<T>> {
    use anyhow::Context;
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("{}: unreadable import state (delete it to import from --since again)", path.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

pub(super) fn save_state<T: serde::Serialize>(path: &std::path::Path, state: &T) -> Result<()> {
    use anyhow::Context;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(state).expect("state serialises");
    crate::store::atomic::write_atomically(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

pub(super) use crate::sources::sink::stable_hash;
