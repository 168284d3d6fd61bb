//! The `regie` binary's library: command line, configuration, HTTP server,
//! authentication and access control, the JSON API and the French pages.
//!
//! It wires the domain crates together and is the only place that knows about
//! HTTP: handlers extract the request, call a domain crate, and convert the
//! answer. Its own tables (users, roles, sessions and tokens, login failures)
//! are the `platform` migration component.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod auth;
pub mod billing_cli;
pub mod billing_files;
pub mod billing_scope;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod idempotency;
pub mod inventory_cli;
pub mod mail;
pub mod metrics;
pub mod monitor;
pub mod monitoring_cli;
pub mod openapi;
pub mod provisioning_cli;
pub mod routes;
pub mod runs;
pub mod schedule;
pub mod security;
pub mod server;
pub mod social;
pub mod storage;
pub mod takeover_cli;
pub mod telemetry;
pub mod upload;
pub mod web;

pub use app::{router, AppState};
pub use error::Error;

use regie_core::migrate::Component;

/// Every migration component, in the order they are applied: the shared
/// kernel, the platform, then the domain crates from the bottom of the
/// dependency graph up.
pub const COMPONENTS: &[Component] = &[
    regie_core::audit::COMPONENT,
    storage::COMPONENT,
    inventory::COMPONENT,
    provisioning::COMPONENT,
    monitoring::COMPONENT,
    social_tariff::COMPONENT,
    billing::COMPONENT,
];
