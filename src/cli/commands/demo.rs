//! `podsizer demo`: the whole job on a bundled week of samples, in a scratch copy of the
//! demo GitOps tree so the repository is never modified.

use crate::cli::args::{DemoArgs, DemoStack, InputArgs, RecommendArgs, SizingArgs};
use crate::cli::progress::note;
use crate::outputs::kustomize::Kubectl;
use crate::sources::synthetic::FleetSpec;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The demo GitOps tree, embedded so the demo works from any directory.
const GITOPS: &[(&str, &str)] = &[
    ("base/kustomization.yaml", include_str!("../../../fixtures/demo/gitops/base/kustomization.yaml")),
    ("base/deployment.yaml", include_str!("../../../fixtures/demo/gitops/base/deployment.yaml")),
    ("base/service.yaml", include_str!("../../../fixtures/demo/gitops/base/service.yaml")),
    ("base/hpa.yaml", include_str!("../../../fixtures/demo/gitops/base/hpa.yaml")),
    ("base/php-fpm-pool.yaml", include_str!("../../../fixtures/demo/gitops/base/php-fpm-pool.yaml")),
    ("base/nginx-conf.yaml", include_str!("../../../fixtures/demo/gitops/base/nginx-conf.yaml")),
    (
        "overlays/staging/kustomization.yaml",
        include_str!("../../../fixtures/demo/gitops/overlays/staging/kustomization.yaml"),
    ),
    (
        "overlays/production/kustomization.yaml",
        include_str!("../../../fixtures/demo/gitops/overlays/production/kustomization.yaml"),
    ),
    (
        "overlays/production/deployment-annotations.yaml",
        include_str!("../../../fixtures/demo/gitops/overlays/production/deployment-annotations.yaml"),
    ),
];

/// The demo's week: the same generator and seed as `fixtures/demo/samples.parquet`.
pub(crate) fn demo_spec() -> FleetSpec {
    FleetSpec::demo(crate::domain::parse_timestamp("2026-11-16").expect("valid date"), 7, 60_000)
}

/// The folder the demo writes `gitops/` and `samples.parquet` into: missing or empty only, so
/// nothing of the user's is overwritten (`--out ~` or `--out .` is refused, naming the folder).
fn scratch_dir(requested: Option<&Path>) -> Result<PathBuf> {
    let dir = match requested {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("podsizer-demo-{}", std::process::id())),
    };
    let empty = match std::fs::read_dir(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(e).with_context(|| format!("{}: cannot use it for the demo", dir.display())),
        Ok(mut entries) => entries.next().is_none(),
    };
    if !empty {
        anyhow::bail!(
            "{}: refusing to write the demo there: the folder is not empty (the demo writes gitops/ and \
samples.parquet); give a new or empty folder with --out",
            dir.display()
        );
    }
    Ok(dir)
}

/// What differs between the bundled stacks.
struct Stack {
    tree: &'static [(&'static str, &'static str)],
    rows: Vec<crate::domain::Sample>,
    /// "shop/Deployment/api (nginx, php-fpm, envoy)".
    what: String,
    /// The patch file the closing note points at.
    patch: &'static str,
}

fn stack(which: DemoStack) -> Stack {
    match which {
        DemoStack::Php => {
            let spec = demo_spec();
            let mut rows = Vec::new();
            for day in 0..spec.days {
                spec.generate_day(day, |s| rows.push(s));
            }
            Stack {
                tree: GITOPS,
                rows,
                what: "shop/Deployment/api (nginx, php-fpm, envoy)".into(),
                patch: "podsizer-deployment-api.yaml",
            }
        }
        DemoStack::Polyglot => {
            use super::demo_polyglot as p;
            let start = crate::domain::parse_timestamp("2026-11-16").expect("valid date");
            Stack {
                tree: p::GITOPS,
                rows: p::samples(start, 7),
                what: format!(
                    "{} pods each of {}/Deployment/orders (JVM), ingest (Go), web (Node.js) and catalog (gunicorn)",
                    p::REPLICAS,
                    p::NAMESPACE
                ),
                patch: "podsizer-runtime-deployment-catalog.yaml",
            }
        }
    }
}

pub(crate) fn run(args: &DemoArgs, kubectl: &Kubectl, out: &mut dyn Write) -> Result<u8> {
    let dir = scratch_dir(args.out.as_deref())?;
    let Stack { tree, mut rows, what, patch } = stack(args.stack);
    for (rel, text) in tree {
        let path = dir.join("gitops").join(rel);
        std::fs::create_dir_all(path.parent().expect("has parent"))
            .with_context(|| format!("creating {}", path.display()))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let samples = dir.join("samples.parquet");
    crate::store::sample_file::write_samples(&samples, &mut rows)?;
    let overlay = dir.join("gitops/overlays/production");
    // Without kubectl the demo still shows the numbers; only the patch step needs it.
    let have_kubectl = std::process::Command::new(&kubectl.path)
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_kubectl {
        eprintln!("demo: kubectl not found: showing recommendations without writing patches (install kubectl >= 1.27 for that step)");
    }
    note(&format!("demo: {} samples of {what} over 7 days -> {}", rows.len(), samples.display()));
    if have_kubectl {
        note(&format!("demo: writing patches into a copy of the GitOps tree: {}", overlay.display()));
    }
    let recommend = RecommendArgs {
        input: InputArgs {
            inputs: vec![samples],
            since: None,
            until: None,
            window: None,
            namespaces: vec![],
            workloads: vec![],
            cluster: None,
            skip_bad_rows: false,
            traffic_shares: vec![],
            rescan: false,
            s3: Default::default(),
            live: Default::default(),
            prometheus: Default::default(),
        },
        output: args.output,
        sizing: SizingArgs { policy: None, strategy: "podsizer".into(), force: false },
        kustomize: have_kubectl.then(|| overlay.clone()),
        dry_run: false,
        fail_on_change: false,
    };
    super::recommend::run(&recommend, kubectl, out)?;
    if !have_kubectl {
        return Ok(0);
    }
    note(&format!("demo: done. See the patch:   cat {}", overlay.join(patch).display()));
    note(&format!("demo: and the rendered result: kubectl kustomize {}", overlay.display()));
    Ok(0)
}
