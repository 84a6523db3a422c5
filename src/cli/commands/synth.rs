//! `podsizer synth`: realistic synthetic samples.

use crate::cli::args::{Scenario, SynthArgs};
use crate::domain::{parse_duration, parse_timestamp, Sample};
use crate::sources::synthetic::FleetSpec;
use crate::store::remote::AnyStore;
use crate::store::sample_file::write_samples;
use anyhow::{bail, Context, Result};
use std::io::Write;

pub fn spec(args: &SynthArgs) -> Result<FleetSpec> {
    let start = parse_timestamp(&args.start).context("--start")?;
    let step = parse_duration(&args.step).context("--step")?;
    Ok(match args.scenario {
        Scenario::Demo => FleetSpec::demo(start, args.days, step),
        Scenario::Fleet => FleetSpec::fleet(args.containers, start, args.days, step),
        Scenario::Backtest => bail!("the backtest scenarios have their own shapes"),
    })
}

pub fn run(args: &SynthArgs, out: &mut dyn Write) -> Result<u8> {
    if args.scenario == Scenario::Backtest {
        return run_scenarios(args, out);
    }
    let spec = spec(args)?;
    let cluster = args.cluster.clone().unwrap_or_default();
    let in_cluster = |s: Sample| Sample { cluster: cluster.clone(), ..s };
    if let Some(dir) = &args.store {
        let store = AnyStore::open_or_create(dir, &args.s3.options())?;
        let mut total = 0;
        for day in 0..spec.days {
            let mut rows = Vec::new();
            spec.generate_day(day, |s| rows.push(in_cluster(s)));
            total += store.append(&mut crate::domain::SampleRows::from_samples(&rows))?.written;
        }
        writeln!(
            out,
            "{}: {total} samples for {} containers over {} days",
            dir.display(),
            spec.containers(),
            spec.days
        )?;
        return Ok(0);
    }
    let path = args.out.as_deref().expect("clap requires --out or --store");
    let mut rows = Vec::new();
    for day in 0..spec.days {
        spec.generate_day(day, |s| rows.push(in_cluster(s)));
    }
    write_samples(path, &mut rows)?;
    writeln!(
        out,
        "{}: {} samples for {} containers over {} days",
        path.display(),
        rows.len(),
        spec.containers(),
        spec.days
    )?;
    Ok(0)
}

/// All back-test scenarios in one file, thinned to one sample per `--step`.
fn run_scenarios(args: &SynthArgs, out: &mut dyn Write) -> Result<u8> {
    let start = parse_timestamp(&args.start).context("--start")?;
    let step = parse_duration(&args.step).context("--step")?;
    let path = args.out.as_deref().ok_or_else(|| anyhow::anyhow!("--scenario backtest writes a file: give --out"))?;
    let mut rows = Vec::new();
    for name in crate::sources::synthetic::SCENARIOS {
        crate::sources::synthetic::scenario(name, start, args.days, &mut |s| {
            if (s.timestamp_ms - start) % step == 0 {
                rows.push(s);
            }
        })
        .map_err(anyhow::Error::msg)?;
    }
    write_samples(path, &mut rows)?;
    writeln!(out, "{}: {} samples", path.display(), rows.len())?;
    Ok(0)
}

/// `podsizer trace FAMILY`: a public trace converted to samples.
pub fn run_trace(args: &crate::cli::args::TraceArgs, out: &mut dyn Write) -> Result<u8> {
    use crate::sources::traces;
    let Some(root) = &args.traces else {
        bail!("no traces folder: give --traces DIR or set {}\n{}", traces::TRACES_ENV, traces::where_to_get());
    };
    let mut rows = Vec::new();
    traces::read_family(root, &args.family, &mut |s| rows.push(s))?;
    match (&args.store, &args.out) {
        (Some(dir), _) => {
            let report = AnyStore::open_or_create(dir, &args.s3.options())?
                .append(&mut crate::domain::SampleRows::from_samples(&rows))?;
            writeln!(out, "{}: {} samples added ({} duplicates)", dir.display(), report.written, report.duplicates)?;
        }
        (None, Some(path)) => {
            write_samples(path, &mut rows)?;
            writeln!(out, "{}: {} samples", path.display(), rows.len())?;
        }
        (None, None) => bail!("give --out FILE or --store DIR"),
    }
    Ok(0)
}
