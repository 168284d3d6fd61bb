//! The page kit every domain's pages use (layout, French error pages, form
//! helpers, static assets, the API reference page) and the platform's
//! pages (login, accounts, users, journal). The French pages are
//! server-rendered HTML (maud), usable without JavaScript, every asset
//! served by the binary itself; each domain's pages live in its folder.

pub mod apidoc;
pub mod assets;
pub mod journal;
pub mod pages;
pub mod reset;
pub mod second_factor;
pub mod users;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::platform::auth::{Principal, Role};
use crate::Error;

/// Cookie holding the session secret.
pub const SESSION_COOKIE: &str = "regie_session";
/// Double-submit cookie protecting the login form, set with the form.
pub const LOGIN_CSRF_COOKIE: &str = "regie_login_csrf";

/// Formats a stored UTC timestamp in Europe/Paris for people.
pub fn local_time(stored: &str) -> String {
    regie_core::time::from_db(stored)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Paris)
                .format("%d/%m/%Y %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| stored.to_owned())
}

fn nav_links(roles: &[Role]) -> Vec<(&'static str, &'static str)> {
    let mut links = Vec::new();
    for role in roles {
        match role {
            Role::Admin => links.extend([
                ("/admin", "Administration"),
                ("/admin/utilisateurs", "Utilisateurs"),
                ("/admin/journal", "Journal d'audit"),
                ("/technicien/equipements", "Équipements"),
                ("/admin/tarif-social", "Règles du tarif social"),
            ]),
            Role::Technician => links.extend([
                ("/technicien", "Réseau"),
                ("/technicien/trace", "Tracer un chemin"),
                ("/technicien/capacite", "Capacité"),
                ("/technicien/carte", "Carte"),
                ("/technicien/lignes", "Lignes"),
                ("/technicien/alarmes", "Alarmes"),
                ("/technicien/equipements", "Équipements"),
                ("/technicien/pon", "Ports PON"),
                ("/technicien/import", "Importer"),
            ]),
            Role::Accountant => links.extend([
                ("/comptabilite", "Comptabilité"),
                ("/comptabilite/facturation", "Facturation"),
                ("/comptabilite/comptes", "Comptes"),
                ("/comptabilite/impayes", "Impayés"),
                ("/comptabilite/tarif-social", "Tarif social"),
            ]),
            Role::SocialAgent => links.extend([
                ("/instruction", "Instruction"),
                ("/instruction/demandes", "Demandes"),
                ("/instruction/recours", "Recours"),
                ("/instruction/courrier", "Courrier"),
                ("/instruction/equipements", "Aide à l'équipement"),
                ("/instruction/foyers", "Foyers"),
            ]),
            Role::Household => links.push(("/mon-espace", "Mon espace")),
        }
    }
    links.dedup();
    links
}

/// The common layout: skip link, header with navigation for the user's
/// roles, main content, footer.
pub fn layout(title: &str, principal: Option<&Principal>, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Régie" }
                link rel="stylesheet" href="/static/regie.css";
                link rel="icon" type="image/svg+xml" href="/static/favicon.svg";
            }
            body {
                a class="evitement" href="#contenu" { "Aller au contenu" }
                header class="bandeau" {
                    div class="bandeau-haut" {
                        a class="marque" href="/" { "Régie" span class="sous-titre" { "Réseau public de fibre optique" } }
                        @if let Some(p) = principal {
                            div class="utilisateur" {
                                span { "Connecté : " strong { (p.display_name) } }
                                a href="/compte" { "Mon compte" }
                                form method="post" action="/deconnexion" class="en-ligne" {
                                    input type="hidden" name="csrf_token" value=(p.csrf());
                                    button type="submit" class="lien" { "Se déconnecter" }
                                }
                            }
                        }
                    }
                    @if let Some(p) = principal {
                        nav aria-label="Navigation principale" {
                            ul {
                                @for (href, label) in nav_links(&p.roles) {
                                    li {
                                        @if href == current {
                                            a href=(href) aria-current="page" { (label) }
                                        } @else {
                                            a href=(href) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                main id="contenu" tabindex="-1" {
                    (body)
                }
                footer {
                    p {
                        "Régie — logiciel libre sous licence EUPL-1.2"
                        // The API reference is in English, for developers:
                        // linked for the régie's staff, not for households
                        // or visitors.
                        @if principal.is_some_and(|p| p.roles.iter().any(|r| *r != Role::Household)) {
                            " · " a href="/api/v1/docs" { "Référence de l'API (en anglais)" }
                        }
                    }
                }
            }
        }
    }
}

/// A domain message as a sentence for a page: capital first letter, final
/// full stop. Domain messages are written to be embedded in other text.
pub fn sentence(msg: &str) -> String {
    let msg = msg.trim();
    let mut chars = msg.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?', '»']) {
        out.push('.');
    }
    out
}

/// A list of form errors: a summary at the top (focusable, announced) with
/// links to each field.
pub fn error_summary(errors: &[(&str, String)]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div class="resume-erreurs" role="alert" aria-labelledby="resume-erreurs-titre" tabindex="-1" {
                h2 id="resume-erreurs-titre" { "Le formulaire contient " (errors.len()) @if errors.len() > 1 { " erreurs" } @else { " erreur" } }
                ul {
                    @for (field, msg) in errors {
                        li { a href={ "#" (field) } { (sentence(msg)) } }
                    }
                }
            }
        }
    }
}

/// The error message of one field, if any.
pub fn field_error(errors: &[(&str, String)], field: &str) -> Markup {
    html! {
        @for (f, msg) in errors {
            @if *f == field {
                p class="erreur-champ" id={ (field) "-erreur" } { span class="visually-hidden" { "Erreur : " } (sentence(msg)) }
            }
        }
    }
}

/// Whether a field has an error, for `aria-invalid` and `aria-describedby`.
pub fn has_error(errors: &[(&str, String)], field: &str) -> bool {
    errors.iter().any(|(f, _)| *f == field)
}

/// An [`Error`] answered as a French page.
#[derive(Debug)]
pub struct PageError(pub Error);

impl<E: Into<Error>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log_if_internal();
        let status = e.status();
        let (title, message) = match &e {
            Error::Unauthenticated => ("Connexion requise", "Vous devez vous connecter pour accéder à cette page.".to_owned()),
            Error::Forbidden => ("Accès refusé", "Votre rôle ne permet pas d'accéder à cette page.".to_owned()),
            Error::Csrf => (
                "Formulaire expiré",
                "Le formulaire a expiré ou son jeton de sécurité est invalide. Revenez en arrière, rechargez la page et recommencez.".to_owned(),
            ),
            Error::NotFound(_) => ("Page introuvable", "La page ou la fiche demandée n'existe pas.".to_owned()),
            Error::Invalid(m) | Error::Conflict(m) => ("Demande invalide", sentence(m)),
            Error::Exhausted(m) => ("Ressources épuisées", sentence(m)),
            Error::Upstream(m) => ("Équipement réseau indisponible", format!("{m}. Réessayez : l'étape reprendra où elle s'est arrêtée.")),
            Error::RateLimited { retry_after_s } => (
                "Trop de tentatives",
                format!("Trop de tentatives de connexion échouées. Réessayez dans {} minute(s).", retry_after_s.div_ceil(60)),
            ),
            _ => (
                "Erreur interne",
                format!(
                    "Une erreur interne est survenue. Si elle persiste, transmettez cette référence à l'administrateur : {}.",
                    crate::platform::telemetry::current_request_id().unwrap_or_default()
                ),
            ),
        };
        let body = html! {
            h1 { (title) }
            p { (message) }
            p { a href="/" { "Retour à l'accueil" } }
        };
        (status, Html(layout(title, None, "", body).into_string())).into_response()
    }
}

/// Renders a page with a status.
/// A page of `p`'s, answered 200 in the common layout.
pub fn page(title: &str, p: &Principal, current: &str, body: Markup) -> Response {
    render(StatusCode::OK, layout(title, Some(p), current, body))
}

pub fn render(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// Escapes nothing: for the few constant snippets that are already HTML.
pub fn raw(s: &'static str) -> PreEscaped<&'static str> {
    PreEscaped(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences() {
        assert_eq!(
            sentence("le nom est obligatoire"),
            "Le nom est obligatoire."
        );
        assert_eq!(sentence("Déjà une phrase."), "Déjà une phrase.");
        assert_eq!(sentence("  "), "");
        assert_eq!(sentence("écrire « x »"), "Écrire « x »");
    }

    #[test]
    fn paris_time_for_people() {
        assert_eq!(
            local_time("2026-07-14T10:00:00.000000Z"),
            "14/07/2026 12:00"
        );
        assert_eq!(
            local_time("2026-12-25T10:00:00.000000Z"),
            "25/12/2026 11:00"
        );
        assert_eq!(local_time("n'importe quoi"), "n'importe quoi");
    }
}
