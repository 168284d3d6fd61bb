//! Records named by a drawn code (`CPT-…`, `ABO-…`): the drawing, and an
//! account opened with its code drawn again when it is already taken.

use super::*;

/// A row the loop above always has: kept as an error rather than a panic.
pub(super) fn unreachable_none() -> Result<i64> {
    Err(Error::Invalid("abonnement non créé : réessayez".into()))
}

/// How many codes are drawn before giving up (each draw collides with
/// odds of one in 887 million per existing record).
pub(super) const CODE_DRAWS: usize = 8;

/// A human code: a prefix and six characters without look-alikes.
pub(super) fn new_code(prefix: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..6)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("{prefix}-{tail}")
}

/// Opens an account in the caller's transaction; `former_ref` is the
/// outgoing operator's customer reference of an account taken over.
pub(crate) async fn insert_account(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    new: &NewAccount,
    former_ref: Option<&str>,
) -> Result<Account> {
    new.check()?;
    // A code drawn twice (one in 887 million per account) is drawn again:
    // the conflict on the code alone is skipped, not mistaken for another.
    for _ in 0..CODE_DRAWS {
        let r = sqlx::query(&format!(
            "INSERT INTO bil_accounts (code, kind, name, address, postcode, town, email, siren, vat_number, household, created_at, former_ref)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (code) DO NOTHING RETURNING {ACCOUNT_COLUMNS}"
        ))
        .bind(new_code("CPT"))
    .bind(new.kind.as_str())
    .bind(new.name.trim())
    .bind(new.address.trim())
    .bind(new.postcode.trim())
    .bind(new.town.trim())
    .bind(new.email.as_deref().map(str::trim))
    .bind(new.siren.as_deref().map(|s| s.replace(' ', "")))
    .bind(new.vat_number.as_deref().map(str::trim))
    .bind(new.household.as_deref().map(str::trim))
    .bind(time::to_db(time::now()))
        .bind(former_ref)
        .fetch_optional(&mut *conn)
        .await;
        match r {
            Ok(Some(r)) => return account_created(conn, actor, &r, former_ref).await,
            Ok(None) => continue,
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::Invalid(format!(
                    "le client « {} » de l'opérateur sortant a déjà été repris",
                    former_ref.unwrap_or_default()
                )))
            }
            Err(e) => return Err(storage(e)),
        }
    }
    Err(Error::Invalid(format!(
        "aucun code de compte libre après {CODE_DRAWS} tirages : réessayez"
    )))
}

/// The account just inserted, with its audit entry.
async fn account_created(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    r: &sqlx::any::AnyRow,
    former_ref: Option<&str>,
) -> Result<Account> {
    let account = account_from(r)?;
    audit::record(
        conn,
        actor,
        Change {
            action: "account.create",
            entity: "account",
            entity_id: &account.code,
            before: None,
            after: former_ref.map(|f| serde_json::json!({ "former_ref": f })),
        },
    )
    .await
    .map_err(Error::Storage)?;
    Ok(account)
}
