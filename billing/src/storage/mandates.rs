//! SEPA mandates and the batches of debits taken under them: a mandate
//! recorded (at the counter, online, or kept from the concession), its
//! RUM, the live mandate of an account, and the collections a batch sets
//! aside.

use chrono::NaiveDate;
use regie_core::audit::{self, Actor, Change};
use regie_core::{db::is_unique_violation, time, Db};
use sqlx::Row;

use super::{account_id, account_with_prefix, day, ledger, storage, Result};
use crate::mandate::{Channel, Record, Status};
use crate::model::Account;
use crate::sepa::{AccountChange, Bic, Collection, Iban, Sequence};
use crate::Error;

/// A SEPA mandate as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mandate {
    pub rum: String,
    pub account: String,
    pub holder: String,
    pub iban: Iban,
    pub bic: Option<Bic>,
    pub signed_on: NaiveDate,
}

/// Records a mandate the household or business signed; the régie assigns
/// its RUM. An account has one live mandate: a new one needs the old one
/// revoked.
#[tracing::instrument(skip_all, fields(actor = %actor.username, account = %account_code))]
pub async fn add_mandate(
    db: &Db,
    actor: &Actor,
    account_code: &str,
    holder: &str,
    iban: &Iban,
    bic: Option<&Bic>,
    signed_on: NaiveDate,
) -> Result<Mandate> {
    let mut tx = db.begin().await.map_err(storage)?;
    let mandate = insert_mandate(
        &mut tx,
        actor,
        &NewMandate {
            account: account_code,
            holder,
            iban,
            bic,
            signed_on,
            kept: None,
            online: None,
        },
    )
    .await?;
    tx.commit().await.map_err(storage)?;
    Ok(mandate)
}

/// Records the mandate a household gives online from its own space: its
/// consent is kept with the time and the user who gave it, and the day in
/// France is its signature date.
#[tracing::instrument(skip_all, fields(actor = %actor.username, account = %account_code))]
pub async fn add_mandate_online(
    db: &Db,
    actor: &Actor,
    account_code: &str,
    holder: &str,
    iban: &Iban,
    bic: Option<&Bic>,
) -> Result<Mandate> {
    let mut tx = db.begin().await.map_err(storage)?;
    let mandate = insert_mandate(
        &mut tx,
        actor,
        &NewMandate {
            account: account_code,
            holder,
            iban,
            bic,
            signed_on: regie_core::time::today(),
            kept: None,
            online: Some(&actor.username),
        },
    )
    .await?;
    tx.commit().await.map_err(storage)?;
    Ok(mandate)
}

/// A mandate as it is recorded.
#[derive(Debug)]
pub struct NewMandate<'a> {
    pub account: &'a str,
    pub holder: &'a str,
    pub iban: &'a Iban,
    pub bic: Option<&'a Bic>,
    pub signed_on: NaiveDate,
    /// A mandate taken over keeps its RUM and names the creditor it was
    /// signed with; `None` for a mandate signed with the régie.
    pub kept: Option<&'a KeptMandate>,
    /// Given online: the user who consented (now); `None` on paper.
    pub online: Option<&'a str>,
}

/// What a mandate taken over from another creditor keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptMandate {
    pub rum: String,
    /// The creditor identifier (ICS) and name the mandate was signed with.
    pub former_creditor_id: crate::sepa::CreditorId,
    pub former_creditor_name: String,
    /// The day the mandate passed to the régie.
    pub taken_over_on: NaiveDate,
}

/// Records a mandate in the caller's transaction.
pub(crate) async fn insert_mandate(
    tx: &mut sqlx::AnyConnection,
    actor: &Actor,
    m: &NewMandate<'_>,
) -> Result<Mandate> {
    let (account_code, iban, bic, signed_on) = (m.account, m.iban, m.bic, m.signed_on);
    let holder = crate::mandate::holder(m.holder)?;
    let holder = holder.as_str();
    if m.kept.is_none() {
        super::series::not_after_today(signed_on, "la signature du mandat")?;
    }
    let channel = match (m.kept, m.online) {
        (Some(_), _) => Channel::Takeover,
        (None, Some(_)) => Channel::Online,
        (None, None) => Channel::Counter,
    };
    let now = time::to_db(time::now());
    let account_id = account_id(tx, account_code).await?;
    let rum = match m.kept {
        Some(k) => k.rum.clone(),
        None => {
            let n: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM bil_mandates WHERE account_id = $1")
                    .bind(account_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(storage)?
                    .try_get("n")
                    .map_err(storage)?;
            format!("RUM-{}-{:02}", account_code.trim(), n + 1)
        }
    };
    let inserted = sqlx::query(
        "INSERT INTO bil_mandates (rum, account_id, holder, iban, bic, signed_on, created_at, former_creditor_id,
            former_creditor_name, taken_over_on, channel, consent_at, consent_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&rum)
    .bind(account_id)
    .bind(holder)
    .bind(iban.as_str())
    .bind(bic.map(Bic::as_str))
    .bind(signed_on.to_string())
    .bind(&now)
    .bind(m.kept.map(|k| k.former_creditor_id.as_str().to_owned()))
    .bind(m.kept.map(|k| k.former_creditor_name.clone()))
    .bind(m.kept.map(|k| k.taken_over_on.to_string()))
    .bind(channel.as_str())
    .bind(m.online.map(|_| now.clone()))
    .bind(m.online)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) && m.kept.is_some() => {
            return Err(Error::Invalid(format!(
                "la RUM {rum} est déjà celle d'un autre mandat, ou le compte {} a déjà un mandat en cours",
                account_code.trim()
            )))
        }
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Invalid(format!(
                "le compte {} a déjà un mandat en cours : révoquez-le d'abord",
                account_code.trim()
            )))
        }
        Err(e) => return Err(storage(e)),
    }
    audit::record(
        tx,
        actor,
        Change {
            action: "mandate.add",
            entity: "mandate",
            entity_id: &rum,
            before: None,
            after: Some(serde_json::json!({
                "account": account_code.trim(), "iban": iban.masked(), "signed_on": signed_on,
                "former_creditor_id": m.kept.map(|k| k.former_creditor_id.as_str()),
                "channel": channel.as_str(),
            })),
        },
    )
    .await
    .map_err(Error::Storage)?;
    Ok(Mandate {
        rum,
        account: account_code.trim().to_owned(),
        holder: holder.to_owned(),
        iban: iban.clone(),
        bic: bic.cloned(),
        signed_on,
    })
}

/// The account's live mandate row, locked for a change (a write first:
/// SQLite's write lock, PostgreSQL's row lock).
async fn live_row(
    tx: &mut sqlx::AnyConnection,
    account_code: &str,
) -> Result<(i64, String, String, Option<String>)> {
    let account = account_id(tx, account_code).await?;
    sqlx::query("UPDATE bil_mandates SET rum = rum WHERE account_id = $1 AND revoked_on IS NULL")
        .bind(account)
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    let r = sqlx::query(
        "SELECT id, rum, iban, original_iban FROM bil_mandates WHERE account_id = $1 AND revoked_on IS NULL",
    )
    .bind(account)
    .fetch_optional(&mut *tx)
    .await
    .map_err(storage)?
    .ok_or_else(|| {
        Error::NotFound(format!(
            "le compte {} n'a pas de mandat en cours",
            account_code.trim()
        ))
    })?;
    Ok((
        r.try_get("id").map_err(storage)?,
        r.try_get("rum").map_err(storage)?,
        r.try_get("iban").map_err(storage)?,
        r.try_get("original_iban").map_err(storage)?,
    ))
}

/// The debtor's account changes under the same mandate (same RUM): the
/// next debit announces it (the former IBAN at the same bank, or `SMNDA`
/// for another bank). A holder's name may change with it.
#[tracing::instrument(skip_all, fields(actor = %actor.username, account = %account_code))]
pub async fn amend_mandate(
    db: &Db,
    actor: &Actor,
    account_code: &str,
    holder: Option<&str>,
    iban: &Iban,
    bic: Option<&Bic>,
) -> Result<Mandate> {
    let holder = holder.map(crate::mandate::holder).transpose()?;
    let mut tx = db.begin().await.map_err(storage)?;
    let (id, rum, current, original) = live_row(&mut tx, account_code).await?;
    if current == iban.as_str() && holder.is_none() {
        return Err(Error::Invalid(format!(
            "le mandat {rum} prélève déjà le compte {}",
            iban.masked()
        )));
    }
    // The first change since the last debit is the one the bank must see.
    let original = original.unwrap_or(current.clone());
    let original = (original != iban.as_str()).then_some(original);
    sqlx::query(
        "UPDATE bil_mandates SET iban = $1, bic = $2, holder = COALESCE($3, holder), original_iban = $4,
            amended_at = $5 WHERE id = $6",
    )
    .bind(iban.as_str())
    .bind(bic.map(Bic::as_str))
    .bind(holder.as_deref())
    .bind(original.as_deref())
    .bind(time::to_db(time::now()))
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(storage)?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "mandate.amend",
            entity: "mandate",
            entity_id: &rum,
            before: Some(serde_json::json!({ "iban": Iban::parse(&current).map(|i| i.masked()).unwrap_or_default() })),
            after: Some(serde_json::json!({ "iban": iban.masked(), "holder_changed": holder.is_some() })),
        },
    )
    .await
    .map_err(Error::Storage)?;
    tx.commit().await.map_err(storage)?;
    live_mandate(db, account_code)
        .await?
        .ok_or_else(|| Error::NotFound(format!("aucun mandat « {rum} »")))
}

/// Revokes the account's live mandate from `on`, at the debtor's request:
/// nothing is debited under it any more.
#[tracing::instrument(skip_all, fields(actor = %actor.username, account = %account_code))]
pub async fn revoke_mandate(
    db: &Db,
    actor: &Actor,
    account_code: &str,
    on: NaiveDate,
) -> Result<()> {
    super::series::not_after_today(on, "la révocation")?;
    let mut tx = db.begin().await.map_err(storage)?;
    let (id, rum, _, _) = live_row(&mut tx, account_code).await?;
    sqlx::query("UPDATE bil_mandates SET revoked_on = $1, revoke_reason = $2 WHERE id = $3")
        .bind(on.to_string())
        .bind("révoqué à la demande du débiteur")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "mandate.revoke",
            entity: "mandate",
            entity_id: &rum,
            before: None,
            after: Some(serde_json::json!({ "on": on })),
        },
    )
    .await
    .map_err(Error::Storage)?;
    tx.commit().await.map_err(storage)?;
    Ok(())
}

/// Every mandate of an account, the live one first, then the others from
/// the most recent, each with where it stands.
pub async fn mandates_of(db: &Db, account_code: &str) -> Result<Vec<Record>> {
    let rows = sqlx::query(&format!(
        "{MANDATE_SELECT_FULL} WHERE a.code = $1 ORDER BY m.revoked_on IS NOT NULL, m.id DESC"
    ))
    .bind(account_code.trim())
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    rows.iter().map(record_from).collect()
}

const MANDATE_SELECT_FULL: &str =
    "SELECT m.rum, a.code, m.holder, m.iban, m.bic, m.signed_on, m.channel, m.consent_at, m.consent_by,
            m.revoked_on, m.revoke_reason, m.original_iban, m.taken_over_on,
            (SELECT MAX(c.collection_date) FROM bil_collections c WHERE c.mandate_id = m.id) AS last_debit
     FROM bil_mandates m JOIN bil_accounts a ON a.id = m.account_id";

fn record_from(r: &sqlx::any::AnyRow) -> Result<Record> {
    let mandate = mandate_from(r)?;
    let last_debit = r
        .try_get::<Option<String>, _>("last_debit")
        .map_err(storage)?
        .map(|d| day(&d))
        .transpose()?;
    let taken_over_on = r
        .try_get::<Option<String>, _>("taken_over_on")
        .map_err(storage)?
        .map(|d| day(&d))
        .transpose()?;
    let status = match r
        .try_get::<Option<String>, _>("revoked_on")
        .map_err(storage)?
    {
        None => Status::Live,
        Some(on) => {
            let on = day(&on)?;
            match r
                .try_get::<Option<String>, _>("revoke_reason")
                .map_err(storage)?
            {
                Some(reason) if reason == EXPIRED => Status::Expired { on },
                reason => Status::Revoked {
                    on,
                    reason: reason.unwrap_or_else(|| "révoqué".into()),
                },
            }
        }
    };
    let last_use = last_debit
        .into_iter()
        .chain(taken_over_on)
        .max()
        .unwrap_or(mandate.signed_on);
    Ok(Record {
        channel: r
            .try_get::<Option<String>, _>("channel")
            .map_err(storage)?
            .and_then(|c| Channel::parse(&c))
            .unwrap_or(Channel::Counter),
        consent_at: r.try_get("consent_at").map_err(storage)?,
        consent_by: r.try_get("consent_by").map_err(storage)?,
        lapses_on: (status == Status::Live)
            .then(|| crate::mandate::lapses_on(last_use))
            .flatten(),
        status,
        amendment_pending: r
            .try_get::<Option<String>, _>("original_iban")
            .map_err(storage)?
            .and_then(|i| Iban::parse(&i).ok())
            .map(|i| i.masked()),
        last_debit,
        mandate,
    })
}

/// Presents once more, in the caller's batch, each debit returned for
/// insufficient funds (AM04) before `collection_date` and not presented
/// again yet, whose mandate still serves, for what its invoice still owes.
async fn represent_returned(
    tx: &mut sqlx::AnyConnection,
    actor: &Actor,
    collection_date: NaiveDate,
    message_id: &str,
    lapsed: &std::collections::HashSet<i64>,
) -> Result<Vec<Collection>> {
    let rows = sqlx::query(
        "SELECT c.id AS collection_id, i.id, i.number, m.id AS mandate_id, m.rum, a.code, m.holder, m.iban,
                m.bic, m.signed_on
         FROM bil_collections c
         JOIN bil_payments p ON p.collection_id = c.id
         JOIN bil_payments r ON r.reverses = p.id AND r.reason_code = 'AM04'
         JOIN bil_invoices i ON i.id = c.invoice_id
         JOIN bil_mandates m ON m.account_id = i.account_id AND m.revoked_on IS NULL
         JOIN bil_accounts a ON a.id = i.account_id
         WHERE r.received_on < $1
           AND NOT EXISTS (SELECT 1 FROM bil_representations x WHERE x.collection_id = c.id)
         ORDER BY i.series, i.seq",
    )
    .bind(collection_date.to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(storage)?;
    let mut out = Vec::new();
    for r in rows {
        let mandate_id: i64 = r.try_get("mandate_id").map_err(storage)?;
        if lapsed.contains(&mandate_id) {
            continue;
        }
        let invoice_id: i64 = r.try_get("id").map_err(storage)?;
        let number: String = r.try_get("number").map_err(storage)?;
        let amount = ledger::due_of(tx, invoice_id).await?;
        if amount.0 <= 0 {
            continue;
        }
        let id: i64 = sqlx::query(
            "INSERT INTO bil_representations (collection_id, mandate_id, amount_cents, collection_date, message_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(r.try_get::<i64, _>("collection_id").map_err(storage)?)
        .bind(mandate_id)
        .bind(amount.0)
        .bind(collection_date.to_string())
        .bind(message_id)
        .bind(time::to_db(time::now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(storage)?
        .try_get("id")
        .map_err(storage)?;
        ledger::book_representation(tx, actor, id, &number, amount, collection_date).await?;
        let mandate = mandate_from(&r)?;
        out.push(Collection {
            remittance: format!("Facture {number} (nouvelle présentation)"),
            end_to_end: ledger::representation_reference(&number),
            amount,
            rum: mandate.rum,
            signed_on: mandate.signed_on,
            sequence: Sequence::Recurring,
            amended_from: None,
            account_changed: None,
            debtor: mandate.holder,
            iban: mandate.iban,
            bic: mandate.bic,
        });
    }
    Ok(out)
}

/// The reason stored for a mandate that lapsed.
const EXPIRED: &str = "caduc : aucun prélèvement depuis 36 mois";

/// The live mandate of an account, if any.
pub async fn live_mandate(db: &Db, account_code: &str) -> Result<Option<Mandate>> {
    let row = sqlx::query(&format!(
        "{MANDATE_SELECT} WHERE a.code = $1 AND m.revoked_on IS NULL"
    ))
    .bind(account_code.trim())
    .fetch_optional(db.pool())
    .await
    .map_err(storage)?;
    row.as_ref().map(mandate_from).transpose()
}

/// The live mandates of the accounts whose ids fall between `low` and
/// `high` (both included), by account code: one query for a page of
/// documents instead of one per document.
pub async fn live_mandates_between(
    db: &Db,
    low: i64,
    high: i64,
) -> Result<std::collections::HashMap<String, Mandate>> {
    let rows = sqlx::query(&format!(
        "{MANDATE_SELECT} WHERE m.account_id >= $1 AND m.account_id <= $2 AND m.revoked_on IS NULL"
    ))
    .bind(low)
    .bind(high)
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    rows.iter()
        .map(|r| mandate_from(r).map(|m| (m.account.clone(), m)))
        .collect()
}

/// A mandate taken over, with its holder's account, for the letter
/// announcing the change of creditor.
#[derive(Debug, Clone)]
pub struct TakenOver {
    pub payer: Account,
    pub mandate: Mandate,
    pub kept: KeptMandate,
}

/// The mandates taken over from another creditor and still in force, in
/// the order of their accounts' codes, with their accounts (one query).
pub async fn taken_over_mandates(db: &Db) -> Result<Vec<TakenOver>> {
    let rows = sqlx::query(
        "SELECT m.rum, a.code, m.holder, m.iban, m.bic, m.signed_on, m.former_creditor_id,
                m.former_creditor_name, COALESCE(m.taken_over_on, substr(m.created_at, 1, 10)) AS taken_over_on,
                a.id AS a_id, a.code AS a_code, a.kind AS a_kind, a.name AS a_name, a.address AS a_address,
                a.postcode AS a_postcode, a.town AS a_town, a.email AS a_email, a.siren AS a_siren,
                a.vat_number AS a_vat_number, a.household AS a_household
         FROM bil_mandates m JOIN bil_accounts a ON a.id = m.account_id
         WHERE m.former_creditor_id IS NOT NULL AND m.revoked_on IS NULL
         ORDER BY a.code, m.rum",
    )
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    rows.iter()
        .map(|r| {
            let mandate = mandate_from(r)?;
            Ok(TakenOver {
                payer: account_with_prefix(r, "a_")?,
                kept: KeptMandate {
                    rum: mandate.rum.clone(),
                    former_creditor_id: crate::sepa::CreditorId::parse(
                        &r.try_get::<String, _>("former_creditor_id")
                            .map_err(storage)?,
                    )?,
                    former_creditor_name: r
                        .try_get::<Option<String>, _>("former_creditor_name")
                        .map_err(storage)?
                        .unwrap_or_default(),
                    taken_over_on: day(&r
                        .try_get::<String, _>("taken_over_on")
                        .map_err(storage)?)?,
                },
                mandate,
            })
        })
        .collect()
}

const MANDATE_SELECT: &str =
    "SELECT m.rum, a.code, m.holder, m.iban, m.bic, m.signed_on FROM bil_mandates m
     JOIN bil_accounts a ON a.id = m.account_id";

fn mandate_from(r: &sqlx::any::AnyRow) -> Result<Mandate> {
    Ok(Mandate {
        rum: r.try_get("rum").map_err(storage)?,
        account: r.try_get("code").map_err(storage)?,
        holder: r.try_get("holder").map_err(storage)?,
        iban: Iban::parse(&r.try_get::<String, _>("iban").map_err(storage)?)?,
        bic: r
            .try_get::<Option<String>, _>("bic")
            .map_err(storage)?
            .map(|b| Bic::parse(&b))
            .transpose()?,
        signed_on: day(&r.try_get::<String, _>("signed_on").map_err(storage)?)?,
    })
}

/// Sets aside, for `collection_date`, the invoices (and balances taken
/// over) of accounts with a live mandate that are not yet collected and
/// whose debit day has come — issued at least `debit_days` before, the
/// delay the invoice printed with its pre-notification; answers them as
/// collections of the batch `message_id`, first or recurring per mandate.
/// With `represent`, a debit returned for insufficient funds (AM04) before
/// this batch is presented once more, quoted `NUMBER/2`, for what the
/// invoice still owes. One transaction: a batch is all or nothing, and an
/// invoice is never in two batches. `deliver` (writing the bank file) runs before the commit:
/// if it fails, nothing is kept.
#[tracing::instrument(skip_all, fields(actor = %actor.username, message = %message_id))]
pub async fn prepare_collections(
    db: &Db,
    actor: &Actor,
    collection_date: NaiveDate,
    debit_days: u32,
    represent: bool,
    message_id: &str,
    deliver: impl FnOnce(&[Collection]) -> Result<()>,
) -> Result<Vec<Collection>> {
    let latest_issue = collection_date
        .checked_sub_days(chrono::Days::new(u64::from(debit_days)))
        .ok_or_else(|| Error::Invalid("date de prélèvement hors limites".into()))?;
    let mut tx = db.begin().await.map_err(storage)?;
    // Writing first: on SQLite the batch takes the write lock before it
    // reads, so two batches cannot pick the same invoices.
    sqlx::query("UPDATE bil_cursors SET seq = seq WHERE name = 'provisioning'")
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    let rows = sqlx::query(
        "SELECT i.id, i.number, i.gross_cents, i.account_id, m.id AS mandate_id, m.rum, a.code, m.holder, m.iban, m.bic, m.signed_on,
                m.former_creditor_id, m.former_creditor_name, m.original_iban, m.taken_over_on,
                (SELECT COUNT(*) FROM bil_collections c WHERE c.mandate_id = m.id) AS used,
                (SELECT MAX(c.collection_date) FROM bil_collections c WHERE c.mandate_id = m.id) AS last_debit
         FROM bil_invoices i JOIN bil_mandates m ON m.account_id = i.account_id AND m.revoked_on IS NULL
         JOIN bil_accounts a ON a.id = i.account_id
         WHERE i.kind IN ('invoice', 'balance') AND i.gross_cents > 0 AND i.issued_on <= $1
           AND NOT EXISTS (SELECT 1 FROM bil_collections c WHERE c.invoice_id = i.id)
         ORDER BY i.series, i.seq",
    )
    .bind(latest_issue.to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(storage)?;
    let mut first_taken = std::collections::HashSet::new();
    let mut lapsed = std::collections::HashSet::new();
    let mut announced = std::collections::HashSet::new();
    let mut out = Vec::new();
    for r in rows {
        let mandate_id: i64 = r.try_get("mandate_id").map_err(storage)?;
        if lapsed.contains(&mandate_id) {
            continue;
        }
        // A mandate unused for 36 months lapses: nothing more is debited
        // under it, the account must give a new one.
        let last_use = [
            r.try_get::<Option<String>, _>("last_debit")
                .map_err(storage)?,
            r.try_get::<Option<String>, _>("taken_over_on")
                .map_err(storage)?,
            Some(r.try_get::<String, _>("signed_on").map_err(storage)?),
        ]
        .into_iter()
        .flatten()
        .map(|d| day(&d))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .max();
        if last_use.is_some_and(|l| crate::mandate::has_lapsed(l, collection_date)) {
            sqlx::query(
                "UPDATE bil_mandates SET revoked_on = $1, revoke_reason = $2 WHERE id = $3",
            )
            .bind(collection_date.to_string())
            .bind(EXPIRED)
            .bind(mandate_id)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
            tracing::info!(mandate_id, "mandate lapsed after 36 months without a debit");
            lapsed.insert(mandate_id);
            continue;
        }
        let used: i64 = r.try_get::<i64, _>("used").map_err(storage)?;
        let number: String = r.try_get("number").map_err(storage)?;
        let invoice_id: i64 = r.try_get("id").map_err(storage)?;
        // What is left after credit notes and payments already received
        // (a credit left on the account pays first).
        ledger::spread(
            &mut tx,
            r.try_get("account_id").map_err(storage)?,
            None,
            None,
        )
        .await?;
        let amount = ledger::due_of(&mut tx, invoice_id).await?;
        if amount.0 <= 0 {
            continue;
        }
        // A mandate taken over has been collected by its former creditor:
        // its collections are recurrent, and the first one by the régie
        // quotes the creditor it was signed with.
        let former_id: Option<String> = r.try_get("former_creditor_id").map_err(storage)?;
        let first = used == 0 && first_taken.insert(mandate_id);
        // Every debit of the batch that opens the régie's use of a mandate
        // taken over carries the amendment: the bank sees them together.
        let amended_from = match (&former_id, used == 0) {
            (Some(id), true) => Some(crate::sepa::FormerCreditor {
                id: crate::sepa::CreditorId::parse(id)?,
                name: r
                    .try_get::<Option<String>, _>("former_creditor_name")
                    .map_err(storage)?
                    .unwrap_or_default(),
            }),
            _ => None,
        };
        let mandate = mandate_from(&r)?;
        // A change of the debtor's account since the last debit: every debit
        // of this batch under the mandate announces it.
        let account_changed = r
            .try_get::<Option<String>, _>("original_iban")
            .map_err(storage)?
            .map(|i| Iban::parse(&i))
            .transpose()?
            .and_then(|before| AccountChange::between(&before, &mandate.iban));
        if account_changed.is_some() {
            announced.insert(mandate_id);
        }
        // Another bank: the debit is presented as a first one (SMNDA).
        let sequence = if (first && former_id.is_none())
            || account_changed == Some(AccountChange::OtherBank)
        {
            Sequence::First
        } else {
            Sequence::Recurring
        };
        let collection_id: i64 = sqlx::query(
            "INSERT INTO bil_collections (invoice_id, mandate_id, amount_cents, sequence, collection_date, message_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(invoice_id)
        .bind(mandate_id)
        .bind(amount.0)
        .bind(sequence.code())
        .bind(collection_date.to_string())
        .bind(message_id)
        .bind(time::to_db(time::now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(storage)?
        .try_get("id")
        .map_err(storage)?;
        ledger::book_direct_debit(
            &mut tx,
            actor,
            collection_id,
            &number,
            amount,
            collection_date,
        )
        .await?;
        out.push(Collection {
            remittance: format!("Facture {number}"),
            end_to_end: number,
            amount,
            rum: mandate.rum,
            signed_on: mandate.signed_on,
            sequence,
            amended_from,
            account_changed,
            debtor: mandate.holder,
            iban: mandate.iban,
            bic: mandate.bic,
        });
    }
    if represent {
        out.extend(represent_returned(&mut tx, actor, collection_date, message_id, &lapsed).await?);
    }
    // The change of account is announced: later debits need not repeat it.
    for id in announced {
        sqlx::query("UPDATE bil_mandates SET original_iban = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
    }
    if !out.is_empty() {
        audit::record(
            &mut tx,
            actor,
            Change {
                action: "sepa.batch",
                entity: "sepa_batch",
                entity_id: message_id,
                before: None,
                after: Some(
                    serde_json::json!({ "count": out.len(), "collection_date": collection_date }),
                ),
            },
        )
        .await
        .map_err(Error::Storage)?;
        deliver(&out)?;
    }
    tx.commit().await.map_err(storage)?;
    Ok(out)
}
