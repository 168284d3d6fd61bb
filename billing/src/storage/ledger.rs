//! SQL of the ledger: payments and their allocation to invoices, direct
//! debit returns, FSL requests and decisions, dunning steps and the line
//! policy billing asked provisioning for.
//!
//! Every entry is numbered in its yearly series (`PA2026-000001`) in the
//! transaction that books it, and never changed: a return is a new,
//! negative entry reversing one direct debit. What an invoice still owes
//! is its amount, plus its credit notes (negative), minus its allocations.

use chrono::NaiveDate;
use regie_core::audit::{self, Actor, Change};
use regie_core::{time, Db};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::series::{self, Order};
use super::{account_id, day, storage, Result};
use crate::ledger::{allocate, BankLine, Fault, Method, Open, ReturnReason, Returned};
use crate::money::Cents;
use crate::Error;

/// A booked entry of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub number: String,
    pub account: String,
    pub method: Method,
    pub amount: Cents,
    pub received_on: NaiveDate,
    pub reference: Option<String>,
    /// The ISO reason of a return.
    pub reason: Option<String>,
    /// The invoices it settles (negative for a return).
    pub allocations: Vec<(String, Cents)>,
}

/// A payment an accountant enters at the counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub account: String,
    pub method: Method,
    pub amount: Cents,
    pub received_on: NaiveDate,
    /// A cheque's number, a card slip's reference.
    pub reference: Option<String>,
    /// Settle this invoice first rather than the oldest.
    pub invoice: Option<String>,
    /// The form's one-time token: the same submission sent twice books
    /// one payment (the second answers the first).
    pub submission: Option<String>,
}

/// The fields of one entry to book.
struct Entry<'a> {
    account_id: i64,
    method: Method,
    amount: Cents,
    on: NaiveDate,
    reference: Option<&'a str>,
    reason: Option<ReturnReason>,
    reverses: Option<i64>,
    collection: Option<i64>,
    /// A debit presented again after a return (`bil_representations`).
    representation: Option<i64>,
    import_key: Option<&'a str>,
}

/// Inserts an entry with the next number of its year; answers its id and
/// number.
async fn insert(conn: &mut AnyConnection, actor: &Actor, e: &Entry<'_>) -> Result<(i64, String)> {
    let series = format!("PA{}", chrono::Datelike::year(&e.on));
    // What the bank dated (statements, collections, returns) keeps its
    // date; a receipt written at the counter follows the series' order.
    let order = if e.method.at_counter() && e.reverses.is_none() {
        Order::Chronological
    } else {
        Order::AsDated
    };
    let seq = series::next(conn, &series, e.on, order).await?;
    let number = format!("{series}-{seq:06}");
    let id: i64 = sqlx::query(
        "INSERT INTO bil_payments (number, account_id, method, amount_cents, received_on, reference, reason_code,
            reverses, collection_id, import_key, created_by, created_at, representation_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(&number)
    .bind(e.account_id)
    .bind(e.method.as_str())
    .bind(e.amount.0)
    .bind(e.on.to_string())
    .bind(e.reference)
    .bind(e.reason.map(ReturnReason::code))
    .bind(e.reverses)
    .bind(e.collection)
    .bind(e.import_key)
    .bind(&actor.username)
    .bind(time::to_db(time::now()))
    .bind(e.representation)
    .fetch_one(&mut *conn)
    .await
    .map_err(storage)?
    .try_get("id")
    .map_err(storage)?;
    audit::record(
        conn,
        actor,
        Change {
            action: "payment.book",
            entity: "payment",
            entity_id: &number,
            before: None,
            after: Some(serde_json::json!({
                "method": e.method.as_str(), "amount_cents": e.amount.0,
                "received_on": e.on, "reason": e.reason.map(ReturnReason::code),
            })),
        },
    )
    .await
    .map_err(Error::Storage)?;
    Ok((id, number))
}

const DUE: &str = "CAST(i.gross_cents
        + COALESCE((SELECT SUM(c.gross_cents) FROM bil_invoices c WHERE c.corrects = i.id), 0)
        - COALESCE((SELECT SUM(a.amount_cents) FROM bil_allocations a WHERE a.invoice_id = i.id), 0) AS BIGINT)";

/// The invoices of an account that still owe something, with their ids.
async fn open_of(conn: &mut AnyConnection, account_id: i64) -> Result<Vec<(i64, Open)>> {
    let rows = sqlx::query(&format!(
        "SELECT i.id, i.number, i.issued_on, {DUE} AS due
         FROM bil_invoices i WHERE i.account_id = $1 AND i.kind IN ('invoice', 'balance')
         ORDER BY i.issued_on, i.number"
    ))
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(storage)?;
    let mut out = Vec::new();
    for r in rows {
        let due = Cents(r.try_get("due").map_err(storage)?);
        if due.0 > 0 {
            out.push((
                r.try_get("id").map_err(storage)?,
                Open {
                    invoice: r.try_get("number").map_err(storage)?,
                    issued_on: day(&r.try_get::<String, _>("issued_on").map_err(storage)?)?,
                    due,
                },
            ));
        }
    }
    Ok(out)
}

/// Spreads what the account's entries have not yet settled over its open
/// invoices: the entry `first` (towards `preferred` if named) before the
/// older credits. A reversed entry is no longer a credit.
pub(super) async fn spread(
    conn: &mut AnyConnection,
    account_id: i64,
    first: Option<i64>,
    preferred: Option<&str>,
) -> Result<()> {
    let credits = sqlx::query(
        "SELECT p.id, CAST(p.amount_cents - COALESCE((SELECT SUM(a.amount_cents) FROM bil_allocations a WHERE a.payment_id = p.id), 0) AS BIGINT) AS free
         FROM bil_payments p
         WHERE p.account_id = $1 AND p.amount_cents > 0
           AND NOT EXISTS (SELECT 1 FROM bil_payments r WHERE r.reverses = p.id)
         ORDER BY p.id",
    )
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(storage)?;
    let mut credits: Vec<(i64, i64)> = credits
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("free")?)))
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(storage)?;
    credits.retain(|(_, free)| *free > 0);
    credits.sort_by_key(|(id, _)| (Some(*id) != first, *id));
    for (payment_id, free) in credits {
        let open = open_of(conn, account_id).await?;
        if open.is_empty() {
            break;
        }
        let plain: Vec<Open> = open.iter().map(|(_, o)| o.clone()).collect();
        let towards = preferred.filter(|_| Some(payment_id) == first);
        for (number, part) in allocate(Cents(free), &plain, towards) {
            let Some((invoice_id, _)) = open.iter().find(|(_, o)| o.invoice == number) else {
                continue;
            };
            sqlx::query(
                "INSERT INTO bil_allocations (payment_id, invoice_id, amount_cents) VALUES ($1, $2, $3)",
            )
            .bind(payment_id)
            .bind(invoice_id)
            .bind(part.0)
            .execute(&mut *conn)
            .await
            .map_err(storage)?;
        }
    }
    Ok(())
}

/// Spreads the credits left on any account (an overpayment made before
/// the invoice it now pays was issued); before a dunning pass.
pub async fn spread_credits(db: &Db) -> Result<usize> {
    let rows = sqlx::query(
        "SELECT DISTINCT p.account_id FROM bil_payments p
         WHERE p.amount_cents > COALESCE((SELECT SUM(a.amount_cents) FROM bil_allocations a WHERE a.payment_id = p.id), 0)
           AND p.amount_cents > 0
           AND NOT EXISTS (SELECT 1 FROM bil_payments r WHERE r.reverses = p.id)",
    )
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    for r in &rows {
        let mut tx = db.begin().await.map_err(storage)?;
        spread(
            &mut tx,
            r.try_get("account_id").map_err(storage)?,
            None,
            None,
        )
        .await?;
        tx.commit().await.map_err(storage)?;
    }
    Ok(rows.len())
}

/// Books an entry and spreads it; answers its number.
async fn book(
    conn: &mut AnyConnection,
    actor: &Actor,
    e: &Entry<'_>,
    preferred: Option<&str>,
) -> Result<String> {
    let (id, number) = insert(conn, actor, e).await?;
    spread(conn, e.account_id, Some(id), preferred).await?;
    Ok(number)
}

/// The largest payment taken at the counter: beyond, a typing error.
pub const COUNTER_MAX: Cents = Cents(10_000_000);

/// Records a payment at the counter (cash, card, cheque) and answers it
/// with what it settled: the receipt.
#[tracing::instrument(skip_all, fields(actor = %actor.username, account = %new.account))]
pub async fn record_payment(db: &Db, actor: &Actor, new: &NewPayment) -> Result<Payment> {
    if !new.method.at_counter() {
        return Err(Error::Invalid(format!(
            "« {} » ne se saisit pas au guichet (espèces, carte ou chèque)",
            new.method.label()
        )));
    }
    if new.amount.0 <= 0 {
        return Err(Error::Invalid("un paiement est un montant positif".into()));
    }
    if new.amount > COUNTER_MAX {
        return Err(Error::Invalid(format!(
            "un paiement au guichet ne dépasse pas {COUNTER_MAX} (ici {})",
            new.amount
        )));
    }
    let today = regie_core::time::today();
    super::series::not_after(new.received_on, today, "le paiement")?;
    if today
        .checked_sub_months(chrono::Months::new(12))
        .is_some_and(|oldest| new.received_on < oldest)
    {
        return Err(Error::Invalid(format!(
            "le paiement du {} a plus d'un an : vérifiez la date",
            new.received_on.format("%d/%m/%Y")
        )));
    }
    let reference = new
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if new.method == Method::Cheque && reference.is_none() {
        return Err(Error::Invalid("le numéro du chèque est obligatoire".into()));
    }
    if reference.is_some_and(|r| r.chars().count() > 80) {
        return Err(Error::Invalid(
            "référence trop longue (80 caractères au plus)".into(),
        ));
    }
    let key = new
        .submission
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 64)
        .map(|s| format!("guichet:{s}"));
    let mut tx = db.begin().await.map_err(storage)?;
    let account_id = account_id(&mut tx, &new.account).await?;
    if let Some(k) = &key {
        // The receipts' series row, written first: the same submission sent
        // at once queues here, and the second finds the first's payment.
        let series = format!("PA{}", chrono::Datelike::year(&new.received_on));
        sqlx::query(
            "INSERT INTO bil_series (series, next_number) VALUES ($1, 1) ON CONFLICT (series) DO NOTHING",
        )
        .bind(&series)
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
        sqlx::query("UPDATE bil_series SET next_number = next_number WHERE series = $1")
            .bind(&series)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        let already = sqlx::query("SELECT number FROM bil_payments WHERE import_key = $1")
            .bind(k)
            .fetch_optional(&mut *tx)
            .await
            .map_err(storage)?;
        if let Some(row) = already {
            let number: String = row.try_get("number").map_err(storage)?;
            drop(tx);
            return payment(db, &number).await;
        }
    }
    if let (Method::Cheque, Some(r)) = (new.method, reference) {
        let booked = sqlx::query(
            "SELECT number FROM bil_payments WHERE account_id = $1 AND method = $2 AND reference = $3 AND reverses IS NULL",
        )
        .bind(account_id)
        .bind(Method::Cheque.as_str())
        .bind(r)
        .fetch_optional(&mut *tx)
        .await
        .map_err(storage)?;
        if let Some(row) = booked {
            let number: String = row.try_get("number").map_err(storage)?;
            return Err(Error::Invalid(format!(
                "le chèque n° {r} de ce compte est déjà enregistré (reçu {number})"
            )));
        }
    }
    if let Some(n) = &new.invoice {
        let owner: Option<i64> = sqlx::query(
            "SELECT account_id FROM bil_invoices WHERE number = $1 AND kind IN ('invoice', 'balance')",
        )
        .bind(n.trim())
        .fetch_optional(&mut *tx)
        .await
        .map_err(storage)?
        .map(|r| r.try_get("account_id"))
        .transpose()
        .map_err(storage)?;
        if owner != Some(account_id) {
            return Err(Error::Invalid(format!(
                "la facture « {} » n'est pas une facture de ce compte",
                n.trim()
            )));
        }
    }
    let number = book(
        &mut tx,
        actor,
        &Entry {
            account_id,
            method: new.method,
            amount: new.amount,
            on: new.received_on,
            reference,
            reason: None,
            reverses: None,
            collection: None,
            representation: None,
            import_key: key.as_deref(),
        },
        new.invoice.as_deref().map(str::trim),
    )
    .await?;
    tx.commit().await.map_err(storage)?;
    payment(db, &number).await
}

/// Books the direct debit of a collection on its date, settling its
/// invoice; in the caller's transaction (the batch that writes the file).
pub(super) async fn book_direct_debit(
    conn: &mut AnyConnection,
    actor: &Actor,
    collection_id: i64,
    invoice_number: &str,
    amount: Cents,
    on: NaiveDate,
) -> Result<()> {
    let account_id: i64 = sqlx::query("SELECT account_id FROM bil_invoices WHERE number = $1")
        .bind(invoice_number)
        .fetch_one(&mut *conn)
        .await
        .map_err(storage)?
        .try_get("account_id")
        .map_err(storage)?;
    book(
        conn,
        actor,
        &Entry {
            account_id,
            method: Method::DirectDebit,
            amount,
            on,
            reference: Some(invoice_number),
            reason: None,
            reverses: None,
            collection: Some(collection_id),
            representation: None,
            import_key: None,
        },
        Some(invoice_number),
    )
    .await?;
    Ok(())
}

/// Books the second presentation of a returned debit as a payment.
pub(super) async fn book_representation(
    conn: &mut AnyConnection,
    actor: &Actor,
    representation_id: i64,
    invoice_number: &str,
    amount: Cents,
    on: NaiveDate,
) -> Result<()> {
    let account_id: i64 = sqlx::query("SELECT account_id FROM bil_invoices WHERE number = $1")
        .bind(invoice_number)
        .fetch_one(&mut *conn)
        .await
        .map_err(storage)?
        .try_get("account_id")
        .map_err(storage)?;
    book(
        conn,
        actor,
        &Entry {
            account_id,
            method: Method::DirectDebit,
            amount,
            on,
            reference: Some(invoice_number),
            reason: None,
            reverses: None,
            collection: None,
            representation: Some(representation_id),
            import_key: None,
        },
        Some(invoice_number),
    )
    .await?;
    Ok(())
}

/// The end-to-end reference of a debit presented again: the invoice
/// number and `/2`.
pub fn representation_reference(invoice_number: &str) -> String {
    format!("{invoice_number}/2")
}

/// What an invoice still owes, in the caller's transaction.
pub(super) async fn due_of(conn: &mut AnyConnection, invoice_id: i64) -> Result<Cents> {
    Ok(Cents(
        sqlx::query(&format!(
            "SELECT {DUE} AS due FROM bil_invoices i WHERE i.id = $1"
        ))
        .bind(invoice_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(storage)?
        .try_get("due")
        .map_err(storage)?,
    ))
}

/// Books a return in the caller's transaction; `false` when this debit
/// was already returned (a report imported twice books nothing new).
async fn return_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    invoice_number: &str,
    reason: ReturnReason,
    on: NaiveDate,
) -> Result<bool> {
    // The bank quotes a second presentation as `NUMBER/2`.
    let (number, again) = match invoice_number.trim().strip_suffix("/2") {
        Some(n) => (n, true),
        None => (invoice_number.trim(), false),
    };
    let sql = if again {
        "SELECT p.id, p.account_id, p.amount_cents, x.mandate_id,
                (SELECT r.id FROM bil_payments r WHERE r.reverses = p.id) AS reversed
         FROM bil_payments p JOIN bil_representations x ON x.id = p.representation_id
         JOIN bil_collections c ON c.id = x.collection_id
         JOIN bil_invoices i ON i.id = c.invoice_id
         WHERE i.number = $1"
    } else {
        "SELECT p.id, p.account_id, p.amount_cents, c.mandate_id,
                (SELECT r.id FROM bil_payments r WHERE r.reverses = p.id) AS reversed
         FROM bil_payments p JOIN bil_collections c ON c.id = p.collection_id
         JOIN bil_invoices i ON i.id = c.invoice_id
         WHERE i.number = $1"
    };
    let r = sqlx::query(sql)
        .bind(number)
        .fetch_optional(&mut *conn)
        .await
        .map_err(storage)?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "aucun prélèvement de la facture « {} »",
                invoice_number.trim()
            ))
        })?;
    if r.try_get::<Option<i64>, _>("reversed")
        .map_err(storage)?
        .is_some()
    {
        return Ok(false);
    }
    let original: i64 = r.try_get("id").map_err(storage)?;
    let (id, _) = insert(
        conn,
        actor,
        &Entry {
            account_id: r.try_get("account_id").map_err(storage)?,
            method: Method::Return,
            amount: Cents(-r.try_get::<i64, _>("amount_cents").map_err(storage)?),
            on,
            reference: Some(invoice_number.trim()),
            reason: Some(reason),
            reverses: Some(original),
            collection: None,
            representation: None,
            import_key: None,
        },
    )
    .await?;
    // The invoices the debit settled owe again.
    sqlx::query(
        "INSERT INTO bil_allocations (payment_id, invoice_id, amount_cents)
         SELECT $1, invoice_id, -amount_cents FROM bil_allocations WHERE payment_id = $2",
    )
    .bind(id)
    .bind(original)
    .execute(&mut *conn)
    .await
    .map_err(storage)?;
    if reason.ends_mandate() {
        sqlx::query("UPDATE bil_mandates SET revoked_on = $1, revoke_reason = $3 WHERE id = $2 AND revoked_on IS NULL")
            .bind(on.to_string())
            .bind(r.try_get::<i64, _>("mandate_id").map_err(storage)?)
            .bind(format!("rejet {} : {}", reason.code(), reason.label()))
            .execute(&mut *conn)
            .await
            .map_err(storage)?;
    }
    Ok(true)
}

/// Books one returned direct debit with its ISO reason.
#[tracing::instrument(skip_all, fields(actor = %actor.username, invoice = %invoice_number, reason = reason.code()))]
pub async fn record_return(
    db: &Db,
    actor: &Actor,
    invoice_number: &str,
    reason: ReturnReason,
    on: NaiveDate,
) -> Result<bool> {
    let mut tx = db.begin().await.map_err(storage)?;
    let booked = return_in(&mut tx, actor, invoice_number, reason, on).await?;
    tx.commit().await.map_err(storage)?;
    Ok(booked)
}

/// What an import did, or would do in a dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Entries booked (or to book).
    pub booked: usize,
    /// Lines already imported before.
    pub already: usize,
    /// Lines no invoice or account matched: left for the accountant.
    pub unmatched: Vec<BankLine>,
    pub faults: Vec<Fault>,
}

/// Books a bank's rejects and returns (pain.002) on `on`, all or nothing:
/// an unknown invoice stops the whole import.
#[tracing::instrument(skip_all, fields(actor = %actor.username, count = returned.len()))]
pub async fn import_returns(
    db: &Db,
    actor: &Actor,
    returned: &[Returned],
    on: NaiveDate,
    dry_run: bool,
) -> Result<ImportReport> {
    let mut tx = db.begin().await.map_err(storage)?;
    let mut report = ImportReport::default();
    for (i, r) in returned.iter().enumerate() {
        match return_in(&mut tx, actor, &r.end_to_end, r.reason, on).await {
            Ok(true) => report.booked += 1,
            Ok(false) => report.already += 1,
            Err(Error::NotFound(m)) => report.faults.push(Fault {
                line: i + 1,
                field: "OrgnlEndToEndId".into(),
                reason: m,
            }),
            Err(e) => return Err(e),
        }
    }
    if report.faults.is_empty() && !dry_run {
        tx.commit().await.map_err(storage)?;
    }
    Ok(report)
}

/// Books the credit lines of a transfer statement that name an invoice or
/// an account, all or nothing. A line seen in an earlier import (same
/// date, amount and text) is not booked twice; lines that match nothing
/// are reported for the accountant to book by hand.
#[tracing::instrument(skip_all, fields(actor = %actor.username, count = lines.len()))]
pub async fn import_transfers(
    db: &Db,
    actor: &Actor,
    lines: &[BankLine],
    dry_run: bool,
) -> Result<ImportReport> {
    let mut tx = db.begin().await.map_err(storage)?;
    let mut report = ImportReport::default();
    let mut seen = std::collections::HashMap::new();
    for l in lines {
        // Two identical lines in one statement are two transfers.
        let n = seen
            .entry((l.date, l.amount, l.text.clone()))
            .and_modify(|n| *n += 1)
            .or_insert(1);
        let key = format!("virement|{}|{}|{}|{n}", l.date, l.amount.0, l.text);
        let known = sqlx::query("SELECT 1 FROM bil_payments WHERE import_key = $1")
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(storage)?;
        if known.is_some() {
            report.already += 1;
            continue;
        }
        let mut target = None;
        for reference in crate::ledger::references_in(&l.text) {
            let row = if reference.starts_with("CPT-") {
                sqlx::query("SELECT id AS account_id, NULL AS number FROM bil_accounts WHERE code = $1")
            } else {
                sqlx::query("SELECT account_id, number FROM bil_invoices WHERE number = $1 AND kind IN ('invoice', 'balance')")
            }
            .bind(&reference)
            .fetch_optional(&mut *tx)
            .await
            .map_err(storage)?;
            if let Some(r) = row {
                target = Some((
                    r.try_get::<i64, _>("account_id").map_err(storage)?,
                    r.try_get::<Option<String>, _>("number").map_err(storage)?,
                ));
                break;
            }
        }
        let Some((account_id, invoice)) = target else {
            report.unmatched.push(l.clone());
            continue;
        };
        book(
            &mut tx,
            actor,
            &Entry {
                account_id,
                method: Method::Transfer,
                amount: l.amount,
                on: l.date,
                reference: Some(&l.text),
                reason: None,
                reverses: None,
                collection: None,
                representation: None,
                import_key: Some(&key),
            },
            invoice.as_deref(),
        )
        .await?;
        report.booked += 1;
    }
    if !dry_run {
        tx.commit().await.map_err(storage)?;
    }
    Ok(report)
}

const PAYMENT_COLUMNS: &str = "p.id, p.number, a.code AS account, p.method, p.amount_cents, p.received_on, p.reference, p.reason_code";

async fn payments_where(db: &Db, filter: &str, values: &[String]) -> Result<Vec<Payment>> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM bil_payments p JOIN bil_accounts a ON a.id = p.account_id
         WHERE {filter} ORDER BY p.received_on, p.id"
    );
    let rows = values
        .iter()
        .fold(sqlx::query(&sql), |q, v| q.bind(v.clone()))
        .fetch_all(db.pool())
        .await
        .map_err(storage)?;
    let sql = format!(
        "SELECT l.payment_id, i.number, l.amount_cents FROM bil_allocations l
         JOIN bil_invoices i ON i.id = l.invoice_id
         JOIN bil_payments p ON p.id = l.payment_id JOIN bil_accounts a ON a.id = p.account_id
         WHERE {filter} ORDER BY l.id"
    );
    let allocations = values
        .iter()
        .fold(sqlx::query(&sql), |q, v| q.bind(v.clone()))
        .fetch_all(db.pool())
        .await
        .map_err(storage)?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get("id").map_err(storage)?;
            let mut parts = Vec::new();
            for a in &allocations {
                if a.try_get::<i64, _>("payment_id").map_err(storage)? == id {
                    parts.push((
                        a.try_get("number").map_err(storage)?,
                        Cents(a.try_get("amount_cents").map_err(storage)?),
                    ));
                }
            }
            Ok(Payment {
                number: r.try_get("number").map_err(storage)?,
                account: r.try_get("account").map_err(storage)?,
                method: Method::parse(&r.try_get::<String, _>("method").map_err(storage)?)?,
                amount: Cents(r.try_get("amount_cents").map_err(storage)?),
                received_on: day(&r.try_get::<String, _>("received_on").map_err(storage)?)?,
                reference: r.try_get("reference").map_err(storage)?,
                reason: r.try_get("reason_code").map_err(storage)?,
                allocations: parts,
            })
        })
        .collect()
}

/// One entry by its number.
pub async fn payment(db: &Db, number: &str) -> Result<Payment> {
    payments_where(db, "p.number = $1", &[number.trim().to_owned()])
        .await?
        .pop()
        .ok_or_else(|| Error::NotFound(format!("aucun paiement « {} »", number.trim())))
}

/// The entries of an account, by date.
pub async fn payments(db: &Db, account: &str) -> Result<Vec<Payment>> {
    payments_where(db, "a.code = $1", &[account.trim().to_owned()]).await
}

/// The entries received between two days (both included).
pub async fn payments_between(db: &Db, from: NaiveDate, to: NaiveDate) -> Result<Vec<Payment>> {
    payments_where(
        db,
        "p.received_on >= $1 AND p.received_on <= $2",
        &[from.to_string(), to.to_string()],
    )
    .await
}

/// An account's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// Invoices less credit notes.
    pub billed: Cents,
    /// Entries (payments less returns).
    pub paid: Cents,
    /// What the account owes (negative: a credit in its favour).
    pub balance: Cents,
    pub open: Vec<Open>,
}

/// What an account owes and which invoices are open.
pub async fn balance(db: &Db, account: &str) -> Result<Balance> {
    let mut conn = db.pool().acquire().await.map_err(storage)?;
    let id = account_id(&mut conn, account).await?;
    let r = sqlx::query(
        "SELECT CAST(COALESCE((SELECT SUM(gross_cents) FROM bil_invoices WHERE account_id = $1), 0) AS BIGINT) AS billed,
                CAST(COALESCE((SELECT SUM(amount_cents) FROM bil_payments WHERE account_id = $1), 0) AS BIGINT) AS paid",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .map_err(storage)?;
    let billed = Cents(r.try_get("billed").map_err(storage)?);
    let paid = Cents(r.try_get("paid").map_err(storage)?);
    Ok(Balance {
        billed,
        paid,
        balance: billed.checked_sub(paid)?,
        open: open_of(&mut conn, id)
            .await?
            .into_iter()
            .map(|(_, o)| o)
            .collect(),
    })
}

/// One line of an account's statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementLine {
    pub on: NaiveDate,
    pub label: String,
    /// What the line adds to the balance (an invoice) or takes off.
    pub amount: Cents,
    /// The balance after this line.
    pub balance: Cents,
}

/// The account's statement: invoices, credit notes and entries by date,
/// with the running balance.
pub async fn statement(db: &Db, account: &str) -> Result<Vec<StatementLine>> {
    let mut items: Vec<(NaiveDate, u8, String, Cents)> = Vec::new();
    for i in super::invoices(db, Some(account.trim())).await? {
        let label = match i.kind {
            crate::model::DocumentKind::Invoice => format!(
                "Facture {} ({})",
                i.number,
                crate::compute::Month::parse(&i.period)
                    .map(crate::compute::Month::words)
                    .unwrap_or_else(|_| i.period.clone())
            ),
            crate::model::DocumentKind::CreditNote => format!(
                "Avoir {} sur la facture {}",
                i.number,
                i.corrects.as_deref().unwrap_or("")
            ),
            crate::model::DocumentKind::Balance => format!(
                "Solde repris {} ({})",
                i.number,
                i.lines.first().map_or("", |l| l.description.as_str())
            ),
        };
        items.push((i.issued_on, 0, label, i.gross));
    }
    for p in payments(db, account).await? {
        let mut label = match p.reference.as_deref().filter(|r| !r.trim().is_empty()) {
            Some(r) => format!("{} {} (réf. {r})", capitalised(p.method.label()), p.number),
            None => format!("{} {}", capitalised(p.method.label()), p.number),
        };
        if let Some(code) = &p.reason {
            let reason = ReturnReason::parse(code)
                .map(ReturnReason::label)
                .unwrap_or("");
            label = format!(
                "Rejet de prélèvement {} : {code} {reason}",
                p.reference.as_deref().unwrap_or("")
            );
        }
        items.push((p.received_on, 1, label, Cents(-p.amount.0)));
    }
    items.sort_by_key(|a| (a.0, a.1));
    let mut running = Cents::ZERO;
    let mut out = Vec::new();
    for (on, _, label, amount) in items {
        running = running.checked_add(amount)?;
        out.push(StatementLine {
            on,
            label,
            amount,
            balance: running,
        });
    }
    Ok(out)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// FSL requests and decisions.

/// Records a household's request to the FSL: from now on its line is not
/// cut for unpaid bills until the decision.
#[tracing::instrument(skip_all, fields(actor = %actor.username, account = %account))]
pub async fn file_fsl(
    db: &Db,
    actor: &Actor,
    account: &str,
    filed_on: NaiveDate,
    reference: Option<&str>,
) -> Result<()> {
    let mut tx = db.begin().await.map_err(storage)?;
    let id = account_id(&mut tx, account).await?;
    let inserted = sqlx::query(
        "INSERT INTO bil_fsl (account_id, filed_on, reference, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(filed_on.to_string())
    .bind(reference.map(str::trim).filter(|r| !r.is_empty()))
    .bind(time::to_db(time::now()))
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if regie_core::db::is_unique_violation(&e) => {
            return Err(Error::Invalid(
                "une demande au FSL de ce compte attend déjà sa décision".into(),
            ))
        }
        Err(e) => return Err(storage(e)),
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "fsl.file",
            entity: "account",
            entity_id: account.trim(),
            before: None,
            after: Some(serde_json::json!({ "filed_on": filed_on })),
        },
    )
    .await
    .map_err(Error::Storage)?;
    tx.commit().await.map_err(storage)?;
    Ok(())
}

/// The day the account's pending FSL request was filed, if any.
pub async fn fsl_pending(db: &Db, account: &str) -> Result<Option<NaiveDate>> {
    let r = sqlx::query(
        "SELECT f.filed_on FROM bil_fsl f JOIN bil_accounts a ON a.id = f.account_id
         WHERE a.code = $1 AND f.decided_on IS NULL",
    )
    .bind(account.trim())
    .fetch_optional(db.pool())
    .await
    .map_err(storage)?;
    r.map(|r| day(&r.try_get::<String, _>("filed_on").map_err(storage)?))
        .transpose()
}

/// Books the FSL's decision: the part it pays as a payment from the FSL,
/// the part written off as a write-off entry; both settle the oldest
/// invoices. One transaction.
#[tracing::instrument(skip_all, fields(actor = %actor.username, account = %account))]
pub async fn decide_fsl(
    db: &Db,
    actor: &Actor,
    account: &str,
    decided_on: NaiveDate,
    paid: Cents,
    written_off: Cents,
) -> Result<()> {
    if paid.0 < 0 || written_off.0 < 0 {
        return Err(Error::Invalid(
            "les montants du FSL sont positifs ou nuls".into(),
        ));
    }
    let mut tx = db.begin().await.map_err(storage)?;
    let id = account_id(&mut tx, account).await?;
    let updated = sqlx::query(
        "UPDATE bil_fsl SET decided_on = $1, paid_cents = $2, written_off_cents = $3
         WHERE account_id = $4 AND decided_on IS NULL",
    )
    .bind(decided_on.to_string())
    .bind(paid.0)
    .bind(written_off.0)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(storage)?;
    if updated.rows_affected() == 0 {
        return Err(Error::Invalid(
            "ce compte n'a pas de demande au FSL en attente".into(),
        ));
    }
    for (method, amount) in [(Method::Fsl, paid), (Method::WriteOff, written_off)] {
        if amount.0 > 0 {
            book(
                &mut tx,
                actor,
                &Entry {
                    account_id: id,
                    method,
                    amount,
                    on: decided_on,
                    reference: Some("décision du FSL"),
                    reason: None,
                    reverses: None,
                    collection: None,
                    representation: None,
                    import_key: None,
                },
                None,
            )
            .await?;
        }
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "fsl.decide",
            entity: "account",
            entity_id: account.trim(),
            before: None,
            after: Some(serde_json::json!({ "decided_on": decided_on, "paid_cents": paid.0, "written_off_cents": written_off.0 })),
        },
    )
    .await
    .map_err(Error::Storage)?;
    tx.commit().await.map_err(storage)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Dunning.

/// An account with an invoice past its due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arrear {
    pub account: String,
    pub household: Option<String>,
    /// The oldest open invoice.
    pub invoice: String,
    pub issued_on: NaiveDate,
    /// What the account's open invoices owe in all.
    pub owed: Cents,
}

/// An open invoice with its account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenOf {
    pub account: String,
    pub name: String,
    pub household: Option<String>,
    pub open: Open,
}

/// Every open invoice issued on or before `issued_before`, by account
/// then age.
pub async fn open_invoices(db: &Db, issued_before: NaiveDate) -> Result<Vec<OpenOf>> {
    let rows = sqlx::query(&format!(
        "SELECT a.code, a.name, a.household, i.number, i.issued_on, {DUE} AS due
         FROM bil_invoices i JOIN bil_accounts a ON a.id = i.account_id
         WHERE i.kind IN ('invoice', 'balance') AND i.issued_on <= $1
         ORDER BY a.code, i.issued_on, i.number"
    ))
    .bind(issued_before.to_string())
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    let mut out = Vec::new();
    for r in rows {
        let due = Cents(r.try_get("due").map_err(storage)?);
        if due.0 <= 0 {
            continue;
        }
        out.push(OpenOf {
            account: r.try_get("code").map_err(storage)?,
            name: r.try_get("name").map_err(storage)?,
            household: r.try_get("household").map_err(storage)?,
            open: Open {
                invoice: r.try_get("number").map_err(storage)?,
                issued_on: day(&r.try_get::<String, _>("issued_on").map_err(storage)?)?,
                due,
            },
        });
    }
    Ok(out)
}

/// Every account with at least one open invoice issued on or before
/// `issued_before`, with its oldest one.
pub async fn arrears(db: &Db, issued_before: NaiveDate) -> Result<Vec<Arrear>> {
    let mut out: Vec<Arrear> = Vec::new();
    for o in open_invoices(db, issued_before).await? {
        match out.last_mut() {
            Some(last) if last.account == o.account => {
                last.owed = last.owed.checked_add(o.open.due)?
            }
            _ => out.push(Arrear {
                account: o.account,
                household: o.household,
                invoice: o.open.invoice,
                issued_on: o.open.issued_on,
                owed: o.open.due,
            }),
        }
    }
    Ok(out)
}

/// Records a dunning step of an invoice once; `false` when it was done.
pub async fn record_step(
    db: &Db,
    actor: &Actor,
    invoice: &str,
    step: crate::ledger::Step,
    on: NaiveDate,
) -> Result<bool> {
    let action = match step {
        crate::ledger::Step::Reminder(_) => "reminder",
        crate::ledger::Step::Suspension => "suspension",
    };
    let mut tx = db.begin().await.map_err(storage)?;
    let inserted = sqlx::query(
        "INSERT INTO bil_dunning (invoice_id, step, action, done_on, created_at)
         SELECT id, $2, $3, $4, $5 FROM bil_invoices WHERE number = $1",
    )
    .bind(invoice)
    .bind(step.number())
    .bind(action)
    .bind(on.to_string())
    .bind(time::to_db(time::now()))
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if regie_core::db::is_unique_violation(&e) => return Ok(false),
        Err(e) => return Err(storage(e)),
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "dunning.step",
            entity: "invoice",
            entity_id: invoice,
            before: None,
            after: Some(serde_json::json!({ "step": step, "on": on })),
        },
    )
    .await
    .map_err(Error::Storage)?;
    tx.commit().await.map_err(storage)?;
    Ok(true)
}

/// One dunning step done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoneStep {
    pub invoice: String,
    pub step: i64,
    pub action: String,
    pub on: NaiveDate,
}

/// The dunning steps done for an account's invoices, by date.
pub async fn steps(db: &Db, account: &str) -> Result<Vec<DoneStep>> {
    let rows = sqlx::query(
        "SELECT i.number, d.step, d.action, d.done_on FROM bil_dunning d
         JOIN bil_invoices i ON i.id = d.invoice_id JOIN bil_accounts a ON a.id = i.account_id
         WHERE a.code = $1 ORDER BY d.done_on, d.id",
    )
    .bind(account.trim())
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    rows.iter()
        .map(|r| {
            Ok(DoneStep {
                invoice: r.try_get("number").map_err(storage)?,
                step: r.try_get::<i64, _>("step").map_err(storage)?,
                action: r.try_get("action").map_err(storage)?,
                on: day(&r.try_get::<String, _>("done_on").map_err(storage)?)?,
            })
        })
        .collect()
}

/// The line policy billing last asked for an account, with its reason.
pub async fn policy(db: &Db, account: &str) -> Result<Option<(String, Option<String>)>> {
    let r = sqlx::query(
        "SELECT p.wanted, p.reason FROM bil_line_policy p JOIN bil_accounts a ON a.id = p.account_id
         WHERE a.code = $1",
    )
    .bind(account.trim())
    .fetch_optional(db.pool())
    .await
    .map_err(storage)?;
    r.map(|r| {
        Ok((
            r.try_get("wanted").map_err(storage)?,
            r.try_get("reason").map_err(storage)?,
        ))
    })
    .transpose()
}

/// Accounts whose line billing holds away from normal.
pub async fn held_accounts(db: &Db) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT a.code FROM bil_line_policy p JOIN bil_accounts a ON a.id = p.account_id
         WHERE p.wanted <> 'normal' ORDER BY a.code",
    )
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    rows.iter()
        .map(|r| r.try_get("code").map_err(storage))
        .collect()
}

/// Stores the policy billing asks for an account (and why).
pub async fn set_policy(
    db: &Db,
    account: &str,
    wanted: crate::ledger::Wanted,
    reason: Option<&str>,
    since: NaiveDate,
) -> Result<()> {
    let wanted = match wanted {
        crate::ledger::Wanted::Normal => "normal",
        crate::ledger::Wanted::Suspended => "suspended",
        crate::ledger::Wanted::Throttled => "throttled",
    };
    let mut conn = db.pool().acquire().await.map_err(storage)?;
    let id = account_id(&mut conn, account).await?;
    sqlx::query(
        "INSERT INTO bil_line_policy (account_id, wanted, reason, since) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id) DO UPDATE SET wanted = excluded.wanted, reason = excluded.reason,
            since = CASE WHEN bil_line_policy.wanted = excluded.wanted THEN bil_line_policy.since ELSE excluded.since END",
    )
    .bind(id)
    .bind(wanted)
    .bind(reason)
    .bind(since.to_string())
    .execute(&mut *conn)
    .await
    .map_err(storage)?;
    Ok(())
}

/// The live lines of an account.
pub async fn lines_of(db: &Db, account: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT s.line_id FROM bil_subscriptions s JOIN bil_accounts a ON a.id = s.account_id
         WHERE a.code = $1 AND s.ended_on IS NULL ORDER BY s.line_id",
    )
    .bind(account.trim())
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    rows.iter()
        .map(|r| r.try_get("line_id").map_err(storage))
        .collect()
}
