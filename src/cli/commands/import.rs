//! `podsizer import FILE... --store DIR`

use crate::cli::args::ImportArgs;
use crate::sources::files::read_sample_file;
use crate::store::remote::AnyStore;
use anyhow::Result;
use std::io::Write;

/// Validates every file before writing anything: one bad file means nothing is imported.
pub(crate) fn run(args: &ImportArgs, out: &mut dyn Write) -> Result<u8> {
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
        let report = store.append(&mut crate::domain::SampleRows::from_samples(&samples))?;
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
