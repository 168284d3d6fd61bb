//! Refurbished-equipment grants: stock, yearly envelope, requests, the
//! waiting list, handover.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use social_tariff::grants::{Attestation, Budget, Device, DeviceKind, Grant, NewDevice};

use crate::platform::api::extract::{Json, Path};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, ErrorBody};
use crate::social::{self, is_staff, today};
use crate::{AppState, Error};

/// Records a device received from a partner association.
#[utoipa::path(post, path = "/api/v1/social-tariff/devices", operation_id = "receive_refurbished_device", tag = "social-tariff",
    security(("bearer" = [])), request_body = NewDevice,
    responses((status = 201, description = "the device", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "a field is missing or wrong, or the serial is known")))]
pub async fn add_device(
    State(state): State<AppState>,
    me: Principal,
    Json(new): Json<NewDevice>,
) -> Result<(StatusCode, Json<Device>), ApiError> {
    let d = social_tariff::add_device(&state.db, &me.actor(), &new, today()).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// The devices, the newest first.
#[utoipa::path(get, path = "/api/v1/social-tariff/devices", operation_id = "list_refurbished_devices", tag = "social-tariff",
    security(("bearer" = [])), responses((status = 200, description = "the devices", content_type = "application/json")))]
pub async fn devices(State(state): State<AppState>) -> Result<Json<Vec<Device>>, ApiError> {
    Ok(Json(social_tariff::devices(&state.db).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BudgetBody {
    pub deliberation: String,
    pub amount_cents: i64,
}

/// A year's envelope with what is committed.
#[derive(Debug, Serialize)]
pub struct BudgetView {
    #[serde(flatten)]
    pub budget: Budget,
    pub remaining_cents: i64,
}

fn budget_view(budget: Budget) -> BudgetView {
    BudgetView {
        remaining_cents: budget.remaining_cents(),
        budget,
    }
}

/// Sets a year's envelope, as voted.
#[utoipa::path(put, path = "/api/v1/social-tariff/budgets/{year}", operation_id = "set_budget", tag = "social-tariff",
    security(("bearer" = [])), params(("year" = i32, Path)), request_body = BudgetBody,
    responses((status = 200, description = "the envelope", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "below what is committed, or invalid")))]
pub async fn set_budget(
    State(state): State<AppState>,
    me: Principal,
    Path(year): Path<i32>,
    Json(b): Json<BudgetBody>,
) -> Result<Json<BudgetView>, ApiError> {
    let budget = social_tariff::set_budget(
        &state.db,
        &me.actor(),
        year,
        &b.deliberation,
        b.amount_cents,
    )
    .await?;
    Ok(Json(budget_view(budget)))
}

/// A year's envelope.
#[utoipa::path(get, path = "/api/v1/social-tariff/budgets/{year}", operation_id = "show_budget", tag = "social-tariff",
    security(("bearer" = [])), params(("year" = i32, Path)),
    responses((status = 200, description = "the envelope", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no envelope voted for that year")))]
pub async fn budget(
    State(state): State<AppState>,
    Path(year): Path<i32>,
) -> Result<Json<BudgetView>, ApiError> {
    let b = social_tariff::budget(&state.db, year)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no envelope for {year}")))?;
    Ok(Json(budget_view(b)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct GrantBody {
    pub kind: DeviceKind,
    /// Agents: the household's code.
    #[serde(default)]
    pub household: Option<String>,
}

/// A household entitled to the social tariff asks for a device (itself
/// online, or an agent at the counter); it joins the waiting list.
#[utoipa::path(post, path = "/api/v1/social-tariff/grants", operation_id = "request_grant", tag = "social-tariff",
    security(("bearer" = [])), request_body = GrantBody,
    responses((status = 201, description = "the request, allocated or waiting", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "not entitled, or already a grant this year")))]
pub async fn request(
    State(state): State<AppState>,
    me: Principal,
    Json(b): Json<GrantBody>,
) -> Result<(StatusCode, Json<Grant>), ApiError> {
    let household = if is_staff(&me) {
        let code = b
            .household
            .as_deref()
            .ok_or_else(|| Error::Invalid("household: the household's code is required".into()))?;
        social_tariff::get_household(&state.db, social_tariff::Scope::All, code)
            .await?
            .code
    } else {
        social::own_household(&state, &me, "").await?.code
    };
    let g = social_tariff::request_grant(
        &state.db,
        &me.actor(),
        me.household_scope(),
        &household,
        b.kind,
        today(),
        state.config.grant_period_years,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(g)))
}

/// Grants the caller may see, in the order of the requests.
#[utoipa::path(get, path = "/api/v1/social-tariff/grants", operation_id = "list_grants", tag = "social-tariff",
    security(("bearer" = [])), responses((status = 200, description = "the grants", content_type = "application/json")))]
pub async fn grants(
    State(state): State<AppState>,
    me: Principal,
) -> Result<Json<Vec<Grant>>, ApiError> {
    Ok(Json(
        social_tariff::grants(&state.db, me.household_scope()).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct HandoverBody {
    pub attestation: Attestation,
    /// The day of the handover; today by default.
    #[serde(default)]
    pub on: Option<chrono::NaiveDate>,
}

/// Records the handover of the device set aside.
#[utoipa::path(post, path = "/api/v1/social-tariff/grants/{id}/handover", operation_id = "hand_over_grant", tag = "social-tariff",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = HandoverBody,
    responses((status = 200, description = "the grant", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "nothing to hand over")))]
pub async fn hand_over(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<i64>,
    Json(b): Json<HandoverBody>,
) -> Result<Json<Grant>, ApiError> {
    let on = b.on.unwrap_or_else(today);
    if on > today() {
        return Err(Error::Invalid("the handover date is in the future".into()).into());
    }
    Ok(Json(
        social_tariff::hand_over(&state.db, &me.actor(), id, b.attestation, on).await?,
    ))
}

/// Cancels a request not yet handed over; the next on the list is served.
#[utoipa::path(post, path = "/api/v1/social-tariff/grants/{id}/cancel", operation_id = "cancel_grant", tag = "social-tariff",
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "the grant", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "already handed over or cancelled")))]
pub async fn cancel(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<i64>,
) -> Result<Json<Grant>, ApiError> {
    Ok(Json(
        social_tariff::cancel_grant(&state.db, &me.actor(), me.household_scope(), id).await?,
    ))
}
