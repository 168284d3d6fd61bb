//! Synthetic networks: a valid GraceTHD "shpcsv" delivery shaped like a
//! real RIP, identical for the same seed.
//!
//! Shape: one NRO; PMs of 300 to 1,000 premises, each fed by a feeder cable
//! from the NRO (2 to 12 km, and 18 to 24 km for about one PM in ten, so
//! that some paths exceed the GPON B+ budget); 1:32 or 1:64 splitters in a
//! PM drawer; distribution cables from the PM to splice closures (BPE),
//! cables from each BPE to its distribution boxes (PBO, 6 to 12 premises
//! each), and a drop cable from the PBO to each outlet (PTO). About one
//! premises in twenty-five has its PBO position reserved but no drop yet
//! ("drop to build"). The Régie extension files give the OLTs and PON ports
//! (patched to the feeder fibres at the NRO) and the splitter ratios.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::plant::Xy;
use crate::Error;

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Generated {
    pub premises: u32,
    pub outlets: u32,
    pub drops_to_build: u32,
    pub pms: u32,
    pub pon_ports: u32,
    pub fibres: u64,
    pub positions: u64,
}

struct Writer {
    w: csv::Writer<BufWriter<File>>,
}

impl Writer {
    fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Self, Error> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|e| Error::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(BufWriter::new(file));
        w.write_record(header).map_err(io)?;
        Ok(Self { w })
    }

    fn row(&mut self, fields: &[&str]) -> Result<(), Error> {
        self.w.write_record(fields).map_err(io)
    }

    fn finish(mut self) -> Result<(), Error> {
        self.w.flush().map_err(|e| io(e.into()))
    }
}

fn io(e: csv::Error) -> Error {
    Error::Unreadable {
        path: "generated delivery".into(),
        reason: e.to_string(),
    }
}

struct Files {
    sites: Writer,
    rooms: Writer,
    racks: Writer,
    drawers: Writer,
    boxes: Writer,
    cassettes: Writer,
    cables: Writer,
    fibres: Writer,
    positions: Writer,
    sufs: Writer,
    routes: Writer,
    pon: Writer,
    splitters: Writer,
    addresses: Writer,
    ptech: Writer,
}

/// Counters that make the codes: GraceTHD codes are two letters and
/// twelve digits.
#[derive(Default)]
struct Codes {
    n: [u64; 14],
}

impl Codes {
    fn next(&mut self, kind: usize, prefix: &str) -> String {
        self.n[kind] += 1;
        format!("{prefix}{:012}", self.n[kind])
    }
}

const ST: usize = 0;
const LT: usize = 1;
const BA: usize = 2;
const TI: usize = 3;
const BP: usize = 4;
const CS: usize = 5;
const CB: usize = 6;
const FO: usize = 7;
const PS: usize = 8;
const SF: usize = 9;
const AD: usize = 10;
const RT: usize = 11;
const ND: usize = 12;
const PT: usize = 13;

struct Gen {
    f: Files,
    codes: Codes,
    rng: ChaCha8Rng,
    out: Generated,
    routes_written: u32,
    /// Positions come from their own generator, so that the network's shape
    /// does not depend on them.
    geo: ChaCha8Rng,
    addresses: u32,
    /// The nodes (`t_noeud`), written as a shapefile at the end.
    nodes: Vec<(Xy, Vec<String>)>,
}

/// Where the generated town lies (Lambert-93, metres): central France.
const NRO_XY: (f64, f64) = (655_000.0, 6_680_000.0);
const STREETS: &[&str] = &[
    "RUE DES ECOLES",
    "RUE DE LA MAIRIE",
    "AVENUE DE LA GARE",
    "CHEMIN DES VIGNES",
    "RUE DU MOULIN",
    "PLACE DE L EGLISE",
    "ROUTE DE BOURGES",
    "RUE DES TILLEULS",
    "IMPASSE DES LILAS",
    "RUE PASTEUR",
    "ALLEE DES CHENES",
    "RUE VICTOR HUGO",
];

impl Gen {
    /// An address near its distribution box, with a hexaclé of the
    /// fictitious commune 99001.
    fn address(&mut self, code: &str, pbo: (f64, f64)) -> Result<(), Error> {
        self.addresses += 1;
        let n = self.addresses;
        let x = pbo.0 + self.geo.gen_range(-120.0..120.0);
        let y = pbo.1 + self.geo.gen_range(-120.0..120.0);
        let street = STREETS[(n as usize / 40) % STREETS.len()];
        let number = (n % 40 + 1).to_string();
        let mut key = String::new();
        let mut v = n;
        for _ in 0..5 {
            key.insert(
                0,
                char::from_digit(v % 36, 36)
                    .unwrap_or('0')
                    .to_ascii_uppercase(),
            );
            v /= 36;
        }
        self.f.addresses.row(&[
            code,
            &format!("99001_{n:07}"),
            &number,
            "",
            street,
            "99001",
            "99100",
            "REGIE-SUR-FIBRE",
            &format!("99001{key}"),
            "1",
            "0",
            "CI",
            &format!("{x:.2}"),
            &format!("{y:.2}"),
        ])
    }

    /// A node at a place.
    fn node(&mut self, xy: (f64, f64)) -> String {
        let nd = self.codes.next(ND, "ND");
        self.nodes.push((Xy::from_metres(xy), vec![nd.clone()]));
        nd
    }

    /// A site on its node; returns the site, its rack and its node.
    fn site(
        &mut self,
        label: &str,
        kind: &str,
        xy: (f64, f64),
    ) -> Result<(String, String, String), Error> {
        let st = self.codes.next(ST, "ST");
        let lt = self.codes.next(LT, "LT");
        let ba = self.codes.next(BA, "BA");
        let nd = self.node(xy);
        self.f.sites.row(&[&st, label, kind, &nd])?;
        self.f.rooms.row(&[&lt, label, &st])?;
        self.f.racks.row(&[&ba, label, &lt])?;
        Ok((st, ba, nd))
    }

    fn drawer(&mut self, rack: &str, label: &str) -> Result<String, Error> {
        let ti = self.codes.next(TI, "TI");
        self.f.drawers.row(&[&ti, label, rack])?;
        Ok(ti)
    }

    /// A box, on a technical point and node when it has a place (outlets
    /// have none: they are where their premises are).
    fn enclosure(
        &mut self,
        kind: &str,
        suf: &str,
        xy: Option<(f64, f64)>,
    ) -> Result<(String, String, String), Error> {
        let bp = self.codes.next(BP, "BP");
        let (pt, nd) = match xy {
            Some(xy) => {
                let nd = self.node(xy);
                let pt = self.codes.next(PT, "PT");
                self.f.ptech.row(&[&pt, &nd])?;
                (pt, nd)
            }
            None => (String::new(), String::new()),
        };
        self.f.boxes.row(&[&bp, &bp, kind, suf, &pt])?;
        if kind == "PTO" {
            return Ok((bp, String::new(), nd));
        }
        let cs = self.codes.next(CS, "CS");
        self.f.cassettes.row(&[&cs, &bp, "1"])?;
        Ok((bp, cs, nd))
    }

    /// A cable with `capacity` fibres (12 per tube), between two nodes
    /// when it runs outside; returns its fibres.
    fn cable(
        &mut self,
        capacity: u32,
        length_m: Option<u32>,
        kind: &str,
        ends: Option<(&str, &str)>,
    ) -> Result<Vec<String>, Error> {
        let cb = self.codes.next(CB, "CB");
        let len = length_m.map(|l| l.to_string()).unwrap_or_default();
        let (nd1, nd2) = ends.unwrap_or(("", ""));
        self.f
            .cables
            .row(&[&cb, &cb, &capacity.to_string(), &len, kind, nd1, nd2])?;
        let mut fibres = Vec::with_capacity(capacity as usize);
        for i in 0..capacity {
            let fo = self.codes.next(FO, "FO");
            let (tube, in_tube) = (i / 12 + 1, i % 12 + 1);
            self.f.fibres.row(&[
                &fo,
                &cb,
                &(i + 1).to_string(),
                &tube.to_string(),
                &in_tube.to_string(),
                &in_tube.to_string(),
            ])?;
            fibres.push(fo);
        }
        self.out.fibres += u64::from(capacity);
        Ok(fibres)
    }

    fn position(
        &mut self,
        input: &str,
        output: &str,
        cassette: &str,
        drawer: &str,
        kind: &str,
        preaff: &str,
    ) -> Result<(), Error> {
        let ps = self.codes.next(PS, "PS");
        let fonct = if kind.starts_with('C') { "CO" } else { "EP" };
        self.f.positions.row(&[
            &ps, "1", input, output, cassette, drawer, kind, fonct, preaff,
        ])?;
        self.out.positions += 1;
        Ok(())
    }
}

/// Writes a delivery of about `premises` premises into `dir` (created if
/// needed), the same for the same `seed`.
#[tracing::instrument(skip(dir))]
pub fn generate(premises: u32, seed: u64, dir: &Path) -> Result<Generated, Error> {
    if premises == 0 {
        return Err(Error::Invalid(
            "le réseau généré doit compter au moins un local".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Unreadable {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    write_value_lists(dir)?;
    let f = Files {
        sites: Writer::create(
            dir,
            "t_sitetech.csv",
            &["st_code", "st_nom", "st_typelog", "st_nd_code"],
        )?,
        rooms: Writer::create(dir, "t_ltech.csv", &["lt_code", "lt_etiquet", "lt_st_code"])?,
        racks: Writer::create(dir, "t_baie.csv", &["ba_code", "ba_etiquet", "ba_lt_code"])?,
        drawers: Writer::create(
            dir,
            "t_tiroir.csv",
            &["ti_code", "ti_etiquet", "ti_ba_code"],
        )?,
        boxes: Writer::create(
            dir,
            "t_ebp.csv",
            &[
                "bp_code",
                "bp_etiquet",
                "bp_typelog",
                "bp_sf_code",
                "bp_pt_code",
            ],
        )?,
        ptech: Writer::create(dir, "t_ptech.csv", &["pt_code", "pt_nd_code"])?,
        cassettes: Writer::create(dir, "t_cassette.csv", &["cs_code", "cs_bp_code", "cs_num"])?,
        cables: Writer::create(
            dir,
            "t_cable.csv",
            &[
                "cb_code",
                "cb_etiquet",
                "cb_capafo",
                "cb_lgreel",
                "cb_typelog",
                "cb_nd1",
                "cb_nd2",
            ],
        )?,
        fibres: Writer::create(dir, "t_fibre.csv", crate::gracethd::FIBRE_COLUMNS)?,
        positions: Writer::create(
            dir,
            "t_position.csv",
            &[
                "ps_code",
                "ps_numero",
                "ps_1",
                "ps_2",
                "ps_cs_code",
                "ps_ti_code",
                "ps_type",
                "ps_fonct",
                "ps_preaff",
            ],
        )?,
        sufs: Writer::create(dir, "t_suf.csv", &["sf_code", "sf_ad_code"])?,
        routes: Writer::create(
            dir,
            "t_ropt.csv",
            &["rt_id", "rt_code", "rt_fo_code", "rt_fo_ordr"],
        )?,
        pon: Writer::create(
            dir,
            crate::extension::PON_FILE,
            crate::extension::PON_COLUMNS,
        )?,
        splitters: Writer::create(
            dir,
            crate::extension::SPLITTER_FILE,
            &["fo_code_in", "ratio", "loss_db"],
        )?,
        addresses: Writer::create(dir, "t_adresse.csv", crate::export::ADDRESS_COLUMNS)?,
    };
    let mut g = Gen {
        geo: ChaCha8Rng::seed_from_u64(seed ^ 0x0005_EED0_F6E0),
        addresses: 0,
        f,
        codes: Codes::default(),
        rng: ChaCha8Rng::seed_from_u64(seed),
        out: Generated::default(),
        routes_written: 0,
        nodes: Vec::new(),
    };

    let (nro_site, nro_rack, nro_node) = g.site("NRO", "NRO", NRO_XY)?;
    let nro_drawer = g.drawer(&nro_rack, "NRO-OPTIQUE")?;
    let mut remaining = premises;
    let mut pm_index = 0u32;
    let mut pon_index = 0u32;
    while remaining > 0 {
        pm_index += 1;
        let size = g.rng.gen_range(300..=1000).min(remaining);
        remaining -= size;
        // Every seventh PM (and a few others) is far from the NRO behind
        // 1:64 splitters: its paths exceed the GPON B+ budget.
        let far = pm_index % 7 == 3 || g.rng.gen_bool(0.05);
        let ratio: u32 = if far || g.rng.gen_bool(0.3) { 64 } else { 32 };
        let splitters = size.div_ceil(ratio);
        let feeder_m = if far {
            g.rng.gen_range(18_000..=24_000)
        } else {
            g.rng.gen_range(2_000..=12_000)
        };
        // PMs around the NRO, a little closer than their feeder's length.
        let angle = f64::from(pm_index) * 2.399_963;
        let reach = feeder_m as f64 / 1.4;
        let pm_xy = (
            NRO_XY.0 + reach * angle.cos(),
            NRO_XY.1 + reach * angle.sin(),
        );
        let (_, pm_rack, pm_node) = g.site(&format!("PM{pm_index}"), "SRO", pm_xy)?;
        g.out.pms += 1;
        let transport = g.drawer(&pm_rack, "TRANSPORT")?;
        let coupler = g.drawer(&pm_rack, "COUPLEURS")?;
        let distribution = g.drawer(&pm_rack, "DISTRIBUTION")?;
        let feeder = g.cable(
            splitters.div_ceil(12) * 12,
            Some(feeder_m),
            "TR",
            Some((&nro_node, &pm_node)),
        )?;

        // Splitter outputs in order, with the splitter input and feeder
        // fibre behind each (for the stored routes).
        let mut outputs: Vec<(String, String, String)> = Vec::new();
        for feed in feeder.iter().take(splitters as usize) {
            g.position("", feed, "", &nro_drawer, "CSA", "")?;
            let input = g.cable(1, None, "JA", None)?.remove(0);
            g.position(feed, &input, "", &transport, "CSA", "")?;
            g.f.splitters.row(&[&input, &ratio.to_string(), ""])?;
            for _ in 0..ratio {
                let out = g.cable(1, None, "JA", None)?.remove(0);
                g.position(&input, &out, "", &coupler, "CSA", "")?;
                outputs.push((out, input.clone(), feed.clone()));
            }
            pon_index += 1;
            let olt = (pon_index - 1) / 128 + 1;
            let slot = ((pon_index - 1) % 128) / 16 + 1;
            let port = (pon_index - 1) % 16;
            let class = if g.rng.gen_bool(0.2) { "C+" } else { "B+" };
            g.f.pon.row(&[
                &format!("OLT{olt:02}-{slot}/{port}"),
                &format!("OLT{olt:02}"),
                "GPON-16",
                &nro_site,
                &slot.to_string(),
                &port.to_string(),
                class,
                "128",
                feed,
            ])?;
            g.out.pon_ports += 1;
        }

        // Distribution: PBOs of 6 to 12 premises, eight PBOs per BPE.
        let mut left = size;
        let mut next_output = 0usize;
        while left > 0 {
            let bpe_xy = (
                pm_xy.0 + g.geo.gen_range(-800.0..800.0),
                pm_xy.1 + g.geo.gen_range(-800.0..800.0),
            );
            let (_, bpe_cs, bpe_node) = g.enclosure("BPE", "", Some(bpe_xy))?;
            let dist_m = g.rng.gen_range(200..=2_500);
            let dist = g.cable(96, Some(dist_m), "DI", Some((&pm_node, &bpe_node)))?;
            let mut dist_used = 0usize;
            for _ in 0..8 {
                if left == 0 {
                    break;
                }
                let in_pbo = g.rng.gen_range(6..=12).min(left);
                left -= in_pbo;
                let pbo_xy = (
                    pm_xy.0 + g.geo.gen_range(-1_500.0..1_500.0),
                    pm_xy.1 + g.geo.gen_range(-1_500.0..1_500.0),
                );
                let (_, pbo_cs, pbo_node) = g.enclosure("PBO", "", Some(pbo_xy))?;
                let branch_m = g.rng.gen_range(50..=600);
                let branch = g.cable(12, Some(branch_m), "DI", Some((&bpe_node, &pbo_node)))?;
                for b in branch.iter().take(in_pbo as usize) {
                    let (out, input, feed) = outputs[next_output].clone();
                    next_output += 1;
                    let d = dist[dist_used].clone();
                    dist_used += 1;
                    g.position(&out, &d, "", &distribution, "CSA", "")?;
                    g.position(&d, b, &bpe_cs, "", "SFU", "")?;
                    let sf = g.codes.next(SF, "SF");
                    let ad = g.codes.next(AD, "AD");
                    g.f.sufs.row(&[&sf, &ad])?;
                    g.address(&ad, pbo_xy)?;
                    g.out.premises += 1;
                    if g.rng.gen_range(0..25) == 0 {
                        // Reserved at the PBO, drop not built yet.
                        g.position(b, "", &pbo_cs, "", "SFU", &sf)?;
                        g.out.drops_to_build += 1;
                        continue;
                    }
                    let drop_m = g.rng.gen_range(15..=200);
                    let drop = g.cable(2, Some(drop_m), "RA", None)?;
                    g.position(b, &drop[0], &pbo_cs, "", "SFU", &sf)?;
                    g.enclosure("PTO", &sf, None)?;
                    g.out.outlets += 1;
                    if g.routes_written < 50 {
                        g.routes_written += 1;
                        let rt = g.codes.next(RT, "RT");
                        for (i, fo) in [&drop[0], b, &d, &out, &input, &feed]
                            .into_iter()
                            .enumerate()
                        {
                            let id = u64::from(g.routes_written) * 10 + i as u64;
                            g.f.routes
                                .row(&[&id.to_string(), &rt, fo, &(i + 1).to_string()])?;
                        }
                    }
                }
            }
        }
    }
    let Files {
        sites,
        rooms,
        racks,
        drawers,
        boxes,
        cassettes,
        cables,
        fibres,
        positions,
        sufs,
        routes,
        pon,
        splitters,
        addresses,
        ptech,
    } = g.f;
    for w in [
        sites, rooms, racks, drawers, boxes, cassettes, cables, fibres, positions, sufs, routes,
        pon, splitters, addresses, ptech,
    ] {
        w.finish()?;
    }
    crate::gracethd::write::points(dir, "t_noeud", &["nd_code"], g.nodes)?;
    Ok(g.out)
}

/// The value lists the generated codes belong to (standard GraceTHD codes).
fn write_value_lists(dir: &Path) -> Result<(), Error> {
    let lists: &[(&str, &[(&str, &str)])] = &[
        (
            "l_site_type_log.csv",
            &[
                ("NRO", "NOEUD DE RACCORDEMENT OPTIQUE"),
                ("SRO", "SOUS-REPARTITEUR OPTIQUE"),
            ],
        ),
        (
            "l_bp_type_log.csv",
            &[
                ("BPE", "BOITIER PROTECTION EPISSURE"),
                ("PBO", "POINT DE BRANCHEMENT OPTIQUE"),
                ("PTO", "POINT DE TERMINAISON OPTIQUE"),
            ],
        ),
        (
            "l_position_type.csv",
            &[("CSA", "CONNECTEUR SC-APC"), ("SFU", "SOUDURE FUSION")],
        ),
        (
            "l_position_fonction.csv",
            &[("CO", "CONNECTEUR"), ("EP", "EPISSURE")],
        ),
    ];
    for (file, rows) in lists {
        let mut w = Writer::create(dir, file, &["code", "libelle", "definition"])?;
        for (code, label) in *rows {
            w.row(&[code, label, ""])?;
        }
        w.finish()?;
    }
    let mut colors = Writer::create(dir, "l_fo_color.csv", &["code", "libelle", "definition"])?;
    for (i, name) in [
        "ROUGE",
        "BLEU",
        "VERT",
        "JAUNE",
        "VIOLET",
        "BLANC",
        "ORANGE",
        "GRIS",
        "MARRON",
        "NOIR",
        "TURQUOISE",
        "ROSE",
    ]
    .iter()
    .enumerate()
    {
        colors.row(&[&(i + 1).to_string(), name, ""])?;
    }
    colors.finish()
}
