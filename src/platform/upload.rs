//! Uploads written to disk as they arrive: a delivery of up to its limit
//! never sits in memory, and one byte past the limit stops the transfer
//! with a French 413.

use std::path::Path;

use axum::body::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::platform::error::Error;

/// Writes `stream` into a new file under `dir` (created if needed), at most
/// `max_bytes`; the file is removed when the returned handle drops. `None`
/// when nothing was sent.
pub async fn spool<E: std::fmt::Display>(
    stream: impl Stream<Item = Result<Bytes, E>>,
    dir: &Path,
    max_bytes: u64,
) -> Result<Option<tempfile::TempPath>, Error> {
    let internal = |e: std::io::Error| Error::Internal(format!("upload spool: {e}"));
    tokio::fs::create_dir_all(dir).await.map_err(internal)?;
    let path = tempfile::Builder::new()
        .prefix("envoi-")
        .tempfile_in(dir)
        .map_err(internal)?
        .into_temp_path();
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .await
        .map_err(internal)?;
    let mut written = 0u64;
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::Invalid(format!("envoi interrompu : {e}")))?;
        written += chunk.len() as u64;
        if written > max_bytes {
            return Err(Error::TooLarge(format!(
                "fichier trop volumineux : {} Mio au plus",
                max_bytes >> 20
            )));
        }
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    Ok((written > 0).then_some(path))
}

/// A multipart failure in words (axum's own are English).
pub fn multipart_reason(e: &axum::extract::multipart::MultipartError) -> String {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        "fichier trop volumineux".into()
    } else {
        "le formulaire est arrivé incomplet ; réessayez".into()
    }
}
