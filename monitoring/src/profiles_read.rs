//! Reading what a profile names from a device: the ONT table (rows
//! joined by the ONT's part of their index, the PON port decoded) and the
//! PON ports' transceivers.

use std::collections::BTreeMap;

use super::{IndexKind, Oid, OntTable, Profile};
use crate::snmp::{Snmp, Value};
use crate::Error;

/// An ONT as its OLT reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OntOptics {
    /// The OLT's index of the ONT, as the table gives it.
    pub index: String,
    pub serial: Option<String>,
    pub name: Option<String>,
    /// The PON port's ifIndex and the ONT id, when the index holds them.
    pub port_if_index: Option<u32>,
    pub ont_id: Option<u32>,
    /// The PON port's slot and port, when the index holds them.
    pub pon: Option<crate::interfaces::PonPosition>,
    pub online: Option<bool>,
    /// Received by the ONT, hundredths of a dBm.
    pub rx_ont_cdbm: Option<i32>,
    /// Transmitted by the ONT, hundredths of a dBm.
    pub tx_ont_cdbm: Option<i32>,
    /// Received by the OLT from this ONT, hundredths of a dBm.
    pub rx_olt_cdbm: Option<i32>,
    pub distance_m: Option<u32>,
}

/// A PON port's transceiver.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortOptics {
    pub if_index: u32,
    pub tx_cdbm: i32,
}

/// An ONT's identity as people write it: a GPON serial of four letters
/// and four raw bytes (`ZTEG` then 0xC0A1B2C3) as `ZTEGC0A1B2C3`, six raw
/// bytes (an EPON ONU's MAC) as `e0:67:b3:00:11:22`, a text as it is.
pub(super) fn identity(value: &Value) -> Option<String> {
    let Value::Bytes(b) = value else {
        return value.as_text();
    };
    let printable = |b: &[u8]| b.iter().all(|c| c.is_ascii_graphic());
    let hex = |b: &[u8], sep: &str, upper: bool| {
        b.iter()
            .map(|c| {
                if upper {
                    format!("{c:02X}")
                } else {
                    format!("{c:02x}")
                }
            })
            .collect::<Vec<_>>()
            .join(sep)
    };
    let text = match b.len() {
        8 if b[..4].iter().all(u8::is_ascii_alphanumeric) && !printable(&b[4..]) => {
            format!(
                "{}{}",
                String::from_utf8_lossy(&b[..4]),
                hex(&b[4..], "", true)
            )
        }
        6 if !printable(b) => hex(b, ":", false),
        _ if printable(b) => String::from_utf8_lossy(b).into_owned(),
        _ => {
            return value
                .as_text()
                .filter(|t| !t.contains('\u{fffd}'))
                .or_else(|| Some(hex(b, "", true)))
        }
    };
    Some(text)
}

fn centi(dbm: f64) -> Option<i32> {
    let c = (dbm * 100.0).round();
    (c.abs() < 1e6).then_some(c as i32)
}

impl OntTable {
    /// The ONT's PON port slot and port, when the index gives them.
    pub(super) fn position(&self, index: &str) -> Option<crate::interfaces::PonPosition> {
        match (self.index, self.port_number) {
            (IndexKind::Dotted, _) => {
                let n: Vec<&str> = index.split('.').collect();
                let at = |p: Option<usize>| n.get(p? - 1)?.parse::<u32>().ok();
                Some(crate::interfaces::PonPosition {
                    slot: at(self.slot_at).or(self.slot)?,
                    port: at(self.port_at)?,
                })
            }
            (IndexKind::Bits, _) => {
                let (n, b) = (index.parse::<u64>().ok()?, self.bits?);
                Some(crate::interfaces::PonPosition {
                    slot: b.slot.of(n)?,
                    port: b.port.of(n)?,
                })
            }
            (IndexKind::PortOnt | IndexKind::Packed, Some(bits)) => {
                let (port, _) = self.decode(index);
                let port = u64::from(port?);
                Some(crate::interfaces::PonPosition {
                    slot: bits.slot.of(port)?,
                    port: bits.port.of(port)?,
                })
            }
            _ => None,
        }
    }

    /// The part of a row's index that names the ONT: a column may carry
    /// more after it (ZTE's levels, `port.ont.1`), the same ONT still.
    pub(super) fn key<'a>(&self, index: &'a str) -> &'a str {
        let keep = match self.index {
            IndexKind::PortOnt => 2,
            IndexKind::Dotted => [self.slot_at, self.port_at, self.ont_at]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(1),
            IndexKind::Packed | IndexKind::Bits | IndexKind::Interface | IndexKind::Opaque => {
                return index
            }
        };
        match index.match_indices('.').nth(keep - 1) {
            Some((end, _)) => index.get(..end).unwrap_or(index),
            None => index,
        }
    }

    pub(super) fn decode(&self, index: &str) -> (Option<u32>, Option<u32>) {
        match self.index {
            IndexKind::Dotted => {
                let n: Vec<&str> = index.split('.').collect();
                let ont = self
                    .ont_at
                    .and_then(|p| n.get(p.checked_sub(1)?))
                    .and_then(|x| x.parse().ok());
                (None, ont)
            }
            IndexKind::PortOnt => match index.split_once('.') {
                Some((p, o)) if !o.contains('.') => (p.parse().ok(), o.parse().ok()),
                _ => (None, None),
            },
            IndexKind::Packed => {
                let bits = self.ont_bits.unwrap_or(8);
                match index.parse::<u64>() {
                    Ok(v) => (
                        u32::try_from(v >> bits).ok(),
                        u32::try_from(v & ((1u64 << bits) - 1)).ok(),
                    ),
                    Err(_) => (None, None),
                }
            }
            IndexKind::Bits => {
                let ont = index
                    .parse::<u64>()
                    .ok()
                    .zip(self.bits)
                    .and_then(|(n, b)| b.ont.of(n));
                (None, ont)
            }
            IndexKind::Interface | IndexKind::Opaque => (None, None),
        }
    }

    /// Reads the table from `snmp`, one walk per column the profile names.
    pub async fn read(&self, snmp: &dyn Snmp) -> Result<Vec<OntOptics>, Error> {
        let mut by_index: BTreeMap<String, OntOptics> = BTreeMap::new();
        // Columns in a fixed order, each walked once.
        type Apply = fn(&OntTable, &mut OntOptics, &Value);
        let columns: [(Option<&Oid>, Apply); 8] = [
            (self.port.as_ref(), |t, o, v| {
                o.pon = v
                    .as_i64()
                    .and_then(|p| u32::try_from(p).ok())
                    .filter(|p| *p > 0)
                    .zip(t.slot)
                    .map(|(port, slot)| crate::interfaces::PonPosition { slot, port });
            }),
            (self.serial.as_ref(), |_, o, v| o.serial = identity(v)),
            (self.name.as_ref(), |_, o, v| o.name = v.as_text()),
            (self.state.as_ref().map(|s| &s.oid), |t, o, v| {
                o.online = v
                    .as_i64()
                    .zip(t.state.as_ref())
                    .map(|(x, s)| s.online.contains(&x));
            }),
            (self.rx_at_ont.as_ref().map(|m| &m.oid), |t, o, v| {
                o.rx_ont_cdbm = t.rx_at_ont.as_ref().and_then(|m| m.read(v)).and_then(centi);
            }),
            (self.tx_at_ont.as_ref().map(|m| &m.oid), |t, o, v| {
                o.tx_ont_cdbm = t.tx_at_ont.as_ref().and_then(|m| m.read(v)).and_then(centi);
            }),
            (self.rx_at_olt.as_ref().map(|m| &m.oid), |t, o, v| {
                o.rx_olt_cdbm = t.rx_at_olt.as_ref().and_then(|m| m.read(v)).and_then(centi);
            }),
            (self.distance.as_ref().map(|m| &m.oid), |t, o, v| {
                o.distance_m = t
                    .distance
                    .as_ref()
                    .and_then(|m| m.read(v))
                    .filter(|d| *d >= 0.0 && *d < 1e7)
                    .map(|d| d.round() as u32);
            }),
        ];
        let mut rows: Vec<(String, Apply, Value)> = Vec::new();
        for (column, apply) in columns {
            let Some(column) = column else { continue };
            for (oid, value) in snmp.walk(column.as_str()).await? {
                let Some(index) = column.index_in(&oid) else {
                    continue;
                };
                let admitted = match (self.index, self.bits) {
                    (IndexKind::Bits, Some(b)) => index.parse::<u64>().is_ok_and(|n| b.admits(n)),
                    _ => true,
                };
                if admitted {
                    rows.push((self.key(index).to_owned(), apply, value));
                }
            }
        }
        for (index, apply, value) in rows {
            let (port, ont) = self.decode(&index);
            let pon = self.position(&index);
            let o = by_index.entry(index.clone()).or_insert_with(|| OntOptics {
                index,
                serial: None,
                name: None,
                port_if_index: port,
                ont_id: ont,
                pon,
                online: None,
                rx_ont_cdbm: None,
                tx_ont_cdbm: None,
                rx_olt_cdbm: None,
                distance_m: None,
            });
            apply(self, o, &value);
        }
        if self.index == IndexKind::Interface {
            self.place_by_interface(snmp, &mut by_index).await?;
        }
        Ok(by_index.into_values().collect())
    }

    /// Places each row by its interface's name (`ont_name`); a row whose
    /// interface does not match is no ONT's.
    async fn place_by_interface(
        &self,
        snmp: &dyn Snmp,
        rows: &mut BTreeMap<String, OntOptics>,
    ) -> Result<(), Error> {
        const IF_NAME: &str = "1.3.6.1.2.1.31.1.1.1.1";
        let Some(pattern) = &self.ont_name else {
            return Ok(());
        };
        let names: BTreeMap<String, String> = snmp
            .walk(IF_NAME)
            .await?
            .into_iter()
            .filter_map(|(oid, v)| {
                let index = oid
                    .trim_start_matches('.')
                    .strip_prefix(IF_NAME)?
                    .strip_prefix('.')?;
                Some((index.to_owned(), v.as_text()?))
            })
            .collect();
        rows.retain(|index, ont| {
            let Some(c) = names.get(index).and_then(|n| pattern.0.captures(n.trim())) else {
                return false;
            };
            let number = |g: &str| c.name(g).and_then(|m| m.as_str().parse::<u32>().ok());
            let (Some(port), Some(id)) = (number("port"), number("ont")) else {
                return false;
            };
            let Some(slot) = number("slot").or(self.slot) else {
                return false;
            };
            ont.pon = Some(crate::interfaces::PonPosition { slot, port });
            ont.ont_id = Some(id);
            true
        });
        Ok(())
    }
}

impl Profile {
    /// The ONTs and PON port transceivers of a device this profile
    /// matches.
    pub async fn read(&self, snmp: &dyn Snmp) -> Result<(Vec<OntOptics>, Vec<PortOptics>), Error> {
        let mut onts = Vec::new();
        for table in &self.onts {
            onts = table.read(snmp).await?;
            if !onts.is_empty() {
                break;
            }
        }
        let mut ports = Vec::new();
        if let Some(m) = &self.port_tx {
            for (oid, v) in snmp.walk(m.oid.as_str()).await? {
                let if_index = m.oid.index_in(&oid).and_then(|i| i.parse().ok());
                if let (Some(if_index), Some(tx)) = (if_index, m.read(&v).and_then(centi)) {
                    ports.push(PortOptics {
                        if_index,
                        tx_cdbm: tx,
                    });
                }
            }
        }
        Ok((onts, ports))
    }
}
