//! Numbering series (`FA2026`, `AV2026`, `PA2026`, `SR2026`): gapless and,
//! for documents, chronological (CGI art. 242 nonies A: invoices are
//! numbered in one chronological and continuous sequence per series). A
//! series row remembers the latest date it numbered (`last_on`); taking a
//! number for an earlier date is refused with the dates in French. Dates
//! after today are refused where people type them (the run's issue date,
//! a counter payment, a credit note). Taking numbers writes the series row,
//! so concurrent writers of one series queue there.

use chrono::NaiveDate;
use sqlx::{AnyConnection, Row};

use super::{storage, Result};
use crate::Error;

/// Whether a series must follow the dates it numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Invoices, credit notes, counter receipts: never before the series'
    /// latest date, never after today.
    Chronological,
    /// Entries read from the bank (statements, returns): dated by the bank,
    /// possibly earlier than the latest entry; they neither follow nor move
    /// the series' latest date, which is that of the counter's receipts.
    AsDated,
}

fn fr(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// Refuses a date after today (Europe/Paris).
pub fn not_after_today(on: NaiveDate, what: &str) -> Result<()> {
    not_after(on, regie_core::time::today(), what)
}

/// Refuses a date after `today`.
pub fn not_after(on: NaiveDate, today: NaiveDate, what: &str) -> Result<()> {
    if on > today {
        return Err(Error::Invalid(format!(
            "{what} du {} est dans le futur (nous sommes le {})",
            fr(on),
            fr(today)
        )));
    }
    Ok(())
}

/// Takes `count` consecutive numbers of `series` for documents dated `on`,
/// in the caller's transaction; answers the first.
pub(crate) async fn take(
    conn: &mut AnyConnection,
    series: &str,
    on: NaiveDate,
    count: i64,
    order: Order,
) -> Result<i64> {
    sqlx::query(
        "INSERT INTO bil_series (series, next_number) VALUES ($1, 1) ON CONFLICT (series) DO NOTHING",
    )
    .bind(series)
    .execute(&mut *conn)
    .await
    .map_err(storage)?;
    let day = on.to_string();
    let row = sqlx::query(
        "UPDATE bil_series SET next_number = next_number + $3,
            last_on = CASE WHEN $4 = 1 THEN $2 ELSE last_on END
         WHERE series = $1 AND ($4 = 0 OR last_on IS NULL OR last_on <= $2)
         RETURNING next_number",
    )
    .bind(series)
    .bind(&day)
    .bind(count)
    .bind(i64::from(order == Order::Chronological))
    .fetch_optional(&mut *conn)
    .await
    .map_err(storage)?;
    match row {
        Some(r) => Ok(r.try_get::<i64, _>("next_number").map_err(storage)? - count),
        None => {
            let last: String = sqlx::query("SELECT last_on FROM bil_series WHERE series = $1")
                .bind(series)
                .fetch_one(&mut *conn)
                .await
                .map_err(storage)?
                .try_get::<Option<String>, _>("last_on")
                .map_err(storage)?
                .unwrap_or_default();
            let last = last.parse::<NaiveDate>().map(fr).unwrap_or(last);
            Err(Error::Invalid(format!(
                "la date du {} précède celle de la dernière pièce de la série {series} ({last}) : \
                 les numéros d'une série suivent l'ordre des dates",
                fr(on)
            )))
        }
    }
}

/// Takes the next number of `series` for a document dated `on`.
pub(crate) async fn next(
    conn: &mut AnyConnection,
    series: &str,
    on: NaiveDate,
    order: Order,
) -> Result<i64> {
    take(conn, series, on, 1, order).await
}
