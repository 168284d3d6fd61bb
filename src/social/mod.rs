//! The social tariff and the equipment grants, as the binary serves them:
//! the agent's and the household's pages, the API, the renewal reminders.
//! This module holds what they share: the caller's household, the day in
//! Europe/Paris, the régie as the signer of letters, a decision's letter.
//! The rules (criteria, decisions, appeals, grants) live in the
//! `social-tariff` crate.

pub mod applications_api;
pub mod grants;
pub mod grants_api;
pub mod household_file;
pub mod households_api;
pub mod pages;
pub mod privacy;
pub mod privacy_api;
pub mod rules;
pub mod rules_api;

use social_tariff::application::Channel;
use social_tariff::decision::{Decision, Issuer, Letter};
use social_tariff::{Household, HouseholdCode, Scope};

use crate::auth::{Principal, Role};
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
/// the server runs (on one instance, see [`crate::schedule`]).
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
