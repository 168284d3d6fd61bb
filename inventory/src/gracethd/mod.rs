//! GraceTHD v2.0.1 "shpcsv" deliveries: reading and validation.
//!
//! [`load`] reads a delivery directory, checks it, and returns the resolved
//! [`Plant`] with a [`Report`] of every problem (file, line, field, reason).
//! Errors mean the delivery must not be imported; warnings are imported and
//! listed. Nothing here writes anywhere.

pub mod archive;
pub mod limits;
pub mod places;
pub mod read;
pub mod report;
pub mod write;

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::path::Path;

pub use limits::Limits;
use read::{Row, Source, Table};
pub use report::{Issue, Report, Severity};

use crate::plant::{
    fx, Cable, Cassette, Code, CodeMap, Container, Drawer, Enclosure, Fibre, Joint, Plant,
    Position, Rack, Room, Site, Suf, Xy,
};
use crate::Error;

/// A checked delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub plant: Plant,
    pub report: Report,
    /// Rows read per file.
    pub counts: BTreeMap<String, usize>,
}

/// Value lists checked, as (table, column, list file).
const VALUE_LISTS: &[(&str, &str, &str)] = &[
    ("t_sitetech", "st_typelog", "l_site_type_log"),
    ("t_ebp", "bp_typelog", "l_bp_type_log"),
    ("t_position", "ps_type", "l_position_type"),
    ("t_position", "ps_fonct", "l_position_fonction"),
    ("t_fibre", "fo_color", "l_fo_color"),
];

struct Lists(HashMap<&'static str, HashSet<String>>);

impl Lists {
    fn read(dir: Source<'_>, report: &mut Report) -> Result<Self, Error> {
        let mut lists = HashMap::default();
        for (_, _, list) in VALUE_LISTS {
            if lists.contains_key(list) {
                continue;
            }
            if let Some(t) = read::csv_table(dir, list, report)? {
                let codes = t.rows.iter().map(|r| t.get(r, "code").to_owned()).collect();
                lists.insert(*list, codes);
            }
        }
        Ok(Self(lists))
    }

    /// Checks a row's coded values against their lists, when the delivery
    /// has them.
    fn check(&self, table: &Table, row: &Row, report: &mut Report) {
        let name = table.file.strip_suffix(".csv");
        for (_, column, list) in VALUE_LISTS.iter().filter(|(t, _, _)| name == Some(*t)) {
            self.check_value(table, row, column, list, report);
        }
    }

    fn check_value(&self, table: &Table, row: &Row, column: &str, list: &str, report: &mut Report) {
        let value = table.get(row, column);
        if value.is_empty() {
            return;
        }
        if let Some(codes) = self.0.get(list) {
            if !codes.contains(value) {
                report.push(Issue::error(
                    &table.file,
                    row.line,
                    column,
                    &format!("code « {value} » absent de la liste {list}"),
                ));
            }
        }
    }
}

fn opt(s: &str) -> Option<Code> {
    (!s.is_empty()).then(|| Code::from(s))
}

/// Parses an optional unsigned integer column, reporting garbage.
fn uint(table: &Table, row: &Row, column: &str, report: &mut Report) -> Option<u32> {
    let v = table.get(row, column);
    if v.is_empty() {
        return None;
    }
    match v.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            report.push(Issue::error(
                &table.file,
                row.line,
                column,
                &format!("« {v} » n'est pas un entier positif"),
            ));
            None
        }
    }
}

/// Parses an optional non-negative decimal column (a length).
fn metres(table: &Table, row: &Row, column: &str, report: &mut Report) -> Option<f64> {
    let v = table.get(row, column);
    if v.is_empty() {
        return None;
    }
    match v.replace(',', ".").parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Some(n),
        _ => {
            report.push(Issue::error(
                &table.file,
                row.line,
                column,
                &format!("« {v} » n'est pas une longueur en mètres"),
            ));
            None
        }
    }
}

/// Reads the rows of a table into a map by code, reporting empty and
/// duplicate codes.
fn by_code<T: crate::plant::Coded>(
    table: &Table,
    code_col: &str,
    report: &mut Report,
    mut build: impl FnMut(&Row, &str, &mut Report) -> T,
) -> CodeMap<T> {
    let mut lines: HashMap<Code, u64> = HashMap::default();
    lines.reserve(table.rows.len());
    let mut items = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        let code = table.get(row, code_col);
        if code.is_empty() {
            report.push(Issue::error(&table.file, row.line, code_col, "code vide"));
            continue;
        }
        if let Some(first) = lines.get(code) {
            report.push(Issue::error(
                &table.file,
                row.line,
                code_col,
                &format!("code « {code} » en double (déjà ligne {first})"),
            ));
            continue;
        }
        let code = Code::from(code);
        lines.insert(code.clone(), row.line);
        let item = build(row, &code, report);
        items.push(item);
    }
    drop(lines);
    CodeMap::from_vec(items)
}

fn dangling(report: &mut Report, table: &Table, row: &Row, column: &str, target: &str) {
    let v = table.get(row, column);
    report.push(Issue::error(
        &table.file,
        row.line,
        column,
        &format!("référence « {v} » introuvable dans {target}"),
    ));
}

/// Reads a required table whole, once its header has been checked, and
/// checks its coded values against the value lists. Tables are read one at
/// a time, each dropped once the plant has what it needs from it, so that a
/// large delivery never sits in memory all at once.
fn take(
    dir: Source<'_>,
    name: &str,
    lists: &Lists,
    report: &mut Report,
    counts: &mut BTreeMap<String, usize>,
) -> Result<Table, Error> {
    let tb = read::csv_table(dir, name, report)?
        .ok_or_else(|| Error::Invalid(format!("table {name} absente")))?;
    counts.insert(tb.file.clone(), tb.rows.len());
    for row in &tb.rows {
        lists.check(&tb, row, report);
    }
    Ok(tb)
}

/// The columns of `t_fibre` this importer reads, and the exporter and the
/// generator write.
pub const FIBRE_COLUMNS: &[&str] = &[
    "fo_code",
    "fo_cb_code",
    "fo_nincab",
    "fo_numtub",
    "fo_nintub",
    "fo_color",
];

/// The tables a delivery must have, with the columns read from each.
const REQUIRED: &[(&str, &[&str])] = &[
    ("t_sitetech", &["st_code", "st_nom", "st_typelog"]),
    ("t_ltech", &["lt_code", "lt_st_code"]),
    ("t_baie", &["ba_code", "ba_lt_code"]),
    ("t_tiroir", &["ti_code", "ti_ba_code"]),
    ("t_ebp", &["bp_code", "bp_typelog", "bp_sf_code"]),
    ("t_cassette", &["cs_code", "cs_bp_code"]),
    ("t_cable", &["cb_code", "cb_capafo", "cb_lgreel"]),
    ("t_fibre", FIBRE_COLUMNS),
    (
        "t_position",
        &[
            "ps_code",
            "ps_1",
            "ps_2",
            "ps_cs_code",
            "ps_ti_code",
            "ps_type",
            "ps_fonct",
            "ps_preaff",
        ],
    ),
];

/// Reads and checks a delivery directory.
pub fn load(dir: &Path) -> Result<Delivery, Error> {
    load_with(dir, &Limits::default())
}

/// Reads and checks a delivery directory within `limits`: what a delivery
/// can make the server hold is bounded (longest line and field, rows per
/// table, issues kept).
#[tracing::instrument(skip_all, fields(dir = %path.display()))]
pub fn load_with(path: &Path, limits: &Limits) -> Result<Delivery, Error> {
    let dir = Source { dir: path, limits };
    if !path.is_dir() {
        return Err(Error::Unreadable {
            path: path.display().to_string(),
            reason: "n'est pas un répertoire lisible".into(),
        });
    }
    let mut report = Report::with_cap(limits.max_issues);
    let mut counts = BTreeMap::new();
    let lists = Lists::read(dir, &mut report)?;

    let mut complete = true;
    for (name, columns) in REQUIRED {
        match read::csv_header(dir, name)? {
            Some(t) => complete &= t.require(columns, &mut report),
            None => {
                complete = false;
                report.push(Issue::error(
                    &format!("{name}.csv"),
                    0,
                    "",
                    "fichier obligatoire absent de la livraison",
                ));
            }
        }
    }
    if !complete {
        // Without every required table, references cannot be checked.
        return Ok(Delivery {
            plant: Plant::default(),
            report,
            counts,
        });
    }
    let mut plant = Plant::default();

    let places = places::Places::read(dir, &mut report, &mut counts)?;
    let owned = take(dir, "t_sitetech", &lists, &mut report, &mut counts)?;
    let tb = &owned;
    plant.sites = by_code(tb, "st_code", &mut report, |r, code, rep| Site {
        code: code.into(),
        label: tb.get(r, "st_nom").into(),
        kind: tb.get(r, "st_typelog").into(),
        point: places.node(tb, r, "st_nd_code", rep),
    });

    drop(owned);
    let owned = take(dir, "t_ltech", &lists, &mut report, &mut counts)?;
    let tb = &owned;
    plant.rooms = by_code(tb, "lt_code", &mut report, |r, code, _| Room {
        code: code.into(),
        site: tb.get(r, "lt_st_code").into(),
    });
    for row in &tb.rows {
        if !plant.sites.contains_key(tb.get(row, "lt_st_code")) {
            dangling(&mut report, tb, row, "lt_st_code", "t_sitetech");
        }
    }

    drop(owned);
    let owned = take(dir, "t_baie", &lists, &mut report, &mut counts)?;
    let tb = &owned;
    plant.racks = by_code(tb, "ba_code", &mut report, |r, code, _| Rack {
        code: code.into(),
        room: tb.get(r, "ba_lt_code").into(),
    });
    for row in &tb.rows {
        if !plant.rooms.contains_key(tb.get(row, "ba_lt_code")) {
            dangling(&mut report, tb, row, "ba_lt_code", "t_ltech");
        }
    }

    drop(owned);
    let owned = take(dir, "t_tiroir", &lists, &mut report, &mut counts)?;
    let tb = &owned;
    plant.drawers = by_code(tb, "ti_code", &mut report, |r, code, _| Drawer {
        code: code.into(),
        label: tb.get(r, "ti_etiquet").into(),
        rack: tb.get(r, "ti_ba_code").into(),
    });
    for row in &tb.rows {
        if !plant.racks.contains_key(tb.get(row, "ti_ba_code")) {
            dangling(&mut report, tb, row, "ti_ba_code", "t_baie");
        }
    }

    addresses(dir, &mut plant, &mut report, &mut counts)?;

    // Premises are optional in a delivery, but an outlet that names one
    // needs it.
    if let Some(sf) = read::csv_table(dir, "t_suf", &mut report)? {
        counts.insert(sf.file.clone(), sf.rows.len());
        if sf.require(&["sf_code", "sf_ad_code"], &mut report) {
            plant.sufs = by_code(&sf, "sf_code", &mut report, |r, code, _| Suf {
                code: code.into(),
                address: opt(sf.get(r, "sf_ad_code")),
            });
            if !plant.addresses.is_empty() {
                for row in &sf.rows {
                    let ad = sf.get(row, "sf_ad_code");
                    if !ad.is_empty() && !plant.addresses.contains_key(ad) {
                        dangling(&mut report, &sf, row, "sf_ad_code", "t_adresse");
                    }
                }
            }
        }
    }

    drop(owned);
    let owned = take(dir, "t_ebp", &lists, &mut report, &mut counts)?;
    let tb = &owned;
    plant.enclosures = by_code(tb, "bp_code", &mut report, |r, code, rep| Enclosure {
        code: code.into(),
        label: tb.get(r, "bp_etiquet").into(),
        kind: tb.get(r, "bp_typelog").into(),
        suf: opt(tb.get(r, "bp_sf_code")),
        point: places.ptech(tb, r, "bp_pt_code", rep),
    });
    for row in &tb.rows {
        let sf = tb.get(row, "bp_sf_code");
        if !sf.is_empty() && !plant.sufs.contains_key(sf) {
            dangling(&mut report, tb, row, "bp_sf_code", "t_suf");
        }
    }

    drop(owned);
    let owned = take(dir, "t_cassette", &lists, &mut report, &mut counts)?;
    let tb = &owned;
    plant.cassettes = by_code(tb, "cs_code", &mut report, |r, code, _| Cassette {
        code: code.into(),
        enclosure: tb.get(r, "cs_bp_code").into(),
    });
    for row in &tb.rows {
        if !plant.enclosures.contains_key(tb.get(row, "cs_bp_code")) {
            dangling(&mut report, tb, row, "cs_bp_code", "t_ebp");
        }
    }

    drop(owned);
    let owned = take(dir, "t_cable", &lists, &mut report, &mut counts)?;
    let tb = &owned;
    plant.cables = by_code(tb, "cb_code", &mut report, |r, code, rep| Cable {
        code: code.into(),
        label: tb.get(r, "cb_etiquet").into(),
        capacity: uint(tb, r, "cb_capafo", rep),
        length_m: metres(tb, r, "cb_lgreel", rep),
        path: match (
            places.node(tb, r, "cb_nd1", rep),
            places.node(tb, r, "cb_nd2", rep),
        ) {
            (Some(a), Some(b)) => vec![a, b],
            _ => Vec::new(),
        },
    });
    cable_lengths_from_lines(dir, &mut plant, &mut report, &mut counts)?;
    // Lengths are kept to the millimetre, as stored, so that a plant read
    // from a delivery and the same plant read back from the database agree.
    for c in plant.cables.values_mut() {
        c.length_m = c.length_m.map(|m| (m * 1000.0).round() / 1000.0);
    }

    drop(owned);
    fibres(dir, &lists, &mut plant, &mut report, &mut counts)?;
    positions(dir, &lists, &mut plant, &mut report, &mut counts)?;
    // In code order, as the database returns them, so that a plant read
    // from a delivery and read back from storage are the same.
    plant.positions.sort_by(|a, b| a.code.cmp(&b.code));

    if let Some(rt) = read::csv_table(dir, "t_ropt", &mut report)? {
        counts.insert(rt.file.clone(), rt.rows.len());
        if rt.require(&["rt_code", "rt_fo_code"], &mut report) {
            routes(&rt, &mut plant, &mut report);
        }
    }
    plant.index();
    crate::extension::load(dir, &mut plant, &mut report, &mut counts)?;
    check_route_continuity(&plant, &mut report, dir)?;
    Ok(Delivery {
        plant,
        report,
        counts,
    })
}

fn addresses(
    dir: Source<'_>,
    plant: &mut Plant,
    report: &mut Report,
    counts: &mut BTreeMap<String, usize>,
) -> Result<(), Error> {
    // The shapefile of GraceTHD's shpcsv form; else a CSV with the BAN
    // coordinates columns (as Régie's generator writes).
    let (ad, shapes) = match read::shapefile_table(dir, "t_adresse")? {
        Some(t) => t,
        None => match read::csv_table(dir, "t_adresse", report)? {
            Some(t) => {
                let n = t.rows.len();
                (t, vec![read::Shape::default(); n])
            }
            None => return Ok(()),
        },
    };
    counts.insert(ad.file.clone(), ad.rows.len());
    if !ad.require(&["ad_code"], report) {
        return Ok(());
    }
    let mut seen: HashMap<Code, u64> = HashMap::default();
    let mut items = Vec::with_capacity(ad.rows.len());
    for (row, shape) in ad.rows.iter().zip(shapes) {
        let code = ad.get(row, "ad_code");
        if code.is_empty() {
            report.push(Issue::error(&ad.file, row.line, "ad_code", "code vide"));
            continue;
        }
        if let Some(first) = seen.insert(code.into(), row.line) {
            report.push(Issue::error(
                &ad.file,
                row.line,
                "ad_code",
                &format!("code « {code} » en double (déjà ligne {first})"),
            ));
            continue;
        }
        let hexacle = match ad.get(row, "ad_hexacle") {
            "" => None,
            h => match crate::address::Hexacle::parse(h) {
                Ok(h) => Some(h),
                Err(e) => {
                    report.push(Issue::warning(
                        &ad.file,
                        row.line,
                        "ad_hexacle",
                        &format!("{e} ; ignoré"),
                    ));
                    None
                }
            },
        };
        let count = |col: &str| ad.get(row, col).parse::<u32>().unwrap_or(0);
        // The point geometry, else the BAN coordinates columns.
        let point = shape.point.or_else(|| {
            let x = ad
                .get(row, "ad_x_ban")
                .replace(',', ".")
                .parse::<f64>()
                .ok()?;
            let y = ad
                .get(row, "ad_y_ban")
                .replace(',', ".")
                .parse::<f64>()
                .ok()?;
            Some((x, y))
        });
        items.push(crate::plant::Address {
            code: code.into(),
            ban_id: opt(ad.get(row, "ad_ban_id")),
            number: opt(ad.get(row, "ad_numero")),
            repetition: opt(ad.get(row, "ad_rep")),
            street: ad.get(row, "ad_nomvoie").into(),
            insee: ad.get(row, "ad_insee").into(),
            postcode: ad.get(row, "ad_postal").into(),
            commune: ad.get(row, "ad_commune").into(),
            hexacle,
            dwellings: count("ad_nblhab") + count("ad_nblpro"),
            state: ad.get(row, "ad_ietat").into(),
            x_cm: point.map(|p| (p.0 * 100.0).round() as i64),
            y_cm: point.map(|p| (p.1 * 100.0).round() as i64),
        });
    }
    plant.addresses = CodeMap::from_vec(items);
    Ok(())
}

fn cable_lengths_from_lines(
    dir: Source<'_>,
    plant: &mut Plant,
    report: &mut Report,
    counts: &mut BTreeMap<String, usize>,
) -> Result<(), Error> {
    let Some((cl, geometry)) = read::shapefile_table(dir, "t_cableline")? else {
        return Ok(());
    };
    counts.insert(cl.file.clone(), cl.rows.len());
    let mut sums: HashMap<Code, f64> = HashMap::default();
    // The vertices of each cable's lines, end to end, in file order.
    let mut paths: HashMap<Code, Vec<Xy>> = HashMap::default();
    for (row, geo) in cl.rows.iter().zip(geometry) {
        let cb = cl.get(row, "cl_cb_code");
        if cb.is_empty() {
            continue;
        }
        if !plant.cables.contains_key(cb) {
            dangling(report, &cl, row, "cl_cb_code", "t_cable");
            continue;
        }
        let declared = metres(&cl, row, "cl_long", report).filter(|m| *m > 0.0);
        if let Some(m) = declared.or(geo.length) {
            *sums.entry(cb.into()).or_default() += m;
        }
        let path = paths.entry(cb.into()).or_default();
        for p in geo.line.iter().map(|p| Xy::from_metres(*p)) {
            if path.last() != Some(&p) {
                path.push(p);
            }
        }
    }
    for (code, path) in paths {
        if let Some(c) = plant.cables.get_mut(&code) {
            if path.len() >= 2 {
                c.path = path;
            }
        }
    }
    for (code, m) in sums {
        if let Some(c) = plant.cables.get_mut(&code) {
            if c.length_m.is_none() {
                c.length_m = Some(m);
            }
        }
    }
    Ok(())
}

/// Reads `t_fibre` row by row (with `t_position` the largest table: some
/// four million rows for a department) into the plant's fibres. A fibre
/// whose cable is unknown is reported, and kept (so that what refers to it
/// is not reported again) only while the report lists problems: a delivery
/// of millions of such rows costs no memory beyond its report.
fn fibres(
    dir: Source<'_>,
    lists: &Lists,
    plant: &mut Plant,
    report: &mut Report,
    counts: &mut BTreeMap<String, usize>,
) -> Result<(), Error> {
    let expected = read::csv_line_count(dir, "t_fibre");
    let mut lines: HashMap<Code, u64> = HashMap::default();
    lines.reserve(expected);
    let mut items = Vec::with_capacity(expected);
    let cables = &plant.cables;
    let rows = read::csv_rows(dir, "t_fibre", report, &mut |tb, r, report| {
        lists.check(tb, r, report);
        let code = tb.get(r, "fo_code");
        if code.is_empty() {
            report.push(Issue::error(&tb.file, r.line, "fo_code", "code vide"));
            return;
        }
        if !cables.contains_key(tb.get(r, "fo_cb_code")) {
            dangling(report, tb, r, "fo_cb_code", "t_cable");
            if report.is_full() {
                return;
            }
        }
        if let Some(first) = lines.get(code) {
            report.push(Issue::error(
                &tb.file,
                r.line,
                "fo_code",
                &format!("code « {code} » en double (déjà ligne {first})"),
            ));
            return;
        }
        let code = Code::from(code);
        lines.insert(code.clone(), r.line);
        items.push(Fibre {
            code,
            cable: tb.get(r, "fo_cb_code").into(),
            number: uint(tb, r, "fo_nincab", report),
            tube: uint(tb, r, "fo_numtub", report),
            in_tube: uint(tb, r, "fo_nintub", report),
            color: tb.get(r, "fo_color").into(),
        });
    })?;
    drop(lines);
    counts.insert("t_fibre.csv".into(), rows.unwrap_or(0));
    plant.fibres = CodeMap::from_vec(items);
    Ok(())
}

/// Reads `t_position` row by row (it is the largest table) into the
/// plant's positions, checking each.
fn positions(
    dir: Source<'_>,
    lists: &Lists,
    plant: &mut Plant,
    report: &mut Report,
    counts: &mut BTreeMap<String, usize>,
) -> Result<(), Error> {
    let expected = read::csv_line_count(dir, "t_position");
    let mut checker = PositionChecker::new(expected);
    plant.positions.reserve_exact(expected);
    let rows = read::csv_rows(dir, "t_position", report, &mut |tb, row, report| {
        lists.check(tb, row, report);
        checker.row(tb, row, plant, report);
    })?;
    counts.insert("t_position.csv".into(), rows.unwrap_or(0));
    plant.positions.shrink_to_fit();
    Ok(())
}

/// The checks across the rows of `t_position`. They index the positions
/// already kept (by number) rather than copy their codes and fibres into
/// maps: on a large delivery those copies were a quarter of the memory of
/// an import.
struct PositionChecker {
    /// Kept positions by code.
    codes: hashbrown::HashTable<u32>,
    /// Codes of the rows not kept, with their line.
    skipped: HashMap<Code, u64>,
    /// Kept positions with the same container and fibres: exact duplicates.
    joints: hashbrown::HashTable<u32>,
    /// Kept positions by output fibre: a fibre fed twice from different
    /// inputs is a contradiction.
    outputs: hashbrown::HashTable<u32>,
    /// The line of each kept position, for messages.
    lines: Vec<u64>,
}

fn joint_hash(p: &Position) -> u64 {
    fx((&p.container, &p.input, &p.output))
}

impl PositionChecker {
    fn new(capacity: usize) -> Self {
        Self {
            codes: hashbrown::HashTable::with_capacity(capacity),
            skipped: HashMap::default(),
            joints: hashbrown::HashTable::with_capacity(capacity),
            outputs: hashbrown::HashTable::with_capacity(capacity),
            lines: Vec::with_capacity(capacity),
        }
    }

    /// The line of an earlier row with this code, kept or not.
    fn first_line(&self, kept: &[Position], code: &str) -> Option<u64> {
        self.codes
            .find(fx(code), |i| kept[*i as usize].code == code)
            .map(|i| self.lines[*i as usize])
            .or_else(|| self.skipped.get(code).copied())
    }

    fn row(&mut self, tb: &Table, row: &Row, plant: &mut Plant, report: &mut Report) {
        let code = tb.get(row, "ps_code");
        if code.is_empty() {
            report.push(Issue::error(&tb.file, row.line, "ps_code", "code vide"));
            return;
        }
        if let Some(first) = self.first_line(&plant.positions, code) {
            report.push(Issue::error(
                &tb.file,
                row.line,
                "ps_code",
                &format!("code « {code} » en double (déjà ligne {first})"),
            ));
            return;
        }
        match self.check(tb, row, code, plant, report) {
            Some(position) => {
                let kept = &plant.positions;
                let index = u32::try_from(kept.len()).unwrap_or(u32::MAX);
                self.codes
                    .insert_unique(fx(code), index, |i| fx(&kept[*i as usize].code));
                self.joints
                    .insert_unique(joint_hash(&position), index, |i| {
                        joint_hash(&kept[*i as usize])
                    });
                if let Some(out) = &position.output {
                    let known = |i: &u32| kept[*i as usize].output.as_ref() == Some(out);
                    if self.outputs.find(fx(out), known).is_none() {
                        self.outputs.insert_unique(fx(out), index, |i| {
                            fx(kept[*i as usize].output.as_deref().unwrap_or_default())
                        });
                    }
                }
                self.lines.push(row.line);
                plant.positions.push(position);
            }
            None => {
                self.skipped.insert(code.into(), row.line);
            }
        }
    }

    /// Checks a row; the position to keep, if it is to be kept.
    fn check(
        &self,
        tb: &Table,
        row: &Row,
        code: &str,
        plant: &Plant,
        report: &mut Report,
    ) -> Option<Position> {
        let input = opt(tb.get(row, "ps_1"));
        let output = opt(tb.get(row, "ps_2"));
        let mut ok = true;
        for (col, fibre) in [("ps_1", &input), ("ps_2", &output)] {
            if let Some(f) = fibre {
                if !plant.fibres.contains_key(f) {
                    dangling(report, tb, row, col, "t_fibre");
                    ok = false;
                }
            }
        }
        if input.is_some() && input == output {
            report.push(Issue::error(
                &tb.file,
                row.line,
                "ps_2",
                "la position relie une fibre à elle-même",
            ));
            ok = false;
        }
        let (cs, ti) = (tb.get(row, "ps_cs_code"), tb.get(row, "ps_ti_code"));
        let container = match (cs.is_empty(), ti.is_empty()) {
            (false, true) if plant.cassettes.contains_key(cs) => Container::Cassette(cs.into()),
            (true, false) if plant.drawers.contains_key(ti) => Container::Drawer(ti.into()),
            (false, true) => {
                dangling(report, tb, row, "ps_cs_code", "t_cassette");
                return None;
            }
            (true, false) => {
                dangling(report, tb, row, "ps_ti_code", "t_tiroir");
                return None;
            }
            _ => {
                report.push(Issue::error(
                    &tb.file,
                    row.line,
                    "ps_cs_code",
                    "une position est dans une cassette ou dans un tiroir, exactement un des deux",
                ));
                return None;
            }
        };
        let preaff = opt(tb.get(row, "ps_preaff"));
        if let Some(sf) = &preaff {
            if !plant.sufs.is_empty() && !plant.sufs.contains_key(sf) {
                dangling(report, tb, row, "ps_preaff", "t_suf");
            }
        }
        if !ok {
            return None;
        }
        let kind = Code::from(tb.get(row, "ps_type"));
        let joint = if kind.starts_with('C') || tb.get(row, "ps_fonct") == "CO" {
            Joint::Connector
        } else {
            Joint::Splice
        };
        let position = Position {
            code: code.into(),
            input,
            output,
            container,
            joint,
            kind,
            preaff,
        };
        let kept = &plant.positions;
        let same_joint = |i: &u32| {
            let k = &kept[*i as usize];
            k.container == position.container
                && k.input == position.input
                && k.output == position.output
        };
        if let Some(first) = self.joints.find(joint_hash(&position), same_joint) {
            report.push(Issue::warning(
                &tb.file,
                row.line,
                "ps_code",
                &format!(
                    "position en double : mêmes fibres et même contenant que la ligne {} ; ignorée",
                    self.lines[*first as usize]
                ),
            ));
            return None;
        }
        if let Some(out) = &position.output {
            let same_output = |i: &u32| kept[*i as usize].output.as_ref() == Some(out);
            if let Some(first) = self.outputs.find(fx(out), same_output) {
                if kept[*first as usize].input != position.input {
                    report.push(Issue::error(
                            &tb.file,
                            row.line,
                            "ps_2",
                            &format!(
                                "la fibre {out} est déjà une sortie à la ligne {}, depuis une autre fibre",
                                self.lines[*first as usize]
                            ),
                        ));
                    return None;
                }
            }
        }
        Some(position)
    }
}

fn routes(tb: &Table, plant: &mut Plant, report: &mut Report) {
    // Order by rt_fo_ordr when given, else by the order of the rows.
    let mut by_route: BTreeMap<String, Vec<(u64, u64, String)>> = BTreeMap::new();
    for row in &tb.rows {
        let code = tb.get(row, "rt_code");
        let fibre = tb.get(row, "rt_fo_code");
        if code.is_empty() || fibre.is_empty() {
            report.push(Issue::error(
                &tb.file,
                row.line,
                if code.is_empty() {
                    "rt_code"
                } else {
                    "rt_fo_code"
                },
                "valeur obligatoire vide",
            ));
            continue;
        }
        if !plant.fibres.contains_key(fibre) {
            dangling(report, tb, row, "rt_fo_code", "t_fibre");
            continue;
        }
        let order = uint(tb, row, "rt_fo_ordr", report)
            .map(u64::from)
            .unwrap_or(u64::MAX);
        by_route
            .entry(code.to_owned())
            .or_default()
            .push((order, row.line, fibre.to_owned()));
    }
    for (code, mut fibres) in by_route {
        fibres.sort();
        plant
            .routes
            .insert(code, fibres.into_iter().map(|(_, _, f)| f).collect());
    }
}

/// A stored route whose consecutive fibres are not joined by a position has
/// a gap: warn, naming the route and the first row after the gap.
fn check_route_continuity(
    plant: &Plant,
    report: &mut Report,
    dir: Source<'_>,
) -> Result<(), Error> {
    let Some(rt) = read::csv_table(dir, "t_ropt", &mut Report::default())? else {
        return Ok(());
    };
    for (code, fibres) in &plant.routes {
        for pair in fibres.windows(2) {
            let (down, up) = (&pair[0], &pair[1]);
            let joined = plant.feeding(down).and_then(|p| p.input.as_deref()) == Some(up.as_str())
                || plant.feeding(up).and_then(|p| p.input.as_deref()) == Some(down.as_str());
            if !joined {
                let line = rt
                    .rows
                    .iter()
                    .find(|r| rt.get(r, "rt_code") == code && rt.get(r, "rt_fo_code") == up)
                    .map(|r| r.line)
                    .unwrap_or(0);
                let missing = plant.feeding(down).and_then(|p| p.input.clone());
                let reason = match missing {
                    Some(m) => format!("route {code} : aucune position ne relie {down} à {up} (fibre {m} manquante ?)"),
                    None => format!("route {code} : aucune position ne relie {down} à {up}"),
                };
                report.push(Issue::warning(&rt.file, line, "rt_fo_code", &reason));
            }
        }
    }
    Ok(())
}
