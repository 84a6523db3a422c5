//! `podsizer import FILE... --store DIR`

use crate::cli::args::ImportArgs;
use crate::sources::files::read_sample_file;
use crate::store::remote::AnyStore;
use anyhow::Result;
use std::io::Write;

/// Validates every file before writing anything: one bad file means nothing is imported.
pub fn run(args: &ImportArgs, out: &mut dyn Write) -> Result<u8> {
    let mut batches = Vec::new();
    for file in &args.files {
        let outcome = read_sample_file(file, args.skip_bad_rows)?;
        if outcome.skipped_count > 0 {
            eprintln!("warning: {}: skipped {} bad row(s):", file.display(), outcome.skipped_count);
            for bad in &outcome.skipped {
                eprintln!("  {bad}");
            }
        }
        batches.push((file, outcome.samples));
    }
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
