//! Personal data of the social tariff: scans (sealed, deleted at the end
//! of the appeal period), the household's own data to take away, the log
//! of what retention deleted, and the public indicators.

use crate::social::documents::{export, scan_parts, scan_response, ScanParts};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use social_tariff::privacy::{Deletion, MonthIndicators, Scan};
use social_tariff::HouseholdExport;

use crate::platform::api::extract::{Json, Path, Query};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, ErrorBody};
use crate::social::{self, today};
use crate::{AppState, Error};

impl std::fmt::Debug for ScanParts {
    // The content is a household's document: its size only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanParts")
            .field("filename", &self.filename)
            .field("size_bytes", &self.content.len())
            .finish_non_exhaustive()
    }
}

/// Attaches a scan to an application (multipart: `description`,
/// `fichier`): a PDF, JPEG or PNG of 10 MB at most, sealed at rest and
/// deleted when the appeal period ends. Prefer recording the document seen.
#[utoipa::path(post, path = "/api/v1/social-tariff/applications/{code}/scans", operation_id = "upload_scan", tag = "social-tariff",
    security(("bearer" = [])), params(("code" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "`description` and `fichier`"),
    responses((status = 201, description = "the scan, without its content", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "not a PDF, JPEG or PNG, too large, or without description")))]
pub async fn upload_scan(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    multipart: Multipart,
) -> Result<(StatusCode, Json<Scan>), ApiError> {
    let code = social_tariff::application::ApplicationCode::parse(&code)
        .map_err(|_| Error::NotFound(code.clone()))?;
    let parts = scan_parts(multipart).await?;
    let scan = social::store_scan(
        &state,
        &me,
        &code,
        &parts.description,
        &parts.filename,
        &parts.content,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(scan)))
}

/// The content of a scan, opened.
#[utoipa::path(get, path = "/api/v1/social-tariff/scans/{id}", operation_id = "download_scan", tag = "social-tariff",
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "the file"),
        (status = 404, body = ErrorBody, description = "no such scan, or already deleted")))]
pub async fn download_scan(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    Ok(scan_response(&state, id).await?)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DataQuery {
    /// Agents: the household whose data to export.
    pub household: Option<String>,
}

/// Everything the régie holds about the caller's household (a household),
/// or about the household named (an agent answering a request).
#[utoipa::path(get, path = "/api/v1/social-tariff/my-data", operation_id = "household_data", tag = "social-tariff",
    security(("bearer" = [])), params(DataQuery),
    responses((status = 200, description = "the data, as JSON", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "an agent must name the household")))]
pub async fn my_data(
    State(state): State<AppState>,
    me: Principal,
    Query(q): Query<DataQuery>,
) -> Result<Json<HouseholdExport>, ApiError> {
    Ok(Json(export(&state, &me, q.household.as_deref()).await?))
}

/// What the retention rules deleted, the newest first (file numbers and
/// rules only).
#[utoipa::path(get, path = "/api/v1/social-tariff/deletions", operation_id = "deletion_log", tag = "social-tariff",
    security(("bearer" = [])),
    responses((status = 200, description = "the log", content_type = "application/json")))]
pub async fn deletions(State(state): State<AppState>) -> Result<Json<Vec<Deletion>>, ApiError> {
    Ok(Json(social_tariff::deletions(&state.db, 500).await?))
}

/// Applications, decisions and devices handed over, per month over the
/// last twelve months; counts under 10 are published as `"<10"`.
#[utoipa::path(get, path = "/api/v1/social-tariff/indicators", operation_id = "public_indicators", tag = "social-tariff",
    responses((status = 200, description = "twelve months, oldest first", content_type = "application/json")))]
pub async fn indicators(
    State(state): State<AppState>,
) -> Result<Json<Vec<MonthIndicators>>, ApiError> {
    Ok(Json(social::indicators(&state, today()).await?))
}
