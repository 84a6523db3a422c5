//! User-named input files that are read whole (a kubeconfig, a policy file, last week's
//! `report.json`, a bearer-token file), each read up to a bound: a path to `/dev/zero`, a FIFO
//! fed without end or a multi-gigabyte file by mistake ends in an error naming the file, not
//! in memory exhaustion.
//!
//! The bound is checked on the file's size before reading when it has one (a regular file),
//! and on the bytes read otherwise (devices, pipes, process substitution), so no more than the
//! bound plus one byte is ever read.

use std::io::Read;
use std::path::Path;

const MIB: u64 = 1024 * 1024;
/// A kubeconfig: certificates and keys inline for hundreds of clusters fit many times over.
pub(crate) const KUBECONFIG_MAX_BYTES: u64 = 16 * MIB;
/// A policy file: thousands of per-container overrides fit many times over.
pub(crate) const POLICY_MAX_BYTES: u64 = 16 * MIB;
/// Last week's `report.json`: about 4 KiB a container, so some 60,000 containers.
pub(crate) const REPORT_JSON_MAX_BYTES: u64 = 256 * MIB;
/// A bearer-token file: one token (service-account tokens are about 1 KiB).
pub(crate) const TOKEN_MAX_BYTES: u64 = MIB;

/// The file's bytes; an error (kind `InvalidData`) when it holds more than `limit` bytes.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() > limit {
        return Err(too_large(limit));
    }
    let mut bytes = Vec::with_capacity(if meta.is_file() { meta.len() as usize } else { 0 });
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub(crate) fn read_to_string_bounded(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, limit)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8 text: {e}")))
}

fn too_large(limit: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "larger than {} MiB, the most podsizer reads from a file of this kind (is it the right file?)",
            limit / MIB
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_every_kind_are_read_up_to_the_bound_only() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, "apiVersion: v1\n").unwrap();
        assert_eq!(read_to_string_bounded(&small, MIB).unwrap(), "apiVersion: v1\n");
        let big = dir.path().join("big");
        std::fs::File::create(&big).unwrap().set_len(MIB + 1).unwrap();
        let err = read_bounded(&big, MIB).unwrap_err();
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
        let endless = read_bounded(Path::new("/dev/zero"), MIB).unwrap_err();
        assert_eq!(endless.kind(), std::io::ErrorKind::InvalidData, "{endless}");
        assert_eq!(read_bounded(Path::new("/dev/null"), MIB).unwrap(), b"");
        let latin1 = dir.path().join("latin1");
        std::fs::write(&latin1, b"caf\xe9").unwrap();
        assert!(read_to_string_bounded(&latin1, MIB).unwrap_err().to_string().contains("not UTF-8"));
    }
}
