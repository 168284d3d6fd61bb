//! SQL of provisioning: the only module that touches its tables.
//!
//! Every allocated resource (premises with a live line, outlet, PBO port,
//! splitter output, ONT id per PON port, ONT serial, C-VLAN per PON port,
//! address or prefix per pool) is one row of `prov_resources` under the
//! primary key (kind, scope, value): whatever the backend's locking, the
//! database refuses to give one twice. S-VLANs have their own table, unique
//! per OLT.
//!
//! Write transactions start by writing (the line's lock counter, or the
//! pool epoch): on SQLite that takes the write lock at once, so a
//! transaction never has to upgrade a read snapshot (which fails with
//! "database is locked" instead of waiting); on PostgreSQL it locks the
//! line's row, which serialises steps on one line.

use regie_core::migrate::{Component, Migration};
use regie_core::{time, Db};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::addressing::{hex_range, Pool, PoolKind};
use crate::lifecycle::{State, SuspendReason};
use crate::line::{Budget, Event, Ipv4Kind, Line, Ont, Path, Service};
use crate::Error;

/// The tables of provisioning, and FreeRADIUS's tables that it fills.
pub const COMPONENT: Component = Component {
    name: "provisioning",
    migrations: &[Migration::per_backend(
        1,
        "lines_resources_journal_radius",
        concat!(
            include_str!("sql/0001_common.sql"),
            "
            CREATE TRIGGER prov_events_no_update BEFORE UPDATE ON prov_events
            BEGIN SELECT RAISE(ABORT, 'prov_events is append-only'); END;
            CREATE TRIGGER prov_events_no_delete BEFORE DELETE ON prov_events
            BEGIN SELECT RAISE(ABORT, 'prov_events is append-only'); END;
            CREATE TRIGGER prov_assignments_no_update BEFORE UPDATE ON prov_assignments
            BEGIN SELECT RAISE(ABORT, 'prov_assignments is append-only'); END;
            CREATE TRIGGER prov_assignments_no_delete BEFORE DELETE ON prov_assignments
            BEGIN SELECT RAISE(ABORT, 'prov_assignments is append-only'); END;
            CREATE TRIGGER prov_releases_no_update BEFORE UPDATE ON prov_releases
            BEGIN SELECT RAISE(ABORT, 'prov_releases is append-only'); END;
            CREATE TRIGGER prov_releases_no_delete BEFORE DELETE ON prov_releases
            BEGIN SELECT RAISE(ABORT, 'prov_releases is append-only'); END;"
        ),
        concat!(
            include_str!("sql/0001_common.sql"),
            "
            CREATE FUNCTION prov_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$;
            CREATE TRIGGER prov_events_append_only BEFORE UPDATE OR DELETE ON prov_events
            FOR EACH ROW EXECUTE FUNCTION prov_append_only();
            CREATE TRIGGER prov_assignments_append_only BEFORE UPDATE OR DELETE ON prov_assignments
            FOR EACH ROW EXECUTE FUNCTION prov_append_only();
            CREATE TRIGGER prov_releases_append_only BEFORE UPDATE OR DELETE ON prov_releases
            FOR EACH ROW EXECUTE FUNCTION prov_append_only();
            -- Hex text compares byte by byte whatever the database's locale.
            ALTER TABLE prov_assignments ALTER COLUMN first_hex TYPE TEXT COLLATE \"C\";
            ALTER TABLE prov_assignments ALTER COLUMN last_hex TYPE TEXT COLLATE \"C\";"
        ),
    )],
};

/// A transaction's connection.
pub type Conn = AnyConnection;

const LINE_COLUMNS: &str = "id, suf, address, state, ipv4_kind, profile, outlet, pbo, pbo_position,
    splitter_position, pm, pon_port, olt, frame, slot, port, ont_id, budget_class, budget_total_mdb,
    budget_margin_mdb, budget_pass, budget_override, ont_serial, rx_cdbm, install_notes, ipv4, ipv4_pool,
    prefix, prefix_pool, wan, wan_pool, svlan, cvlan, circuit_id, suspend_reason, last_error, nas_status,
    created_at, updated_at, created_by";

fn line_from(row: &AnyRow) -> Result<Line, Error> {
    let text =
        |c: &str| -> Result<Option<String>, Error> { Ok(row.try_get::<Option<String>, _>(c)?) };
    let int = |c: &str| -> Result<Option<i64>, Error> { Ok(row.try_get::<Option<i64>, _>(c)?) };
    let state_text: String = row.try_get("state")?;
    let state = State::parse(&state_text)
        .ok_or_else(|| Error::Invalid(format!("état de ligne stocké inconnu « {state_text} »")))?;
    let kind_text: String = row.try_get("ipv4_kind")?;
    let path = match (
        text("pon_port")?,
        text("splitter_position")?,
        int("ont_id")?,
    ) {
        (Some(pon_port), Some(splitter_output), Some(ont_id)) => Some(Path {
            outlet: text("outlet")?.unwrap_or_default(),
            pbo: text("pbo")?,
            pbo_position: text("pbo_position")?,
            splitter_output,
            pm: text("pm")?,
            pon_port,
            olt: text("olt")?.unwrap_or_default(),
            frame: int("frame")?.unwrap_or(0) as u32,
            slot: int("slot")?.unwrap_or(0) as u32,
            port: int("port")?.unwrap_or(0) as u32,
            ont_id: ont_id as u32,
        }),
        _ => None,
    };
    let budget = match text("budget_class")? {
        Some(class) => Some(Budget {
            class,
            total_mdb: int("budget_total_mdb")?.unwrap_or(0),
            margin_mdb: int("budget_margin_mdb")?.unwrap_or(0),
            pass: int("budget_pass")? == Some(1),
            override_reason: text("budget_override")?,
        }),
        None => None,
    };
    let ont = match text("ont_serial")? {
        Some(serial) => Some(Ont {
            serial,
            rx_cdbm: int("rx_cdbm")?.unwrap_or(0),
            notes: text("install_notes")?,
        }),
        None => None,
    };
    let service = match (
        text("ipv4")?,
        text("prefix")?,
        text("wan")?,
        text("circuit_id")?,
    ) {
        (Some(ipv4), Some(prefix), Some(wan), Some(circuit_id)) => Some(Service {
            ipv4,
            ipv4_pool: text("ipv4_pool")?.unwrap_or_default(),
            ipv6_prefix: prefix,
            ipv6_prefix_pool: text("prefix_pool")?.unwrap_or_default(),
            ipv6_wan: wan,
            ipv6_wan_pool: text("wan_pool")?.unwrap_or_default(),
            svlan: int("svlan")?.unwrap_or(0) as u16,
            cvlan: int("cvlan")?.unwrap_or(0) as u16,
            circuit_id,
        }),
        _ => None,
    };
    Ok(Line {
        id: row.try_get("id")?,
        premises: row.try_get("suf")?,
        address: text("address")?,
        state,
        ipv4_kind: Ipv4Kind::parse(&kind_text).unwrap_or(Ipv4Kind::Cgnat),
        profile: row.try_get("profile")?,
        path,
        budget,
        ont,
        service,
        suspend_reason: text("suspend_reason")?.and_then(|r| SuspendReason::parse(&r).ok()),
        last_error: text("last_error")?,
        nas_status: text("nas_status")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        created_by: row.try_get("created_by")?,
    })
}

/// Inserts a new line in state `ordered`. False when the id is taken (the
/// caller draws another).
pub async fn insert_line(
    conn: &mut Conn,
    id: &str,
    suf: &str,
    address: Option<&str>,
    ipv4_kind: Ipv4Kind,
    profile: &str,
    actor: &str,
) -> Result<bool, Error> {
    let now = time::to_db(time::now());
    let done = sqlx::query(
        "INSERT INTO prov_lines (id, suf, address, state, ipv4_kind, profile, created_at, updated_at, created_by)
         VALUES ($1, $2, $3, 'ordered', $4, $5, $6, $6, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(suf)
    .bind(address)
    .bind(ipv4_kind.as_str())
    .bind(profile)
    .bind(&now)
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the line's write lock (see the module header) and reads it.
pub async fn lock_line(conn: &mut Conn, id: &str) -> Result<Line, Error> {
    // One statement: the lock and the row (RETURNING works on both
    // backends).
    let row = sqlx::query(&format!(
        "UPDATE prov_lines SET lock_n = lock_n + 1 WHERE id = $1 RETURNING {LINE_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => line_from(&row),
        None => Err(Error::NotFound(format!("aucune ligne « {id} »"))),
    }
}

pub async fn read_line(conn: &mut Conn, id: &str) -> Result<Option<Line>, Error> {
    let row = sqlx::query(&format!(
        "SELECT {LINE_COLUMNS} FROM prov_lines WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(line_from).transpose()
}

pub async fn get_line(db: &Db, id: &str) -> Result<Option<Line>, Error> {
    let mut conn = db
        .pool()
        .acquire()
        .await
        .map_err(regie_core::CoreError::from)?;
    read_line(&mut conn, id).await
}

/// Lines, newest first, optionally in one state or on one PON port.
pub async fn list_lines(
    db: &Db,
    state: Option<State>,
    pon_port: Option<&str>,
    limit: i64,
) -> Result<Vec<Line>, Error> {
    let rows = sqlx::query(&format!(
        "SELECT {LINE_COLUMNS} FROM prov_lines
         WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR pon_port = $2)
         ORDER BY updated_at DESC, id LIMIT $3"
    ))
    .bind(state.map(State::as_str))
    .bind(pon_port)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(line_from).collect()
}

/// Counts of lines by state.
pub async fn count_by_state(db: &Db) -> Result<Vec<(State, i64)>, Error> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM prov_lines GROUP BY state")
        .fetch_all(db.pool())
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let s: String = r.try_get("state")?;
        if let Some(state) = State::parse(&s) {
            out.push((state, r.try_get("n")?));
        }
    }
    Ok(out)
}

/// Moves a line to a state; a step that lands clears the last failure.
pub async fn set_state(conn: &mut Conn, id: &str, state: State) -> Result<(), Error> {
    sqlx::query(
        "UPDATE prov_lines SET state = $2, updated_at = $3, last_error = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(time::to_db(time::now()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_path(
    conn: &mut Conn,
    id: &str,
    path: &Path,
    budget: &Budget,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE prov_lines SET outlet = $2, pbo = $3, pbo_position = $4, splitter_position = $5, pm = $6,
            pon_port = $7, olt = $8, frame = $9, slot = $10, port = $11, ont_id = $12,
            budget_class = $13, budget_total_mdb = $14, budget_margin_mdb = $15, budget_pass = $16,
            budget_override = $17
         WHERE id = $1",
    )
    .bind(id)
    .bind(&path.outlet)
    .bind(path.pbo.as_deref())
    .bind(path.pbo_position.as_deref())
    .bind(&path.splitter_output)
    .bind(path.pm.as_deref())
    .bind(&path.pon_port)
    .bind(&path.olt)
    .bind(i64::from(path.frame))
    .bind(i64::from(path.slot))
    .bind(i64::from(path.port))
    .bind(i64::from(path.ont_id))
    .bind(&budget.class)
    .bind(budget.total_mdb)
    .bind(budget.margin_mdb)
    .bind(i16::from(budget.pass))
    .bind(budget.override_reason.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_ont(conn: &mut Conn, id: &str, ont: &Ont) -> Result<(), Error> {
    sqlx::query(
        "UPDATE prov_lines SET ont_serial = $2, rx_cdbm = $3, install_notes = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(&ont.serial)
    .bind(ont.rx_cdbm)
    .bind(ont.notes.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_service(conn: &mut Conn, id: &str, s: &Service) -> Result<(), Error> {
    sqlx::query(
        "UPDATE prov_lines SET ipv4 = $2, ipv4_pool = $3, prefix = $4, prefix_pool = $5, wan = $6,
            wan_pool = $7, svlan = $8, cvlan = $9, circuit_id = $10 WHERE id = $1",
    )
    .bind(id)
    .bind(&s.ipv4)
    .bind(&s.ipv4_pool)
    .bind(&s.ipv6_prefix)
    .bind(&s.ipv6_prefix_pool)
    .bind(&s.ipv6_wan)
    .bind(&s.ipv6_wan_pool)
    .bind(i64::from(s.svlan))
    .bind(i64::from(s.cvlan))
    .bind(&s.circuit_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_suspend_reason(
    conn: &mut Conn,
    id: &str,
    reason: Option<SuspendReason>,
) -> Result<(), Error> {
    sqlx::query("UPDATE prov_lines SET suspend_reason = $2 WHERE id = $1")
        .bind(id)
        .bind(reason.map(SuspendReason::as_str))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records (or clears) the last network failure of a line, in its own
/// statement: the step that failed has rolled back its own transaction.
pub async fn set_last_error(db: &Db, id: &str, error: Option<&str>) -> Result<(), Error> {
    sqlx::query("UPDATE prov_lines SET last_error = $2 WHERE id = $1")
        .bind(id)
        .bind(error)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn set_nas_status(db: &Db, id: &str, status: &str) -> Result<(), Error> {
    sqlx::query("UPDATE prov_lines SET nas_status = $2 WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A resource kind of `prov_resources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// A premises with a live line (scope: SUF code).
    Premises,
    /// An outlet (scope: PTO code).
    Outlet,
    /// A position of a distribution box (scope: position code).
    PboPort,
    /// A splitter output (scope: position code).
    SplitterOutput,
    /// An ONT id (scope: PON port code; value: the id).
    OntId,
    /// An ONT serial (scope: the serial).
    Serial,
    /// A C-VLAN (scope: PON port code; value: the VLAN).
    Cvlan,
    /// An address or prefix (scope: pool name; value: its number).
    Address,
}

impl Resource {
    fn as_str(self) -> &'static str {
        match self {
            Resource::Premises => "premises",
            Resource::Outlet => "outlet",
            Resource::PboPort => "pbo_port",
            Resource::SplitterOutput => "splitter_output",
            Resource::OntId => "ont_id",
            Resource::Serial => "serial",
            Resource::Cvlan => "cvlan",
            Resource::Address => "address",
        }
    }
}

/// Takes a named resource for a line. `Ok(None)` when taken; `Ok(Some(holder))`
/// names the line holding it, which may be this one (a retried step).
pub async fn take(
    conn: &mut Conn,
    kind: Resource,
    scope: &str,
    line: &str,
) -> Result<Option<String>, Error> {
    let inserted = sqlx::query(
        "INSERT INTO prov_resources (kind, scope, value, line_id) VALUES ($1, $2, 0, $3)
         ON CONFLICT (kind, scope, value) DO NOTHING",
    )
    .bind(kind.as_str())
    .bind(scope)
    .bind(line)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(None);
    }
    let holder: Option<String> = sqlx::query_scalar(
        "SELECT line_id FROM prov_resources WHERE kind = $1 AND scope = $2 AND value = 0",
    )
    .bind(kind.as_str())
    .bind(scope)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(Some(holder.unwrap_or_default()))
}

/// The scopes of every resource of `kind` held, with how many of it each
/// holds (a splitter output: 1; a PON port's ONT ids: its lines).
pub async fn held_by_scope(db: &Db, kind: Resource) -> Result<Vec<(String, i64)>, Error> {
    let rows = sqlx::query(
        "SELECT scope, CAST(COUNT(*) AS BIGINT) AS n FROM prov_resources WHERE kind = $1 GROUP BY scope",
    )
    .bind(kind.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("scope")?, r.try_get("n")?)))
        .collect()
}

/// How many times an allocation retries when a concurrent transaction took
/// the number it chose.
const ALLOCATION_ATTEMPTS: usize = 1000;

/// Allocates a number in `lo..=hi` under `(kind, scope)` for a line; `None`
/// when every number is taken.
///
/// The next number after the highest in use is tried first (one index
/// lookup), so a number released by a terminated line is not given again
/// before the range has wrapped; only then is the lowest gap searched.
pub async fn allocate(
    conn: &mut Conn,
    kind: Resource,
    scope: &str,
    lo: i64,
    hi: i64,
    line: &str,
    claim: Claim,
) -> Result<Option<i64>, Error> {
    for _ in 0..ALLOCATION_ATTEMPTS {
        // `ORDER BY … DESC LIMIT 1` rather than `MAX(value)`: PostgreSQL
        // turns MAX into a backward index scan only when its statistics
        // say the range holds many rows. While a takeover fills the table
        // in one transaction they still say it is empty, MAX read every
        // number of the range, and allocating grew linear in the numbers
        // taken (0.35 ms a call at 2,000 lines, 7 of the 13 s the server
        // spent). Written this way, the plan is the index scan whatever
        // the statistics.
        let max: Option<i64> = sqlx::query_scalar(
            "SELECT value FROM prov_resources WHERE kind = $1 AND scope = $2 AND value >= $3 AND value <= $4
             ORDER BY value DESC LIMIT 1",
        )
        .bind(kind.as_str())
        .bind(scope)
        .bind(lo)
        .bind(hi)
        .fetch_optional(&mut *conn)
        .await?;
        let candidate = match max {
            None => Some(lo),
            Some(m) if m < hi => Some(m + 1),
            Some(_) => lowest_gap(conn, kind, scope, lo, hi).await?,
        };
        let Some(mut candidate) = candidate else {
            return Ok(None);
        };
        // On PostgreSQL, concurrent transactions see the same highest
        // number and pick the same candidate; an insert that meets another
        // transaction's uncommitted row waits for its commit. So the insert
        // happens only if the transaction can claim the number with a
        // non-blocking advisory lock (held until commit), in the same
        // statement; when another transaction holds it, the next number is
        // tried instead of queueing behind it. SQLite has one writer and
        // needs none of this.
        let postgres = conn.backend_name() == "PostgreSQL" && claim == Claim::Advisory;
        let sql = if postgres {
            "INSERT INTO prov_resources (kind, scope, value, line_id)
             SELECT $1, $2, $3, $4 WHERE pg_try_advisory_xact_lock($5)
             ON CONFLICT (kind, scope, value) DO NOTHING"
        } else {
            "INSERT INTO prov_resources (kind, scope, value, line_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kind, scope, value) DO NOTHING"
        };
        for _ in 0..64 {
            if candidate > hi {
                break;
            }
            let mut q = sqlx::query(sql)
                .bind(kind.as_str())
                .bind(scope)
                .bind(candidate)
                .bind(line);
            if postgres {
                q = q.bind(claim_key(kind, scope, candidate));
            }
            if q.execute(&mut *conn).await?.rows_affected() == 1 {
                return Ok(Some(candidate));
            }
            if !postgres {
                break;
            }
            candidate += 1;
        }
    }
    Err(Error::Busy(format!(
        "trop d'allocations simultanées sur « {scope} » ; réessayez"
    )))
}

/// How a transaction keeps concurrent allocations apart on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// One advisory lock per number tried, held until the commit: for the
    /// usual transaction that allocates a handful of numbers.
    Advisory,
    /// The transaction holds [`lock_resources`]: no other writer can
    /// allocate meanwhile, and a bulk transaction (a takeover of thousands
    /// of lines) does not fill PostgreSQL's lock table with advisory locks.
    Exclusive,
}

/// Keeps every other writer of `prov_resources` waiting until this
/// transaction ends (PostgreSQL; SQLite has one writer anyway). Readers go
/// on.
pub async fn lock_resources(conn: &mut Conn) -> Result<(), Error> {
    if conn.backend_name() == "PostgreSQL" {
        sqlx::query("LOCK TABLE prov_resources IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The advisory-lock key of a candidate number: FNV-1a over kind, scope and
/// value, stable across builds so that every instance sharing the database
/// computes the same key. A collision between two resources only makes one
/// of them try its next number.
fn claim_key(kind: Resource, scope: &str, value: i64) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind
        .as_str()
        .bytes()
        .chain([0])
        .chain(scope.bytes())
        .chain([0])
        .chain(value.to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

async fn lowest_gap(
    conn: &mut Conn,
    kind: Resource,
    scope: &str,
    lo: i64,
    hi: i64,
) -> Result<Option<i64>, Error> {
    let lo_taken: Option<i64> = sqlx::query_scalar(
        "SELECT value FROM prov_resources WHERE kind = $1 AND scope = $2 AND value = $3",
    )
    .bind(kind.as_str())
    .bind(scope)
    .bind(lo)
    .fetch_optional(&mut *conn)
    .await?;
    if lo_taken.is_none() {
        return Ok(Some(lo));
    }
    let gap: Option<i64> = sqlx::query_scalar(
        // As in `allocate`, ORDER BY and LIMIT keep the index scan whatever
        // the statistics say.
        "SELECT r.value + 1 FROM prov_resources r
         WHERE r.kind = $1 AND r.scope = $2 AND r.value >= $3 AND r.value < $4
           AND NOT EXISTS (SELECT 1 FROM prov_resources n
                           WHERE n.kind = r.kind AND n.scope = r.scope AND n.value = r.value + 1)
         ORDER BY r.value LIMIT 1",
    )
    .bind(kind.as_str())
    .bind(scope)
    .bind(lo)
    .bind(hi)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(gap)
}

/// The number a line holds under `(kind, scope)`, if any.
pub async fn held(
    conn: &mut Conn,
    kind: Resource,
    scope: &str,
    line: &str,
) -> Result<Option<i64>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT value FROM prov_resources WHERE kind = $1 AND scope = $2 AND line_id = $3",
    )
    .bind(kind.as_str())
    .bind(scope)
    .bind(line)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Releases every resource a line holds.
pub async fn release_all(conn: &mut Conn, line: &str) -> Result<u64, Error> {
    Ok(sqlx::query("DELETE FROM prov_resources WHERE line_id = $1")
        .bind(line)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Releases one kind of resource of a line.
pub async fn release(conn: &mut Conn, kind: Resource, line: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM prov_resources WHERE kind = $1 AND line_id = $2")
        .bind(kind.as_str())
        .bind(line)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The S-VLAN of a PON port, allocated on first use among `lo..=hi` per OLT.
pub async fn svlan_of(
    conn: &mut Conn,
    pon_port: &str,
    olt: &str,
    lo: i64,
    hi: i64,
) -> Result<Option<i64>, Error> {
    for _ in 0..ALLOCATION_ATTEMPTS {
        let have: Option<i64> =
            sqlx::query_scalar("SELECT svlan FROM prov_svlans WHERE pon_port = $1")
                .bind(pon_port)
                .fetch_optional(&mut *conn)
                .await?;
        if have.is_some() {
            return Ok(have);
        }
        let max: Option<i64> =
            sqlx::query_scalar("SELECT MAX(svlan) FROM prov_svlans WHERE olt = $1")
                .bind(olt)
                .fetch_one(&mut *conn)
                .await?;
        let candidate = match max {
            None => lo,
            Some(m) if m < hi => m + 1,
            Some(_) => {
                let gap: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(s.svlan) + 1 FROM prov_svlans s WHERE s.olt = $1 AND s.svlan < $2
                     AND NOT EXISTS (SELECT 1 FROM prov_svlans n WHERE n.olt = s.olt AND n.svlan = s.svlan + 1)",
                )
                .bind(olt)
                .bind(hi)
                .fetch_one(&mut *conn)
                .await?;
                match gap {
                    Some(g) => g,
                    None => return Ok(None),
                }
            }
        };
        // Both the port and the (OLT, VLAN) pair are unique: whichever a
        // concurrent transaction took first, this insert does nothing and
        // the loop reads again.
        sqlx::query(
            "INSERT INTO prov_svlans (pon_port, olt, svlan) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(pon_port)
        .bind(olt)
        .bind(candidate)
        .execute(&mut *conn)
        .await?;
    }
    Err(Error::Busy(format!(
        "trop d'allocations simultanées de S-VLAN sur {olt} ; réessayez"
    )))
}

// --- Pools -----------------------------------------------------------------

fn pool_from(row: &AnyRow) -> Result<Pool, Error> {
    let name: String = row.try_get("name")?;
    let kind: String = row.try_get("kind")?;
    let network: String = row.try_get("network")?;
    let len: i64 = row.try_get("assign_len")?;
    let kind = PoolKind::parse(&kind).map_err(Error::Invalid)?;
    Pool::parse(&name, kind, &network, u8::try_from(len).ok())
        .map_err(|e| Error::Invalid(format!("pool stocké « {name} » illisible : {e}")))
}

pub async fn pools(conn: &mut Conn) -> Result<Vec<Pool>, Error> {
    let rows = sqlx::query("SELECT name, kind, network, assign_len FROM prov_pools ORDER BY name")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(pool_from).collect()
}

pub async fn list_pools(db: &Db) -> Result<Vec<Pool>, Error> {
    let mut conn = db
        .pool()
        .acquire()
        .await
        .map_err(regie_core::CoreError::from)?;
    pools(&mut conn).await
}

/// Serialises pool changes (see the module header).
pub async fn lock_pools(conn: &mut Conn) -> Result<(), Error> {
    sqlx::query("UPDATE prov_pool_epoch SET n = n + 1")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn insert_pool(conn: &mut Conn, pool: &Pool) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO prov_pools (name, kind, network, assign_len, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&pool.name)
    .bind(pool.kind.as_str())
    .bind(pool.network.to_string())
    .bind(i64::from(pool.assign_len))
    .bind(time::to_db(time::now()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Numbers in use per pool.
pub async fn pool_usage(db: &Db) -> Result<Vec<(String, i64)>, Error> {
    let rows = sqlx::query(
        "SELECT scope, COUNT(*) AS n FROM prov_resources WHERE kind = 'address' GROUP BY scope",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("scope")?, r.try_get("n")?)))
        .collect()
}

// --- Assignment journal ----------------------------------------------------

/// Opens journal ranges, one statement for all: each `(kind, pool, net)`
/// is the line's from `at` on.
pub async fn journal_assign(
    conn: &mut Conn,
    line: &str,
    ranges: &[(&str, &str, ipnetwork::IpNetwork)],
    at: &str,
) -> Result<(), Error> {
    if ranges.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..ranges.len())
        .map(|i| {
            let b = 3 + i * 6;
            format!(
                "($1, ${b}, ${}, ${}, ${}, ${}, ${}, $2)",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO prov_assignments (line_id, kind, pool, value, family, first_hex, last_hex, from_at)
         VALUES {}",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(line).bind(at);
    for (kind, pool, net) in ranges {
        let (first, last) = hex_range(net);
        let family: i64 = if net.is_ipv4() { 4 } else { 6 };
        q = q
            .bind(*kind)
            .bind(*pool)
            .bind(net.to_string())
            .bind(family)
            .bind(first)
            .bind(last);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Closes every open journal range of a line.
pub async fn journal_release(conn: &mut Conn, line: &str, at: &str) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO prov_releases (assignment_id, until_at)
         SELECT a.id, $2 FROM prov_assignments a
         WHERE a.line_id = $1 AND NOT EXISTS (SELECT 1 FROM prov_releases r WHERE r.assignment_id = a.id)",
    )
    .bind(line)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One range of the journal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Assignment {
    pub line_id: String,
    /// `ipv4`, `ipv6_prefix` or `ipv6_wan`.
    pub kind: String,
    pub pool: String,
    /// The address or prefix, in CIDR notation.
    pub value: String,
    pub from: String,
    /// `None` while the line still holds it.
    pub until: Option<String>,
}

/// Journal ranges with their end, if any (callers add WHERE and ORDER BY).
const ASSIGNMENTS: &str = "SELECT a.line_id, a.kind, a.pool, a.value, a.from_at, r.until_at
    FROM prov_assignments a LEFT JOIN prov_releases r ON r.assignment_id = a.id";

fn assignment_from(r: &AnyRow) -> Result<Assignment, Error> {
    Ok(Assignment {
        line_id: r.try_get("line_id")?,
        kind: r.try_get("kind")?,
        pool: r.try_get("pool")?,
        value: r.try_get("value")?,
        from: r.try_get("from_at")?,
        until: r.try_get("until_at")?,
    })
}

/// The ranges containing an address (hex, see `addressing::hex_address`)
/// that were open at `at`.
pub async fn journal_at(
    db: &Db,
    family: i64,
    hex: &str,
    at: &str,
) -> Result<Vec<Assignment>, Error> {
    let rows = sqlx::query(
        &format!(
            "{ASSIGNMENTS} WHERE a.family = $1 AND a.first_hex <= $2 AND a.last_hex >= $2 AND a.from_at <= $3
               AND (r.until_at IS NULL OR r.until_at > $3)
             ORDER BY a.from_at"
        ),
    )
    .bind(family)
    .bind(hex)
    .bind(at)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(assignment_from).collect()
}

/// Every range a line ever held.
pub async fn journal_of(db: &Db, line: &str) -> Result<Vec<Assignment>, Error> {
    let rows = sqlx::query(&format!("{ASSIGNMENTS} WHERE a.line_id = $1 ORDER BY a.id"))
        .bind(line)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(assignment_from).collect()
}

// --- Events ----------------------------------------------------------------

pub async fn insert_event(
    conn: &mut Conn,
    line: &str,
    step: &str,
    from: Option<State>,
    to: State,
    detail: Option<&serde_json::Value>,
    actor: &str,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO prov_events (line_id, at, step, from_state, to_state, detail, actor)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(line)
    .bind(time::to_db(time::now()))
    .bind(step)
    .bind(from.map(State::as_str))
    .bind(to.as_str())
    .bind(detail.map(|d| d.to_string()))
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Events (callers add WHERE and ORDER BY).
const EVENTS: &str =
    "SELECT seq, line_id, at, step, from_state, to_state, detail, actor FROM prov_events";

fn event_from(r: &AnyRow) -> Result<Event, Error> {
    let from: Option<String> = r.try_get("from_state")?;
    let to: String = r.try_get("to_state")?;
    let detail: Option<String> = r.try_get("detail")?;
    Ok(Event {
        seq: r.try_get("seq")?,
        line_id: r.try_get("line_id")?,
        at: r.try_get("at")?,
        step: r.try_get("step")?,
        from_state: from.as_deref().and_then(State::parse),
        to_state: State::parse(&to)
            .ok_or_else(|| Error::Invalid(format!("état stocké inconnu « {to} »")))?,
        detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
        actor: r.try_get("actor")?,
    })
}

/// Events after `after` (a sequence number), oldest first.
pub async fn events_since(db: &Db, after: i64, limit: i64) -> Result<Vec<Event>, Error> {
    let rows = sqlx::query(&format!("{EVENTS} WHERE seq > $1 ORDER BY seq LIMIT $2"))
        .bind(after)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(event_from).collect()
}

/// A line's history, oldest first.
pub async fn events_of(db: &Db, line: &str) -> Result<Vec<Event>, Error> {
    let rows = sqlx::query(&format!("{EVENTS} WHERE line_id = $1 ORDER BY seq"))
        .bind(line)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(event_from).collect()
}

// --- FreeRADIUS ------------------------------------------------------------

/// What the BNG must receive for a line, as FreeRADIUS rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusEntry<'a> {
    pub username: &'a str,
    /// `regie-active`, `regie-walled-garden` or `regie-throttled`.
    pub group: &'a str,
    pub reply: Vec<(&'static str, String)>,
}

/// Replaces the FreeRADIUS rows of a user (the line's circuit id).
pub async fn radius_replace(conn: &mut Conn, entry: &RadiusEntry<'_>) -> Result<(), Error> {
    radius_delete(conn, entry.username).await?;
    radius_insert(conn, entry).await
}

/// Writes the FreeRADIUS rows of a user that has none: a line being
/// activated (terminating a line deletes its rows, and the circuit id names
/// an ONT id that only one live line holds).
pub async fn radius_insert(conn: &mut Conn, entry: &RadiusEntry<'_>) -> Result<(), Error> {
    sqlx::query("INSERT INTO radcheck (username, attribute, op, value) VALUES ($1, 'Auth-Type', ':=', 'Accept')")
        .bind(entry.username)
        .execute(&mut *conn)
        .await?;
    if !entry.reply.is_empty() {
        // One statement for every reply attribute.
        let values: Vec<String> = (0..entry.reply.len())
            .map(|i| format!("($1, ${}, ':=', ${})", 2 * i + 2, 2 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO radreply (username, attribute, op, value) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(entry.username);
        for (attribute, value) in &entry.reply {
            q = q.bind(*attribute).bind(value.as_str());
        }
        q.execute(&mut *conn).await?;
    }
    sqlx::query("INSERT INTO radusergroup (username, groupname, priority) VALUES ($1, $2, 1)")
        .bind(entry.username)
        .bind(entry.group)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes a user from FreeRADIUS: it is rejected from now on.
pub async fn radius_delete(conn: &mut Conn, username: &str) -> Result<(), Error> {
    for table in ["radcheck", "radreply", "radusergroup"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE username = $1"))
            .bind(username)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
