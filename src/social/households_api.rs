//! Households. A household user reaches only its own; any other code
//! answers 404, as if it did not exist.

use axum::extract::State;

use crate::platform::api::extract::{Json, Path};
use axum::http::StatusCode;
use social_tariff::{Household, NewHousehold};

use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, ErrorBody};
use crate::AppState;

/// Lists the households the caller may see.
#[utoipa::path(get, path = "/api/v1/households", operation_id = "list_households", tag = "households", security(("bearer" = [])),
    responses((status = 200, body = [Household])))]
pub async fn list(
    State(state): State<AppState>,
    me: Principal,
) -> Result<Json<Vec<Household>>, ApiError> {
    Ok(Json(
        social_tariff::list_households(&state.db, me.household_scope()).await?,
    ))
}

/// Creates a household (social agents, e.g. at the counter).
#[utoipa::path(post, path = "/api/v1/households", operation_id = "create_household", tag = "households", security(("bearer" = [])),
    request_body = NewHousehold,
    responses((status = 201, body = Household), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    me: Principal,
    Json(new): Json<NewHousehold>,
) -> Result<(StatusCode, Json<Household>), ApiError> {
    let h = social_tariff::create_household(&state.db, &me.actor(), &new).await?;
    Ok((StatusCode::CREATED, Json(h)))
}

/// Shows one household.
#[utoipa::path(get, path = "/api/v1/households/{code}", operation_id = "show_household", tag = "households", security(("bearer" = [])),
    params(("code" = String, Path, example = "FOY-7KQ2MX")),
    responses((status = 200, body = Household), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
) -> Result<Json<Household>, ApiError> {
    Ok(Json(
        social_tariff::get_household(&state.db, me.household_scope(), &code).await?,
    ))
}
