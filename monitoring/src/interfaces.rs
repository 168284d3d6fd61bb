//! IF-MIB: the interfaces of a device (ifTable and ifXTable), read by
//! walking each needed column.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::snmp::{Snmp, Value};
use crate::Error;

const IF_DESCR: &str = "1.3.6.1.2.1.2.2.1.2";
const IF_TYPE: &str = "1.3.6.1.2.1.2.2.1.3";
const IF_SPEED: &str = "1.3.6.1.2.1.2.2.1.5";
const IF_ADMIN: &str = "1.3.6.1.2.1.2.2.1.7";
const IF_OPER: &str = "1.3.6.1.2.1.2.2.1.8";
const IF_IN_OCTETS: &str = "1.3.6.1.2.1.2.2.1.10";
const IF_IN_ERRORS: &str = "1.3.6.1.2.1.2.2.1.14";
const IF_OUT_OCTETS: &str = "1.3.6.1.2.1.2.2.1.16";
const IF_OUT_ERRORS: &str = "1.3.6.1.2.1.2.2.1.20";
const IF_NAME: &str = "1.3.6.1.2.1.31.1.1.1.1";
const IF_HC_IN_OCTETS: &str = "1.3.6.1.2.1.31.1.1.1.6";
const IF_HC_OUT_OCTETS: &str = "1.3.6.1.2.1.31.1.1.1.10";
const IF_HIGH_SPEED: &str = "1.3.6.1.2.1.31.1.1.1.15";
const IF_ALIAS: &str = "1.3.6.1.2.1.31.1.1.1.18";

/// The administrative or operational state of an interface (IF-MIB names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Up,
    Down,
    Testing,
    Unknown,
    Dormant,
    NotPresent,
    LowerLayerDown,
}

impl Status {
    fn of(v: i64) -> Option<Self> {
        Some(match v {
            1 => Status::Up,
            2 => Status::Down,
            3 => Status::Testing,
            4 => Status::Unknown,
            5 => Status::Dormant,
            6 => Status::NotPresent,
            7 => Status::LowerLayerDown,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
            Status::Testing => "testing",
            Status::Unknown => "unknown",
            Status::Dormant => "dormant",
            Status::NotPresent => "notPresent",
            Status::LowerLayerDown => "lowerLayerDown",
        }
    }
}

/// An octet counter as read, with its width: a 32-bit counter wraps at
/// 2³², which the rate computation must know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Counter {
    C32(u32),
    C64(u64),
}

impl Counter {
    pub fn value(self) -> u64 {
        match self {
            Counter::C32(v) => u64::from(v),
            Counter::C64(v) => v,
        }
    }
}

/// Where a PON port sits in the inventory: its slot and port on the OLT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PonPosition {
    pub slot: u32,
    pub port: u32,
}

impl PonPosition {
    /// The usual PON port names, for a device whose profile does not name
    /// its own: `GPON 0/1/3`, `gpon_1/1/2`, `pon0/0/1`, `EPON0/2`, `0/1/3`
    /// (frame/slot/port, the last two taken), `1/3` (slot/port), `pon3`
    /// (slot 0, port 3). Anything else is no PON port.
    pub fn guess(if_name: &str) -> Option<Self> {
        let name = if_name.trim();
        let tail = name.rsplit([' ', '-', '_']).next().unwrap_or(name);
        // A letter prefix (pon, gpon, epon, xgspon) before the numbers.
        let digits = tail.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let lettered = digits.len() != tail.len();
        if lettered
            && !tail
                .strip_suffix(digits)
                .unwrap_or(tail)
                .to_ascii_lowercase()
                .ends_with("pon")
        {
            return None;
        }
        let parts: Vec<&str> = digits.split('/').collect();
        let numbers: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
        if numbers.len() != parts.len() || numbers.is_empty() || numbers.len() > 3 {
            return None;
        }
        match numbers.as_slice() {
            [port] if lettered => Some(Self {
                slot: 0,
                port: *port,
            }),
            [.., slot, port] => Some(Self {
                slot: *slot,
                port: *port,
            }),
            _ => None,
        }
    }
}

/// One interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interface {
    pub index: u32,
    pub name: String,
    pub descr: String,
    pub alias: String,
    /// IANAifType number.
    pub if_type: u32,
    pub admin: Option<Status>,
    pub oper: Option<Status>,
    /// Bits per second: ifHighSpeed × 10⁶ when the 32-bit ifSpeed is
    /// saturated or absent, else ifSpeed.
    pub speed_bps: Option<u64>,
    /// ifHCInOctets when the device has it, else ifInOctets.
    pub in_octets: Option<Counter>,
    pub out_octets: Option<Counter>,
    pub in_errors: Option<u64>,
    pub out_errors: Option<u64>,
    /// Where it sits in the inventory, when it is a PON port: as the
    /// device's profile names its PON ports, or the usual names.
    pub pon: Option<PonPosition>,
}

/// The IANAifType name of a type number (the number itself when the
/// registry has none).
pub fn type_name(t: u32) -> String {
    crate::if_types::IF_TYPES
        .binary_search_by_key(&t, |(n, _)| *n)
        .map_or_else(
            |_| t.to_string(),
            |i| crate::if_types::IF_TYPES[i].1.to_owned(),
        )
}

/// The column's values by interface index.
fn by_index(rows: Vec<(String, Value)>, column: &str) -> BTreeMap<u32, Value> {
    let prefix = format!("{column}.");
    rows.into_iter()
        .filter_map(|(oid, v)| {
            let oid = oid.trim_start_matches('.');
            let index = oid.strip_prefix(&prefix)?.parse().ok()?;
            Some((index, v))
        })
        .collect()
}

/// Reads the interfaces of a device: IF-MIB, plus the port table its
/// vendor profile names for ports kept outside IF-MIB.
pub async fn poll(
    snmp: &dyn Snmp,
    profile: Option<&crate::profiles::Profile>,
) -> Result<Vec<Interface>, Error> {
    let mut all = poll_if_mib(snmp).await?;
    if let Some(table) = profile.and_then(|p| p.ports.as_ref()) {
        all.extend(poll_port_table(snmp, table).await?);
    }
    let names = profile.and_then(|p| p.pon_ports.as_ref());
    for i in &mut all {
        i.pon = match names {
            Some(n) => n.position(&i.name, i.index),
            None => PonPosition::guess(&i.name),
        };
    }
    Ok(all)
}

async fn poll_port_table(
    snmp: &dyn Snmp,
    table: &crate::profiles::PortTable,
) -> Result<Vec<Interface>, Error> {
    let mut columns = vec![table.name.as_str(), table.oper.oid.as_str()];
    columns.extend(table.in_octets.as_ref().map(|o| o.as_str()));
    columns.extend(table.out_octets.as_ref().map(|o| o.as_str()));
    let mut walked: BTreeMap<&str, BTreeMap<u32, Value>> = BTreeMap::new();
    for (column, rows) in columns.iter().zip(snmp.walk_columns(&columns).await?) {
        walked.insert(column, by_index(rows, column));
    }
    let empty = BTreeMap::new();
    let col =
        |o: Option<&crate::profiles::Oid>| o.and_then(|o| walked.get(o.as_str())).unwrap_or(&empty);
    let (names, states) = (col(Some(&table.name)), col(Some(&table.oper.oid)));
    let (ins, outs) = (
        col(table.in_octets.as_ref()),
        col(table.out_octets.as_ref()),
    );
    Ok(names
        .iter()
        .filter_map(|(i, name)| {
            let name = name.as_text().unwrap_or_default();
            let c64 = |m: &BTreeMap<u32, Value>| m.get(i).and_then(Value::as_u64).map(Counter::C64);
            Some(Interface {
                index: table.index_base.checked_add(*i)?,
                descr: name.clone(),
                alias: name.clone(),
                name,
                if_type: 0,
                admin: None,
                oper: states.get(i).and_then(Value::as_i64).map(|s| {
                    if table.oper.online.contains(&s) {
                        Status::Up
                    } else {
                        Status::Down
                    }
                }),
                speed_bps: None,
                in_octets: c64(ins),
                out_octets: c64(outs),
                in_errors: None,
                out_errors: None,
                pon: None,
            })
        })
        .collect())
}

async fn poll_if_mib(snmp: &dyn Snmp) -> Result<Vec<Interface>, Error> {
    const COLUMNS: [&str; 14] = [
        IF_DESCR,
        IF_TYPE,
        IF_SPEED,
        IF_ADMIN,
        IF_OPER,
        IF_IN_OCTETS,
        IF_IN_ERRORS,
        IF_OUT_OCTETS,
        IF_OUT_ERRORS,
        IF_NAME,
        IF_HC_IN_OCTETS,
        IF_HC_OUT_OCTETS,
        IF_HIGH_SPEED,
        IF_ALIAS,
    ];
    let cols: BTreeMap<&str, BTreeMap<u32, Value>> = COLUMNS
        .iter()
        .zip(snmp.walk_columns(&COLUMNS).await?)
        .map(|(column, rows)| (*column, by_index(rows, column)))
        .collect();
    let empty = BTreeMap::new();
    let col = |c: &str| cols.get(c).unwrap_or(&empty);
    let mut indexes: Vec<u32> = col(IF_DESCR)
        .keys()
        .chain(col(IF_NAME).keys())
        .copied()
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    let text = |c: &str, i: u32| col(c).get(&i).and_then(Value::as_text).unwrap_or_default();
    let num = |c: &str, i: u32| col(c).get(&i).and_then(Value::as_u64);
    let counter = |hc: &str, c32: &str, i: u32| match (col(hc).get(&i), col(c32).get(&i)) {
        (Some(Value::Counter64(v)), _) => Some(Counter::C64(*v)),
        (_, Some(Value::Counter32(v))) => Some(Counter::C32(*v)),
        (_, Some(v)) => v.as_u64().map(Counter::C64),
        _ => None,
    };
    Ok(indexes
        .into_iter()
        .map(|i| {
            let speed = num(IF_SPEED, i);
            let high = num(IF_HIGH_SPEED, i);
            // ifHighSpeed (whole Mbit/s) when the device gives it, as NMSs
            // show a port's speed; ifSpeed below a megabit or without it.
            let speed_bps = match (speed, high) {
                (_, Some(h)) if h > 0 => Some(h * 1_000_000),
                (Some(s), _) => Some(s),
                (None, Some(h)) => Some(h * 1_000_000),
                (None, None) => None,
            };
            // Devices without ifXTable (or with an empty ifName) are known
            // by their ifDescr, as every NMS shows them.
            let name = Some(text(IF_NAME, i))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| text(IF_DESCR, i));
            Interface {
                index: i,
                name,
                descr: text(IF_DESCR, i),
                alias: text(IF_ALIAS, i),
                if_type: num(IF_TYPE, i)
                    .and_then(|t| u32::try_from(t).ok())
                    .unwrap_or(0),
                admin: col(IF_ADMIN)
                    .get(&i)
                    .and_then(Value::as_i64)
                    .and_then(Status::of),
                oper: col(IF_OPER)
                    .get(&i)
                    .and_then(Value::as_i64)
                    .and_then(Status::of),
                speed_bps,
                in_octets: counter(IF_HC_IN_OCTETS, IF_IN_OCTETS, i),
                out_octets: counter(IF_HC_OUT_OCTETS, IF_OUT_OCTETS, i),
                in_errors: num(IF_IN_ERRORS, i),
                out_errors: num(IF_OUT_ERRORS, i),
                pon: None,
            }
        })
        .collect())
}
