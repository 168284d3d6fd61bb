//! Who reaches which billing account: billing staff (accountant, admin)
//! every account; a household only the accounts of its own files. One rule
//! for the API and the pages.

use billing::model::Account;
use billing::model::Invoice;

use crate::platform::auth::{Principal, Role};
use crate::{AppState, Error};

/// Whether `me` works on every billing account.
pub fn is_billing_staff(me: &Principal) -> bool {
    me.has_any(&[Role::Admin, Role::Accountant])
}

/// The billing accounts `me` may read: all of them for billing staff, a
/// household's own otherwise.
pub async fn accounts_of(state: &AppState, me: &Principal) -> Result<Vec<Account>, Error> {
    if is_billing_staff(me) {
        return Ok(billing::storage::accounts(&state.db, None).await?);
    }
    let mine: Vec<String> = social_tariff::list_households(&state.db, me.household_scope())
        .await?
        .into_iter()
        .map(|h| h.code.to_string())
        .collect();
    Ok(billing::storage::accounts(&state.db, Some(&mine)).await?)
}

/// One account `me` may read; another answers « not found », like a
/// missing one, so that existence does not leak.
pub async fn account_of(state: &AppState, me: &Principal, code: &str) -> Result<Account, Error> {
    accounts_of(state, me)
        .await?
        .into_iter()
        .find(|a| a.code == code.trim())
        .ok_or_else(|| Error::NotFound(format!("aucun compte « {} »", code.trim())))
}

/// The invoices a caller may read: all (or one account's) for billing
/// staff, its own for a household.
pub async fn visible_invoices(
    state: &AppState,
    me: &Principal,
    account: Option<&str>,
) -> Result<Vec<Invoice>, Error> {
    if crate::billing::scope::is_billing_staff(me) {
        return Ok(billing::storage::invoices(&state.db, account).await?);
    }
    let mut out = Vec::new();
    for a in crate::billing::scope::accounts_of(state, me).await? {
        out.extend(billing::storage::invoices(&state.db, Some(&a.code)).await?);
    }
    Ok(out)
}

/// One document the caller may read: any for billing staff, one of its
/// own accounts' for a household; another's answers "not found", exactly
/// like a missing one.
pub async fn visible_invoice(
    state: &AppState,
    me: &Principal,
    number: &str,
) -> Result<Invoice, Error> {
    let not_found = || Error::NotFound(format!("invoice {number}"));
    let inv = billing::storage::invoice(&state.db, number)
        .await
        .map_err(|e| match e {
            billing::Error::NotFound(_) => not_found(),
            other => other.into(),
        })?;
    if me.has_any(&[Role::Admin, Role::Accountant]) {
        return Ok(inv);
    }
    let account = billing::storage::account(&state.db, &inv.account).await?;
    let mine = social_tariff::list_households(&state.db, me.household_scope()).await?;
    if account
        .household
        .as_ref()
        .is_some_and(|h| mine.iter().any(|m| m.code.as_str() == h))
    {
        Ok(inv)
    } else {
        Err(not_found())
    }
}
