//! Fiber plant inventory of Régie.
//!
//! This crate will own the plant model (technical sites, boxes, cables,
//! fibres, positions, splitters, premises and addresses, and the OLT / PON
//! port extensions GraceTHD lacks), the GraceTHD v2.0.1 import and export,
//! path tracing with optical budget, eligibility and capacity. It depends on
//! no other domain crate; `provisioning` and `monitoring` ask it questions
//! through its public API. It knows nothing about HTTP.
#![forbid(unsafe_code)]

use regie_core::migrate::Component;

/// The tables this crate owns. None yet: the plant model lands with the
/// inventory issue.
pub const COMPONENT: Component = Component {
    name: "inventory",
    migrations: &[],
};
