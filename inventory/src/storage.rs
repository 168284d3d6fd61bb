//! SQL of the inventory: the only module that touches its tables.
//!
//! An import replaces the stored plant by the delivery's, table by table,
//! keyed by GraceTHD code: rows whose content changed are rewritten, new
//! codes inserted, vanished codes deleted, all in one transaction. Each row
//! carries a fingerprint of its content, so re-importing the same delivery
//! touches nothing.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use regie_core::audit::{self, Actor, Change};
use regie_core::migrate::{Component, Migration};
use regie_core::{db::is_unique_violation, time, Db};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::budget::{MilliDb, OpticalClass};
use crate::extension::{PonPort, Splitter};
use crate::plant::{
    Cable, Cassette, CodeMap, Container, Drawer, Enclosure, Fibre, Joint, Plant, Position, Rack,
    Room, Site, Suf, Xy,
};
use crate::Error;

/// The tables of the inventory.
pub const COMPONENT: Component = Component {
    name: "inventory",
    migrations: &[Migration::portable(
        1,
        "plant",
        "CREATE TABLE inv_sites (code TEXT PRIMARY KEY, label TEXT, kind TEXT, row_hash TEXT NOT NULL);
        CREATE TABLE inv_rooms (code TEXT PRIMARY KEY, site TEXT, row_hash TEXT NOT NULL);
        CREATE TABLE inv_racks (code TEXT PRIMARY KEY, room TEXT, row_hash TEXT NOT NULL);
        CREATE TABLE inv_drawers (code TEXT PRIMARY KEY, label TEXT, rack TEXT, row_hash TEXT NOT NULL);
        CREATE TABLE inv_enclosures (code TEXT PRIMARY KEY, label TEXT, kind TEXT, suf TEXT, row_hash TEXT NOT NULL);
        CREATE INDEX inv_enclosures_kind ON inv_enclosures (kind);
        CREATE TABLE inv_cassettes (code TEXT PRIMARY KEY, enclosure TEXT, row_hash TEXT NOT NULL);
        CREATE TABLE inv_cables (code TEXT PRIMARY KEY, label TEXT, capacity BIGINT, length_m DOUBLE PRECISION, row_hash TEXT NOT NULL);
        CREATE TABLE inv_fibres (code TEXT PRIMARY KEY, cable TEXT, number BIGINT, tube BIGINT, in_tube BIGINT, color TEXT, row_hash TEXT NOT NULL);
        CREATE INDEX inv_fibres_cable ON inv_fibres (cable);
        CREATE TABLE inv_positions (code TEXT PRIMARY KEY, input TEXT, output TEXT, container_kind TEXT, container TEXT,
            joint TEXT, kind TEXT, preaff TEXT, row_hash TEXT NOT NULL);
        CREATE INDEX inv_positions_output ON inv_positions (output);
        CREATE INDEX inv_positions_input ON inv_positions (input);
        CREATE TABLE inv_sufs (code TEXT PRIMARY KEY, address TEXT, row_hash TEXT NOT NULL);
        CREATE TABLE inv_routes (code TEXT PRIMARY KEY, fibres TEXT, row_hash TEXT NOT NULL);
        CREATE TABLE inv_imports (
            id {{id}},
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            source TEXT NOT NULL,
            actor TEXT NOT NULL,
            summary TEXT NOT NULL
        );
        CREATE TABLE inv_import_lock (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            since TEXT NOT NULL
        );",
    ), Migration::portable(
        2,
        "pon_ports_and_splitters",
        "CREATE TABLE inv_pon_ports (code TEXT PRIMARY KEY, olt TEXT, model TEXT, site TEXT, slot BIGINT, port BIGINT,
            optical_class TEXT, max_onts BIGINT, fibre TEXT, row_hash TEXT NOT NULL);
        CREATE UNIQUE INDEX inv_pon_ports_fibre ON inv_pon_ports (fibre);
        CREATE TABLE inv_splitters (code TEXT PRIMARY KEY, ratio BIGINT, loss_mdb BIGINT, row_hash TEXT NOT NULL);",
    ), Migration::portable(
        3,
        "cable_length_in_millimetres",
        // Lengths move to integer millimetres: sqlx 0.8's Any driver sends a
        // NULL f64 to PostgreSQL typed as float4, which breaks a prepared
        // statement later bound with a real f64. `length_m` stays, unused.
        "ALTER TABLE inv_cables ADD COLUMN length_mm BIGINT;",
    ), Migration::portable(
        4,
        "addresses",
        "CREATE TABLE inv_addresses (code TEXT PRIMARY KEY, ban_id TEXT, number TEXT, repetition TEXT, street TEXT,
            insee TEXT, postcode TEXT, commune TEXT, hexacle TEXT, dwellings BIGINT, state TEXT, x_cm BIGINT, y_cm BIGINT,
            row_hash TEXT NOT NULL);
        CREATE INDEX inv_addresses_hexacle ON inv_addresses (hexacle);",
    ), Migration::portable(
        5,
        "positions_on_the_ground",
        // Lambert-93 centimetres; a cable's path as `x y` pairs joined by
        // commas.
        "ALTER TABLE inv_sites ADD COLUMN x_cm BIGINT;
        ALTER TABLE inv_sites ADD COLUMN y_cm BIGINT;
        ALTER TABLE inv_enclosures ADD COLUMN x_cm BIGINT;
        ALTER TABLE inv_enclosures ADD COLUMN y_cm BIGINT;
        ALTER TABLE inv_cables ADD COLUMN path TEXT;",
    ), Migration::portable(
        6,
        "drop_unused_indexes",
        // No query reads positions by fibre or fibres by cable: the plant
        // in memory answers those questions. The indexes only cost import
        // time (a third of storing a large plant) and disk.
        "DROP INDEX inv_positions_output;
        DROP INDEX inv_positions_input;
        DROP INDEX inv_fibres_cable;",
    )],
};

/// A point as two stored columns.
fn xy(p: Option<Xy>) -> [Val<'static>; 2] {
    [Val::Int(p.map(|p| p.x_cm)), Val::Int(p.map(|p| p.y_cm))]
}

/// A cable's path as stored: `x y` pairs in centimetres joined by commas.
fn path_text(path: &[Xy]) -> Val<'static> {
    Val::Text((!path.is_empty()).then(|| {
        Cow::Owned(
            path.iter()
                .map(|p| format!("{} {}", p.x_cm, p.y_cm))
                .collect::<Vec<_>>()
                .join(","),
        )
    }))
}

fn path_of(text: &str) -> Result<Vec<Xy>, Error> {
    text.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut it = p.split(' ').map(str::parse::<i64>);
            match (it.next(), it.next(), it.next()) {
                (Some(Ok(x_cm)), Some(Ok(y_cm)), None) => Ok(Xy { x_cm, y_cm }),
                _ => Err(Error::Invalid(format!(
                    "chemin de câble stocké illisible : « {p} »"
                ))),
            }
        })
        .collect()
}

fn point_of(r: &AnyRow) -> Result<Option<Xy>, Error> {
    Ok(match (opt_int(r, "x_cm")?, opt_int(r, "y_cm")?) {
        (Some(x_cm), Some(y_cm)) => Some(Xy { x_cm, y_cm }),
        _ => None,
    })
}

/// A column value, borrowed from the plant where it can be.
#[derive(Debug, Clone, PartialEq)]
enum Val<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
}

fn t(s: &str) -> Val<'_> {
    Val::Text(Some(Cow::Borrowed(s)))
}

fn ot<S: AsRef<str>>(s: &Option<S>) -> Val<'_> {
    Val::Text(s.as_ref().map(|s| Cow::Borrowed(s.as_ref())))
}

fn oi(n: Option<u32>) -> Val<'static> {
    Val::Int(n.map(i64::from))
}

/// One stored row: its code and the other columns' values.
type StoredRow<'a> = (&'a str, Vec<Val<'a>>);

/// One table of the plant as rows to store, produced one at a time so that
/// a large import never holds a table's rows twice.
struct TableRows<'a> {
    table: &'static str,
    columns: &'static [&'static str],
    rows: Box<dyn Iterator<Item = StoredRow<'a>> + Send + 'a>,
}

fn rows<'a, T: 'a, I>(
    table: &'static str,
    columns: &'static [&'static str],
    items: I,
    f: impl Fn(T) -> StoredRow<'a> + Send + 'a,
) -> TableRows<'a>
where
    I: IntoIterator<Item = T>,
    I::IntoIter: Send + 'a,
{
    TableRows {
        table,
        columns,
        rows: Box::new(items.into_iter().map(f)),
    }
}

fn container_parts(c: &Container) -> (&'static str, &str) {
    match c {
        Container::Cassette(code) => ("cassette", code),
        Container::Drawer(code) => ("drawer", code),
    }
}

/// Number of rows the plant stores, for progress.
fn plant_size(p: &Plant) -> u64 {
    [
        p.sites.len(),
        p.rooms.len(),
        p.racks.len(),
        p.drawers.len(),
        p.enclosures.len(),
        p.cassettes.len(),
        p.cables.len(),
        p.fibres.len(),
        p.positions.len(),
        p.sufs.len(),
        p.routes.len(),
        p.pon_ports.len(),
        p.addresses.len(),
        p.splitters.len(),
    ]
    .iter()
    .sum::<usize>() as u64
}

/// The plant's tables as rows to store, each built only when asked for, so
/// that a large import holds one table's rows at a time.
#[allow(clippy::type_complexity)]
fn plant_rows<'a>(p: &'a Plant) -> Vec<Box<dyn Fn() -> TableRows<'a> + Send + Sync + 'a>> {
    vec![
        Box::new(move || {
            rows(
                "inv_sites",
                &["label", "kind", "x_cm", "y_cm"],
                p.sites.values(),
                |s| {
                    let [x, y] = xy(s.point);
                    (s.code.as_str(), vec![t(&s.label), t(&s.kind), x, y])
                },
            )
        }),
        Box::new(move || {
            rows("inv_rooms", &["site"], p.rooms.values(), |r| {
                (r.code.as_str(), vec![t(&r.site)])
            })
        }),
        Box::new(move || {
            rows("inv_racks", &["room"], p.racks.values(), |r| {
                (r.code.as_str(), vec![t(&r.room)])
            })
        }),
        Box::new(move || {
            rows("inv_drawers", &["label", "rack"], p.drawers.values(), |d| {
                (d.code.as_str(), vec![t(&d.label), t(&d.rack)])
            })
        }),
        Box::new(move || {
            rows(
                "inv_enclosures",
                &["label", "kind", "suf", "x_cm", "y_cm"],
                p.enclosures.values(),
                |e| {
                    let [x, y] = xy(e.point);
                    (
                        e.code.as_str(),
                        vec![t(&e.label), t(&e.kind), ot(&e.suf), x, y],
                    )
                },
            )
        }),
        Box::new(move || {
            rows("inv_cassettes", &["enclosure"], p.cassettes.values(), |c| {
                (c.code.as_str(), vec![t(&c.enclosure)])
            })
        }),
        Box::new(move || {
            rows(
                "inv_cables",
                &["label", "capacity", "length_mm", "path"],
                p.cables.values(),
                |c| {
                    (
                        c.code.as_str(),
                        vec![
                            t(&c.label),
                            oi(c.capacity),
                            Val::Int(c.length_m.map(|m| (m * 1000.0).round() as i64)),
                            path_text(&c.path),
                        ],
                    )
                },
            )
        }),
        Box::new(move || {
            rows(
                "inv_fibres",
                &["cable", "number", "tube", "in_tube", "color"],
                p.fibres.values(),
                |f| {
                    (
                        f.code.as_str(),
                        vec![
                            t(&f.cable),
                            oi(f.number),
                            oi(f.tube),
                            oi(f.in_tube),
                            t(&f.color),
                        ],
                    )
                },
            )
        }),
        Box::new(move || {
            rows(
                "inv_positions",
                &[
                    "input",
                    "output",
                    "container_kind",
                    "container",
                    "joint",
                    "kind",
                    "preaff",
                ],
                p.positions.iter(),
                |ps| {
                    let (ck, c) = container_parts(&ps.container);
                    let joint = match ps.joint {
                        Joint::Splice => "splice",
                        Joint::Connector => "connector",
                    };
                    (
                        ps.code.as_str(),
                        vec![
                            ot(&ps.input),
                            ot(&ps.output),
                            t(ck),
                            t(c),
                            t(joint),
                            t(&ps.kind),
                            ot(&ps.preaff),
                        ],
                    )
                },
            )
        }),
        Box::new(move || {
            rows("inv_sufs", &["address"], p.sufs.values(), |s| {
                (s.code.as_str(), vec![ot(&s.address)])
            })
        }),
        Box::new(move || {
            rows(
                "inv_routes",
                &["fibres"],
                p.routes.iter(),
                |(code, fibres)| {
                    (
                        code.as_str(),
                        vec![Val::Text(Some(Cow::Owned(fibres.join(","))))],
                    )
                },
            )
        }),
        Box::new(move || {
            rows(
                "inv_pon_ports",
                PON_PORT_COLUMNS,
                p.pon_ports.values(),
                pon_port_row,
            )
        }),
        Box::new(move || {
            rows(
                "inv_addresses",
                &[
                    "ban_id",
                    "number",
                    "repetition",
                    "street",
                    "insee",
                    "postcode",
                    "commune",
                    "hexacle",
                    "dwellings",
                    "state",
                    "x_cm",
                    "y_cm",
                ],
                p.addresses.values(),
                |a| {
                    (
                        a.code.as_str(),
                        vec![
                            ot(&a.ban_id),
                            ot(&a.number),
                            ot(&a.repetition),
                            t(&a.street),
                            t(&a.insee),
                            t(&a.postcode),
                            t(&a.commune),
                            Val::Text(a.hexacle.as_ref().map(|h| Cow::Borrowed(h.as_str()))),
                            oi(Some(a.dwellings)),
                            t(&a.state),
                            Val::Int(a.x_cm),
                            Val::Int(a.y_cm),
                        ],
                    )
                },
            )
        }),
        Box::new(move || {
            rows(
                "inv_splitters",
                &["ratio", "loss_mdb"],
                p.splitters.values(),
                |x| {
                    (
                        x.input.as_str(),
                        vec![oi(Some(x.ratio)), Val::Int(x.loss.map(|l| l.0))],
                    )
                },
            )
        }),
    ]
}

/// The fingerprint of a row's values: the first 16 bytes of the SHA-256
/// of their debug forms, in hex. `buf` is scratch space, reused across
/// rows to spare an allocation per value.
fn fingerprint(values: &[Val], buf: &mut String) -> String {
    let mut h = Sha256::new();
    for v in values {
        buf.clear();
        // Writing to a String cannot fail.
        let _ = match v {
            Val::Text(v) => write!(buf, "{:?}", v.as_deref()),
            Val::Int(v) => write!(buf, "{v:?}"),
        };
        h.update(buf.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut hex = String::with_capacity(32);
    for b in digest.iter().take(16) {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// What an import changed, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableChanges {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub tables: BTreeMap<String, TableChanges>,
}

impl ImportSummary {
    pub fn total(&self) -> TableChanges {
        self.tables
            .values()
            .fold(TableChanges::default(), |mut acc, c| {
                acc.added += c.added;
                acc.changed += c.changed;
                acc.removed += c.removed;
                acc.unchanged += c.unchanged;
                acc
            })
    }

    pub fn is_noop(&self) -> bool {
        let t = self.total();
        t.added + t.changed + t.removed == 0
    }
}

/// Binds a value, borrowing its text rather than copying it.
fn bind<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    v: &'q Val,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    match v {
        Val::Text(s) => q.bind(s.as_deref()),
        Val::Int(n) => q.bind(*n),
    }
}

/// Rows per multi-row statement: few enough parameters for both backends
/// (SQLite allows 32,766, PostgreSQL 65,535), many enough to spare round
/// trips.
const BATCH_ROWS: usize = 1000;

/// How to write the n-th parameter of a long statement. `$n` everywhere
/// else; plain `?` on SQLite here, because SQLite resolves each `$n` by a
/// linear search of the statement's parameter names, which makes binding a
/// 3,000-parameter batch quadratic (it was over half of the import time).
fn placeholders(conn: &sqlx::AnyConnection) -> fn(usize) -> String {
    if conn.backend_name() == "SQLite" {
        |_| "?".to_owned()
    } else {
        |n| format!("${n}")
    }
}

async fn delete_codes(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    codes: &[&str],
) -> Result<(), sqlx::Error> {
    let placeholder = placeholders(conn);
    for chunk in codes.chunks(BATCH_ROWS) {
        let params: Vec<String> = (1..=chunk.len()).map(placeholder).collect();
        let sql = format!("DELETE FROM {table} WHERE code IN ({})", params.join(", "));
        let mut q = sqlx::query(&sql);
        for code in chunk {
            q = q.bind(*code);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_rows(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    columns: &[&str],
    rows: &[(StoredRow<'_>, String)],
) -> Result<(), sqlx::Error> {
    let width = columns.len() + 2;
    let placeholder = placeholders(conn);
    for chunk in rows.chunks(BATCH_ROWS) {
        let tuples: Vec<String> = (0..chunk.len())
            .map(|r| {
                let ps: Vec<String> = (1..=width).map(|c| placeholder(r * width + c)).collect();
                format!("({})", ps.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} (code, {}, row_hash) VALUES {}",
            columns.join(", "),
            tuples.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for ((code, values), hash) in chunk {
            q = q.bind(*code);
            for v in values {
                q = bind(q, v);
            }
            q = q.bind(hash.as_str());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The next rows of a table to write, with their fingerprints.
struct Batch<'a> {
    /// Rows read from the plant, written or not.
    rows: u64,
    /// Codes whose stored row changed: deleted before the batch is written.
    replaced: Vec<&'a str>,
    /// New and changed rows.
    pending: Vec<(StoredRow<'a>, String)>,
}

impl<'a> Batch<'a> {
    /// Reads rows until `BATCH_ROWS` are to be written or the table ends,
    /// counting what changed.
    fn take(
        rows: &mut (dyn Iterator<Item = StoredRow<'a>> + Send + 'a),
        existing: &HashMap<String, String>,
        changes: &mut TableChanges,
        buf: &mut String,
    ) -> Self {
        let mut batch = Batch {
            rows: 0,
            replaced: Vec::new(),
            pending: Vec::with_capacity(BATCH_ROWS),
        };
        for (code, values) in &mut *rows {
            batch.rows += 1;
            let hash = fingerprint(&values, buf);
            match existing.get(code) {
                Some(old) if *old == hash => changes.unchanged += 1,
                Some(_) => {
                    batch.replaced.push(code);
                    batch.pending.push(((code, values), hash));
                    changes.changed += 1;
                }
                None => {
                    batch.pending.push(((code, values), hash));
                    changes.added += 1;
                }
            }
            if batch.pending.len() >= BATCH_ROWS {
                break;
            }
        }
        batch
    }
}

/// Writes a batch of new and changed rows: the changed ones are deleted
/// first, then the batch inserted.
async fn flush<'a>(
    conn: &mut sqlx::AnyConnection,
    (table, columns): (&str, &[&str]),
    replaced: &mut Vec<&'a str>,
    pending: &mut Vec<(StoredRow<'a>, String)>,
) -> Result<(), sqlx::Error> {
    delete_codes(conn, table, replaced).await?;
    insert_rows(conn, table, columns, pending).await?;
    replaced.clear();
    pending.clear();
    Ok(())
}

/// The fingerprint of each stored row of a table, by code.
async fn stored_hashes(
    conn: &mut sqlx::AnyConnection,
    table: &str,
) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT code, row_hash FROM {table}"))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("code")?, r.try_get("row_hash")?)))
        .collect()
}

/// The stored columns of a PON port, besides its code.
const PON_PORT_COLUMNS: &[&str] = &[
    "olt",
    "model",
    "site",
    "slot",
    "port",
    "optical_class",
    "max_onts",
    "fibre",
];

fn pon_port_row(x: &PonPort) -> StoredRow<'_> {
    (
        x.code.as_str(),
        vec![
            t(&x.olt),
            t(&x.model),
            t(&x.site),
            oi(Some(x.slot)),
            oi(Some(x.port)),
            t(x.class.label()),
            oi(Some(x.max_onts)),
            t(&x.fibre),
        ],
    )
}

fn pon_port_of(r: &AnyRow) -> Result<PonPort, Error> {
    Ok(PonPort {
        code: text(r, "code")?,
        olt: text(r, "olt")?,
        model: text(r, "model")?,
        site: text(r, "site")?,
        slot: opt_u32(r, "slot")?.unwrap_or(0),
        port: opt_u32(r, "port")?.unwrap_or(0),
        class: OpticalClass::parse(&text::<String>(r, "optical_class")?)?,
        max_onts: opt_u32(r, "max_onts")?.unwrap_or(0),
        fibre: text(r, "fibre")?,
    })
}

/// What a change entered by hand did to the stored plant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Added,
    Changed,
    Removed,
}

/// Saves one PON port entered by hand (adding it or replacing the port of
/// the same code), in one transaction with its audit entry, as a new
/// version of the plant. `expected` is the version the port was checked
/// against: if an import landed since, nothing is written.
#[tracing::instrument(skip_all, fields(actor = %actor.username, code = %port.code))]
pub async fn save_pon_port(
    db: &Db,
    actor: &Actor,
    port: &PonPort,
    expected: i64,
) -> Result<(Edit, i64), Error> {
    edit_pon_port(db, actor, &port.code, Some(port), expected).await
}

/// Removes one PON port by hand; see [`save_pon_port`].
#[tracing::instrument(skip_all, fields(actor = %actor.username, code))]
pub async fn delete_pon_port(
    db: &Db,
    actor: &Actor,
    code: &str,
    expected: i64,
) -> Result<i64, Error> {
    Ok(edit_pon_port(db, actor, code, None, expected).await?.1)
}

async fn edit_pon_port(
    db: &Db,
    actor: &Actor,
    code: &str,
    port: Option<&PonPort>,
    expected: i64,
) -> Result<(Edit, i64), Error> {
    // Under the import lock: an import running now would otherwise remove
    // or overwrite the port without knowing of it.
    let held = lock(db, &actor.username).await?;
    let result = edit_pon_port_locked(db, actor, code, port, expected).await;
    held.release(db).await;
    result
}

async fn edit_pon_port_locked(
    db: &Db,
    actor: &Actor,
    code: &str,
    port: Option<&PonPort>,
    expected: i64,
) -> Result<(Edit, i64), Error> {
    if version(db).await? != expected {
        return Err(Error::Busy(
            "l'inventaire a changé entre-temps (import) ; vérifiez et réessayez".into(),
        ));
    }
    let mut tx = db.begin().await?;
    let before = sqlx::query("SELECT * FROM inv_pon_ports WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *tx)
        .await
        .map_err(sql_err)?
        .map(|r| pon_port_of(&r))
        .transpose()?;
    let edit = match (&before, port) {
        (None, None) => return Err(Error::NotFound(format!("aucun port PON « {code} »"))),
        (None, Some(_)) => Edit::Added,
        (Some(_), Some(_)) => Edit::Changed,
        (Some(_), None) => Edit::Removed,
    };
    delete_codes(&mut tx, "inv_pon_ports", &[code])
        .await
        .map_err(sql_err)?;
    if let Some(port) = port {
        let row = pon_port_row(port);
        let hash = fingerprint(&row.1, &mut String::new());
        insert_rows(&mut tx, "inv_pon_ports", PON_PORT_COLUMNS, &[(row, hash)])
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::Fields(vec![crate::FieldIssue::new(
                        "fo_code",
                        format!("la fibre {} est déjà raccordée à un autre port", port.fibre),
                    )])
                } else {
                    sql_err(e)
                }
            })?;
    }
    let (action, key) = match edit {
        Edit::Added => ("inventory.pon_port.add", "added"),
        Edit::Changed => ("inventory.pon_port.change", "changed"),
        Edit::Removed => ("inventory.pon_port.remove", "removed"),
    };
    let summary = serde_json::json!({
        "added": 0, "changed": 0, "removed": 0, "unchanged": 0, "warnings": 0,
        key: 1, "tables": { "pon_ports": { key: 1 } },
    });
    let now = time::to_db(time::now());
    let source = format!("saisie : port PON {code}");
    let version_row = sqlx::query("INSERT INTO inv_imports (started_at, finished_at, source, actor, summary) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(&now)
        .bind(&now)
        .bind(&source)
        .bind(&actor.username)
        .bind(summary.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(sql_err)?;
    let version: i64 = version_row.try_get("id").map_err(sql_err)?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action,
            entity: "pon_port",
            entity_id: code,
            before: before.as_ref().map(|p| serde_json::json!(p)),
            after: port.map(|p| serde_json::json!(p)),
        },
    )
    .await?;
    tx.commit().await.map_err(sql_err)?;
    Ok((edit, version))
}

/// The secondary (non-unique) indexes of the plant's tables, as the
/// migrations create them: (table, index, columns).
const SECONDARY_INDEXES: &[(&str, &str, &str)] = &[
    ("inv_enclosures", "inv_enclosures_kind", "kind"),
    ("inv_addresses", "inv_addresses_hexacle", "hexacle"),
];

const LOCK: &str = "import";

/// Seconds without a heartbeat after which the lock is taken to be left
/// by a process that died (the holder renews it every tenth of that).
pub const LOCK_LEASE_S: i64 = 60;

/// The import lock while it is held: a task renews it; dropping it stops
/// the renewals, [`Held::release`] frees it.
struct Held {
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

impl Held {
    async fn release(self, db: &Db) {
        self.heartbeat.abort();
        if let Err(e) = sqlx::query("DELETE FROM inv_import_lock WHERE name = $1")
            .bind(LOCK)
            .execute(db.pool())
            .await
        {
            tracing::error!(error = %e, "cannot release the inventory import lock");
        }
    }
}

/// Takes the import lock, so that one import runs at a time across every
/// instance. The lock is a lease the holder renews while it works: one
/// whose last renewal is older than [`LOCK_LEASE_S`] was left by a process
/// that died, and is taken over.
async fn lock(db: &Db, holder: &str) -> Result<Held, Error> {
    let stale = time::to_db(time::now() - chrono::Duration::seconds(LOCK_LEASE_S));
    sqlx::query("DELETE FROM inv_import_lock WHERE name = $1 AND since < $2")
        .bind(LOCK)
        .bind(stale)
        .execute(db.pool())
        .await
        .map_err(regie_core::CoreError::from)?;
    let taken =
        sqlx::query("INSERT INTO inv_import_lock (name, holder, since) VALUES ($1, $2, $3)")
            .bind(LOCK)
            .bind(holder)
            .bind(time::to_db(time::now()))
            .execute(db.pool())
            .await;
    match taken {
        Ok(_) => {
            let db = db.clone();
            let holder = holder.to_owned();
            let heartbeat = tokio::spawn(async move {
                let every =
                    std::time::Duration::from_secs(u64::try_from(LOCK_LEASE_S / 10).unwrap_or(6));
                loop {
                    tokio::time::sleep(every).await;
                    let renewed = sqlx::query(
                        "UPDATE inv_import_lock SET since = $1 WHERE name = $2 AND holder = $3",
                    )
                    .bind(time::to_db(time::now()))
                    .bind(LOCK)
                    .bind(&holder)
                    .execute(db.pool())
                    .await;
                    if let Err(e) = renewed {
                        tracing::warn!(error = %e, "inventory import lock not renewed");
                    }
                }
            });
            Ok(Held { heartbeat })
        }
        Err(e) if is_unique_violation(&e) => Err(Error::Busy(
            "un import d'inventaire est déjà en cours ; réessayez quand il sera terminé".into(),
        )),
        Err(e) => Err(regie_core::CoreError::from(e).into()),
    }
}

/// Stores a checked plant in one transaction, replacing the previous one.
#[tracing::instrument(skip_all, fields(actor = %actor.username, source))]
pub async fn store(
    db: &Db,
    actor: &Actor,
    plant: &Plant,
    source: &str,
    warnings: usize,
    progress: &dyn crate::service::Progress,
) -> Result<(ImportSummary, i64), Error> {
    let held = lock(db, &actor.username).await?;
    let result = store_locked(db, actor, plant, source, warnings, progress).await;
    held.release(db).await;
    result
}

async fn store_locked(
    db: &Db,
    actor: &Actor,
    plant: &Plant,
    source: &str,
    warnings: usize,
    progress: &dyn crate::service::Progress,
) -> Result<(ImportSummary, i64), Error> {
    let started = time::now();
    let mut summary = ImportSummary::default();
    let tables = plant_rows(plant);
    progress.phase("écriture", plant_size(plant));
    let mut tx = db.begin().await?;
    for build in tables {
        let table = build();
        // Extension tables the delivery did not carry are left as stored.
        if (table.table == "inv_pon_ports" && !plant.has_pon_file)
            || (table.table == "inv_splitters" && !plant.has_splitter_file)
        {
            continue;
        }
        let mut existing = stored_hashes(&mut tx, table.table).await.map_err(sql_err)?;
        // Filling an empty table, its secondary indexes are built once at
        // the end rather than kept up to date row by row (most of SQLite's
        // time on a first import went to inserting into them in random
        // order).
        let rebuild: Vec<&(&str, &str, &str)> = if existing.is_empty() {
            SECONDARY_INDEXES
                .iter()
                .filter(|(t, _, _)| *t == table.table)
                .collect()
        } else {
            Vec::new()
        };
        for (_, index, _) in &rebuild {
            sqlx::query(&format!("DROP INDEX {index}"))
                .execute(&mut *tx)
                .await
                .map_err(sql_err)?;
        }
        let mut changes = TableChanges::default();
        // Codes that vanished go first, so that a unique column (a PON
        // port's fibre) can move to a new code in the same import.
        if !existing.is_empty() {
            let kept: HashSet<&str> = build().rows.map(|(code, _)| code).collect();
            let removed: Vec<String> = existing
                .keys()
                .filter(|c| !kept.contains(c.as_str()))
                .cloned()
                .collect();
            let removed_refs: Vec<&str> = removed.iter().map(String::as_str).collect();
            delete_codes(&mut tx, table.table, &removed_refs)
                .await
                .map_err(sql_err)?;
            changes.removed = removed.len();
            for code in &removed {
                existing.remove(code);
            }
        }
        let TableRows {
            table: name,
            columns,
            mut rows,
        } = table;
        let target = (name, columns);
        let mut buf = String::new();
        let mut next = Batch::take(&mut rows, &existing, &mut changes, &mut buf);
        while next.rows > 0 {
            let mut current = next;
            // The next batch is fingerprinted while the database writes
            // this one: the two halves of the work run on both cores.
            let (written, prepared) = tokio::join!(
                flush(&mut tx, target, &mut current.replaced, &mut current.pending),
                async { Batch::take(&mut rows, &existing, &mut changes, &mut buf) }
            );
            written.map_err(sql_err)?;
            progress.advance(current.rows);
            next = prepared;
        }
        for (table, index, columns) in &rebuild {
            sqlx::query(&format!("CREATE INDEX {index} ON {table} ({columns})"))
                .execute(&mut *tx)
                .await
                .map_err(sql_err)?;
        }
        summary
            .tables
            .insert(name.trim_start_matches("inv_").to_owned(), changes);
    }
    let total = summary.total();
    let summary_json = serde_json::json!({
        "added": total.added, "changed": total.changed, "removed": total.removed,
        "unchanged": total.unchanged, "warnings": warnings, "tables": summary.tables,
    });
    let version_row = sqlx::query("INSERT INTO inv_imports (started_at, finished_at, source, actor, summary) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(time::to_db(started))
        .bind(time::to_db(time::now()))
        .bind(source)
        .bind(&actor.username)
        .bind(summary_json.to_string())
        .fetch_one(&mut *tx).await.map_err(sql_err)?;
    let version: i64 = version_row.try_get("id").map_err(sql_err)?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "inventory.import",
            entity: "inventory",
            entity_id: source,
            before: None,
            after: Some(summary_json),
        },
    )
    .await?;
    tx.commit().await.map_err(sql_err)?;
    Ok((summary, version))
}

fn sql_err(e: sqlx::Error) -> Error {
    Error::Storage(e.into())
}

fn text<T: From<String>>(r: &AnyRow, c: &str) -> Result<T, Error> {
    Ok(opt_text(r, c)?.unwrap_or_else(|| T::from(String::new())))
}

fn opt_text<T: From<String>>(r: &AnyRow, c: &str) -> Result<Option<T>, Error> {
    Ok(r.try_get::<Option<String>, _>(c)
        .map_err(sql_err)?
        .map(T::from))
}

fn opt_int(r: &AnyRow, c: &str) -> Result<Option<i64>, Error> {
    r.try_get::<Option<i64>, _>(c).map_err(sql_err)
}

fn opt_u32(r: &AnyRow, c: &str) -> Result<Option<u32>, Error> {
    Ok(opt_int(r, c)?.and_then(|n| u32::try_from(n).ok()))
}

/// Every row of a plant table, in code order, built by `build`.
async fn rows_of<T>(
    db: &Db,
    table: &str,
    build: impl Fn(&AnyRow) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    sqlx::query(&format!("SELECT * FROM {table} ORDER BY code"))
        .fetch_all(db.pool())
        .await
        .map_err(sql_err)?
        .iter()
        .map(build)
        .collect()
}

/// Loads the stored plant.
#[tracing::instrument(skip_all)]
pub async fn load(db: &Db) -> Result<Plant, Error> {
    let mut p = Plant::default();
    let sites = rows_of(db, "inv_sites", |r| {
        Ok(Site {
            code: text(r, "code")?,
            label: text(r, "label")?,
            kind: text(r, "kind")?,
            point: point_of(r)?,
        })
    });
    p.sites = CodeMap::from_vec(sites.await?);
    let rooms = rows_of(db, "inv_rooms", |r| {
        Ok(Room {
            code: text(r, "code")?,
            site: text(r, "site")?,
        })
    });
    p.rooms = CodeMap::from_vec(rooms.await?);
    let racks = rows_of(db, "inv_racks", |r| {
        Ok(Rack {
            code: text(r, "code")?,
            room: text(r, "room")?,
        })
    });
    p.racks = CodeMap::from_vec(racks.await?);
    let drawers = rows_of(db, "inv_drawers", |r| {
        Ok(Drawer {
            code: text(r, "code")?,
            label: text(r, "label")?,
            rack: text(r, "rack")?,
        })
    });
    p.drawers = CodeMap::from_vec(drawers.await?);
    let enclosures = rows_of(db, "inv_enclosures", |r| {
        Ok(Enclosure {
            code: text(r, "code")?,
            label: text(r, "label")?,
            kind: text(r, "kind")?,
            suf: opt_text(r, "suf")?,
            point: point_of(r)?,
        })
    });
    p.enclosures = CodeMap::from_vec(enclosures.await?);
    let cassettes = rows_of(db, "inv_cassettes", |r| {
        Ok(Cassette {
            code: text(r, "code")?,
            enclosure: text(r, "enclosure")?,
        })
    });
    p.cassettes = CodeMap::from_vec(cassettes.await?);
    let cables = rows_of(db, "inv_cables", |r| {
        Ok(Cable {
            code: text(r, "code")?,
            label: text(r, "label")?,
            capacity: opt_u32(r, "capacity")?,
            length_m: opt_int(r, "length_mm")?.map(|mm| mm as f64 / 1000.0),
            path: path_of(&text::<String>(r, "path")?)?,
        })
    });
    p.cables = CodeMap::from_vec(cables.await?);
    let fibres = rows_of(db, "inv_fibres", |r| {
        Ok(Fibre {
            code: text(r, "code")?,
            cable: text(r, "cable")?,
            number: opt_u32(r, "number")?,
            tube: opt_u32(r, "tube")?,
            in_tube: opt_u32(r, "in_tube")?,
            color: text(r, "color")?,
        })
    });
    p.fibres = CodeMap::from_vec(fibres.await?);
    p.positions = rows_of(db, "inv_positions", |r| {
        let container = text(r, "container")?;
        let container = match text::<String>(r, "container_kind")?.as_str() {
            "drawer" => Container::Drawer(container),
            _ => Container::Cassette(container),
        };
        Ok(Position {
            code: text(r, "code")?,
            input: opt_text(r, "input")?,
            output: opt_text(r, "output")?,
            container,
            joint: if text::<String>(r, "joint")? == "connector" {
                Joint::Connector
            } else {
                Joint::Splice
            },
            kind: text(r, "kind")?,
            preaff: opt_text(r, "preaff")?,
        })
    })
    .await?;
    let sufs = rows_of(db, "inv_sufs", |r| {
        Ok(Suf {
            code: text(r, "code")?,
            address: opt_text(r, "address")?,
        })
    });
    p.sufs = CodeMap::from_vec(sufs.await?);
    let routes = rows_of(db, "inv_routes", |r| {
        let fibres: String = text(r, "fibres")?;
        Ok((
            text(r, "code")?,
            fibres
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ))
    });
    p.routes = routes.await?.into_iter().collect();
    let pon_ports = rows_of(db, "inv_pon_ports", pon_port_of);
    p.pon_ports = pon_ports
        .await?
        .into_iter()
        .map(|x| (x.code.clone(), x))
        .collect();
    let addresses = rows_of(db, "inv_addresses", |r| {
        Ok(crate::plant::Address {
            code: text(r, "code")?,
            ban_id: opt_text(r, "ban_id")?,
            number: opt_text(r, "number")?,
            repetition: opt_text(r, "repetition")?,
            street: text(r, "street")?,
            insee: text(r, "insee")?,
            postcode: text(r, "postcode")?,
            commune: text(r, "commune")?,
            hexacle: opt_text::<String>(r, "hexacle")?
                .and_then(|h| crate::address::Hexacle::parse(&h).ok()),
            dwellings: opt_u32(r, "dwellings")?.unwrap_or(0),
            state: text(r, "state")?,
            x_cm: opt_int(r, "x_cm")?,
            y_cm: opt_int(r, "y_cm")?,
        })
    });
    p.addresses = CodeMap::from_vec(addresses.await?);
    let splitters = rows_of(db, "inv_splitters", |r| {
        Ok(Splitter {
            input: text(r, "code")?,
            ratio: opt_u32(r, "ratio")?.unwrap_or(0),
            loss: opt_int(r, "loss_mdb")?.map(MilliDb),
        })
    });
    p.splitters = splitters
        .await?
        .into_iter()
        .map(|x| (x.input.clone(), x))
        .collect();
    p.has_pon_file = true;
    p.has_splitter_file = true;
    p.index();
    Ok(p)
}

/// The stored PON ports and splitters, as (code, fibre) pairs, to check a
/// delivery without extension files against them.
pub async fn extension_fibres(db: &Db) -> Result<(Vec<(String, String)>, Vec<String>), Error> {
    let ports = rows_of(db, "inv_pon_ports", |r| {
        Ok((text(r, "code")?, text(r, "fibre")?))
    })
    .await?;
    let splitters = rows_of(db, "inv_splitters", |r| text(r, "code")).await?;
    Ok((ports, splitters))
}

/// Number of stored rows per plant table (sites, outlets, fibres, ...).
pub async fn counts(db: &Db) -> Result<BTreeMap<String, i64>, Error> {
    let mut out = BTreeMap::new();
    for table in [
        "inv_pon_ports",
        "inv_sites",
        "inv_enclosures",
        "inv_cables",
        "inv_fibres",
        "inv_positions",
        "inv_sufs",
    ] {
        let r = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(db.pool())
            .await
            .map_err(sql_err)?;
        out.insert(
            table.trim_start_matches("inv_").to_owned(),
            r.try_get::<i64, _>("n").map_err(sql_err)?,
        );
    }
    let r = sqlx::query("SELECT COUNT(*) AS n FROM inv_enclosures WHERE kind = 'PTO'")
        .fetch_one(db.pool())
        .await
        .map_err(sql_err)?;
    out.insert("outlets".into(), r.try_get::<i64, _>("n").map_err(sql_err)?);
    Ok(out)
}

/// The version of the stored plant: the id of the last import.
pub async fn version(db: &Db) -> Result<i64, Error> {
    let r = sqlx::query("SELECT COALESCE(MAX(id), 0) AS v FROM inv_imports")
        .fetch_one(db.pool())
        .await
        .map_err(sql_err)?;
    r.try_get::<i64, _>("v").map_err(sql_err)
}
