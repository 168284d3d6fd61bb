//! Deliveries uploaded as a zip archive, unpacked within [`Limits`]: the
//! number of files, the total unpacked size and each file's compression
//! ratio are bounded by what is really written, never by what the archive's
//! headers claim.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use crate::gracethd::limits::Limits;
use crate::Error;

/// What any file may unpack to whatever its ratio (a small value list can
/// compress very well).
const RATIO_FREE_BYTES: u64 = 1 << 20;

fn bad(reason: impl Into<String>) -> Error {
    Error::Invalid(format!("archive zip invalide : {}", reason.into()))
}

/// The zip reader's own words are English: the person is told in French
/// what is wrong with the file, the detail goes to the log.
fn unreadable(e: zip::result::ZipError) -> Error {
    tracing::info!(error = %e, "zip archive refused");
    bad(match e {
        zip::result::ZipError::UnsupportedArchive(_) => {
            "méthode de compression ou chiffrement non pris en charge (zip « deflate » sans mot de passe attendu)"
        }
        zip::result::ZipError::FileNotFound => "une entrée annoncée manque",
        _ => "ce fichier n'est pas une archive zip lisible (abîmé, tronqué ou d'un autre format)",
    })
}

/// Writing the unpacked files failed on the server's side: said plainly,
/// the system's words logged.
fn unwritable(e: std::io::Error) -> Error {
    tracing::warn!(error = %e, "unpacking a delivery failed");
    Error::Invalid(
        "le serveur n'a pas pu décompresser la livraison (espace disque ou droits du dossier de travail) : prévenez l'administrateur".into(),
    )
}

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

/// Unpacks the zip archive in file `zip` into `dest` and returns the
/// directory that holds the delivery (the one with `t_fibre.csv`, at the
/// top or one level down). Entries that would land outside `dest` are
/// refused.
pub fn unpack_file(zip: &Path, dest: &Path, limits: &Limits) -> Result<PathBuf, Error> {
    let file = std::fs::File::open(zip).map_err(unwritable)?;
    unpack_from(std::io::BufReader::new(file), dest, limits)
}

/// Unpacks a zip archive held in memory (tests and small files).
pub fn unpack(bytes: &[u8], dest: &Path) -> Result<PathBuf, Error> {
    unpack_from(std::io::Cursor::new(bytes), dest, &Limits::default())
}

fn unpack_from<R: Read + Seek>(reader: R, dest: &Path, limits: &Limits) -> Result<PathBuf, Error> {
    let mut archive = zip::ZipArchive::new(reader).map_err(unreadable)?;
    if archive.len() > limits.max_entries {
        return Err(bad(format!(
            "{} fichiers, au plus {}",
            archive.len(),
            limits.max_entries
        )));
    }
    let mut total = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(unreadable)?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(bad(format!("chemin refusé « {} »", entry.name())));
        };
        let path = dest.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(unwritable)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(unwritable)?;
        }
        let name = entry.name().to_owned();
        // What this entry may unpack to: within what is left of the total,
        // and within the ratio to its compressed size.
        let by_ratio = entry
            .compressed_size()
            .saturating_mul(limits.max_ratio)
            .max(RATIO_FREE_BYTES);
        let left = limits.max_unpacked_bytes.saturating_sub(total);
        let allowed = by_ratio.min(left);
        let mut out = std::fs::File::create(&path).map_err(unwritable)?;
        // Count what is really written, not what the header claims.
        let written =
            std::io::copy(&mut (&mut entry).take(allowed + 1), &mut out).map_err(|e| {
                tracing::info!(entry = %name, error = %e, "zip entry unreadable");
                bad(format!("{name} : contenu illisible (archive abîmée)"))
            })?;
        total += written;
        if written > allowed {
            drop(out);
            let _ = std::fs::remove_file(&path);
            return Err(bad(if allowed == left {
                format!(
                    "plus de {} Mio une fois décompressée (limite `[uploads] delivery_max_unpacked_mib` de la configuration)",
                    mib(limits.max_unpacked_bytes)
                )
            } else {
                format!(
                    "{name} grossit plus de {} fois à la décompression : archive refusée (bombe zip ?)",
                    limits.max_ratio
                )
            }));
        }
    }
    if dest.join("t_fibre.csv").is_file() {
        return Ok(dest.to_owned());
    }
    let mut found = None;
    for entry in std::fs::read_dir(dest).map_err(unwritable)?.flatten() {
        if entry.path().join("t_fibre.csv").is_file() {
            found = Some(entry.path());
            break;
        }
    }
    found.ok_or_else(|| bad("aucun t_fibre.csv à la racine ni dans un sous-dossier"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in files {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn a_file_that_is_no_zip_is_said_in_french() {
        let dir = tempfile::tempdir().unwrap();
        for bytes in [
            &b"t_fibre;fo_code\n"[..],
            &[0x50, 0x4b, 0x03, 0x04, 0, 0][..],
            &[][..],
        ] {
            let e = unpack(bytes, dir.path()).unwrap_err().to_string();
            assert!(e.contains("n'est pas une archive zip lisible"), "{e}");
            assert!(!e.contains("EOCD") && !e.contains("Could not"), "{e}");
        }
    }

    #[test]
    fn a_zip_bomb_is_refused_by_its_ratio() {
        // 64 MiB of zeros compress to some 64 KiB: a ratio near 1000.
        let zeros = vec![0u8; 64 << 20];
        let bytes = zip_of(&[("t_fibre.csv", &zeros)]);
        assert!(bytes.len() < 1 << 20);
        let dir = tempfile::tempdir().unwrap();
        let e = unpack(&bytes, dir.path()).unwrap_err().to_string();
        assert!(e.contains("grossit plus de 200 fois"), "{e}");
        assert!(
            !dir.path().join("t_fibre.csv").exists(),
            "the part written is removed"
        );
    }

    #[test]
    fn the_total_unpacked_size_is_bounded() {
        let data = vec![b'a'; 3 << 20];
        let bytes = zip_of(&[("t_fibre.csv", &data), ("t_cable.csv", &data)]);
        let limits = Limits {
            max_unpacked_bytes: 4 << 20,
            max_ratio: 100_000,
            ..Limits::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let e = unpack_from(std::io::Cursor::new(bytes), dir.path(), &limits)
            .unwrap_err()
            .to_string();
        assert!(e.contains("plus de 4 Mio une fois décompressée"), "{e}");
    }

    #[test]
    fn ordinary_text_unpacks() {
        let text = "fo_code;fo_cb_code\nFO1;CB1\n".repeat(1000);
        let bytes = zip_of(&[("livraison/t_fibre.csv", text.as_bytes())]);
        let dir = tempfile::tempdir().unwrap();
        let at = unpack(&bytes, dir.path()).unwrap();
        assert_eq!(at, dir.path().join("livraison"));
    }
}
