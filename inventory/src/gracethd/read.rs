//! Reading the files of a GraceTHD "shpcsv" delivery: `;`-separated Latin-1
//! CSV tables and the attribute tables (`.dbf`) of its shapefiles.

use rustc_hash::FxHashMap as HashMap;
use std::path::Path;

use crate::gracethd::limits::Limits;
use crate::gracethd::report::{Issue, Report};
use crate::Error;

/// A delivery's directory and the bounds its files are read within.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub dir: &'a Path,
    pub limits: &'a Limits,
}

/// A line longer than the limit, met while reading (line 1 is the header).
#[derive(Debug)]
struct LineTooLong {
    line: u64,
    max: usize,
}

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ligne de plus de {} octets : fichier refusé (un fichier GraceTHD n'en a pas d'aussi longue)",
            self.max
        )
    }
}

impl std::error::Error for LineTooLong {}

/// A reader that fails as soon as a line (a record: a newline inside
/// quotes does not end it) grows past `max` bytes, before the CSV parser
/// has buffered it: a 1 GiB line costs 64 KiB, not 1 GiB.
struct BoundedLines<R> {
    inner: R,
    max: usize,
    run: usize,
    quoted: bool,
    line: u64,
}

impl<R> BoundedLines<R> {
    fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            max,
            run: 0,
            quoted: false,
            line: 1,
        }
    }
}

impl<R: std::io::Read> std::io::Read for BoundedLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for b in buf.iter().take(n) {
            match b {
                b'"' => {
                    self.quoted = !self.quoted;
                    self.run += 1;
                }
                b'\n' if !self.quoted => {
                    self.run = 0;
                    self.line += 1;
                }
                _ => self.run += 1,
            }
            if self.run > self.max {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    LineTooLong {
                        line: self.line,
                        max: self.max,
                    },
                ));
            }
        }
        Ok(n)
    }
}

/// The line and message of a CSV error caused by a too long line.
fn too_long(e: &csv::Error) -> Option<(u64, String)> {
    let csv::ErrorKind::Io(io) = e.kind() else {
        return None;
    };
    let long = io.get_ref()?.downcast_ref::<LineTooLong>()?;
    Some((long.line, long.to_string()))
}

/// One row of a table, with the line it came from (1 is the header).
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub line: u64,
    /// Index of the row's first field end in [`Table::ends`].
    first: u32,
}

/// A table of a delivery.
///
/// The fields of every row sit end to end in one string, with their end
/// offsets in one vector: a large delivery has millions of rows, and one
/// allocation per row (let alone per field) cost several times the size of
/// the file.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub file: String,
    columns: HashMap<String, usize>,
    width: usize,
    data: String,
    ends: Vec<u32>,
    pub rows: Vec<Row>,
}

impl Table {
    fn new(file: String, columns: HashMap<String, usize>) -> Self {
        let width = columns.values().map(|i| i + 1).max().unwrap_or(0);
        Self {
            file,
            columns,
            width,
            ..Self::default()
        }
    }

    /// Appends a row of fields (missing trailing fields are empty).
    fn push<S: AsRef<str>>(
        &mut self,
        line: u64,
        fields: impl IntoIterator<Item = S>,
    ) -> Result<(), Error> {
        let too_big = || Error::Unreadable {
            path: self.file.clone(),
            reason: "fichier trop volumineux (plus de 4 Gio de données)".into(),
        };
        let first = u32::try_from(self.ends.len()).map_err(|_| too_big())?;
        let mut n = 0;
        for f in fields.into_iter().take(self.width) {
            self.data.push_str(f.as_ref());
            self.ends
                .push(u32::try_from(self.data.len()).map_err(|_| too_big())?);
            n += 1;
        }
        for _ in n..self.width {
            self.ends
                .push(u32::try_from(self.data.len()).map_err(|_| too_big())?);
        }
        self.rows.push(Row { line, first });
        Ok(())
    }

    pub fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// The trimmed value of a column in a row; empty when absent.
    pub fn get(&self, row: &Row, column: &str) -> &str {
        let Some(i) = self.columns.get(column) else {
            return "";
        };
        let k = row.first as usize + i;
        let end = self.ends.get(k).map_or(0, |e| *e as usize);
        let start = if k == 0 {
            0
        } else {
            self.ends.get(k - 1).map_or(0, |e| *e as usize)
        };
        self.data.get(start..end).map(str::trim).unwrap_or("")
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

/// An open CSV table of a delivery: its reader, past the header, and its
/// columns.
struct CsvFile {
    file: String,
    reader: csv::Reader<BoundedLines<std::io::BufReader<std::fs::File>>>,
    columns: HashMap<String, usize>,
    width: usize,
    limits: Limits,
}

/// Decodes a field: GraceTHD deliveries are Latin-1; WINDOWS_1252 is its
/// superset as browsers and most tools read it, and decoding never fails
/// (ASCII, most of a delivery, is not even copied).
fn latin1(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    encoding_rs::WINDOWS_1252
        .decode_without_bom_handling(bytes)
        .0
}

impl CsvFile {
    /// Opens `NAME.csv` and reads its header; `Ok(None)` if absent. The
    /// file is read as a stream, never whole.
    fn open(src: Source<'_>, name: &str) -> Result<Option<Self>, Error> {
        let file = format!("{name}.csv");
        let path = src.dir.join(&file);
        if !path.is_file() {
            return Ok(None);
        }
        let unreadable = |reason: String| Error::Unreadable {
            path: path.display().to_string(),
            reason,
        };
        let f = std::fs::File::open(&path).map_err(|e| unreadable(e.to_string()))?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .flexible(true)
            .has_headers(true)
            .from_reader(BoundedLines::new(
                std::io::BufReader::with_capacity(1 << 16, f),
                src.limits.max_line_bytes,
            ));
        let headers = reader
            .byte_headers()
            .map_err(|e| unreadable(too_long(&e).map_or_else(|| e.to_string(), |(_, m)| m)))?
            .clone();
        let columns = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (latin1(h).trim().to_ascii_lowercase(), i))
            .collect();
        Ok(Some(Self {
            file,
            reader,
            columns,
            width: headers.len(),
            limits: *src.limits,
        }))
    }
}

/// The header of `NAME.csv` as a table without rows, reading only its
/// first line; `Ok(None)` if the file is absent. Lets a delivery's files be
/// checked all at once before any is read whole.
pub fn csv_header(dir: Source<'_>, name: &str) -> Result<Option<Table>, Error> {
    Ok(CsvFile::open(dir, name)?.map(|f| Table::new(f.file, f.columns)))
}

/// Reads `NAME.csv` from a delivery; `Ok(None)` if the file is absent.
pub fn csv_table(dir: Source<'_>, name: &str, report: &mut Report) -> Result<Option<Table>, Error> {
    let Some(csv) = CsvFile::open(dir, name)? else {
        return Ok(None);
    };
    let mut whole = None;
    read_csv(csv, report, None, |t| {
        whole = Some(t);
        true
    })?;
    Ok(whole)
}

/// The number of lines of `NAME.csv` after its header (0 if absent): a
/// cheap bound on its rows, to size what is built from them.
pub fn csv_line_count(dir: Source<'_>, name: &str) -> usize {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(dir.dir.join(format!("{name}.csv"))) else {
        return 0;
    };
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0;
    while let Ok(n @ 1..) = f.read(&mut buf) {
        lines += buf[..n].iter().filter(|c| **c == b'\n').count();
    }
    lines.saturating_sub(1).min(dir.limits.max_rows)
}

/// What sees each row of a table read row by row.
pub type RowFn<'a> = dyn FnMut(&Table, &Row, &mut Report) + 'a;

/// Reads `NAME.csv` row by row without keeping the rows: `each` sees each
/// row in a table holding a few thousand rows. Returns the number of rows,
/// or `Ok(None)` if the file is absent. For the largest tables, whose rows
/// are needed once: the file is parsed on another thread, a few chunks
/// ahead, so that parsing and checking use both cores in bounded memory.
pub fn csv_rows(
    dir: Source<'_>,
    name: &str,
    report: &mut Report,
    each: &mut RowFn<'_>,
) -> Result<Option<usize>, Error> {
    const CHUNK_ROWS: usize = 4096;
    let Some(csv) = CsvFile::open(dir, name)? else {
        return Ok(None);
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Table>(4);
    std::thread::scope(|scope| {
        let parser = scope.spawn(move || {
            let mut issues = Report::default();
            let read = read_csv(csv, &mut issues, Some(CHUNK_ROWS), |chunk| {
                tx.send(chunk).is_ok()
            });
            (read, issues)
        });
        for chunk in rx {
            for row in &chunk.rows {
                each(&chunk, row, report);
            }
        }
        let (read, issues) = parser
            .join()
            .map_err(|_| Error::Invalid(format!("lecture de {name} interrompue")))?;
        report.absorb(issues);
        read.map(Some)
    })
}

/// Parses a CSV file into tables of `chunk_rows` rows (or one table of
/// every row), handing each to `emit`, which answers whether to go on.
/// Returns the number of rows.
fn read_csv(
    mut csv: CsvFile,
    report: &mut Report,
    chunk_rows: Option<usize>,
    mut emit: impl FnMut(Table) -> bool,
) -> Result<usize, Error> {
    let columns = std::mem::take(&mut csv.columns);
    let fresh = |columns: &HashMap<String, usize>| Table::new(csv.file.clone(), columns.clone());
    let mut table = fresh(&columns);
    let mut record = csv::ByteRecord::new();
    let mut count = 0;
    loop {
        match csv.reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map(|p| p.line()).unwrap_or(0);
                if record.len() != csv.width {
                    report.push(Issue::error(
                        &csv.file,
                        line,
                        "",
                        &format!(
                            "{} champs au lieu des {} de l'en-tête",
                            record.len(),
                            csv.width
                        ),
                    ));
                    continue;
                }
                // A NUL or another control character cannot be stored (not
                // in PostgreSQL): the row is refused in the dry run as in
                // the import, never only when the import writes it.
                if let Some(i) = record.iter().position(|f| {
                    f.iter()
                        .any(|b| (*b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || *b == 0x7f)
                }) {
                    report.push(Issue::error(
                        &csv.file,
                        line,
                        column_name(&columns, i),
                        "caractère de contrôle (NUL ou autre caractère invisible) : ligne écartée",
                    ));
                    continue;
                }
                if let Some(i) = record
                    .iter()
                    .position(|f| f.len() > csv.limits.max_field_bytes)
                {
                    report.push(Issue::error(
                        &csv.file,
                        line,
                        column_name(&columns, i),
                        &format!(
                            "champ de plus de {} octets : ligne écartée",
                            csv.limits.max_field_bytes
                        ),
                    ));
                    continue;
                }
                if count >= csv.limits.max_rows {
                    report.push(Issue::error(
                        &csv.file,
                        line,
                        "",
                        &format!(
                            "plus de {} lignes : table refusée (limite `[uploads] delivery_max_rows` de la configuration)",
                            csv.limits.max_rows
                        ),
                    ));
                    break;
                }
                table.push(line, record.iter().map(latin1))?;
                count += 1;
                if chunk_rows.is_some_and(|n| table.rows.len() >= n) {
                    let full = std::mem::replace(&mut table, fresh(&columns));
                    if !emit(full) {
                        return Ok(count);
                    }
                }
            }
            Err(e) => {
                // Byte records have no encoding errors: this is the file
                // itself failing, and reading on would fail again.
                let (line, reason) = too_long(&e).unwrap_or_else(|| {
                    (
                        e.position().map(|p| p.line()).unwrap_or(0),
                        format!("ligne illisible : {e}"),
                    )
                });
                report.push(Issue::error(&csv.file, line, "", &reason));
                break;
            }
        }
    }
    table.data.shrink_to_fit();
    emit(table);
    Ok(count)
}

/// The name of column `i` (empty if the header has none).
fn column_name(columns: &HashMap<String, usize>, i: usize) -> &str {
    columns
        .iter()
        .find(|(_, c)| **c == i)
        .map(|(n, _)| n.as_str())
        .unwrap_or("")
}

/// What a shapefile record's geometry tells: the length of a polyline (in
/// metres, Lambert-93 being planar) and its vertices, or the position of a
/// point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    pub length: Option<f64>,
    pub point: Option<(f64, f64)>,
    /// The vertices of a polyline, its parts end to end.
    pub line: Vec<(f64, f64)>,
}

/// A shapefile's attribute table, with each record's geometry.
pub type ShapeTable = (Table, Vec<Shape>);

/// Reads the attribute table of shapefile `NAME` (its `.dbf`), with the
/// length of each record's geometry when it is a polyline (Lambert-93, so
/// planar metres). `Ok(None)` if absent.
pub fn shapefile_table(dir: Source<'_>, name: &str) -> Result<Option<ShapeTable>, Error> {
    let shp = dir.dir.join(format!("{name}.shp"));
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
        rows.push((i as u64 + 2, fields));
        let point = match &shape {
            shapefile::Shape::Point(p) => Some((p.x, p.y)),
            shapefile::Shape::PointZ(p) => Some((p.x, p.y)),
            shapefile::Shape::PointM(p) => Some((p.x, p.y)),
            _ => None,
        };
        let parts = polyline_parts(&shape);
        lengths.push(Shape {
            length: parts.as_ref().map(|p| polyline_length(p)),
            point,
            line: parts.into_iter().flatten().flatten().collect(),
        });
    }
    let mut table = Table::new(format!("{name}.dbf"), columns);
    for (line, fields) in rows {
        table.push(line, fields.iter().map(String::as_str))?;
    }
    Ok(Some((table, lengths)))
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

/// The parts of a polyline, each a list of vertices; `None` for another
/// kind of shape.
fn polyline_parts(shape: &shapefile::Shape) -> Option<Vec<Vec<(f64, f64)>>> {
    use shapefile::Shape;
    Some(match shape {
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
    })
}

fn polyline_length(parts: &[Vec<(f64, f64)>]) -> f64 {
    parts
        .iter()
        .map(|pts| {
            pts.windows(2)
                .map(|w| ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt())
                .sum::<f64>()
        })
        .sum()
}
