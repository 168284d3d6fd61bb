//! The provisioning service: each lifecycle step, checked, allocated and
//! recorded in one transaction, and carried to the OLT.
//!
//! Steps that talk to an OLT split into three parts so that a crash or a
//! failure at any point leaves a state a retry finishes: (1) allocate in
//! the database and commit; (2) ask the OLT what it holds and send only what
//! is missing; (3) commit the new state. A retried step finds its
//! allocations in place, finds the OLT already configured, and ends in the
//! same state as one that never failed. Asking a line for the state it is
//! already in answers the line unchanged, so every step is safe to repeat.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use inventory::budget::{OpticalClass, PlanningLosses, Verdict};
use inventory::capacity::Eligibility;
use inventory::plant::{Container, Plant};
use inventory::service::PlantCache;
use regie_core::audit::{self, Actor, Change};
use regie_core::{time, Db};
use serde::Serialize;
use serde_json::json;

use crate::addressing::{hex_address, Pool, PoolKind};
use crate::driver::{
    ConfiguredOnt, DriverError, Drivers, OltDriver, OntLocation, OntSpec, ServiceSpec,
};
use crate::ids::{LineId, OntSerial};
use crate::lifecycle::{State, Step, SuspendReason};
use crate::line::{Budget, Event, Ipv4Kind, Line, Ont, Path, Service};
use crate::nas::Change as NasChange;
use crate::storage::{self, Assignment, Claim, Conn, RadiusEntry, Resource};
use crate::{Error, Result};

/// How provisioning talks to the network.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Longest wait for one OLT call.
    pub driver_timeout: Duration,
    /// S-VLANs given to PON ports, per OLT.
    pub svlans: (u16, u16),
    /// C-VLANs given to lines, per PON port.
    pub cvlans: (u16, u16),
    /// The OLT's line and service profiles for a subscriber ONT.
    pub line_profile: u32,
    pub service_profile: u32,
    /// GEM port and user-side VLAN of the internet service.
    pub gemport: u32,
    pub user_vlan: u16,
    /// Bandwidth profiles offered, with the OLT traffic table of each.
    pub profiles: Vec<(String, u32)>,
    /// Loss values used to judge paths.
    pub losses: PlanningLosses,
    /// BNGs told of policy changes (RFC 5176), by the OLTs they serve.
    pub bngs: Vec<crate::nas::Bng>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            driver_timeout: Duration::from_secs(10),
            svlans: (100, 3999),
            cvlans: (2, 4094),
            line_profile: 10,
            service_profile: 10,
            gemport: 1,
            user_vlan: 100,
            profiles: vec![
                ("1G".into(), 10),
                ("500M".into(), 11),
                ("300M".into(), 12),
                ("100M".into(), 13),
            ],
            losses: PlanningLosses::default(),
            bngs: Vec::new(),
        }
    }
}

/// An order for a premises.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Order {
    /// The premises (`t_suf.sf_code`).
    pub premises: String,
    /// Public or CGNAT IPv4 (by offer); CGNAT when absent.
    pub ipv4: Option<Ipv4Kind>,
    /// Bandwidth profile; the first offered when absent.
    pub profile: Option<String>,
}

/// What the technician reports when the ONT is in place.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Installation {
    pub serial: String,
    /// Optical power received by the ONT, in dBm (e.g. -19.5).
    pub rx_dbm: f64,
    pub notes: Option<String>,
}

/// A line in service on the outgoing operator's network, as the takeover
/// files describe it.
#[derive(Debug, Clone)]
pub struct Adoption {
    /// The operator's own reference of the line, kept in its history.
    pub former_ref: String,
    /// The premises (`t_suf.sf_code`).
    pub premises: String,
    pub serial: OntSerial,
    /// The PON port the ONT hangs on, by its inventory code.
    pub pon_port: String,
    pub ont_id: u32,
    /// Last optical power read at the ONT, in hundredths of a dBm.
    pub rx_cdbm: i64,
    pub profile: String,
    pub ipv4: Ipv4Kind,
}

/// A pool as an admin enters it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct NewPool {
    pub name: String,
    pub kind: String,
    pub network: String,
    /// Length of delegated prefixes (default 56); ignored for other kinds.
    pub assign_len: Option<u8>,
}

/// A pool and how full it is.
#[derive(Debug, Clone, Serialize)]
pub struct PoolUsage {
    #[serde(flatten)]
    pub pool: Pool,
    pub size: i64,
    pub used: i64,
}

/// Who held an address at an instant.
#[derive(Debug, Clone, Serialize)]
pub struct Holder {
    #[serde(flatten)]
    pub assignment: Assignment,
    pub premises: Option<String>,
    pub address: Option<String>,
}

/// The answer to a requisition.
#[derive(Debug, Clone, Serialize)]
pub struct Attribution {
    pub ip: String,
    pub at: String,
    pub holders: Vec<Holder>,
}

/// Differences between an OLT and the database.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Drift {
    pub olt: String,
    /// ONTs the OLT holds that no live line of the database accounts for.
    pub unknown_on_olt: Vec<ConfiguredOnt>,
    /// Live lines (active or suspended) whose ONT the OLT lacks.
    pub missing_on_olt: Vec<String>,
    /// Lines whose ONT id holds another serial on the OLT.
    pub serial_mismatch: Vec<String>,
}

impl Drift {
    pub fn is_clean(&self) -> bool {
        self.unknown_on_olt.is_empty()
            && self.missing_on_olt.is_empty()
            && self.serial_mismatch.is_empty()
    }
}

/// The provisioning service, shared by the HTTP handlers, the CLI and
/// other crates.
#[derive(Debug, Clone)]
pub struct Provisioning {
    db: Db,
    plant: PlantCache,
    drivers: Drivers,
    settings: Arc<Settings>,
}

fn parse_id(id: &str) -> Result<LineId> {
    LineId::parse(id).map_err(|_| Error::NotFound(format!("aucune ligne « {} »", id.trim())))
}

impl Provisioning {
    pub fn new(db: Db, plant: PlantCache, drivers: Drivers, settings: Settings) -> Self {
        Self {
            db,
            plant,
            drivers,
            settings: Arc::new(settings),
        }
    }

    pub fn drivers(&self) -> &Drivers {
        &self.drivers
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The plant as last imported (from the shared cache).
    pub async fn plant(&self) -> Result<Arc<Plant>> {
        Ok(self.plant.get(&self.db).await?)
    }

    /// One line.
    pub async fn line(&self, id: &str) -> Result<Line> {
        let id = parse_id(id)?;
        storage::get_line(&self.db, id.as_str())
            .await?
            .ok_or_else(|| Error::NotFound(format!("aucune ligne « {id} »")))
    }

    /// Lines, most recently changed first.
    pub async fn lines(
        &self,
        state: Option<State>,
        pon_port: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Line>> {
        storage::list_lines(&self.db, state, pon_port, limit.clamp(1, 10_000)).await
    }

    /// The lines still holding resources on a PON port (before the port
    /// may leave the inventory).
    pub async fn live_lines_on(&self, pon_port: &str) -> Result<Vec<String>> {
        Ok(
            storage::list_lines(&self.db, None, Some(pon_port), i64::MAX)
                .await?
                .into_iter()
                .filter(|l| l.state.holds_resources())
                .map(|l| l.id)
                .collect(),
        )
    }

    /// A line's history, oldest first.
    pub async fn history(&self, id: &str) -> Result<Vec<Event>> {
        let line = self.line(id).await?;
        storage::events_of(&self.db, &line.id).await
    }

    /// Every address range a line held.
    pub async fn assignments(&self, id: &str) -> Result<Vec<Assignment>> {
        let line = self.line(id).await?;
        storage::journal_of(&self.db, &line.id).await
    }

    /// Every state change after sequence number `after`, oldest first: the
    /// feed billing reads.
    pub async fn events_since(&self, after: i64, limit: i64) -> Result<Vec<Event>> {
        storage::events_since(&self.db, after, limit.clamp(1, 10_000)).await
    }

    /// Counts of lines per state.
    /// What the lines hold in the plant: the splitter outputs taken and
    /// the lines on each PON port (one ONT id each), for the capacity
    /// report.
    pub async fn in_use(&self) -> Result<inventory::capacity::InUse> {
        let splitter_outputs = storage::held_by_scope(&self.db, storage::Resource::SplitterOutput)
            .await?
            .into_iter()
            .map(|(scope, _)| scope)
            .collect();
        let lines_per_pon_port = storage::held_by_scope(&self.db, storage::Resource::OntId)
            .await?
            .into_iter()
            .map(|(scope, n)| (scope, u32::try_from(n).unwrap_or(u32::MAX)))
            .collect();
        Ok(inventory::capacity::InUse {
            splitter_outputs,
            lines_per_pon_port,
        })
    }

    pub async fn counts(&self) -> Result<Vec<(State, i64)>> {
        storage::count_by_state(&self.db).await
    }

    /// Orders a line for a premises that can be connected.
    #[tracing::instrument(skip(self, actor), fields(actor = %actor.username, premises = %order.premises))]
    pub async fn order(&self, actor: &Actor, order: &Order) -> Result<Line> {
        let plant = self.plant.get(&self.db).await?;
        let suf = order.premises.trim();
        if suf.is_empty() {
            return Err(Error::Invalid(
                "premises : le code du local est obligatoire".into(),
            ));
        }
        match inventory::capacity::eligibility(&plant, suf)? {
            Eligibility::Connectable { .. } => {}
            Eligibility::DropToBuild { pbo, .. } => {
                return Err(Error::NotConnectable(format!(
                    "le raccordement final depuis le PBO {pbo} reste à construire"
                )))
            }
            Eligibility::NotCovered { reason } => return Err(Error::NotConnectable(reason)),
        }
        let profile = match order.profile.as_deref().map(str::trim) {
            None | Some("") => self
                .settings
                .profiles
                .first()
                .map(|p| p.0.clone())
                .unwrap_or_default(),
            Some(p) => {
                if !self.settings.profiles.iter().any(|(n, _)| n == p) {
                    return Err(Error::Invalid(format!(
                        "profile : profil « {p} » inconnu ; profils proposés : {}",
                        self.profile_names()
                    )));
                }
                p.to_owned()
            }
        };
        let ipv4 = order.ipv4.unwrap_or(Ipv4Kind::Cgnat);
        let address = plant
            .sufs
            .get(suf)
            .and_then(|s| s.address.as_ref())
            .map(|a| a.to_string());
        let mut tx = self.db.begin().await?;
        let mut id = LineId::generate();
        let mut attempts = 0;
        while !storage::insert_line(
            &mut tx,
            id.as_str(),
            suf,
            address.as_deref(),
            ipv4,
            &profile,
            &actor.username,
        )
        .await?
        {
            attempts += 1;
            if attempts > 8 {
                return Err(Error::Busy(
                    "impossible de tirer un identifiant de ligne libre ; réessayez".into(),
                ));
            }
            id = LineId::generate();
        }
        if let Some(holder) = storage::take(&mut tx, Resource::Premises, suf, id.as_str()).await? {
            return Err(Error::Taken(format!(
                "le local {suf} a déjà une ligne en cours : {holder}"
            )));
        }
        let detail = json!({ "premises": suf, "ipv4": ipv4, "profile": profile });
        self.record(
            &mut tx,
            actor,
            id.as_str(),
            "order",
            (None, State::Ordered),
            Some(detail),
        )
        .await?;
        tx.commit().await?;
        self.line(id.as_str()).await
    }

    /// Reserves the line's path: its outlet, the PBO port and the PM
    /// splitter output on the way, the PON port behind them and an ONT id
    /// on it. A path over its optical budget needs `override_reason`.
    #[tracing::instrument(skip(self, actor), fields(actor = %actor.username))]
    pub async fn reserve_path(
        &self,
        actor: &Actor,
        id: &str,
        override_reason: Option<&str>,
    ) -> Result<Line> {
        let id = parse_id(id)?;
        let plant = self.plant.get(&self.db).await?;
        let mut tx = self.db.begin().await?;
        let line = storage::lock_line(&mut tx, id.as_str()).await?;
        if line.state == State::PathReserved {
            return Ok(line);
        }
        let to = line.state.after(Step::ReservePath)?;
        let (path, budget) = self.path_of(&plant, &line, override_reason)?;
        take_path(&mut tx, &path, id.as_str()).await?;
        let pon = plant
            .pon_ports
            .get(&path.pon_port)
            .ok_or_else(|| Error::NotFound(format!("aucun port PON « {} »", path.pon_port)))?;
        // GPON ONT ids run from 0 to the port's capacity less one, and never
        // past 253 (the highest any OLT accepts).
        let max_id = i64::from(pon.max_onts.clamp(1, 254)) - 1;
        let ont_id = storage::allocate(
            &mut tx,
            Resource::OntId,
            &path.pon_port,
            0,
            max_id,
            id.as_str(),
            Claim::Advisory,
        )
        .await?
        .ok_or_else(|| {
            Error::Exhausted(format!(
                "le port PON {} est plein : ses {} identifiants d'ONT sont pris",
                path.pon_port,
                max_id + 1
            ))
        })?;
        let path = Path {
            ont_id: ont_id as u32,
            ..path
        };
        storage::set_path(&mut tx, id.as_str(), &path, &budget).await?;
        storage::set_state(&mut tx, id.as_str(), to).await?;
        let detail = json!({ "path": path, "budget": budget });
        self.record(
            &mut tx,
            actor,
            id.as_str(),
            "reserve_path",
            (Some(line.state), to),
            Some(detail),
        )
        .await?;
        tx.commit().await?;
        self.line(id.as_str()).await
    }

    /// The path of a line's premises through the plant, without its ONT id.
    fn path_of(
        &self,
        plant: &Plant,
        line: &Line,
        override_reason: Option<&str>,
    ) -> Result<(Path, Budget)> {
        let outlet = plant.outlet_of(&line.premises).ok_or_else(|| {
            Error::NotConnectable(format!("aucune PTO n'est posée au local {}", line.premises))
        })?;
        let up = inventory::trace::upstream(
            plant,
            outlet,
            &self.settings.losses,
            OpticalClass::GponBPlus,
        )?;
        if let Some(reason) = up.no_path_reason {
            return Err(Error::NotConnectable(reason));
        }
        let pon_code = up.pon_port.clone().ok_or_else(|| {
            Error::NotConnectable(format!(
                "aucun port PON n'est raccordé en amont de la PTO {outlet} : renseignez-le dans l'inventaire"
            ))
        })?;
        let pon = plant
            .pon_ports
            .get(&pon_code)
            .ok_or_else(|| Error::NotFound(format!("aucun port PON « {pon_code} »")))?;
        let budget_max = up.class.max_loss();
        let (pass, margin) = match up.verdict {
            Some(Verdict::Pass { margin }) => (true, margin.0),
            Some(Verdict::Fail { excess, .. }) => (false, -excess.0),
            None => (false, (budget_max - up.total).0),
        };
        let override_reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
        if !pass && override_reason.is_none() {
            return Err(Error::OverBudget(format!(
                "le chemin de la PTO {outlet} perd {}, au-delà du budget {} ({}) de {} : une réservation exige une dérogation motivée (override_reason)",
                up.total,
                up.class.label(),
                budget_max,
                inventory::budget::MilliDb(-margin)
            )));
        }
        // Walking from the outlet up: the first position in a PBO is the
        // port taken there, the first fan-out is the PM splitter output.
        let mut pbo = None;
        let mut splitter = None;
        for fibre in &up.fibres {
            let Some(p) = plant.feeding(fibre) else {
                continue;
            };
            if pbo.is_none() {
                if let Container::Cassette(cs) = &p.container {
                    if let Some(e) = plant
                        .cassettes
                        .get(cs)
                        .and_then(|c| plant.enclosures.get(&c.enclosure))
                    {
                        if e.kind == "PBO" {
                            pbo = Some((e.code.to_string(), p.code.to_string()));
                        }
                    }
                }
            }
            if splitter.is_none() {
                if let Some(input) = p.input.as_deref() {
                    if plant.splitters.contains_key(input) || plant.fan_out(input) > 1 {
                        splitter = Some((p.code.to_string(), plant.place_of(&p.container)));
                    }
                }
            }
        }
        let (splitter_output, pm) = splitter.ok_or_else(|| {
            Error::NotConnectable(format!(
                "le chemin de la PTO {outlet} ne passe par aucun coupleur"
            ))
        })?;
        let path = Path {
            outlet: outlet.to_owned(),
            pbo: pbo.as_ref().map(|p| p.0.clone()),
            pbo_position: pbo.map(|p| p.1),
            splitter_output,
            pm: Some(pm),
            pon_port: pon.code.clone(),
            olt: pon.olt.clone(),
            frame: 0,
            slot: pon.slot,
            port: pon.port,
            ont_id: 0,
        };
        let budget = Budget {
            class: up.class.label().to_owned(),
            total_mdb: up.total.0,
            margin_mdb: margin,
            pass,
            override_reason: if pass {
                None
            } else {
                override_reason.map(str::to_owned)
            },
        };
        Ok((path, budget))
    }

    /// Records the ONT put in at the premises and its optical reading.
    #[tracing::instrument(skip(self, actor, install), fields(actor = %actor.username))]
    pub async fn install_ont(
        &self,
        actor: &Actor,
        id: &str,
        install: &Installation,
    ) -> Result<Line> {
        let id = parse_id(id)?;
        let serial = OntSerial::parse(&install.serial)
            .map_err(|e| Error::Invalid(format!("serial : {e}")))?;
        if !install.rx_dbm.is_finite() || !(-40.0..=10.0).contains(&install.rx_dbm) {
            return Err(Error::Invalid(format!(
                "rx_dbm : une puissance reçue de {} dBm n'est pas plausible (de -40 à +10 dBm)",
                install.rx_dbm
            )));
        }
        let notes = install
            .notes
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if notes.is_some_and(|n| n.chars().count() > 2000) {
            return Err(Error::Invalid("notes : 2 000 caractères au plus".into()));
        }
        let ont = Ont {
            serial: serial.to_string(),
            rx_cdbm: (install.rx_dbm * 100.0).round() as i64,
            notes: notes.map(str::to_owned),
        };
        let mut tx = self.db.begin().await?;
        let line = storage::lock_line(&mut tx, id.as_str()).await?;
        if line.state == State::OntInstalled
            && line.ont.as_ref().is_some_and(|o| o.serial == ont.serial)
        {
            return Ok(line);
        }
        let to = line.state.after(Step::InstallOnt)?;
        if let Some(holder) =
            storage::take(&mut tx, Resource::Serial, serial.as_str(), id.as_str()).await?
        {
            return Err(Error::Taken(format!(
                "serial : l'ONT {serial} est déjà installé sur la ligne {holder}"
            )));
        }
        storage::set_ont(&mut tx, id.as_str(), &ont).await?;
        storage::set_state(&mut tx, id.as_str(), to).await?;
        let detail = json!({ "ont": ont });
        self.record(
            &mut tx,
            actor,
            id.as_str(),
            "install_ont",
            (Some(line.state), to),
            Some(detail),
        )
        .await?;
        tx.commit().await?;
        self.line(id.as_str()).await
    }

    /// Activates a line: allocates its addresses and VLANs, declares the ONT
    /// and its service on the OLT, and opens it in FreeRADIUS.
    #[tracing::instrument(skip(self, actor), fields(actor = %actor.username))]
    pub async fn activate(&self, actor: &Actor, id: &str) -> Result<Line> {
        let id = parse_id(id)?;
        // (1) Allocations, committed before the OLT is touched.
        let mut tx = self.db.begin().await?;
        let line = storage::lock_line(&mut tx, id.as_str()).await?;
        if line.state == State::Active {
            return Ok(line);
        }
        line.state.after(Step::Activate)?;
        let (path, ont) = match (&line.path, &line.ont) {
            (Some(p), Some(o)) => (p.clone(), o.clone()),
            _ => {
                return Err(Error::Invalid(format!(
                    "la ligne {id} n'a pas de chemin ou d'ONT"
                )))
            }
        };
        let service = match &line.service {
            Some(s) => s.clone(),
            None => {
                let s = self
                    .allocate_service(&mut tx, &line, &path, Claim::Advisory)
                    .await?;
                storage::set_service(&mut tx, id.as_str(), &s).await?;
                s
            }
        };
        tx.commit().await?;

        // (2) The OLT, told only what it lacks.
        if let Err(e) = self
            .push_to_olt(id.as_str(), &line, &path, &ont, &service)
            .await
        {
            storage::set_last_error(&self.db, id.as_str(), Some(&e.to_string())).await?;
            return Err(e);
        }

        // (3) The new state, and what FreeRADIUS answers from now on.
        let mut tx = self.db.begin().await?;
        let line = storage::lock_line(&mut tx, id.as_str()).await?;
        if line.state == State::Active {
            return Ok(line);
        }
        let to = match line.state.after(Step::Activate) {
            Ok(to) => to,
            Err(illegal) => {
                // Cancelled while the OLT was being configured: take back
                // what this call declared, so the OLT holds no stray ONT.
                drop(tx);
                if line.state == State::Cancelled {
                    if let Err(e) = self.remove_from_olt(&path, &ont).await {
                        tracing::warn!(line = %id, error = %e, "stray ONT left on the OLT");
                    }
                }
                return Err(illegal.into());
            }
        };
        let active = Line {
            state: to,
            ..line.clone()
        };
        storage::radius_insert(&mut tx, &self.radius_entry(&active, &service)).await?;
        storage::set_state(&mut tx, id.as_str(), to).await?;
        let detail = json!({ "service": service });
        self.record(
            &mut tx,
            actor,
            id.as_str(),
            "activate",
            (Some(line.state), to),
            Some(detail),
        )
        .await?;
        tx.commit().await?;
        self.line(id.as_str()).await
    }

    /// Takes over a line already in service on the outgoing operator's
    /// network: the premises' path through the inventory (which must lead
    /// to the PON port the operator names), the ONT id it had there, its
    /// ONT and a new service (addresses, VLANs, FreeRADIUS), recorded as
    /// active in the caller's transaction, so a whole takeover is one
    /// commit. The OLT is not touched: the ONT is already configured there,
    /// and the drift report shows any difference.
    #[tracing::instrument(skip_all, fields(actor = %actor.username, premises = %adoption.premises))]
    pub async fn adopt(&self, tx: &mut Conn, actor: &Actor, adoption: &Adoption) -> Result<Line> {
        let plant = self.plant.get(&self.db).await?;
        // Held until the caller's commit: a takeover allocates for
        // thousands of lines in one transaction.
        storage::lock_resources(tx).await?;
        let suf = adoption.premises.trim();
        match inventory::capacity::eligibility(&plant, suf)? {
            Eligibility::Connectable { .. } => {}
            Eligibility::DropToBuild { pbo, .. } => {
                return Err(Error::NotConnectable(format!(
                    "l'inventaire ne connaît pas le raccordement final depuis le PBO {pbo}"
                )))
            }
            Eligibility::NotCovered { reason } => return Err(Error::NotConnectable(reason)),
        }
        if !self
            .settings
            .profiles
            .iter()
            .any(|(n, _)| *n == adoption.profile)
        {
            return Err(Error::Invalid(format!(
                "profil « {} » inconnu ; profils proposés : {}",
                adoption.profile,
                self.profile_names()
            )));
        }
        let address = plant
            .sufs
            .get(suf)
            .and_then(|s| s.address.as_ref())
            .map(|a| a.to_string());
        let mut id = LineId::generate();
        while !storage::insert_line(
            tx,
            id.as_str(),
            suf,
            address.as_deref(),
            adoption.ipv4,
            &adoption.profile,
            &actor.username,
        )
        .await?
        {
            id = LineId::generate();
        }
        if let Some(holder) = storage::take(tx, Resource::Premises, suf, id.as_str()).await? {
            return Err(Error::Taken(format!(
                "le local {suf} a déjà une ligne en cours : {holder}"
            )));
        }
        let line = storage::read_line(tx, id.as_str())
            .await?
            .ok_or_else(|| Error::NotFound(format!("aucune ligne « {id} »")))?;
        // A line in service stays in service even over the planning budget:
        // the reason is recorded, as for any reservation past the budget.
        let (path, budget) = self.path_of(
            &plant,
            &line,
            Some("reprise d'une ligne en service chez l'opérateur sortant"),
        )?;
        if path.pon_port != adoption.pon_port.trim() {
            return Err(Error::Invalid(format!(
                "le local {suf} est desservi par le port PON {} d'après l'inventaire, pas par {}",
                path.pon_port,
                adoption.pon_port.trim()
            )));
        }
        take_path(tx, &path, id.as_str()).await?;
        let max_onts = plant
            .pon_ports
            .get(&path.pon_port)
            .map_or(128, |p| p.max_onts.clamp(1, 254));
        if adoption.ont_id >= max_onts {
            return Err(Error::Invalid(format!(
                "l'identifiant d'ONT {} dépasse la capacité du port PON {} (0 à {})",
                adoption.ont_id,
                path.pon_port,
                max_onts - 1
            )));
        }
        let ont_id = i64::from(adoption.ont_id);
        if storage::allocate(
            tx,
            Resource::OntId,
            &path.pon_port,
            ont_id,
            ont_id,
            id.as_str(),
            Claim::Exclusive,
        )
        .await?
        .is_none()
        {
            return Err(Error::Taken(format!(
                "l'identifiant d'ONT {ont_id} du port PON {} est déjà pris",
                path.pon_port
            )));
        }
        let path = Path {
            ont_id: adoption.ont_id,
            ..path
        };
        if let Some(holder) =
            storage::take(tx, Resource::Serial, adoption.serial.as_str(), id.as_str()).await?
        {
            return Err(Error::Taken(format!(
                "l'ONT {} est déjà installé sur la ligne {holder}",
                adoption.serial
            )));
        }
        let ont = Ont {
            serial: adoption.serial.to_string(),
            rx_cdbm: adoption.rx_cdbm,
            notes: Some("repris de l'opérateur sortant".into()),
        };
        storage::set_path(tx, id.as_str(), &path, &budget).await?;
        storage::set_ont(tx, id.as_str(), &ont).await?;
        let line = Line {
            path: Some(path.clone()),
            ont: Some(ont.clone()),
            ..line
        };
        let service = self
            .allocate_service(tx, &line, &path, Claim::Exclusive)
            .await?;
        storage::set_service(tx, id.as_str(), &service).await?;
        let active = Line {
            state: State::Active,
            ..line
        };
        storage::radius_insert(tx, &self.radius_entry(&active, &service)).await?;
        storage::set_state(tx, id.as_str(), State::Active).await?;
        let detail = json!({
            "former_ref": adoption.former_ref,
            "path": path, "budget": budget, "ont": ont, "service": service,
        });
        self.record(
            tx,
            actor,
            id.as_str(),
            "takeover",
            (None, State::Active),
            Some(detail),
        )
        .await?;
        storage::read_line(tx, id.as_str())
            .await?
            .ok_or_else(|| Error::NotFound(format!("aucune ligne « {id} »")))
    }

    async fn allocate_service(
        &self,
        tx: &mut Conn,
        line: &Line,
        path: &Path,
        claim: Claim,
    ) -> Result<Service> {
        let s = &self.settings;
        let svlan = storage::svlan_of(
            tx,
            &path.pon_port,
            &path.olt,
            i64::from(s.svlans.0),
            i64::from(s.svlans.1),
        )
        .await?
        .ok_or_else(|| {
            Error::Exhausted(format!(
                "plus de S-VLAN libre sur l'OLT {} (plage {} à {})",
                path.olt, s.svlans.0, s.svlans.1
            ))
        })?;
        let cvlan = storage::allocate(
            tx,
            Resource::Cvlan,
            &path.pon_port,
            i64::from(s.cvlans.0),
            i64::from(s.cvlans.1),
            &line.id,
            claim,
        )
        .await?
        .ok_or_else(|| {
            Error::Exhausted(format!(
                "plus de C-VLAN libre sur le port PON {} (plage {} à {})",
                path.pon_port, s.cvlans.0, s.cvlans.1
            ))
        })?;
        let pools = storage::pools(tx).await?;
        let v4_kind = match line.ipv4_kind {
            Ipv4Kind::Public => PoolKind::PublicV4,
            Ipv4Kind::Cgnat => PoolKind::CgnatV4,
        };
        let now = time::to_db(time::now());
        let (ipv4, ipv4_pool) = self
            .allocate_in(tx, &pools, v4_kind, &line.id, claim)
            .await?;
        let (prefix, prefix_pool) = self
            .allocate_in(tx, &pools, PoolKind::DelegatedV6, &line.id, claim)
            .await?;
        let (wan, wan_pool) = self
            .allocate_in(tx, &pools, PoolKind::WanV6, &line.id, claim)
            .await?;
        storage::journal_assign(
            tx,
            &line.id,
            &[
                ("ipv4", &ipv4_pool, ipv4),
                ("ipv6_prefix", &prefix_pool, prefix),
                ("ipv6_wan", &wan_pool, wan),
            ],
            &now,
        )
        .await?;
        Ok(Service {
            ipv4: ipv4.ip().to_string(),
            ipv4_pool,
            ipv6_prefix: prefix.to_string(),
            ipv6_prefix_pool: prefix_pool,
            ipv6_wan: wan.to_string(),
            ipv6_wan_pool: wan_pool,
            svlan: svlan as u16,
            cvlan: cvlan as u16,
            // No spaces: FreeRADIUS's default `filter_username` policy
            // rejects user names that contain any.
            circuit_id: format!(
                "{}:{}/{}/{}:{}",
                path.olt, path.frame, path.slot, path.port, path.ont_id
            ),
        })
    }

    /// Takes the next address or prefix among the pools of a kind, in name
    /// order, and opens its journal range.
    async fn allocate_in(
        &self,
        tx: &mut Conn,
        pools: &[Pool],
        kind: PoolKind,
        line: &str,
        claim: Claim,
    ) -> Result<(ipnetwork::IpNetwork, String)> {
        let of_kind: Vec<&Pool> = pools.iter().filter(|p| p.kind == kind).collect();
        if of_kind.is_empty() {
            return Err(Error::Exhausted(format!(
                "aucun pool {} n'est défini : un administrateur doit en créer un",
                kind.label()
            )));
        }
        for pool in &of_kind {
            if let Some(n) = storage::allocate(
                tx,
                Resource::Address,
                &pool.name,
                0,
                pool.size() - 1,
                line,
                claim,
            )
            .await?
            {
                let net = pool.nth(n).ok_or_else(|| {
                    Error::Invalid(format!("numéro {n} hors du pool {}", pool.name))
                })?;
                return Ok((net, pool.name.clone()));
            }
        }
        let names: Vec<String> = of_kind
            .iter()
            .map(|p| format!("« {} » ({})", p.name, p.network))
            .collect();
        Err(Error::Exhausted(format!(
            "pool {} épuisé : {}",
            kind.label(),
            names.join(", ")
        )))
    }

    async fn push_to_olt(
        &self,
        id: &str,
        line: &Line,
        path: &Path,
        ont: &Ont,
        service: &Service,
    ) -> Result<()> {
        let driver = self.drivers.get(&path.olt);
        let at = location(path);
        let serial = OntSerial::parse(&ont.serial).map_err(Error::Invalid)?;
        let olt = &path.olt;
        let existing = self.timed(olt, driver.ont_config(&at)).await?;
        let services = match existing {
            None => {
                let spec = OntSpec {
                    location: at.clone(),
                    serial,
                    line_profile: self.settings.line_profile,
                    service_profile: self.settings.service_profile,
                    description: id.to_owned(),
                };
                self.timed(olt, driver.provision_ont(&spec)).await?;
                Vec::new()
            }
            Some(c) if c.serial == serial => c.services,
            Some(c) => {
                return Err(Error::Olt(DriverError::Refused {
                    olt: olt.clone(),
                    reason: format!(
                        "l'emplacement {at} porte déjà l'ONT {}, inconnu de la ligne {id} : voir le rapport d'écart",
                        c.serial
                    ),
                }))
            }
        };
        if !services.contains(&(service.svlan, service.cvlan)) {
            let traffic_table = self
                .settings
                .profiles
                .iter()
                .find(|(n, _)| *n == line.profile)
                .map(|p| p.1)
                .ok_or_else(|| Error::Invalid(format!("profil « {} » inconnu", line.profile)))?;
            let spec = ServiceSpec {
                location: at,
                svlan: service.svlan,
                cvlan: service.cvlan,
                gemport: self.settings.gemport,
                user_vlan: self.settings.user_vlan,
                traffic_table,
            };
            self.timed(olt, driver.create_service(&spec)).await?;
        }
        Ok(())
    }

    async fn timed<T>(
        &self,
        olt: &str,
        call: impl Future<Output = Result<T, DriverError>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.settings.driver_timeout, call).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(Error::Olt(DriverError::Timeout {
                olt: olt.to_owned(),
            })),
        }
    }

    /// Suspends a line: the walled garden, or a slowed access for a
    /// household under the keep-connected protection. The ONT and the
    /// line's addresses stay, so resuming restores exactly the same service.
    #[tracing::instrument(skip(self, actor), fields(actor = %actor.username))]
    pub async fn suspend(&self, actor: &Actor, id: &str, reason: SuspendReason) -> Result<Line> {
        self.set_policy(actor, id, Step::Suspend, Some(reason))
            .await
    }

    /// Resumes a suspended line with exactly its previous service.
    #[tracing::instrument(skip(self, actor), fields(actor = %actor.username))]
    pub async fn resume(&self, actor: &Actor, id: &str) -> Result<Line> {
        self.set_policy(actor, id, Step::Resume, None).await
    }

    /// Suspends (`reason` given) or resumes a line: only what FreeRADIUS
    /// answers changes, and the BNG is told.
    async fn set_policy(
        &self,
        actor: &Actor,
        id: &str,
        step: Step,
        reason: Option<SuspendReason>,
    ) -> Result<Line> {
        let id = parse_id(id)?;
        let mut tx = self.db.begin().await?;
        let line = storage::lock_line(&mut tx, id.as_str()).await?;
        let target = if reason.is_some() {
            State::Suspended
        } else {
            State::Active
        };
        if line.state == target && line.suspend_reason == reason {
            return Ok(line);
        }
        let to = line.state.after(step)?;
        let service = line
            .service
            .clone()
            .ok_or_else(|| Error::Invalid(format!("la ligne {id} n'a pas de service")))?;
        let changed = Line {
            state: to,
            suspend_reason: reason,
            ..line.clone()
        };
        storage::radius_replace(&mut tx, &self.radius_entry(&changed, &service)).await?;
        storage::set_suspend_reason(&mut tx, id.as_str(), reason).await?;
        storage::set_state(&mut tx, id.as_str(), to).await?;
        let mut detail = json!({ "previous_reason": line.suspend_reason });
        if let Some(r) = reason {
            detail["reason"] = json!(r);
        }
        self.record(
            &mut tx,
            actor,
            id.as_str(),
            step.as_str(),
            (Some(line.state), to),
            Some(detail),
        )
        .await?;
        tx.commit().await?;
        let policy = NasChange::Policy(policy_of(&changed));
        self.tell_bng(&changed, &service.circuit_id, policy).await?;
        self.line(id.as_str()).await
    }

    /// Terminates a line: removes its ONT from the OLT and releases every
    /// resource. The line, its history and its address ranges stay.
    #[tracing::instrument(skip(self, actor), fields(actor = %actor.username))]
    pub async fn terminate(&self, actor: &Actor, id: &str) -> Result<Line> {
        self.close(actor, id, Step::Terminate, State::Terminated)
            .await
    }

    /// Cancels an order before activation, releasing what it reserved.
    #[tracing::instrument(skip(self, actor), fields(actor = %actor.username))]
    pub async fn cancel(&self, actor: &Actor, id: &str) -> Result<Line> {
        self.close(actor, id, Step::Cancel, State::Cancelled).await
    }

    async fn close(&self, actor: &Actor, id: &str, step: Step, target: State) -> Result<Line> {
        let id = parse_id(id)?;
        let line = self.line(id.as_str()).await?;
        if line.state == target {
            return Ok(line);
        }
        line.state.after(step)?;
        // The OLT first: if it fails the line keeps everything and the step
        // can be retried; if the database then fails, the retry finds the
        // OLT already clean.
        if let (Some(path), Some(ont)) = (&line.path, &line.ont) {
            if let Err(e) = self.remove_from_olt(path, ont).await {
                storage::set_last_error(&self.db, id.as_str(), Some(&e.to_string())).await?;
                return Err(e);
            }
        }
        let mut tx = self.db.begin().await?;
        let line = storage::lock_line(&mut tx, id.as_str()).await?;
        if line.state == target {
            return Ok(line);
        }
        let to = line.state.after(step)?;
        let now = time::to_db(time::now());
        let released = storage::release_all(&mut tx, id.as_str()).await?;
        storage::journal_release(&mut tx, id.as_str(), &now).await?;
        if let Some(s) = &line.service {
            storage::radius_delete(&mut tx, &s.circuit_id).await?;
        }
        storage::set_state(&mut tx, id.as_str(), to).await?;
        let detail = json!({ "released_resources": released });
        self.record(
            &mut tx,
            actor,
            id.as_str(),
            step.as_str(),
            (Some(line.state), to),
            Some(detail),
        )
        .await?;
        tx.commit().await?;
        if let Some(s) = &line.service {
            if matches!(line.state, State::Active | State::Suspended) {
                self.tell_bng(&line, &s.circuit_id, NasChange::Disconnect)
                    .await?;
            }
        }
        self.line(id.as_str()).await
    }

    /// Tells the BNG serving the line's OLT of a change, in the background:
    /// the step has landed and FreeRADIUS already answers from the new
    /// rows; the outcome is recorded on the line (`nas_status`).
    async fn tell_bng(&self, line: &Line, circuit_id: &str, change: NasChange) -> Result<()> {
        let olt = line.path.as_ref().map(|p| p.olt.as_str()).unwrap_or("");
        let Some(bng) = self.settings.bngs.iter().find(|b| b.serves(olt)).cloned() else {
            return Ok(());
        };
        let what = match &change {
            NasChange::Policy(p) => format!("CoA « {p} »"),
            NasChange::Disconnect => "Disconnect".to_owned(),
        };
        storage::set_nas_status(
            &self.db,
            &line.id,
            &format!("{what} : envoi en cours vers {}", bng.address),
        )
        .await?;
        let db = self.db.clone();
        let id = line.id.clone();
        let username = circuit_id.to_owned();
        tokio::spawn(async move {
            let status = match crate::nas::send(&bng, &username, &change).await {
                Ok(()) => format!(
                    "{what} : acquitté par {} le {}",
                    bng.address,
                    time::to_db(time::now())
                ),
                Err(e) => {
                    tracing::warn!(line = %id, error = %e, "change of authorization failed");
                    format!("{what} : échec — {e}")
                }
            };
            if let Err(e) = storage::set_nas_status(&db, &id, &status).await {
                tracing::error!(line = %id, error = %e, "could not record the BNG's answer");
            }
        });
        Ok(())
    }

    async fn remove_from_olt(&self, path: &Path, ont: &Ont) -> Result<()> {
        let driver = self.drivers.get(&path.olt);
        let at = location(path);
        let olt = &path.olt;
        match self.timed(olt, driver.ont_config(&at)).await? {
            Some(c) if c.serial.as_str() == ont.serial => {
                if !c.services.is_empty() {
                    self.timed(olt, driver.remove_service(&at)).await?;
                }
                self.timed(olt, driver.delete_ont(&at)).await?;
            }
            // Nothing there, or another ONT this line does not own: leave
            // it for the drift report rather than delete someone else's.
            _ => {}
        }
        Ok(())
    }

    /// What FreeRADIUS answers for a line in its current state.
    fn radius_entry<'a>(&self, line: &Line, service: &'a Service) -> RadiusEntry<'a> {
        let mut reply = vec![
            ("Framed-IP-Address", service.ipv4.clone()),
            ("Delegated-IPv6-Prefix", service.ipv6_prefix.clone()),
            ("Framed-IPv6-Prefix", service.ipv6_wan.clone()),
        ];
        // The suspended groups carry their policy (`radgroupreply`).
        let group = match (line.state, line.suspend_reason) {
            (State::Suspended, Some(r)) if r.throttles() => "regie-throttled",
            (State::Suspended, _) => "regie-walled-garden",
            _ => {
                reply.push(("Filter-Id", policy_of(line)));
                "regie-active"
            }
        };
        RadiusEntry {
            username: &service.circuit_id,
            group,
            reply,
        }
    }

    async fn record(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        id: &str,
        step: &str,
        (from, to): (Option<State>, State),
        detail: Option<serde_json::Value>,
    ) -> Result<()> {
        storage::insert_event(tx, id, step, from, to, detail.as_ref(), &actor.username).await?;
        audit::record(
            tx,
            actor,
            Change {
                action: &format!("line.{step}"),
                entity: "line",
                entity_id: id,
                before: from.map(|s| json!({ "state": s })),
                after: Some(match detail {
                    Some(d) => json!({ "state": to, "detail": d }),
                    None => json!({ "state": to }),
                }),
            },
        )
        .await?;
        Ok(())
    }

    fn profile_names(&self) -> String {
        self.settings
            .profiles
            .iter()
            .map(|p| p.0.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    // --- Pools -------------------------------------------------------------

    /// Defines an address pool; a pool overlapping another is refused.
    #[tracing::instrument(skip(self, actor), fields(actor = %actor.username))]
    pub async fn add_pool(&self, actor: &Actor, new: &NewPool) -> Result<Pool> {
        let kind = PoolKind::parse(&new.kind).map_err(|e| Error::Invalid(format!("kind : {e}")))?;
        let pool =
            Pool::parse(&new.name, kind, &new.network, new.assign_len).map_err(Error::Invalid)?;
        let mut tx = self.db.begin().await?;
        storage::lock_pools(&mut tx).await?;
        for other in storage::pools(&mut tx).await? {
            if other.name == pool.name {
                return Err(Error::Taken(format!(
                    "un pool « {} » existe déjà",
                    pool.name
                )));
            }
            if other.overlaps(&pool) {
                return Err(Error::Invalid(format!(
                    "{} chevauche le pool « {} » ({})",
                    pool.network, other.name, other.network
                )));
            }
        }
        storage::insert_pool(&mut tx, &pool).await?;
        audit::record(
            &mut tx,
            actor,
            Change {
                action: "pool.create",
                entity: "pool",
                entity_id: &pool.name,
                before: None,
                after: Some(json!(pool)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(pool)
    }

    /// Every pool with its size and use.
    pub async fn pools(&self) -> Result<Vec<PoolUsage>> {
        let used = storage::pool_usage(&self.db).await?;
        Ok(storage::list_pools(&self.db)
            .await?
            .into_iter()
            .map(|pool| {
                let used = used
                    .iter()
                    .find(|(n, _)| *n == pool.name)
                    .map(|u| u.1)
                    .unwrap_or(0);
                PoolUsage {
                    size: pool.size(),
                    used,
                    pool,
                }
            })
            .collect())
    }

    /// Which line held an address (or a prefix containing it) at an instant:
    /// the answer to a legal requisition.
    #[tracing::instrument(skip(self))]
    pub async fn attribution(&self, ip: &str, at: Option<&str>) -> Result<Attribution> {
        let addr: IpAddr = ip.trim().parse().map_err(|_| {
            Error::Invalid(format!(
                "ip : « {} » n'est pas une adresse IPv4 ou IPv6",
                ip.trim()
            ))
        })?;
        let at = match at.map(str::trim).filter(|a| !a.is_empty()) {
            None => time::now(),
            Some(a) => chrono::DateTime::parse_from_rfc3339(a)
                .map_err(|_| {
                    Error::Invalid(format!(
                        "at : « {a} » n'est pas un instant RFC 3339 (ex. 2026-11-22T14:00:00Z)"
                    ))
                })?
                .with_timezone(&chrono::Utc),
        };
        let at_db = time::to_db(at);
        let (family, hex) = hex_address(addr);
        let mut holders = Vec::new();
        for a in storage::journal_at(&self.db, family, &hex, &at_db).await? {
            let line = storage::get_line(&self.db, &a.line_id).await?;
            holders.push(Holder {
                premises: line.as_ref().map(|l| l.premises.clone()),
                address: line.and_then(|l| l.address),
                assignment: a,
            });
        }
        Ok(Attribution {
            ip: addr.to_string(),
            at: at_db,
            holders,
        })
    }

    /// What the line's ONT reports now (online, optical levels, distance),
    /// read from its OLT.
    #[tracing::instrument(skip(self))]
    pub async fn ont_status(&self, id: &str) -> Result<crate::driver::OntStatus> {
        let line = self.line(id).await?;
        let path = match (&line.path, line.state) {
            (Some(p), State::Active | State::Suspended) => p,
            _ => {
                return Err(Error::Invalid(format!(
                    "la ligne {} n'a pas d'ONT en service (état « {} »)",
                    line.id, line.state
                )))
            }
        };
        let driver = self.drivers.get(&path.olt);
        self.timed(&path.olt, driver.ont_status(&location(path)))
            .await
    }

    /// ONTs plugged into an OLT but not declared on it (a technician's ONT
    /// waiting for its line to be activated, or one plugged by mistake).
    #[tracing::instrument(skip(self))]
    pub async fn unprovisioned(&self, olt: &str) -> Result<Vec<crate::driver::DiscoveredOnt>> {
        let driver = self.drivers.get(olt);
        self.timed(olt, driver.discover()).await
    }

    // --- Drift ---------------------------------------------------------------

    /// Compares what an OLT holds with the database's live lines on it.
    #[tracing::instrument(skip(self))]
    pub async fn drift(&self, olt: &str) -> Result<Drift> {
        let driver: Arc<dyn OltDriver> = self.drivers.get(olt);
        let config = self.timed(olt, driver.list_config()).await?;
        let mut lines = Vec::new();
        for state in [State::Active, State::Suspended, State::OntInstalled] {
            lines.extend(
                storage::list_lines(&self.db, Some(state), None, i64::MAX)
                    .await?
                    .into_iter()
                    .filter(|l| l.path.as_ref().is_some_and(|p| p.olt == olt)),
            );
        }
        let mut drift = Drift {
            olt: olt.to_owned(),
            ..Drift::default()
        };
        for l in &lines {
            let (Some(path), Some(ont)) = (&l.path, &l.ont) else {
                continue;
            };
            let at = location(path);
            match config.iter().find(|c| c.location == at) {
                Some(c) if c.serial.as_str() != ont.serial => {
                    drift.serial_mismatch.push(l.id.clone())
                }
                Some(_) => {}
                // An installed ONT not yet activated is not on the OLT yet.
                None if l.state != State::OntInstalled => drift.missing_on_olt.push(l.id.clone()),
                None => {}
            }
        }
        for c in config {
            let known = lines.iter().any(|l| {
                l.path.as_ref().is_some_and(|p| location(p) == c.location)
                    && l.ont
                        .as_ref()
                        .is_some_and(|o| o.serial == c.serial.as_str())
            });
            if !known {
                drift.unknown_on_olt.push(c);
            }
        }
        Ok(drift)
    }
}

/// The BNG policy (`Filter-Id`) of a line in its state.
fn policy_of(line: &Line) -> String {
    match (line.state, line.suspend_reason) {
        (State::Suspended, Some(r)) if r.throttles() => "throttled".into(),
        (State::Suspended, _) => "walled-garden".into(),
        _ => format!("profile-{}", line.profile),
    }
}

/// Takes the outlet, the PBO position and the splitter output of a path
/// for a line; names the line that holds one already.
async fn take_path(tx: &mut Conn, path: &Path, id: &str) -> Result<()> {
    for (kind, scope, what) in [
        (Resource::Outlet, Some(path.outlet.as_str()), "la PTO"),
        (
            Resource::PboPort,
            path.pbo_position.as_deref(),
            "la position de PBO",
        ),
        (
            Resource::SplitterOutput,
            Some(path.splitter_output.as_str()),
            "la sortie de coupleur",
        ),
    ] {
        let Some(scope) = scope else { continue };
        if let Some(holder) = storage::take(tx, kind, scope, id).await? {
            return Err(Error::Taken(format!(
                "{what} {scope} est déjà prise par la ligne {holder}"
            )));
        }
    }
    Ok(())
}

fn location(path: &Path) -> OntLocation {
    OntLocation {
        frame: path.frame,
        slot: path.slot,
        port: path.port,
        ont_id: path.ont_id,
    }
}
