//! What the social tariff's pages and API both answer: an application with
//! what the rules make of it, a decision's letter as PDF, a scan uploaded
//! and opened again, and a household's data to take away. Each handler
//! calls these; neither calls the other's module.

use axum::body::Body;
use axum::extract::Multipart;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use social_tariff::application::{Application, Status};
use social_tariff::decision::Decision;
use social_tariff::engine::Evaluation;
use social_tariff::{Duplicate, HouseholdExport, Scope};

use crate::platform::auth::Principal;
use crate::social::{self, is_staff, today};
use crate::{AppState, Error};

/// The parts of a scan upload.
pub struct ScanParts {
    pub description: String,
    pub filename: String,
    pub content: Vec<u8>,
}

/// Reads `description` and `fichier` from a multipart body.
pub async fn scan_parts(mut multipart: Multipart) -> Result<ScanParts, Error> {
    let mut parts = ScanParts {
        description: String::new(),
        filename: String::new(),
        content: Vec::new(),
    };
    while let Some(field) = multipart.next_field().await.map_err(|e| {
        Error::Invalid(format!(
            "envoi interrompu : {}",
            crate::platform::upload::multipart_reason(&e)
        ))
    })? {
        match field.name() {
            Some("description") => {
                parts.description = field.text().await.map_err(|e| {
                    Error::Invalid(format!(
                        "envoi interrompu : {}",
                        crate::platform::upload::multipart_reason(&e)
                    ))
                })?;
            }
            Some("fichier") => {
                parts.filename = field.file_name().unwrap_or_default().to_owned();
                parts.content = field
                    .bytes()
                    .await
                    .map_err(|e| {
                        Error::Invalid(format!(
                            "envoi interrompu : {}",
                            crate::platform::upload::multipart_reason(&e)
                        ))
                    })?
                    .to_vec();
            }
            _ => {}
        }
    }
    Ok(parts)
}

/// A scan answered as a download.
pub async fn scan_response(state: &AppState, id: i64) -> Result<Response, Error> {
    let (scan, content) = social::open_scan(state, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, scan.content_type.clone()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", scan.filename),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        content,
    )
        .into_response())
}

/// The export for a household itself, or for an agent the household named.
pub async fn export(
    state: &AppState,
    me: &Principal,
    household: Option<&str>,
) -> Result<HouseholdExport, Error> {
    if is_staff(me) {
        let code = household
            .ok_or_else(|| Error::Invalid("household: the household's code is required".into()))?;
        let h = social_tariff::get_household(&state.db, Scope::All, code).await?;
        Ok(social_tariff::household_export(&state.db, Scope::All, Some(&h.code)).await?)
    } else {
        Ok(social_tariff::household_export(&state.db, me.household_scope(), None).await?)
    }
}

/// An application with what an agent needs to decide: the engine's
/// evaluation, look-alike records, the decisions taken.
#[derive(Debug, Serialize)]
pub struct ApplicationDetail {
    pub application: ApplicationView,
    /// The engine's evaluation, once sent and while rules are in force.
    pub evaluation: Option<Evaluation>,
    /// Why there is no evaluation.
    pub evaluation_error: Option<String>,
    pub rule_version: Option<i64>,
    /// Agents only.
    pub duplicates: Vec<Duplicate>,
    pub decisions: Vec<Decision>,
    /// Whether an automatic verification can still run.
    pub verification_possible: bool,
}

pub async fn detail(
    state: &AppState,
    me: &Principal,
    code: &str,
) -> Result<ApplicationDetail, Error> {
    let a = social_tariff::get_application(&state.db, me.household_scope(), code).await?;
    let (evaluation, evaluation_error, rule_version) = if a.status == Status::Draft {
        (None, None, None)
    } else {
        match social_tariff::service::evaluate(&state.db, &a, today()).await {
            Ok((rules, e)) => (Some(e), None, Some(rules.version)),
            Err(social_tariff::Error::Invalid(m)) => (None, Some(m), None),
            Err(e) => return Err(e.into()),
        }
    };
    let duplicates = if is_staff(me) && a.status != Status::Draft {
        social_tariff::duplicates(&state.db, &a, today()).await?
    } else {
        Vec::new()
    };
    let decisions = social_tariff::decisions_of(&state.db, me.household_scope(), &a.code).await?;
    let verification_possible = state.verifier.is_some()
        && a.status == Status::Submitted
        && social_tariff::application_identity(&state.db, &a.code)
            .await?
            .is_some();
    Ok(ApplicationDetail {
        application: view(a),
        evaluation,
        evaluation_error,
        rule_version,
        duplicates,
        decisions,
        verification_possible,
    })
}

/// The PDF of a decision letter, for the API and the pages.
pub async fn pdf_response(
    state: &AppState,
    me: &Principal,
    number: &str,
) -> Result<Response, Error> {
    let (decision, letter) = social::letter(state, me.household_scope(), number).await?;
    let bytes = letter.to_pdf(&state.config.regie_name)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"decision-{}.pdf\"", decision.number),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// An application as the API shows it. The identity given for an automatic
/// verification is never shown back.
#[derive(Debug, Serialize)]
pub struct ApplicationView {
    #[serde(flatten)]
    pub application: Application,
    pub status_label: &'static str,
}

pub(crate) fn view(application: Application) -> ApplicationView {
    ApplicationView {
        status_label: application.status.label(),
        application,
    }
}
