//! The one integrity check of files the store writes once and never changes (parts, day
//! summaries): the xxh3 of the file's bytes, recorded in its name as `-x<16 hex digits>`
//! before the extension, and compared with the bytes on every read. A file damaged after it
//! was written (a flipped byte, even one that keeps its size) is found before it is used.

use super::{io_err, StoreError};
use std::path::Path;

/// The checksum of a file's bytes.
pub(crate) fn of(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// The name part that records `checksum` (`-x` and 16 hex digits).
pub(crate) fn name_suffix(checksum: u64) -> String {
    format!("-x{checksum:016x}")
}

/// The checksum a file's name records before `extension` (`.parquet`, `.bin`); `None` for
/// names without one (files written before checksums were recorded).
pub(crate) fn in_name(path: &Path, extension: &str) -> Option<u64> {
    let name = path.file_name()?.to_str()?.strip_suffix(extension)?;
    let (_, hex) = name.rsplit_once("-x")?;
    (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| u64::from_str_radix(hex, 16).ok())?
}

/// A file's bytes, checked against the checksum its name records (`expected`); a file whose
/// name records none is returned as it is.
pub(crate) fn read_verified(path: &Path, expected: Option<u64>, action: &'static str) -> Result<Vec<u8>, StoreError> {
    let bytes = std::fs::read(path).map_err(io_err(path, action))?;
    match expected {
        Some(expected) if of(&bytes) != expected => Err(StoreError::Checksum { path: path.to_path_buf() }),
        _ => Ok(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_records_the_checksum_before_the_extension() {
        let sum = of(b"bytes");
        let name = format!("part-1-2-3-4-t5-6{}.parquet", name_suffix(sum));
        assert_eq!(in_name(Path::new(&name), ".parquet"), Some(sum));
        assert_eq!(in_name(Path::new(&name), ".bin"), None, "another extension");
        assert_eq!(in_name(Path::new("part-1-2-3-4-t5-6.parquet"), ".parquet"), None, "an older name");
        assert_eq!(in_name(Path::new("derived-usage-xnothex0000000000.bin"), ".bin"), None);
    }
}
