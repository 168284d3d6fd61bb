//! Deliveries uploaded as a zip archive.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::Error;

/// Largest total uncompressed size accepted (a department-scale delivery is
/// a few hundred MiB of CSV).
const MAX_UNPACKED_BYTES: u64 = 4 << 30;
/// Most entries accepted.
const MAX_ENTRIES: usize = 20_000;

fn bad(reason: impl Into<String>) -> Error {
    Error::Invalid(format!("archive zip invalide : {}", reason.into()))
}

/// Unpacks a zip archive into `dest` and returns the directory that holds
/// the delivery (the one with `t_fibre.csv`, at the top or one level down).
/// Entries that would land outside `dest` are refused.
pub fn unpack(bytes: &[u8], dest: &Path) -> Result<PathBuf, Error> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    if archive.len() > MAX_ENTRIES {
        return Err(bad(format!(
            "{} fichiers, au plus {MAX_ENTRIES}",
            archive.len()
        )));
    }
    let mut total = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(bad(format!("chemin refusé « {} »", entry.name())));
        };
        let path = dest.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(|e| bad(e.to_string()))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| bad(e.to_string()))?;
        }
        let mut out = std::fs::File::create(&path).map_err(|e| bad(e.to_string()))?;
        // Count what is really written, not what the header claims.
        let limit = MAX_UNPACKED_BYTES.saturating_sub(total) + 1;
        let written = std::io::copy(&mut (&mut entry).take(limit), &mut out)
            .map_err(|e| bad(e.to_string()))?;
        total += written;
        if total > MAX_UNPACKED_BYTES {
            return Err(bad("plus de 4 Gio une fois décompressée"));
        }
    }
    if dest.join("t_fibre.csv").is_file() {
        return Ok(dest.to_owned());
    }
    let mut found = None;
    for entry in std::fs::read_dir(dest)
        .map_err(|e| bad(e.to_string()))?
        .flatten()
    {
        if entry.path().join("t_fibre.csv").is_file() {
            found = Some(entry.path());
            break;
        }
    }
    found.ok_or_else(|| bad("aucun t_fibre.csv à la racine ni dans un sous-dossier"))
}
