//! The parts of a profile that are parsed on their own: patterns on texts
//! and names (each checked for its groups when the profile is read) and
//! the bit fields of indexes.

use serde::Deserialize;

/// A regular expression with a group `v`, checked when the profile is
/// read.
#[derive(Debug, Clone)]
pub struct TextPattern(pub(crate) regex::Regex);

impl PartialEq for TextPattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl<'de> Deserialize<'de> for TextPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() > 1000 {
            return Err(serde::de::Error::custom(
                "« pattern » dépasse 1 000 caractères",
            ));
        }
        let re = regex::Regex::new(&s).map_err(|e| {
            serde::de::Error::custom(format!(
                "« pattern » n'est pas une expression régulière ({e})"
            ))
        })?;
        if !re.capture_names().flatten().any(|n| n == "v") {
            return Err(serde::de::Error::custom(
                "« pattern » doit avoir un groupe (?P<v>…)",
            ));
        }
        Ok(Self(re))
    }
}

/// A field of bits of a number: `(n >> shift) & (2^width - 1)`, plus
/// `add`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitField {
    pub shift: u32,
    pub width: u32,
    #[serde(default)]
    pub add: i64,
}

impl BitField {
    pub(crate) fn of(&self, n: u64) -> Option<u32> {
        let v = (n >> self.shift) & ((1u64 << self.width) - 1);
        u32::try_from(i64::try_from(v).ok()?.checked_add(self.add)?).ok()
    }

    pub(crate) fn fine(&self) -> bool {
        (1..=32).contains(&self.width) && self.shift + self.width <= 64
    }
}

/// Where the slot and port sit in a port's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortNumber {
    pub slot: BitField,
    pub port: BitField,
}

/// A regular expression on an ONT interface's name, with groups `port`
/// and `ont` (and `slot`, unless the table fixes it).
#[derive(Debug, Clone)]
pub struct OntName(pub(crate) regex::Regex);

impl PartialEq for OntName {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl<'de> Deserialize<'de> for OntName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() > 1000 {
            return Err(serde::de::Error::custom(
                "« ont_name » dépasse 1 000 caractères",
            ));
        }
        let re = regex::Regex::new(&s).map_err(|e| {
            serde::de::Error::custom(format!(
                "« ont_name » n'est pas une expression régulière ({e})"
            ))
        })?;
        let groups: Vec<&str> = re.capture_names().flatten().collect();
        if !(groups.contains(&"port") && groups.contains(&"ont")) {
            return Err(serde::de::Error::custom(
                "« ont_name » doit avoir les groupes (?P<port>…) et (?P<ont>…)",
            ));
        }
        Ok(Self(re))
    }
}

impl OntName {
    pub(crate) fn has_slot(&self) -> bool {
        self.0.capture_names().flatten().any(|n| n == "slot")
    }
}

/// A field that must hold a value for the row to be an ONT's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitTest {
    pub shift: u32,
    pub width: u32,
    pub is: u32,
}

/// An index that is one number of bit fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexBits {
    pub slot: BitField,
    pub port: BitField,
    pub ont: BitField,
    /// Rows whose number fails this are skipped (the same column lists
    /// other interfaces).
    #[serde(default)]
    pub when: Option<BitTest>,
}

impl IndexBits {
    pub(crate) fn admits(&self, n: u64) -> bool {
        self.when.is_none_or(|w| {
            BitField {
                shift: w.shift,
                width: w.width,
                add: 0,
            }
            .of(n)
                == Some(w.is)
        })
    }
}

/// How a PON port's interface name gives the inventory's slot and port:
/// a regular expression with a `port` group and, unless `slot` is given,
/// a `slot` group (`^GPON (?P<frame>\d+)/(?P<slot>\d+)/(?P<port>\d+)$`).
/// An interface the pattern does not match is no PON port.
#[derive(Debug, Clone)]
pub struct PonNames {
    pattern: regex::Regex,
    slot: Option<u32>,
    /// Where the ports all share one name (Nokia's « X-PON »): the slot
    /// and port as bit fields of the ifIndex.
    index: Option<PortNumber>,
}

impl PartialEq for PonNames {
    fn eq(&self, other: &Self) -> bool {
        self.pattern.as_str() == other.pattern.as_str()
            && self.slot == other.slot
            && self.index == other.index
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PonNamesText {
    name: String,
    #[serde(default)]
    slot: Option<u32>,
    #[serde(default)]
    index: Option<PortNumber>,
}

impl<'de> Deserialize<'de> for PonNames {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = PonNamesText::deserialize(d)?;
        let mut names = PonNames::parse_with(&t.name, t.slot, t.index.is_some())
            .map_err(serde::de::Error::custom)?;
        if let Some(i) = t.index {
            if !(i.slot.fine() && i.port.fine()) {
                return Err(serde::de::Error::custom(
                    "[pon_ports.index] : « width » de 1 à 32 et « shift » + « width » au plus 64",
                ));
            }
        }
        names.index = t.index;
        Ok(names)
    }
}

impl PonNames {
    /// A pattern and, when it has no `slot` group, the slot of every port.
    pub fn parse(pattern: &str, slot: Option<u32>) -> Result<Self, String> {
        Self::parse_with(pattern, slot, false)
    }

    pub(crate) fn parse_with(
        pattern: &str,
        slot: Option<u32>,
        by_index: bool,
    ) -> Result<Self, String> {
        if pattern.len() > 1000 {
            return Err("[pon_ports] : « name » dépasse 1 000 caractères".into());
        }
        let pattern = regex::Regex::new(pattern).map_err(|e| {
            format!("[pon_ports] : « name » n'est pas une expression régulière ({e})")
        })?;
        let names: Vec<&str> = pattern.capture_names().flatten().collect();
        if !by_index && !names.contains(&"port") {
            return Err("[pon_ports] : « name » doit avoir un groupe (?P<port>…) ou [pon_ports.index] être donné".into());
        }
        if !by_index && !names.contains(&"slot") && slot.is_none() {
            return Err("[pon_ports] : un groupe (?P<slot>…) ou « slot » est attendu".into());
        }
        Ok(Self {
            pattern,
            slot,
            index: None,
        })
    }

    /// The inventory's slot and port of an interface, when it is a PON
    /// port.
    pub fn position(&self, if_name: &str, if_index: u32) -> Option<crate::interfaces::PonPosition> {
        let c = self.pattern.captures(if_name.trim())?;
        if let Some(bits) = self.index {
            return Some(crate::interfaces::PonPosition {
                slot: bits.slot.of(u64::from(if_index))?,
                port: bits.port.of(u64::from(if_index))?,
            });
        }
        let number = |g: &str| c.name(g).and_then(|m| m.as_str().parse::<u32>().ok());
        Some(crate::interfaces::PonPosition {
            slot: number("slot").or(self.slot)?,
            port: number("port")?,
        })
    }
}
