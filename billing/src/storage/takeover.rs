//! The SQL of a takeover: offers reused or recorded, and balances the
//! outgoing operator left open. Everything runs in the caller's
//! transaction, so a takeover is written whole or not at all.

use chrono::NaiveDate;
use regie_core::audit::{self, Actor, Change};
use regie_core::time;

use super::series::{self, Order};
use super::{account_id, offer_from, storage, Result, OFFER_COLUMNS};
use crate::compute::{Line, LineKind};
use crate::model::{NewOffer, Offer};
use crate::money::{Cents, VatRate};
use crate::Error;

/// The offer of that code: reused when the régie already has it at the
/// same price and rate, recorded otherwise. A same code at another price
/// is refused, since subscribers would silently change price.
pub(crate) async fn offer_for(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    new: &NewOffer,
) -> Result<Offer> {
    new.check()?;
    let existing = sqlx::query(&format!(
        "SELECT {OFFER_COLUMNS} FROM bil_offers WHERE code = $1"
    ))
    .bind(new.code.trim())
    .fetch_optional(&mut *conn)
    .await
    .map_err(storage)?;
    if let Some(r) = existing {
        let offer = offer_from(&r)?;
        if offer.monthly_gross != new.monthly_gross || offer.rate != new.rate {
            return Err(Error::Invalid(format!(
                "l'offre {} existe déjà à {} par mois (TVA {} %), pas à {} (TVA {} %)",
                offer.code,
                offer.monthly_gross,
                offer.rate.percent(),
                new.monthly_gross,
                new.rate.percent()
            )));
        }
        return Ok(offer);
    }
    super::insert_offer(conn, actor, new).await
}

/// A balance the outgoing operator left open on one of its invoices,
/// now owed to the régie: a document of its own series (`SR2026-000001`),
/// without VAT (it was charged on the original invoice). Answers its
/// number.
pub(crate) async fn insert_balance(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    account_code: &str,
    description: &str,
    amount: Cents,
    on: NaiveDate,
) -> Result<String> {
    if amount.0 <= 0 {
        return Err(Error::Invalid(format!(
            "un solde repris est un montant dû, positif (ici {amount})"
        )));
    }
    let account = account_id(conn, account_code).await?;
    let buyer = super::account_from(
        &sqlx::query(&format!(
            "SELECT {} FROM bil_accounts WHERE id = $1",
            super::ACCOUNT_COLUMNS
        ))
        .bind(account)
        .fetch_one(&mut *conn)
        .await
        .map_err(storage)?,
    )?;
    let series = format!("SR{}", chrono::Datelike::year(&on));
    let seq = series::next(conn, &series, on, Order::Chronological).await?;
    let number = format!("{series}-{seq:06}");
    let lines = vec![Line {
        kind: LineKind::TakenOver,
        description: description.to_owned(),
        net: amount,
        rate: VatRate::OUT_OF_SCOPE,
    }];
    sqlx::query(
        "INSERT INTO bil_invoices (number, series, seq, kind, account_id, subscription_id, period, issued_on,
            net_cents, tax_cents, gross_cents, lines_json, buyer_json, created_at)
         VALUES ($1, $2, $3, 'balance', $4, NULL, 'reprise', $5, $6, 0, $6, $7, $8, $9)",
    )
    .bind(&number)
    .bind(&series)
    .bind(seq)
    .bind(account)
    .bind(on.to_string())
    .bind(amount.0)
    .bind(serde_json::to_string(&lines).map_err(|e| Error::Invalid(e.to_string()))?)
    .bind(serde_json::to_string(&buyer).map_err(|e| Error::Invalid(e.to_string()))?)
    .bind(time::to_db(time::now()))
    .execute(&mut *conn)
    .await
    .map_err(storage)?;
    audit::record(
        conn,
        actor,
        Change {
            action: "balance.take_over",
            entity: "invoice",
            entity_id: &number,
            before: None,
            after: Some(serde_json::json!({
                "account": account_code.trim(), "gross_cents": amount.0, "description": description,
            })),
        },
    )
    .await
    .map_err(Error::Storage)?;
    Ok(number)
}
