//! Subscriber line provisioning of Régie.
//!
//! This crate will own orders and the line lifecycle (ordered → path
//! reserved → ONT installed → active ⇄ suspended → terminated), the
//! race-free allocation of ports, ONT ids, VLANs and IP addresses, the
//! vendor-neutral OLT driver interface, and subscriber AAA through
//! FreeRADIUS. It reads the plant through `inventory`'s public API and never
//! its tables. It knows nothing about HTTP.
#![forbid(unsafe_code)]

use regie_core::migrate::Component;

/// The tables this crate owns. None yet.
pub const COMPONENT: Component = Component {
    name: "provisioning",
    migrations: &[],
};
