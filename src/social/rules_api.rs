//! The social tariff's rules: published versions (public, a legal duty for
//! algorithmic individual decisions), publication and preview (admin).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use social_tariff::rules::RuleSet;
use social_tariff::RuleSetRecord;

use crate::platform::api::extract::{Json, Path};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, ErrorBody};
use crate::AppState;

/// A published version, with its rules told in French.
#[derive(Debug, Serialize)]
pub struct RuleSetView {
    pub version: i64,
    pub deliberation: String,
    pub deliberation_date: chrono::NaiveDate,
    pub effective_from: chrono::NaiveDate,
    pub effective_to: Option<chrono::NaiveDate>,
    pub published_at: String,
    /// The rules in plain French, paragraph by paragraph.
    pub description: Vec<String>,
    pub rules: RuleSet,
    pub document: String,
}

impl From<RuleSetRecord> for RuleSetView {
    fn from(r: RuleSetRecord) -> Self {
        Self {
            version: r.version,
            deliberation: r.rules.deliberation.numero.clone(),
            deliberation_date: r.rules.deliberation.date,
            effective_from: r.rules.validite.du,
            effective_to: r.rules.validite.au,
            published_at: r.published_at,
            description: r.rules.describe(),
            document: r.document,
            rules: r.rules,
        }
    }
}

/// Every published version of the rules, the newest first.
#[utoipa::path(get, path = "/api/v1/social-tariff/rules", operation_id = "list_rule_sets", tag = "social-tariff",
    responses((status = 200, description = "the published rule sets", content_type = "application/json")))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<RuleSetView>>, ApiError> {
    Ok(Json(
        social_tariff::rule_sets(&state.db)
            .await?
            .into_iter()
            .map(RuleSetView::from)
            .collect(),
    ))
}

/// One published version of the rules.
#[utoipa::path(get, path = "/api/v1/social-tariff/rules/{version}", operation_id = "show_rule_set", tag = "social-tariff",
    params(("version" = i64, Path)),
    responses((status = 200, description = "the rule set", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such version")))]
pub async fn show(
    State(state): State<AppState>,
    Path(version): Path<i64>,
) -> Result<Json<RuleSetView>, ApiError> {
    Ok(Json(
        social_tariff::rule_set(&state.db, version).await?.into(),
    ))
}

/// A rule-set document (TOML).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RuleSetBody {
    pub document: String,
}

/// A document checked, and told in French, without publishing it.
#[derive(Debug, Serialize)]
pub struct Preview {
    pub description: Vec<String>,
}

/// Checks a document and tells it in French, without publishing it.
#[utoipa::path(post, path = "/api/v1/social-tariff/rules/preview", operation_id = "preview_rule_set", tag = "social-tariff",
    security(("bearer" = [])), request_body = RuleSetBody,
    responses((status = 200, description = "the rules in French", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "the document does not hold together; the message says why")))]
pub async fn preview(Json(body): Json<RuleSetBody>) -> Result<Json<Preview>, ApiError> {
    let rules = RuleSet::parse(&body.document).map_err(crate::Error::from)?;
    Ok(Json(Preview {
        description: rules.describe(),
    }))
}

/// Publishes a new version of the rules (a published one never changes).
#[utoipa::path(post, path = "/api/v1/social-tariff/rules", operation_id = "publish_rule_set", tag = "social-tariff",
    security(("bearer" = [])), request_body = RuleSetBody,
    responses((status = 201, description = "the version published", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "the document does not hold together; the message says why")))]
pub async fn publish(
    State(state): State<AppState>,
    me: Principal,
    Json(body): Json<RuleSetBody>,
) -> Result<(StatusCode, Json<RuleSetView>), ApiError> {
    let record = social_tariff::publish_rule_set(&state.db, &me.actor(), &body.document).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}
