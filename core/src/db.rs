//! The database handle shared by every crate.
//!
//! Régie runs the same queries on SQLite (the embedded default) and on
//! PostgreSQL through sqlx's `Any` driver. Queries are written in a portable
//! subset: `$n` placeholders, `INSERT … RETURNING`, `ON CONFLICT`, integers as
//! BIGINT, flags as SMALLINT, timestamps as fixed-width UTC text.

use std::fmt;
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::{CoreError, Result};

/// Which server is behind a [`Db`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A database URL that names a backend Régie supports.
///
/// Its `Display` and `Debug` hide the password, so the value can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// Parses `sqlite:PATH`, `sqlite://PATH`, `postgres://…` or
    /// `postgresql://…`.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(CoreError::InvalidUrl(
                    "a SQLite URL needs a file path, e.g. sqlite://data/regie.db".into(),
                ));
            }
            return Ok(Self {
                raw: s.to_owned(),
                backend: Backend::Sqlite,
            });
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            let parsed = url::Url::parse(s)
                .map_err(|e| CoreError::InvalidUrl(format!("{}: {e}", mask_password(s))))?;
            if parsed.host_str().unwrap_or_default().is_empty() {
                return Err(CoreError::InvalidUrl(format!(
                    "{}: no host given",
                    mask_password(s)
                )));
            }
            return Ok(Self {
                raw: s.to_owned(),
                backend: Backend::Postgres,
            });
        }
        Err(CoreError::InvalidUrl(format!(
            "{:?} is neither sqlite://PATH nor postgres://USER@HOST/DATABASE",
            mask_password(s)
        )))
    }

    /// A SQLite URL for a file path.
    pub fn sqlite_file(path: &std::path::Path) -> Self {
        Self {
            raw: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The full URL, password included. Only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The file path of a SQLite URL.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        let rest = self.raw.strip_prefix("sqlite:")?;
        let path = rest.trim_start_matches("//");
        Some(path.split('?').next().unwrap_or_default().into())
    }
}

impl FromStr for DatabaseUrl {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_password(&self.raw))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Replaces the password of a URL by `****`; leaves anything else alone.
pub fn mask_password(s: &str) -> String {
    let Ok(mut u) = url::Url::parse(s) else {
        // Not a URL: a password may still be written as `password=…`.
        return if s.to_ascii_lowercase().contains("password") {
            "****".to_owned()
        } else {
            s.to_owned()
        };
    };
    if u.password().is_some() {
        // Setting a password only fails for URLs without a host, which
        // cannot carry one in the first place.
        let _ = u.set_password(Some("****"));
    }
    // A password given in the query (`?password=…`, `?sslpassword=…`).
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let secret = k.to_ascii_lowercase().contains("password");
                (
                    k.into_owned(),
                    if secret {
                        "****".to_owned()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// A pool of connections to SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

static DRIVERS: Once = Once::new();

impl Db {
    /// Connects, creating the SQLite file if needed. The caller creates the
    /// directory that holds it.
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = url.backend();
        let raw = match backend {
            Backend::Sqlite if !url.expose().contains('?') => format!("{}?mode=rwc", url.expose()),
            _ => url.expose().to_owned(),
        };
        let options = AnyConnectOptions::from_str(&raw)
            .map_err(|e| CoreError::InvalidUrl(format!("{url}: {e}")))?;
        let unreachable = |reason: String| CoreError::Unreachable {
            url: url.to_string(),
            reason,
        };
        // One direct connection first: the pool retries until its timeout and
        // then reports only "timed out", losing the reason an operator needs
        // ("connection refused", "database does not exist", ...).
        let probe = try_connect(&options).await;
        let probe = match probe {
            // A PostgreSQL server that answers but lacks the database: create
            // it, as SQLite creates its file, so a first start needs no DBA.
            Err(ProbeError::Failed(sqlx::Error::Database(e)))
                if backend == Backend::Postgres && e.code().as_deref() == Some("3D000") =>
            {
                create_postgres_database(url).await?;
                try_connect(&options).await
            }
            other => other,
        };
        match probe {
            Ok(conn) => {
                let _ = sqlx::Connection::close(conn).await;
            }
            Err(ProbeError::TimedOut) => {
                return Err(unreachable("no answer within 5 seconds".into()))
            }
            Err(ProbeError::Failed(e)) => return Err(unreachable(describe_connect_error(&e))),
        }
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the single writer; the
                        // busy timeout makes concurrent writers wait instead
                        // of failing at once; foreign keys are off by default
                        // in SQLite.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| unreachable(describe_connect_error(&e)))?;
        Ok(Self { pool, backend })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction. Multi-step writes go through one.
    ///
    /// On SQLite the transaction takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred one that reads first and writes later
    /// cannot wait for another writer (SQLite answers "database is
    /// locked" at once rather than risk a deadlock), whereas an immediate
    /// one waits its turn under the busy timeout.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Number of open connections and of idle ones, for the metrics.
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

enum ProbeError {
    TimedOut,
    Failed(sqlx::Error),
}

async fn try_connect(
    options: &AnyConnectOptions,
) -> std::result::Result<sqlx::AnyConnection, ProbeError> {
    use sqlx::ConnectOptions;
    match tokio::time::timeout(Duration::from_secs(5), options.connect()).await {
        Err(_) => Err(ProbeError::TimedOut),
        Ok(Err(e)) => Err(ProbeError::Failed(e)),
        Ok(Ok(c)) => Ok(c),
    }
}

/// Creates the database a PostgreSQL URL names, connecting to the server's
/// `postgres` maintenance database to do so.
async fn create_postgres_database(url: &DatabaseUrl) -> Result<()> {
    let parsed = url::Url::parse(url.expose()).map_err(|e| CoreError::InvalidUrl(e.to_string()))?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(CoreError::InvalidUrl(format!(
            "{url}: database name {name:?} must be letters, digits, '_' or '-'"
        )));
    }
    let mut admin = parsed.clone();
    admin.set_path("/postgres");
    let options = AnyConnectOptions::from_str(admin.as_str())
        .map_err(|e| CoreError::InvalidUrl(e.to_string()))?;
    let unreachable = |reason: String| CoreError::Unreachable {
        url: url.to_string(),
        reason,
    };
    let mut conn = match try_connect(&options).await {
        Ok(c) => c,
        Err(ProbeError::TimedOut) => return Err(unreachable("no answer within 5 seconds".into())),
        Err(ProbeError::Failed(e)) => {
            return Err(unreachable(format!(
                "database {name:?} does not exist and cannot be created: {}",
                describe_connect_error(&e)
            )))
        }
    };
    let created = sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await;
    let _ = sqlx::Connection::close(conn).await;
    match created {
        Ok(_) => {
            tracing::info!(database = %name, "created PostgreSQL database");
            Ok(())
        }
        // Another instance created it at the same moment: fine.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(()),
        Err(e) => Err(unreachable(format!(
            "database {name:?} does not exist and cannot be created: {}",
            describe_connect_error(&e)
        ))),
    }
}

fn describe_connect_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "no answer within 5 seconds".into(),
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

/// Returns true when a database error is a unique-constraint violation, the
/// last guard against concurrent duplicates on both backends.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation)
                // The Any driver does not always carry the kind through.
                || db.code().as_deref() == Some("23505")
                || db.code().as_deref() == Some("2067")
                || db.code().as_deref() == Some("1555")
                || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_wherever_they_are_written() {
        assert_eq!(
            mask_password("postgres://regie:s3cret@db/regie"),
            "postgres://regie:****@db/regie"
        );
        let q = mask_password("postgres://regie@db/regie?password=s3cret&sslmode=require");
        assert!(
            !q.contains("s3cret") && q.contains("sslmode=require"),
            "{q}"
        );
        let both = mask_password("postgres://u:a@db/x?sslpassword=b");
        assert!(!both.contains(":a@") && !both.contains("=b"), "{both}");
        assert_eq!(mask_password("host=db password=s3cret"), "****");
        assert_eq!(
            mask_password("sqlite://data/regie.db"),
            "sqlite://data/regie.db"
        );
    }

    #[test]
    fn parses_supported_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/regie.db")
                .map(|u| u.backend())
                .ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:regie.db")
                .map(|u| u.backend())
                .ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://postgres@127.0.0.1/regie")
                .map(|u| u.backend())
                .ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u:p@db:5433/regie")
                .map(|u| u.backend())
                .ok(),
            Some(Backend::Postgres)
        );
    }

    #[test]
    fn rejects_other_urls() {
        for bad in [
            "",
            "mysql://x/y",
            "regie.db",
            "sqlite://",
            "postgres://",
            "http://x",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn password_never_displayed() {
        let u = DatabaseUrl::parse("postgres://regie:s3cret@db/regie").expect("valid");
        assert!(!u.to_string().contains("s3cret"));
        assert!(!format!("{u:?}").contains("s3cret"));
        assert!(u.expose().contains("s3cret"));
    }

    #[test]
    fn sqlite_path_extracted() {
        let u = DatabaseUrl::parse("sqlite://data/regie.db?mode=rwc").expect("valid");
        assert_eq!(u.sqlite_path(), Some("data/regie.db".into()));
    }
}
