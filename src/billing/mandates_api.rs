//! SEPA mandates in the API: an account's mandates with where they stand,
//! one signed at the counter, a change of the account debited, a
//! revocation (billing staff); a household's own mandate given online.

use axum::extract::State;
use axum::http::StatusCode;
use billing::mandate::{Record, Status};
use billing::sepa::{Bic, Iban};
use serde::{Deserialize, Serialize};

use crate::platform::api::extract::{Json, Path};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, ErrorBody};
use crate::social::today;
use crate::{AppState, Error};

/// A mandate as the API shows it (the IBAN masked).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MandateAnswer {
    /// The unique mandate reference (RUM).
    pub rum: String,
    pub account: String,
    pub holder: String,
    /// `FR76 **** **** **** **** **** 189`.
    pub iban: String,
    pub bic: Option<String>,
    /// `YYYY-MM-DD`.
    pub signed_on: String,
    /// `counter`, `online` or `takeover`.
    pub channel: String,
    /// `live`, `revoked` or `expired`.
    pub status: String,
    /// Revoked or lapsed on (`YYYY-MM-DD`).
    pub ended_on: Option<String>,
    /// Why it was revoked, in French.
    pub reason: Option<String>,
    /// The day of the last debit (`YYYY-MM-DD`).
    pub last_debit: Option<String>,
    /// A live mandate lapses after this day without a debit.
    pub lapses_on: Option<String>,
    /// The former account (masked) the next debit will announce.
    pub amendment_pending: Option<String>,
}

impl From<&Record> for MandateAnswer {
    fn from(r: &Record) -> Self {
        let (status, ended_on, reason) = match &r.status {
            Status::Live => ("live", None, None),
            Status::Revoked { on, reason } => {
                ("revoked", Some(on.to_string()), Some(reason.clone()))
            }
            Status::Expired { on } => ("expired", Some(on.to_string()), None),
        };
        MandateAnswer {
            rum: r.mandate.rum.clone(),
            account: r.mandate.account.clone(),
            holder: r.mandate.holder.clone(),
            iban: r.mandate.iban.masked(),
            bic: r.mandate.bic.as_ref().map(|b| b.as_str().to_owned()),
            signed_on: r.mandate.signed_on.to_string(),
            channel: r.channel.as_str().to_owned(),
            status: status.to_owned(),
            ended_on,
            reason,
            last_debit: r.last_debit.map(|d| d.to_string()),
            lapses_on: r.lapses_on.map(|d| d.to_string()),
            amendment_pending: r.amendment_pending.clone(),
        }
    }
}

fn bank(iban: &str, bic: Option<&str>) -> Result<(Iban, Option<Bic>), Error> {
    let iban = Iban::parse(iban)?;
    let bic = bic
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(Bic::parse)
        .transpose()?;
    Ok((iban, bic))
}

async fn live_answer(state: &AppState, code: &str) -> Result<MandateAnswer, Error> {
    billing::storage::mandates_of(&state.db, code)
        .await?
        .iter()
        .find(|r| r.status == Status::Live)
        .map(MandateAnswer::from)
        .ok_or_else(|| {
            Error::NotFound(format!(
                "le compte {} n'a pas de mandat en cours",
                code.trim()
            ))
        })
}

/// An account's mandates, the live one first.
#[utoipa::path(get, path = "/api/v1/billing/accounts/{code}/mandates", operation_id = "list_mandates", tag = "billing",
    security(("bearer" = [])), params(("code" = String, Path)),
    responses((status = 200, body = [MandateAnswer], description = "the mandates"),
        (status = 404, body = ErrorBody, description = "no such account")))]
pub async fn list(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Vec<MandateAnswer>>, ApiError> {
    billing::storage::account(&state.db, &code)
        .await
        .map_err(Error::from)?;
    let records = billing::storage::mandates_of(&state.db, &code)
        .await
        .map_err(Error::from)?;
    Ok(Json(records.iter().map(MandateAnswer::from).collect()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MandateBody {
    pub holder: String,
    pub iban: String,
    #[serde(default)]
    pub bic: Option<String>,
    /// The signature date on the paper form (`YYYY-MM-DD`); today when absent.
    #[serde(default)]
    pub signed_on: Option<String>,
}

fn day(name: &str, v: Option<&str>) -> Result<chrono::NaiveDate, Error> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(today()),
        Some(v) => v.parse().map_err(|_| {
            Error::Invalid(format!(
                "{name} « {v} » : date attendue au format AAAA-MM-JJ"
            ))
        }),
    }
}

/// Records a mandate signed on paper at the counter; the régie assigns its
/// RUM. One live mandate per account.
#[utoipa::path(post, path = "/api/v1/billing/accounts/{code}/mandates", operation_id = "add_mandate", tag = "billing",
    security(("bearer" = [])), params(("code" = String, Path)), request_body = MandateBody,
    responses((status = 201, body = MandateAnswer, description = "the mandate"),
        (status = 404, body = ErrorBody, description = "no such account"),
        (status = 422, body = ErrorBody, description = "a bad IBAN or BIC, a date to come, or a live mandate already")))]
pub async fn add(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Json(b): Json<MandateBody>,
) -> Result<(StatusCode, Json<MandateAnswer>), ApiError> {
    let (iban, bic) = bank(&b.iban, b.bic.as_deref())?;
    let signed_on = day("signed_on", b.signed_on.as_deref())?;
    billing::storage::add_mandate(
        &state.db,
        &me.actor(),
        &code,
        &b.holder,
        &iban,
        bic.as_ref(),
        signed_on,
    )
    .await
    .map_err(Error::from)?;
    Ok((StatusCode::CREATED, Json(live_answer(&state, &code).await?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AmendmentBody {
    pub iban: String,
    #[serde(default)]
    pub bic: Option<String>,
    /// A new holder's name, if it changes too.
    #[serde(default)]
    pub holder: Option<String>,
}

/// Another account debited under the same mandate (same RUM): the next
/// debit announces the change to the bank.
#[utoipa::path(post, path = "/api/v1/billing/accounts/{code}/mandates/amendment", operation_id = "amend_mandate", tag = "billing",
    security(("bearer" = [])), params(("code" = String, Path)), request_body = AmendmentBody,
    responses((status = 200, body = MandateAnswer, description = "the mandate"),
        (status = 404, body = ErrorBody, description = "no such account, or no live mandate"),
        (status = 422, body = ErrorBody, description = "a bad IBAN or BIC, or the same account")))]
pub async fn amend(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Json(b): Json<AmendmentBody>,
) -> Result<Json<MandateAnswer>, ApiError> {
    let (iban, bic) = bank(&b.iban, b.bic.as_deref())?;
    let holder = b.holder.as_deref().map(str::trim).filter(|h| !h.is_empty());
    billing::storage::amend_mandate(&state.db, &me.actor(), &code, holder, &iban, bic.as_ref())
        .await
        .map_err(Error::from)?;
    Ok(Json(live_answer(&state, &code).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RevocationBody {
    /// From this day (`YYYY-MM-DD`); today when absent.
    #[serde(default)]
    pub on: Option<String>,
}

/// Revokes the account's live mandate at the debtor's request.
#[utoipa::path(post, path = "/api/v1/billing/accounts/{code}/mandates/revocation", operation_id = "revoke_mandate", tag = "billing",
    security(("bearer" = [])), params(("code" = String, Path)), request_body = RevocationBody,
    responses((status = 204, description = "revoked"),
        (status = 404, body = ErrorBody, description = "no such account, or no live mandate"),
        (status = 422, body = ErrorBody, description = "a bad or future date")))]
pub async fn revoke(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Json(b): Json<RevocationBody>,
) -> Result<StatusCode, ApiError> {
    let on = day("on", b.on.as_deref())?;
    billing::storage::revoke_mandate(&state.db, &me.actor(), &code, on)
        .await
        .map_err(Error::from)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ConsentBody {
    /// One of the household's billing accounts.
    pub account: String,
    pub holder: String,
    pub iban: String,
    #[serde(default)]
    pub bic: Option<String>,
    /// The household read the authorisation and gives it: must be true.
    pub consent: bool,
}

/// A household gives a mandate online for one of its own accounts; its
/// consent is kept with the time and the user.
#[utoipa::path(post, path = "/api/v1/billing/my/mandates", operation_id = "give_mandate", tag = "billing",
    security(("bearer" = [])), request_body = ConsentBody,
    responses((status = 201, body = MandateAnswer, description = "the mandate"),
        (status = 404, body = ErrorBody, description = "no such account of yours"),
        (status = 422, body = ErrorBody, description = "no consent, a bad IBAN or BIC, no direct debit here, or a live mandate already")))]
pub async fn give(
    State(state): State<AppState>,
    me: Principal,
    Json(b): Json<ConsentBody>,
) -> Result<(StatusCode, Json<MandateAnswer>), ApiError> {
    if !b.consent {
        return Err(Error::Invalid("consent : l'accord du titulaire est nécessaire".into()).into());
    }
    if state.config.sepa.is_none() {
        return Err(Error::Invalid(
            "la régie ne propose pas le prélèvement ([sepa] absent)".into(),
        )
        .into());
    }
    let account = crate::billing::scope::account_of(&state, &me, &b.account).await?;
    let (iban, bic) = bank(&b.iban, b.bic.as_deref())?;
    billing::storage::add_mandate_online(
        &state.db,
        &me.actor(),
        &account.code,
        &b.holder,
        &iban,
        bic.as_ref(),
    )
    .await
    .map_err(Error::from)?;
    Ok((
        StatusCode::CREATED,
        Json(live_answer(&state, &account.code).await?),
    ))
}
