//! Who reaches which billing account: billing staff (accountant, admin)
//! every account; a household only the accounts of its own files. One rule
//! for the API and the pages.

use billing::model::Account;

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
