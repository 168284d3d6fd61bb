//! The technician's page of open alarms and what each cuts off.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use crate::platform::auth::Principal;
use crate::platform::web::{layout, render, PageError};
use crate::AppState;

type PageResult = Result<Response, PageError>;

const PATH: &str = "/technicien/alarmes";

fn local(at: &str) -> String {
    regie_core::time::from_db(at)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Paris)
                .format("%d/%m/%Y %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| at.to_owned())
}

/// `GET /technicien/alarmes`.
pub async fn alarms(State(state): State<AppState>, me: Principal) -> PageResult {
    let open = crate::monitoring::views::open_alarms(&state).await?;
    let csrf = me.csrf();
    let body = html! {
        h1 { "Alarmes en cours" }
        @if open.is_empty() {
            p class="succes" role="status" { "Aucune alarme en cours." }
        }
        @for view in &open {
            @let a = &view.alarm;
            section class={ "alarme alarme-" (a.severity.as_str()) } aria-labelledby={ "alarme-" (a.id) } {
                h2 id={ "alarme-" (a.id) } { (a.severity.label()) " — " (a.subject) }
                p { (a.message) }
                p class="aide" {
                    "Depuis le " (local(&a.first_seen)) ", vue " (a.occurrences) " fois, dernière le " (local(&a.last_seen)) "."
                    @if let Some(by) = &a.acked_by { " Prise en compte par " (by) "." }
                }
                @if let Some(impact) = &view.impact {
                    p { strong { (impact.lines.len()) " ligne(s) en service coupée(s)" } ", "
                        (impact.premises) " local(aux) derrière "
                        @if impact.pon_ports.len() == 1 { "le port" } @else { "l'équipement (" (impact.pon_ports.len()) " ports PON)" }
                        @if impact.protected_households > 0 { ", dont " strong { (impact.protected_households) " à débit maintenu" } }
                        "." }
                    @if !impact.lines.is_empty() {
                        div class="defilant" {
                            table tabindex="0" {
                                caption { "Lignes touchées" }
                                thead { tr { th scope="col" { "Ligne" } th scope="col" { "Local" } th scope="col" { "État" } th scope="col" { "Débit maintenu" } } }
                                tbody {
                                    @for l in &impact.lines {
                                        tr {
                                            td { a href={ "/technicien/lignes/" (l.line_id) } { (l.line_id) } }
                                            td { (l.premises) }
                                            td { (provisioning::lifecycle::State::parse(&l.state).map_or(l.state.as_str(), |s| s.label())) }
                                            td { @if l.protected { "oui" } @else { "non" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if a.acked_by.is_none() {
                    form method="post" action={ (PATH) "/" (a.id) "/prise-en-compte" } {
                        input type="hidden" name="csrf_token" value=(csrf);
                        button type="submit" { "Prendre en compte" span class="visually-hidden" { " l'alarme " (a.subject) } }
                    }
                }
            }
        }
    };
    Ok(render(
        StatusCode::OK,
        layout("Alarmes en cours", Some(&me), PATH, body),
    ))
}

/// `POST /technicien/alarmes/{id}/prise-en-compte`.
pub async fn acknowledge(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<i64>,
) -> PageResult {
    monitoring::alarms::acknowledge(&state.db, &me.actor(), id)
        .await
        .map_err(crate::Error::from)?;
    Ok(Redirect::to(PATH).into_response())
}

/// The open alarms in brief, for the technician's home page: how many,
/// the lines they cut off, the first few by severity, a link to them all.
pub fn summary(open: &[crate::monitoring::views::AlarmView]) -> maud::Markup {
    let cut: usize = open
        .iter()
        .filter_map(|v| v.impact.as_ref())
        .map(|i| i.lines.len())
        .sum();
    let critical = open
        .iter()
        .filter(|v| v.alarm.severity == monitoring::alarms::Severity::Critical)
        .count();
    html! {
        @if open.is_empty() {
            p class="succes" { "Aucune alarme en cours." }
        } @else {
            p class={ "alarme alarme-" (if critical > 0 { "critical" } else { "warning" }) } role="status" {
                strong { (open.len()) " alarme(s) en cours" }
                @if critical > 0 { ", dont " (critical) " critique(s)" }
                @if cut > 0 { " : " strong { (cut) " ligne(s) en service coupée(s)" } }
                "."
            }
            ul {
                @for v in open.iter().take(3) {
                    li { (v.alarm.severity.label()) " — " (v.alarm.subject) " : " (v.alarm.message) }
                }
            }
        }
        a href=(PATH) { "Voir les alarmes" }
    }
}
