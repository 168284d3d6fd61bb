//! The pages of a forgotten password: asking for a link by e-mail, choosing
//! the new password through the link (both public, under `/connexion`,
//! where the login form's CSRF cookie is sent), and the page where an
//! administrator or a social agent at the counter hands a link over. All
//! call `auth::reset`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::{CookieJar, Form};
use maud::{html, Markup};
use serde::Deserialize;

use crate::platform::auth::reset::{self, Handed};
use crate::platform::auth::{token, Principal};
use crate::platform::web::pages::{login_csrf_cookie, secure_cookies};
use crate::platform::web::{error_summary, layout, render, PageError};
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

/// The address links start with: the public URL, else this server's.
fn base_url(state: &AppState) -> String {
    state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", state.config.listen))
        .trim_end_matches('/')
        .to_owned()
}

fn forgotten_page(csrf: &str, sent: bool, mail: bool) -> Markup {
    html! {
        h1 { "Mot de passe oublié" }
        @if sent {
            p class="succes" role="status" {
                "Si un compte porte cet identifiant ou cette adresse et qu'une adresse électronique y est inscrite, un message vient de partir. "
                "Le lien qu'il contient sert une fois, pendant une heure."
            }
        }
        @if mail {
            p { "Saisissez votre identifiant ou votre adresse électronique : nous vous envoyons un lien pour choisir un nouveau mot de passe." }
            form class="formulaire" method="post" action="/connexion/mot-de-passe-oublie" novalidate {
                input type="hidden" name="csrf_token" value=(csrf);
                div class="champ" {
                    label for="qui" { "Identifiant ou adresse électronique" }
                    input type="text" id="qui" name="qui" autocomplete="username" maxlength="254" required;
                }
                button type="submit" { "Recevoir le lien" }
            }
        }
        @if mail { h2 { "Sans adresse électronique" } }
        p { "L'accueil de la mairie vous remet un lien pour choisir un nouveau mot de passe, sur présentation d'une pièce d'identité. Il sert une fois, pendant trois jours." }
        p { a href="/connexion" { "← Retour à la connexion" } }
    }
}

/// `GET /connexion/mot-de-passe-oublie`.
pub async fn forgotten_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let csrf = token::generate_csrf();
    let jar = jar.add(login_csrf_cookie(
        csrf.clone(),
        secure_cookies(&state, &headers),
    ));
    let body = forgotten_page(&csrf, false, state.mailer.is_some());
    (
        jar,
        render(
            StatusCode::OK,
            layout("Mot de passe oublié", None, "/connexion", body),
        ),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct ForgottenForm {
    #[serde(default)]
    qui: String,
}

/// `POST /connexion/mot-de-passe-oublie`: the same answer whether the
/// account exists or not.
pub async fn forgotten_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ForgottenForm>,
) -> PageResult {
    if let Some(mailer) = &state.mailer {
        reset::request_by_email(&state.db, mailer, &base_url(&state), &form.qui).await?;
    }
    let csrf = token::generate_csrf();
    let jar = jar.add(login_csrf_cookie(
        csrf.clone(),
        secure_cookies(&state, &headers),
    ));
    let body = forgotten_page(&csrf, state.mailer.is_some(), state.mailer.is_some());
    Ok((
        jar,
        render(
            StatusCode::OK,
            layout("Mot de passe oublié", None, "/connexion", body),
        ),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    jeton: String,
}

impl std::fmt::Debug for LinkQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkQuery").finish_non_exhaustive()
    }
}

fn choose_page(csrf: &str, secret: &str, errors: &[(&str, String)]) -> Markup {
    html! {
        h1 { "Choisir un nouveau mot de passe" }
        (error_summary(errors))
        form class="formulaire" method="post" action=(reset::REDEEM_PATH) novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            input type="hidden" name="jeton" value=(secret);
            (crate::platform::web::users::new_password_fields(errors))
            button type="submit" { "Enregistrer le mot de passe" }
        }
    }
}

fn dead_link_page() -> Markup {
    html! {
        h1 { "Ce lien ne sert plus" }
        p { "Il a déjà servi, un autre l'a remplacé, ou il a expiré." }
        p { a href="/connexion/mot-de-passe-oublie" { "Demander un nouveau lien" } }
    }
}

/// `GET /connexion/nouveau-mot-de-passe?jeton=…`.
pub async fn choose_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<LinkQuery>,
) -> PageResult {
    let title = "Choisir un nouveau mot de passe";
    if !reset::is_live(&state.db, &q.jeton).await? {
        return Ok(render(
            StatusCode::NOT_FOUND,
            layout(title, None, "/connexion", dead_link_page()),
        ));
    }
    let csrf = token::generate_csrf();
    let jar = jar.add(login_csrf_cookie(
        csrf.clone(),
        secure_cookies(&state, &headers),
    ));
    Ok((
        jar,
        render(
            StatusCode::OK,
            layout(title, None, "/connexion", choose_page(&csrf, &q.jeton, &[])),
        ),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ChooseForm {
    #[serde(default)]
    jeton: String,
    #[serde(default)]
    nouveau: String,
    #[serde(default)]
    confirmation: String,
}

impl std::fmt::Debug for ChooseForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChooseForm").finish_non_exhaustive()
    }
}

/// `POST /connexion/nouveau-mot-de-passe`.
pub async fn choose_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ChooseForm>,
) -> PageResult {
    let title = "Choisir un nouveau mot de passe";
    match reset::redeem(&state.db, &form.jeton, &form.nouveau, &form.confirmation).await {
        Ok(username) => {
            let body = html! {
                h1 { "Mot de passe enregistré" }
                p class="succes" role="status" { "Le compte « " (username) " » a un nouveau mot de passe. Ses autres sessions sont fermées." }
                p { a class="bouton" href="/connexion" { "Se connecter" } }
            };
            Ok(render(
                StatusCode::OK,
                layout(title, None, "/connexion", body),
            ))
        }
        Err(Error::Invalid(m)) if m == reset::DEAD_LINK => Ok(render(
            StatusCode::NOT_FOUND,
            layout(title, None, "/connexion", dead_link_page()),
        )),
        Err(Error::Invalid(m)) => {
            let field = if m.contains("diffèrent") {
                "confirmation"
            } else {
                "nouveau"
            };
            let csrf = token::generate_csrf();
            let jar = jar.add(login_csrf_cookie(
                csrf.clone(),
                secure_cookies(&state, &headers),
            ));
            Ok((
                jar,
                render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    layout(
                        title,
                        None,
                        "/connexion",
                        choose_page(&csrf, &form.jeton, &[(field, m)]),
                    ),
                ),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The page showing a link handed over, to print or read out.
fn handed_page(
    state: &AppState,
    me: &Principal,
    username: &str,
    h: &Handed,
    back: &str,
) -> Response {
    let url = format!("{}{}", base_url(state), h.path);
    let until = h
        .expires_at
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%d/%m/%Y à %H:%M");
    let body = html! {
        p { a href=(back) { "← Retour" } }
        h1 { "Lien pour un nouveau mot de passe" }
        p class="succes" role="status" { "Lien créé pour le compte « " (username) " » ; ses liens précédents ne servent plus." }
        p { "Remettez ce lien à la personne (imprimez cette page ou recopiez-le). Il sert une fois, jusqu'au " (until) "." }
        p class="lien-remis" { code { (url) } }
        p class="aide" { "Ne l'envoyez pas à une autre personne : qui l'ouvre choisit le mot de passe du compte." }
    };
    render(
        StatusCode::OK,
        layout("Lien pour un nouveau mot de passe", Some(me), back, body),
    )
}

/// `POST /admin/utilisateurs/{username}/nouveau-mot-de-passe`: a forced
/// reset (the old password and every access stop now).
pub async fn admin_hand_over(
    State(state): State<AppState>,
    me: Principal,
    Path(username): Path<String>,
) -> PageResult {
    let handed = reset::hand_over(&state.db, &me, &username).await?;
    Ok(handed_page(
        &state,
        &me,
        &username,
        &handed,
        &format!("/admin/utilisateurs/{username}"),
    ))
}

/// `POST /foyers/{code}/nouveau-mot-de-passe`: at the counter, for the
/// household's own account.
pub async fn counter_hand_over(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
) -> PageResult {
    let h = social_tariff::get_household(&state.db, me.household_scope(), &code).await?;
    let user_id = h
        .user_id
        .ok_or_else(|| Error::Invalid("ce foyer n'a pas de compte en ligne".into()))?;
    let username = crate::platform::storage::username_of(&state.db, user_id)
        .await?
        .ok_or_else(|| Error::NotFound("compte introuvable".into()))?;
    let handed = reset::hand_over(&state.db, &me, &username).await?;
    Ok(handed_page(
        &state,
        &me,
        &username,
        &handed,
        &format!("/foyers/{code}"),
    ))
}

#[derive(Debug, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    courriel: String,
}

/// `POST /admin/utilisateurs/{username}/courriel`.
pub async fn admin_set_email(
    State(state): State<AppState>,
    me: Principal,
    Path(username): Path<String>,
    Form(form): Form<EmailForm>,
) -> PageResult {
    match reset::set_email(&state.db, &me.actor(), &username, &form.courriel).await {
        Ok(()) => Ok(axum::response::Redirect::to(&format!(
            "/admin/utilisateurs/{username}?enregistre=1"
        ))
        .into_response()),
        Err(Error::Invalid(m)) => {
            crate::platform::web::users::show_with_error(&state, &me, &username, ("courriel", m))
                .await
        }
        Err(e) => Err(e.into()),
    }
}
