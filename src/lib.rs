//! The `regie` binary's library: command line, configuration, HTTP server,
//! authentication and access control, the JSON API and the French pages.
//!
//! It wires the domain crates together and is the only place that knows about
//! HTTP: handlers extract the request, call a domain crate, and convert the
//! answer. Its own tables (users, roles, sessions and tokens, login failures)
//! are the `platform` migration component.
#![forbid(unsafe_code)]

pub mod app;
pub mod billing;
pub mod cli;
pub mod demo;
pub mod monitoring;
pub mod network;
pub mod platform;
pub mod social;

pub use app::{router, AppState};
pub use platform::error::Error;

use regie_core::migrate::Component;

/// Every migration component, in the order they are applied: the shared
/// kernel, the platform, then the domain crates from the bottom of the
/// dependency graph up.
pub const COMPONENTS: &[Component] = &[
    regie_core::audit::COMPONENT,
    platform::storage::COMPONENT,
    inventory::COMPONENT,
    provisioning::COMPONENT,
    ::monitoring::COMPONENT,
    social_tariff::COMPONENT,
    ::billing::COMPONENT,
];
