//! Social tariff and refurbished-equipment grants of Régie.
//!
//! This crate owns the households in precarity, their applications (online,
//! at the counter, on paper), the versioned eligibility rules, the
//! verification of their situation (a State service or a document seen),
//! the explainable decisions validated by an agent, appeals, and the
//! entitlements billing reads; renewals and equipment grants come next. It stands
//! alone: it depends on no other domain crate, and `billing` asks it who is
//! entitled to what through its public API. It knows nothing about HTTP.
//!
//! A household record can be linked to the user account of the household
//! itself; such a user only ever sees its own records ([`Scope::Own`]).
#![forbid(unsafe_code)]

pub mod application;
pub mod decision;
pub mod engine;
pub mod grants;
pub mod household;
pub mod privacy;
pub mod renewal;
pub mod rules;
pub mod service;
mod storage;
pub mod verify;

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
        Migration::portable(
            3,
            "applications_decisions_appeals",
            // The identity for an automatic verification is kept apart and
            // erased once the State's services answered. One first decision
            // per application, one replacement per decision, one appeal
            // under review per decision: partial unique indexes, so two
            // agents acting at once cannot both succeed.
            "CREATE TABLE st_applications (
                id {{id}},
                code TEXT NOT NULL UNIQUE,
                household_id BIGINT NOT NULL REFERENCES households (id),
                channel TEXT NOT NULL,
                status TEXT NOT NULL,
                renewal SMALLINT NOT NULL DEFAULT 0,
                applicant TEXT NOT NULL,
                dwelling_key TEXT NOT NULL,
                input_json TEXT NOT NULL,
                identity_json TEXT,
                facts_json TEXT NOT NULL,
                notes_json TEXT NOT NULL,
                entered_by TEXT,
                consent_at TEXT,
                created_at TEXT NOT NULL,
                submitted_at TEXT,
                updated_at TEXT NOT NULL
            );
            CREATE INDEX st_applications_household ON st_applications (household_id);
            CREATE INDEX st_applications_dwelling ON st_applications (dwelling_key);
            CREATE INDEX st_applications_applicant ON st_applications (applicant);
            CREATE TABLE st_decisions (
                id {{id}},
                application_id BIGINT NOT NULL REFERENCES st_applications (id),
                household_id BIGINT NOT NULL REFERENCES households (id),
                dwelling_key TEXT NOT NULL,
                outcome TEXT NOT NULL,
                level TEXT,
                level_label TEXT,
                monthly_price_cents BIGINT,
                valid_from TEXT,
                valid_to TEXT,
                grace_until TEXT,
                rule_version BIGINT NOT NULL,
                deliberation TEXT NOT NULL,
                evaluation_json TEXT NOT NULL,
                reason TEXT,
                validated_by TEXT NOT NULL,
                decided_on TEXT NOT NULL,
                appeal_until TEXT NOT NULL,
                supersedes BIGINT REFERENCES st_decisions (id),
                superseded SMALLINT NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL
            );
            CREATE UNIQUE INDEX st_decisions_first ON st_decisions (application_id) WHERE supersedes IS NULL;
            CREATE UNIQUE INDEX st_decisions_replacement ON st_decisions (supersedes);
            CREATE INDEX st_decisions_household ON st_decisions (household_id);
            CREATE INDEX st_decisions_dwelling ON st_decisions (dwelling_key);
            CREATE TABLE st_appeals (
                id {{id}},
                decision_id BIGINT NOT NULL REFERENCES st_decisions (id),
                channel TEXT NOT NULL,
                grounds TEXT NOT NULL,
                lodged_by TEXT NOT NULL,
                lodged_at TEXT NOT NULL,
                status TEXT NOT NULL,
                reviewed_by TEXT,
                review_reason TEXT,
                reviewed_at TEXT,
                new_decision_id BIGINT REFERENCES st_decisions (id)
            );
            CREATE UNIQUE INDEX st_appeals_pending ON st_appeals (decision_id) WHERE status = 'pending';",
        ),
        Migration::portable(
            4,
            "renewal_reminders",
            // One reminder of each kind per decision: the daily job may run
            // on several instances or twice a day and still plan it once.
            "CREATE TABLE st_reminders (
                id {{id}},
                decision_id BIGINT NOT NULL REFERENCES st_decisions (id),
                kind TEXT NOT NULL,
                due_on TEXT NOT NULL,
                channel TEXT NOT NULL,
                address TEXT,
                status TEXT NOT NULL,
                detail TEXT,
                created_at TEXT NOT NULL,
                done_at TEXT,
                UNIQUE (decision_id, kind)
            );
            CREATE INDEX st_reminders_status ON st_reminders (status);",
        ),
        Migration::portable(
            5,
            "equipment_grants",
            // The budget row keeps what is committed, so that one UPDATE
            // checks and takes the money at once: two agents serving the
            // waiting list together can never overspend the envelope. A
            // device goes to one grant; a household gets one grant a year.
            // Every write to these tables starts by bumping the one row of
            // st_grants_lock: on SQLite that takes the write lock before any
            // read (a read snapshot cannot be upgraded under contention), on
            // PostgreSQL it serialises the writers, so the waiting list is
            // served in order whatever runs at once.
            "CREATE TABLE st_grants_lock (id INTEGER PRIMARY KEY, epoch BIGINT NOT NULL);
            INSERT INTO st_grants_lock (id, epoch) VALUES (1, 0);
            CREATE TABLE st_devices (
                id {{id}},
                partner TEXT NOT NULL,
                kind TEXT NOT NULL,
                model TEXT NOT NULL,
                serial TEXT NOT NULL UNIQUE,
                condition TEXT NOT NULL,
                value_cents BIGINT NOT NULL,
                received_on TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at TEXT NOT NULL
            );
            CREATE INDEX st_devices_stock ON st_devices (status, kind);
            CREATE TABLE st_budgets (
                year INTEGER PRIMARY KEY,
                deliberation TEXT NOT NULL,
                amount_cents BIGINT NOT NULL,
                committed_cents BIGINT NOT NULL DEFAULT 0,
                updated_at TEXT NOT NULL
            );
            CREATE TABLE st_grants (
                id {{id}},
                household_id BIGINT NOT NULL REFERENCES households (id),
                kind TEXT NOT NULL,
                year INTEGER NOT NULL,
                requested_at TEXT NOT NULL,
                requested_by TEXT NOT NULL,
                status TEXT NOT NULL,
                device_id BIGINT UNIQUE REFERENCES st_devices (id),
                value_cents BIGINT,
                allocated_at TEXT,
                handed_over_on TEXT,
                attestation TEXT,
                handed_by TEXT
            );
            CREATE UNIQUE INDEX st_grants_one_a_year ON st_grants (household_id, year) WHERE status <> 'cancelled';
            CREATE INDEX st_grants_waiting ON st_grants (year, status);",
        ),
        Migration::portable(
            6,
            "scans_and_deletion_log",
            // A scan's content is sealed (AES-256-GCM under the régie's key,
            // base64 here) under a random name that is part of the sealing
            // context. The deletion log names files by number only.
            "CREATE TABLE st_scans (
                id {{id}},
                application_id BIGINT NOT NULL REFERENCES st_applications (id),
                seal_id TEXT NOT NULL UNIQUE,
                description TEXT NOT NULL,
                filename TEXT NOT NULL,
                content_type TEXT NOT NULL,
                size_bytes BIGINT NOT NULL,
                sealed TEXT NOT NULL,
                uploaded_by TEXT NOT NULL,
                uploaded_at TEXT NOT NULL
            );
            CREATE INDEX st_scans_application ON st_scans (application_id);
            CREATE TABLE st_deletions (
                id {{id}},
                deleted_at TEXT NOT NULL,
                kind TEXT NOT NULL,
                reference TEXT NOT NULL,
                rule TEXT NOT NULL
            );",
        ),
    ],
};

pub use storage::{
    add_device, add_scan, appeal, appeals, application_identity, budget, cancel_grant,
    claim_reminder, close_appeal, create_application, create_household, decision, decisions_of,
    deletions, devices, duplicates, entitlement, entitlements_changing, entitlements_in_force,
    get_application, get_household, grant, grants, hand_over, handovers_between, household_export,
    indicators, last_application, list_applications, list_households, lodge_appeal, outbox,
    plan_reminders, publish_rule_set, reminder, request_grant, retention, rule_set,
    rule_set_in_force, rule_sets, running_until, scan_sealed, scans_of, serve_waiting_list,
    set_budget, set_reminder_status, update_draft, Duplicate, Filing, Handover, HouseholdExport,
    RuleSetRecord,
};
