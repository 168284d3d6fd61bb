//! The pages of the second factor: the code asked at login after a right
//! password (`/connexion/code`, public, in a challenge cookie), and the
//! page where a person turns it on with an authenticator application, or
//! off (`/compte/double-authentification`). All call `auth::totp`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::{CookieJar, Form};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use crate::platform::auth::totp::{self, TotpSecret, CHALLENGE_COOKIE};
use crate::platform::auth::{self, token, Principal};
use crate::platform::routes;
use crate::platform::web::pages::{logged_in, login_csrf_cookie, secure_cookies};
use crate::platform::web::{error_summary, field_error, has_error, layout, render, PageError};
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

fn code_page(csrf: &str, errors: &[(&str, String)]) -> Markup {
    html! {
        h1 { "Code de vérification" }
        p { "Votre compte est protégé par une double authentification : saisissez le code à six chiffres que montre votre application." }
        (error_summary(errors))
        form class="formulaire" method="post" action="/connexion/code" novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            div class="champ" {
                label for="code" { "Code à six chiffres" }
                input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
                    maxlength="7" required
                    aria-invalid=(has_error(errors, "code")) aria-describedby=[has_error(errors, "code").then_some("code-erreur")];
                (field_error(errors, "code"))
            }
            button type="submit" { "Valider" }
        }
        p { a href="/connexion" { "← Recommencer la connexion" } }
    }
}

/// After a right password on an account with a second factor: a challenge
/// (cookie, five minutes) and the form for the code.
pub async fn ask_code(
    state: &AppState,
    jar: CookieJar,
    secure: bool,
    user_id: i64,
    next: Option<&str>,
) -> Result<Response, Error> {
    let challenge = totp::open_challenge(&state.db, user_id, next).await?;
    let csrf = token::generate_csrf();
    let jar = jar.add(login_csrf_cookie(csrf.clone(), secure)).add(
        Cookie::build((CHALLENGE_COOKIE, challenge))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .path("/connexion")
            .max_age(time::Duration::minutes(totp::CHALLENGE_MINUTES))
            .build(),
    );
    Ok((
        jar,
        render(
            StatusCode::OK,
            layout(
                "Code de vérification",
                None,
                "/connexion",
                code_page(&csrf, &[]),
            ),
        ),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

impl std::fmt::Debug for CodeForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeForm").finish_non_exhaustive()
    }
}

/// `POST /connexion/code`.
pub async fn code_submit(
    State(state): State<AppState>,
    peer: routes::Peer,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Response {
    let secure = secure_cookies(&state, &headers);
    let address = routes::client_address(&headers, peer.0, state.config.trust_proxy);
    let challenge = jar
        .get(CHALLENGE_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let key = || state.secret_key();
    let again = |jar: CookieJar, status: StatusCode, message: String| {
        let csrf = token::generate_csrf();
        let jar = jar.add(login_csrf_cookie(csrf.clone(), secure));
        (
            jar,
            render(
                status,
                layout(
                    "Code de vérification",
                    None,
                    "/connexion",
                    code_page(&csrf, &[("code", message)]),
                ),
            ),
        )
            .into_response()
    };
    match auth::login_with_code(
        &state.db,
        &challenge,
        &form.code,
        &key,
        &address,
        state.session_ttl(),
        state.login_policy(),
    )
    .await
    {
        Ok((principal, issued, next)) => {
            let jar = jar.remove(Cookie::build(CHALLENGE_COOKIE).path("/connexion"));
            logged_in(&state, jar, secure, &principal, issued, next)
        }
        Err(Error::Unauthenticated) => again(
            jar,
            StatusCode::UNAUTHORIZED,
            "Ce code ne convient pas : saisissez celui que montre l'application maintenant.".into(),
        ),
        Err(Error::Invalid(m)) => again(jar, StatusCode::UNPROCESSABLE_ENTITY, m),
        Err(Error::RateLimited { retry_after_s }) => again(
            jar,
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Trop de tentatives échouées. Réessayez dans {} minute(s).",
                retry_after_s.div_ceil(60)
            ),
        ),
        Err(e) => PageError(e).into_response(),
    }
}

fn enrol_page(
    me: &Principal,
    enrolled: bool,
    offer: Option<(&TotpSecret, &str)>,
    notice: Option<&str>,
    errors: &[(&str, String)],
) -> Markup {
    let csrf = me.csrf();
    html! {
        p { a href="/compte" { "← Mon compte" } }
        h1 { "Double authentification" }
        @if let Some(n) = notice { p class="succes" role="status" { (n) } }
        (error_summary(errors))
        @if enrolled {
            p { "Elle est active : à chaque connexion, après le mot de passe, le code de votre application est demandé." }
            form class="formulaire" method="post" action="/compte/double-authentification/desactiver" novalidate {
                input type="hidden" name="csrf_token" value=(csrf);
                div class="champ" {
                    label for="code" { "Code actuel, pour la désactiver" }
                    input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="7" required
                        aria-invalid=(has_error(errors, "code")) aria-describedby=[has_error(errors, "code").then_some("code-erreur")];
                    (field_error(errors, "code"))
                }
                button type="submit" class="secondaire" { "Désactiver" }
            }
        } @else if let Some((secret, qr)) = offer {
            p { "Elle protège votre compte même si votre mot de passe est découvert. Il vous faut une application d'authentification sur votre téléphone (par exemple FreeOTP, Aegis ou celle de votre système)." }
            p { "Dans l'application, ajoutez un compte en scannant ce code :" }
            div class="qr" role="img" aria-label="Code QR à scanner avec l'application" { (PreEscaped(qr)) }
            p { "Ou saisissez cette clé à la main : " code { (secret.to_base32()) } }
            form class="formulaire" method="post" action="/compte/double-authentification" novalidate {
                input type="hidden" name="csrf_token" value=(csrf);
                input type="hidden" name="cle" value=(secret.to_base32());
                div class="champ" {
                    label for="code" { "Code à six chiffres que montre l'application" }
                    input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="7" required
                        aria-invalid=(has_error(errors, "code")) aria-describedby=[has_error(errors, "code").then_some("code-erreur")];
                    (field_error(errors, "code"))
                }
                button type="submit" { "Activer" }
            }
        }
    }
}

async fn show(
    state: &AppState,
    me: &Principal,
    status: StatusCode,
    notice: Option<&str>,
    offer: Option<TotpSecret>,
    errors: &[(&str, String)],
) -> PageResult {
    let enrolled = totp::enrolled(&state.db, me.user_id).await?;
    let secret = offer.unwrap_or_else(TotpSecret::generate);
    let qr = totp::qr_svg(&secret.url(&me.username)?)?;
    let offer = (!enrolled).then_some((&secret, qr.as_str()));
    Ok(render(
        status,
        layout(
            "Double authentification",
            Some(me),
            "/compte",
            enrol_page(me, enrolled, offer, notice, errors),
        ),
    ))
}

/// `GET /compte/double-authentification`.
pub async fn enrol_form(State(state): State<AppState>, me: Principal) -> PageResult {
    show(&state, &me, StatusCode::OK, None, None, &[]).await
}

#[derive(Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    cle: String,
    #[serde(default)]
    code: String,
}

impl std::fmt::Debug for EnrolForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolForm").finish_non_exhaustive()
    }
}

/// `POST /compte/double-authentification`: turns it on.
pub async fn enrol_submit(
    State(state): State<AppState>,
    me: Principal,
    Form(form): Form<EnrolForm>,
) -> PageResult {
    let secret = TotpSecret::parse_base32(&form.cle)?;
    let key = state.secret_key()?;
    match totp::enable(
        &state.db,
        &key,
        &me.actor(),
        me.user_id,
        &secret,
        &form.code,
    )
    .await
    {
        Ok(()) => {
            show(
                &state,
                &me,
                StatusCode::OK,
                Some("Double authentification activée : le code sera demandé à chaque connexion."),
                None,
                &[],
            )
            .await
        }
        Err(Error::Invalid(m)) => {
            show(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(secret),
                &[("code", m)],
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /compte/double-authentification/desactiver`.
pub async fn disable_submit(
    State(state): State<AppState>,
    me: Principal,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let key = state.secret_key()?;
    if !totp::check(&state.db, &key, me.user_id, &form.code).await? {
        let m = "Ce code ne convient pas : saisissez celui que montre l'application maintenant.";
        return show(
            &state,
            &me,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            None,
            &[("code", m.into())],
        )
        .await;
    }
    totp::disable(&state.db, &me.actor(), me.user_id, &me.username).await?;
    show(
        &state,
        &me,
        StatusCode::OK,
        Some("Double authentification désactivée."),
        None,
        &[],
    )
    .await
}
