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
    /// Whether `oid` is this OID or below it (whole sub-identifiers).
    pub fn covers(&self, oid: &str) -> bool {
        let oid = oid.trim_start_matches('.');
        oid == self.0
            || oid
                .strip_prefix(self.0.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    }

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
    /// A single number holding the slot, port and ONT id as bit fields
    /// (`[onts.bits]`): Nokia's ONT ifIndex.
    Bits,
    /// The ONT's own IF-MIB ifIndex, whose interface name gives the slot,
    /// port and ONT id (`ont_name`: BDCOM's `GPON0/2:1`).
    Interface,
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
    /// For a text holding more than one number (V-SOL's `0.03 mW (-14.61
    /// dBm)`): a regular expression whose group `v` is the number to read.
    #[serde(default)]
    pub pattern: Option<TextPattern>,
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
            None => {
                let text = value.as_text()?;
                match &self.pattern {
                    Some(TextPattern(re)) => {
                        leading_number(re.captures(&text)?.name("v")?.as_str())?
                    }
                    None => leading_number(&text)?,
                }
            }
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
    /// With `index = "dotted"` and no slot in the index, or with a
    /// `port` column: the slot of every port.
    #[serde(default)]
    pub slot: Option<u32>,
    /// A column giving the ONT's PON port number, where the index does
    /// not (the UFiber's ubntOnuPort); 0 there means not known (the
    /// UFiber's answer for an ONT offline).
    #[serde(default)]
    pub port: Option<Oid>,
    /// With `index = "port_ont"` or `"packed"`: the slot and port as bit
    /// fields of the port's number (ZTE's 0x1001_0100 for slot 1, port
    /// 1), when that number is no IF-MIB ifIndex.
    #[serde(default)]
    pub port_number: Option<PortNumber>,
    /// With `index = "bits"`: the slot, port and ONT id in the index, and
    /// which numbers are ONTs at all.
    #[serde(default)]
    pub bits: Option<IndexBits>,
    /// With `index = "interface"`: a regular expression on the ONT's
    /// interface name with groups `port`, `ont` and `slot` (or a fixed
    /// `slot`); rows whose interface it does not match are no ONT's.
    #[serde(default)]
    pub ont_name: Option<OntName>,
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

/// Which devices a profile is for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matches {
    /// sysObjectID prefixes (dotted, compared on whole sub-identifiers).
    pub sys_object_id: Vec<Oid>,
    /// Words one of which sysDescr must contain (any case); none: any.
    #[serde(default)]
    pub sys_descr: Vec<String>,
    /// sysObjectID prefixes below those that are not for this profile.
    #[serde(default)]
    pub except: Vec<Oid>,
}

/// Whether `id` is `prefix` or below it (on whole sub-identifiers).
fn below(id: &str, prefix: &Oid) -> bool {
    id == prefix.as_str()
        || id
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.starts_with('.'))
}

/// A table or an array of tables (the table's own errors kept).
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error as _;
    let one = |v: toml::Value| T::deserialize(v).map_err(|e| D::Error::custom(e.message()));
    match toml::Value::deserialize(d)? {
        toml::Value::Array(all) => all.into_iter().map(one).collect(),
        other => one(other).map(|t| vec![t]),
    }
}

/// A vendor profile.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    /// Where the OIDs and units come from (MIB, recording).
    pub source: String,
    /// Any of these (`[match]`, or several `[[match]]`).
    #[serde(rename = "match", deserialize_with = "one_or_many")]
    pub matches: Vec<Matches>,
    /// The ONT table (`[onts]`), or several (`[[onts]]`) where firmwares
    /// moved it: the first that answers is read.
    #[serde(default, deserialize_with = "one_or_many")]
    pub onts: Vec<OntTable>,
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
    /// The traps it sends.
    #[serde(default)]
    pub traps: Option<Traps>,
}

/// Traps a device sends, by trap OID prefix.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traps {
    /// An ONT stopped sending (loss of signal, dying gasp).
    #[serde(default)]
    pub ont_down: Vec<Oid>,
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
        if self.matches.is_empty() || self.matches.iter().any(|m| m.sys_object_id.is_empty()) {
            return Err("[match] : au moins un préfixe « sys_object_id »".into());
        }
        for t in &self.onts {
            match (t.index, t.ont_bits) {
                (IndexKind::Packed, Some(1..=31)) => {}
                (IndexKind::Packed, _) => {
                    return Err("[onts] : index « packed » demande « ont_bits » de 1 à 31".into())
                }
                (_, Some(_)) => return Err("[onts] : « ont_bits » va avec index « packed »".into()),
                _ => {}
            }
            let at = [t.slot_at, t.port_at, t.ont_at];
            let within = |a: Option<usize>| a.is_some_and(|n| (1..=16).contains(&n));
            match t.index {
                IndexKind::Dotted
                    if within(t.port_at)
                        && within(t.ont_at)
                        && (within(t.slot_at) != t.slot.is_some()) => {}
                IndexKind::Dotted => {
                    return Err("[onts] : index « dotted » demande « port_at », « ont_at » et, ou « slot_at », ou « slot » (positions de 1 à 16)".into())
                }
                IndexKind::Interface => match &t.ont_name {
                    Some(n) if n.has_slot() || t.slot.is_some() => {}
                    Some(_) => {
                        return Err("[onts] : « ont_name » sans groupe (?P<slot>…) demande « slot »".into())
                    }
                    None => {
                        return Err("[onts] : index « interface » demande « ont_name »".into())
                    }
                },
                _ if t.ont_name.is_some() => {
                    return Err("[onts] : « ont_name » va avec index « interface »".into())
                }
                _ if t.port.is_some() && t.slot.is_none() => {
                    return Err("[onts] : une colonne « port » demande « slot »".into())
                }
                _ if at.iter().any(Option::is_some) || (t.slot.is_some() && t.port.is_none()) => {
                    return Err("[onts] : « slot_at », « slot », « port_at », « ont_at » vont avec index « dotted »".into())
                }
                _ => {}
            }
            match (t.index, t.bits) {
                (IndexKind::Bits, Some(b))
                    if b.slot.fine()
                        && b.port.fine()
                        && b.ont.fine()
                        && b.when.is_none_or(|w| {
                            BitField {
                                shift: w.shift,
                                width: w.width,
                                add: 0,
                            }
                            .fine()
                        }) => {}
                (IndexKind::Bits, Some(_)) => {
                    return Err(
                        "[onts.bits] : « width » de 1 à 32 et « shift » + « width » au plus 64"
                            .into(),
                    )
                }
                (IndexKind::Bits, None) => {
                    return Err(
                        "[onts] : index « bits » demande [onts.bits] (slot, port, ont)".into(),
                    )
                }
                (_, Some(_)) => return Err("[onts.bits] : va avec index « bits »".into()),
                _ => {}
            }
            match (t.index, t.port_number) {
                (_, None) => {}
                (IndexKind::PortOnt | IndexKind::Packed, Some(n))
                    if n.slot.fine() && n.port.fine() => {}
                (IndexKind::PortOnt | IndexKind::Packed, Some(_)) => return Err(
                    "[onts.port_number] : « width » de 1 à 32 et « shift » + « width » au plus 64"
                        .into(),
                ),
                _ => {
                    return Err(
                        "[onts.port_number] : va avec index « port_ont » ou « packed »".into(),
                    )
                }
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
        let descr = descr.to_lowercase();
        self.matches.iter().any(|m| {
            m.sys_object_id.iter().any(|p| below(id, p))
                && !m.except.iter().any(|p| below(id, p))
                && (m.sys_descr.is_empty()
                    || m.sys_descr
                        .iter()
                        .any(|w| descr.contains(&w.to_lowercase())))
        })
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
    ("vsol-epon.toml", include_str!("../profiles/vsol-epon.toml")),
    (
        "calix-axos.toml",
        include_str!("../profiles/calix-axos.toml"),
    ),
    (
        "nokia-isam-gpon.toml",
        include_str!("../profiles/nokia-isam-gpon.toml"),
    ),
    ("zte-gpon.toml", include_str!("../profiles/zte-gpon.toml")),
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

    /// The trap OID prefixes meaning "an ONT stopped sending", with the
    /// profile naming each, for the trap listener.
    pub fn ont_down_traps(&self) -> Vec<(Oid, String)> {
        self.0
            .iter()
            .flat_map(|p| {
                p.traps
                    .iter()
                    .flat_map(|t| t.ont_down.iter())
                    .map(|o| (o.clone(), p.name.clone()))
            })
            .collect()
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

#[path = "profiles_fields.rs"]
mod fields;
pub use fields::{BitField, BitTest, IndexBits, OntName, PonNames, PortNumber, TextPattern};

#[path = "profiles_read.rs"]
mod read;
pub use read::{OntOptics, PortOptics};

#[cfg(test)]
#[path = "profiles_tests.rs"]
mod tests;
