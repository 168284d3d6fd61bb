//! Billing of Régie.
//!
//! This crate will own offers, accounts and subscriptions, monthly billing
//! runs, invoices and credit notes (gapless numbering per series), payments
//! and SEPA direct debit, dunning with the keep-connected protection, and the
//! accounting exports (registers, FEC, PES V2). It learns which lines are
//! billable from `provisioning` and who is entitled to the social tariff from
//! `social-tariff`, through their public APIs. Money is integer cents. It
//! knows nothing about HTTP.
#![forbid(unsafe_code)]

use regie_core::migrate::Component;

/// The tables this crate owns. None yet.
pub const COMPONENT: Component = Component {
    name: "billing",
    migrations: &[],
};
