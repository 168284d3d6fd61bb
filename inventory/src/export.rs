//! Exports: an address file with IPE column names, and GeoJSON (WGS84).

use serde_json::json;

use crate::capacity::{eligibility, Eligibility};
use crate::plant::{Plant, Xy};
use crate::Error;
use rustc_hash::FxHashMap as HashMap;

/// The columns of the `t_adresse` Régie writes (and reads back): the
/// GraceTHD names, coordinates also in the BAN columns.
pub const ADDRESS_COLUMNS: &[&str] = &[
    "ad_code",
    "ad_ban_id",
    "ad_numero",
    "ad_rep",
    "ad_nomvoie",
    "ad_insee",
    "ad_postal",
    "ad_commune",
    "ad_hexacle",
    "ad_nblhab",
    "ad_nblpro",
    "ad_ietat",
    "ad_x_ban",
    "ad_y_ban",
];

/// IPE columns written: the Interop'Fibre IPE fields the plant can fill
/// (the address, its building, its PM with its position, its PBO).
pub const IPE_COLUMNS: &[&str] = &[
    "IdentifiantImmeuble",
    "CodeAdresseImmeuble",
    "EtatImmeuble",
    "CodeInseeImmeuble",
    "CodePostalImmeuble",
    "CommuneImmeuble",
    "NumeroVoieImmeuble",
    "ComplementNumeroVoieImmeuble",
    "NomVoieImmeuble",
    "IdentifiantBAN",
    "TypeImmeuble",
    "TypeProjectionGeographique",
    "CoordonneeImmeubleX",
    "CoordonneeImmeubleY",
    "ReferencePM",
    "EtatPM",
    "TypeEmplacementPM",
    "CoordonneePMX",
    "CoordonneePMY",
    "TypePBO",
    "NombreLogementsAdresseIPE",
];

/// Lambert-93 in the IPE's notation.
const IPE_PROJECTION: &str = "EPSG:2154";

/// One address's PM reference and PBO type, from its premises.
fn pm_and_pbo(plant: &Plant, address: &str) -> (String, String, &'static str) {
    let mut pm = String::new();
    let mut pbo = "";
    let mut state = "";
    for suf in plant.premises_at(address) {
        match eligibility(plant, suf) {
            Ok(Eligibility::Connectable { pm: Some(p), .. }) => {
                pm = p;
                pbo = "PBO";
                state = "DEPLOYE";
            }
            Ok(Eligibility::DropToBuild { pm: Some(p), .. }) if pm.is_empty() => {
                pm = p;
                pbo = "PBO";
                state = "DEPLOYE";
            }
            _ => {}
        }
    }
    if pm.is_empty() {
        state = "";
    }
    (pm, state.to_owned(), pbo)
}

/// The address file, `;`-separated UTF-8 with a header line.
pub fn ipe_csv(plant: &Plant) -> Result<String, Error> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    let io = |e: csv::Error| Error::Invalid(format!("export : {e}"));
    w.write_record(IPE_COLUMNS).map_err(io)?;
    // PMs are named by their site's label in the traces.
    let pm_sites: HashMap<&str, &crate::plant::Site> = plant
        .sites
        .values()
        .filter(|s| s.kind != "NRO")
        .map(|s| (s.label.as_str(), s))
        .collect();
    let metres = |p: Option<Xy>| match p {
        Some(p) => (
            format!("{:.2}", p.x_cm as f64 / 100.0),
            format!("{:.2}", p.y_cm as f64 / 100.0),
        ),
        None => (String::new(), String::new()),
    };
    for a in plant.addresses.values() {
        let (pm, pm_state, pbo) = pm_and_pbo(plant, &a.code);
        let at = match (a.x_cm, a.y_cm) {
            (Some(x_cm), Some(y_cm)) => Some(Xy { x_cm, y_cm }),
            _ => None,
        };
        let (x, y) = metres(at);
        let pm_site = pm_sites.get(pm.as_str());
        let (pm_x, pm_y) = metres(pm_site.and_then(|s| s.point));
        // A building of several dwellings is an "immeuble", one a "pavillon".
        let building = match a.dwellings {
            0 => "",
            1 => "PAVILLON",
            _ => "IMMEUBLE",
        };
        let projection = if at.is_some() || pm_site.is_some_and(|s| s.point.is_some()) {
            IPE_PROJECTION
        } else {
            ""
        };
        // Régie's PMs stand outside (street cabinets, the NRO's room).
        let pm_place = if pm.is_empty() { "" } else { "PME" };
        w.write_record([
            a.code.as_str(),
            a.hexacle.as_ref().map(|h| h.as_str()).unwrap_or(""),
            a.state.as_str(),
            a.insee.as_str(),
            a.postcode.as_str(),
            a.commune.as_str(),
            a.number.as_deref().unwrap_or(""),
            a.repetition.as_deref().unwrap_or(""),
            a.street.as_str(),
            a.ban_id.as_deref().unwrap_or(""),
            building,
            projection,
            &x,
            &y,
            &pm,
            &pm_state,
            pm_place,
            &pm_x,
            &pm_y,
            pbo,
            &a.dwellings.to_string(),
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Invalid(format!("export : {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Invalid(format!("export : {e}")))
}

/// Addresses as a GeoJSON FeatureCollection in WGS84 (RFC 7946), with their
/// eligibility, for maps.
pub fn addresses_geojson(plant: &Plant) -> serde_json::Value {
    json!({ "type": "FeatureCollection", "features": address_features(plant) })
}

/// The whole plant as a GeoJSON FeatureCollection in WGS84 (RFC 7946):
/// sites and boxes as points, cables as lines, addresses as points with
/// the eligibility of their premises. Each feature's `layer` property says
/// which (`site`, `box`, `cable`, `address`); what has no position is left
/// out.
pub fn plant_geojson(plant: &Plant) -> serde_json::Value {
    let point = |p: Xy| {
        let (lon, lat) = p.wgs84();
        json!({ "type": "Point", "coordinates": [round6(lon), round6(lat)] })
    };
    let feature = |geometry: serde_json::Value, properties: serde_json::Value| json!({ "type": "Feature", "geometry": geometry, "properties": properties });
    let mut features = Vec::new();
    for s in plant.sites.values() {
        if let Some(p) = s.point {
            features.push(feature(
                point(p),
                json!({ "layer": "site", "code": s.code, "label": s.label, "kind": s.kind }),
            ));
        }
    }
    for e in plant.enclosures.values() {
        if let Some(p) = e.point {
            features.push(feature(
                point(p),
                json!({ "layer": "box", "code": e.code, "label": e.label, "kind": e.kind }),
            ));
        }
    }
    for c in plant.cables.values().filter(|c| c.path.len() >= 2) {
        let coordinates: Vec<[f64; 2]> = c
            .path
            .iter()
            .map(|p| {
                let (lon, lat) = p.wgs84();
                [round6(lon), round6(lat)]
            })
            .collect();
        features.push(feature(
            json!({ "type": "LineString", "coordinates": coordinates }),
            json!({
                "layer": "cable", "code": c.code, "label": c.label,
                "capacity": c.capacity, "length_m": c.length_m,
            }),
        ));
    }
    features.extend(address_features(plant));
    json!({ "type": "FeatureCollection", "features": features })
}

/// The addresses with a position, as GeoJSON features.
fn address_features(plant: &Plant) -> Vec<serde_json::Value> {
    plant
        .addresses
        .values()
        .filter_map(|a| {
            let (lon, lat) = a.wgs84()?;
            let statuses: Vec<&str> = plant
                .premises_at(&a.code)
                .map(|s| match eligibility(plant, s) {
                    Ok(Eligibility::Connectable { .. }) => "connectable",
                    Ok(Eligibility::DropToBuild { .. }) => "drop_to_build",
                    _ => "not_covered",
                })
                .collect();
            Some(json!({
                "type": "Feature",
                "geometry": { "type": "Point", "coordinates": [round6(lon), round6(lat)] },
                "properties": {
                    "layer": "address",
                    "code": a.code,
                    "hexacle": a.hexacle.as_ref().map(|h| h.as_str()),
                    "label": a.label(),
                    "dwellings": a.dwellings,
                    "premises": statuses,
                }
            }))
        })
        .collect()
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The nodes and technical points an export gives the plant's positions,
/// one node per distinct position.
#[derive(Default)]
struct Nodes {
    by_point: HashMap<Xy, String>,
    points: Vec<(Xy, String)>,
    ptech: Vec<(String, String)>,
}

impl Nodes {
    /// The node at a position (made on first use); empty without one.
    fn code(&mut self, point: Option<Xy>) -> String {
        let Some(p) = point else {
            return String::new();
        };
        if let Some(code) = self.by_point.get(&p) {
            return code.clone();
        }
        let code = format!("ND{:012}", self.points.len() + 1);
        self.by_point.insert(p, code.clone());
        self.points.push((p, code.clone()));
        code
    }

    /// A technical point on the node at a position; empty without one.
    fn technical_point(&mut self, point: Option<Xy>) -> String {
        if point.is_none() {
            return String::new();
        }
        let node = self.code(point);
        let code = format!("PT{:012}", self.ptech.len() + 1);
        self.ptech.push((code.clone(), node));
        code
    }

    /// Writes `t_noeud` and `t_ptech`, when there is a position at all.
    fn write(self, dir: &std::path::Path) -> Result<(), Error> {
        if self.points.is_empty() {
            return Ok(());
        }
        crate::gracethd::write::points(
            dir,
            "t_noeud",
            &["nd_code"],
            self.points.into_iter().map(|(p, code)| (p, vec![code])),
        )?;
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(Vec::new());
        let io = |e: csv::Error| Error::Invalid(format!("export t_ptech.csv : {e}"));
        w.write_record(["pt_code", "pt_nd_code"]).map_err(io)?;
        for (pt, nd) in &self.ptech {
            w.write_record([pt, nd]).map_err(io)?;
        }
        let bytes = w.into_inner().map_err(|e| Error::Invalid(e.to_string()))?;
        let path = dir.join("t_ptech.csv");
        std::fs::write(&path, bytes).map_err(|e| Error::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }
}

/// Writes the plant as a GraceTHD v2.0.1 "shpcsv" delivery (`;`-separated
/// Latin-1 CSV, the columns this importer reads, value lists of the codes
/// used) plus the Régie extension files, so that exporting and re-importing
/// gives the same plant. Cable lengths go to `cb_lgreel`; addresses to the
/// `t_adresse` point shapefile (or, when one lacks a position, to
/// `t_adresse.csv` with the coordinates in the BAN columns).
/// Positions go to `t_noeud` (a point shapefile) through `st_nd_code`,
/// `bp_pt_code` → `t_ptech`, and a cable's two ends (`cb_nd1`, `cb_nd2`);
/// a cable path of more than two vertices to `t_cableline`.
pub fn gracethd(plant: &Plant, dir: &std::path::Path) -> Result<(), Error> {
    use std::collections::BTreeSet;
    std::fs::create_dir_all(dir).map_err(|e| Error::Unreadable {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let write = |name: &str, header: &[&str], rows: Vec<Vec<String>>| -> Result<(), Error> {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(Vec::new());
        let io = |e: csv::Error| Error::Invalid(format!("export {name} : {e}"));
        w.write_record(header).map_err(io)?;
        for r in rows {
            w.write_record(&r).map_err(io)?;
        }
        let text = String::from_utf8(w.into_inner().map_err(|e| Error::Invalid(e.to_string()))?)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
        let path = dir.join(name);
        std::fs::write(&path, &bytes).map_err(|e| Error::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    };
    fn o<S: AsRef<str>>(v: &Option<S>) -> String {
        v.as_ref()
            .map(|s| s.as_ref().to_owned())
            .unwrap_or_default()
    }
    let n = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_default();
    let mut nodes = Nodes::default();
    write(
        "t_sitetech.csv",
        &["st_code", "st_nom", "st_typelog", "st_nd_code"],
        plant
            .sites
            .values()
            .map(|s| {
                vec![
                    s.code.to_string(),
                    s.label.to_string(),
                    s.kind.to_string(),
                    nodes.code(s.point),
                ]
            })
            .collect(),
    )?;
    write(
        "t_ltech.csv",
        &["lt_code", "lt_st_code"],
        plant
            .rooms
            .values()
            .map(|r| vec![r.code.to_string(), r.site.to_string()])
            .collect(),
    )?;
    write(
        "t_baie.csv",
        &["ba_code", "ba_lt_code"],
        plant
            .racks
            .values()
            .map(|r| vec![r.code.to_string(), r.room.to_string()])
            .collect(),
    )?;
    write(
        "t_tiroir.csv",
        &["ti_code", "ti_etiquet", "ti_ba_code"],
        plant
            .drawers
            .values()
            .map(|d| vec![d.code.to_string(), d.label.to_string(), d.rack.to_string()])
            .collect(),
    )?;
    write(
        "t_ebp.csv",
        &[
            "bp_code",
            "bp_etiquet",
            "bp_typelog",
            "bp_sf_code",
            "bp_pt_code",
        ],
        plant
            .enclosures
            .values()
            .map(|e| {
                vec![
                    e.code.to_string(),
                    e.label.to_string(),
                    e.kind.to_string(),
                    o(&e.suf),
                    nodes.technical_point(e.point),
                ]
            })
            .collect(),
    )?;
    write(
        "t_cassette.csv",
        &["cs_code", "cs_bp_code"],
        plant
            .cassettes
            .values()
            .map(|c| vec![c.code.to_string(), c.enclosure.to_string()])
            .collect(),
    )?;
    write(
        "t_cable.csv",
        &[
            "cb_code",
            "cb_etiquet",
            "cb_capafo",
            "cb_lgreel",
            "cb_nd1",
            "cb_nd2",
        ],
        plant
            .cables
            .values()
            .map(|c| {
                let ends = match c.path.as_slice() {
                    [a, b] => [nodes.code(Some(*a)), nodes.code(Some(*b))],
                    _ => Default::default(),
                };
                let [nd1, nd2] = ends;
                vec![
                    c.code.to_string(),
                    c.label.to_string(),
                    n(c.capacity),
                    c.length_m.map(|m| format!("{m:.3}")).unwrap_or_default(),
                    nd1,
                    nd2,
                ]
            })
            .collect(),
    )?;
    nodes.write(dir)?;
    let lines: Vec<_> = plant
        .cables
        .values()
        .filter(|c| c.path.len() > 2)
        .enumerate()
        .map(|(i, c)| {
            (
                c.path.clone(),
                vec![format!("CL{:012}", i + 1), c.code.to_string()],
            )
        })
        .collect();
    if !lines.is_empty() {
        crate::gracethd::write::lines(dir, "t_cableline", &["cl_code", "cl_cb_code"], lines)?;
    }
    write(
        "t_fibre.csv",
        crate::gracethd::FIBRE_COLUMNS,
        plant
            .fibres
            .values()
            .map(|f| {
                vec![
                    f.code.to_string(),
                    f.cable.to_string(),
                    n(f.number),
                    n(f.tube),
                    n(f.in_tube),
                    f.color.to_string(),
                ]
            })
            .collect(),
    )?;
    write(
        "t_position.csv",
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
        plant
            .positions
            .iter()
            .map(|p| {
                let (cs, ti) = match &p.container {
                    crate::plant::Container::Cassette(c) => (c.to_string(), String::new()),
                    crate::plant::Container::Drawer(t) => (String::new(), t.to_string()),
                };
                let fonct = match p.joint {
                    crate::plant::Joint::Connector => "CO",
                    crate::plant::Joint::Splice => "EP",
                };
                vec![
                    p.code.to_string(),
                    o(&p.input),
                    o(&p.output),
                    cs,
                    ti,
                    p.kind.to_string(),
                    fonct.to_owned(),
                    o(&p.preaff),
                ]
            })
            .collect(),
    )?;
    write(
        "t_suf.csv",
        &["sf_code", "sf_ad_code"],
        plant
            .sufs
            .values()
            .map(|s| vec![s.code.to_string(), o(&s.address)])
            .collect(),
    )?;
    let mut routes = Vec::new();
    for (code, fibres) in &plant.routes {
        for (i, f) in fibres.iter().enumerate() {
            routes.push(vec![code.clone(), f.clone(), (i + 1).to_string()]);
        }
    }
    write(
        "t_ropt.csv",
        &["rt_code", "rt_fo_code", "rt_fo_ordr"],
        routes,
    )?;
    write(
        crate::extension::PON_FILE,
        crate::extension::PON_COLUMNS,
        plant
            .pon_ports
            .values()
            .map(|p| {
                vec![
                    p.code.clone(),
                    p.olt.clone(),
                    p.model.clone(),
                    p.site.clone(),
                    p.slot.to_string(),
                    p.port.to_string(),
                    p.class.label().to_owned(),
                    p.max_onts.to_string(),
                    p.fibre.clone(),
                ]
            })
            .collect(),
    )?;
    write(
        crate::extension::SPLITTER_FILE,
        &["fo_code_in", "ratio", "loss_db"],
        plant
            .splitters
            .values()
            .map(|s| {
                vec![
                    s.input.clone(),
                    s.ratio.to_string(),
                    s.loss
                        .map(|l| format!("{:.3}", l.as_db()))
                        .unwrap_or_default(),
                ]
            })
            .collect(),
    )?;
    let address_rows = plant.addresses.values().map(|a| {
        let coord = |c: Option<i64>| {
            c.map(|v| format!("{:.2}", v as f64 / 100.0))
                .unwrap_or_default()
        };
        let row = vec![
            a.code.to_string(),
            o(&a.ban_id),
            o(&a.number),
            o(&a.repetition),
            a.street.to_string(),
            a.insee.to_string(),
            a.postcode.to_string(),
            a.commune.to_string(),
            a.hexacle
                .as_ref()
                .map(|h| h.as_str().to_owned())
                .unwrap_or_default(),
            a.dwellings.to_string(),
            "0".to_owned(),
            a.state.to_string(),
            coord(a.x_cm),
            coord(a.y_cm),
        ];
        let point = match (a.x_cm, a.y_cm) {
            (Some(x_cm), Some(y_cm)) => Some(Xy { x_cm, y_cm }),
            _ => None,
        };
        (point, row)
    });
    // GraceTHD's form is a point shapefile; a shapefile cannot hold an
    // address without a position, so then the CSV form (which this
    // importer reads too) is written instead.
    let all_placed = !plant.addresses.is_empty()
        && plant
            .addresses
            .values()
            .all(|a| a.x_cm.is_some() && a.y_cm.is_some());
    if all_placed {
        crate::gracethd::write::points(
            dir,
            "t_adresse",
            ADDRESS_COLUMNS,
            address_rows.filter_map(|(p, row)| Some((p?, row))),
        )?;
    } else {
        write(
            "t_adresse.csv",
            ADDRESS_COLUMNS,
            address_rows.map(|(_, row)| row).collect(),
        )?;
    }
    // Value lists of the codes in use.
    let lists: [(&str, BTreeSet<String>); 5] = [
        (
            "l_site_type_log.csv",
            plant.sites.values().map(|s| s.kind.to_string()).collect(),
        ),
        (
            "l_bp_type_log.csv",
            plant
                .enclosures
                .values()
                .map(|e| e.kind.to_string())
                .collect(),
        ),
        (
            "l_position_type.csv",
            plant.positions.iter().map(|p| p.kind.to_string()).collect(),
        ),
        (
            "l_position_fonction.csv",
            ["CO".to_owned(), "EP".to_owned()].into_iter().collect(),
        ),
        (
            "l_fo_color.csv",
            plant.fibres.values().map(|f| f.color.to_string()).collect(),
        ),
    ];
    for (name, codes) in lists {
        write(
            name,
            &["code", "libelle", "definition"],
            codes
                .into_iter()
                .filter(|c| !c.is_empty())
                .map(|c| vec![c, String::new(), String::new()])
                .collect(),
        )?;
    }
    Ok(())
}
