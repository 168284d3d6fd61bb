//! Network monitoring of Régie.
//!
//! This crate will own SNMP v2c/v3 polling and traps, the Prometheus
//! exposition of device and optical metrics, alarms, and fault impact (which
//! lines and households a fault cuts off, asked of `inventory` and
//! `provisioning`). Time series go to Prometheus; its tables hold only
//! current state and alarms. It knows nothing about HTTP.
#![forbid(unsafe_code)]

use regie_core::migrate::Component;

/// The tables this crate owns. None yet.
pub const COMPONENT: Component = Component {
    name: "monitoring",
    migrations: &[],
};
