//! Social tariff and refurbished-equipment grants of Régie.
//!
//! This crate owns the households in precarity and, as the social-tariff
//! issue lands, their applications, the versioned eligibility rules, the
//! explainable decisions, appeals, renewals and equipment grants. It stands
//! alone: it depends on no other domain crate, and `billing` asks it who is
//! entitled to what through its public API. It knows nothing about HTTP.
//!
//! A household record can be linked to the user account of the household
//! itself; such a user only ever sees its own records ([`Scope::Own`]).
#![forbid(unsafe_code)]

pub mod engine;
pub mod household;
pub mod rules;
mod storage;

pub use household::{Household, HouseholdCode, NewHousehold, Scope};
use regie_core::migrate::{Component, Migration};

/// Errors of the social-tariff domain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record does not exist, or the caller may not know it exists.
    #[error("no such household: {0}")]
    NotFound(String),
    /// Another record does not exist; the message says which, in French.
    #[error("{0}")]
    Missing(String),
    /// Input that breaks a rule of the domain; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] regie_core::CoreError),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Storage(e.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The tables this crate owns.
pub const COMPONENT: Component = Component {
    name: "social_tariff",
    migrations: &[
        Migration::portable(
            1,
            "households",
            "CREATE TABLE households (
            id {{id}},
            code TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            user_id BIGINT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX households_user ON households (user_id);",
        ),
        Migration::portable(
            2,
            "rule_sets",
            // A version is never changed once published: a correction is a
            // new version. The period columns find the version in force.
            "CREATE TABLE st_rule_sets (
                version {{id}},
                document TEXT NOT NULL,
                deliberation_number TEXT NOT NULL,
                deliberation_date TEXT NOT NULL,
                effective_from TEXT NOT NULL,
                effective_to TEXT,
                published_by TEXT NOT NULL,
                published_at TEXT NOT NULL
            );
            CREATE INDEX st_rule_sets_from ON st_rule_sets (effective_from);",
        ),
    ],
};

pub use storage::{
    create_household, get_household, list_households, publish_rule_set, rule_set,
    rule_set_in_force, rule_sets, RuleSetRecord,
};
