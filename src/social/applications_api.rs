//! Social-tariff applications, decisions, appeals and entitlements.
//!
//! A household files and follows its own applications; social agents file
//! at the counter or from paper, verify, decide and review appeals;
//! accountants read entitlements only (level and dates, never why).

use crate::social::documents::{detail, pdf_response, view, ApplicationDetail, ApplicationView};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use social_tariff::application::{ApplicationCode, ApplicationForm, Status};
use social_tariff::decision::{Appeal, Decision, Entitlement, Outcome, Ruling};
use social_tariff::service::{DocumentSeen, Review, Verified};
use social_tariff::{Filing, Scope};

use crate::platform::api::extract::{Json, Path, Query};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, ErrorBody};
use crate::social::{self, is_staff, today};
use crate::{AppState, Error};

/// An application as filed: the form's fields, and how it is filed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ApplicationBody {
    /// The form's fields (`nom`, `adresse`, `code_postal`, `commune`,
    /// `taille_foyer`, `prestations`, `quotient_familial`,
    /// `etudiant_boursier`, `contact`, `courriel`, `telephone`, and for an
    /// automatic verification `verification_auto`, `nom_naissance`,
    /// `prenoms`, `date_naissance`, `sexe`, `commune_naissance`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub form: ApplicationForm,
    /// `false` saves a draft.
    #[serde(default)]
    pub submit: bool,
    /// Agents: the household's code; none creates a household.
    #[serde(default)]
    pub household: Option<String>,
    /// Agents: `counter` (default) or `paper`.
    #[serde(default)]
    pub channel: Option<String>,
    /// Agents: the household agreed to the agent entering its application.
    #[serde(default)]
    pub consent: bool,
}

/// Field errors of a form: each names its field.
#[derive(Debug, Serialize)]
pub struct FormErrors {
    pub error: String,
    pub fields: Vec<FieldError>,
}

#[derive(Debug, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn form_errors(errors: Vec<(&'static str, String)>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(FormErrors {
            error: "invalid".into(),
            fields: errors
                .into_iter()
                .map(|(f, m)| FieldError {
                    field: f.into(),
                    message: m,
                })
                .collect(),
        }),
    )
        .into_response()
}

/// Files an application (a household for itself, online; an agent for a
/// household, at the counter or from paper, with its consent).
#[utoipa::path(post, path = "/api/v1/social-tariff/applications", operation_id = "file_application", tag = "social-tariff",
    security(("bearer" = [])), request_body = ApplicationBody,
    responses((status = 201, description = "the application", content_type = "application/json"),
        (status = 422, description = "a field is missing or wrong; each error names its field", content_type = "application/json")))]
pub async fn file(
    State(state): State<AppState>,
    me: Principal,
    Json(body): Json<ApplicationBody>,
) -> Result<Response, ApiError> {
    let input = match body.form.parse(body.submit) {
        Ok(i) => i,
        Err(errors) => return Ok(form_errors(errors)),
    };
    let channel = social::channel_of(&me, body.channel.as_deref())?;
    let household = if is_staff(&me) {
        if !body.consent {
            return Ok(form_errors(vec![(
                "consent",
                "l'accord du foyer pour que l'agent saisisse sa demande doit être recueilli".into(),
            )]));
        }
        social::household_for_agent(&state, &me, body.household.as_deref(), &input.applicant)
            .await?
    } else {
        social::own_household(&state, &me, &input.applicant)
            .await?
            .code
    };
    let application = social_tariff::create_application(
        &state.db,
        &me.actor(),
        me.household_scope(),
        &Filing {
            household: &household,
            channel,
            input: &input,
            submit: body.submit,
            renewal: false,
            consent: body.consent || channel == social_tariff::application::Channel::Online,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(view(application))).into_response())
}

/// Changes a draft; `submit` sends it.
#[utoipa::path(put, path = "/api/v1/social-tariff/applications/{code}", operation_id = "update_application", tag = "social-tariff",
    security(("bearer" = [])), params(("code" = String, Path, example = "DEM-7KQ2MX")), request_body = ApplicationBody,
    responses((status = 200, description = "the application", content_type = "application/json"),
        (status = 422, description = "a field is wrong, or the application is no longer a draft", content_type = "application/json")))]
pub async fn update(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Json(body): Json<ApplicationBody>,
) -> Result<Response, ApiError> {
    let input = match body.form.parse(body.submit) {
        Ok(i) => i,
        Err(errors) => return Ok(form_errors(errors)),
    };
    let code = ApplicationCode::parse(&code).map_err(|_| Error::NotFound(code.clone()))?;
    let a = social_tariff::update_draft(
        &state.db,
        &me.actor(),
        me.household_scope(),
        &code,
        &input,
        body.submit,
    )
    .await?;
    Ok(axum::Json(view(a)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub status: Option<String>,
}

/// Applications the caller may see: its own for a household; every sent
/// one for agents.
#[utoipa::path(get, path = "/api/v1/social-tariff/applications", operation_id = "list_applications", tag = "social-tariff",
    security(("bearer" = [])), params(("status" = Option<String>, Query, description = "draft, submitted, decided, withdrawn")),
    responses((status = 200, description = "the applications", content_type = "application/json")))]
pub async fn list(
    State(state): State<AppState>,
    me: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<ApplicationView>>, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(Status::parse)
        .transpose()
        .map_err(Error::from)?;
    Ok(Json(
        social_tariff::list_applications(&state.db, me.household_scope(), status, None)
            .await?
            .into_iter()
            .map(view)
            .collect(),
    ))
}

/// One application.
#[utoipa::path(get, path = "/api/v1/social-tariff/applications/{code}", operation_id = "show_application", tag = "social-tariff",
    security(("bearer" = [])), params(("code" = String, Path, example = "DEM-7KQ2MX")),
    responses((status = 200, description = "the application", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such application (or not yours)")))]
pub async fn show(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
) -> Result<Json<ApplicationDetail>, ApiError> {
    Ok(Json(detail(&state, &me, &code).await?))
}

/// What an automatic verification found.
#[derive(Debug, Serialize)]
pub struct VerificationReport {
    pub checks: Vec<Verified>,
    pub application: ApplicationView,
}

/// Asks the State's services what the household declared; the identity
/// given for it is erased afterwards.
#[utoipa::path(post, path = "/api/v1/social-tariff/applications/{code}/verify", operation_id = "verify_application", tag = "social-tariff",
    security(("bearer" = [])), params(("code" = String, Path, example = "DEM-7KQ2MX")),
    responses((status = 200, description = "each check and its answer or failure", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "no verification service, or nothing to verify")))]
pub async fn verify(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
) -> Result<Json<VerificationReport>, ApiError> {
    let code = ApplicationCode::parse(&code).map_err(|_| Error::NotFound(code.clone()))?;
    let verifier = state.verifier.clone().ok_or_else(|| {
        Error::Invalid(
            "no verification service is configured ([api_particulier]); record the documents seen"
                .into(),
        )
    })?;
    let (a, checks) =
        social_tariff::service::verify(&state.db, verifier.as_ref(), &me.actor(), &code).await?;
    Ok(Json(VerificationReport {
        checks,
        application: view(a),
    }))
}

/// Records a document an agent saw (its type, date and issuer; not the
/// document).
#[utoipa::path(post, path = "/api/v1/social-tariff/applications/{code}/documents", operation_id = "record_document", tag = "social-tariff",
    security(("bearer" = [])), params(("code" = String, Path, example = "DEM-7KQ2MX")), request_body = DocumentSeen,
    responses((status = 200, description = "the application", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "the record is incomplete or the application is decided")))]
pub async fn document(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Json(seen): Json<DocumentSeen>,
) -> Result<Json<ApplicationView>, ApiError> {
    let code = ApplicationCode::parse(&code).map_err(|_| Error::NotFound(code.clone()))?;
    let a = social_tariff::service::record_document(&state.db, &me.actor(), &code, &seen, today())
        .await?;
    Ok(Json(view(a)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AreaBody {
    /// The dwelling can be connected to the network.
    pub connectable: bool,
}

/// Records whether the dwelling can be connected.
#[utoipa::path(post, path = "/api/v1/social-tariff/applications/{code}/area", operation_id = "record_area", tag = "social-tariff",
    security(("bearer" = [])), params(("code" = String, Path, example = "DEM-7KQ2MX")), request_body = AreaBody,
    responses((status = 200, description = "the application", content_type = "application/json")))]
pub async fn area(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Json(body): Json<AreaBody>,
) -> Result<Json<ApplicationView>, ApiError> {
    let code = ApplicationCode::parse(&code).map_err(|_| Error::NotFound(code.clone()))?;
    let a = social_tariff::service::record_area(&state.db, &me.actor(), &code, body.connectable)
        .await?;
    Ok(Json(view(a)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DecisionBody {
    /// `granted` or `refused`.
    pub outcome: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// An agent validates the engine's proposal (or refuses, with a reason).
#[utoipa::path(post, path = "/api/v1/social-tariff/applications/{code}/decision", operation_id = "decide_application", tag = "social-tariff",
    security(("bearer" = [])), params(("code" = String, Path, example = "DEM-7KQ2MX")), request_body = DecisionBody,
    responses((status = 201, description = "the decision", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "the engine does not support this outcome, or a reason is missing")))]
pub async fn decide(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<(StatusCode, Json<Decision>), ApiError> {
    let code = ApplicationCode::parse(&code).map_err(|_| Error::NotFound(code.clone()))?;
    let ruling = Ruling {
        outcome: Outcome::parse(&body.outcome).map_err(Error::from)?,
        reason: body.reason,
    };
    let d = social_tariff::service::decide(&state.db, &me.actor(), &code, &ruling, today()).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// A decision with its letter, as the household reads it.
#[derive(Debug, Serialize)]
pub struct DecisionView {
    pub decision: Decision,
    pub letter: social_tariff::decision::Letter,
    pub appeals: Vec<Appeal>,
}

/// One decision and its letter.
#[utoipa::path(get, path = "/api/v1/social-tariff/decisions/{number}", operation_id = "show_decision", tag = "social-tariff",
    security(("bearer" = [])), params(("number" = String, Path, example = "DEC-2026-000001")),
    responses((status = 200, description = "the decision", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such decision (or not yours)")))]
pub async fn decision(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
) -> Result<Json<DecisionView>, ApiError> {
    let (decision, letter) = social::letter(&state, me.household_scope(), &number).await?;
    let appeals =
        social_tariff::appeals(&state.db, me.household_scope(), Some(&decision.number)).await?;
    Ok(Json(DecisionView {
        decision,
        letter,
        appeals,
    }))
}

/// The decision letter as PDF.
#[utoipa::path(get, path = "/api/v1/social-tariff/decisions/{number}/letter.pdf", operation_id = "decision_letter", tag = "social-tariff",
    security(("bearer" = [])), params(("number" = String, Path, example = "DEC-2026-000001")),
    responses((status = 200, description = "the letter", content_type = "application/pdf"),
        (status = 404, body = ErrorBody, description = "no such decision (or not yours)")))]
pub async fn letter_pdf(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    Ok(pdf_response(&state, &me, &number).await?)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AppealBody {
    pub grounds: String,
    /// Agents: `counter` (default) or `paper`.
    #[serde(default)]
    pub channel: Option<String>,
}

/// Lodges an appeal against a decision (the household online, or an agent
/// at the counter on its behalf).
#[utoipa::path(post, path = "/api/v1/social-tariff/decisions/{number}/appeals", operation_id = "lodge_appeal", tag = "social-tariff",
    security(("bearer" = [])), params(("number" = String, Path, example = "DEC-2026-000001")), request_body = AppealBody,
    responses((status = 201, description = "the appeal", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "the appeal period is over, or an appeal is already under review")))]
pub async fn appeal(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
    Json(body): Json<AppealBody>,
) -> Result<(StatusCode, Json<Appeal>), ApiError> {
    let number = social_tariff::service::decision_number(&number)?;
    let channel = social::channel_of(&me, body.channel.as_deref())?;
    let a = social_tariff::lodge_appeal(
        &state.db,
        &me.actor(),
        me.household_scope(),
        &number,
        channel,
        &body.grounds,
        today(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// Every appeal, the pending first.
#[utoipa::path(get, path = "/api/v1/social-tariff/appeals", operation_id = "list_appeals", tag = "social-tariff",
    security(("bearer" = [])), responses((status = 200, description = "the appeals", content_type = "application/json")))]
pub async fn appeals(
    State(state): State<AppState>,
    me: Principal,
) -> Result<Json<Vec<Appeal>>, ApiError> {
    Ok(Json(
        social_tariff::appeals(&state.db, me.household_scope(), None).await?,
    ))
}

/// The outcome of a review.
#[derive(Debug, Serialize)]
pub struct ReviewOutcome {
    pub appeal: Appeal,
    pub new_decision: Option<Decision>,
}

/// Reviews an appeal: by another agent than the one who validated the
/// decision.
#[utoipa::path(post, path = "/api/v1/social-tariff/appeals/{id}/review", operation_id = "review_appeal", tag = "social-tariff",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = Review,
    responses((status = 200, description = "the appeal and any new decision", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "the reviewer validated the decision, or the appeal is closed")))]
pub async fn review(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<i64>,
    Json(body): Json<Review>,
) -> Result<Json<ReviewOutcome>, ApiError> {
    let (appeal, new_decision) =
        social_tariff::service::review_appeal(&state.db, &me.actor(), id, &body, today()).await?;
    Ok(Json(ReviewOutcome {
        appeal,
        new_decision,
    }))
}

#[derive(Debug, Deserialize)]
pub struct EntitlementQuery {
    /// The day asked about (`AAAA-MM-JJ`); today by default.
    #[serde(default)]
    pub date: Option<String>,
}

/// A household's entitlement on a day: level, dates and decision, never
/// the criterion that opened it.
#[utoipa::path(get, path = "/api/v1/social-tariff/entitlements/{household}", operation_id = "show_entitlement", tag = "social-tariff",
    security(("bearer" = [])), params(("household" = String, Path, example = "FOY-7KQ2MX"), ("date" = Option<String>, Query)),
    responses((status = 200, body = Option<Entitlement>, description = "the entitlement, or null"),
        (status = 404, body = ErrorBody, description = "no such household")))]
pub async fn entitlement(
    State(state): State<AppState>,
    Path(household): Path<String>,
    Query(q): Query<EntitlementQuery>,
) -> Result<Json<Option<Entitlement>>, ApiError> {
    let day = match q.date.as_deref() {
        None => today(),
        Some(d) => d
            .parse()
            .map_err(|_| Error::Invalid(format!("date {d:?}: expected YYYY-MM-DD")))?,
    };
    let h = social_tariff::get_household(&state.db, Scope::All, &household).await?;
    Ok(Json(
        social_tariff::entitlement(&state.db, &h.code, day).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangingQuery {
    /// First day of the period (`AAAA-MM-JJ`).
    pub from: String,
    /// Last day of the period (`AAAA-MM-JJ`), included.
    pub to: String,
}

/// Entitlements that start, end, enter their grace or are decided within a
/// period: what a billing run must look at. Level and dates only.
#[utoipa::path(get, path = "/api/v1/social-tariff/entitlements", operation_id = "entitlements_changing", tag = "social-tariff",
    security(("bearer" = [])), params(ChangingQuery),
    responses((status = 200, body = Vec<Entitlement>, description = "the entitlements changing in the period"),
        (status = 422, body = ErrorBody, description = "a date is missing or wrong, or the period is reversed or longer than a year")))]
pub async fn entitlements_changing(
    State(state): State<AppState>,
    Query(q): Query<ChangingQuery>,
) -> Result<Json<Vec<Entitlement>>, ApiError> {
    let day = |name: &str, v: &str| {
        v.parse::<chrono::NaiveDate>()
            .map_err(|_| Error::Invalid(format!("{name} {v:?}: expected YYYY-MM-DD")))
    };
    let (from, to) = (day("from", &q.from)?, day("to", &q.to)?);
    if to < from || (to - from).num_days() > 366 {
        return Err(
            Error::Invalid("the period runs from `from` to `to`, a year at most".into()).into(),
        );
    }
    Ok(Json(
        social_tariff::entitlements_changing(&state.db, from, to).await?,
    ))
}
