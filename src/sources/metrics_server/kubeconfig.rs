//! Finding the cluster as kubectl does: `--kubeconfig`, else the files in `KUBECONFIG`
//! (merged, first wins), else `~/.kube/config`, else the in-cluster service account; with two
//! checks kube leaves out: a kubeconfig is read up to a bound (a path to `/dev/zero` or an
//! endless FIFO is an error, not memory exhaustion), and the chosen cluster's `server` must be an
//! `http://` or `https://` URL (kube's client panics on a URL without a scheme).

use crate::sources::input_file::{read_to_string_bounded, KUBECONFIG_MAX_BYTES};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Config;
use std::path::{Path, PathBuf};

/// A kubeconfig that cannot be used, said in one line that names the file and field (the
/// client reports it as a configuration error).
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("a context was named, but no kubeconfig was found (none given, KUBECONFIG unset, no ~/.kube/config)")]
    NoneForContext,
    #[error("{0}")]
    Other(String),
}

fn config_error(text: String) -> KubeconfigError {
    KubeconfigError::Other(text)
}

/// The client configuration for `--kubeconfig` and `--context`.
pub(crate) async fn client_config(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Config, KubeconfigError> {
    let files = kubeconfig_files(kubeconfig);
    let inferred = kubeconfig.is_none() && context.is_none();
    let mut config = if files.is_empty() {
        if context.is_some() {
            return Err(KubeconfigError::NoneForContext);
        }
        Config::incluster().map_err(|e| config_error(format!("no kubeconfig found, and not in a cluster: {e}")))?
    } else {
        let named = files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":");
        let mut merged = Kubeconfig::default();
        for path in &files {
            merged = merged.merge(read_kubeconfig(path)?).map_err(|e| config_error(format!("{named}: {e}")))?;
        }
        check_server(&merged, context, &named)?;
        let kc_opts = KubeConfigOptions { context: context.map(String::from), ..KubeConfigOptions::default() };
        Config::from_custom_kubeconfig(merged, &kc_opts).await.map_err(|e| config_error(format!("{named}: {e}")))?
    };
    if inferred {
        // As kube's own inference does (KUBE_RS_DEBUG_* variables, a debugging aid).
        config.apply_debug_overrides();
    }
    let url = &config.cluster_url;
    if !matches!(url.scheme_str(), Some("http" | "https")) || url.authority().is_none() {
        return Err(config_error(format!("the API server URL `{url}` is not an http:// or https:// URL")));
    }
    Ok(config)
}

/// The kubeconfig files to read, in kubectl's order of precedence; empty: none.
fn kubeconfig_files(flag: Option<&Path>) -> Vec<PathBuf> {
    if let Some(path) = flag {
        return vec![path.to_path_buf()];
    }
    if let Some(value) = std::env::var_os("KUBECONFIG") {
        let paths: Vec<PathBuf> = std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty()).collect();
        if !paths.is_empty() {
            return paths;
        }
    }
    std::env::home_dir().map(|h| h.join(".kube").join("config")).filter(|p| p.exists()).into_iter().collect()
}

/// One kubeconfig file, read up to [`KUBECONFIG_MAX_BYTES`]. A regular file is read by kube
/// itself (it resolves certificate and exec paths relative to the file); anything else (a
/// pipe, a device) is read once here.
fn read_kubeconfig(path: &Path) -> Result<Kubeconfig, KubeconfigError> {
    let at = |e: &dyn std::fmt::Display| config_error(format!("{}: {e}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| at(&e))?;
    if meta.is_file() && meta.len() <= KUBECONFIG_MAX_BYTES {
        return Kubeconfig::read_from(path).map_err(|e| at(&e));
    }
    let text = read_to_string_bounded(path, KUBECONFIG_MAX_BYTES).map_err(|e| at(&e))?;
    Kubeconfig::from_yaml(&text).map_err(|e| at(&e))
}

/// The chosen context's cluster must have an `http://` or `https://` server URL.
fn check_server(kc: &Kubeconfig, context: Option<&str>, named: &str) -> Result<(), KubeconfigError> {
    let Some(context) = context.or(kc.current_context.as_deref()) else { return Ok(()) };
    let cluster = kc.contexts.iter().find(|c| c.name == context).and_then(|c| c.context.as_ref());
    let Some(cluster) = cluster.map(|c| c.cluster.as_str()) else { return Ok(()) };
    let server = kc.clusters.iter().find(|c| c.name == cluster).and_then(|c| c.cluster.as_ref());
    let Some(server) = server.and_then(|c| c.server.as_deref()) else { return Ok(()) };
    let scheme = server.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if matches!(scheme.as_deref(), Some("http" | "https")) {
        return Ok(());
    }
    let hint = if scheme.is_none() { format!("; write it as `https://{server}`") } else { String::new() };
    Err(config_error(format!(
        "{named}: clusters[name={cluster}].cluster.server `{server}` is not an http:// or https:// URL{hint}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(server: &str) -> Kubeconfig {
        Kubeconfig::from_yaml(&format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: {server}\n\
contexts:\n- name: prod\n  context:\n    cluster: prod\n    user: me\nusers:\n- name: me\n  user:\n    token: t\n\
current-context: prod\n"
        ))
        .unwrap()
    }

    #[test]
    fn a_server_without_a_scheme_names_the_file_cluster_and_field() {
        for (server, ok) in [
            ("https://127.0.0.1:6443", true),
            ("http://127.0.0.1:8080", true),
            ("HTTPS://k.example", true),
            ("127.0.0.1:6443", false),
            ("k.example", false),
            ("ftp://k.example", false),
        ] {
            let checked = check_server(&kubeconfig(server), None, "/home/me/.kube/config");
            assert_eq!(checked.is_ok(), ok, "{server}: {checked:?}");
            if let Err(e) = checked {
                let text = e.to_string();
                assert!(text.contains("/home/me/.kube/config: clusters[name=prod].cluster.server"), "{text}");
                assert!(text.contains(server), "{text}");
            }
        }
    }
}
