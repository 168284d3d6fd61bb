//! Benchmark of a monthly billing run. Prints figures; asserts nothing.
//!
//! cargo bench --bench billing_run -- [--subscriptions N] [--postgres SERVER_URL]
//!     [--pdfs N] [--keep]
//!
//! Generates N subscriptions (default 100,000) for November 2026, one
//! household account each: 10 % under the social tariff, 5 % starting on
//! the 17th (prorated), the rest all month. Then, in the same database:
//!
//! 1. the run (`billing::run::issue`): wall time and peak memory (the
//!    process's high-water mark, reset just before the run);
//! 2. a plain batched insert of as many invoice rows (same columns, lines
//!    as JSON of the same size, bound values, as many rows a statement and
//!    a transaction as the run writes)
//!    into a scratch table: the floor any run must pay to write them; the
//!    ratio run / bare insert is the figure to watch (target: 3 or less);
//! 3. credit notes on 2 % of the invoices;
//! 4. PDFs of a sample of invoices rendered on every core.
//!
//! `--keep` leaves the PostgreSQL database in place, to look at its plans.
//!
//! The generated rows go straight into the tables (the services would take
//! longer than what is measured); they are what the services would write.

use std::time::Instant;

use billing::compute::{Line, LineKind, Month};
use billing::money::{Cents, VatRate};
use regie_core::audit::Actor;
use regie_core::{DatabaseUrl, Db};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A line of /proc/self/status in kB (VmHWM: peak resident memory).
fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak-memory mark (Linux ≥ 4.0), so the next reading is the
/// run's own peak.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Inserts `rows` (each a parenthesised tuple of literals) in statements
/// of 1,000 rows; the values are generated numbers and fixed words.
async fn bulk(db: &Db, head: &str, rows: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let rows: Vec<String> = rows.collect();
    for chunk in rows.chunks(1000) {
        let mut tx = db.pool().begin().await?;
        sqlx::query(&format!("{head} VALUES {}", chunk.join(",")))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = arg("--subscriptions")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let pdfs: usize = arg("--pdfs").and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let dir = tempfile::tempdir()?;
    let (url, pg) = match arg("--postgres") {
        None => (DatabaseUrl::sqlite_file(&dir.path().join("regie.db")), None),
        Some(server) => {
            let server = server.trim_end_matches('/').to_owned();
            let name = format!("regie_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = Db::connect(&DatabaseUrl::parse(&format!("{server}/postgres"))?, 1).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(admin.pool())
                .await?;
            admin.close().await;
            (
                DatabaseUrl::parse(&format!("{server}/{name}"))?,
                Some((server, name)),
            )
        }
    };
    let db = Db::connect(&url, 10).await?;
    regie_core::migrate::run(&db, regie::COMPONENTS).await?;
    let sys = Actor::system("bench");
    println!(
        "backend: {}, {n} subscriptions, November 2026",
        db.backend().as_str()
    );

    // --- Generation -------------------------------------------------------
    let started = Instant::now();
    billing::storage::create_offer(
        &db,
        &sys,
        &billing::model::NewOffer {
            code: "F300".into(),
            name: "Fibre 300".into(),
            monthly_gross: Cents(2990),
            rate: VatRate::STANDARD,
            setup_fee: Cents::ZERO,
            deliberation: "2025-001".into(),
            valid_from: "2025-01-01".parse()?,
            valid_to: None,
        },
    )
    .await?;
    let now = "2026-11-30T12:00:00Z";
    let social = |i: usize| i.is_multiple_of(10);
    let prorated = |i: usize| i % 20 == 1;
    bulk(
        &db,
        "INSERT INTO households (code, display_name, created_at)",
        (0..n)
            .filter(|i| social(*i))
            .map(|i| format!("('H-{i:07}', 'Foyer {i}', '{now}')")),
    )
    .await?;
    bulk(
        &db,
        "INSERT INTO st_applications (code, household_id, channel, status, applicant, dwelling_key, input_json, facts_json, notes_json, created_at, updated_at)",
        (0..n).filter(|i| social(*i)).enumerate().map(|(k, i)| {
            format!("('D-{i:07}', {}, 'counter', 'decided', 'bench', 'dw-{i}', '{{}}', '{{}}', '[]', '{now}', '{now}')", k + 1)
        }),
    )
    .await?;
    bulk(
        &db,
        "INSERT INTO st_decisions (application_id, household_id, dwelling_key, outcome, level, level_label, monthly_price_cents,
            valid_from, valid_to, grace_until, rule_version, deliberation, evaluation_json, validated_by, decided_on, appeal_until, created_at)",
        (0..n).filter(|i| social(*i)).enumerate().map(|(k, i)| {
            format!("({id}, {id}, 'dw-{i}', 'granted', 'N1', 'Niveau 1', 990, '2026-01-01', '2026-12-31', '2027-01-31', 1, '2025-007', '{{}}', 'bench', '2025-12-15', '2026-02-15', '{now}')", id = k + 1)
        }),
    )
    .await?;
    bulk(
        &db,
        "INSERT INTO bil_accounts (code, kind, name, address, postcode, town, household, created_at)",
        (0..n).map(|i| {
            let household = if social(i) {
                format!("'H-{i:07}'")
            } else {
                "NULL".into()
            };
            format!("('CPT-{i:07}', 'household', 'Foyer {i}', '{} rue des Lilas', '35000', 'Rennes', {household}, '{now}')", i % 200 + 1)
        }),
    )
    .await?;
    let start = |i: usize| {
        if prorated(i) {
            "2026-11-17"
        } else {
            "2026-01-01"
        }
    };
    bulk(
        &db,
        "INSERT INTO bil_subscriptions (code, account_id, line_id, started_on, created_at)",
        (0..n).map(|i| {
            format!(
                "('ABO-{i:07}', {}, 'RGE-{i:08}', '{}', '{now}')",
                i + 1,
                start(i)
            )
        }),
    )
    .await?;
    bulk(
        &db,
        "INSERT INTO bil_periods (subscription_id, from_day, offer_id, service)",
        (0..n).map(|i| format!("({}, '{}', 1, 'billed')", i + 1, start(i))),
    )
    .await?;
    if db.backend() == regie_core::db::Backend::Postgres {
        // Autovacuum analyzes freshly loaded tables within a minute or so;
        // a month-end run meets a database with statistics.
        sqlx::query("ANALYZE").execute(db.pool()).await?;
    }
    println!(
        "generated in {:.1} s (10 % social tariff, 5 % prorated)",
        started.elapsed().as_secs_f64()
    );

    // --- The run ----------------------------------------------------------
    let month = Month::parse("2026-11")?;
    let started = Instant::now();
    let preview = billing::run::preview(&db, month).await?;
    println!(
        "preview (read and compute, nothing written): {} invoices, {:.1} s",
        preview.to_issue,
        started.elapsed().as_secs_f64()
    );
    let rss_before = status_kb("VmRSS:");
    reset_peak();
    let started = Instant::now();
    let report = billing::run::issue(&db, &sys, month, issue_date(month)?).await?;
    let run_s = started.elapsed().as_secs_f64();
    let peak = status_kb("VmHWM:");
    println!(
        "run: {} invoices, {} TTC, {run_s:.1} s ({:.0} invoices/s); memory {} MiB before, peak {} MiB during the run",
        report.issued,
        report.gross,
        report.issued as f64 / run_s,
        rss_before / 1024,
        peak / 1024,
    );
    let rerun = Instant::now();
    let again = billing::run::issue(&db, &sys, month, issue_date(month)?).await?;
    println!(
        "rerun: {} issued, {} already, {:.1} s",
        again.issued,
        again.already,
        rerun.elapsed().as_secs_f64()
    );

    // --- The floor: a plain batched insert of as many rows --------------------
    let sample = billing::storage::invoice(&db, "FA2026-000002").await?;
    let lines_json = serde_json::to_string(&sample.lines)?.replace('\'', "''");
    let buyer_json = serde_json::to_string(&sample.buyer)?.replace('\'', "''");
    sqlx::query(
        "CREATE TABLE bench_invoices (id BIGINT PRIMARY KEY, number TEXT NOT NULL UNIQUE, series TEXT NOT NULL, seq BIGINT NOT NULL,
            kind TEXT NOT NULL, account_id BIGINT NOT NULL, subscription_id BIGINT, period TEXT NOT NULL, issued_on TEXT NOT NULL,
            net_cents BIGINT NOT NULL, tax_cents BIGINT NOT NULL, gross_cents BIGINT NOT NULL, lines_json TEXT NOT NULL,
            buyer_json TEXT NOT NULL, created_at TEXT NOT NULL)",
    )
    .execute(db.pool())
    .await?;
    let started = Instant::now();
    // The same shape of statement as the run: 200 (SQLite) or 500
    // (PostgreSQL) rows of 15 bound values, one transaction per 1,000 rows.
    let per_statement = match db.backend() {
        regie_core::db::Backend::Sqlite => 200,
        regie_core::db::Backend::Postgres => 500,
    };
    let lines_json = lines_json.replace("''", "'");
    let buyer_json = buyer_json.replace("''", "'");
    let ids: Vec<i64> = (1..=i64::try_from(report.issued)?).collect();
    for page in ids.chunks(1000) {
        let mut tx = db.pool().begin().await?;
        for chunk in page.chunks(per_statement) {
            let mut sql = String::from(
                "INSERT INTO bench_invoices (id, number, series, seq, kind, account_id, subscription_id, period, issued_on,
                    net_cents, tax_cents, gross_cents, lines_json, buyer_json, created_at) VALUES ",
            );
            for i in 0..chunk.len() {
                let p = i * 15;
                if i > 0 {
                    sql.push(',');
                }
                let marks: Vec<String> = (1..=15).map(|k| format!("${}", p + k)).collect();
                sql.push_str(&format!("({})", marks.join(", ")));
            }
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q
                    .bind(*id)
                    .bind(format!("FB2026-{id:06}"))
                    .bind("FB2026")
                    .bind(*id)
                    .bind("invoice")
                    .bind(*id)
                    .bind(*id)
                    .bind("2026-11")
                    .bind("2026-12-01")
                    .bind(2492_i64)
                    .bind(498_i64)
                    .bind(2990_i64)
                    .bind(lines_json.clone())
                    .bind(buyer_json.clone())
                    .bind(now);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    let bare_s = started.elapsed().as_secs_f64();
    println!(
        "plain batched insert of {} rows: {bare_s:.1} s; run / insert = {:.2}",
        report.issued,
        run_s / bare_s
    );

    // --- Credit notes on 2 % ------------------------------------------------
    let started = Instant::now();
    let credits = report.issued / 50;
    for k in 0..credits {
        let number = format!("FA2026-{:06}", k * 50 + 1);
        billing::storage::credit_note(
            &db,
            &sys,
            &number,
            vec![Line {
                kind: LineKind::Subscription,
                description: "Geste commercial".into(),
                net: Cents(500),
                rate: VatRate::STANDARD,
            }],
            "2026-12-02".parse()?,
        )
        .await?;
    }
    let cn_s = started.elapsed().as_secs_f64();
    println!(
        "credit notes: {credits} in {cn_s:.1} s ({:.0}/s)",
        credits as f64 / cn_s.max(1e-9)
    );

    // --- PDFs on every core -------------------------------------------------
    let seller = billing::document::Seller {
        name: "Régie publique de la fibre".into(),
        address: "Hôtel de ville, 35000 Rennes".into(),
        siren: Some("213500000".into()),
        vat_number: Some("FR45213500000".into()),
        payment_days: 30,
        bank: None,
    };
    let mut docs = Vec::new();
    for k in 0..pdfs.min(report.issued) {
        docs.push(billing::storage::invoice(&db, &format!("FA2026-{:06}", k + 1)).await?);
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let started = Instant::now();
    let docs: Vec<_> = docs.into_iter().map(|d| (d, None)).collect();
    let bytes: usize = billing::document::pdfs(&docs, &seller, cores)
        .into_iter()
        .map(|r| r.map_or(0, |b| b.len()))
        .sum();
    let pdf_s = started.elapsed().as_secs_f64();
    println!(
        "PDFs: {} on {cores} cores in {pdf_s:.1} s ({:.0}/s, {} kB each on average)",
        docs.len(),
        docs.len() as f64 / pdf_s.max(1e-9),
        bytes / docs.len().max(1) / 1024
    );

    db.close().await;
    if let Some((server, name)) = pg.filter(|(_, name)| {
        let keep = std::env::args().any(|a| a == "--keep");
        if keep {
            println!("database {name} kept");
        }
        !keep
    }) {
        let admin = Db::connect(&DatabaseUrl::parse(&format!("{server}/postgres"))?, 1).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(admin.pool())
            .await?;
    }
    Ok(())
}

/// The run's issue date: the day after the month, taken as today.
fn issue_date(month: Month) -> anyhow::Result<billing::run::IssueDate> {
    let on = month.last.succ_opt().unwrap_or(month.last);
    Ok(billing::run::IssueDate::new(month, on, on)?)
}
