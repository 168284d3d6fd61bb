//! Writing the geometry tables of a GraceTHD "shpcsv" delivery: ESRI
//! shapefiles (`.shp`, `.shx`, `.dbf`, and a `.prj` naming Lambert-93),
//! attributes as text, for the exporter and the generator.

use std::path::Path;

use shapefile::dbase::{FieldName, FieldValue, Record, TableWriterBuilder};

use crate::plant::Xy;
use crate::Error;

/// RGF93 / Lambert-93 (EPSG:2154), as ESRI tools write it in a `.prj`.
const LAMBERT93_PRJ: &str = r#"PROJCS["RGF_1993_Lambert_93",GEOGCS["GCS_RGF_1993",DATUM["D_RGF_1993",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",700000.0],PARAMETER["False_Northing",6600000.0],PARAMETER["Central_Meridian",3.0],PARAMETER["Standard_Parallel_1",49.0],PARAMETER["Standard_Parallel_2",44.0],PARAMETER["Latitude_Of_Origin",46.5],UNIT["Meter",1.0]]"#;

/// Width of every text attribute (the longest a `.dbf` character field
/// allows is 254).
const TEXT_WIDTH: u8 = 100;

fn failed(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Unreadable {
        path: path.display().to_string(),
        reason: format!("écriture impossible : {e}"),
    }
}

fn point(p: Xy) -> shapefile::Point {
    let (x, y) = p.metres();
    shapefile::Point::new(x, y)
}

fn record(columns: &[&str], values: &[String]) -> Record {
    let mut r = Record::default();
    for (c, v) in columns.iter().zip(values) {
        r.insert((*c).to_owned(), FieldValue::Character(Some(v.clone())));
    }
    r
}

/// Writes shapefile `NAME` in `dir`: one record per row, with its shape
/// and its text attributes in `columns` order.
fn write<S: shapefile::record::EsriShape>(
    dir: &Path,
    name: &str,
    columns: &[&str],
    rows: impl IntoIterator<Item = (S, Vec<String>)>,
) -> Result<(), Error> {
    let path = dir.join(format!("{name}.shp"));
    let mut table = TableWriterBuilder::new();
    for c in columns {
        let field = FieldName::try_from(*c).map_err(|e| failed(&path, format!("{e:?}")))?;
        table = table.add_character_field(field, TEXT_WIDTH);
    }
    let mut writer = shapefile::Writer::from_path(&path, table).map_err(|e| failed(&path, e))?;
    for (shape, values) in rows {
        writer
            .write_shape_and_record(&shape, &record(columns, &values))
            .map_err(|e| failed(&path, e))?;
    }
    // The writer completes the headers of its files when dropped.
    drop(writer);
    let prj = dir.join(format!("{name}.prj"));
    std::fs::write(&prj, LAMBERT93_PRJ).map_err(|e| failed(&prj, e))?;
    let cpg = dir.join(format!("{name}.cpg"));
    std::fs::write(&cpg, "UTF-8").map_err(|e| failed(&cpg, e))
}

/// Writes a point shapefile.
pub fn points(
    dir: &Path,
    name: &str,
    columns: &[&str],
    rows: impl IntoIterator<Item = (Xy, Vec<String>)>,
) -> Result<(), Error> {
    write(
        dir,
        name,
        columns,
        rows.into_iter().map(|(p, v)| (point(p), v)),
    )
}

/// Writes a polyline shapefile, one part per record.
pub fn lines(
    dir: &Path,
    name: &str,
    columns: &[&str],
    rows: impl IntoIterator<Item = (Vec<Xy>, Vec<String>)>,
) -> Result<(), Error> {
    write(
        dir,
        name,
        columns,
        rows.into_iter().map(|(path, v)| {
            (
                shapefile::Polyline::new(path.into_iter().map(point).collect()),
                v,
            )
        }),
    )
}
