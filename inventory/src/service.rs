//! The inventory's operations, as the binary and other crates call them.

use std::path::Path;
use std::time::Instant;

use regie_core::audit::Actor;
use regie_core::Db;
use serde::Serialize;

use crate::budget::{OpticalClass, PlanningLosses};
use crate::gracethd::{self, Report};
use crate::storage::{self, ImportSummary};
use crate::trace::{self, Upstream};
use crate::Error;

/// The result of an import attempt.
#[derive(Debug, Clone, Serialize)]
pub struct ImportOutcome {
    /// Every problem found, errors and warnings.
    pub report: Report,
    /// Rows read per file.
    pub counts: std::collections::BTreeMap<String, usize>,
    /// What was written; `None` when nothing was (errors, or a dry run).
    pub summary: Option<ImportSummary>,
    pub dry_run: bool,
    pub duration_ms: u64,
}

impl ImportOutcome {
    /// Whether the delivery was refused for its errors.
    pub fn refused(&self) -> bool {
        self.report.has_errors()
    }
}

/// Checks a delivery and, unless it has errors or `dry_run` is set, stores
/// it in one transaction.
#[tracing::instrument(skip(db, actor), fields(actor = %actor.username, dir = %dir.display()))]
pub async fn import(
    db: &Db,
    actor: &Actor,
    dir: &Path,
    dry_run: bool,
) -> Result<ImportOutcome, Error> {
    let start = Instant::now();
    let owned = dir.to_owned();
    // Parsing is CPU work on files: keep it off the async workers.
    let delivery = tokio::task::spawn_blocking(move || gracethd::load(&owned))
        .await
        .map_err(|e| Error::Invalid(format!("lecture interrompue : {e}")))??;
    let warnings = delivery.report.warnings().count();
    let summary = if delivery.report.has_errors() || dry_run {
        None
    } else {
        let source = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        Some(storage::store(db, actor, &delivery.plant, &source, warnings).await?)
    };
    let duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        duration_ms,
        warnings,
        errors = delivery.report.errors().count(),
        dry_run,
        "inventory import"
    );
    Ok(ImportOutcome {
        report: delivery.report,
        counts: delivery.counts,
        summary,
        dry_run,
        duration_ms,
    })
}

/// Traces upstream from an outlet of the stored plant.
#[tracing::instrument(skip(db))]
pub async fn trace_outlet(db: &Db, outlet: &str) -> Result<Upstream, Error> {
    let plant = storage::load(db).await?;
    trace::upstream(
        &plant,
        outlet.trim(),
        &PlanningLosses::default(),
        OpticalClass::GponBPlus,
    )
}
