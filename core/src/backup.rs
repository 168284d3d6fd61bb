//! Snapshots of the database and their restoration.
//!
//! A backup is taken while the server runs and is consistent (one moment of
//! the database, never half of a billing run): SQLite writes it with
//! `VACUUM INTO`, a read transaction copying every page into a new, compact
//! file; PostgreSQL's own `pg_dump` reads everything in one snapshot and
//! writes its custom format. The file is written beside its final name and
//! renamed into place once complete, so a backup that fails leaves nothing
//! that looks like one.
//!
//! A restore refuses a database that holds tables unless forced, and is
//! all or nothing: on PostgreSQL the old schema is dropped and the snapshot
//! loaded in one transaction (`psql --single-transaction` reading what
//! `pg_restore` writes); on SQLite the snapshot is checked, copied beside
//! the database file and renamed over it.
//!
//! The secret key that seals scans is not in the database, hence not in a
//! backup: it is kept apart, as the README says.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};
use sqlx::{ConnectOptions, Connection, Row};

use crate::{Backend, CoreError, DatabaseUrl, Db, Result};

/// The first bytes of a SQLite database file.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
/// The first bytes of a `pg_dump --format=custom` archive.
const PG_MAGIC: &[u8] = b"PGDMP";

fn fail(message: impl Into<String>) -> CoreError {
    CoreError::Backup(message.into())
}

/// What a snapshot holds, table by table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// Per table: its row count and a digest of its rows (independent of
    /// their physical order).
    pub tables: BTreeMap<String, TableDigest>,
}

/// The rows of one table, summed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDigest {
    pub rows: u64,
    pub sha256: [u8; 32],
}

impl Contents {
    pub fn total_rows(&self) -> u64 {
        self.tables.values().map(|t| t.rows).sum()
    }
}

/// The application's tables (not the server's own catalogues).
pub async fn tables(db: &Db) -> Result<Vec<String>> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
    };
    Ok(sqlx::query_scalar::<_, String>(sql)
        .fetch_all(db.pool())
        .await?)
}

async fn columns(db: &Db, table: &str) -> Result<Vec<String>> {
    let sql = match db.backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    Ok(sqlx::query_scalar::<_, String>(sql)
        .bind(table)
        .fetch_all(db.pool())
        .await?)
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Reads every table whole and sums it up: two databases with equal
/// contents hold the same rows. Every value is read as text, so that one
/// query serves every table on both backends; rows are sorted before they
/// are hashed, because a restored table need not keep the physical order.
pub async fn contents(db: &Db) -> Result<Contents> {
    let mut out = BTreeMap::new();
    for table in tables(db).await? {
        let cols = columns(db, &table).await?;
        let select = cols
            .iter()
            .map(|c| format!("CAST({} AS TEXT)", quoted(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!("SELECT {select} FROM {}", quoted(&table)))
            .fetch_all(db.pool())
            .await?;
        let mut lines = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(cols.len());
            for i in 0..cols.len() {
                values.push(row.try_get::<Option<String>, _>(i)?);
            }
            lines.push(values);
        }
        lines.sort();
        let mut hash = Sha256::new();
        for values in &lines {
            for v in values {
                match v {
                    // A length prefix keeps ("ab", "c") apart from ("a", "bc").
                    Some(s) => hash.update(format!("{}:{s}", s.len())),
                    None => hash.update("-"),
                }
            }
            hash.update("\n");
        }
        out.insert(
            table,
            TableDigest {
                rows: lines.len() as u64,
                sha256: hash.finalize().into(),
            },
        );
    }
    Ok(Contents { tables: out })
}

/// Whether the database holds no table at all (a new, empty database).
pub async fn is_empty(db: &Db) -> Result<bool> {
    Ok(tables(db).await?.is_empty())
}

/// The temporary name a file is written under before it is renamed into
/// place: beside it, so the rename stays on one file system.
fn partial_path(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    file.with_file_name(format!(".{name}.partial"))
}

/// Writes a consistent snapshot of the database to `file` (replaced if it
/// exists, only once the new snapshot is complete). Answers its size in
/// bytes.
#[tracing::instrument(skip_all, fields(backend = db.backend().as_str(), file = %file.display()))]
pub async fn backup(db: &Db, url: &DatabaseUrl, file: &Path) -> Result<u64> {
    if file.is_dir() {
        return Err(fail(format!("{} is a directory", file.display())));
    }
    let partial = partial_path(file);
    remove_if_present(&partial)?;
    let written = match db.backend() {
        Backend::Sqlite => {
            // VACUUM INTO takes a file name as a string literal, not a bound
            // parameter, so the quote is doubled by hand.
            let target = partial
                .to_str()
                .ok_or_else(|| fail("the backup path is not valid UTF-8"))?;
            sqlx::query(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
                .execute(db.pool())
                .await
                .map(|_| ())
                .map_err(|e| fail(format!("cannot write {}: {e}", file.display())))
        }
        Backend::Postgres => {
            let (target, password) = libpq_target(url)?;
            let mut cmd = Command::new("pg_dump");
            cmd.args(["--format=custom", "--no-owner", "--no-privileges"])
                .arg(format!("--file={}", partial.display()))
                .arg(format!("--dbname={target}"));
            if let Some(p) = password {
                cmd.env("PGPASSWORD", p);
            }
            run_tool(cmd, "pg_dump").await
        }
    };
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let size = std::fs::metadata(&partial)
        .map_err(|e| fail(format!("cannot read {}: {e}", partial.display())))?
        .len();
    std::fs::rename(&partial, file).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        fail(format!("cannot write {}: {e}", file.display()))
    })?;
    tracing::info!(size_bytes = size, "backup written");
    Ok(size)
}

/// How a restore went.
#[derive(Debug, Clone)]
pub struct Restored {
    pub tables: usize,
    pub rows: u64,
}

/// Replaces the database at `url` by the snapshot in `file`. A database
/// that holds tables is only replaced with `force`. The snapshot must come
/// from the same backend.
#[tracing::instrument(skip_all, fields(backend = url.backend().as_str(), file = %file.display(), force))]
pub async fn restore(url: &DatabaseUrl, file: &Path, force: bool) -> Result<Restored> {
    let kind = snapshot_kind(file)?;
    if kind != url.backend() {
        return Err(fail(format!(
            "{} is a {} backup; the configured database is {}",
            file.display(),
            kind.as_str(),
            url.backend().as_str()
        )));
    }
    match kind {
        Backend::Sqlite => restore_sqlite(url, file, force).await?,
        Backend::Postgres => restore_postgres(url, file, force).await?,
    }
    let db = Db::connect(url, 1).await?;
    let contents = contents(&db).await;
    db.close().await;
    let contents = contents?;
    tracing::info!(
        tables = contents.tables.len(),
        rows = contents.total_rows(),
        "restored"
    );
    Ok(Restored {
        tables: contents.tables.len(),
        rows: contents.total_rows(),
    })
}

/// Which backend wrote a snapshot, told by its first bytes.
fn snapshot_kind(file: &Path) -> Result<Backend> {
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(file)
        .map_err(|e| fail(format!("cannot read {}: {e}", file.display())))?;
    let n = f
        .read(&mut head)
        .map_err(|e| fail(format!("cannot read {}: {e}", file.display())))?;
    let head = &head[..n];
    if head.starts_with(SQLITE_MAGIC) {
        Ok(Backend::Sqlite)
    } else if head.starts_with(PG_MAGIC) {
        Ok(Backend::Postgres)
    } else {
        Err(fail(format!(
            "{} is not a Régie backup (neither a SQLite database nor a pg_dump archive)",
            file.display()
        )))
    }
}

async fn refuse_unless_empty(db: &Db, url: &DatabaseUrl, force: bool) -> Result<()> {
    let tables = tables(db).await?.len();
    if tables > 0 && !force {
        return Err(fail(format!(
            "the database {url} is not empty ({tables} tables); restore with --force to replace it"
        )));
    }
    Ok(())
}

async fn restore_sqlite(url: &DatabaseUrl, file: &Path, force: bool) -> Result<()> {
    let target = url
        .sqlite_path()
        .ok_or_else(|| fail("the database URL names no file"))?;
    // The snapshot is checked before anything is touched.
    // Opened read-only, straight through the SQLite driver: the pool's
    // set-up (write-ahead log) would write to the file.
    let damaged = |e: sqlx::Error| fail(format!("{} is damaged: {e}", file.display()));
    let mut snapshot = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await
        .map_err(damaged)?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut snapshot)
        .await
        .map_err(damaged)?;
    let _ = snapshot.close().await;
    if check != "ok" {
        return Err(fail(format!("{} is damaged: {check}", file.display())));
    }
    if target.exists() {
        let db = Db::connect(url, 1).await?;
        let refused = refuse_unless_empty(&db, url, force).await;
        // The write-ahead log is folded into the file and emptied, so that
        // no page of the old database is replayed over the new one.
        let checkpoint = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(db.pool())
            .await;
        db.close().await;
        refused?;
        checkpoint?;
    }
    let partial = partial_path(&target);
    std::fs::copy(file, &partial)
        .map_err(|e| fail(format!("cannot write {}: {e}", partial.display())))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = target.clone().into_os_string();
        side.push(suffix);
        remove_if_present(Path::new(&side))?;
    }
    std::fs::rename(&partial, &target).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        fail(format!("cannot write {}: {e}", target.display()))
    })
}

async fn restore_postgres(url: &DatabaseUrl, file: &Path, force: bool) -> Result<()> {
    // Connecting creates a database that does not exist yet.
    let db = Db::connect(url, 1).await?;
    let refused = refuse_unless_empty(&db, url, force).await;
    db.close().await;
    refused?;
    let (target, password) = libpq_target(url)?;
    // pg_restore turns the archive into SQL; psql runs it after dropping
    // the old schema, all in one transaction: a snapshot that fails to load
    // leaves the database as it was.
    let mut archive = Command::new("pg_restore");
    archive
        .args(["--no-owner", "--no-privileges", "--file=-"])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut load = Command::new("psql");
    load.args([
        "--quiet",
        "--no-psqlrc",
        "--single-transaction",
        "--set=ON_ERROR_STOP=1",
        "--command=DROP SCHEMA IF EXISTS public CASCADE",
        "--command=CREATE SCHEMA public",
        "--file=-",
    ])
    .arg(format!("--dbname={target}"))
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Some(p) = password {
        load.env("PGPASSWORD", p);
    }
    tokio::task::spawn_blocking(move || pipe(archive, load))
        .await
        .map_err(|e| fail(format!("restore interrupted: {e}")))?
}

/// Runs `first | second`, failing with the first's or the second's error
/// output.
fn pipe(mut first: Command, mut second: Command) -> Result<()> {
    let mut producer = first.spawn().map_err(|e| missing_tool("pg_restore", &e))?;
    let stdout = producer
        .stdout
        .take()
        .ok_or_else(|| fail("pg_restore gave no output"))?;
    let consumer = second
        .stdin(Stdio::from(stdout))
        .spawn()
        .map_err(|e| missing_tool("psql", &e));
    let consumer = match consumer {
        Ok(c) => c,
        Err(e) => {
            let _ = producer.kill();
            let _ = producer.wait();
            return Err(e);
        }
    };
    let loaded = consumer
        .wait_with_output()
        .map_err(|e| fail(format!("psql: {e}")))?;
    let produced = producer
        .wait_with_output()
        .map_err(|e| fail(format!("pg_restore: {e}")))?;
    if !produced.status.success() {
        return Err(fail(format!(
            "pg_restore failed: {}",
            first_lines(&produced.stderr)
        )));
    }
    if !loaded.status.success() {
        return Err(fail(format!(
            "psql failed, nothing was changed: {}",
            first_lines(&loaded.stderr)
        )));
    }
    Ok(())
}

async fn run_tool(mut cmd: Command, name: &'static str) -> Result<()> {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|e| fail(format!("{name} interrupted: {e}")))?
        .map_err(|e| missing_tool(name, &e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(fail(format!("{name} failed: {}", first_lines(&out.stderr))))
    }
}

fn missing_tool(name: &str, e: &std::io::Error) -> CoreError {
    if e.kind() == std::io::ErrorKind::NotFound {
        fail(format!(
            "{name} is not installed: install the PostgreSQL client tools (Debian: postgresql-client), of the server's major version or newer"
        ))
    } else {
        fail(format!("cannot start {name}: {e}"))
    }
}

/// The tool's error output, at most three lines, as one line.
fn first_lines(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(3)
        .collect();
    if lines.is_empty() {
        "no message".into()
    } else {
        lines.join(" / ")
    }
}

/// The URL for libpq without its password, and the password apart: given
/// on the command line it would be visible to every user of the machine.
fn libpq_target(url: &DatabaseUrl) -> Result<(String, Option<String>)> {
    let mut parsed =
        url::Url::parse(url.expose()).map_err(|e| CoreError::InvalidUrl(format!("{url}: {e}")))?;
    let password = parsed.password().map(|p| {
        url::form_urlencoded::parse(format!("p={p}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| p.to_owned())
    });
    let _ = parsed.set_password(None);
    Ok((parsed.to_string(), password))
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(fail(format!("cannot remove {}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url() {
        let url =
            DatabaseUrl::parse("postgres://regie:s%40cret@db.example:5432/regie?sslmode=require")
                .expect("url");
        let (target, password) = libpq_target(&url).expect("target");
        assert_eq!(
            target,
            "postgres://regie@db.example:5432/regie?sslmode=require"
        );
        assert_eq!(password.as_deref(), Some("s@cret"));
        let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1/x").expect("url");
        assert_eq!(libpq_target(&url).expect("target").1, None);
    }

    #[test]
    fn snapshots_are_told_by_their_first_bytes() {
        let dir = tempfile::tempdir().expect("dir");
        let sqlite = dir.path().join("a.db");
        std::fs::write(&sqlite, b"SQLite format 3\0rest").expect("write");
        assert_eq!(snapshot_kind(&sqlite).expect("kind"), Backend::Sqlite);
        let pg = dir.path().join("a.dump");
        std::fs::write(&pg, b"PGDMP\x01\x0e").expect("write");
        assert_eq!(snapshot_kind(&pg).expect("kind"), Backend::Postgres);
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, b"bonjour").expect("write");
        let e = snapshot_kind(&other).expect_err("not a backup");
        assert!(e.to_string().contains("not a Régie backup"), "{e}");
        let e = snapshot_kind(&dir.path().join("absent")).expect_err("absent");
        assert!(e.to_string().contains("cannot read"), "{e}");
    }

    #[test]
    fn the_partial_file_sits_beside_the_final_one() {
        assert_eq!(
            partial_path(Path::new("/var/backups/regie.db")),
            PathBuf::from("/var/backups/.regie.db.partial")
        );
    }

    #[tokio::test]
    async fn a_sqlite_snapshot_restores_to_equal_contents() {
        let dir = tempfile::tempdir().expect("dir");
        let url = DatabaseUrl::sqlite_file(&dir.path().join("live.db"));
        let db = Db::connect(&url, 2).await.expect("connect");
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
            .execute(db.pool())
            .await
            .expect("create");
        for i in 0..50 {
            sqlx::query("INSERT INTO t (name, data) VALUES ($1, $2)")
                .bind(format!("ligne {i}"))
                .bind(vec![i as u8; 3])
                .execute(db.pool())
                .await
                .expect("insert");
        }
        let file = dir.path().join("snap.db");
        assert!(backup(&db, &url, &file).await.expect("backup") > 0);
        let before = contents(&db).await.expect("contents");
        db.close().await;

        let fresh = DatabaseUrl::sqlite_file(&dir.path().join("fresh.db"));
        let restored = restore(&fresh, &file, false).await.expect("restore");
        assert_eq!((restored.tables, restored.rows), (1, 50));
        let db = Db::connect(&fresh, 1).await.expect("connect");
        assert_eq!(contents(&db).await.expect("contents"), before);

        // Once it holds tables, only --force replaces it.
        let e = restore(&fresh, &file, false).await.expect_err("refused");
        assert!(e.to_string().contains("--force"), "{e}");
        sqlx::query("DELETE FROM t WHERE id > 10")
            .execute(db.pool())
            .await
            .expect("delete");
        db.close().await;
        restore(&fresh, &file, true).await.expect("forced");
        let db = Db::connect(&fresh, 1).await.expect("connect");
        assert_eq!(contents(&db).await.expect("contents"), before);
        db.close().await;

        // A PostgreSQL archive is not restored into SQLite.
        let pg = dir.path().join("pg.dump");
        std::fs::write(&pg, b"PGDMP\x01").expect("write");
        let e = restore(&fresh, &pg, true).await.expect_err("wrong kind");
        assert!(e.to_string().contains("is a postgres backup"), "{e}");
    }

    #[tokio::test]
    async fn a_damaged_snapshot_is_refused_before_anything_changes() {
        let dir = tempfile::tempdir().expect("dir");
        let url = DatabaseUrl::sqlite_file(&dir.path().join("live.db"));
        let db = Db::connect(&url, 1).await.expect("connect");
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .execute(db.pool())
            .await
            .expect("create");
        db.close().await;
        let bad = dir.path().join("bad.db");
        let mut bytes = SQLITE_MAGIC.to_vec();
        bytes.extend(std::iter::repeat_n(0xAB, 8192));
        std::fs::write(&bad, bytes).expect("write");
        assert!(restore(&url, &bad, true).await.is_err());
        let db = Db::connect(&url, 1).await.expect("connect");
        assert_eq!(tables(&db).await.expect("tables"), vec!["t".to_owned()]);
        db.close().await;
    }
}
