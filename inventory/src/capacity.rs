//! Eligibility of premises and capacity of PMs and PON ports.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plant::{Container, Plant};
use crate::Error;

/// Whether a premises can be connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Eligibility {
    /// An outlet is in place with a fibre path: a line can be ordered now.
    Connectable { outlet: String, pm: Option<String> },
    /// A fibre is reserved at the distribution box but the drop and outlet
    /// are not built yet.
    DropToBuild { pbo: String, pm: Option<String> },
    /// Nothing serves the premises yet.
    NotCovered { reason: String },
}

/// The PM (site label) a fibre path goes through, walking upstream.
fn pm_upstream_of(plant: &Plant, fibre: &str) -> Option<String> {
    let mut f = crate::plant::Code::from(fibre);
    for _ in 0..64 {
        let p = plant.feeding(&f)?;
        if let Container::Drawer(ti) = &p.container {
            if let Some(site) = plant.site_of_drawer(ti) {
                if site.kind != "NRO" {
                    return Some(site.label.to_string());
                }
            }
        }
        f = p.input.clone()?;
    }
    None
}

/// The eligibility of one premises (SUF code).
pub fn eligibility(plant: &Plant, suf: &str) -> Result<Eligibility, Error> {
    if !plant.sufs.contains_key(suf) {
        return Err(Error::NotFound(format!("aucun local « {suf} »")));
    }
    let reserved: Vec<_> = plant.reserved_for(suf).collect();
    if let Some(outlet) = plant.outlet_of(suf) {
        if let Some(drop) = reserved
            .iter()
            .filter_map(|p| p.output.as_deref())
            .find(|o| plant.feeding(o).is_some())
        {
            return Ok(Eligibility::Connectable {
                outlet: outlet.to_owned(),
                pm: pm_upstream_of(plant, drop),
            });
        }
        return Ok(Eligibility::NotCovered {
            reason: format!("la PTO {outlet} existe mais aucune fibre ne lui est affectée"),
        });
    }
    let at_pbo = reserved.iter().find_map(|p| match &p.container {
        Container::Cassette(cs) => plant
            .cassettes
            .get(cs)
            .map(|c| (c.enclosure.to_string(), p.input.clone())),
        Container::Drawer(_) => None,
    });
    match at_pbo {
        Some((pbo, input)) => Ok(Eligibility::DropToBuild {
            pbo,
            pm: input.and_then(|i| pm_upstream_of(plant, &i)),
        }),
        None => Ok(Eligibility::NotCovered {
            reason: "aucun point de branchement ne dessert ce local".into(),
        }),
    }
}

/// The premises at an address (by hexaclé or address code) with their
/// eligibility.
pub fn eligibility_at(plant: &Plant, key: &str) -> Result<Vec<(String, Eligibility)>, Error> {
    let key = key.trim();
    let hexacle = crate::address::Hexacle::parse(key).ok();
    let codes: Vec<&str> = plant
        .addresses
        .values()
        .filter(|a| a.code == key || (hexacle.is_some() && a.hexacle == hexacle))
        .map(|a| a.code.as_str())
        .collect();
    if codes.is_empty() {
        return Err(Error::NotFound(format!("aucune adresse « {key} »")));
    }
    let mut out = Vec::new();
    for suf in plant
        .sufs
        .values()
        .filter(|s| s.address.as_deref().is_some_and(|a| codes.contains(&a)))
    {
        out.push((suf.code.to_string(), eligibility(plant, &suf.code)?));
    }
    if out.is_empty() {
        out.push((
            String::new(),
            Eligibility::NotCovered {
                reason: "aucun local n'est rattaché à cette adresse".into(),
            },
        ));
    }
    Ok(out)
}

/// Counts per commune (INSEE code and name) of premises by eligibility;
/// premises without an address count under `"—"`.
pub fn eligibility_by_commune(plant: &Plant) -> BTreeMap<String, EligibilityCounts> {
    let mut out: BTreeMap<String, EligibilityCounts> = BTreeMap::new();
    for suf in plant.sufs.values() {
        let commune = suf
            .address
            .as_deref()
            .and_then(|a| plant.addresses.get(a))
            .map(|a| format!("{} {}", a.insee, a.commune))
            .unwrap_or_else(|| "—".into());
        let entry = out.entry(commune).or_default();
        match eligibility(plant, &suf.code) {
            Ok(Eligibility::Connectable { .. }) => entry.connectable += 1,
            Ok(Eligibility::DropToBuild { .. }) => entry.drop_to_build += 1,
            _ => entry.not_covered += 1,
        }
    }
    out
}

/// Counts per PM of premises by eligibility.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EligibilityCounts {
    pub connectable: u64,
    pub drop_to_build: u64,
    pub not_covered: u64,
}

/// Eligibility counts per PM (premises without a PM under `"—"`).
pub fn eligibility_by_pm(plant: &Plant) -> BTreeMap<String, EligibilityCounts> {
    let mut out: BTreeMap<String, EligibilityCounts> = BTreeMap::new();
    for suf in plant.sufs.keys() {
        match eligibility(plant, suf) {
            Ok(Eligibility::Connectable { pm, .. }) => {
                out.entry(pm.unwrap_or_else(|| "—".into()))
                    .or_default()
                    .connectable += 1
            }
            Ok(Eligibility::DropToBuild { pm, .. }) => {
                out.entry(pm.unwrap_or_else(|| "—".into()))
                    .or_default()
                    .drop_to_build += 1
            }
            Ok(Eligibility::NotCovered { .. }) | Err(_) => {
                out.entry("—".into()).or_default().not_covered += 1
            }
        }
    }
    out
}

/// Use of one splitter or PON port.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub code: String,
    /// The PM (splitters) or OLT (PON ports).
    pub place: String,
    pub capacity: u32,
    /// Outputs taken by lines (splitters), lines on the port (PON ports):
    /// what is left to sell is `capacity - used`.
    pub used: u32,
    /// What the plant wires there: outputs spliced onward (splitters),
    /// premises behind (PON ports). A splitter fully wired to its boxes
    /// is not full.
    pub wired: u32,
    /// Share used, in percent.
    pub percent: u32,
    /// Full, or above 80 %.
    pub flagged: bool,
}

fn usage(code: String, place: String, capacity: u32, used: u32, wired: u32) -> Usage {
    let percent = used
        .saturating_mul(100)
        .checked_div(capacity)
        .unwrap_or(100);
    Usage {
        code,
        place,
        capacity,
        used,
        wired,
        percent,
        flagged: percent >= 80,
    }
}

/// What lines hold in the plant, as provisioning records it: the splitter
/// outputs taken (position codes) and the lines on each PON port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InUse {
    pub splitter_outputs: std::collections::HashSet<String>,
    pub lines_per_pon_port: std::collections::HashMap<String, u32>,
}

/// Splitter outputs used per splitter (with its PM), and premises behind each
/// PON port against its split ratio.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Capacity {
    pub splitters: Vec<Usage>,
    pub pon_ports: Vec<Usage>,
}

/// Computes the capacity report of the whole plant, with what lines hold
/// in it.
pub fn capacity(plant: &Plant, in_use: &InUse) -> Capacity {
    let mut inputs: Vec<&str> = plant
        .positions
        .iter()
        .filter_map(|p| p.input.as_deref())
        .collect();
    inputs.sort_unstable();
    inputs.dedup();
    let mut splitters = Vec::new();
    for input in inputs {
        let wired = plant.fan_out(input) as u32;
        let known = plant.splitters.get(input).map(|s| s.ratio);
        if wired < 2 && known.is_none() {
            continue;
        }
        let ratio = known.unwrap_or_else(|| wired.next_power_of_two());
        let mut taken: Vec<&str> = plant
            .fed_by(input)
            .filter(|p| in_use.splitter_outputs.contains(p.code.as_str()))
            .filter_map(|p| p.output.as_deref())
            .collect();
        taken.sort_unstable();
        taken.dedup();
        let used = taken.len() as u32;
        let pm = plant
            .fed_by(input)
            .find_map(|p| match &p.container {
                Container::Drawer(ti) => plant.site_of_drawer(ti).map(|s| s.label.to_string()),
                Container::Cassette(cs) => plant.cassettes.get(cs).map(|c| c.enclosure.to_string()),
            })
            .unwrap_or_default();
        splitters.push(usage(input.to_owned(), pm, ratio, used, wired));
    }
    let mut pon_ports = Vec::new();
    for port in plant.pon_ports.values() {
        let behind =
            crate::trace::downstream(plant, crate::trace::From::PonPort(port.code.clone()))
                .map(|d| d.premises.len() as u32)
                .unwrap_or(0);
        // The split ratio behind the port bounds it before the OLT does.
        let capacity = first_splitter_ratio(plant, &port.fibre)
            .map_or(port.max_onts, |r| r.min(port.max_onts));
        let lines = in_use
            .lines_per_pon_port
            .get(port.code.as_str())
            .copied()
            .unwrap_or(0);
        pon_ports.push(usage(
            port.code.clone(),
            port.olt.clone(),
            capacity,
            lines,
            behind,
        ));
    }
    Capacity {
        splitters,
        pon_ports,
    }
}

/// The ratio of the first splitter downstream of a fibre, following single
/// joints (connectors, splices) until one fans out.
fn first_splitter_ratio(plant: &Plant, fibre: &str) -> Option<u32> {
    let mut f = crate::plant::Code::from(fibre);
    for _ in 0..64 {
        if let Some(s) = plant.splitters.get(f.as_str()) {
            return Some(s.ratio);
        }
        let outputs = plant.fan_out(&f);
        if outputs > 1 {
            return Some((outputs as u32).next_power_of_two());
        }
        f = plant.fed_by(&f).find_map(|p| p.output.clone())?;
    }
    None
}
