//! Page handlers. Access rules are in the route table; CSRF tokens are
//! checked by the access middleware before any of these run.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::{CookieJar, Form};
use maud::{html, Markup};
use regie_core::audit::{self, AuditFilter};
use serde::Deserialize;

use crate::platform::auth::{self, token, Principal, Role, TokenKind};
use crate::platform::routes;
use crate::platform::storage;
use crate::platform::web::{
    error_summary, field_error, has_error, layout, local_time, page, render, PageError,
    LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

/// Whether cookies must carry `Secure`: the public URL is https, or a
/// trusted proxy says the request came over TLS.
pub(crate) fn secure_cookies(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.https_public_url()
        || (state.config.trust_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https")))
}

/// `/`: the home of the user's first role, or the login page.
pub async fn root(me: Option<Principal>) -> Redirect {
    match me.as_ref().and_then(|p| p.roles.first()) {
        Some(role) => Redirect::to(role.home()),
        None => Redirect::to("/connexion"),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct LoginQuery {
    suite: Option<String>,
}

/// Only same-site paths are followed after login (no open redirect).
fn safe_next(next: Option<&str>) -> Option<String> {
    next.and_then(LocalPath::parse).map(|p| p.0)
}

/// A page of this site to go to after logging in: a path (and query) that
/// a browser resolves against this origin and nowhere else. Parsed, never
/// patched: control characters and blanks (which browsers strip from
/// URLs, turning `/\t/evil.example` into `//evil.example`), backslashes and
/// scheme-relative forms are refused, and the result must resolve to this
/// host as a URL parser sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPath(String);

impl LocalPath {
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() > 2000
            || !s.starts_with('/')
            || s.starts_with("//")
            || s.chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return None;
        }
        let base = url::Url::parse("http://regie.invalid/").ok()?;
        let joined = base.join(s).ok()?;
        (joined.origin() == base.origin()).then(|| LocalPath(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod local_path_tests {
    use super::LocalPath;

    #[test]
    fn only_paths_of_this_site_are_kept() {
        for ok in [
            "/",
            "/mon-espace",
            "/comptabilite/comptes?q=martin",
            "/a/b#c",
        ] {
            assert_eq!(
                LocalPath::parse(ok).map(|p| p.as_str().to_owned()),
                Some(ok.to_owned()),
                "{ok}"
            );
        }
        for bad in [
            "/\t/evil.example/phish",
            "/\n/evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "evil.example",
            "/ /evil.example",
            "/\u{0}",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(LocalPath::parse(bad), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_kept_path_never_leaves_the_site_and_reads_back(s in "\\PC{0,40}") {
            if let Some(p) = LocalPath::parse(&s) {
                let base = url::Url::parse("http://regie.invalid/").unwrap_or_else(|e| panic!("{e}"));
                // What a browser would do: strip tabs and newlines, then resolve.
                let stripped: String = p.as_str().chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
                let url = base.join(&stripped).unwrap_or_else(|e| panic!("{e}"));
                proptest::prop_assert_eq!(url.origin(), base.origin());
                proptest::prop_assert_eq!(LocalPath::parse(p.as_str()), Some(p));
            }
        }
    }
}

fn login_page(csrf: &str, next: Option<&str>, username: &str, errors: &[(&str, String)]) -> Markup {
    let body = html! {
        h1 { "Connexion" }
        p { "Connectez-vous avec l'identifiant et le mot de passe que la régie vous a remis." }
        (error_summary(errors))
        form class="formulaire" method="post" action="/connexion" novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            @if let Some(n) = next { input type="hidden" name="suite" value=(n); }
            div class="champ" {
                label for="identifiant" { "Identifiant" }
                input type="text" id="identifiant" name="identifiant" value=(username) autocomplete="username"
                    required aria-invalid=(has_error(errors, "identifiant"))
                    aria-describedby=[has_error(errors, "identifiant").then_some("identifiant-erreur")];
                (field_error(errors, "identifiant"))
            }
            div class="champ" {
                label for="mot_de_passe" { "Mot de passe" }
                input type="password" id="mot_de_passe" name="mot_de_passe" autocomplete="current-password"
                    required aria-invalid=(has_error(errors, "mot_de_passe"))
                    aria-describedby=[has_error(errors, "mot_de_passe").then_some("mot_de_passe-erreur")];
                (field_error(errors, "mot_de_passe"))
            }
            button type="submit" { "Se connecter" }
        }
        p { a href="/connexion/mot-de-passe-oublie" { "Mot de passe oublié ?" } }
        p { "Sans compte : " a href="/tarif-social/regles" { "les règles du tarif social" } " sont publiques." }
    };
    layout("Connexion", None, "/connexion", body)
}

pub(crate) fn login_csrf_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((LOGIN_CSRF_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/connexion")
        .build()
}

/// `GET /connexion`.
pub async fn login_form(
    State(state): State<AppState>,
    me: Option<Principal>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<LoginQuery>,
) -> Response {
    if let Some(p) = me {
        if let Some(role) = p.roles.first() {
            return Redirect::to(role.home()).into_response();
        }
    }
    let csrf = token::generate_csrf();
    let jar = jar.add(login_csrf_cookie(
        csrf.clone(),
        secure_cookies(&state, &headers),
    ));
    let next = safe_next(q.suite.as_deref());
    (
        jar,
        render(StatusCode::OK, login_page(&csrf, next.as_deref(), "", &[])),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    identifiant: String,
    #[serde(default)]
    mot_de_passe: String,
    suite: Option<String>,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("identifiant", &self.identifiant)
            .finish_non_exhaustive()
    }
}

/// `POST /connexion`.
pub async fn login_submit(
    State(state): State<AppState>,
    peer: routes::Peer,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let secure = secure_cookies(&state, &headers);
    let next = safe_next(form.suite.as_deref());
    let mut errors = Vec::new();
    if form.identifiant.trim().is_empty() {
        errors.push(("identifiant", "Saisissez votre identifiant.".to_owned()));
    }
    if form.mot_de_passe.is_empty() {
        errors.push(("mot_de_passe", "Saisissez votre mot de passe.".to_owned()));
    }
    let fresh_form = |jar: CookieJar, status: StatusCode, errors: &[(&str, String)]| {
        let csrf = token::generate_csrf();
        let jar = jar.add(login_csrf_cookie(csrf.clone(), secure));
        (
            jar,
            render(
                status,
                login_page(&csrf, next.as_deref(), form.identifiant.trim(), errors),
            ),
        )
            .into_response()
    };
    if !errors.is_empty() {
        return fresh_form(jar, StatusCode::UNPROCESSABLE_ENTITY, &errors);
    }
    let address = routes::client_address(&headers, peer.0, state.config.trust_proxy);
    let key = || state.secret_key();
    match auth::login(
        &state.db,
        &form.identifiant,
        &form.mot_de_passe,
        None,
        &key,
        &address,
        TokenKind::Session,
        state.session_ttl(),
        state.login_policy(),
    )
    .await
    {
        Ok((principal, issued)) => logged_in(&state, jar, secure, &principal, issued, next),
        Err(Error::CodeRequired { user_id }) => {
            match crate::platform::web::second_factor::ask_code(
                &state,
                jar,
                secure,
                user_id,
                next.as_deref(),
            )
            .await
            {
                Ok(r) => r,
                Err(e) => PageError(e).into_response(),
            }
        }
        Err(Error::Unauthenticated) => fresh_form(
            jar,
            StatusCode::UNAUTHORIZED,
            &[(
                "identifiant",
                "Identifiant ou mot de passe incorrect.".to_owned(),
            )],
        ),
        Err(e @ Error::RateLimited { .. }) => {
            let retry = match e {
                Error::RateLimited { retry_after_s } => retry_after_s,
                _ => 60,
            };
            let mut resp = fresh_form(
                jar,
                StatusCode::TOO_MANY_REQUESTS,
                &[(
                    "identifiant",
                    format!(
                        "Trop de tentatives échouées. Réessayez dans {} minute(s).",
                        retry.div_ceil(60)
                    ),
                )],
            );
            if let Ok(v) = retry.to_string().parse() {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
            resp
        }
        Err(e) => PageError(e).into_response(),
    }
}

/// The session cookie set and the way home after a login.
pub(crate) fn logged_in(
    state: &AppState,
    jar: CookieJar,
    secure: bool,
    principal: &Principal,
    issued: auth::Issued,
    next: Option<String>,
) -> Response {
    let session = Cookie::build((SESSION_COOKIE, issued.secret))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(time_duration(state.session_ttl()))
        .build();
    let jar = jar
        .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/connexion"))
        .add(session);
    let target = next
        .or_else(|| principal.roles.first().map(|r| r.home().to_owned()))
        .unwrap_or_else(|| "/compte".into());
    (jar, Redirect::to(&target)).into_response()
}

fn time_duration(d: chrono::Duration) -> time::Duration {
    time::Duration::seconds(d.num_seconds())
}

/// `POST /deconnexion`: revokes the session and forgets the cookie.
pub async fn logout(State(state): State<AppState>, me: Principal, jar: CookieJar) -> PageResult {
    auth::revoke(&state.db, &me, me.token_id).await?;
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, Redirect::to("/connexion")).into_response())
}

/// `GET /compte`: identity, roles, open sessions and tokens.
pub async fn account(State(state): State<AppState>, me: Principal) -> PageResult {
    let tokens = storage::list_tokens(&state.db, me.user_id).await?;
    let csrf = me.csrf();
    let body = html! {
        h1 { "Mon compte" }
        dl {
            dt { "Identifiant" } dd { (me.username) }
            dt { "Rôles" } dd { (me.roles.iter().map(|r| r.label_fr()).collect::<Vec<_>>().join(", ")) }
        }
        p { a href="/compte/mot-de-passe" { "Changer mon mot de passe" } }
        p { a href="/compte/double-authentification" { "Double authentification (code d'une application)" } }
        h2 { "Sessions et jetons d'API" }
        p { "Révoquez tout accès que vous ne reconnaissez pas." }
        table tabindex="0" {
            caption class="visually-hidden" { "Sessions et jetons" }
            thead { tr { th scope="col" { "Type" } th scope="col" { "Créé le" } th scope="col" { "Expire le" } th scope="col" { "État" } th scope="col" { "Action" } } }
            tbody {
                @for t in &tokens {
                    tr {
                        td { @if t.kind == "session" { "Session web" } @else { "Jeton d'API" } @if t.id == me.token_id { " (celle-ci)" } }
                        td { (local_time(&t.created_at)) }
                        td { (local_time(&t.expires_at)) }
                        td { @if let Some(r) = &t.revoked_at { "Révoqué le " (local_time(r)) } @else { "Actif" } }
                        td {
                            @if t.revoked_at.is_none() {
                                form method="post" action={ "/compte/jetons/" (t.id) "/revoquer" } class="en-ligne" {
                                    input type="hidden" name="csrf_token" value=(csrf);
                                    button type="submit" class="secondaire" { "Révoquer" span class="visually-hidden" { " l'accès n° " (t.id) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Mon compte", &me, "/compte", body))
}

/// `POST /compte/jetons/{id}/revoquer`.
pub async fn account_revoke(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<i64>,
) -> PageResult {
    auth::revoke(&state.db, &me, id).await?;
    if id == me.token_id {
        return Ok(Redirect::to("/connexion").into_response());
    }
    Ok(Redirect::to("/compte").into_response())
}

/// `GET /admin`.
pub async fn admin_home(State(state): State<AppState>, me: Principal) -> PageResult {
    let users = storage::list_users(&state.db).await?;
    let recent = audit::list(
        &state.db,
        &AuditFilter {
            limit: Some(5),
            ..AuditFilter::default()
        },
    )
    .await?;
    let body = html! {
        h1 { "Administration" }
        ul class="cartes" {
            li class="carte" {
                h2 { "Utilisateurs" }
                p { (users.len()) " comptes, dont " (users.iter().filter(|u| u.disabled).count()) " désactivés." }
                a href="/admin/utilisateurs" { "Gérer les utilisateurs" }
            }
            li class="carte" {
                h2 { "Journal d'audit" }
                p { "Chaque modification, avec son auteur et sa date." }
                a href="/admin/journal" { "Consulter le journal" }
            }
            li class="carte" {
                h2 { "Exploitation" }
                p { "Santé : " a href="/healthz" { "/healthz" } ", disponibilité : " a href="/readyz" { "/readyz" } ", métriques : " a href="/metrics" { "/metrics" } "." }
                a href="/api/v1/docs" { "Référence de l'API" }
            }
        }
        h2 { "Dernières modifications" }
        (crate::platform::web::journal::table(&recent))
    };
    Ok(page("Administration", &me, "/admin", body))
}

#[derive(Debug, Deserialize, Default)]
pub struct UsersQuery {
    cree: Option<String>,
}

fn users_page(
    me: &Principal,
    users: &[storage::User],
    created: Option<&str>,
    form: &NewUserForm,
    errors: &[(&str, String)],
) -> Markup {
    let csrf = me.csrf();
    html! {
        h1 { "Utilisateurs" }
        @if let Some(c) = created { p class="succes" role="status" { "Le compte " strong { (c) } " a été créé." } }
        table tabindex="0" {
            caption class="visually-hidden" { "Comptes" }
            thead { tr { th scope="col" { "Identifiant" } th scope="col" { "Nom" } th scope="col" { "Rôles" } th scope="col" { "État" } th scope="col" { "Créé le" } } }
            tbody {
                @for u in users {
                    tr {
                        td { a href={ "/admin/utilisateurs/" (u.username) } { (u.username) } }
                        td { (u.display_name) }
                        td { (u.roles.iter().map(|r| r.label_fr()).collect::<Vec<_>>().join(", ")) }
                        td { @if u.disabled { "Désactivé" } @else { "Actif" } }
                        td { (local_time(&u.created_at)) }
                    }
                }
            }
        }
        h2 id="nouveau" { "Créer un compte" }
        (error_summary(errors))
        form class="formulaire" method="post" action="/admin/utilisateurs" novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            div class="champ" {
                label for="identifiant" { "Identifiant" span class="aide" { "2 à 64 caractères : lettres minuscules, chiffres, « . », « _ », « - »." } }
                input type="text" id="identifiant" name="identifiant" value=(form.identifiant) required
                    aria-invalid=(has_error(errors, "identifiant")) aria-describedby=[has_error(errors, "identifiant").then_some("identifiant-erreur")];
                (field_error(errors, "identifiant"))
            }
            div class="champ" {
                label for="nom" { "Nom affiché" span class="aide" { "Facultatif." } }
                input type="text" id="nom" name="nom" value=(form.nom);
            }
            div class="champ" {
                label for="mot_de_passe" { "Mot de passe initial" span class="aide" { "Au moins 12 caractères ; une phrase de quelques mots convient." } }
                input type="password" id="mot_de_passe" name="mot_de_passe" autocomplete="new-password" required
                    aria-invalid=(has_error(errors, "mot_de_passe")) aria-describedby=[has_error(errors, "mot_de_passe").then_some("mot_de_passe-erreur")];
                (field_error(errors, "mot_de_passe"))
            }
            fieldset id="roles" {
                legend { "Rôles" }
                (field_error(errors, "roles"))
                @for r in Role::ALL {
                    label class="case" {
                        input type="checkbox" name="roles" value=(r.as_str()) checked[form.roles.iter().any(|x| x == r.as_str())];
                        (r.label_fr())
                    }
                }
            }
            button type="submit" { "Créer le compte" }
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct NewUserForm {
    #[serde(default)]
    identifiant: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// `GET /admin/utilisateurs`.
pub async fn admin_users(
    State(state): State<AppState>,
    me: Principal,
    Query(q): Query<UsersQuery>,
) -> PageResult {
    let users = storage::list_users(&state.db).await?;
    let body = users_page(&me, &users, q.cree.as_deref(), &NewUserForm::default(), &[]);
    Ok(page("Utilisateurs", &me, "/admin/utilisateurs", body))
}

/// `POST /admin/utilisateurs`.
pub async fn admin_users_create(
    State(state): State<AppState>,
    me: Principal,
    Form(form): Form<NewUserForm>,
) -> PageResult {
    let mut errors = Vec::new();
    if form.identifiant.trim().is_empty() {
        errors.push(("identifiant", "Saisissez un identifiant.".to_owned()));
    } else if let Err(Error::Invalid(m)) = auth::Username::parse(&form.identifiant) {
        errors.push(("identifiant", m));
    }
    if let Err(Error::Invalid(m)) = auth::Password::parse(&form.mot_de_passe) {
        errors.push(("mot_de_passe", m));
    }
    let roles: Vec<Role> = form
        .roles
        .iter()
        .filter_map(|r| Role::parse(r).ok())
        .collect();
    if roles.is_empty() {
        errors.push(("roles", "Choisissez au moins un rôle.".to_owned()));
    }
    if errors.is_empty() {
        match crate::platform::api::users::create_user(
            &state,
            &me,
            &form.identifiant,
            &form.nom,
            &form.mot_de_passe,
            &roles,
        )
        .await
        {
            Ok(u) => {
                return Ok(
                    Redirect::to(&format!("/admin/utilisateurs?cree={}", u.username))
                        .into_response(),
                );
            }
            Err(Error::Conflict(_)) => {
                errors.push(("identifiant", "Cet identifiant est déjà pris.".to_owned()))
            }
            Err(Error::Invalid(m)) => errors.push(("identifiant", m)),
            Err(e) => return Err(e.into()),
        }
    }
    let users = storage::list_users(&state.db).await?;
    let body = users_page(&me, &users, None, &form, &errors);
    Ok(render(
        StatusCode::UNPROCESSABLE_ENTITY,
        layout("Utilisateurs", Some(&me), "/admin/utilisateurs", body),
    ))
}
