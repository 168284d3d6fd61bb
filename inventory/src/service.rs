//! The inventory's operations, as the binary and other crates call them.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::RwLock;

use regie_core::audit::Actor;
use regie_core::Db;
use serde::Serialize;

use crate::budget::{OpticalClass, PlanningLosses};
use crate::extension::PonPort;
use crate::gracethd::Limits;
use crate::gracethd::{self, Report};
use crate::plant::Plant;
use crate::storage::{self, ImportSummary};
use crate::trace::{self, Downstream, From, Upstream};
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
pub async fn import(
    db: &Db,
    actor: &Actor,
    dir: &Path,
    dry_run: bool,
) -> Result<ImportOutcome, Error> {
    import_with_progress(db, actor, dir, dry_run, &Limits::default(), &NoProgress).await
}

/// Receives the progress of an import (a terminal progress bar, a job
/// status page). Calls come from the importing task.
pub trait Progress: Send + Sync {
    /// A new phase begins; `total` units of work, 0 when unknown.
    fn phase(&self, name: &str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
}

/// Progress reported to nobody.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn phase(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// [`import`], reporting its progress.
#[tracing::instrument(skip(db, actor, progress), fields(actor = %actor.username, dir = %dir.display()))]
pub async fn import_with_progress(
    db: &Db,
    actor: &Actor,
    dir: &Path,
    dry_run: bool,
    limits: &Limits,
    progress: &dyn Progress,
) -> Result<ImportOutcome, Error> {
    Ok(import_inner(db, actor, dir, dry_run, limits, progress)
        .await?
        .0)
}

/// The import itself; also returns the stored plant and its version when
/// the whole plant was written, so a cache can take it without reloading.
async fn import_inner(
    db: &Db,
    actor: &Actor,
    dir: &Path,
    dry_run: bool,
    limits: &Limits,
    progress: &dyn Progress,
) -> Result<(ImportOutcome, Option<Versioned>), Error> {
    let start = Instant::now();
    progress.phase("lecture et vérification", 0);
    let owned = dir.to_owned();
    let limits_owned = *limits;
    // Parsing is CPU work on files: keep it off the async workers.
    let delivery = tokio::task::spawn_blocking(move || gracethd::load_with(&owned, &limits_owned))
        .await
        .map_err(|e| Error::Invalid(format!("lecture interrompue : {e}")))??;
    let mut delivery = delivery;
    if !delivery.report.has_errors() {
        keep_extension_consistent(db, &mut delivery).await?;
    }
    let warnings = usize::try_from(delivery.report.warning_count).unwrap_or(usize::MAX);
    let summary = if delivery.report.has_errors() || dry_run {
        None
    } else {
        let source = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        Some(storage::store(db, actor, &delivery.plant, &source, warnings, progress).await?)
    };
    let version = summary.as_ref().map(|(_, v)| *v);
    let summary = summary.map(|(s, _)| s);
    let duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        duration_ms,
        warnings,
        errors = delivery.report.error_count,
        dry_run,
        "inventory import"
    );
    // Without the extension files the stored PON ports were kept, and the
    // delivery's plant lacks them: let the cache reload instead.
    let complete = delivery.plant.has_pon_file && delivery.plant.has_splitter_file;
    let outcome = ImportOutcome {
        report: delivery.report,
        counts: delivery.counts,
        summary,
        dry_run,
        duration_ms,
    };
    let plant = match version {
        Some(v) if complete => {
            let mut plant = delivery.plant;
            plant.index();
            Some((v, Arc::new(plant)))
        }
        _ => None,
    };
    Ok((outcome, plant))
}

/// A loaded plant and the import version it reflects.
pub type Versioned = (i64, Arc<Plant>);

/// The stored plant, kept in memory and reloaded when an import (by this
/// instance or another sharing the database) has changed it.
#[derive(Debug, Clone, Default)]
pub struct PlantCache {
    inner: Arc<RwLock<Option<Versioned>>>,
}

impl PlantCache {
    /// The current plant: one cheap query to learn the import version, a
    /// full load only when it changed.
    pub async fn get(&self, db: &Db) -> Result<Arc<Plant>, Error> {
        Ok(self.current(db).await?.1)
    }

    /// The current plant with the version it reflects.
    pub async fn current(&self, db: &Db) -> Result<Versioned, Error> {
        let version = storage::version(db).await?;
        if let Some((v, plant)) = self.inner.read().await.as_ref() {
            if *v == version {
                return Ok((version, plant.clone()));
            }
        }
        let mut slot = self.inner.write().await;
        if let Some((v, plant)) = slot.as_ref() {
            if *v == version {
                return Ok((version, plant.clone()));
            }
        }
        let plant = Arc::new(storage::load(db).await?);
        *slot = Some((version, plant.clone()));
        Ok((version, plant))
    }
}

/// The PON ports of the stored plant, by code.
pub async fn pon_ports(db: &Db, cache: &PlantCache) -> Result<Vec<PonPort>, Error> {
    Ok(cache.get(db).await?.pon_ports.values().cloned().collect())
}

/// Adds or replaces a PON port entered by hand (a form, an API call), given
/// column by column as in `x_pon.csv`. The port is checked against the
/// current plant; a field-by-field [`Error::Fields`] says what is wrong.
#[tracing::instrument(skip(db, cache, actor, get), fields(actor = %actor.username))]
pub async fn save_pon_port<'a>(
    db: &Db,
    cache: &PlantCache,
    actor: &Actor,
    get: impl Fn(&'static str) -> &'a str,
) -> Result<(PonPort, storage::Edit), Error> {
    let (version, plant) = cache.current(db).await?;
    let port = crate::extension::check_pon_port(get, &plant).map_err(Error::Fields)?;
    let (edit, _) = storage::save_pon_port(db, actor, &port, version).await?;
    Ok((port, edit))
}

/// Removes a PON port by hand.
#[tracing::instrument(skip(db, cache, actor), fields(actor = %actor.username))]
pub async fn delete_pon_port(
    db: &Db,
    cache: &PlantCache,
    actor: &Actor,
    code: &str,
) -> Result<(), Error> {
    let (version, _) = cache.current(db).await?;
    storage::delete_pon_port(db, actor, code, version).await?;
    Ok(())
}

/// Walks downstream from a PON port, a splitter or a cable of the stored
/// plant: the outlets and premises a fault there cuts off.
#[tracing::instrument(skip(db, cache))]
pub async fn downstream(db: &Db, cache: &PlantCache, from: From) -> Result<Downstream, Error> {
    let plant = cache.get(db).await?;
    trace::downstream(&plant, from)
}

/// Traces upstream from an outlet of the stored plant.
#[tracing::instrument(skip(db, cache))]
pub async fn trace_outlet(db: &Db, cache: &PlantCache, outlet: &str) -> Result<Upstream, Error> {
    let plant = cache.get(db).await?;
    trace::upstream(
        &plant,
        outlet.trim(),
        &PlanningLosses::default(),
        OpticalClass::GponBPlus,
    )
}

/// Whether a premises (SUF code) can be connected, and through which PM.
#[tracing::instrument(skip(db, cache))]
pub async fn eligibility(
    db: &Db,
    cache: &PlantCache,
    suf: &str,
) -> Result<crate::capacity::Eligibility, Error> {
    let plant = cache.get(db).await?;
    crate::capacity::eligibility(&plant, suf.trim())
}

/// The capacity report: splitter outputs and PON ports, eligibility per PM.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityReport {
    pub eligibility_by_commune:
        std::collections::BTreeMap<String, crate::capacity::EligibilityCounts>,
    pub eligibility_by_pm: std::collections::BTreeMap<String, crate::capacity::EligibilityCounts>,
    pub splitters: Vec<crate::capacity::Usage>,
    pub pon_ports: Vec<crate::capacity::Usage>,
}

/// Computes the capacity report of the stored plant.
#[tracing::instrument(skip(db, cache))]
pub async fn capacity(
    db: &Db,
    cache: &PlantCache,
    in_use: crate::capacity::InUse,
) -> Result<CapacityReport, Error> {
    let plant = cache.get(db).await?;
    let report = tokio::task::spawn_blocking(move || {
        let cap = crate::capacity::capacity(&plant, &in_use);
        CapacityReport {
            eligibility_by_commune: crate::capacity::eligibility_by_commune(&plant),
            eligibility_by_pm: crate::capacity::eligibility_by_pm(&plant),
            splitters: cap.splitters,
            pon_ports: cap.pon_ports,
        }
    })
    .await
    .map_err(|e| Error::Invalid(format!("calcul interrompu : {e}")))?;
    Ok(report)
}

/// Imports a delivery uploaded as a zip archive held in file `zip` (see
/// [`import`]), unpacked within `limits` in a directory of its own under
/// `scratch` (the data directory's, which the server empties at start: a
/// crash leaves nothing for long).
#[tracing::instrument(skip(db, cache, actor, limits), fields(actor = %actor.username, zip = %zip.display()))]
pub async fn import_zip(
    db: &Db,
    cache: &PlantCache,
    actor: &Actor,
    zip: &Path,
    dry_run: bool,
    scratch: &Path,
    limits: &Limits,
) -> Result<ImportOutcome, Error> {
    std::fs::create_dir_all(scratch)
        .map_err(|e| Error::Invalid(format!("dossier temporaire {} : {e}", scratch.display())))?;
    let tmp = tempfile::Builder::new()
        .prefix("livraison-")
        .tempdir_in(scratch)
        .map_err(|e| Error::Invalid(format!("dossier temporaire : {e}")))?;
    let root = tmp.path().to_owned();
    let (zip_owned, limits_owned) = (zip.to_owned(), *limits);
    let dir = tokio::task::spawn_blocking(move || {
        crate::gracethd::archive::unpack_file(&zip_owned, &root, &limits_owned)
    })
    .await
    .map_err(|e| Error::Invalid(format!("décompression interrompue : {e}")))??;
    let (outcome, plant) = import_inner(db, actor, &dir, dry_run, limits, &NoProgress).await?;
    if let Some(fresh) = plant {
        *cache.inner.write().await = Some(fresh);
    }
    Ok(outcome)
}

/// The premises at an address (hexaclé or `t_adresse` code) and whether each
/// can be connected.
#[tracing::instrument(skip(db, cache))]
pub async fn eligibility_at(
    db: &Db,
    cache: &PlantCache,
    key: &str,
) -> Result<Vec<(String, crate::capacity::Eligibility)>, Error> {
    let plant = cache.get(db).await?;
    crate::capacity::eligibility_at(&plant, key)
}

/// The address file with IPE column names.
pub async fn export_ipe(db: &Db, cache: &PlantCache) -> Result<String, Error> {
    let plant = cache.get(db).await?;
    tokio::task::spawn_blocking(move || crate::export::ipe_csv(&plant))
        .await
        .map_err(|e| Error::Invalid(format!("export interrompu : {e}")))?
}

/// The addresses as GeoJSON (WGS84).
pub async fn export_geojson(db: &Db, cache: &PlantCache) -> Result<serde_json::Value, Error> {
    let plant = cache.get(db).await?;
    tokio::task::spawn_blocking(move || crate::export::addresses_geojson(&plant))
        .await
        .map_err(|e| Error::Invalid(format!("export interrompu : {e}")))
}

/// The whole plant (sites, boxes, cables, addresses) as GeoJSON (WGS84).
pub async fn export_plant_geojson(db: &Db, cache: &PlantCache) -> Result<serde_json::Value, Error> {
    let plant = cache.get(db).await?;
    tokio::task::spawn_blocking(move || crate::export::plant_geojson(&plant))
        .await
        .map_err(|e| Error::Invalid(format!("export interrompu : {e}")))
}

/// A delivery without `x_pon.csv` / `x_splitter.csv` keeps the stored PON
/// ports and splitter ratios; they must still point at fibres the delivery
/// has, or the import is refused with the port named.
async fn keep_extension_consistent(
    db: &Db,
    delivery: &mut crate::gracethd::Delivery,
) -> Result<(), Error> {
    use crate::gracethd::Issue;
    if delivery.plant.has_pon_file && delivery.plant.has_splitter_file {
        return Ok(());
    }
    let (ports, splitters) = storage::extension_fibres(db).await?;
    if !delivery.plant.has_pon_file {
        for (code, fibre) in ports {
            if !delivery.plant.fibres.contains_key(fibre.as_str()) {
                delivery.report.push(Issue::error(
                    crate::extension::PON_FILE,
                    0,
                    "fo_code",
                    &format!("le port PON {code} enregistré est raccordé à la fibre {fibre}, absente de cette livraison : joignez un x_pon.csv à jour"),
                ));
            }
        }
    }
    if !delivery.plant.has_splitter_file {
        for input in splitters {
            if !delivery.plant.fibres.contains_key(input.as_str()) {
                delivery.report.push(Issue::error(
                    crate::extension::SPLITTER_FILE,
                    0,
                    "fo_code_in",
                    &format!("le coupleur enregistré d'entrée {input} n'existe plus dans cette livraison : joignez un x_splitter.csv à jour"),
                ));
            }
        }
    }
    Ok(())
}
