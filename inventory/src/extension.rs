//! Régie's extensions to GraceTHD, delivered beside the GraceTHD files in
//! two small `;`-separated CSV files of the product's own format (UTF-8 or
//! Latin-1, header line first):
//!
//! `x_pon.csv`, one PON port a line:
//! `pon_code;olt_code;olt_model;st_code;slot;port;optical_class;max_onts;fo_code`
//! where `st_code` is the site of the OLT (`t_sitetech`), `optical_class` one
//! of `B+`, `C+`, `N1`, `N2`, `E1`, `E2`, and `fo_code` the feeder fibre the
//! port is patched to at the NRO (`t_fibre`).
//!
//! `x_splitter.csv`, one splitter a line:
//! `fo_code_in;ratio;loss_db` where `fo_code_in` is the splitter's input
//! fibre, `ratio` its number of outputs (2 to 64) and `loss_db` a measured
//! insertion loss (optional; the planning value is used otherwise).

use serde::Serialize;

use crate::budget::{MilliDb, OpticalClass};
use crate::gracethd::read;
use crate::gracethd::{Issue, Report};
use crate::plant::Plant;
use crate::{Error, FieldIssue};

pub const PON_FILE: &str = "x_pon.csv";
pub const SPLITTER_FILE: &str = "x_splitter.csv";
/// The columns of `x_pon.csv`.
pub const PON_COLUMNS: &[&str] = &[
    "pon_code",
    "olt_code",
    "olt_model",
    "st_code",
    "slot",
    "port",
    "optical_class",
    "max_onts",
    "fo_code",
];

/// A PON port of an OLT, patched to a feeder fibre.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PonPort {
    pub code: String,
    pub olt: String,
    pub model: String,
    pub site: String,
    pub slot: u32,
    pub port: u32,
    pub class: OpticalClass,
    pub max_onts: u32,
    pub fibre: String,
}

/// A splitter's known ratio and, when measured, its loss.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Splitter {
    pub input: String,
    pub ratio: u32,
    pub loss: Option<MilliDb>,
}

/// The longest PON port or OLT code accepted.
const MAX_CODE_CHARS: usize = 64;

/// Checks a PON port given column by column (a line of `x_pon.csv`, a
/// form, an API body: `get` answers the trimmed text of each column of
/// [`PON_COLUMNS`]) against the plant: its site and fibre exist, no other
/// port is patched to that fibre, the class and numbers parse. A port of
/// the same code already in the plant is the one being replaced.
pub fn check_pon_port<'a>(
    get: impl Fn(&'static str) -> &'a str,
    plant: &Plant,
) -> Result<PonPort, Vec<FieldIssue>> {
    let mut issues = Vec::new();
    let mut text = |field: &'static str, what: &str| -> Option<&'a str> {
        let v = get(field).trim();
        if v.is_empty() {
            issues.push(FieldIssue::new(
                field,
                format!("{what} : valeur obligatoire vide"),
            ));
            None
        } else if v.chars().count() > MAX_CODE_CHARS {
            issues.push(FieldIssue::new(
                field,
                format!("{what} : {MAX_CODE_CHARS} caractères au plus"),
            ));
            None
        } else {
            Some(v)
        }
    };
    let code = text("pon_code", "code du port");
    let olt = text("olt_code", "code de l'OLT");
    let site = text("st_code", "site");
    let fibre = text("fo_code", "fibre");
    let model = get("olt_model").trim();
    if let Some(site) = site {
        if !plant.sites.contains_key(site) {
            issues.push(FieldIssue::new(
                "st_code",
                format!("référence « {site} » introuvable dans t_sitetech"),
            ));
        }
    }
    if let Some(fibre) = fibre {
        if !plant.fibres.contains_key(fibre) {
            issues.push(FieldIssue::new(
                "fo_code",
                format!("référence « {fibre} » introuvable dans t_fibre"),
            ));
        } else if let Some(other) = plant
            .pon_ports
            .values()
            .find(|p| p.fibre == fibre && Some(p.code.as_str()) != code)
        {
            issues.push(FieldIssue::new(
                "fo_code",
                format!("la fibre {fibre} est déjà raccordée au port {}", other.code),
            ));
        }
    }
    let class = match OpticalClass::parse(get("optical_class").trim()) {
        Ok(c) => Some(c),
        Err(e) => {
            issues.push(FieldIssue::new("optical_class", e.to_string()));
            None
        }
    };
    let mut num = |field: &'static str| -> Option<u32> {
        let v = get(field).trim();
        v.parse().ok().or_else(|| {
            issues.push(FieldIssue::new(
                field,
                format!("« {v} » n'est pas un entier positif"),
            ));
            None
        })
    };
    let (slot, port, max_onts) = (num("slot"), num("port"), num("max_onts"));
    if let Some(m) = max_onts.filter(|m| !(1..=256).contains(m)) {
        issues.push(FieldIssue::new(
            "max_onts",
            format!("{m} ONT par port : attendu entre 1 et 256"),
        ));
    }
    match (code, olt, site, fibre, class, slot, port, max_onts) {
        (
            Some(code),
            Some(olt),
            Some(site),
            Some(fibre),
            Some(class),
            Some(slot),
            Some(port),
            Some(max_onts),
        ) if issues.is_empty() => Ok(PonPort {
            code: code.to_owned(),
            olt: olt.to_owned(),
            model: model.to_owned(),
            site: site.to_owned(),
            slot,
            port,
            class,
            max_onts,
            fibre: fibre.to_owned(),
        }),
        _ => Err(issues),
    }
}

/// Reads and checks the extension files of a delivery, when present.
pub fn load(
    dir: read::Source<'_>,
    plant: &mut Plant,
    report: &mut Report,
    counts: &mut std::collections::BTreeMap<String, usize>,
) -> Result<(), Error> {
    if let Some(t) = read::csv_table(dir, PON_FILE.trim_end_matches(".csv"), report)? {
        plant.has_pon_file = true;
        counts.insert(t.file.clone(), t.rows.len());
        let cols = PON_COLUMNS;
        if t.require(cols, report) {
            for row in &t.rows {
                let code = t.get(row, "pon_code");
                if !code.is_empty() && plant.pon_ports.contains_key(code) {
                    report.push(Issue::error(
                        &t.file,
                        row.line,
                        "pon_code",
                        &format!("code « {code} » en double"),
                    ));
                    continue;
                }
                match check_pon_port(|c| t.get(row, c), plant) {
                    Ok(port) => {
                        plant.pon_ports.insert(port.code.clone(), port);
                    }
                    Err(issues) => {
                        for i in issues {
                            report.push(Issue::error(&t.file, row.line, i.field, &i.reason));
                        }
                    }
                }
            }
        }
    }
    if let Some(t) = read::csv_table(dir, SPLITTER_FILE.trim_end_matches(".csv"), report)? {
        plant.has_splitter_file = true;
        counts.insert(t.file.clone(), t.rows.len());
        if t.require(&["fo_code_in", "ratio", "loss_db"], report) {
            for row in &t.rows {
                let input = t.get(row, "fo_code_in");
                if !plant.fibres.contains_key(input) {
                    report.push(Issue::error(
                        &t.file,
                        row.line,
                        "fo_code_in",
                        &format!("référence « {input} » introuvable dans t_fibre"),
                    ));
                    continue;
                }
                let ratio: Option<u32> = t
                    .get(row, "ratio")
                    .parse()
                    .ok()
                    .filter(|r: &u32| r.is_power_of_two() && (2..=64).contains(r));
                let Some(ratio) = ratio else {
                    report.push(Issue::error(
                        &t.file,
                        row.line,
                        "ratio",
                        &format!(
                            "« {} » : attendu 2, 4, 8, 16, 32 ou 64",
                            t.get(row, "ratio")
                        ),
                    ));
                    continue;
                };
                let loss = match t.get(row, "loss_db") {
                    "" => None,
                    v => match MilliDb::parse_db(v) {
                        Ok(l) if l.0 >= 0 => Some(l),
                        _ => {
                            report.push(Issue::error(
                                &t.file,
                                row.line,
                                "loss_db",
                                &format!("« {v} » n'est pas une perte en dB"),
                            ));
                            continue;
                        }
                    },
                };
                let outputs = plant.fan_out(input) as u32;
                if outputs > ratio {
                    report.push(Issue::error(
                        &t.file,
                        row.line,
                        "ratio",
                        &format!("coupleur 1:{ratio} mais {outputs} sorties utilisées"),
                    ));
                    continue;
                }
                plant.splitters.insert(
                    input.to_owned(),
                    Splitter {
                        input: input.to_owned(),
                        ratio,
                        loss,
                    },
                );
            }
        }
    }
    plant.index();
    Ok(())
}
