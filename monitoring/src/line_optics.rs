//! Optics that mean something to a technician: each ONT an OLT reports,
//! matched to the line it serves (by serial, or by PON port and ONT id),
//! its levels judged against the line's optical class and against the
//! reading taken at installation; and alarms for a line below its class's
//! sensitivity, for a line that lost 3 dB or more since installation, and
//! — when several lines behind one distribution box (PBO) drift together —
//! one alarm on the box instead of one per home.

use std::collections::{BTreeMap, HashMap};

use inventory::budget::OpticalClass;
use provisioning::line::Line;
use regie_core::Db;
use serde::Serialize;

use crate::alarms::{self, Severity, Subject};
use crate::status::DeviceStatus;
use crate::Error;

/// A loss of this much since installation is a drift (hundredths of a dB).
pub const DRIFT_CDB: i64 = 300;

/// Drifting lines behind one box from which the box is blamed.
pub const PBO_GROUP: usize = 2;

/// One line's optical levels as its OLT last reported them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineReading {
    pub line: String,
    pub pbo: Option<String>,
    pub olt: String,
    /// The OLT's index of the ONT.
    pub ont: String,
    pub online: Option<bool>,
    /// Received by the ONT, hundredths of a dBm.
    pub rx_ont_cdbm: Option<i32>,
    /// Received by the OLT from the ONT, hundredths of a dBm.
    pub rx_olt_cdbm: Option<i32>,
    /// The ONT's reading at installation, hundredths of a dBm.
    pub installed_cdbm: Option<i64>,
    /// The class's sensitivity, hundredths of a dBm.
    pub min_cdbm: Option<i32>,
    pub class: Option<String>,
}

impl LineReading {
    /// Below the class's sensitivity.
    pub fn low(&self) -> bool {
        matches!((self.rx_ont_cdbm, self.min_cdbm), (Some(rx), Some(min)) if rx < min)
    }

    /// What was lost since installation, hundredths of a dB (positive:
    /// less light now).
    pub fn loss_cdb(&self) -> Option<i64> {
        Some(self.installed_cdbm? - i64::from(self.rx_ont_cdbm?))
    }

    pub fn drifting(&self) -> bool {
        self.loss_cdb().is_some_and(|l| l >= DRIFT_CDB)
    }
}

/// The lines of `device` whose ONT its last optics read found: by the
/// ONT's serial when the OLT gives it, else by the PON port (the interface
/// the ONT's index names, placed by the device's profile) and the ONT id.
pub fn readings(device: &str, status: &DeviceStatus, lines: &[Line]) -> Vec<LineReading> {
    let positions: HashMap<u32, crate::interfaces::PonPosition> = status
        .interfaces
        .iter()
        .filter_map(|i| Some((i.index, i.pon?)))
        .collect();
    let mut out = Vec::new();
    for ont in &status.onts {
        let by_serial = ont.serial.as_deref().and_then(|s| {
            let s = s.trim();
            lines.iter().find(|l| {
                l.ont
                    .as_ref()
                    .is_some_and(|o| !s.is_empty() && o.serial.eq_ignore_ascii_case(s))
            })
        });
        let by_place = || {
            // The index names the port (C-Data), or its interface does.
            let p = match ont.pon {
                Some(p) => p,
                None => *positions.get(&ont.port_if_index?)?,
            };
            let id = ont.ont_id?;
            lines.iter().find(|l| {
                l.path.as_ref().is_some_and(|x| {
                    x.olt == device && x.slot == p.slot && x.port == p.port && x.ont_id == id
                })
            })
        };
        let Some(line) = by_serial.or_else(by_place) else {
            continue;
        };
        let class = line
            .budget
            .as_ref()
            .and_then(|b| OpticalClass::parse(&b.class).ok());
        out.push(LineReading {
            line: line.id.clone(),
            pbo: line.path.as_ref().and_then(|p| p.pbo.clone()),
            olt: device.to_owned(),
            ont: ont.index.clone(),
            online: ont.online,
            rx_ont_cdbm: ont.rx_ont_cdbm,
            rx_olt_cdbm: ont.rx_olt_cdbm,
            installed_cdbm: line.ont.as_ref().map(|o| o.rx_cdbm),
            min_cdbm: class.map(OpticalClass::min_rx_cdbm),
            class: class.map(|c| c.label().to_owned()),
        });
    }
    out
}

/// Raises `subject` (a warning) with `message`, or clears it when there
/// is none.
async fn set(db: &Db, subject: &Subject, message: Option<String>) -> Result<(), Error> {
    match message {
        Some(m) => alarms::raise(db, subject, Severity::Warning, &m)
            .await
            .map(|_| ()),
        None => alarms::clear(db, subject).await.map(|_| ()),
    }
}

/// Hundredths (of a dBm, of a dB) as a French number with a true minus
/// sign: `−27,50`.
pub fn hundredths(cdbm: i64) -> String {
    let sign = if cdbm < 0 { "−" } else { "" };
    format!("{sign}{},{:02}", cdbm.abs() / 100, cdbm.abs() % 100)
}

/// Raises and clears the line and box alarms `readings` show. A line
/// whose ONT is offline or gives no level is left as it was (its outage
/// is another alarm's).
pub async fn apply(db: &Db, readings: &[LineReading]) -> Result<(), Error> {
    let judged: Vec<&LineReading> = readings
        .iter()
        .filter(|r| r.online != Some(false) && r.rx_ont_cdbm.is_some())
        .collect();
    let mut by_pbo: BTreeMap<&str, Vec<&LineReading>> = BTreeMap::new();
    for r in &judged {
        if let Some(p) = r.pbo.as_deref() {
            by_pbo.entry(p).or_default().push(r);
        }
    }
    let mut blamed_box = std::collections::HashSet::new();
    for (pbo, rs) in &by_pbo {
        let drifting: Vec<&&LineReading> = rs.iter().filter(|r| r.drifting()).collect();
        let subject = Subject::PboDrift {
            pbo: (*pbo).to_owned(),
        };
        if drifting.len() >= PBO_GROUP {
            let lines: Vec<&str> = drifting.iter().map(|r| r.line.as_str()).collect();
            alarms::raise(
                db,
                &subject,
                Severity::Warning,
                &format!(
                    "{} lignes du boîtier {pbo} ont perdu {},00 dB ou plus depuis leur installation ({}) : chercher au boîtier ou en amont, pas chez les abonnés",
                    lines.len(),
                    DRIFT_CDB / 100,
                    lines.join(", ")
                ),
            )
            .await?;
            blamed_box.extend(lines);
        } else {
            alarms::clear(db, &subject).await?;
        }
    }
    for r in judged {
        let place = r
            .pbo
            .as_deref()
            .map(|p| format!(" ; boîtier {p}"))
            .unwrap_or_default();
        let low = match (r.low(), r.rx_ont_cdbm, r.min_cdbm) {
            (true, Some(rx), Some(min)) => Some(format!(
                "l'ONT reçoit {} dBm, sous la sensibilité de la classe {} ({} dBm){place}",
                hundredths(i64::from(rx)),
                r.class.as_deref().unwrap_or("?"),
                hundredths(i64::from(min)),
            )),
            _ => None,
        };
        set(
            db,
            &Subject::LineRxLow {
                line: r.line.clone(),
            },
            low,
        )
        .await?;
        let drift = match (
            r.drifting() && !blamed_box.contains(r.line.as_str()),
            r.loss_cdb(),
        ) {
            (true, Some(loss)) => Some(format!(
                "l'ONT a perdu {} dB depuis l'installation ({} → {} dBm){place}",
                hundredths(loss),
                hundredths(r.installed_cdbm.unwrap_or_default()),
                hundredths(i64::from(r.rx_ont_cdbm.unwrap_or_default())),
            )),
            _ => None,
        };
        set(
            db,
            &Subject::LineDrift {
                line: r.line.clone(),
            },
            drift,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(line: &str, pbo: &str, rx: i32, installed: i64) -> LineReading {
        LineReading {
            line: line.into(),
            pbo: Some(pbo.into()),
            olt: "OLT01".into(),
            ont: "1".into(),
            online: Some(true),
            rx_ont_cdbm: Some(rx),
            rx_olt_cdbm: None,
            installed_cdbm: Some(installed),
            min_cdbm: Some(OpticalClass::GponBPlus.min_rx_cdbm()),
            class: Some("GPON B+".into()),
        }
    }

    #[test]
    fn a_line_is_low_below_its_class_and_drifts_past_3_db() {
        // B+ sensitivity is -27 dBm: -27.01 is low, -27.00 is not.
        assert!(reading("L1", "P", -2701, -2000).low());
        assert!(!reading("L1", "P", -2700, -2000).low());
        // Installed at -19.00: -22.00 is a 3 dB loss (a drift), -21.99 not.
        assert!(reading("L1", "P", -2200, -1900).drifting());
        assert!(!reading("L1", "P", -2199, -1900).drifting());
        assert_eq!(reading("L1", "P", -2250, -1900).loss_cdb(), Some(350));
        // C+ goes down to -30 dBm.
        let mut c = reading("L1", "P", -2900, -2000);
        c.min_cdbm = Some(OpticalClass::GponCPlus.min_rx_cdbm());
        assert!(!c.low());
    }
}
