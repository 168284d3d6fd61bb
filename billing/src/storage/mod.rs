//! SQL of billing: the only module that touches its tables.
//!
//! Invoices are append-only (triggers refuse UPDATE and DELETE on both
//! backends). A number is taken from its series row in the same
//! transaction that inserts the invoice, so a failed or duplicate insert
//! gives the number back: the series stays gapless. One invoice per
//! subscription and month (a unique key) makes a rerun of a month issue
//! nothing twice, whatever crashed in between.

use chrono::NaiveDate;
pub(crate) use codes::insert_account;
use codes::{new_code, unreachable_none, CODE_DRAWS};
use regie_core::audit::{self, Actor, Change};
use regie_core::migrate::{Component, Migration};
use regie_core::{db::is_unique_violation, time, Db};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::compute::{self, Line, Month, OfferTerms, Segment, Service, SocialDays};
use crate::money::{totals, Cents, VatCategory, VatRate};
use crate::Error;

/// The tables of billing.
pub const COMPONENT: Component = Component {
    name: "billing",
    migrations: &[
        Migration::per_backend(
            1,
            "offers_accounts_subscriptions_invoices",
            concat!(
                include_str!("sql/0001_common.sql"),
                "
            CREATE TRIGGER bil_invoices_no_update BEFORE UPDATE ON bil_invoices
            BEGIN SELECT RAISE(ABORT, 'bil_invoices is append-only'); END;
            CREATE TRIGGER bil_invoices_no_delete BEFORE DELETE ON bil_invoices
            BEGIN SELECT RAISE(ABORT, 'bil_invoices is append-only'); END;"
            ),
            concat!(
                include_str!("sql/0001_common.sql"),
                "
            CREATE FUNCTION bil_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$;
            CREATE TRIGGER bil_invoices_append_only BEFORE UPDATE OR DELETE ON bil_invoices
            FOR EACH ROW EXECUTE FUNCTION bil_append_only();"
            ),
        ),
        Migration::portable(
            2,
            "line_events_cursor",
            // How far billing has read provisioning's line events.
            "CREATE TABLE bil_cursors (name TEXT PRIMARY KEY, seq BIGINT NOT NULL);
        INSERT INTO bil_cursors (name, seq) VALUES ('provisioning', 0);",
        ),
        Migration::portable(
            3,
            "sepa_mandates_collections",
            // One live mandate per account; an invoice is collected once.
            "CREATE TABLE bil_mandates (
                id {{id}},
                rum TEXT NOT NULL UNIQUE,
                account_id BIGINT NOT NULL REFERENCES bil_accounts (id),
                holder TEXT NOT NULL,
                iban TEXT NOT NULL,
                bic TEXT,
                signed_on TEXT NOT NULL,
                revoked_on TEXT,
                created_at TEXT NOT NULL
            );
            CREATE UNIQUE INDEX bil_mandates_live ON bil_mandates (account_id) WHERE revoked_on IS NULL;
            CREATE TABLE bil_collections (
                id {{id}},
                invoice_id BIGINT NOT NULL UNIQUE REFERENCES bil_invoices (id),
                mandate_id BIGINT NOT NULL REFERENCES bil_mandates (id),
                amount_cents BIGINT NOT NULL,
                sequence TEXT NOT NULL,
                collection_date TEXT NOT NULL,
                message_id TEXT NOT NULL,
                created_at TEXT NOT NULL
            );
            CREATE INDEX bil_collections_message ON bil_collections (message_id);",
        ),
        Migration::portable(
            4,
            "payments_fsl_dunning",
            // Money in and out of an account: every entry numbered in its
            // yearly series, never changed; a return reverses one direct
            // debit once. Allocations say which invoice an entry settles.
            "CREATE TABLE bil_payments (
                id {{id}},
                number TEXT NOT NULL UNIQUE,
                account_id BIGINT NOT NULL REFERENCES bil_accounts (id),
                method TEXT NOT NULL,
                amount_cents BIGINT NOT NULL,
                received_on TEXT NOT NULL,
                reference TEXT,
                reason_code TEXT,
                reverses BIGINT UNIQUE REFERENCES bil_payments (id),
                collection_id BIGINT UNIQUE REFERENCES bil_collections (id),
                import_key TEXT UNIQUE,
                created_by TEXT NOT NULL,
                created_at TEXT NOT NULL
            );
            CREATE INDEX bil_payments_account ON bil_payments (account_id);
            CREATE TABLE bil_allocations (
                id {{id}},
                payment_id BIGINT NOT NULL REFERENCES bil_payments (id),
                invoice_id BIGINT NOT NULL REFERENCES bil_invoices (id),
                amount_cents BIGINT NOT NULL
            );
            CREATE INDEX bil_allocations_invoice ON bil_allocations (invoice_id);
            CREATE INDEX bil_allocations_payment ON bil_allocations (payment_id);
            CREATE INDEX bil_invoices_corrects ON bil_invoices (corrects);
            CREATE TABLE bil_fsl (
                id {{id}},
                account_id BIGINT NOT NULL REFERENCES bil_accounts (id),
                filed_on TEXT NOT NULL,
                reference TEXT,
                decided_on TEXT,
                paid_cents BIGINT,
                written_off_cents BIGINT,
                created_at TEXT NOT NULL
            );
            CREATE UNIQUE INDEX bil_fsl_pending ON bil_fsl (account_id) WHERE decided_on IS NULL;
            CREATE TABLE bil_dunning (
                id {{id}},
                invoice_id BIGINT NOT NULL REFERENCES bil_invoices (id),
                step INTEGER NOT NULL,
                action TEXT NOT NULL,
                done_on TEXT NOT NULL,
                created_at TEXT NOT NULL,
                UNIQUE (invoice_id, step)
            );
            CREATE TABLE bil_line_policy (
                account_id BIGINT PRIMARY KEY REFERENCES bil_accounts (id),
                wanted TEXT NOT NULL,
                reason TEXT,
                since TEXT NOT NULL
            );",
        ),
        Migration::portable(
            5,
            "periods_by_subscription",
            // A run reads the month page by page in subscription order;
            // registers and journals read a period's documents.
            "CREATE INDEX bil_periods_subscription ON bil_periods (subscription_id, from_day);
            CREATE INDEX bil_invoices_issued ON bil_invoices (issued_on);",
        ),
        Migration::per_backend(
            6,
            "cheaper_invoice_inserts",
            // Only credit notes correct something: the index need not hold
            // every invoice's NULL (an equality on `corrects` still uses it).
            "DROP INDEX bil_invoices_corrects;
            CREATE INDEX bil_invoices_corrects ON bil_invoices (corrects) WHERE corrects IS NOT NULL;",
            // PostgreSQL checks a foreign key row by row, locking each
            // referenced account and subscription (FOR KEY SHARE): more than
            // half the cost of inserting a month of invoices. One check per
            // statement over the inserted rows keeps the guarantee at a
            // quarter of the cost (100,000 rows in statements of 500: 0.8 s
            // more than no check with the keys, 0.2 s with this); accounts and subscriptions are never
            // deleted (their invoices must outlive them in the books), so
            // nothing can vanish between the check and the commit. The
            // number is written from its series and sequence
            // (`FA2026-000042`): its own unique index already forbids a
            // second (series, seq), a second index on them only costs.
            "DROP INDEX bil_invoices_corrects;
            CREATE INDEX bil_invoices_corrects ON bil_invoices (corrects) WHERE corrects IS NOT NULL;
            ALTER TABLE bil_invoices DROP CONSTRAINT bil_invoices_account_id_fkey,
                DROP CONSTRAINT bil_invoices_subscription_id_fkey,
                DROP CONSTRAINT bil_invoices_series_seq_key;
            CREATE FUNCTION bil_invoices_references() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE accounts BIGINT[]; subscriptions BIGINT[];
            BEGIN
                -- Looked up as arrays: the planner knows nothing of the
                -- transition table and would scan whole tables for a join.
                SELECT array_agg(DISTINCT account_id),
                       COALESCE(array_agg(DISTINCT subscription_id) FILTER (WHERE subscription_id IS NOT NULL), '{}')
                  INTO accounts, subscriptions FROM added;
                IF (SELECT count(*) FROM bil_accounts WHERE id = ANY (accounts)) <> cardinality(accounts)
                   OR (SELECT count(*) FROM bil_subscriptions WHERE id = ANY (subscriptions)) <> cardinality(subscriptions) THEN
                    RAISE EXCEPTION 'bil_invoices: unknown account or subscription' USING ERRCODE = 'foreign_key_violation';
                END IF;
                RETURN NULL;
            END; $$;
            CREATE TRIGGER bil_invoices_references AFTER INSERT ON bil_invoices
                REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION bil_invoices_references();
            CREATE FUNCTION bil_kept() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '% rows are never deleted', TG_TABLE_NAME; END; $$;
            CREATE TRIGGER bil_accounts_kept BEFORE DELETE ON bil_accounts FOR EACH ROW EXECUTE FUNCTION bil_kept();
            CREATE TRIGGER bil_subscriptions_kept BEFORE DELETE ON bil_subscriptions FOR EACH ROW EXECUTE FUNCTION bil_kept();",
        ),
        Migration::portable(
            7,
            "takeover",
            // Taking over from a concession: an account remembers the
            // outgoing operator's customer reference (once each), and a
            // mandate signed with another creditor keeps its RUM and names
            // that creditor, which its first collection by the régie must
            // quote (SEPA amendment). Balances taken over are documents of
            // their own kind in bil_invoices (`balance`).
            "ALTER TABLE bil_accounts ADD COLUMN former_ref TEXT;
            CREATE UNIQUE INDEX bil_accounts_former_ref ON bil_accounts (former_ref) WHERE former_ref IS NOT NULL;
            ALTER TABLE bil_mandates ADD COLUMN former_creditor_id TEXT;
            ALTER TABLE bil_mandates ADD COLUMN former_creditor_name TEXT;",
        ),
        Migration::portable(
            8,
            "mandate_taken_over_on",
            // The day a mandate taken over passed to the régie, which the
            // letter to its holder announces: kept so that the letters can
            // be written again after the takeover (`regie takeover
            // letters`). Mandates taken over before this column existed
            // fall back on the day they were recorded.
            "ALTER TABLE bil_mandates ADD COLUMN taken_over_on TEXT;",
        ),
        Migration::portable(
            9,
            "setup_fee_and_series_dates",
            // A subscription owes the activation fee of the offer it started
            // on, once, on its first invoice: the fee and that offer are
            // kept with it (none for a line taken over). Subscriptions not
            // yet invoiced when this runs owe their offer's fee. A series
            // remembers the latest date it numbered, so that numbers follow
            // dates (CGI art. 242 nonies A).
            "ALTER TABLE bil_subscriptions ADD COLUMN setup_fee_cents BIGINT NOT NULL DEFAULT 0;
            ALTER TABLE bil_subscriptions ADD COLUMN setup_offer_id BIGINT REFERENCES bil_offers (id);
            UPDATE bil_subscriptions SET setup_offer_id = (SELECT p.offer_id FROM bil_periods p
                WHERE p.subscription_id = bil_subscriptions.id ORDER BY p.from_day LIMIT 1);
            UPDATE bil_subscriptions SET setup_fee_cents = COALESCE((SELECT o.setup_fee_cents FROM bil_offers o
                WHERE o.id = bil_subscriptions.setup_offer_id), 0)
             WHERE NOT EXISTS (SELECT 1 FROM bil_invoices i WHERE i.subscription_id = bil_subscriptions.id)
               AND NOT EXISTS (SELECT 1 FROM bil_accounts a WHERE a.id = bil_subscriptions.account_id
                   AND a.former_ref IS NOT NULL);
            ALTER TABLE bil_series ADD COLUMN last_on TEXT;
            UPDATE bil_series SET last_on = (SELECT MAX(i.issued_on) FROM bil_invoices i WHERE i.series = bil_series.series);
            UPDATE bil_series SET last_on = (SELECT MAX(p.received_on) FROM bil_payments p
                WHERE p.number LIKE bil_series.series || '-%') WHERE series LIKE 'PA%';",
        ),
        Migration::portable(
            10,
            "mandate_life",
            // Where a mandate was given (counter, online, takeover) and, for
            // online consent, when and by whom; why it ended; and, after a
            // change of the debtor's account, the former IBAN until the next
            // debit announces it.
            "ALTER TABLE bil_mandates ADD COLUMN channel TEXT;
            ALTER TABLE bil_mandates ADD COLUMN consent_at TEXT;
            ALTER TABLE bil_mandates ADD COLUMN consent_by TEXT;
            ALTER TABLE bil_mandates ADD COLUMN revoke_reason TEXT;
            ALTER TABLE bil_mandates ADD COLUMN original_iban TEXT;
            ALTER TABLE bil_mandates ADD COLUMN amended_at TEXT;
            UPDATE bil_mandates SET channel = CASE WHEN former_creditor_id IS NULL THEN 'counter' ELSE 'takeover' END;
            CREATE INDEX bil_collections_mandate ON bil_collections (mandate_id);",
        ),
        Migration::portable(
            11,
            "representations",
            // A debit returned for insufficient funds (AM04) is presented
            // once more when the schedule says so: its second presentation,
            // with the payment it books, quoted `NUMBER/2` by the bank.
            "CREATE TABLE bil_representations (
                id {{id}},
                collection_id BIGINT NOT NULL UNIQUE REFERENCES bil_collections (id),
                mandate_id BIGINT NOT NULL REFERENCES bil_mandates (id),
                amount_cents BIGINT NOT NULL,
                collection_date TEXT NOT NULL,
                message_id TEXT NOT NULL,
                created_at TEXT NOT NULL
            );
            ALTER TABLE bil_payments ADD COLUMN representation_id BIGINT REFERENCES bil_representations (id);
            CREATE UNIQUE INDEX bil_payments_representation ON bil_payments (representation_id)
                WHERE representation_id IS NOT NULL;",
        ),
    ],
};

/// The last provisioning event billing has applied.
pub async fn cursor(db: &Db) -> Result<i64> {
    sqlx::query("SELECT seq FROM bil_cursors WHERE name = 'provisioning'")
        .fetch_one(db.pool())
        .await
        .map_err(storage)?
        .try_get("seq")
        .map_err(storage)
}

/// Moves the cursor forward (never back: two followers cannot rewind it).
pub async fn advance_cursor(conn: &mut sqlx::AnyConnection, seq: i64) -> Result<()> {
    sqlx::query("UPDATE bil_cursors SET seq = $1 WHERE name = 'provisioning' AND seq < $1")
        .bind(seq)
        .execute(conn)
        .await
        .map_err(storage)?;
    Ok(())
}

/// The live subscription of a line, if any.
pub async fn live_subscription_of_line(db: &Db, line_id: &str) -> Result<Option<String>> {
    sqlx::query("SELECT code FROM bil_subscriptions WHERE line_id = $1 AND ended_on IS NULL")
        .bind(line_id)
        .fetch_optional(db.pool())
        .await
        .map_err(storage)?
        .map(|r| r.try_get::<String, _>("code"))
        .transpose()
        .map_err(storage)
}

mod codes;
pub mod ledger;
mod mandates;
pub use mandates::*;
pub mod search;
pub mod series;
pub(crate) mod takeover;

type Result<T, E = Error> = std::result::Result<T, E>;

/// The id of an account by its code, in the caller's transaction.
async fn account_id(conn: &mut sqlx::AnyConnection, code: &str) -> Result<i64> {
    sqlx::query("SELECT id FROM bil_accounts WHERE code = $1")
        .bind(code.trim())
        .fetch_optional(&mut *conn)
        .await
        .map_err(storage)?
        .ok_or_else(|| Error::NotFound(format!("aucun compte « {} »", code.trim())))?
        .try_get("id")
        .map_err(storage)
}

fn storage(e: impl Into<regie_core::CoreError>) -> Error {
    Error::Storage(e.into())
}

fn day(s: &str) -> Result<NaiveDate> {
    s.parse()
        .map_err(|_| Error::Invalid(format!("date stockée illisible : {s}")))
}

fn opt_day(s: Option<String>) -> Result<Option<NaiveDate>> {
    s.as_deref().map(day).transpose()
}

fn rate_from(bp: i64, category: &str) -> Result<VatRate> {
    let category = match category {
        "S" => VatCategory::S,
        "Z" => VatCategory::Z,
        "E" => VatCategory::E,
        "O" => VatCategory::O,
        other => {
            return Err(Error::Invalid(format!(
                "catégorie de TVA stockée inconnue : {other}"
            )))
        }
    };
    Ok(VatRate {
        basis_points: u32::try_from(bp).map_err(|_| Error::Overflow)?,
        category,
    })
}

const OFFER_COLUMNS: &str =
    "id, code, name, monthly_gross_cents, vat_basis_points, vat_category, setup_fee_cents, deliberation, valid_from, valid_to";

fn offer_from(r: &sqlx::any::AnyRow) -> Result<Offer> {
    Ok(Offer {
        code: r.try_get("code").map_err(storage)?,
        name: r.try_get("name").map_err(storage)?,
        monthly_gross: Cents(r.try_get("monthly_gross_cents").map_err(storage)?),
        rate: rate_from(
            r.try_get("vat_basis_points").map_err(storage)?,
            &r.try_get::<String, _>("vat_category").map_err(storage)?,
        )?,
        setup_fee: Cents(r.try_get("setup_fee_cents").map_err(storage)?),
        deliberation: r.try_get("deliberation").map_err(storage)?,
        valid_from: day(&r.try_get::<String, _>("valid_from").map_err(storage)?)?,
        valid_to: opt_day(r.try_get("valid_to").map_err(storage)?)?,
    })
}

/// Records an offer voted by délibération.
#[tracing::instrument(skip_all, fields(actor = %actor.username, offer = %new.code))]
pub async fn create_offer(db: &Db, actor: &Actor, new: &NewOffer) -> Result<Offer> {
    let mut tx = db.begin().await.map_err(storage)?;
    let offer = insert_offer(&mut tx, actor, new).await?;
    tx.commit().await.map_err(storage)?;
    Ok(offer)
}

/// Records an offer in the caller's transaction.
pub(crate) async fn insert_offer(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    new: &NewOffer,
) -> Result<Offer> {
    new.check()?;
    let inserted = sqlx::query(&format!(
        "INSERT INTO bil_offers (code, name, monthly_gross_cents, vat_basis_points, vat_category, setup_fee_cents,
            deliberation, valid_from, valid_to, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {OFFER_COLUMNS}"
    ))
    .bind(new.code.trim())
    .bind(new.name.trim())
    .bind(new.monthly_gross.0)
    .bind(i64::from(new.rate.basis_points))
    .bind(new.rate.category.code())
    .bind(new.setup_fee.0)
    .bind(new.deliberation.trim())
    .bind(new.valid_from.to_string())
    .bind(new.valid_to.map(|d| d.to_string()))
    .bind(time::to_db(time::now()))
    .fetch_one(&mut *conn)
    .await;
    let offer = match inserted {
        Ok(r) => offer_from(&r)?,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Invalid(format!(
                "une offre de code « {} » existe déjà",
                new.code.trim()
            )))
        }
        Err(e) => return Err(storage(e)),
    };
    audit::record(
        conn,
        actor,
        Change {
            action: "offer.create",
            entity: "offer",
            entity_id: &offer.code,
            before: None,
            after: serde_json::to_value(&offer).ok(),
        },
    )
    .await
    .map_err(Error::Storage)?;
    Ok(offer)
}

async fn offer_row(conn: &mut sqlx::AnyConnection, code: &str) -> Result<(i64, Offer)> {
    let r = sqlx::query(&format!(
        "SELECT {OFFER_COLUMNS} FROM bil_offers WHERE code = $1"
    ))
    .bind(code.trim())
    .fetch_optional(&mut *conn)
    .await
    .map_err(storage)?
    .ok_or_else(|| Error::NotFound(format!("aucune offre « {} »", code.trim())))?;
    Ok((r.try_get("id").map_err(storage)?, offer_from(&r)?))
}

/// The offers, by code.
pub async fn offers(db: &Db) -> Result<Vec<Offer>> {
    let rows = sqlx::query(&format!(
        "SELECT {OFFER_COLUMNS} FROM bil_offers ORDER BY code"
    ))
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    rows.iter().map(offer_from).collect()
}

pub(crate) const ACCOUNT_COLUMNS: &str =
    "id, code, kind, name, address, postcode, town, email, siren, vat_number, household";

pub(crate) fn account_from(r: &sqlx::any::AnyRow) -> Result<Account> {
    account_with_prefix(r, "")
}

/// An account read from columns named with `prefix` (`a_code`, …) where a
/// query joins it to other rows.
fn account_with_prefix(r: &sqlx::any::AnyRow, prefix: &str) -> Result<Account> {
    let col = |name: &str| format!("{prefix}{name}");
    Ok(Account {
        code: r.try_get(col("code").as_str()).map_err(storage)?,
        kind: AccountKind::parse(
            &r.try_get::<String, _>(col("kind").as_str())
                .map_err(storage)?,
        )?,
        name: r.try_get(col("name").as_str()).map_err(storage)?,
        address: r.try_get(col("address").as_str()).map_err(storage)?,
        postcode: r.try_get(col("postcode").as_str()).map_err(storage)?,
        town: r.try_get(col("town").as_str()).map_err(storage)?,
        email: r.try_get(col("email").as_str()).map_err(storage)?,
        siren: r.try_get(col("siren").as_str()).map_err(storage)?,
        vat_number: r.try_get(col("vat_number").as_str()).map_err(storage)?,
        household: r.try_get(col("household").as_str()).map_err(storage)?,
    })
}

/// Opens a payer's account.
#[tracing::instrument(skip_all, fields(actor = %actor.username))]
pub async fn create_account(db: &Db, actor: &Actor, new: &NewAccount) -> Result<Account> {
    let mut tx = db.begin().await.map_err(storage)?;
    let account = insert_account(&mut tx, actor, new, None).await?;
    tx.commit().await.map_err(storage)?;
    Ok(account)
}

/// One account.
pub async fn account(db: &Db, code: &str) -> Result<Account> {
    let r = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM bil_accounts WHERE code = $1"
    ))
    .bind(code.trim())
    .fetch_optional(db.pool())
    .await
    .map_err(storage)?
    .ok_or_else(|| Error::NotFound(format!("aucun compte « {} »", code.trim())))?;
    account_from(&r)
}

/// The accounts, by name; only those of the given households if any.
pub async fn accounts(db: &Db, households: Option<&[String]>) -> Result<Vec<Account>> {
    let rows = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM bil_accounts ORDER BY name, code"
    ))
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    let all = rows.iter().map(account_from).collect::<Result<Vec<_>>>()?;
    Ok(match households {
        None => all,
        Some(h) => all
            .into_iter()
            .filter(|a| a.household.as_ref().is_some_and(|c| h.contains(c)))
            .collect(),
    })
}

/// Subscribes a line to an offer from `on`.
#[tracing::instrument(skip_all, fields(actor = %actor.username, line = %line_id))]
pub async fn subscribe(
    db: &Db,
    actor: &Actor,
    account_code: &str,
    line_id: &str,
    offer_code: &str,
    on: NaiveDate,
) -> Result<Subscription> {
    let mut tx = db.begin().await.map_err(storage)?;
    let code =
        insert_subscription(&mut tx, actor, account_code, line_id, offer_code, on, true).await?;
    tx.commit().await.map_err(storage)?;
    subscription(db, &code).await
}

/// Subscribes a line in the caller's transaction; answers the
/// subscription's code. `owes_setup_fee`: the offer's activation fee is
/// billed on its first invoice (not for a line taken over in service).
pub(crate) async fn insert_subscription(
    tx: &mut sqlx::AnyConnection,
    actor: &Actor,
    account_code: &str,
    line_id: &str,
    offer_code: &str,
    on: NaiveDate,
    owes_setup_fee: bool,
) -> Result<String> {
    let account_id = account_id(tx, account_code).await?;
    let (offer_id, offer) = offer_row(tx, offer_code).await?;
    if on < offer.valid_from || offer.valid_to.is_some_and(|to| on > to) {
        return Err(Error::Invalid(format!(
            "l'offre {} n'est pas ouverte le {on}",
            offer.code
        )));
    }
    // A code drawn twice is drawn again (see `insert_account`).
    let mut drawn = None;
    for _ in 0..CODE_DRAWS {
        let code = new_code("ABO");
        let inserted = sqlx::query(
            "INSERT INTO bil_subscriptions (code, account_id, line_id, started_on, created_at, setup_fee_cents, setup_offer_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (code) DO NOTHING RETURNING id",
        )
        .bind(&code)
        .bind(account_id)
        .bind(line_id.trim())
        .bind(on.to_string())
        .bind(time::to_db(time::now()))
        .bind(if owes_setup_fee { offer.setup_fee.0 } else { 0 })
        .bind(offer_id)
        .fetch_optional(&mut *tx)
        .await;
        match inserted {
            Ok(None) => continue,
            other => {
                drawn = Some((code, other));
                break;
            }
        }
    }
    let Some((code, inserted)) = drawn else {
        return Err(Error::Invalid(format!(
            "aucun code d'abonnement libre après {CODE_DRAWS} tirages : réessayez"
        )));
    };
    let id: i64 = match inserted {
        Ok(Some(r)) => r.try_get("id").map_err(storage)?,
        Ok(None) => unreachable_none()?,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Invalid(format!(
                "la ligne {} a déjà un abonnement en cours",
                line_id.trim()
            )))
        }
        Err(e) => return Err(storage(e)),
    };
    sqlx::query("INSERT INTO bil_periods (subscription_id, from_day, offer_id, service) VALUES ($1, $2, $3, 'billed')")
        .bind(id)
        .bind(on.to_string())
        .bind(offer_id)
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    audit::record(
        tx,
        actor,
        Change {
            action: "subscription.start",
            entity: "subscription",
            entity_id: &code,
            before: None,
            after: Some(
                serde_json::json!({ "line": line_id.trim(), "offer": offer.code, "on": on }),
            ),
        },
    )
    .await
    .map_err(Error::Storage)?;
    Ok(code)
}

/// What changes on a subscription from a day on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum SubscriptionChange {
    /// Another offer.
    Plan { offer: String },
    /// Suspended at the subscriber's request (not billed).
    SuspendOnRequest,
    /// Any other suspension ends, or a resumption: billed again.
    Resume,
    /// The subscription ends (the day before `on` is the last billed).
    End,
}

/// Applies a change from `on`: the open stretch ends the day before, a new
/// one opens (none after an end).
#[tracing::instrument(skip_all, fields(actor = %actor.username, subscription = %code))]
pub async fn change(
    db: &Db,
    actor: &Actor,
    code: &str,
    on: NaiveDate,
    what: &SubscriptionChange,
) -> Result<Subscription> {
    let mut tx = db.begin().await.map_err(storage)?;
    change_in(&mut tx, actor, code, on, what).await?;
    tx.commit().await.map_err(storage)?;
    subscription(db, code).await
}

/// [`change`] in the caller's transaction, so that what caused it (a line
/// event read from provisioning's feed) is marked done with it.
pub async fn change_in(
    tx: &mut sqlx::AnyConnection,
    actor: &Actor,
    code: &str,
    on: NaiveDate,
    what: &SubscriptionChange,
) -> Result<()> {
    // Writing first takes the write lock on SQLite and locks the row on
    // PostgreSQL: two changes of one subscription queue.
    let touched = sqlx::query(
        "UPDATE bil_subscriptions SET code = code WHERE code = $1 AND ended_on IS NULL",
    )
    .bind(code.trim())
    .execute(&mut *tx)
    .await
    .map_err(storage)?
    .rows_affected();
    if touched == 0 {
        return Err(Error::NotFound(format!(
            "aucun abonnement en cours « {} »",
            code.trim()
        )));
    }
    let open = sqlx::query(
        "SELECT p.id, p.subscription_id, p.from_day, p.offer_id, p.service FROM bil_periods p
         JOIN bil_subscriptions s ON s.id = p.subscription_id WHERE s.code = $1 AND p.to_day IS NULL",
    )
    .bind(code.trim())
    .fetch_one(&mut *tx)
    .await
    .map_err(storage)?;
    let from = day(&open.try_get::<String, _>("from_day").map_err(storage)?)?;
    if on < from {
        return Err(Error::Invalid(format!(
            "un changement ne peut prendre effet avant le début de la période en cours ({from})"
        )));
    }
    let period_id: i64 = open.try_get("id").map_err(storage)?;
    let sub_id: i64 = open.try_get("subscription_id").map_err(storage)?;
    let mut offer_id: i64 = open.try_get("offer_id").map_err(storage)?;
    let mut service: String = open.try_get("service").map_err(storage)?;
    match what {
        SubscriptionChange::Plan { offer } => offer_id = offer_row(tx, offer).await?.0,
        SubscriptionChange::SuspendOnRequest => service = "suspended_on_request".into(),
        SubscriptionChange::Resume => service = "billed".into(),
        SubscriptionChange::End => {}
    }
    let last = on
        .pred_opt()
        .ok_or_else(|| Error::Invalid("date hors limites".into()))?;
    if on == from {
        // A second change the same day: the day is billed as it ends, so
        // the open stretch takes the new terms (or goes, on an end).
        if *what == SubscriptionChange::End {
            sqlx::query("DELETE FROM bil_periods WHERE id = $1")
                .bind(period_id)
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
        } else {
            sqlx::query("UPDATE bil_periods SET offer_id = $1, service = $2 WHERE id = $3")
                .bind(offer_id)
                .bind(&service)
                .bind(period_id)
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
        }
    } else {
        sqlx::query("UPDATE bil_periods SET to_day = $1 WHERE id = $2")
            .bind(last.to_string())
            .bind(period_id)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        if *what != SubscriptionChange::End {
            sqlx::query("INSERT INTO bil_periods (subscription_id, from_day, offer_id, service) VALUES ($1, $2, $3, $4)")
                .bind(sub_id)
                .bind(on.to_string())
                .bind(offer_id)
                .bind(&service)
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
        }
    }
    if *what == SubscriptionChange::End {
        sqlx::query("UPDATE bil_subscriptions SET ended_on = $1 WHERE id = $2")
            .bind(last.to_string())
            .bind(sub_id)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
    }
    audit::record(
        tx,
        actor,
        Change {
            action: "subscription.change",
            entity: "subscription",
            entity_id: code.trim(),
            before: None,
            after: Some(serde_json::json!({ "on": on, "change": what })),
        },
    )
    .await
    .map_err(Error::Storage)?;
    Ok(())
}

/// One subscription with its timeline.
pub async fn subscription(db: &Db, code: &str) -> Result<Subscription> {
    let r = sqlx::query(
        "SELECT s.id, s.code, a.code AS account, s.line_id, s.started_on, s.ended_on FROM bil_subscriptions s
         JOIN bil_accounts a ON a.id = s.account_id WHERE s.code = $1",
    )
    .bind(code.trim())
    .fetch_optional(db.pool())
    .await
    .map_err(storage)?
    .ok_or_else(|| Error::NotFound(format!("aucun abonnement « {} »", code.trim())))?;
    let id: i64 = r.try_get("id").map_err(storage)?;
    let periods = sqlx::query(
        "SELECT p.from_day, p.to_day, o.code AS offer, p.service FROM bil_periods p JOIN bil_offers o ON o.id = p.offer_id
         WHERE p.subscription_id = $1 ORDER BY p.from_day",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await
    .map_err(storage)?
    .iter()
    .map(|p| {
        Ok(Period {
            from: day(&p.try_get::<String, _>("from_day").map_err(storage)?)?,
            to: opt_day(p.try_get("to_day").map_err(storage)?)?,
            offer: p.try_get("offer").map_err(storage)?,
            on_request_suspension: p.try_get::<String, _>("service").map_err(storage)? == "suspended_on_request",
        })
    })
    .collect::<Result<Vec<_>>>()?;
    Ok(Subscription {
        code: r.try_get("code").map_err(storage)?,
        account: r.try_get("account").map_err(storage)?,
        line_id: r.try_get("line_id").map_err(storage)?,
        started_on: day(&r.try_get::<String, _>("started_on").map_err(storage)?)?,
        ended_on: opt_day(r.try_get("ended_on").map_err(storage)?)?,
        periods,
    })
}

/// A subscription to bill for a month: its ids, payer and segments.
#[derive(Debug, Clone)]
pub struct Billable {
    pub subscription_id: i64,
    pub subscription: String,
    pub account_id: i64,
    pub account: Account,
    pub segments: Vec<Segment>,
    /// Already invoiced for the month when the page was read.
    pub invoiced: bool,
    /// The activation fee, while the subscription has no invoice yet.
    pub setup_fee: Option<compute::SetupFee>,
}

/// How many subscriptions have days in `month`.
pub async fn billable_count(db: &Db, month: Month) -> Result<usize> {
    let n: i64 = sqlx::query(
        "SELECT COUNT(DISTINCT subscription_id) AS n FROM bil_periods
         WHERE from_day <= $2 AND (to_day IS NULL OR to_day >= $1)",
    )
    .bind(month.first.to_string())
    .bind(month.last.to_string())
    .fetch_one(db.pool())
    .await
    .map_err(storage)?
    .try_get("n")
    .map_err(storage)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// The next `limit` subscriptions with days in `month` after the one with
/// id `after`, in id order, each with its segments in the month: a run
/// reads the month page by page, so its memory does not grow with the
/// network.
pub async fn billable_page(
    db: &Db,
    month: Month,
    after: i64,
    limit: usize,
) -> Result<Vec<Billable>> {
    // The page's last subscription first, walking the periods' index in
    // order; then the page's rows by that range of ids. (One statement
    // with `IN (SELECT … LIMIT)` led PostgreSQL to hash whole tables for
    // every page; the range is given on both tables for the same reason.)
    // A subscription with several periods in the month may
    // make the page a little shorter than `limit`, never split it.
    let ids = sqlx::query(
        "SELECT subscription_id FROM bil_periods
         WHERE subscription_id > $3 AND from_day <= $2 AND (to_day IS NULL OR to_day >= $1)
         ORDER BY subscription_id LIMIT $4",
    )
    .bind(month.first.to_string())
    .bind(month.last.to_string())
    .bind(after)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    let Some(last) = ids.last() else {
        return Ok(Vec::new());
    };
    let last: i64 = last.try_get("subscription_id").map_err(storage)?;
    let rows = sqlx::query(&format!(
        "SELECT p.subscription_id, s.code AS subscription, s.account_id, p.from_day, p.to_day, p.service,
                o.{}, a.id AS a_id, a.code AS a_code, a.kind AS a_kind, a.name AS a_name, a.address AS a_address,
                a.postcode AS a_postcode, a.town AS a_town, a.email AS a_email, a.siren AS a_siren,
                a.vat_number AS a_vat_number, a.household AS a_household,
                s.setup_fee_cents, f.name AS fee_offer, f.vat_basis_points AS fee_bp, f.vat_category AS fee_category
         FROM bil_periods p JOIN bil_subscriptions s ON s.id = p.subscription_id
         JOIN bil_offers o ON o.id = p.offer_id JOIN bil_accounts a ON a.id = s.account_id
         LEFT JOIN bil_offers f ON f.id = s.setup_offer_id
         WHERE p.subscription_id > $3 AND p.subscription_id <= $4
           AND s.id > $3 AND s.id <= $4
           AND p.from_day <= $2 AND (p.to_day IS NULL OR p.to_day >= $1)
         ORDER BY p.subscription_id, p.from_day",
        OFFER_COLUMNS.replace(", ", ", o.")
    ))
    .bind(month.first.to_string())
    .bind(month.last.to_string())
    .bind(after)
    .bind(last)
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    let mut out: Vec<Billable> = Vec::new();
    for r in &rows {
        let sid: i64 = r.try_get("subscription_id").map_err(storage)?;
        let offer = offer_from(r)?;
        let segment = Segment {
            from: day(&r.try_get::<String, _>("from_day").map_err(storage)?)?,
            to: opt_day(r.try_get("to_day").map_err(storage)?)?.unwrap_or(NaiveDate::MAX),
            offer: OfferTerms {
                code: offer.code,
                name: offer.name,
                monthly_gross: offer.monthly_gross,
                rate: offer.rate,
            },
            service: if r.try_get::<String, _>("service").map_err(storage)?
                == "suspended_on_request"
            {
                Service::SuspendedOnRequest
            } else {
                Service::Billed
            },
        };
        match out.last_mut() {
            Some(b) if b.subscription_id == sid => b.segments.push(segment),
            _ => {
                let fee = Cents(r.try_get("setup_fee_cents").map_err(storage)?);
                let setup_fee = match r
                    .try_get::<Option<String>, _>("fee_offer")
                    .map_err(storage)?
                {
                    Some(offer_name) if fee.0 > 0 => Some(compute::SetupFee {
                        offer_name,
                        gross: fee,
                        rate: rate_from(
                            r.try_get("fee_bp").map_err(storage)?,
                            &r.try_get::<String, _>("fee_category").map_err(storage)?,
                        )?,
                    }),
                    _ => None,
                };
                out.push(Billable {
                    subscription_id: sid,
                    subscription: r.try_get("subscription").map_err(storage)?,
                    account_id: r.try_get("account_id").map_err(storage)?,
                    account: account_with_prefix(r, "a_")?,
                    segments: vec![segment],
                    invoiced: false,
                    setup_fee,
                })
            }
        }
    }
    // What is already invoiced is asked here, while the previous page is
    // being written, rather than under the series lock (see issue_batch).
    // Not joined into the query above: during a run the planner's figures
    // for the invoice table lag far behind, and it chose to scan the
    // month's invoices for every page.
    let ids: Vec<i64> = out.iter().map(|b| b.subscription_id).collect();
    let mut conn = db.pool().acquire().await.map_err(storage)?;
    let done = invoiced_among(&mut conn, &ids, month).await?;
    // The fee goes on a subscription's first invoice: none issued yet.
    let owing: Vec<i64> = out
        .iter()
        .filter(|b| b.setup_fee.is_some())
        .map(|b| b.subscription_id)
        .collect();
    let billed_before = ever_invoiced(&mut conn, &owing).await?;
    for b in &mut out {
        b.invoiced = done.contains(&b.subscription_id);
        if billed_before.contains(&b.subscription_id) {
            b.setup_fee = None;
        }
    }
    Ok(out)
}

/// The subscriptions among `ids` with an invoice of any month.
async fn ever_invoiced(
    conn: &mut sqlx::AnyConnection,
    ids: &[i64],
) -> Result<std::collections::HashSet<i64>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    // Integers read from the database, as in invoiced_among.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT subscription_id FROM bil_invoices WHERE kind = 'invoice' AND subscription_id IN ({list})"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(storage)?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>("subscription_id").map_err(storage))
        .collect()
}

/// The subscriptions among `ids` already invoiced for the month.
async fn invoiced_among(
    conn: &mut sqlx::AnyConnection,
    ids: &[i64],
    month: Month,
) -> Result<std::collections::HashSet<i64>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    // Ids come from the database as integers: writing them into the
    // statement cannot inject anything, and keeps one round trip.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let rows = sqlx::query(&format!(
        "SELECT subscription_id FROM bil_invoices WHERE period = $1 AND kind = 'invoice' AND subscription_id IN ({list})"
    ))
    .bind(month.label())
    .fetch_all(&mut *conn)
    .await
    .map_err(storage)?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>("subscription_id").map_err(storage))
        .collect()
}

/// The first subscription (lowest id) of a household's accounts with days
/// in `month`: the one whose invoice carries its granted devices.
pub async fn first_subscription_of(db: &Db, household: &str, month: Month) -> Result<Option<i64>> {
    let r = sqlx::query(
        "SELECT MIN(p.subscription_id) AS id FROM bil_periods p
         JOIN bil_subscriptions s ON s.id = p.subscription_id JOIN bil_accounts a ON a.id = s.account_id
         WHERE a.household = $3 AND p.from_day <= $2 AND (p.to_day IS NULL OR p.to_day >= $1)",
    )
    .bind(month.first.to_string())
    .bind(month.last.to_string())
    .bind(household)
    .fetch_one(db.pool())
    .await
    .map_err(storage)?;
    r.try_get::<Option<i64>, _>("id").map_err(storage)
}

/// Issues a page of the month's invoices in one transaction: the series
/// is locked first, then the invoices take consecutive numbers and are
/// inserted together. A crash loses the whole page or none of it, so the
/// numbers stay gapless. `items` were read as not yet invoiced, which is
/// almost always still true: they go in without asking again. If a
/// concurrent run issued some meanwhile, the one-invoice-per-month key
/// refuses the insert, the transaction rolls back with its numbers, and
/// the page is issued again leaving out what is already invoiced.
/// Answers how many were issued and their total.
#[tracing::instrument(skip_all, fields(period = %month.label(), count = items.len()))]
pub async fn issue_batch(
    db: &Db,
    actor: &Actor,
    items: &[(&Billable, Vec<Line>)],
    month: Month,
    issued_on: NaiveDate,
) -> Result<(usize, Cents)> {
    match issue_attempt(db, actor, items, month, issued_on, false).await? {
        Some(done) => Ok(done),
        None => {
            tracing::info!("a concurrent run issued part of the page: issuing the rest");
            issue_attempt(db, actor, items, month, issued_on, true)
                .await?
                .ok_or_else(|| Error::Invalid("concurrent billing runs kept colliding".into()))
        }
    }
}

/// One attempt of [`issue_batch`]; `None` when the insert collided with a
/// concurrent run's (only possible when `check` is false).
async fn issue_attempt(
    db: &Db,
    actor: &Actor,
    items: &[(&Billable, Vec<Line>)],
    month: Month,
    issued_on: NaiveDate,
    check: bool,
) -> Result<Option<(usize, Cents)>> {
    if items.is_empty() {
        return Ok(Some((0, Cents::ZERO)));
    }
    let series = format!("FA{}", chrono::Datelike::year(&issued_on));
    let mut tx = db.begin().await.map_err(storage)?;
    // The lock: a write on the series row, before reading anything.
    sqlx::query("INSERT INTO bil_series (series, next_number) VALUES ($1, 1) ON CONFLICT (series) DO NOTHING")
        .bind(&series)
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    let done = if check {
        sqlx::query("UPDATE bil_series SET next_number = next_number WHERE series = $1")
            .bind(&series)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        let ids: Vec<i64> = items.iter().map(|(b, _)| b.subscription_id).collect();
        invoiced_among(&mut tx, &ids, month).await?
    } else {
        Default::default()
    };
    let todo: Vec<&(&Billable, Vec<Line>)> = items
        .iter()
        .filter(|(b, _)| !done.contains(&b.subscription_id))
        .collect();
    if todo.is_empty() {
        return Ok(Some((0, Cents::ZERO)));
    }
    let count = i64::try_from(todo.len()).map_err(|_| Error::Overflow)?;
    let first = series::take(
        &mut tx,
        &series,
        issued_on,
        count,
        series::Order::Chronological,
    )
    .await?;
    let next = first + count;
    let now = time::to_db(time::now());
    let mut gross = Cents::ZERO;
    // 13 values a row. PostgreSQL takes 500 rows a statement best; SQLite
    // (through sqlx's Any driver) slows down past about 200 (measured with
    // benches/billing_run.rs).
    let per_statement = match db.backend() {
        regie_core::db::Backend::Sqlite => 200,
        regie_core::db::Backend::Postgres => 500,
    };
    for (chunk_no, chunk) in todo.chunks(per_statement).enumerate() {
        let mut sql = String::from(
            "INSERT INTO bil_invoices (number, series, seq, kind, account_id, subscription_id, period, issued_on,
                net_cents, tax_cents, gross_cents, lines_json, buyer_json, created_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let p = i * 13;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, 'invoice', ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                p + 8,
                p + 9,
                p + 10,
                p + 11,
                p + 12,
                p + 13
            ));
        }
        let mut q = sqlx::query(&sql);
        for (i, (b, lines)) in chunk.iter().enumerate() {
            let seq =
                first + i64::try_from(chunk_no * per_statement + i).map_err(|_| Error::Overflow)?;
            let t = totals(lines.iter().map(|l| (l.net, l.rate)))?;
            gross = gross.checked_add(t.gross)?;
            q = q
                .bind(format!("{series}-{seq:06}"))
                .bind(series.clone())
                .bind(seq)
                .bind(b.account_id)
                .bind(b.subscription_id)
                .bind(month.label())
                .bind(issued_on.to_string())
                .bind(t.net.0)
                .bind(t.tax.0)
                .bind(t.gross.0)
                .bind(serde_json::to_string(lines).map_err(|e| Error::Invalid(e.to_string()))?)
                .bind(serde_json::to_string(&b.account).map_err(|e| Error::Invalid(e.to_string()))?)
                .bind(now.clone());
        }
        match q.execute(&mut *tx).await {
            Ok(_) => {}
            // Dropping the transaction rolls it back, numbers included.
            Err(e) if !check && is_unique_violation(&e) => return Ok(None),
            Err(e) => return Err(storage(e)),
        }
    }
    let last = next - 1;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "invoice.issue",
            entity: "invoice",
            entity_id: &format!("{series}-{first:06}"),
            before: None,
            after: Some(serde_json::json!({
                "period": month.label(), "count": count, "gross_cents": gross.0,
                "first": format!("{series}-{first:06}"), "last": format!("{series}-{last:06}"),
            })),
        },
    )
    .await
    .map_err(Error::Storage)?;
    tx.commit().await.map_err(storage)?;
    Ok(Some((todo.len(), gross)))
}

const INVOICE_COLUMNS: &str =
    "i.number, i.kind, a.code AS account, s.code AS subscription, i.period, i.issued_on,
    i.net_cents, i.tax_cents, i.gross_cents, i.lines_json, i.buyer_json, c.number AS corrects";

fn invoice_from(r: &sqlx::any::AnyRow) -> Result<Invoice> {
    let lines: Vec<Line> =
        serde_json::from_str(&r.try_get::<String, _>("lines_json").map_err(storage)?)
            .map_err(|e| Error::Invalid(format!("lignes stockées illisibles : {e}")))?;
    let t = totals(lines.iter().map(|l| (l.net, l.rate)))?;
    Ok(Invoice {
        number: r.try_get("number").map_err(storage)?,
        kind: match r.try_get::<String, _>("kind").map_err(storage)?.as_str() {
            "credit_note" => DocumentKind::CreditNote,
            "balance" => DocumentKind::Balance,
            _ => DocumentKind::Invoice,
        },
        account: r.try_get("account").map_err(storage)?,
        subscription: r.try_get("subscription").map_err(storage)?,
        period: r.try_get("period").map_err(storage)?,
        issued_on: day(&r.try_get::<String, _>("issued_on").map_err(storage)?)?,
        lines,
        breakdown: t.breakdown,
        net: Cents(r.try_get("net_cents").map_err(storage)?),
        tax: Cents(r.try_get("tax_cents").map_err(storage)?),
        gross: Cents(r.try_get("gross_cents").map_err(storage)?),
        corrects: r.try_get("corrects").map_err(storage)?,
        buyer: serde_json::from_str(&r.try_get::<String, _>("buyer_json").map_err(storage)?)
            .map_err(|e| Error::Invalid(format!("acheteur stocké illisible : {e}")))?,
    })
}

/// Invoices and credit notes, in number order, each credit note right
/// after the invoice it corrects; of one account if given.
pub async fn invoices(db: &Db, account: Option<&str>) -> Result<Vec<Invoice>> {
    select_invoices(db, account, None, None).await
}

/// One invoice or credit note by its number.
pub async fn invoice(db: &Db, number: &str) -> Result<Invoice> {
    select_invoices(db, None, Some(number.trim()), None)
        .await?
        .pop()
        .ok_or_else(|| Error::NotFound(format!("aucune facture « {} »", number.trim())))
}

/// Which documents a period's read holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sales {
    /// Invoices and credit notes (registers, PES).
    Only,
    /// And the balances taken over (the books: FEC).
    AndBalances,
}

/// The documents issued between two days (both included), by date then
/// number: the registers and the PES of a period.
pub async fn issued_between(db: &Db, from: NaiveDate, to: NaiveDate) -> Result<Vec<Invoice>> {
    dated_between(db, from, to, Sales::Only).await
}

/// Every document issued between two days, balances taken over included:
/// what the FEC books.
pub async fn booked_between(db: &Db, from: NaiveDate, to: NaiveDate) -> Result<Vec<Invoice>> {
    dated_between(db, from, to, Sales::AndBalances).await
}

async fn dated_between(
    db: &Db,
    from: NaiveDate,
    to: NaiveDate,
    which: Sales,
) -> Result<Vec<Invoice>> {
    let mut docs = select_invoices(db, None, None, Some((from, to, which))).await?;
    docs.sort_by(|a, b| {
        (a.issued_on, a.kind == DocumentKind::CreditNote, &a.number).cmp(&(
            b.issued_on,
            b.kind == DocumentKind::CreditNote,
            &b.number,
        ))
    });
    Ok(docs)
}

/// A page of a billing period's documents (its invoices and the credit
/// notes correcting them), after the document with id `after`, in id
/// order; each with its id (the next page's `after`) and its account's id.
pub async fn period_documents(
    db: &Db,
    period: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<PeriodDocument>> {
    let rows = sqlx::query(&format!(
        "SELECT i.id, i.account_id, {INVOICE_COLUMNS} FROM bil_invoices i JOIN bil_accounts a ON a.id = i.account_id
         LEFT JOIN bil_subscriptions s ON s.id = i.subscription_id LEFT JOIN bil_invoices c ON c.id = i.corrects
         WHERE i.id > $2 AND i.period = $1 ORDER BY i.id LIMIT $3"
    ))
    .bind(period)
    .bind(after)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    rows.iter()
        .map(|r| {
            Ok(PeriodDocument {
                id: r.try_get("id").map_err(storage)?,
                account_id: r.try_get("account_id").map_err(storage)?,
                document: invoice_from(r)?,
            })
        })
        .collect()
}

/// One of [`period_documents`].
#[derive(Debug, Clone)]
pub struct PeriodDocument {
    pub id: i64,
    pub account_id: i64,
    pub document: Invoice,
}

async fn select_invoices(
    db: &Db,
    account: Option<&str>,
    number: Option<&str>,
    issued: Option<(NaiveDate, NaiveDate, Sales)>,
) -> Result<Vec<Invoice>> {
    // Only the filters given, so each one can use its index (a
    // "$1 IS NULL OR …" filter makes the planner scan every invoice).
    let mut filters = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let mut add = |sql: &str, v: String| {
        values.push(v);
        filters.push(sql.replace('?', &format!("${}", values.len())));
    };
    if let Some(a) = account {
        add("a.code = ?", a.to_owned());
    }
    if let Some(n) = number {
        add("i.number = ?", n.to_owned());
    }
    if let Some((from, to, which)) = issued {
        add("i.issued_on >= ?", from.to_string());
        add("i.issued_on <= ?", to.to_string());
        // Registers hold sales: a balance taken over was invoiced (and
        // its VAT declared) by the operator who sold it.
        if which == Sales::Only {
            add("i.kind <> ?", "balance".to_owned());
        }
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    let sql = format!(
        "SELECT {INVOICE_COLUMNS} FROM bil_invoices i JOIN bil_accounts a ON a.id = i.account_id
         LEFT JOIN bil_subscriptions s ON s.id = i.subscription_id LEFT JOIN bil_invoices c ON c.id = i.corrects
         {filter} ORDER BY COALESCE(c.series, i.series), COALESCE(c.seq, i.seq), i.kind = 'credit_note', i.series, i.seq"
    );
    let rows = values
        .iter()
        .fold(sqlx::query(&sql), |q, v| q.bind(v.clone()))
        .fetch_all(db.pool())
        .await
        .map_err(storage)?;
    rows.iter().map(invoice_from).collect()
}

/// Issues a credit note against an invoice: `lines` are what is given
/// back (positive net amounts, stored negated); their total may not
/// exceed what the invoice still owes after earlier credit notes.
#[tracing::instrument(skip_all, fields(actor = %actor.username, invoice = %invoice_number))]
pub async fn credit_note(
    db: &Db,
    actor: &Actor,
    invoice_number: &str,
    lines: Vec<Line>,
    issued_on: NaiveDate,
) -> Result<Invoice> {
    if lines.is_empty() || lines.iter().any(|l| l.net.0 <= 0) {
        return Err(Error::Invalid(
            "un avoir rend des montants positifs, au moins une ligne".into(),
        ));
    }
    let negated: Vec<Line> = lines
        .into_iter()
        .map(|l| Line {
            net: Cents(-l.net.0),
            ..l
        })
        .collect();
    let t = totals(negated.iter().map(|l| (l.net, l.rate)))?;
    let series = format!("AV{}", chrono::Datelike::year(&issued_on));
    let mut tx = db.begin().await.map_err(storage)?;
    // Numbering first: it writes, so concurrent credit notes queue here.
    let seq = series::next(&mut tx, &series, issued_on, series::Order::Chronological).await?;
    let inv = sqlx::query(
        "SELECT i.id, i.account_id, i.subscription_id, i.period, i.gross_cents, i.kind,
                CAST((SELECT COALESCE(SUM(c.gross_cents), 0) FROM bil_invoices c WHERE c.corrects = i.id) AS BIGINT) AS credited
         FROM bil_invoices i WHERE i.number = $1",
    )
    .bind(invoice_number.trim())
    .fetch_optional(&mut *tx)
    .await
    .map_err(storage)?
    .ok_or_else(|| Error::NotFound(format!("aucune facture « {} »", invoice_number.trim())))?;
    if inv.try_get::<String, _>("kind").map_err(storage)? != "invoice" {
        return Err(Error::Invalid(
            "un avoir corrige une facture, pas un autre avoir".into(),
        ));
    }
    let owed: i64 = inv.try_get::<i64, _>("gross_cents").map_err(storage)?
        + inv.try_get::<i64, _>("credited").map_err(storage)?;
    if -t.gross.0 > owed {
        return Err(Error::Invalid(format!(
            "l'avoir ({}) dépasse ce qui reste de la facture ({})",
            Cents(-t.gross.0),
            Cents(owed)
        )));
    }
    let number = format!("{series}-{seq:06}");
    let buyer: String = sqlx::query("SELECT buyer_json FROM bil_invoices WHERE number = $1")
        .bind(invoice_number.trim())
        .fetch_one(&mut *tx)
        .await
        .map_err(storage)?
        .try_get("buyer_json")
        .map_err(storage)?;
    sqlx::query(
        "INSERT INTO bil_invoices (number, series, seq, kind, account_id, subscription_id, period, issued_on,
            net_cents, tax_cents, gross_cents, lines_json, buyer_json, corrects, created_at)
         VALUES ($1, $2, $3, 'credit_note', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&number)
    .bind(&series)
    .bind(seq)
    .bind(inv.try_get::<i64, _>("account_id").map_err(storage)?)
    .bind(inv.try_get::<Option<i64>, _>("subscription_id").map_err(storage)?)
    .bind(inv.try_get::<String, _>("period").map_err(storage)?)
    .bind(issued_on.to_string())
    .bind(t.net.0)
    .bind(t.tax.0)
    .bind(t.gross.0)
    .bind(serde_json::to_string(&negated).map_err(|e| Error::Invalid(e.to_string()))?)
    .bind(buyer)
    .bind(inv.try_get::<i64, _>("id").map_err(storage)?)
    .bind(time::to_db(time::now()))
    .execute(&mut *tx)
    .await
    .map_err(storage)?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "credit_note.issue",
            entity: "invoice",
            entity_id: &number,
            before: None,
            after: Some(
                serde_json::json!({ "corrects": invoice_number.trim(), "gross_cents": t.gross.0 }),
            ),
        },
    )
    .await
    .map_err(Error::Storage)?;
    tx.commit().await.map_err(storage)?;
    invoice(db, &number).await
}

/// The social tariff's days of each household in a month, from the
/// social-tariff crate's public API (level price and dates only).
pub async fn social_days(
    db: &Db,
    month: Month,
) -> Result<std::collections::HashMap<String, Vec<SocialDays>>> {
    let mut seen = std::collections::HashSet::new();
    let mut out: std::collections::HashMap<String, Vec<SocialDays>> =
        std::collections::HashMap::new();
    let in_force = social_tariff::entitlements_in_force(db, month.first)
        .await
        .map_err(|e| Error::Upstream(format!("tarif social : {e}")))?;
    let changing = social_tariff::entitlements_changing(db, month.first, month.last)
        .await
        .map_err(|e| Error::Upstream(format!("tarif social : {e}")))?;
    for e in in_force.into_iter().chain(changing) {
        if !seen.insert(e.decision_ref.clone()) {
            continue;
        }
        out.entry(e.household.clone())
            .or_default()
            .push(SocialDays {
                from: e.valid_from,
                to: e.valid_to,
                monthly_gross: Cents(i64::from(e.monthly_price_cents)),
            });
    }
    Ok(out)
}

/// The devices each household received in the month under an equipment
/// grant, from the social-tariff crate's public API: billed at their
/// price, with the aid against it.
pub async fn granted_devices(
    db: &Db,
    month: Month,
) -> Result<std::collections::HashMap<String, Vec<compute::GrantedDevice>>> {
    let mut out: std::collections::HashMap<String, Vec<compute::GrantedDevice>> =
        std::collections::HashMap::new();
    for h in social_tariff::handovers_between(db, month.first, month.last)
        .await
        .map_err(|e| Error::Upstream(format!("aides à l'équipement : {e}")))?
    {
        out.entry(h.household)
            .or_default()
            .push(compute::GrantedDevice {
                description: format!(
                    "{} remis le {}",
                    h.description,
                    h.handed_over_on.format("%d/%m/%Y")
                ),
                price_gross: Cents(h.value_cents),
                aid_gross: Cents(h.value_cents),
            });
    }
    Ok(out)
}

/// Lines of a billable subscription for the month; `devices` are the
/// granted devices this invoice carries (those of the household, on one
/// of its subscriptions only).
pub fn lines_for(
    b: &Billable,
    month: Month,
    social: &std::collections::HashMap<String, Vec<SocialDays>>,
    devices: &[compute::GrantedDevice],
) -> Result<Vec<Line>> {
    let days = b
        .account
        .household
        .as_ref()
        .and_then(|h| social.get(h))
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    compute::lines(month, &b.segments, days, devices, b.setup_fee.as_ref())
}

use crate::model::{
    Account, AccountKind, DocumentKind, Invoice, NewAccount, NewOffer, Offer, Period, Subscription,
};
