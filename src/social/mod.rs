//! The social tariff and the equipment grants, as the binary serves them:
//! the agent's and the household's pages, the API, the renewal reminders.
//! This module holds what they share: the caller's household, the day in
//! Europe/Paris, the régie as the signer of letters, a decision's letter.
//! The rules (criteria, decisions, appeals, grants) live in the
//! `social-tariff` crate.

pub mod applications_api;
pub mod documents;
pub mod grants;
pub mod grants_api;
pub mod household_file;
pub mod households;
pub mod households_api;
pub mod pages;
pub mod privacy;
pub mod privacy_api;
pub mod rules;
pub mod rules_api;

use axum::extract::DefaultBodyLimit;

use crate::platform::routes::{
    get, post, put,
    Access::{Public, Roles},
    Route,
    Surface::{Api, Page},
    ADMIN, ENTITLEMENT_READERS, HOUSEHOLD, HOUSEHOLD_RECORD, SOCIAL_AGENT, SOCIAL_STAFF,
};

/// The routes of the social tariff and the equipment grants, each with who may call it: one line each
/// (method, path, access, surface, handler).
#[rustfmt::skip]
pub fn routes() -> Vec<Route> {
    vec![
        // API.
        get("/api/v1/social-tariff/rules", Public, Api, rules_api::list),
        post("/api/v1/social-tariff/rules", Roles(ADMIN), Api, rules_api::publish),
        post("/api/v1/social-tariff/rules/preview", Roles(ADMIN), Api, rules_api::preview),
        get("/api/v1/social-tariff/rules/{version}", Public, Api, rules_api::show),
        post("/api/v1/social-tariff/applications", Roles(HOUSEHOLD_RECORD), Api, applications_api::file),
        get("/api/v1/social-tariff/applications", Roles(HOUSEHOLD_RECORD), Api, applications_api::list),
        get("/api/v1/social-tariff/applications/{code}", Roles(HOUSEHOLD_RECORD), Api, applications_api::show),
        put("/api/v1/social-tariff/applications/{code}", Roles(HOUSEHOLD_RECORD), Api, applications_api::update),
        post("/api/v1/social-tariff/applications/{code}/verify", Roles(SOCIAL_STAFF), Api, applications_api::verify),
        post("/api/v1/social-tariff/applications/{code}/documents", Roles(SOCIAL_STAFF), Api, applications_api::document),
        post("/api/v1/social-tariff/applications/{code}/area", Roles(SOCIAL_STAFF), Api, applications_api::area),
        post("/api/v1/social-tariff/applications/{code}/decision", Roles(SOCIAL_STAFF), Api, applications_api::decide),
        get("/api/v1/social-tariff/decisions/{number}", Roles(HOUSEHOLD_RECORD), Api, applications_api::decision),
        get("/api/v1/social-tariff/decisions/{number}/letter.pdf", Roles(HOUSEHOLD_RECORD), Api, applications_api::letter_pdf),
        post("/api/v1/social-tariff/decisions/{number}/appeals", Roles(HOUSEHOLD_RECORD), Api, applications_api::appeal),
        get("/api/v1/social-tariff/appeals", Roles(SOCIAL_STAFF), Api, applications_api::appeals),
        post("/api/v1/social-tariff/appeals/{id}/review", Roles(SOCIAL_STAFF), Api, applications_api::review),
        get("/api/v1/social-tariff/entitlements", Roles(ENTITLEMENT_READERS), Api, applications_api::entitlements_changing),
        get("/api/v1/social-tariff/entitlements/{household}", Roles(ENTITLEMENT_READERS), Api, applications_api::entitlement),
        post("/api/v1/social-tariff/applications/{code}/scans", Roles(SOCIAL_STAFF), Api, privacy_api::upload_scan).body_limit(DefaultBodyLimit::max(crate::app::SCAN_BODY_LIMIT_BYTES)),
        get("/api/v1/social-tariff/scans/{id}", Roles(SOCIAL_STAFF), Api, privacy_api::download_scan),
        get("/api/v1/social-tariff/my-data", Roles(HOUSEHOLD_RECORD), Api, privacy_api::my_data),
        get("/api/v1/social-tariff/deletions", Roles(SOCIAL_STAFF), Api, privacy_api::deletions),
        get("/api/v1/social-tariff/indicators", Public, Api, privacy_api::indicators),
        post("/api/v1/social-tariff/devices", Roles(SOCIAL_STAFF), Api, grants_api::add_device),
        get("/api/v1/social-tariff/devices", Roles(SOCIAL_STAFF), Api, grants_api::devices),
        put("/api/v1/social-tariff/budgets/{year}", Roles(SOCIAL_STAFF), Api, grants_api::set_budget),
        get("/api/v1/social-tariff/budgets/{year}", Roles(SOCIAL_STAFF), Api, grants_api::budget),
        post("/api/v1/social-tariff/grants", Roles(HOUSEHOLD_RECORD), Api, grants_api::request),
        get("/api/v1/social-tariff/grants", Roles(HOUSEHOLD_RECORD), Api, grants_api::grants),
        post("/api/v1/social-tariff/grants/{id}/handover", Roles(SOCIAL_STAFF), Api, grants_api::hand_over),
        post("/api/v1/social-tariff/grants/{id}/cancel", Roles(HOUSEHOLD_RECORD), Api, grants_api::cancel),
        get("/api/v1/households", Roles(HOUSEHOLD_RECORD), Api, households_api::list),
        post("/api/v1/households", Roles(SOCIAL_STAFF), Api, households_api::create),
        get("/api/v1/households/{code}", Roles(HOUSEHOLD_RECORD), Api, households_api::show),
        // Pages.
        get("/mon-espace/demande", Roles(HOUSEHOLD), Page, pages::household_form),
        post("/mon-espace/demande", Roles(HOUSEHOLD), Page, pages::household_submit),
        get("/mon-espace/demandes/{code}", Roles(HOUSEHOLD), Page, pages::household_application),
        post("/mon-espace/decisions/{number}/recours", Roles(HOUSEHOLD), Page, pages::household_appeal),
        get("/decisions/{number}/lettre.pdf", Roles(HOUSEHOLD_RECORD), Page, pages::letter_pdf),
        get("/instruction/demandes", Roles(SOCIAL_STAFF), Page, pages::agent_list),
        get("/instruction/demandes/nouvelle", Roles(SOCIAL_STAFF), Page, pages::agent_new),
        post("/instruction/demandes/nouvelle", Roles(SOCIAL_STAFF), Page, pages::agent_create),
        get("/instruction/demandes/{code}", Roles(SOCIAL_STAFF), Page, pages::agent_show),
        post("/instruction/demandes/{code}/verification", Roles(SOCIAL_STAFF), Page, pages::agent_verify),
        post("/instruction/demandes/{code}/justificatif", Roles(SOCIAL_STAFF), Page, pages::agent_document),
        post("/instruction/demandes/{code}/raccordable", Roles(SOCIAL_STAFF), Page, pages::agent_area),
        post("/instruction/demandes/{code}/decision", Roles(SOCIAL_STAFF), Page, pages::agent_decide),
        post("/instruction/decisions/{number}/recours", Roles(SOCIAL_STAFF), Page, pages::agent_appeal),
        get("/instruction/recours", Roles(SOCIAL_STAFF), Page, pages::appeals_page),
        post("/instruction/recours/{id}", Roles(SOCIAL_STAFF), Page, pages::review),
        get("/tarif-social/formulaire", Public, Page, pages::paper_form),
        post("/instruction/demandes/{code}/copies", Roles(SOCIAL_STAFF), Page, privacy::upload).body_limit(DefaultBodyLimit::max(crate::app::SCAN_BODY_LIMIT_BYTES)),
        get("/instruction/copies/{id}", Roles(SOCIAL_STAFF), Page, privacy::download),
        get("/instruction/suppressions", Roles(SOCIAL_STAFF), Page, privacy::deletions),
        get("/mon-espace/donnees", Roles(HOUSEHOLD), Page, privacy::my_data),
        get("/mon-espace/donnees.json", Roles(HOUSEHOLD), Page, privacy::my_data_json),
        get("/tarif-social/indicateurs", Public, Page, privacy::indicators),
        get("/instruction/equipements", Roles(SOCIAL_STAFF), Page, grants::agent_page),
        post("/instruction/equipements/appareils", Roles(SOCIAL_STAFF), Page, grants::add_device),
        post("/instruction/equipements/enveloppe", Roles(SOCIAL_STAFF), Page, grants::set_budget),
        post("/instruction/equipements/demandes", Roles(SOCIAL_STAFF), Page, grants::agent_request),
        get("/instruction/equipements/demandes/{id}/recu.pdf", Roles(SOCIAL_STAFF), Page, grants::receipt_pdf),
        post("/instruction/equipements/demandes/{id}/remise", Roles(SOCIAL_STAFF), Page, grants::hand_over),
        post("/instruction/equipements/demandes/{id}/annulation", Roles(SOCIAL_STAFF), Page, grants::cancel),
        post("/mon-espace/equipement", Roles(HOUSEHOLD), Page, grants::household_request),
        get("/instruction/courrier", Roles(SOCIAL_STAFF), Page, pages::outbox),
        post("/instruction/courrier", Roles(SOCIAL_STAFF), Page, pages::outbox_run),
        get("/instruction/courrier/{id}/lettre.pdf", Roles(SOCIAL_STAFF), Page, pages::reminder_pdf),
        post("/instruction/courrier/{id}/imprime", Roles(SOCIAL_STAFF), Page, pages::reminder_printed),
        get("/comptabilite/tarif-social", Roles(ENTITLEMENT_READERS), Page, pages::accountant_list),
        get("/tarif-social/regles", Public, Page, rules::public),
        get("/tarif-social/regles/{version}", Public, Page, rules::public_version),
        get("/admin/tarif-social", Roles(ADMIN), Page, rules::admin),
        post("/admin/tarif-social", Roles(ADMIN), Page, rules::admin_publish),
        post("/admin/tarif-social/apercu", Roles(ADMIN), Page, rules::admin_preview),
        get("/instruction", Roles(SOCIAL_AGENT), Page, households::social_home),
        get("/instruction/foyers", Roles(SOCIAL_STAFF), Page, households::households),
        post("/instruction/foyers", Roles(SOCIAL_STAFF), Page, households::households_create),
        get("/mon-espace", Roles(HOUSEHOLD), Page, households::household_home),
        get("/foyers/{code}", Roles(HOUSEHOLD_RECORD), Page, households::household_show),
    ]
}

use social_tariff::application::Channel;
use social_tariff::decision::{Decision, Issuer, Letter};
use social_tariff::{Household, HouseholdCode, Scope};

use crate::platform::auth::{Principal, Role};
use crate::{AppState, Error};

/// Today in Europe/Paris: the day people and delays count in.
pub fn today() -> chrono::NaiveDate {
    regie_core::time::today()
}

/// Whether the caller acts for the régie (an agent or an admin) rather
/// than as a household.
pub fn is_staff(me: &Principal) -> bool {
    me.has_any(&[Role::Admin, Role::SocialAgent])
}

/// The channel of what the caller files: a household files online; an
/// agent files at the counter unless told it comes from a paper form.
pub fn channel_of(me: &Principal, requested: Option<&str>) -> Result<Channel, Error> {
    if !is_staff(me) {
        return Ok(Channel::Online);
    }
    match requested.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Channel::Counter),
        Some(s) => match Channel::parse(s)? {
            Channel::Online => Err(Error::Invalid(
                "an agent files an application at the counter or from a paper form, not online"
                    .into(),
            )),
            c => Ok(c),
        },
    }
}

/// The household a household user applies for: its own, created on its
/// first application with the applicant's name.
pub async fn own_household(
    state: &AppState,
    me: &Principal,
    name: &str,
) -> Result<Household, Error> {
    let mine = social_tariff::list_households(&state.db, me.household_scope()).await?;
    if let Some(h) = mine.into_iter().next() {
        return Ok(h);
    }
    let display_name = if name.trim().is_empty() {
        me.display_name.clone()
    } else {
        name.trim().to_owned()
    };
    Ok(social_tariff::create_household(
        &state.db,
        &me.actor(),
        &social_tariff::NewHousehold {
            display_name,
            user_id: Some(me.user_id),
        },
    )
    .await?)
}

/// The household an agent files for: the one named, or a new one with
/// the applicant's name (a household met at the counter may have none).
pub async fn household_for_agent(
    state: &AppState,
    me: &Principal,
    code: Option<&str>,
    name: &str,
) -> Result<HouseholdCode, Error> {
    match code.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => Ok(social_tariff::get_household(&state.db, Scope::All, c)
            .await?
            .code),
        None => {
            let display_name = if name.trim().is_empty() {
                "Foyer reçu au guichet".to_owned()
            } else {
                name.trim().to_owned()
            };
            Ok(social_tariff::create_household(
                &state.db,
                &me.actor(),
                &social_tariff::NewHousehold {
                    display_name,
                    user_id: None,
                },
            )
            .await?
            .code)
        }
    }
}

pub fn issuer(state: &AppState) -> Issuer {
    Issuer {
        name: state.config.regie_name.clone(),
        address: state.config.regie_address.clone(),
    }
}

/// Where the rules are published, for the letters.
pub fn rules_url(state: &AppState) -> String {
    let base = state
        .config
        .public_url
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/');
    format!("{base}{}", crate::social::rules::PUBLIC_PATH)
}

/// A decision and its letter, within the caller's scope.
pub async fn letter(
    state: &AppState,
    scope: Scope,
    number: &str,
) -> Result<(Decision, Letter), Error> {
    let number = social_tariff::service::decision_number(number)?;
    let decision = social_tariff::decision(&state.db, scope, &number).await?;
    let code = social_tariff::application::ApplicationCode::parse(&decision.application)?;
    let application = social_tariff::get_application(&state.db, Scope::All, code.as_str()).await?;
    let i = &application.input;
    let address = vec![
        i.address.clone(),
        format!("{} {}", i.postcode, i.town).trim().to_owned(),
    ];
    let letter = social_tariff::decision::letter(
        &issuer(state),
        &decision,
        &i.applicant,
        &address,
        &rules_url(state),
    );
    Ok((decision, letter))
}

/// What one run of the renewal job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReminderRun {
    pub planned: usize,
    pub sent: usize,
    pub failed: usize,
}

/// Where a household renews, for the reminders.
pub fn renew_url(state: &AppState) -> String {
    let base = state
        .config
        .public_url
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/');
    format!("{base}{}", crate::social::pages::HOUSEHOLD_FORM)
}

/// Plans the reminders due on `today` and sends the e-mails among them.
/// Planning is idempotent and each e-mail is claimed before it is sent, so
/// several instances may run it. A failed e-mail becomes a letter to print.
#[tracing::instrument(skip_all, fields(today = %today))]
pub async fn renewal_job(state: &AppState, today: chrono::NaiveDate) -> Result<ReminderRun, Error> {
    let mut run = ReminderRun {
        planned: social_tariff::plan_reminders(&state.db, today, state.mailer.is_some())
            .await?
            .len(),
        ..ReminderRun::default()
    };
    let Some(mailer) = &state.mailer else {
        return Ok(run);
    };
    let actor = regie_core::audit::Actor::system("renewal-reminders");
    for r in social_tariff::outbox(&state.db).await? {
        if r.status != social_tariff::renewal::Status::ToSend
            || !social_tariff::claim_reminder(&state.db, r.id).await?
        {
            continue;
        }
        let Some(to) = r.email.as_deref() else {
            continue;
        };
        let (subject, body) = r.text(&issuer(state), &renew_url(state));
        match mailer.send(to, &subject, &body.join("\n\n")).await {
            Ok(()) => {
                social_tariff::set_reminder_status(
                    &state.db,
                    &actor,
                    r.id,
                    social_tariff::renewal::Status::Sent,
                    None,
                )
                .await?;
                run.sent += 1;
            }
            Err(e) => {
                tracing::warn!(reminder = r.id, error = %e, "reminder e-mail failed; left to print");
                social_tariff::set_reminder_status(
                    &state.db,
                    &actor,
                    r.id,
                    social_tariff::renewal::Status::Failed,
                    Some(&e),
                )
                .await?;
                run.failed += 1;
            }
        }
    }
    Ok(run)
}

/// Runs the renewal reminders and the retention job every six hours while
/// the server runs (on one instance, see [`crate::platform::schedule`]).
pub fn spawn_renewal_job(state: &AppState) {
    let every = std::time::Duration::from_secs(6 * 3600);
    let st = state.clone();
    state
        .scheduler
        .every(&state.db, "renewal_reminders", every, move || {
            let st = st.clone();
            async move {
                renewal_job(&st, today())
                    .await
                    .map(|run| {
                        format!(
                            "{} planned, {} sent, {} failed",
                            run.planned, run.sent, run.failed
                        )
                    })
                    .map_err(|e| e.to_string())
            }
        });
    let st = state.clone();
    state
        .scheduler
        .every(&state.db, "retention", every, move || {
            let st = st.clone();
            async move {
                retention_job(&st, today())
                    .await
                    .map(|run| {
                        format!(
                            "{} scans, {} applications, {} drafts deleted",
                            run.scans, run.applications, run.drafts
                        )
                    })
                    .map_err(|e| e.to_string())
            }
        });
}

/// Seals and stores a scan an agent could not do without (see
/// [`social_tariff::privacy`]): the content is encrypted with the régie's
/// key under a random name, and deleted at the end of the appeal period.
#[tracing::instrument(skip_all, fields(application = %application, size_bytes = content.len()))]
pub async fn store_scan(
    state: &AppState,
    me: &Principal,
    application: &social_tariff::application::ApplicationCode,
    description: &str,
    filename: &str,
    content: &[u8],
) -> Result<social_tariff::privacy::Scan, Error> {
    use base64::Engine;
    let upload = social_tariff::privacy::ScanUpload::parse(description, filename, content)?;
    let key = state.secret_key()?;
    let seal_id = uuid::Uuid::new_v4().to_string();
    let sealed = key.seal(
        content,
        &social_tariff::privacy::scan_context(application.as_str(), &seal_id),
    );
    let text = base64::engine::general_purpose::STANDARD.encode(sealed);
    Ok(social_tariff::add_scan(
        &state.db,
        &me.actor(),
        application,
        &upload,
        &seal_id,
        &text,
    )
    .await?)
}

/// A scan and its content, opened with the régie's key.
pub async fn open_scan(
    state: &AppState,
    id: i64,
) -> Result<(social_tariff::privacy::Scan, Vec<u8>), Error> {
    use base64::Engine;
    let (scan, text) = social_tariff::scan_sealed(&state.db, social_tariff::Scope::All, id).await?;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| Error::Internal(format!("scan {id} is not base64: {e}")))?;
    let key = state.secret_key()?;
    let content = key.open(
        &sealed,
        &social_tariff::privacy::scan_context(&scan.application, &scan.seal_id),
    )?;
    Ok((scan, content))
}

/// The public indicators of the last twelve months, small counts
/// suppressed.
pub async fn indicators(
    state: &AppState,
    today: chrono::NaiveDate,
) -> Result<Vec<social_tariff::privacy::MonthIndicators>, Error> {
    let months = social_tariff::privacy::last_twelve_months(today);
    Ok(social_tariff::indicators(&state.db, &months)
        .await?
        .into_iter()
        .map(|(m, c)| social_tariff::privacy::MonthIndicators::publish(m, c))
        .collect())
}

/// Applies the retention rules of the configuration on `today`.
pub async fn retention_job(
    state: &AppState,
    today: chrono::NaiveDate,
) -> Result<social_tariff::privacy::RetentionRun, Error> {
    Ok(social_tariff::retention(&state.db, today, state.config.retention).await?)
}
