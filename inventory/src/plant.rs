//! The plant model: what a GraceTHD delivery describes, resolved and checked.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use serde::Serialize;

use crate::extension::{PonPort, Splitter};

/// A GraceTHD code or short label. Codes are 14 to 20 characters: a
/// `CompactString` keeps them inline, without a heap allocation each, which
/// halves the memory of a large plant and the time to build it.
pub type Code = compact_str::CompactString;

/// A record known by its GraceTHD code.
pub trait Coded {
    fn code(&self) -> &str;
}

/// Records of one kind by code, in code order: a vector sorted by code and
/// searched by bisection. A `BTreeMap<Code, T>` held each code twice and,
/// built in bulk, needed a second copy of everything while it was built:
/// for the fibres of a large plant, twice the memory at the peak of an
/// import.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeMap<T> {
    items: Vec<T>,
}

impl<T> Default for CodeMap<T> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

impl<T: Coded> CodeMap<T> {
    /// The records, sorted here (stably); codes must be unique.
    pub fn from_vec(mut items: Vec<T>) -> Self {
        items.sort_by(|a, b| a.code().cmp(b.code()));
        items.shrink_to_fit();
        Self { items }
    }

    fn find(&self, code: &str) -> Result<usize, usize> {
        self.items.binary_search_by(|x| x.code().cmp(code))
    }

    pub fn get(&self, code: &str) -> Option<&T> {
        self.find(code).ok().map(|i| &self.items[i])
    }

    pub fn get_mut(&mut self, code: &str) -> Option<&mut T> {
        self.find(code).ok().map(|i| &mut self.items[i])
    }

    pub fn contains_key(&self, code: &str) -> bool {
        self.find(code).is_ok()
    }

    /// Adds a record or replaces the one of the same code (linear time:
    /// for edits, not for loading).
    pub fn insert(&mut self, item: T) -> Option<T> {
        match self.find(item.code()) {
            Ok(i) => Some(std::mem::replace(&mut self.items[i], item)),
            Err(i) => {
                self.items.insert(i, item);
                None
            }
        }
    }

    /// The records, in code order.
    pub fn values(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub fn values_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.items.iter_mut()
    }

    /// The codes, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(Coded::code)
    }

    /// (code, record) pairs, in code order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.items.iter().map(|x| (x.code(), x))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<T: Coded> FromIterator<T> for CodeMap<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Self::from_vec(iter.into_iter().collect())
    }
}

impl<T: Coded> std::ops::Index<&str> for CodeMap<T> {
    type Output = T;

    /// The record of a code; panics when absent, like a map's index.
    fn index(&self, code: &str) -> &T {
        match self.get(code) {
            Some(x) => x,
            None => panic!("no record {code}"),
        }
    }
}

macro_rules! coded {
    ($($t:ty),*) => {
        $(impl Coded for $t {
            fn code(&self) -> &str {
                &self.code
            }
        })*
    };
}

/// A position in Lambert-93 (EPSG:2154), in centimetres, as delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Xy {
    pub x_cm: i64,
    pub y_cm: i64,
}

impl Xy {
    /// From Lambert-93 metres, to the centimetre.
    pub fn from_metres((x, y): (f64, f64)) -> Self {
        Self {
            x_cm: (x * 100.0).round() as i64,
            y_cm: (y * 100.0).round() as i64,
        }
    }

    /// Lambert-93 metres.
    pub fn metres(self) -> (f64, f64) {
        (self.x_cm as f64 / 100.0, self.y_cm as f64 / 100.0)
    }

    /// WGS84 longitude and latitude, for maps.
    pub fn wgs84(self) -> (f64, f64) {
        let (x, y) = self.metres();
        crate::address::lambert93_to_wgs84(x, y)
    }
}

/// A technical site (`t_sitetech`): an NRO or a PM (SRO).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    pub code: Code,
    pub label: Code,
    /// Logical type (`st_typelog`), e.g. `NRO`, `SRO`.
    pub kind: Code,
    /// Where it stands: its node (`st_nd_code` → `t_noeud`).
    pub point: Option<Xy>,
}

/// A technical room (`t_ltech`) in a site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Room {
    pub code: Code,
    pub site: Code,
}

/// A rack (`t_baie`) in a room.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rack {
    pub code: Code,
    pub room: Code,
}

/// A drawer (`t_tiroir`) in a rack: holds connectors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drawer {
    pub code: Code,
    pub label: Code,
    pub rack: Code,
}

/// A box (`t_ebp`): splice closure (BPE), distribution box (PBO), outlet
/// (PTO), ...
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enclosure {
    pub code: Code,
    pub label: Code,
    /// Logical type (`bp_typelog`): `BPE`, `PBO`, `PTO`, `DTI`, ...
    pub kind: Code,
    /// The premises (SUF) an outlet serves.
    pub suf: Option<Code>,
    /// Where it stands: its technical point's node (`bp_pt_code` →
    /// `t_ptech` → `t_noeud`).
    pub point: Option<Xy>,
}

/// A cassette (`t_cassette`) in a box: holds splices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cassette {
    pub code: Code,
    pub enclosure: Code,
}

/// A cable (`t_cable`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cable {
    pub code: Code,
    pub label: Code,
    pub capacity: Option<u32>,
    /// Length in metres: `cb_lgreel`, else the cable lines' `cl_long`, else
    /// their geometry; `None` when nothing gives it (patch cords).
    pub length_m: Option<f64>,
    /// Its route on the ground: the vertices of its cable lines
    /// (`t_cableline`), else its two end nodes (`cb_nd1`, `cb_nd2`); empty
    /// when neither is known.
    pub path: Vec<Xy>,
}

/// A fibre (`t_fibre`) of a cable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fibre {
    pub code: Code,
    pub cable: Code,
    pub number: Option<u32>,
    pub tube: Option<u32>,
    pub in_tube: Option<u32>,
    /// Colour code of the fibre in its tube (`fo_color`).
    pub color: Code,
}

/// Where a position sits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum Container {
    Cassette(Code),
    Drawer(Code),
}

/// What joins the two fibres of a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Joint {
    Splice,
    Connector,
}

/// A position (`t_position`): `input` (ps_1) joined to `output` (ps_2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Position {
    pub code: Code,
    pub input: Option<Code>,
    pub output: Option<Code>,
    pub container: Container,
    pub joint: Joint,
    /// Position type code (`ps_type`), e.g. `SFU`, `CSP`.
    pub kind: Code,
    /// The premises this position is reserved for (`ps_preaff`).
    pub preaff: Option<Code>,
}

/// A premises (`t_suf`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suf {
    pub code: Code,
    pub address: Option<Code>,
}

/// An address (`t_adresse`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Address {
    pub code: Code,
    pub ban_id: Option<Code>,
    pub number: Option<Code>,
    pub repetition: Option<Code>,
    pub street: Code,
    pub insee: Code,
    pub postcode: Code,
    pub commune: Code,
    pub hexacle: Option<crate::address::Hexacle>,
    /// Dwellings and business premises at the address.
    pub dwellings: u32,
    /// Building state (`ad_ietat`: `CI` cible, `EC` en cours, `RD` raccordable, ...).
    pub state: Code,
    /// Lambert-93 position in centimetres, as delivered.
    pub x_cm: Option<i64>,
    pub y_cm: Option<i64>,
}

impl Address {
    /// WGS84 longitude and latitude, for maps.
    pub fn wgs84(&self) -> Option<(f64, f64)> {
        Some(crate::address::lambert93_to_wgs84(
            self.x_cm? as f64 / 100.0,
            self.y_cm? as f64 / 100.0,
        ))
    }

    /// The address as a person writes it.
    pub fn label(&self) -> String {
        let num = [self.number.as_deref(), self.repetition.as_deref()]
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "{} {}, {} {}",
            num, self.street, self.postcode, self.commune
        )
        .trim()
        .to_owned()
    }
}

coded!(Site, Room, Rack, Drawer, Enclosure, Cassette, Cable, Fibre, Suf, Address);

/// The hash of a value in the tables of position numbers (here and in the
/// delivery checks).
pub(crate) fn fx(value: impl std::hash::Hash) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(value)
}

/// The plant of one delivery.
#[derive(Debug, Clone, Default)]
pub struct Plant {
    pub sites: CodeMap<Site>,
    pub rooms: CodeMap<Room>,
    pub racks: CodeMap<Rack>,
    pub drawers: CodeMap<Drawer>,
    pub enclosures: CodeMap<Enclosure>,
    pub cassettes: CodeMap<Cassette>,
    pub cables: CodeMap<Cable>,
    pub fibres: CodeMap<Fibre>,
    /// Positions with exact duplicates (same container, same fibres)
    /// already removed.
    pub positions: Vec<Position>,
    pub sufs: CodeMap<Suf>,
    /// Addresses (`t_adresse`), by code.
    pub addresses: CodeMap<Address>,
    /// Stored routes (`t_ropt`): fibres in their stored order.
    pub routes: BTreeMap<String, Vec<String>>,
    /// PON ports (Régie extension), by code.
    pub pon_ports: BTreeMap<String, PonPort>,
    /// Splitters with a known ratio (Régie extension), by input fibre.
    pub splitters: BTreeMap<String, Splitter>,
    /// Whether the delivery carried `x_pon.csv` / `x_splitter.csv`. A
    /// GraceTHD re-delivery from a design office usually does not: the PON
    /// ports and splitter ratios already stored are then kept.
    pub has_pon_file: bool,
    pub has_splitter_file: bool,
    pon_by_fibre: HashMap<String, String>,
    outlet_by_suf: HashMap<Code, Code>,
    sufs_by_address: HashMap<Code, Vec<Code>>,
    // Positions (by index) by reserved premises, output and input fibre,
    // hashed on the position's own field: no copy of the codes, a few bytes
    // an entry, where maps of codes were a fifth of a plant's memory.
    by_preaff: hashbrown::HashTable<u32>,
    route_by_first: HashMap<String, String>,
    by_output: hashbrown::HashTable<u32>,
    by_input: hashbrown::HashTable<u32>,
}

impl Plant {
    /// Rebuilds the fibre → position indexes after positions changed.
    pub fn index(&mut self) {
        self.by_output.clear();
        self.by_input.clear();
        self.by_preaff.clear();
        self.route_by_first = self
            .routes
            .iter()
            .filter_map(|(code, fibres)| fibres.first().map(|f| (f.clone(), code.clone())))
            .collect();
        self.pon_by_fibre = self
            .pon_ports
            .values()
            .map(|p| (p.fibre.clone(), p.code.clone()))
            .collect();
        self.sufs_by_address.clear();
        for suf in self.sufs.values() {
            if let Some(a) = &suf.address {
                self.sufs_by_address
                    .entry(a.clone())
                    .or_default()
                    .push(suf.code.clone());
            }
        }
        self.outlet_by_suf = self
            .enclosures
            .values()
            .filter(|e| e.kind == "PTO")
            .filter_map(|e| e.suf.clone().map(|s| (s, e.code.clone())))
            .collect();
        // Indexes into `positions` as u32: a plant has far fewer than four
        // billion positions, and the indexes are a large part of its memory.
        let positions = &self.positions;
        let rehash = |field: fn(&Position) -> Option<&Code>| {
            move |i: &u32| field(&positions[*i as usize]).map_or(0, fx)
        };
        self.by_output = hashbrown::HashTable::with_capacity(positions.len());
        self.by_input = hashbrown::HashTable::with_capacity(positions.len());
        for (i, p) in (0u32..).zip(positions.iter()) {
            if let Some(o) = &p.output {
                self.by_output
                    .insert_unique(fx(o), i, rehash(|p| p.output.as_ref()));
            }
            if let Some(n) = &p.input {
                self.by_input
                    .insert_unique(fx(n), i, rehash(|p| p.input.as_ref()));
            }
            if let Some(s) = &p.preaff {
                self.by_preaff
                    .insert_unique(fx(s), i, rehash(|p| p.preaff.as_ref()));
            }
        }
    }

    /// The positions whose `field` is `code`, in file order.
    fn matching(
        &self,
        index: &hashbrown::HashTable<u32>,
        field: fn(&Position) -> Option<&Code>,
        code: &str,
    ) -> Vec<u32> {
        let mut found: Vec<u32> = index
            .iter_hash(fx(code))
            .copied()
            .filter(|i| field(&self.positions[*i as usize]).is_some_and(|c| c == code))
            .collect();
        found.sort_unstable();
        found
    }

    /// The position whose output is this fibre (its upstream joint).
    pub fn feeding(&self, fibre: &str) -> Option<&Position> {
        self.matching(&self.by_output, |p| p.output.as_ref(), fibre)
            .first()
            .map(|i| &self.positions[*i as usize])
    }

    /// The positions whose input is this fibre.
    pub fn fed_by(&self, fibre: &str) -> impl Iterator<Item = &Position> {
        self.matching(&self.by_input, |p| p.input.as_ref(), fibre)
            .into_iter()
            .map(|i| &self.positions[i as usize])
    }

    /// Number of distinct output fibres fed by one input fibre: more than
    /// one makes the joint a splitter.
    pub fn fan_out(&self, fibre: &str) -> usize {
        let mut outs: Vec<&str> = self
            .fed_by(fibre)
            .filter_map(|p| p.output.as_deref())
            .collect();
        outs.sort_unstable();
        outs.dedup();
        outs.len()
    }

    /// The PON port patched to a fibre, if any.
    pub fn pon_port_on(&self, fibre: &str) -> Option<&PonPort> {
        self.pon_by_fibre
            .get(fibre)
            .and_then(|c| self.pon_ports.get(c))
    }

    /// The positions reserved for a premises (`ps_preaff`).
    pub fn reserved_for(&self, suf: &str) -> impl Iterator<Item = &Position> {
        self.matching(&self.by_preaff, |p| p.preaff.as_ref(), suf)
            .into_iter()
            .map(|i| &self.positions[i as usize])
    }

    /// The stored route (`t_ropt`) that starts with this fibre.
    pub fn route_starting_with(&self, fibre: &str) -> Option<(&str, &[String])> {
        let code = self.route_by_first.get(fibre)?;
        self.routes.get(code).map(|r| (code.as_str(), r.as_slice()))
    }

    /// The premises (SUF codes, in code order) at an address.
    pub fn premises_at(&self, address: &str) -> impl Iterator<Item = &str> {
        self.sufs_by_address
            .get(address)
            .into_iter()
            .flatten()
            .map(Code::as_str)
    }

    /// The outlet (PTO) serving a premises, if built.
    pub fn outlet_of(&self, suf: &str) -> Option<&str> {
        self.outlet_by_suf.get(suf).map(Code::as_str)
    }

    /// The outlets (boxes of logical type `PTO`).
    pub fn outlets(&self) -> impl Iterator<Item = &Enclosure> {
        self.enclosures.values().filter(|e| e.kind == "PTO")
    }

    /// A readable place for a container: box or site, with its code.
    pub fn place_of(&self, container: &Container) -> String {
        match container {
            Container::Cassette(cs) => {
                let b = self
                    .cassettes
                    .get(cs)
                    .and_then(|c| self.enclosures.get(&c.enclosure));
                match b {
                    Some(b) => format!("{} {} (cassette {cs})", b.kind, b.code),
                    None => format!("cassette {cs}"),
                }
            }
            Container::Drawer(ti) => {
                let site = self
                    .drawers
                    .get(ti)
                    .and_then(|d| self.racks.get(&d.rack))
                    .and_then(|r| self.rooms.get(&r.room))
                    .and_then(|r| self.sites.get(&r.site));
                match site {
                    // A site named after its kind (« NRO ») is not
                    // « NRO NRO ».
                    Some(s)
                        if s.label
                            .to_lowercase()
                            .starts_with(s.kind.to_lowercase().as_str()) =>
                    {
                        format!("{} (tiroir {ti})", s.label)
                    }
                    Some(s) => format!("{} {} (tiroir {ti})", s.kind, s.label),
                    None => format!("tiroir {ti}"),
                }
            }
        }
    }

    /// The site that holds a drawer, if resolvable.
    pub fn site_of_drawer(&self, drawer: &str) -> Option<&Site> {
        self.drawers
            .get(drawer)
            .and_then(|d| self.racks.get(&d.rack))
            .and_then(|r| self.rooms.get(&r.room))
            .and_then(|r| self.sites.get(&r.site))
    }
}
