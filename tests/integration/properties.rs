//! Property tests: quantities, sample parsing, names through every output, histogram merges.
//! A fixed seed and a bounded case count keep CI deterministic and quick; a failure prints
//! the smallest input that fails.

use podsizer::analysis::histogram::Histogram;
use podsizer::analysis::{Proposal, Recommendation, Sizing};
use podsizer::domain::bounds::{MAX_CORES, MAX_MEMORY_BYTES};
use podsizer::domain::{parse_quantity, ContainerKey, Cpu, Memory, Resources, Workload};
use podsizer::outputs::kustomize::{self, RenderedWorkload};
use podsizer::outputs::{format, names, yaml};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::path::Path;

fn config(cases: u32) -> Config {
    Config { cases, rng_seed: RngSeed::Fixed(17), failure_persistence: None, ..Config::default() }
}

/// A DNS-1123 subdomain (what a workload may be called), with the words YAML re-types mixed in.
fn k8s_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?){0,3}",
        prop::sample::select(vec![
            "null", "yes", "no", "on", "off", "y", "n", "true", "123", "1e3", "0x10", "0o17", "1-2", "nan", "inf", "e5"
        ])
        .prop_map(String::from),
    ]
}

/// A DNS-1123 label (what a container or namespace may be called).
fn k8s_label() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?",
        prop::sample::select(vec!["null", "yes", "on", "y", "true", "123", "1e3", "0x10"]).prop_map(String::from),
    ]
}

fn recommendation(ns: &str, name: &str, container: &str) -> Recommendation {
    Recommendation {
        key: ContainerKey {
            workload: Workload {
                namespace: ns.into(),
                kind: "Deployment".into(),
                name: name.into(),
                ..Default::default()
            },
            container: container.into(),
        },
        strategy: "podsizer".into(),
        proposal: Proposal::Sized(Sizing {
            cpu_request_cores: 0.25,
            cpu_limit_cores: Some(0.5),
            memory_request_bytes: 64.0 * 1048576.0,
            memory_limit_bytes: 128.0 * 1048576.0,
        }),
        current: Some(Resources { cpu_limit_cores: Some(1.0), ..Resources::default() }),
        samples: 100,
        pods: 1,
        first_ms: Some(1_790_000_000_000),
        last_ms: Some(1_790_600_000_000),
        confidence: 1.0,
        rationale: vec!["because".into()],
        replicas: None,
        runtime: None,
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn quantities_round_trip_through_their_manifest_form(millis in 0u64..=1_024_000, bytes in 0u64..=(1u64 << 46)) {
        let cores = millis as f64 / 1000.0;
        let text = Cpu(cores).to_string();
        prop_assert!((parse_quantity(&text).unwrap() - cores).abs() < 1e-9, "{}", text);
        let text = Memory(bytes as f64).to_string();
        prop_assert_eq!(parse_quantity(&text).unwrap(), bytes as f64, "{}", text);
    }

    #[test]
    fn any_quantity_text_parses_to_a_finite_number_or_an_error(text in "\\PC{0,24}|[-+0-9.eE]{1,12}(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|E|e[0-9]{1,4})?") {
        if let Ok(v) = parse_quantity(&text) {
            prop_assert!(v.is_finite(), "{} -> {}", text, v);
        }
    }

    #[test]
    fn formatting_never_overflows_past_the_caps(cores in 0.0f64..=MAX_CORES, bytes in 0.0f64..=MAX_MEMORY_BYTES) {
        let back = parse_quantity(&Cpu(cores).to_string()).unwrap();
        prop_assert!((back - cores).abs() <= 0.0005 + 1e-9);
        let back = parse_quantity(&Memory(bytes).to_string()).unwrap();
        prop_assert!((back - bytes).abs() <= 0.5);
    }

    #[test]
    fn safe_names_are_injective_plain_components(a in "\\PC{0,40}|[a-zA-Z0-9._/-]{0,12}", b in "\\PC{0,40}|[a-zA-Z0-9._/-]{0,12}") {
        let (sa, sb) = (names::safe_name(&a), names::safe_name(&b));
        prop_assert_eq!(names::decode(&sa), Some(a.clone()));
        prop_assert_eq!(a == b, sa == sb);
        for s in [&sa, &sb] {
            prop_assert!(s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_'), "{}", s);
        }
        let stem = names::file_stem(&[&a, &b]);
        prop_assert!(stem.len() <= 180 && !stem.contains('/') && stem != "." && stem != "..");
    }

    #[test]
    fn yaml_of_any_strings_reads_back_the_same(keys in prop::collection::vec("\\PC{0,12}", 1..6), values in prop::collection::vec("\\PC{0,20}|null|yes|on|~|0x1f|1e3", 1..6)) {
        let mut m = serde_norway::Mapping::new();
        for (k, v) in keys.iter().zip(&values) {
            m.insert(k.clone().into(), serde_norway::Value::Sequence(vec![v.clone().into(), serde_norway::Value::Null]));
        }
        let value = serde_norway::Value::Mapping(m);
        let text = yaml::to_string(&value);
        let back: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        prop_assert_eq!(back, value, "{}", text);
    }
}

proptest! {
    #![proptest_config(config(96))]

    /// A valid name comes back unchanged from YAML, JSON, CSV and the table, names its own patch
    /// and chart files, and a patch built for it targets exactly its own object.
    #[test]
    fn kubernetes_names_round_trip_through_every_output(ns in k8s_label(), name in k8s_name(), container in k8s_label()) {
        let recs = vec![recommendation(&ns, &name, &container)];
        let doc = format::document("podsizer", None, None, &recs);

        let y: serde_norway::Value = serde_norway::from_str(&format::render(format::OutputFormat::Yaml, &doc, &recs)).unwrap();
        let j: serde_json::Value = serde_json::from_str(&format::render(format::OutputFormat::Json, &doc, &recs)).unwrap();
        for r in [&y["recommendations"][0], &serde_norway::to_value(&j["recommendations"][0]).unwrap()] {
            prop_assert_eq!(r["namespace"].as_str(), Some(ns.as_str()));
            prop_assert_eq!(r["workload"]["name"].as_str(), Some(name.as_str()));
            prop_assert_eq!(r["container"].as_str(), Some(container.as_str()));
        }

        let csv_text = format::render(format::OutputFormat::Csv, &doc, &recs);
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        prop_assert_eq!((&row[0], &row[2], &row[3]), (ns.as_str(), name.as_str(), container.as_str()));

        let table = format::render(format::OutputFormat::Table, &doc, &recs);
        let line = table.lines().nth(1).unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        let workload_cell = format!("deployment/{name}");
        prop_assert_eq!(&cells[..3], &[ns.as_str(), workload_cell.as_str(), container.as_str()]);

        let rendered = RenderedWorkload {
            kind: "Deployment".into(),
            name: name.clone(),
            namespace: Some(ns.clone()),
            containers: vec![("other".into(), Resources::default()), (container.clone(), Resources::default())],
        };
        let plan = kustomize::plan(Path::new("."), std::slice::from_ref(&rendered), &recs).unwrap();
        let patch = &plan.patches[0];
        let stem = patch.file_name.strip_prefix("podsizer-deployment-").and_then(|f| f.strip_suffix(".yaml")).unwrap();
        prop_assert_eq!(names::decode(stem), Some(name.clone()));
        let docs: Vec<serde_norway::Value> = serde_norway::Deserializer::from_str(&patch.text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect();
        prop_assert_eq!(docs.len(), 1);
        prop_assert_eq!(docs[0]["kind"].as_str(), Some("Deployment"));
        prop_assert_eq!(docs[0]["metadata"]["name"].as_str(), Some(name.as_str()));
        let listed: Vec<Option<&str>> = docs[0]["spec"]["template"]["spec"]["containers"]
            .as_sequence().unwrap().iter().map(|c| c["name"].as_str()).collect();
        prop_assert_eq!(listed, vec![Some("other"), Some(container.as_str())]);
        prop_assert_eq!(docs[0]["spec"]["template"]["spec"]["containers"][1]["resources"]["requests"]["cpu"].as_str(), Some("250m"));

        let kustomization = "resources:\n- ../base\n";
        let updated = kustomize::add_patch_entry(Path::new("k.yaml"), kustomization, patch).unwrap().unwrap();
        let k: serde_norway::Value = serde_norway::from_str(&updated).unwrap();
        prop_assert_eq!(k["patches"][0]["path"].as_str(), Some(patch.file_name.as_str()));
        prop_assert_eq!(k["patches"][0]["target"]["name"].as_str().map(|r| r.replace('\\', "")), Some(name.clone()));

        let chart = names::file_stem(&[&ns, &names::kind_word("Deployment"), &name, &container]);
        let parts: Vec<Option<String>> = chart.split('.').map(names::decode).collect();
        prop_assert_eq!(parts, vec![Some(ns.clone()), Some("deployment".into()), Some(name.clone()), Some(container.clone())]);
    }

    #[test]
    fn histogram_merge_equals_the_histogram_of_the_union(a in prop::collection::vec(0.0f64..1e12, 0..200), b in prop::collection::vec(0.0f64..1e12, 0..200)) {
        let of = |values: &[f64]| {
            let mut h = Histogram::new();
            for v in values {
                h.add(*v, 1.0);
            }
            h
        };
        let mut merged = of(&a);
        merged.merge_scaled(&of(&b), 1.0);
        let union: Vec<f64> = a.iter().chain(&b).copied().collect();
        prop_assert_eq!(merged, of(&union));
    }

    #[test]
    fn arbitrary_bytes_as_a_sample_file_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), header in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = if header { b"timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n".to_vec() } else { Vec::new() };
        csv.extend(&bytes);
        for (name, content) in [("s.csv", &csv), ("s.parquet", &bytes)] {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            for skip in [false, true] {
                if let Ok(out) = podsizer::sources::read_sample_file(&path, skip) {
                    for s in out.samples {
                        prop_assert!(podsizer::domain::bounds::check_timestamp(s.timestamp_ms).is_ok());
                        prop_assert!(s.cpu_cores <= MAX_CORES && s.memory_bytes <= MAX_MEMORY_BYTES);
                    }
                }
            }
        }
    }

    /// Well-formed Parquet with any int64 timestamps and any floats: rows are read or refused
    /// with their field named, and what is read can be stored.
    #[test]
    fn any_parquet_values_are_read_or_refused_and_stored(rows in prop::collection::vec((any::<i64>(), any::<f64>(), any::<f64>()), 1..20)) {
        use polars::prelude::*;
        let n = rows.len();
        let text = |v: &str| Column::new(v.into(), vec![v; n]);
        let mut df = DataFrame::new(n, vec![
            Column::new("timestamp".into(), rows.iter().map(|r| r.0).collect::<Vec<i64>>()),
            text("namespace"), text("workload_kind"), text("workload"), text("pod"), text("container"),
            Column::new("cpu_cores".into(), rows.iter().map(|r| r.1).collect::<Vec<f64>>()),
            Column::new("memory_bytes".into(), rows.iter().map(|r| r.2).collect::<Vec<f64>>()),
        ]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut df).unwrap();
        match podsizer::sources::read_sample_file(&path, true) {
            Ok(out) => {
                prop_assert_eq!(out.samples.len() as u64 + out.skipped_count, n as u64);
                for bad in &out.skipped {
                    prop_assert!(["timestamp", "cpu_cores", "memory_bytes"].contains(&bad.field.as_str()), "{}", bad);
                }
                if !out.samples.is_empty() {
                    let store = podsizer::store::Store::open_or_create(&dir.path().join("store")).unwrap();
                    let report = store.append(out.samples.clone()).unwrap();
                    prop_assert_eq!(report.received, out.samples.len() as u64);
                }
            }
            Err(e) => prop_assert!(e.to_string().contains("s.parquet"), "{}", e),
        }
    }
}
