//! Subscriber line provisioning of Régie.
//!
//! This crate owns orders and the line lifecycle ([`lifecycle`]: ordered →
//! path reserved → ONT installed → active ⇄ suspended → terminated), the
//! race-free allocation of ports, ONT ids, VLANs and IP addresses
//! ([`addressing`], [`storage`]), the journal of address assignments, the
//! vendor-neutral OLT driver interface ([`driver`]), and what FreeRADIUS
//! reads to grant subscribers their addresses. It reads the plant through
//! `inventory`'s public API and never its tables. It knows nothing about
//! HTTP.
//!
//! Other crates (billing) use [`service`]: they ask for suspension and
//! resumption there, and read every state change with
//! [`service::Provisioning::events_since`].
#![forbid(unsafe_code)]

pub mod addressing;
pub mod driver;
pub mod ids;
pub mod lifecycle;
pub mod line;
pub mod nas;
pub mod service;
pub mod storage;

use regie_core::migrate::Component;

pub use driver::DriverError;
pub use lifecycle::Illegal;

/// Errors of provisioning.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The line, premises or pool does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Input that breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The premises cannot be connected; the inventory's reason.
    #[error("le local ne peut pas être raccordé : {0}")]
    NotConnectable(String),
    /// A step the line's state does not allow.
    #[error(transparent)]
    Illegal(#[from] Illegal),
    /// A resource another line holds (a serial, a premises, an outlet).
    #[error("{0}")]
    Taken(String),
    /// Every resource of a kind is in use: a pool, a PON port, a VLAN range.
    #[error("{0}")]
    Exhausted(String),
    /// The path is over its optical budget and no reason was given to
    /// reserve it anyway.
    #[error("{0}")]
    OverBudget(String),
    /// The OLT refused, failed or did not answer. The line keeps what the
    /// database holds; retrying the step finishes it.
    #[error(transparent)]
    Olt(#[from] DriverError),
    /// Contention that a retry resolves.
    #[error("{0}")]
    Busy(String),
    #[error(transparent)]
    Storage(#[from] regie_core::CoreError),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Storage(e.into())
    }
}

impl From<inventory::Error> for Error {
    fn from(e: inventory::Error) -> Self {
        match e {
            inventory::Error::NotFound(m) => Error::NotFound(m),
            inventory::Error::Busy(m) => Error::Busy(m),
            inventory::Error::Storage(c) => Error::Storage(c),
            other => Error::Invalid(other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The tables this crate owns.
pub const COMPONENT: Component = storage::COMPONENT;
