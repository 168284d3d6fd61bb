//! Where things stand: the nodes of a delivery (`t_noeud`, a point
//! shapefile) and its technical points (`t_ptech`, which put boxes on
//! nodes). Positions are for maps only: a reference to a missing node is a
//! warning, never an error.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use super::read::{self, Row, Table};
use super::report::{Issue, Report};
use crate::plant::{Code, Xy};
use crate::Error;

/// The nodes and technical points of a delivery.
#[derive(Debug, Default)]
pub struct Places {
    nodes: Option<HashMap<Code, Xy>>,
    ptech: Option<HashMap<Code, Code>>,
}

impl Places {
    /// Reads `t_noeud` and `t_ptech` when the delivery has them.
    pub fn read(
        dir: read::Source<'_>,
        report: &mut Report,
        counts: &mut BTreeMap<String, usize>,
    ) -> Result<Self, Error> {
        let mut places = Places::default();
        if let Some((nd, shapes)) = read::shapefile_table(dir, "t_noeud")? {
            counts.insert(nd.file.clone(), nd.rows.len());
            let mut nodes = HashMap::default();
            for (row, shape) in nd.rows.iter().zip(shapes) {
                let code = nd.get(row, "nd_code");
                match shape.point {
                    Some(p) if !code.is_empty() => {
                        nodes.insert(Code::from(code), Xy::from_metres(p));
                    }
                    _ => report.push(Issue::warning(
                        &nd.file,
                        row.line,
                        "nd_code",
                        "nœud sans code ou sans point ; ignoré",
                    )),
                }
            }
            places.nodes = Some(nodes);
        }
        if let Some(pt) = read::csv_table(dir, "t_ptech", report)? {
            counts.insert(pt.file.clone(), pt.rows.len());
            if pt.require(&["pt_code", "pt_nd_code"], report) {
                let ptech = pt
                    .rows
                    .iter()
                    .filter(|r| !pt.get(r, "pt_code").is_empty())
                    .map(|r| (pt.get(r, "pt_code").into(), pt.get(r, "pt_nd_code").into()))
                    .collect();
                places.ptech = Some(ptech);
            }
        }
        Ok(places)
    }

    /// The point of the node a row names in `column`, warning when the
    /// delivery has nodes and not this one.
    pub fn node(&self, tb: &Table, row: &Row, column: &str, report: &mut Report) -> Option<Xy> {
        let code = tb.get(row, column);
        let nodes = self.nodes.as_ref()?;
        if code.is_empty() {
            return None;
        }
        let found = nodes.get(code).copied();
        if found.is_none() {
            report.push(Issue::warning(
                &tb.file,
                row.line,
                column,
                &format!("nœud « {code} » introuvable dans t_noeud ; sans position"),
            ));
        }
        found
    }

    /// The point of the technical point a row names in `column` (its node).
    pub fn ptech(&self, tb: &Table, row: &Row, column: &str, report: &mut Report) -> Option<Xy> {
        let code = tb.get(row, column);
        let (Some(ptech), Some(nodes)) = (self.ptech.as_ref(), self.nodes.as_ref()) else {
            return None;
        };
        if code.is_empty() {
            return None;
        }
        let found = ptech.get(code).and_then(|nd| nodes.get(nd)).copied();
        if found.is_none() {
            report.push(Issue::warning(
                &tb.file,
                row.line,
                column,
                &format!("point technique « {code} » sans nœud connu ; sans position"),
            ));
        }
        found
    }
}
