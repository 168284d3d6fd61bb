//! The platform every domain stands on: authentication and accounts
//! (auth/), the platform's API and pages and the page kit (api/, web/),
//! configuration, errors, the HTTP server and its security headers, the
//! access rules' middleware and route constructors, idempotent API calls,
//! scheduled work done once across instances, metrics, tracing, e-mail,
//! uploads, and the platform's own tables (users, sessions, tokens).

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod idempotency;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod schedule;
pub mod security;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod upload;
pub mod web;
