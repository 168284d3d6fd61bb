//! Network monitoring of Régie.
//!
//! This crate owns SNMP polling ([`snmp`], behind a small trait over the
//! `async-snmp` crate), the reading of device data ([`interfaces`]), the
//! vendor profiles that say what an OLT's MIB holds about its ONTs
//! ([`profiles`], data rather than code) and, as
//! they land, traps, the Prometheus exposition of device and optical
//! metrics, alarms and fault impact (which lines and households a fault cuts
//! off, asked of `inventory` and `provisioning`). Time series go to
//! Prometheus; its tables hold only current state and alarms. It knows
//! nothing about HTTP.
#![forbid(unsafe_code)]

pub mod alarms;
pub mod counters;
pub mod devices;
pub mod fleet;
mod if_types;
pub mod interfaces;
pub mod line_optics;
pub mod metrics;
pub mod poller;
pub mod profiles;
pub mod sensors;
pub mod snmp;
pub mod status;
pub mod storage;
pub mod traps;
pub mod watch;

use regie_core::migrate::Component;

/// Errors of monitoring.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The record would clash with one that exists.
    #[error("{0}")]
    Conflict(String),
    /// The record does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The device did not answer as it should (timeout, authentication,
    /// malformed answer).
    #[error("équipement {address} : {reason}")]
    Device {
        address: std::net::SocketAddr,
        reason: String,
        fault: Fault,
    },
    #[error(transparent)]
    Storage(#[from] regie_core::CoreError),
}

/// What kind of failure a device met: what a technician does about it
/// differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// No answer at all: the device, or the way to it, is down.
    Silent,
    /// The device's system says its SNMP port is closed (ICMP port
    /// unreachable): the device is there, its agent is not.
    Closed,
    /// The agent refuses the credentials (SNMPv3 report, failed
    /// authentication): a configuration error, not an outage.
    Credentials,
    /// Anything else (malformed answers, a broken walk).
    Other,
}

impl Error {
    /// The kind of a device failure (`Other` for any other error).
    pub fn fault(&self) -> Fault {
        match self {
            Error::Device { fault, .. } => *fault,
            _ => Fault::Other,
        }
    }
}

/// The tables this crate owns: the alarms and the devices added.
pub const COMPONENT: Component = Component {
    name: "monitoring",
    migrations: storage::MIGRATIONS,
};
