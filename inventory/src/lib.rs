//! Fiber plant inventory of Régie.
//!
//! This crate owns the plant model (technical sites, boxes, cables, fibres,
//! positions, splitters, premises and addresses, and, as they land, the OLT /
//! PON port extensions GraceTHD lacks), the GraceTHD v2.0.1 import with its
//! validation report ([`gracethd`]), path tracing ([`trace`]) and the optical
//! budget ([`budget`]). It depends on no other domain crate; `provisioning`
//! and `monitoring` ask it questions through its public API. It knows
//! nothing about HTTP.
#![forbid(unsafe_code)]

pub mod address;
pub mod budget;
pub mod capacity;
pub mod export;
pub mod extension;
pub mod generate;
pub mod gracethd;
pub mod plant;
pub mod search;
pub mod service;
pub mod storage;
pub mod trace;

use regie_core::migrate::Component;

/// Errors of the inventory.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// A delivery could not be read at all (missing directory, unreadable
    /// file). Problems inside readable files are reported as issues instead.
    #[error("{path}: {reason}")]
    Unreadable { path: String, reason: String },
    /// Entered values that break rules, field by field (a form, an API
    /// body): each field named as in the product's file formats.
    #[error("{}", fields_text(.0))]
    Fields(Vec<FieldIssue>),
    /// The record does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Another operation holds what this one needs (e.g. an import runs).
    #[error("{0}")]
    Busy(String),
    #[error(transparent)]
    Storage(#[from] regie_core::CoreError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What is wrong with one entered field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldIssue {
    pub field: &'static str,
    pub reason: String,
}

impl FieldIssue {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

fn fields_text(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("{} : {}", i.field, i.reason))
        .collect::<Vec<_>>()
        .join(" ; ")
}

/// The tables this crate owns.
pub const COMPONENT: Component = storage::COMPONENT;
