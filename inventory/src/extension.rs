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

use std::path::Path;

use serde::Serialize;

use crate::budget::{MilliDb, OpticalClass};
use crate::gracethd::read;
use crate::gracethd::{Issue, Report};
use crate::plant::Plant;
use crate::Error;

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

/// Reads and checks the extension files of a delivery, when present.
pub fn load(
    dir: &Path,
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
                let err = |report: &mut Report, field: &str, reason: String| {
                    report.push(Issue::error(&t.file, row.line, field, &reason))
                };
                if code.is_empty() {
                    err(report, "pon_code", "code vide".into());
                    continue;
                }
                if plant.pon_ports.contains_key(code) {
                    err(report, "pon_code", format!("code « {code} » en double"));
                    continue;
                }
                let site = t.get(row, "st_code");
                if !plant.sites.contains_key(site) {
                    err(
                        report,
                        "st_code",
                        format!("référence « {site} » introuvable dans t_sitetech"),
                    );
                    continue;
                }
                let fibre = t.get(row, "fo_code");
                if !plant.fibres.contains_key(fibre) {
                    err(
                        report,
                        "fo_code",
                        format!("référence « {fibre} » introuvable dans t_fibre"),
                    );
                    continue;
                }
                if let Some(other) = plant.pon_ports.values().find(|p| p.fibre == fibre) {
                    err(
                        report,
                        "fo_code",
                        format!("la fibre {fibre} est déjà raccordée au port {}", other.code),
                    );
                    continue;
                }
                let class = match OpticalClass::parse(t.get(row, "optical_class")) {
                    Ok(c) => c,
                    Err(e) => {
                        err(report, "optical_class", e.to_string());
                        continue;
                    }
                };
                let num = |field: &str, report: &mut Report| -> Option<u32> {
                    let v = t.get(row, field);
                    v.parse().ok().or_else(|| {
                        report.push(Issue::error(
                            &t.file,
                            row.line,
                            field,
                            &format!("« {v} » n'est pas un entier positif"),
                        ));
                        None
                    })
                };
                let (Some(slot), Some(port), Some(max_onts)) = (
                    num("slot", report),
                    num("port", report),
                    num("max_onts", report),
                ) else {
                    continue;
                };
                if !(1..=256).contains(&max_onts) {
                    err(
                        report,
                        "max_onts",
                        format!("{max_onts} ONT par port : attendu entre 1 et 256"),
                    );
                    continue;
                }
                plant.pon_ports.insert(
                    code.to_owned(),
                    PonPort {
                        code: code.to_owned(),
                        olt: t.get(row, "olt_code").to_owned(),
                        model: t.get(row, "olt_model").to_owned(),
                        site: site.to_owned(),
                        slot,
                        port,
                        class,
                        max_onts,
                        fibre: fibre.to_owned(),
                    },
                );
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
