//! Pages about personal data: scans on the agent's review page (sealed,
//! deleted at the end of the appeal period), the household's "my data"
//! page with its JSON download, the log of what retention deleted, and the
//! public indicators.

use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use social_tariff::application::ApplicationCode;
use social_tariff::privacy::{Scan, ScanUpload, MAX_SCAN_BYTES};
use social_tariff::rules::french_date;

use crate::platform::auth::Principal;
use crate::platform::web::{field_error, has_error, layout, local_time, render, PageError};
use crate::social::today;
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

pub const MY_DATA: &str = "/mon-espace/donnees";
pub const DELETIONS: &str = "/instruction/suppressions";
pub const INDICATORS: &str = "/tarif-social/indicateurs";

/// The scans of an application on the agent's page, and the upload form
/// while the appeal period runs.
pub fn scans_section(
    base: &str,
    csrf: &str,
    scans: &[Scan],
    open: bool,
    errors: &[(&'static str, String)],
) -> Markup {
    let invalid = has_error(errors, "fichier");
    html! {
        @if !scans.is_empty() || open {
            h2 id="copies" { "Copies de justificatifs" }
        }
        @if !scans.is_empty() {
            ul {
                @for s in scans {
                    li {
                        a href={ "/instruction/copies/" (s.id) } { (s.description) } " — " (s.filename) ", "
                        (s.size_bytes / 1024 + 1) " Ko, déposée par " (s.uploaded_by) " le " (local_time(&s.uploaded_at))
                    }
                }
            }
        }
        @if open {
            p class="aide" { "À n'utiliser que si le foyer ne peut pas montrer l'original : notez plutôt le justificatif vu ci-dessus. "
                "Une copie est chiffrée et supprimée automatiquement à la fin du délai de recours." }
            form class="formulaire" method="post" enctype="multipart/form-data"
                action={ (base) "/copies" } aria-labelledby="copies" {
                // First: the server checks it before reading the file.
                input type="hidden" name="csrf_token" value=(csrf);
                div class="champ" {
                    label for="description" { "Ce que montre la copie" }
                    input type="text" id="description" name="description" aria-invalid=(has_error(errors, "description"))
                        aria-describedby=[has_error(errors, "description").then_some("description-erreur")];
                    (field_error(errors, "description"))
                }
                div class="champ" {
                    label for="fichier" { "Fichier (PDF, JPEG ou PNG, " (MAX_SCAN_BYTES / (1024 * 1024)) " Mo au plus)" }
                    input type="file" id="fichier" name="fichier" accept="application/pdf,image/jpeg,image/png"
                        aria-invalid=(invalid) aria-describedby=[invalid.then_some("fichier-erreur")];
                    (field_error(errors, "fichier"))
                }
                button type="submit" class="secondaire" { "Déposer la copie" }
            }
        }
    }
}

/// `POST /instruction/demandes/{code}/copies` (multipart: `description`,
/// `fichier`).
pub async fn upload(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    multipart: Multipart,
) -> PageResult {
    let c = ApplicationCode::parse(&code).map_err(|_| Error::NotFound(code.clone()))?;
    // Which field an error is shown beside: the description when it is
    // the one at fault, otherwise the file.
    let mut field = "fichier";
    let stored = match crate::social::documents::scan_parts(multipart).await {
        Ok(p) => {
            if ScanUpload::description(&p.description).is_err() {
                field = "description";
            }
            crate::social::store_scan(&state, &me, &c, &p.description, &p.filename, &p.content)
                .await
        }
        Err(e) => Err(e),
    };
    match stored {
        Ok(s) => {
            let msg = format!("Copie « {} » déposée et chiffrée.", s.description);
            crate::social::pages::agent_page(
                &state,
                &me,
                &code,
                StatusCode::OK,
                Some(html! { p class="succes" role="status" { (msg) } }),
                &[],
            )
            .await
        }
        Err(Error::Invalid(m)) => {
            crate::social::pages::agent_page(
                &state,
                &me,
                &code,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &[(field, m)],
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /instruction/copies/{id}`.
pub async fn download(State(state): State<AppState>, Path(id): Path<i64>) -> PageResult {
    Ok(crate::social::documents::scan_response(&state, id).await?)
}

/// `GET /mon-espace/donnees`: everything held about the household, in
/// words, with the JSON to take away.
pub async fn my_data(State(state): State<AppState>, me: Principal) -> PageResult {
    let data = crate::social::documents::export(&state, &me, None).await?;
    let body = html! {
        h1 { "Mes données" }
        p { "Voici toutes les informations que la régie conserve sur votre foyer au titre du tarif social et de l'aide à l'équipement. "
            "Vous pouvez aussi les " a href={ (MY_DATA) ".json" } download="mes-donnees.json" { "télécharger (fichier JSON)" } "." }
        p { "Elles sont conservées " (state.config.retention.application_years) " ans après la fin de votre droit, puis supprimées automatiquement ; "
            "les copies de justificatifs le sont à la fin du délai de recours. Pour faire corriger une information, adressez-vous au service social de la mairie." }
        h2 { "Dossier" }
        @for h in &data.households {
            p { (h.display_name) " — dossier " strong { (h.code) } ", ouvert le " (local_time(&h.created_at)) "." }
        }
        h2 { "Demandes" }
        @if data.applications.is_empty() { p { "Aucune demande." } }
        @for a in &data.applications {
            h3 { "Demande " (a.code) " (" (a.status.label()) ")" }
            dl class="fiche" {
                div { dt { "Demandeur" } dd { (a.input.applicant) } }
                div { dt { "Logement" } dd { (a.input.address) ", " (a.input.postcode) " " (a.input.town) } }
                div { dt { "Personnes au foyer" } dd { (a.input.household_size.map(|n| n.to_string()).unwrap_or_default()) } }
                div { dt { "Déposée" } dd { (local_time(&a.created_at)) } }
                @if let Some(by) = &a.entered_by { div { dt { "Saisie par" } dd { (by) } } }
            }
        }
        h2 { "Décisions" }
        @if data.decisions.is_empty() { p { "Aucune décision." } }
        @for d in &data.decisions {
            p { "Décision " (d.number) " du " (french_date(d.decided_on)) " : "
                @if d.outcome == social_tariff::decision::Outcome::Granted { "tarif social accordé" } @else { "refus" }
                @if let (Some(from), Some(to)) = (d.valid_from, d.valid_to) { ", du " (french_date(from)) " au " (french_date(to)) }
                ". " a href={ "/decisions/" (d.number) "/lettre.pdf" } { "Lettre (PDF)" } }
        }
        @if !data.appeals.is_empty() {
            h2 { "Recours" }
            @for p in &data.appeals { p { "Recours n° " (p.id) " contre la décision " (p.decision) " : " (p.status.label()) "." } }
        }
        @if !data.reminders.is_empty() {
            h2 { "Rappels de renouvellement" }
            @for r in &data.reminders { p { (r.kind.days()) " jours avant le " (french_date(r.valid_to)) " : " (r.status.label()) "." } }
        }
        @if !data.grants.is_empty() {
            h2 { "Aide à l'équipement" }
            @for g in &data.grants { p { "Demande n° " (g.id) " (" (g.kind.label()) ") : " (g.status.label()) "." } }
        }
        @if !data.scans.is_empty() {
            h2 { "Copies de justificatifs" }
            @for s in &data.scans { p { (s.description) " (" (s.filename) "), déposée le " (local_time(&s.uploaded_at)) "." } }
        }
    };
    Ok(render(
        StatusCode::OK,
        layout("Mes données", Some(&me), "/mon-espace", body),
    ))
}

/// `GET /mon-espace/donnees.json`.
pub async fn my_data_json(State(state): State<AppState>, me: Principal) -> PageResult {
    let data = crate::social::documents::export(&state, &me, None).await?;
    let json =
        serde_json::to_vec_pretty(&data).map_err(|e| Error::Internal(format!("export: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"mes-donnees.json\"".to_owned(),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        json,
    )
        .into_response())
}

/// `GET /instruction/suppressions`: the deletion log.
pub async fn deletions(State(state): State<AppState>, me: Principal) -> PageResult {
    let log = social_tariff::deletions(&state.db, 500).await?;
    let p = state.config.retention;
    let body = html! {
        h1 { "Suppressions" }
        p { "Les copies de justificatifs sont supprimées à la fin du délai de recours ; les demandes " (p.application_years)
            " ans après la fin du droit (ou du délai de recours d'un refus) ; les brouillons laissés " (p.draft_days) " jours. "
            "Ce journal ne nomme personne : seulement le numéro de la demande." }
        @if log.is_empty() { p class="info" { "Rien n'a encore été supprimé." } } @else {
            table tabindex="0" {
                caption { "Journal des suppressions (les plus récentes d'abord)" }
                thead { tr { th scope="col" { "Le" } th scope="col" { "Quoi" } th scope="col" { "Référence" } th scope="col" { "Règle" } } }
                tbody { @for d in &log { tr { td { (local_time(&d.deleted_at)) } td { (d.kind) } td { (d.reference) } td { (d.rule) } } } }
            }
        }
    };
    Ok(render(
        StatusCode::OK,
        layout("Suppressions", Some(&me), "/instruction", body),
    ))
}

/// `GET /tarif-social/indicateurs`: public monthly figures.
pub async fn indicators(State(state): State<AppState>, me: Option<Principal>) -> PageResult {
    let months = crate::social::indicators(&state, today()).await?;
    let body = html! {
        h1 { "Tarif social : les chiffres" }
        p { "Chaque mois : les demandes déposées, les décisions d'accord et de refus, les appareils reconditionnés remis. "
            "Pour que personne ne puisse être reconnu, un nombre inférieur à 10 est affiché « moins de 10 »." }
        table tabindex="0" {
            caption { "Les douze derniers mois" }
            thead { tr { th scope="col" { "Mois" } th scope="col" { "Demandes" } th scope="col" { "Accords" } th scope="col" { "Refus" } th scope="col" { "Appareils remis" } } }
            tbody {
                @for m in &months {
                    tr {
                        th scope="row" { (month_name(&m.month)) }
                        td { (m.applications.text()) }
                        td { (m.granted.text()) }
                        td { (m.refused.text()) }
                        td { (m.grants.text()) }
                    }
                }
            }
        }
        p { "Les mêmes chiffres au format JSON : " a href="/api/v1/social-tariff/indicators" { "/api/v1/social-tariff/indicators" } "." }
    };
    Ok(render(
        StatusCode::OK,
        layout("Tarif social : les chiffres", me.as_ref(), INDICATORS, body),
    ))
}

/// `2026-03` → `mars 2026`; anything else is shown as it is.
fn month_name(month: &str) -> String {
    let parsed = month
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<u32>().ok()?)));
    match parsed {
        Some((y, m)) if (1..=12).contains(&m) => regie_core::fr::month_year(y, m),
        _ => month.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn months_are_named_in_french() {
        assert_eq!(super::month_name("2026-03"), "mars 2026");
        assert_eq!(super::month_name("2026-12"), "décembre 2026");
        assert_eq!(super::month_name("2026-13"), "2026-13");
    }
}
