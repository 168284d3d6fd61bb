//! Reading the files of a GraceTHD "shpcsv" delivery: `;`-separated Latin-1
//! CSV tables and the attribute tables (`.dbf`) of its shapefiles.

use rustc_hash::FxHashMap as HashMap;
use std::path::Path;

use crate::gracethd::report::{Issue, Report};
use crate::Error;

/// One row of a table, with the line it came from (1 is the header).
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    // One allocation per row for all its fields: a large delivery has
    // millions of rows.
    fields: csv::StringRecord,
}

/// A table of a delivery.
#[derive(Debug, Clone)]
pub struct Table {
    pub file: String,
    columns: HashMap<String, usize>,
    pub rows: Vec<Row>,
}

impl Table {
    pub fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// The trimmed value of a column in a row; empty when absent.
    pub fn get<'a>(&self, row: &'a Row, column: &str) -> &'a str {
        self.columns
            .get(column)
            .and_then(|i| row.fields.get(*i))
            .map(|s| s.trim())
            .unwrap_or("")
    }

    /// Reports every required column that is missing; returns whether all
    /// are present.
    pub fn require(&self, columns: &[&str], report: &mut Report) -> bool {
        let mut ok = true;
        for c in columns {
            if !self.has(c) {
                report.push(Issue::error(
                    &self.file,
                    1,
                    c,
                    "colonne obligatoire absente de l'en-tête",
                ));
                ok = false;
            }
        }
        ok
    }
}

/// The header of `NAME.csv` as a table without rows, reading only its
/// first line; `Ok(None)` if the file is absent. Lets a delivery's files be
/// checked all at once before any is read whole.
pub fn csv_header(dir: &Path, name: &str) -> Result<Option<Table>, Error> {
    use std::io::BufRead;
    let file = format!("{name}.csv");
    let path = dir.join(&file);
    if !path.is_file() {
        return Ok(None);
    }
    let unreadable = |e: std::io::Error| Error::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut first = Vec::new();
    std::io::BufReader::new(std::fs::File::open(&path).map_err(unreadable)?)
        .read_until(b'\n', &mut first)
        .map_err(unreadable)?;
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&first);
    let columns = text
        .trim_end_matches(['\r', '\n'])
        .split(';')
        .enumerate()
        .map(|(i, h)| (h.trim().trim_matches('"').to_ascii_lowercase(), i))
        .collect();
    Ok(Some(Table {
        file,
        columns,
        rows: Vec::new(),
    }))
}

/// Reads `NAME.csv` from a delivery; `Ok(None)` if the file is absent.
pub fn csv_table(dir: &Path, name: &str, report: &mut Report) -> Result<Option<Table>, Error> {
    let file = format!("{name}.csv");
    let path = dir.join(&file);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    // GraceTHD deliveries are Latin-1; WINDOWS_1252 is its superset as
    // browsers and most tools read it, and decoding never fails.
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| Error::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?
        .clone();
    let columns: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_ascii_lowercase(), i))
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        match record {
            Ok(r) => {
                let line = r.position().map(|p| p.line()).unwrap_or(0);
                if r.len() != headers.len() {
                    report.push(Issue::error(
                        &file,
                        line,
                        "",
                        &format!(
                            "{} champs au lieu des {} de l'en-tête",
                            r.len(),
                            headers.len()
                        ),
                    ));
                    continue;
                }
                rows.push(Row { line, fields: r });
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                report.push(Issue::error(
                    &file,
                    line,
                    "",
                    &format!("ligne illisible : {e}"),
                ));
            }
        }
    }
    Ok(Some(Table {
        file,
        columns,
        rows,
    }))
}

/// What a shapefile record's geometry tells: the length of a polyline (in
/// metres, Lambert-93 being planar) or the position of a point.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Shape {
    pub length: Option<f64>,
    pub point: Option<(f64, f64)>,
}

/// A shapefile's attribute table, with each record's geometry.
pub type ShapeTable = (Table, Vec<Shape>);

/// Reads the attribute table of shapefile `NAME` (its `.dbf`), with the
/// length of each record's geometry when it is a polyline (Lambert-93, so
/// planar metres). `Ok(None)` if absent.
pub fn shapefile_table(dir: &Path, name: &str) -> Result<Option<ShapeTable>, Error> {
    let shp = dir.join(format!("{name}.shp"));
    if !shp.is_file() {
        return Ok(None);
    }
    let unreadable = |e: &dyn std::fmt::Display| Error::Unreadable {
        path: shp.display().to_string(),
        reason: e.to_string(),
    };
    let mut reader = shapefile::Reader::from_path(&shp).map_err(|e| unreadable(&e))?;
    let mut columns = HashMap::default();
    let mut rows = Vec::new();
    let mut lengths = Vec::new();
    for (i, item) in reader.iter_shapes_and_records().enumerate() {
        let (shape, record) = item.map_err(|e| unreadable(&e))?;
        let mut fields = Vec::new();
        let mut pairs: Vec<(String, String)> = record
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), dbf_text(&v)))
            .collect();
        // A record is a map; sort so that column indexes do not depend on
        // hashing order.
        pairs.sort();
        for (k, v) in pairs {
            let next = columns.len();
            let idx = *columns.entry(k).or_insert(next);
            if fields.len() <= idx {
                fields.resize(idx + 1, String::new());
            }
            fields[idx] = v;
        }
        // Line numbers of a .dbf are record numbers; the header counts as 1
        // so that they read like the CSV files'.
        rows.push(Row {
            line: i as u64 + 2,
            fields: csv::StringRecord::from(fields),
        });
        let point = match &shape {
            shapefile::Shape::Point(p) => Some((p.x, p.y)),
            shapefile::Shape::PointZ(p) => Some((p.x, p.y)),
            shapefile::Shape::PointM(p) => Some((p.x, p.y)),
            _ => None,
        };
        lengths.push(Shape {
            length: polyline_length(&shape),
            point,
        });
    }
    Ok(Some((
        Table {
            file: format!("{name}.dbf"),
            columns,
            rows,
        },
        lengths,
    )))
}

fn dbf_text(v: &shapefile::dbase::FieldValue) -> String {
    use shapefile::dbase::FieldValue as F;
    match v {
        F::Character(Some(s)) | F::Memo(s) => s.trim().to_owned(),
        F::Numeric(Some(n)) => format_number(*n),
        F::Float(Some(n)) => format_number(f64::from(*n)),
        F::Double(n) => format_number(*n),
        F::Integer(n) => n.to_string(),
        F::Logical(Some(b)) => if *b { "t" } else { "f" }.to_owned(),
        F::Date(Some(d)) => format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
        _ => String::new(),
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn polyline_length(shape: &shapefile::Shape) -> Option<f64> {
    use shapefile::Shape;
    let parts: Vec<Vec<(f64, f64)>> = match shape {
        Shape::Polyline(p) => p
            .parts()
            .iter()
            .map(|part| part.iter().map(|pt| (pt.x, pt.y)).collect())
            .collect(),
        Shape::PolylineZ(p) => p
            .parts()
            .iter()
            .map(|part| part.iter().map(|pt| (pt.x, pt.y)).collect())
            .collect(),
        Shape::PolylineM(p) => p
            .parts()
            .iter()
            .map(|part| part.iter().map(|pt| (pt.x, pt.y)).collect())
            .collect(),
        _ => return None,
    };
    Some(
        parts
            .iter()
            .map(|pts| {
                pts.windows(2)
                    .map(|w| ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt())
                    .sum::<f64>()
            })
            .sum(),
    )
}
