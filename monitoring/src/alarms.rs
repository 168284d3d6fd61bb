//! Alarms: raised and cleared from polls and traps, deduplicated by key
//! (one open alarm per key), with severity, first and last seen, and
//! acknowledgement by a technician; and their impact: the lines and
//! premises behind a PON port, from the inventory's downstream trace and the
//! provisioning's lines.

use regie_core::audit::{self, Actor, Change};
use regie_core::{time, Db};
use serde::Serialize;
use sqlx::Row;

use crate::Error;

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Major,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Warning => "warning",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "critical" => Severity::Critical,
            "major" => Severity::Major,
            _ => Severity::Warning,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "critique",
            Severity::Major => "majeure",
            Severity::Warning => "avertissement",
        }
    }
}

/// What raised the alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// A device does not answer.
    DeviceUnreachable { device: String },
    /// A device answers but refuses the poller (credentials refused, SNMP
    /// port closed): a configuration matter, no household cut off.
    SnmpRefused { device: String },
    /// A PON port of the inventory is down.
    PonPortDown { pon_port: String },
    /// Another interface is down.
    InterfaceDown { device: String, if_name: String },
    /// A line's ONT receives less than its class's sensitivity.
    LineRxLow { line: String },
    /// A line's ONT receives 3 dB or more below its installation reading.
    LineDrift { line: String },
    /// Several lines behind one distribution box drift together: the box
    /// (or upstream), not the homes.
    PboDrift { pbo: String },
}

impl Subject {
    /// The deduplication key.
    pub fn key(&self) -> String {
        match self {
            Subject::DeviceUnreachable { device } => format!("device_unreachable:{device}"),
            Subject::SnmpRefused { device } => format!("snmp_refused:{device}"),
            Subject::PonPortDown { pon_port } => format!("pon_port_down:{pon_port}"),
            Subject::InterfaceDown { device, if_name } => {
                format!("interface_down:{device}:{if_name}")
            }
            Subject::LineRxLow { line } => format!("line_rx_low:{line}"),
            Subject::LineDrift { line } => format!("line_drift:{line}"),
            Subject::PboDrift { pbo } => format!("pbo_drift:{pbo}"),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Subject::DeviceUnreachable { .. } => "device_unreachable",
            Subject::SnmpRefused { .. } => "snmp_refused",
            Subject::PonPortDown { .. } => "pon_port_down",
            Subject::InterfaceDown { .. } => "interface_down",
            Subject::LineRxLow { .. } => "line_rx_low",
            Subject::LineDrift { .. } => "line_drift",
            Subject::PboDrift { .. } => "pbo_drift",
        }
    }

    fn subject(&self) -> String {
        match self {
            Subject::DeviceUnreachable { device } | Subject::SnmpRefused { device } => {
                device.clone()
            }
            Subject::PonPortDown { pon_port } => pon_port.clone(),
            Subject::InterfaceDown { device, if_name } => format!("{device} {if_name}"),
            Subject::LineRxLow { line } | Subject::LineDrift { line } => line.clone(),
            Subject::PboDrift { pbo } => pbo.clone(),
        }
    }
}

/// An alarm as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alarm {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub severity: Severity,
    pub subject: String,
    pub message: String,
    pub first_seen: String,
    pub last_seen: String,
    pub occurrences: i64,
    pub cleared_at: Option<String>,
    pub acked_by: Option<String>,
    pub acked_at: Option<String>,
}

fn alarm_from(r: &sqlx::any::AnyRow) -> Result<Alarm, Error> {
    let severity: String = r.try_get("severity").map_err(regie_core::CoreError::from)?;
    let get = |c: &str| -> Result<String, Error> {
        Ok(r.try_get(c).map_err(regie_core::CoreError::from)?)
    };
    let opt = |c: &str| -> Result<Option<String>, Error> {
        Ok(r.try_get(c).map_err(regie_core::CoreError::from)?)
    };
    Ok(Alarm {
        id: r.try_get("id").map_err(regie_core::CoreError::from)?,
        key: get("alarm_key")?,
        kind: get("kind")?,
        severity: Severity::parse(&severity),
        subject: get("subject")?,
        message: get("message")?,
        first_seen: get("first_seen")?,
        last_seen: get("last_seen")?,
        occurrences: r
            .try_get("occurrences")
            .map_err(regie_core::CoreError::from)?,
        cleared_at: opt("cleared_at")?,
        acked_by: opt("acked_by")?,
        acked_at: opt("acked_at")?,
    })
}

const COLUMNS: &str = "id, alarm_key, kind, severity, subject, message, first_seen, last_seen, occurrences, cleared_at, acked_by, acked_at";

fn storage(e: sqlx::Error) -> Error {
    Error::Storage(e.into())
}

/// Raises an alarm, or refreshes the open one of the same subject.
#[tracing::instrument(skip(db))]
pub async fn raise(
    db: &Db,
    subject: &Subject,
    severity: Severity,
    message: &str,
) -> Result<Alarm, Error> {
    let key = subject.key();
    let now = time::to_db(time::now());
    for _ in 0..3 {
        let updated = sqlx::query(&format!(
            "UPDATE mon_alarms SET last_seen = $2, occurrences = occurrences + 1, message = $3
             WHERE alarm_key = $1 AND cleared_at IS NULL RETURNING {COLUMNS}"
        ))
        .bind(&key)
        .bind(&now)
        .bind(message)
        .fetch_optional(db.pool())
        .await
        .map_err(storage)?;
        if let Some(row) = updated {
            return alarm_from(&row);
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO mon_alarms (alarm_key, kind, severity, subject, message, first_seen, last_seen)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLUMNS}"
        ))
        .bind(&key)
        .bind(subject.kind())
        .bind(severity.as_str())
        .bind(subject.subject())
        .bind(message)
        .bind(&now)
        .fetch_one(db.pool())
        .await;
        match inserted {
            Ok(row) => {
                tracing::warn!(alarm = %key, "alarm raised");
                return alarm_from(&row);
            }
            // Raised meanwhile by another poller: refresh that one.
            Err(e) if regie_core::db::is_unique_violation(&e) => continue,
            Err(e) => return Err(storage(e)),
        }
    }
    Err(Error::Invalid(format!(
        "alarme « {key} » : conflit persistant"
    )))
}

/// Clears the open alarm of a subject, if any.
#[tracing::instrument(skip(db))]
pub async fn clear(db: &Db, subject: &Subject) -> Result<bool, Error> {
    let done = sqlx::query(
        "UPDATE mon_alarms SET cleared_at = $2 WHERE alarm_key = $1 AND cleared_at IS NULL",
    )
    .bind(subject.key())
    .bind(time::to_db(time::now()))
    .execute(db.pool())
    .await
    .map_err(storage)?;
    Ok(done.rows_affected() > 0)
}

/// Closes the open alarms of a device no longer polled — its own and
/// those of the inventory's PON ports on it — saying why: « équipement
/// retiré ». Answers how many were closed.
pub async fn retire_device(
    db: &Db,
    device: &str,
    ports: &[inventory::extension::PonPort],
) -> Result<u64, Error> {
    let mut keys = vec![
        Subject::DeviceUnreachable {
            device: device.to_owned(),
        }
        .key(),
        Subject::SnmpRefused {
            device: device.to_owned(),
        }
        .key(),
    ];
    keys.extend(ports.iter().filter(|p| p.olt == device).map(|p| {
        Subject::PonPortDown {
            pon_port: p.code.clone(),
        }
        .key()
    }));
    let mut tx = db.begin().await?;
    let mut closed = 0;
    for key in keys {
        let done = sqlx::query(
            "UPDATE mon_alarms SET cleared_at = $2, message = message || ' — levée : équipement retiré'
             WHERE alarm_key = $1 AND cleared_at IS NULL",
        )
        .bind(key)
        .bind(time::to_db(time::now()))
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
        closed += done.rows_affected();
    }
    tx.commit().await.map_err(storage)?;
    Ok(closed)
}

/// A technician acknowledges an alarm.
#[tracing::instrument(skip(db, actor), fields(actor = %actor.username))]
pub async fn acknowledge(db: &Db, actor: &Actor, id: i64) -> Result<Alarm, Error> {
    let mut tx = db.begin().await?;
    let row = sqlx::query(&format!(
        "UPDATE mon_alarms SET acked_by = $2, acked_at = $3 WHERE id = $1 AND acked_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&actor.username)
    .bind(time::to_db(time::now()))
    .fetch_optional(&mut *tx)
    .await
    .map_err(storage)?;
    let Some(row) = row else {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM mon_alarms WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(storage)?;
        return Err(match exists {
            Some(_) => Error::Invalid(format!("l'alarme {id} est déjà acquittée")),
            None => Error::NotFound(format!("aucune alarme {id}")),
        });
    };
    let alarm = alarm_from(&row)?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "alarm.acknowledge",
            entity: "alarm",
            entity_id: &alarm.key,
            before: None,
            after: Some(serde_json::json!({ "acked_by": actor.username })),
        },
    )
    .await?;
    tx.commit().await.map_err(storage)?;
    Ok(alarm)
}

/// Open alarms, most severe and most recent first.
pub async fn open(db: &Db) -> Result<Vec<Alarm>, Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM mon_alarms WHERE cleared_at IS NULL ORDER BY last_seen DESC"
    ))
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    let mut alarms: Vec<Alarm> = rows.iter().map(alarm_from).collect::<Result<_, _>>()?;
    alarms.sort_by_key(|a| a.severity as u8);
    Ok(alarms)
}

/// A line behind a fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AffectedLine {
    pub line_id: String,
    pub premises: String,
    pub state: String,
    /// A household whose line is throttled under the keep-connected
    /// protection (its FSL request is pending).
    pub protected: bool,
}

/// What a fault on a PON port cuts off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Impact {
    /// The PON port, or the OLT, at fault.
    pub pon_port: String,
    /// The PON ports cut off (one for a port, all of them for an OLT).
    pub pon_ports: Vec<String>,
    /// Premises behind the port (built or not).
    pub premises: usize,
    pub outlets: usize,
    /// Lines in service (active or suspended) behind the port.
    pub lines: Vec<AffectedLine>,
    pub protected_households: usize,
}

/// The impact of a PON port going down.
pub async fn pon_port_impact(
    db: &Db,
    plant: &inventory::service::PlantCache,
    lines: &provisioning::service::Provisioning,
    pon_port: &str,
) -> Result<Impact, Error> {
    let down = inventory::service::downstream(
        db,
        plant,
        inventory::trace::From::PonPort(pon_port.to_owned()),
    )
    .await
    .map_err(|e| match e {
        inventory::Error::NotFound(m) => Error::NotFound(m),
        other => Error::Invalid(other.to_string()),
    })?;
    let mut affected = Vec::new();
    for l in lines
        .lines(None, Some(pon_port), 10_000)
        .await
        .map_err(|e| Error::Invalid(e.to_string()))?
    {
        use provisioning::lifecycle::{State, SuspendReason};
        if !matches!(l.state, State::Active | State::Suspended) {
            continue;
        }
        affected.push(AffectedLine {
            protected: l.suspend_reason == Some(SuspendReason::KeepConnected),
            line_id: l.id,
            premises: l.premises,
            state: l.state.as_str().to_owned(),
        });
    }
    affected.sort_by(|a, b| a.line_id.cmp(&b.line_id));
    Ok(Impact {
        pon_port: pon_port.to_owned(),
        pon_ports: vec![pon_port.to_owned()],
        premises: down.premises.len(),
        outlets: down.outlets.len(),
        protected_households: affected.iter().filter(|l| l.protected).count(),
        lines: affected,
    })
}

/// The impact of an OLT going dark: every PON port it has in the inventory
/// (`ports`), summed. `None` when the device is no OLT of the inventory.
pub async fn olt_impact(
    db: &Db,
    plant: &inventory::service::PlantCache,
    lines: &provisioning::service::Provisioning,
    olt: &str,
    ports: &[inventory::extension::PonPort],
) -> Result<Option<Impact>, Error> {
    let mut codes: Vec<&str> = ports
        .iter()
        .filter(|p| p.olt == olt)
        .map(|p| p.code.as_str())
        .collect();
    if codes.is_empty() {
        return Ok(None);
    }
    codes.sort_unstable();
    let mut total = Impact {
        pon_port: olt.to_owned(),
        pon_ports: Vec::new(),
        premises: 0,
        outlets: 0,
        lines: Vec::new(),
        protected_households: 0,
    };
    for code in codes {
        let one = pon_port_impact(db, plant, lines, code).await?;
        total.pon_ports.push(code.to_owned());
        total.premises += one.premises;
        total.outlets += one.outlets;
        total.protected_households += one.protected_households;
        total.lines.extend(one.lines);
    }
    total.lines.sort_by(|a, b| a.line_id.cmp(&b.line_id));
    Ok(Some(total))
}
