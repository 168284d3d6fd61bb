//! Vendor profiles: what an OLT's MIB holds about its ONTs, as data.
//!
//! A profile is a TOML file: the devices it matches (sysObjectID
//! prefixes, words of sysDescr), the ONT table (how its index decodes, the
//! columns of serial, name, state, optical levels and distance, and how
//! each raw value converts to dBm or metres) and the PON ports'
//! transceivers. The profiles shipped are in `monitoring/profiles/`
//! (compiled in); a régie adds or overrides one by putting a file in the
//! directory its configuration names (`snmp_profiles_dir`), read at start:
//! no vendor name appears in the poller's code.
//!
//! Every profile is parsed whole before use ([`Profile::parse`]): an OID
//! that is not dotted digits, a scale of zero, a state list left empty or
//! an unknown key is refused with the file and the key named, in French.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::snmp::{Snmp, Value};
use crate::Error;

/// An OBJECT IDENTIFIER in dotted form, without a leading dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Oid(String);

impl Oid {
    /// Dotted decimal sub-identifiers (a leading dot is dropped); at most
    /// 128 of them, each within 32 bits.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().trim_start_matches('.');
        let parts: Vec<&str> = t.split('.').collect();
        let fine = !t.is_empty()
            && parts.len() <= 128
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.parse::<u32>().is_ok());
        if fine {
            Ok(Self(t.to_owned()))
        } else {
            Err(format!(
                "« {s} » n'est pas un OID (des nombres séparés par des points)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The index below this column in `oid` (`None` when `oid` is not
    /// below it).
    pub fn index_in<'a>(&self, oid: &'a str) -> Option<&'a str> {
        oid.trim_start_matches('.')
            .strip_prefix(self.0.as_str())?
            .strip_prefix('.')
    }
}

impl std::fmt::Display for Oid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Oid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Oid::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// How an ONT table's index decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexKind {
    /// Two sub-identifiers: the PON port's ifIndex, then the ONT id.
    PortOnt,
    /// A single integer packing the PON port's ifIndex and the ONT id:
    /// the ONT id in its low `ont_bits` bits (given beside).
    Packed,
    /// Dotted numbers of which the profile names the positions (1 for the
    /// first) of the slot, the port and the ONT id (`slot_at`, `port_at`,
    /// `ont_at`): C-Data's `device.card.port.onu`.
    Dotted,
    /// Anything else (a serial as a length-prefixed string, a single
    /// number): kept as it is, no port or ONT id read from it.
    Opaque,
}

/// A column read as a number and converted: `raw × scale + offset`, in
/// the unit the field names; raw values in `no_signal` mean "no reading".
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    pub oid: Oid,
    #[serde(default = "one")]
    pub scale: f64,
    #[serde(default)]
    pub offset: f64,
    /// The value is in milliwatts after scaling: converted to dBm.
    #[serde(default)]
    pub milliwatts: bool,
    #[serde(default)]
    pub no_signal: Vec<i64>,
}

fn one() -> f64 {
    1.0
}

/// The number a text value starts with, its unit after it ignored:
/// `-19.55`, `-19.55(dBm)`, `-19,55 dBm`, `1234m`.
fn leading_number(text: &str) -> Option<f64> {
    let number: String = text
        .trim()
        .chars()
        .enumerate()
        .take_while(|(i, c)| {
            c.is_ascii_digit() || *c == '.' || *c == ',' || (*i == 0 && (*c == '-' || *c == '+'))
        })
        .map(|(_, c)| if c == ',' { '.' } else { c })
        .collect();
    number.parse().ok()
}

impl Measure {
    /// The reading of `value`, `None` for a sentinel or a value that is no
    /// number (integer, or text such as `-21.50`).
    pub fn read(&self, value: &Value) -> Option<f64> {
        let raw = match value.as_i64() {
            Some(i) => {
                if self.no_signal.contains(&i) {
                    return None;
                }
                i as f64
            }
            None => leading_number(&value.as_text()?)?,
        };
        let v = raw * self.scale + self.offset;
        let v = if self.milliwatts {
            if v <= 0.0 {
                return None;
            }
            10.0 * v.log10()
        } else {
            v
        };
        v.is_finite().then_some(v)
    }

    fn check(&self, what: &str) -> Result<(), String> {
        if self.scale == 0.0 || !self.scale.is_finite() || !self.offset.is_finite() {
            return Err(format!(
                "{what} : « scale » non nul et « offset » fini attendus"
            ));
        }
        Ok(())
    }
}

/// The ONT's state column and the values meaning "online".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub oid: Oid,
    pub online: Vec<i64>,
}

/// The ONT table of an OLT.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OntTable {
    pub index: IndexKind,
    /// With `index = "packed"`: how many low bits hold the ONT id.
    #[serde(default)]
    pub ont_bits: Option<u32>,
    /// With `index = "dotted"`: the positions (from 1) of the slot, the
    /// port and the ONT id among the index's numbers.
    #[serde(default)]
    pub slot_at: Option<usize>,
    #[serde(default)]
    pub port_at: Option<usize>,
    #[serde(default)]
    pub ont_at: Option<usize>,
    #[serde(default)]
    pub serial: Option<Oid>,
    #[serde(default)]
    pub name: Option<Oid>,
    #[serde(default)]
    pub state: Option<State>,
    /// Optical power received by the ONT (downstream), dBm.
    #[serde(default)]
    pub rx_at_ont: Option<Measure>,
    /// Optical power transmitted by the ONT, dBm.
    #[serde(default)]
    pub tx_at_ont: Option<Measure>,
    /// Optical power the OLT receives from this ONT (upstream), dBm.
    #[serde(default)]
    pub rx_at_olt: Option<Measure>,
    /// The ONT's distance from the OLT, metres.
    #[serde(default)]
    pub distance: Option<Measure>,
}

/// A port table kept outside IF-MIB (the UFiber's PON and uplink ports):
/// each row becomes an interface numbered `index_base` + its index.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortTable {
    pub index_base: u32,
    pub name: Oid,
    /// The operational state column and the values meaning "up" (any
    /// other value is "down").
    pub oper: State,
    #[serde(default)]
    pub in_octets: Option<Oid>,
    #[serde(default)]
    pub out_octets: Option<Oid>,
}

/// How a PON port's interface name gives the inventory's slot and port:
/// a regular expression with a `port` group and, unless `slot` is given,
/// a `slot` group (`^GPON (?P<frame>\d+)/(?P<slot>\d+)/(?P<port>\d+)$`).
/// An interface the pattern does not match is no PON port.
#[derive(Debug, Clone)]
pub struct PonNames {
    pattern: regex::Regex,
    slot: Option<u32>,
}

impl PartialEq for PonNames {
    fn eq(&self, other: &Self) -> bool {
        self.pattern.as_str() == other.pattern.as_str() && self.slot == other.slot
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PonNamesText {
    name: String,
    #[serde(default)]
    slot: Option<u32>,
}

impl<'de> Deserialize<'de> for PonNames {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = PonNamesText::deserialize(d)?;
        PonNames::parse(&t.name, t.slot).map_err(serde::de::Error::custom)
    }
}

impl PonNames {
    /// A pattern and, when it has no `slot` group, the slot of every port.
    pub fn parse(pattern: &str, slot: Option<u32>) -> Result<Self, String> {
        if pattern.len() > 1000 {
            return Err("[pon_ports] : « name » dépasse 1 000 caractères".into());
        }
        let pattern = regex::Regex::new(pattern).map_err(|e| {
            format!("[pon_ports] : « name » n'est pas une expression régulière ({e})")
        })?;
        let names: Vec<&str> = pattern.capture_names().flatten().collect();
        if !names.contains(&"port") {
            return Err("[pon_ports] : « name » doit avoir un groupe (?P<port>…)".into());
        }
        if !names.contains(&"slot") && slot.is_none() {
            return Err("[pon_ports] : un groupe (?P<slot>…) ou « slot » est attendu".into());
        }
        Ok(Self { pattern, slot })
    }

    /// The inventory's slot and port of an interface, when it is a PON
    /// port.
    pub fn position(&self, if_name: &str) -> Option<crate::interfaces::PonPosition> {
        let c = self.pattern.captures(if_name.trim())?;
        let number = |g: &str| c.name(g).and_then(|m| m.as_str().parse::<u32>().ok());
        Some(crate::interfaces::PonPosition {
            slot: number("slot").or(self.slot)?,
            port: number("port")?,
        })
    }
}

/// Which devices a profile is for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matches {
    /// sysObjectID prefixes (dotted, compared on whole sub-identifiers).
    pub sys_object_id: Vec<Oid>,
    /// Words one of which sysDescr must contain (any case); none: any.
    #[serde(default)]
    pub sys_descr: Vec<String>,
}

/// A vendor profile.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    /// Where the OIDs and units come from (MIB, recording).
    pub source: String,
    #[serde(rename = "match")]
    pub matches: Matches,
    #[serde(default)]
    pub onts: Option<OntTable>,
    /// How its PON ports are named (none: the usual names are read, see
    /// [`crate::interfaces::PonPosition::guess`]).
    #[serde(default)]
    pub pon_ports: Option<PonNames>,
    /// Ports outside IF-MIB.
    #[serde(default)]
    pub ports: Option<PortTable>,
    /// The PON ports' transceivers: transmitted power by ifIndex, dBm.
    #[serde(default)]
    pub port_tx: Option<Measure>,
}

impl Profile {
    /// A profile from its TOML text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, Error> {
        let p: Profile = toml::from_str(text)
            .map_err(|e| Error::Invalid(format!("profil {file} : {}", e.message())))?;
        p.check()
            .map_err(|e| Error::Invalid(format!("profil {file} : {e}")))?;
        Ok(p)
    }

    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("« name » vide".into());
        }
        if self.matches.sys_object_id.is_empty() {
            return Err("[match] : au moins un préfixe « sys_object_id »".into());
        }
        if let Some(t) = &self.onts {
            match (t.index, t.ont_bits) {
                (IndexKind::Packed, Some(1..=31)) => {}
                (IndexKind::Packed, _) => {
                    return Err("[onts] : index « packed » demande « ont_bits » de 1 à 31".into())
                }
                (_, Some(_)) => return Err("[onts] : « ont_bits » va avec index « packed »".into()),
                _ => {}
            }
            let at = [t.slot_at, t.port_at, t.ont_at];
            match t.index {
                IndexKind::Dotted if at.iter().all(|a| a.is_some_and(|n| (1..=16).contains(&n))) => {}
                IndexKind::Dotted => {
                    return Err("[onts] : index « dotted » demande « slot_at », « port_at » et « ont_at » (de 1 à 16)".into())
                }
                _ if at.iter().any(Option::is_some) => {
                    return Err("[onts] : « slot_at », « port_at », « ont_at » vont avec index « dotted »".into())
                }
                _ => {}
            }
            if t.state.as_ref().is_some_and(|s| s.online.is_empty()) {
                return Err("[onts.state] : « online » ne peut être vide".into());
            }
            for (what, m) in [
                ("[onts.rx_at_ont]", &t.rx_at_ont),
                ("[onts.tx_at_ont]", &t.tx_at_ont),
                ("[onts.rx_at_olt]", &t.rx_at_olt),
                ("[onts.distance]", &t.distance),
            ] {
                if let Some(m) = m {
                    m.check(what)?;
                }
            }
        }
        if let Some(m) = &self.port_tx {
            m.check("[port_tx]")?;
        }
        if self
            .ports
            .as_ref()
            .is_some_and(|p| p.oper.online.is_empty())
        {
            return Err("[ports.oper] : « online » ne peut être vide".into());
        }
        Ok(())
    }

    /// Whether this profile is for a device answering `object_id` and
    /// `descr`.
    pub fn matches(&self, object_id: &str, descr: &str) -> bool {
        let id = object_id.trim_start_matches('.');
        let prefix = self.matches.sys_object_id.iter().any(|p| {
            id == p.as_str()
                || id
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        let descr = descr.to_lowercase();
        prefix
            && (self.matches.sys_descr.is_empty()
                || self
                    .matches
                    .sys_descr
                    .iter()
                    .any(|w| descr.contains(&w.to_lowercase())))
    }
}

/// The profiles shipped with Régie (file name, text).
const SHIPPED: &[(&str, &str)] = &[
    (
        "bdcom-gpon.toml",
        include_str!("../profiles/bdcom-gpon.toml"),
    ),
    (
        "cdata-gpon.toml",
        include_str!("../profiles/cdata-gpon.toml"),
    ),
    (
        "ubiquoss-gpon.toml",
        include_str!("../profiles/ubiquoss-gpon.toml"),
    ),
    (
        "fiberhome-gpon.toml",
        include_str!("../profiles/fiberhome-gpon.toml"),
    ),
    (
        "huawei-gpon.toml",
        include_str!("../profiles/huawei-gpon.toml"),
    ),
    (
        "ubiquiti-ufiber.toml",
        include_str!("../profiles/ubiquiti-ufiber.toml"),
    ),
];

/// The profiles in use: a régie's own first (they override), then those
/// shipped.
#[derive(Debug, Clone, Default)]
pub struct Profiles(Vec<Profile>);

impl Profiles {
    /// The shipped profiles.
    pub fn shipped() -> Result<Self, Error> {
        SHIPPED
            .iter()
            .map(|(file, text)| Profile::parse(file, text))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// The `*.toml` profiles of `dir` (at most 1,000 files of 1 MiB each),
    /// then the shipped ones.
    pub fn with_dir(dir: &Path) -> Result<Self, Error> {
        let unreadable =
            |e: std::io::Error| Error::Invalid(format!("profils {} : {e}", dir.display()));
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(unreadable)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        if files.len() > 1000 {
            return Err(Error::Invalid(format!(
                "profils {} : plus de 1 000 fichiers",
                dir.display()
            )));
        }
        let mut own = Vec::new();
        for f in files {
            let name = f.display().to_string();
            if std::fs::metadata(&f).map_err(unreadable)?.len() > 1 << 20 {
                return Err(Error::Invalid(format!("profil {name} : plus de 1 Mio")));
            }
            let text = std::fs::read_to_string(&f).map_err(unreadable)?;
            own.push(Profile::parse(&name, &text)?);
        }
        own.extend(Self::shipped()?.0);
        Ok(Self(own))
    }

    /// The first profile for a device answering `object_id` and `descr`.
    pub fn find(&self, object_id: &str, descr: &str) -> Option<&Profile> {
        self.0.iter().find(|p| p.matches(object_id, descr))
    }

    pub fn all(&self) -> &[Profile] {
        &self.0
    }

    /// The profile of the device behind `snmp`, asked its sysObjectID and
    /// sysDescr.
    pub async fn of_device(&self, snmp: &dyn Snmp) -> Result<Option<&Profile>, Error> {
        let system = snmp.get(&[SYS_OBJECT_ID, SYS_DESCR]).await?;
        let text = |i: usize| system.get(i).and_then(Value::as_text).unwrap_or_default();
        Ok(self.find(&text(0), &text(1)))
    }
}

const SYS_OBJECT_ID: &str = "1.3.6.1.2.1.1.2.0";
const SYS_DESCR: &str = "1.3.6.1.2.1.1.1.0";

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

fn centi(dbm: f64) -> Option<i32> {
    let c = (dbm * 100.0).round();
    (c.abs() < 1e6).then_some(c as i32)
}

impl OntTable {
    /// The ONT's PON port slot and port, when the index gives them.
    fn position(&self, index: &str) -> Option<crate::interfaces::PonPosition> {
        if self.index != IndexKind::Dotted {
            return None;
        }
        let n: Vec<&str> = index.split('.').collect();
        let at = |p: Option<usize>| n.get(p? - 1)?.parse::<u32>().ok();
        Some(crate::interfaces::PonPosition {
            slot: at(self.slot_at)?,
            port: at(self.port_at)?,
        })
    }

    fn decode(&self, index: &str) -> (Option<u32>, Option<u32>) {
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
            IndexKind::Opaque => (None, None),
        }
    }

    /// Reads the table from `snmp`, one walk per column the profile names.
    pub async fn read(&self, snmp: &dyn Snmp) -> Result<Vec<OntOptics>, Error> {
        let mut by_index: BTreeMap<String, OntOptics> = BTreeMap::new();
        // Columns in a fixed order, each walked once.
        type Apply = fn(&OntTable, &mut OntOptics, &Value);
        let columns: [(Option<&Oid>, Apply); 7] = [
            (self.serial.as_ref(), |_, o, v| o.serial = v.as_text()),
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
                if let Some(index) = column.index_in(&oid) {
                    rows.push((index.to_owned(), apply, value));
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
        Ok(by_index.into_values().collect())
    }
}

impl Profile {
    /// The ONTs and PON port transceivers of a device this profile
    /// matches.
    pub async fn read(&self, snmp: &dyn Snmp) -> Result<(Vec<OntOptics>, Vec<PortOptics>), Error> {
        let onts = match &self.onts {
            Some(t) => t.read(snmp).await?,
            None => Vec::new(),
        };
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

#[cfg(test)]
#[path = "profiles_tests.rs"]
mod tests;
