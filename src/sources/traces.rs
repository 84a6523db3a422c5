//! Public resource-usage traces as samples, for back-tests. The traces are not part of the
//! project: the user names their folder (`--traces DIR` or `PODSIZER_TRACES`), laid out as
//! `docs/traces.md` describes; [`PUBLISHED`] says where each family comes from.
//!
//! Each trace's units are mapped onto Kubernetes units with a stated assumption:
//! - `google-2019`: Borg tasks of one job are the pods of one workload (`job-<collection>`);
//!   CPU is the 5-minute average, memory the 5-minute maximum; normalised units are scaled by
//!   an assumed largest machine of 32 cores and 128 GiB. Time: t = 600 s is 2019-05-01 07:00 UTC.
//! - `bitbrains`: each VM is a one-pod workload; cores = MHz used / (MHz provisioned / vCPUs);
//!   memory = KB used x 1024. Repeated timestamps keep the first row.
//! - `azure`: each VM is a one-pod workload; CPU = % of the VM x an assumed 4 vCPUs. The trace
//!   has no memory: every sample carries a constant 1 GiB, so memory figures mean nothing here.
//! - `google-2011`: each job is a one-pod workload; % of the largest machine x 32 cores and
//!   x 128 GiB; day 1 starts 2011-05-01 00:00 UTC.

use crate::domain::Sample;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

pub(crate) const FAMILIES: &[&str] = &["google-2019", "bitbrains", "azure", "google-2011"];

/// The setting that names the traces folder when `--traces` is not given.
pub(crate) const TRACES_ENV: &str = "PODSIZER_TRACES";

/// Where one family is published and what podsizer reads of it under the traces folder.
pub(crate) struct Publication {
    pub family: &'static str,
    /// The provider's own page.
    pub origin: &'static str,
    /// Path under the traces folder and the files podsizer reads there.
    pub layout: &'static str,
}

pub(crate) const PUBLISHED: &[Publication] = &[
    Publication {
        family: "google-2019",
        origin: "Google ClusterData 2019 (CC-BY 4.0): https://github.com/google/cluster-data/blob/master/ClusterData2019.md",
        layout: "google-2019-borg-sample/<collection_id>/*.csv.gz (instance_usage joined with limits; 44 files, 6.2 MB)",
    },
    Publication {
        family: "bitbrains",
        origin: "GWA-T-12 Bitbrains, Rnd: http://gwa.ewi.tudelft.nl/datasets/gwa-t-12-bitbrains",
        layout: "bitbrains-rnd/vms/<vm>.csv.gz (timestamp_s, cpu_cores, cpu_capacity_mhz, cpu_usage_mhz, mem_usage_kb; 253 files, 29.7 MB)",
    },
    Publication {
        family: "azure",
        origin: "Azure Public Dataset V1 (CC BY 4.0): https://github.com/Azure/AzurePublicDataset/blob/master/AzurePublicDatasetV1.md",
        layout: "azure-v1-sample/{microsoft_avg_100,periodic_avg_78}.csv.gz (step, offset_s, one column per VM; 9.2 MB with the max files)",
    },
    Publication {
        family: "google-2011",
        origin: "Google ClusterData 2011-2 (CC-BY 4.0): https://github.com/google/cluster-data/blob/master/ClusterData2011_2.md",
        layout: "google-2011-jobs-dnhua/gcd_jobs_5min_10days.csv.gz (job_id, day, step_5min, cpu_util_pct, mem_util_pct; 3.6 MB)",
    },
];

/// Where the families are published and how to lay them out, for a user who has none yet.
pub(crate) fn where_to_get() -> String {
    let mut text = format!(
        "The public traces are not shipped with podsizer: download them, lay them out in one folder, \
         and name it with --traces DIR or {TRACES_ENV}. docs/traces.md gives the copies used, \
         the conversions and SHA-256 checksums. Families:\n"
    );
    for p in PUBLISHED {
        text.push_str(&format!("  {}: {}\n    DIR/{}\n", p.family, p.origin, p.layout));
    }
    text
}

/// The file or folder a family is read from under `root`, or `None` for an unknown family.
pub(crate) fn family_path(root: &Path, family: &str) -> Option<PathBuf> {
    let rel = match family {
        "google-2019" => "google-2019-borg-sample",
        "bitbrains" => "bitbrains-rnd/vms",
        "azure" => "azure-v1-sample",
        "google-2011" => "google-2011-jobs-dnhua/gcd_jobs_5min_10days.csv.gz",
        _ => return None,
    };
    Some(root.join(rel))
}

const MACHINE_CORES: f64 = 32.0;
const MACHINE_BYTES: f64 = 128.0 * 1024.0 * 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{path}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Format { path: PathBuf, line: usize, message: String },
    #[error("unknown trace family `{0}` (known: google-2019, bitbrains, azure, google-2011)")]
    Family(String),
}

/// Streams every sample of a trace family found under `root` (the traces folder).
pub(crate) fn read_family(root: &Path, family: &str, emit: &mut dyn FnMut(Sample)) -> Result<(), TraceError> {
    let path = family_path(root, family).ok_or_else(|| TraceError::Family(family.to_string()))?;
    match family {
        "google-2019" => google_2019(&path, emit),
        "bitbrains" => bitbrains(&path, emit),
        "azure" => azure(&path, emit),
        _ => google_2011(&path, emit),
    }
}

/// A gzipped (or plain) CSV file: header fields and a line iterator.
fn open_csv(path: &Path) -> Result<(Vec<String>, impl Iterator<Item = (usize, String)>), TraceError> {
    let io = |source| TraceError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut lines = reader.lines().map_while(Result::ok).enumerate().map(|(i, l)| (i + 1, l));
    let header = lines.next().map(|(_, h)| h.split(',').map(|s| s.trim().to_string()).collect()).unwrap_or_default();
    Ok((header, lines))
}

fn column(path: &Path, header: &[String], name: &str) -> Result<usize, TraceError> {
    header.iter().position(|h| h == name).ok_or_else(|| TraceError::Format {
        path: path.to_path_buf(),
        line: 1,
        message: format!("no column `{name}`"),
    })
}

fn number(path: &Path, line: usize, fields: &[&str], i: usize) -> Result<f64, TraceError> {
    fields.get(i).and_then(|f| f.trim().parse::<f64>().ok()).filter(|v| v.is_finite()).ok_or_else(|| {
        TraceError::Format { path: path.to_path_buf(), line, message: format!("field {} is not a number", i + 1) }
    })
}

fn sample(ts: i64, ns: &str, workload: &str, pod: &str, container: &str, cpu: f64, mem: f64) -> Sample {
    Sample {
        timestamp_ms: ts,
        namespace: ns.to_string(),
        workload_kind: "Deployment".into(),
        workload: workload.to_string(),
        pod: pod.to_string(),
        container: container.to_string(),
        cpu_cores: cpu.max(0.0),
        memory_bytes: mem.max(0.0),
        ..Default::default()
    }
}

fn sorted_files(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, TraceError> {
    let io = |source| TraceError::Io { path: dir.to_path_buf(), source };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    Ok(files)
}

fn google_2019(dir: &Path, emit: &mut dyn FnMut(Sample)) -> Result<(), TraceError> {
    const START_MS: i64 = 1_556_694_000_000; // 2019-05-01T07:00:00Z = trace time 600 s
    for job in sorted_files(dir, "")?.into_iter().filter(|p| p.is_dir()) {
        for file in sorted_files(&job, ".csv.gz")? {
            let (header, lines) = open_csv(&file)?;
            let col = |name: &str| column(&file, &header, name);
            let (t, coll, inst, cpu, mem) = (
                col("time")?,
                col("collection_id")?,
                col("instance_index")?,
                col("avg_cpu_usage")?,
                col("max_memory_usage")?,
            );
            for (line, text) in lines {
                let f: Vec<&str> = text.split(',').collect();
                let ts = START_MS + (number(&file, line, &f, t)? / 1000.0) as i64 - 600_000;
                let workload = format!("job-{}", f[coll]);
                let pod = format!("{}-{}", f[coll], f[inst]);
                let cores = number(&file, line, &f, cpu)? * MACHINE_CORES;
                let bytes = number(&file, line, &f, mem)? * MACHINE_BYTES;
                emit(sample(ts, "google-2019", &workload, &pod, "task", cores, bytes));
            }
        }
    }
    Ok(())
}

fn bitbrains(dir: &Path, emit: &mut dyn FnMut(Sample)) -> Result<(), TraceError> {
    for file in sorted_files(dir, ".csv.gz")? {
        let vm = file.file_name().and_then(|n| n.to_str()).unwrap_or("vm").trim_end_matches(".csv.gz").to_string();
        let name = format!("vm-{vm}");
        let (header, lines) = open_csv(&file)?;
        let col = |name: &str| column(&file, &header, name);
        let (ts, cores, cap, used, mem) = (
            col("timestamp_s")?,
            col("cpu_cores")?,
            col("cpu_capacity_mhz")?,
            col("cpu_usage_mhz")?,
            col("mem_usage_kb")?,
        );
        let mut last_ts = i64::MIN;
        for (line, text) in lines {
            let f: Vec<&str> = text.split(',').collect();
            let t = number(&file, line, &f, ts)? as i64 * 1000;
            if t == last_ts {
                continue;
            }
            last_ts = t;
            let per_core = number(&file, line, &f, cap)? / number(&file, line, &f, cores)?.max(1.0);
            let cpu = if per_core > 0.0 { number(&file, line, &f, used)? / per_core } else { 0.0 };
            emit(sample(t, "bitbrains", &name, &name, "vm", cpu, number(&file, line, &f, mem)? * 1024.0));
        }
    }
    Ok(())
}

fn azure(dir: &Path, emit: &mut dyn FnMut(Sample)) -> Result<(), TraceError> {
    const START_MS: i64 = 1_483_228_800_000; // 2017-01-01T00:00:00Z; the trace's own start is not published
    const VCPUS: f64 = 4.0;
    for (file, ns) in [("microsoft_avg_100.csv.gz", "azure-microsoft"), ("periodic_avg_78.csv.gz", "azure-periodic")] {
        let path = dir.join(file);
        let (header, lines) = open_csv(&path)?;
        let offset = column(&path, &header, "offset_s")?;
        let vms: Vec<(usize, String)> = header
            .iter()
            .enumerate()
            .skip(2)
            .filter(|(_, h)| !h.is_empty())
            .map(|(i, h)| (i, format!("vm-{h}")))
            .collect();
        for (line, text) in lines {
            let f: Vec<&str> = text.split(',').collect();
            let ts = START_MS + number(&path, line, &f, offset)? as i64 * 1000;
            for (i, name) in &vms {
                let pct = number(&path, line, &f, *i)?;
                emit(sample(ts, ns, name, name, "vm", pct / 100.0 * VCPUS, GIB));
            }
        }
    }
    Ok(())
}

fn google_2011(path: &Path, emit: &mut dyn FnMut(Sample)) -> Result<(), TraceError> {
    const START_MS: i64 = 1_304_208_000_000; // 2011-05-01T00:00:00Z
    let (header, lines) = open_csv(path)?;
    let col = |name: &str| column(path, &header, name);
    let (job, day, step, cpu, mem) =
        (col("job_id")?, col("day")?, col("step_5min")?, col("cpu_util_pct")?, col("mem_util_pct")?);
    for (line, text) in lines {
        let f: Vec<&str> = text.split(',').collect();
        let ts = START_MS
            + ((number(path, line, &f, day)? as i64 - 1) * 288 + number(path, line, &f, step)? as i64) * 300_000;
        let name = format!("job-{}", f[job]);
        let cores = number(path, line, &f, cpu)? / 100.0 * MACHINE_CORES;
        let bytes = number(path, line, &f, mem)? / 100.0 * MACHINE_BYTES;
        emit(sample(ts, "google-2011", &name, &name, "job", cores, bytes));
    }
    Ok(())
}
