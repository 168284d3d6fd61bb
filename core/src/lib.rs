//! Shared kernel of Régie.
//!
//! This crate owns what every domain crate needs and none of them should
//! define alone: the database handle ([`Db`], one code path for SQLite and
//! PostgreSQL), the migration runner that applies each crate's own migrations
//! in a fixed order ([`migrate`]), the append-only audit journal ([`audit`])
//! the UTC timestamp format used in storage ([`time`]), amounts and dates
//! written in French ([`fr`]), the key that seals
//! secrets stored in the database ([`secret`]) and the PDF layout of the
//! documents the régie sends ([`pdf`]).
//!
//! It knows nothing about HTTP, and owns exactly one table besides the
//! migration ledger: `audit_log`.
#![forbid(unsafe_code)]

pub mod audit;
pub mod backup;
pub mod db;
pub mod fr;
pub mod migrate;
pub mod pdf;
pub mod secret;
pub mod time;

pub use db::{Backend, DatabaseUrl, Db};

/// Errors of the shared kernel.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The database URL could not be understood.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The database could not be reached at start-up.
    #[error("cannot connect to the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// A migration that was already applied has been edited since.
    #[error("migration {component}/{version} ({name}) was changed after it was applied; applied migrations must never be edited")]
    MigrationEdited {
        component: String,
        version: i64,
        name: String,
    },
    /// A migration failed to apply; nothing of it was kept.
    #[error("migration {component}/{version} ({name}) failed: {source}")]
    MigrationFailed {
        component: String,
        version: i64,
        name: String,
        #[source]
        source: sqlx::Error,
    },
    /// A secret key or a sealed secret is unusable.
    #[error("secret: {0}")]
    Secret(String),
    /// A backup could not be written or restored.
    #[error("{0}")]
    Backup(String),
    /// A PDF document could not be produced.
    #[error("PDF: {0}")]
    Pdf(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;
