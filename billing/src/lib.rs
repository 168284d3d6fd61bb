//! Billing of Régie.
//!
//! This crate owns offers, accounts and subscriptions, monthly billing
//! runs, invoices and credit notes (gapless numbering per series), payments
//! and SEPA direct debit, dunning with the keep-connected protection, the
//! accounting exports (registers, FEC, PES V2), and the takeover of the
//! outgoing concession's subscriber base (`takeover`). It learns which lines
//! are billable from `provisioning` and who is entitled to the social tariff
//! from `social-tariff`, through their public APIs. Money is integer cents.
//! It knows nothing about HTTP.
#![forbid(unsafe_code)]

pub mod cii;
pub mod compute;
pub mod credit;
pub mod document;
pub mod dunning;
pub mod exports;
pub mod fec;
pub mod ledger;
pub mod mandate;
pub mod model;
pub mod money;
pub mod pes;
pub mod run;
pub mod sepa;
pub mod storage;
pub mod sync;
pub mod takeover;
#[cfg(test)]
mod test_support;
mod xml;

/// What can go wrong in billing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule of billing; the message says which, in French.
    #[error("{0}")]
    Invalid(String),
    /// An amount beyond what cents in 64 bits hold.
    #[error("montant hors limites")]
    Overflow,
    /// The record does not exist; the message says which, in French.
    #[error("{0}")]
    NotFound(String),
    /// A crate billing reads from (social tariff, provisioning) failed.
    #[error("{0}")]
    Upstream(String),
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] regie_core::CoreError),
}

pub use storage::COMPONENT;
