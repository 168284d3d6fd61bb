//! The whole social-tariff file of a household, as « Voir mon dossier »
//! shows it to the household and to the agents: each application (what
//! was declared, how it was received), each decision with its criteria in
//! words, its reason and its letter, each appeal and its answer.

use maud::{html, Markup};
use social_tariff::application::Status;
use social_tariff::decision::Outcome;
use social_tariff::rules::french_date;
use social_tariff::{HouseholdCode, Scope};

use crate::platform::web::local_time;
use crate::{AppState, Error};

/// The file's applications, decisions and appeals, for `scope` (a
/// household sees its own only); `agent` links to the agents' pages.
pub async fn record(
    state: &AppState,
    scope: Scope,
    code: &HouseholdCode,
    agent: bool,
) -> Result<Markup, Error> {
    let applications = social_tariff::list_applications(&state.db, scope, None, Some(code)).await?;
    let mut parts = Vec::new();
    for a in &applications {
        let decisions = social_tariff::decisions_of(&state.db, scope, &a.code).await?;
        let mut appeals = Vec::new();
        for d in &decisions {
            appeals.extend(social_tariff::appeals(&state.db, scope, Some(&d.number)).await?);
        }
        parts.push((a, decisions, appeals));
    }
    let page_of = |code: &str| {
        if agent {
            format!("/instruction/demandes/{code}")
        } else {
            format!("/mon-espace/demandes/{code}")
        }
    };
    Ok(html! {
        h2 { "Tarif social" }
        @if applications.is_empty() {
            p { "Aucune demande de tarif social." }
        }
        @for (a, decisions, appeals) in &parts {
            section class="carte" aria-labelledby={ "dossier-" (a.code) } {
                h3 id={ "dossier-" (a.code) } { "Demande " a href=(page_of(&a.code.to_string())) { (a.code) } }
                p {
                    @match a.submitted_at.as_deref() {
                        Some(at) => { "Envoyée le " (local_time(at)) " (" (a.channel.label()) ")" },
                        None => { "Brouillon commencé le " (local_time(&a.created_at)) },
                    }
                    @if a.renewal { ", pour un renouvellement" }
                    "."
                }
                h4 { "Ce qui a été déclaré" }
                ul {
                    li { "Demandeur : " (a.input.applicant) }
                    li { "Logement : " (a.input.address) ", " (a.input.postcode) " " (a.input.town) }
                    @if let Some(n) = a.input.household_size { li { "Personnes au foyer : " (n) } }
                }
                @if decisions.is_empty() && a.status == Status::Submitted {
                    p { "Pas encore de décision : un agent examine la demande." }
                }
                @for d in decisions {
                    h4 { "Décision " (d.number) " du " (french_date(d.decided_on)) " : " (d.outcome.label()) }
                    @if d.outcome == Outcome::Granted {
                        p {
                            @if let Some(l) = &d.level_label { "Niveau « " (l) " »" }
                            @if let (Some(from), Some(to)) = (d.valid_from, d.valid_to) {
                                ", du " (french_date(from)) " au " (french_date(to)) " inclus"
                            }
                            "."
                        }
                    }
                    @if let Some(r) = d.reason.as_deref().filter(|r| !r.trim().is_empty()) {
                        p { "Motif : " (r) }
                    }
                    ul {
                        @for o in d.evaluation.criteria.iter().chain(&d.evaluation.conditions) {
                            li { (o.label()) " : " (o.verdict.label()) @if !o.reason.is_empty() { " — " (o.reason) } }
                        }
                    }
                    p {
                        a href={ "/decisions/" (d.number) "/lettre.pdf" } { "Lettre de décision (PDF)" }
                        " · recours possible jusqu'au " (french_date(d.appeal_until)) "."
                    }
                }
                @for p in appeals {
                    h4 { "Recours n° " (p.id) " du " (local_time(&p.lodged_at)) " : " (p.status.label()) }
                    p { "« " (p.grounds) " »" }
                    @if let Some(r) = &p.review_reason { p { "Réponse : " (r) } }
                    @if let Some(n) = &p.new_decision { p { "Nouvelle décision " (n) "." } }
                }
            }
        }
    })
}
