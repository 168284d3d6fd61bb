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
    error_summary, field_error, has_error, layout, local_time, page, render, sentence, PageError,
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

/// `GET /technicien`.
pub async fn technician_home(State(state): State<AppState>, me: Principal) -> PageResult {
    let counts = inventory::storage::counts(&state.db).await?;
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    let line_counts = state.provisioning.counts().await?;
    let count = |states: &[provisioning::lifecycle::State]| -> i64 {
        line_counts
            .iter()
            .filter(|(s, _)| states.contains(s))
            .map(|c| c.1)
            .sum()
    };
    use provisioning::lifecycle::State as L;
    let lines_total = count(&L::ALL);
    let pending = count(&[L::Ordered, L::PathReserved, L::OntInstalled]);
    let active = count(&[L::Active]);
    let open_alarms = crate::monitoring::api::open_alarms(&state).await?;
    let body = html! {
        h1 { "Espace technicien" }
        p { "Bonjour " (me.display_name) ". Voici les outils du réseau." }
        ul class="cartes" {
            li class="carte" {
                h2 { "Inventaire du réseau" }
                p { "Import GraceTHD, sites, boîtiers, câbles et chemins optiques." }
                @if n("fibres") == 0 {
                    p class="info" { "Aucun réseau importé pour l'instant. Importez une livraison avec " code { "regie inventory import DOSSIER" } "." }
                } @else {
                    p { (n("sites")) " sites techniques, " (n("outlets")) " PTO, " (n("cables")) " câbles, " (n("fibres")) " fibres." }
                    a href="/technicien/trace" { "Tracer un chemin optique" }
                }
            }
            li class="carte" {
                h2 { "Raccordements" }
                p { "Commande, réservation du chemin, pose de l'ONT, activation, suspension." }
                @if lines_total == 0 {
                    p class="info" { "Aucune ligne pour l'instant." }
                } @else {
                    p { (pending) " ligne(s) attendent une intervention, " (active) " active(s)." }
                }
                a href="/technicien/lignes" { "Voir les lignes et interventions" }
            }
            li class="carte" { h2 { "Supervision" } p { "État des OLT et des ports PON, alarmes et foyers touchés." } (crate::monitoring::alarms::summary(&open_alarms)) }
        }
    };
    Ok(page("Espace technicien", &me, "/technicien", body))
}

#[derive(Debug, Deserialize, Default)]
pub struct TraceQuery {
    pto: Option<String>,
}

/// `GET /technicien/trace?pto=…`: the optical path of an outlet, hop by hop.
pub async fn trace_page(
    State(state): State<AppState>,
    me: Principal,
    Query(q): Query<TraceQuery>,
) -> PageResult {
    use inventory::budget::Verdict;
    use inventory::trace::{JointKind, RouteCheck, Step};
    let pto = q
        .pto
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let mut errors = Vec::new();
    let trace = if pto.is_empty() {
        None
    } else {
        match inventory::service::trace_outlet(&state.db, &state.plant, &pto).await {
            Ok(t) => Some(t),
            Err(inventory::Error::NotFound(m)) => {
                errors.push(("pto", m));
                None
            }
            Err(e) => return Err(e.into()),
        }
    };
    let body = html! {
        h1 { "Tracer un chemin optique" }
        (error_summary(&errors))
        form method="get" action="/technicien/trace" class="formulaire" {
            div class="champ" {
                label for="pto" { "Code de la PTO" span class="aide" { "Code GraceTHD du boîtier (t_ebp), par exemple BP000180031330." } }
                input type="text" id="pto" name="pto" value=(pto) required
                    aria-invalid=(has_error(&errors, "pto")) aria-describedby=[has_error(&errors, "pto").then_some("pto-erreur")];
                (field_error(&errors, "pto"))
            }
            button type="submit" { "Tracer" }
        }
        @if let Some(t) = &trace {
            h2 { "PTO " (t.outlet) @if let Some(s) = &t.suf { " — local " (s) } }
            @if let Some(reason) = &t.no_path_reason {
                p class="info" { "Pas de chemin : " (reason) "." }
            } @else {
                dl {
                    dt { "Perte totale" } dd { (t.total.fr()) }
                    dt { "Budget " (t.class.label()) @if t.class_assumed { " (classe par défaut : aucun port PON rattaché)" } }
                    dd {
                        @match &t.verdict {
                            Some(Verdict::Pass { margin }) => { strong { "Conforme" } ", marge " (margin.fr()) },
                            Some(Verdict::Fail { excess, worst_hop }) => {
                                strong { "Non conforme" } ", dépassement " (excess.fr()) " ; élément le plus coûteux : "
                                (t.hops.get(*worst_hop).map(|h| h.label.as_str()).unwrap_or("?"))
                            },
                            None => { "—" },
                        }
                    }
                    @if let Some(port) = &t.pon_port { dt { "Port PON" } dd { (port) } }
                    @if let Some(o) = &t.origin { dt { "Origine" } dd { (o) } }
                    dt { "Route stockée (t_ropt)" }
                    dd {
                        @match &t.route {
                            RouteCheck::NoStoredRoute => { "aucune" },
                            RouteCheck::Agrees { route } => { (route) " : identique au chemin tracé" },
                            RouteCheck::Differs { route, missing_from_route, not_on_path } => {
                                strong { (route) " : diffère du chemin tracé" }
                                @if !missing_from_route.is_empty() { " — fibres absentes de la route : " (missing_from_route.join(", ")) }
                                @if !not_on_path.is_empty() { " — fibres de la route hors du chemin : " (not_on_path.join(", ")) }
                            },
                        }
                    }
                }
                table tabindex="0" {
                    caption { "Chemin de la PTO vers l'amont, élément par élément" }
                    thead { tr { th scope="col" { "N°" } th scope="col" { "Élément" } th scope="col" { "Détail" } th scope="col" { "Perte" } } }
                    tbody {
                        @for (i, (step, hop)) in t.steps.iter().zip(&t.hops).enumerate() {
                            tr {
                                td { (i + 1) }
                                @match step {
                                    Step::Fibre { code, cable, tube, color, length_m } => {
                                        td { "Fibre " (code) }
                                        td {
                                            "câble " (cable)
                                            @if let Some(tb) = tube { ", tube " (tb) }
                                            @if !color.is_empty() { ", couleur " (color) }
                                            ", " @if let Some(m) = length_m { (format!("{m:.0}")) " m" } @else { "longueur inconnue" }
                                        }
                                    },
                                    Step::Joint { position, place, element } => {
                                        td {
                                            @match element {
                                                JointKind::Splice => { "Épissure" },
                                                JointKind::Connector => { "Connecteur" },
                                                JointKind::Splitter { outputs } => { "Coupleur 1:" (outputs) },
                                            }
                                        }
                                        td { (position) ", " (place) }
                                    },
                                }
                                td { (hop.loss.fr()) }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(render(
        status,
        layout(
            "Tracer un chemin optique",
            Some(&me),
            "/technicien/trace",
            body,
        ),
    ))
}

/// `GET /comptabilite`.
pub async fn accountant_home(me: Principal) -> Response {
    let body = html! {
        h1 { "Comptabilité" }
        p { "Bonjour " (me.display_name) ". Voici les outils de facturation de la régie." }
        ul class="cartes" {
            li class="carte" { h2 { "Offres et tarifs" } p { "Les offres votées par délibération et leurs prix." } }
            li class="carte" { h2 { a href="/comptabilite/facturation" { "Facturation mensuelle" } } p { "Prévisualiser puis émettre les factures du mois." } }
            li class="carte" { h2 { a href="/comptabilite/impayes" { "Paiements et impayés" } } p { "Encaissements au guichet, relances, maintien de la connexion, aide du FSL." } }
            li class="carte" { h2 { a href="/comptabilite/impayes" { "Exports comptables" } } p { "Registres, journal des ventes (FEC), paiements, impayés par ancienneté." } }
        }
    };
    page("Comptabilité", &me, "/comptabilite", body)
}

/// `GET /instruction`.
pub async fn social_home(State(state): State<AppState>, me: Principal) -> PageResult {
    let households = social_tariff::list_households(&state.db, me.household_scope()).await?;
    let pending = social_tariff::list_applications(
        &state.db,
        social_tariff::Scope::All,
        Some(social_tariff::application::Status::Submitted),
        None,
    )
    .await?
    .len();
    let appeals = social_tariff::appeals(&state.db, social_tariff::Scope::All, None)
        .await?
        .iter()
        .filter(|a| a.status == social_tariff::decision::AppealStatus::Pending)
        .count();
    let body = html! {
        h1 { "Instruction sociale" }
        p { "Bonjour " (me.display_name) ". Vous instruisez les demandes de tarif social et d'aide à l'équipement." }
        ul class="cartes" {
            li class="carte" { h2 { "Foyers" } p { (households.len()) " foyers enregistrés." } a href="/instruction/foyers" { "Voir et enregistrer des foyers" } }
            li class="carte" { h2 { "Demandes" } p { "Les demandes en ligne, au guichet et sur papier, à vérifier et décider." }
                p { (pending) " demande(s) à instruire, " (appeals) " recours en attente." }
                a href="/instruction/demandes" { "Voir les demandes" } }
            li class="carte" { h2 { "Équipements reconditionnés" } p { "Stock, enveloppe annuelle et liste d'attente." } }
        }
    };
    Ok(page("Instruction sociale", &me, "/instruction", body))
}

#[derive(Debug, Deserialize, Default)]
pub struct HouseholdForm {
    #[serde(default)]
    nom: String,
    #[serde(default)]
    compte: String,
}

fn households_page(
    me: &Principal,
    list: &[social_tariff::Household],
    form: &HouseholdForm,
    errors: &[(&str, String)],
) -> Markup {
    let csrf = me.csrf();
    html! {
        h1 { "Foyers" }
        @if list.is_empty() { p { "Aucun foyer enregistré." } } @else {
            table tabindex="0" {
                caption class="visually-hidden" { "Foyers" }
                thead { tr { th scope="col" { "Code" } th scope="col" { "Nom" } th scope="col" { "Compte en ligne" } th scope="col" { "Enregistré le" } } }
                tbody {
                    @for h in list {
                        tr {
                            td { a href={ "/foyers/" (h.code) } { (h.code) } }
                            td { (h.display_name) }
                            td { @if h.user_id.is_some() { "Oui" } @else { "Non (guichet)" } }
                            td { (local_time(&h.created_at)) }
                        }
                    }
                }
            }
        }
        h2 { "Enregistrer un foyer" }
        (error_summary(errors))
        form class="formulaire" method="post" action="/instruction/foyers" novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            div class="champ" {
                label for="nom" { "Nom du foyer" span class="aide" { "Par exemple « Famille Martin »." } }
                input type="text" id="nom" name="nom" value=(form.nom) required
                    aria-invalid=(has_error(errors, "nom")) aria-describedby=[has_error(errors, "nom").then_some("nom-erreur")];
                (field_error(errors, "nom"))
            }
            div class="champ" {
                label for="compte" { "Identifiant du compte en ligne du foyer" span class="aide" { "Facultatif : laissez vide pour un foyer reçu au guichet sans compte." } }
                input type="text" id="compte" name="compte" value=(form.compte)
                    aria-invalid=(has_error(errors, "compte")) aria-describedby=[has_error(errors, "compte").then_some("compte-erreur")];
                (field_error(errors, "compte"))
            }
            button type="submit" { "Enregistrer le foyer" }
        }
    }
}

/// `GET /instruction/foyers`.
pub async fn households(State(state): State<AppState>, me: Principal) -> PageResult {
    let list = social_tariff::list_households(&state.db, me.household_scope()).await?;
    Ok(page(
        "Foyers",
        &me,
        "/instruction/foyers",
        households_page(&me, &list, &HouseholdForm::default(), &[]),
    ))
}

/// `POST /instruction/foyers`.
pub async fn households_create(
    State(state): State<AppState>,
    me: Principal,
    Form(form): Form<HouseholdForm>,
) -> PageResult {
    let mut errors = Vec::new();
    let mut user_id = None;
    let account = form.compte.trim();
    if !account.is_empty() {
        match storage::get_user(&state.db, &account.to_lowercase()).await? {
            Some(u) if u.roles.contains(&Role::Household) => user_id = Some(u.id),
            Some(_) => errors.push(("compte", "Ce compte n'a pas le rôle « Foyer ».".to_owned())),
            None => errors.push((
                "compte",
                "Aucun compte ne porte cet identifiant.".to_owned(),
            )),
        }
    }
    if errors.is_empty() {
        let new = social_tariff::NewHousehold {
            display_name: form.nom.clone(),
            user_id,
        };
        match social_tariff::create_household(&state.db, &me.actor(), &new).await {
            Ok(h) => return Ok(Redirect::to(&format!("/foyers/{}", h.code)).into_response()),
            Err(social_tariff::Error::Invalid(m)) => errors.push(("nom", m)),
            Err(e) => return Err(e.into()),
        }
    }
    let list = social_tariff::list_households(&state.db, me.household_scope()).await?;
    Ok(render(
        StatusCode::UNPROCESSABLE_ENTITY,
        layout(
            "Foyers",
            Some(&me),
            "/instruction/foyers",
            households_page(&me, &list, &form, &errors),
        ),
    ))
}

/// `GET /mon-espace`.
pub async fn household_home(State(state): State<AppState>, me: Principal) -> PageResult {
    household_home_with(&state, &me, StatusCode::OK, &[]).await
}

/// "Mon espace", with the errors of the equipment request if any.
pub async fn household_home_with(
    state: &AppState,
    me: &Principal,
    status: StatusCode,
    errors: &[(&'static str, String)],
) -> PageResult {
    let state = state.clone();
    let me = me.clone();
    let mine = social_tariff::list_households(&state.db, me.household_scope()).await?;
    let summary = crate::social::pages::household_summary(&state, &me).await?;
    let equipment = crate::social::grants::household_part(&state, &me, errors).await?;
    let invoices = crate::billing::pages::household_part(&state, &me).await?;
    let body = html! {
        h1 { "Mon espace" }
        p { "Bonjour " (me.display_name) "." }
        @if mine.is_empty() {
            p class="info" { "Votre compte n'est encore rattaché à aucun dossier : il le sera à votre première demande. Le service social de la mairie peut aussi vous aider, au guichet ou par téléphone." }
        } @else {
            ul class="cartes" {
                @for h in &mine {
                    li class="carte" {
                        h2 { (h.display_name) }
                        p { "Numéro de dossier : " strong { (h.code) } }
                        a href={ "/foyers/" (h.code) } { "Voir mon dossier" }
                    }
                }
            }
        }
        (summary)
        (equipment)
        (invoices)
        h2 { "Mes données" }
        p { a href="/mon-espace/donnees" { "Voir toutes les données que la régie conserve sur mon foyer" } " (et les télécharger)." }
    };
    Ok(render(
        status,
        layout("Mon espace", Some(&me), "/mon-espace", body),
    ))
}

/// `GET /foyers/{code}`: a household's file; a household sees only its own.
pub async fn household_show(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
) -> PageResult {
    let h = social_tariff::get_household(&state.db, me.household_scope(), &code).await?;
    let current = if me.has(Role::Household) && !me.has_any(&[Role::Admin, Role::SocialAgent]) {
        "/mon-espace"
    } else {
        "/instruction/foyers"
    };
    let agent = me.has_any(&[Role::Admin, Role::SocialAgent]);
    let record =
        crate::social::household_file::record(&state, me.household_scope(), &h.code, agent).await?;
    let body = html! {
        h1 { "Dossier " (h.code) }
        dl class="fiche" {
            div { dt { "Nom du foyer" } dd { (h.display_name) } }
            div { dt { "Enregistré le" } dd { (local_time(&h.created_at)) } }
            div { dt { "Compte en ligne" } dd { @if h.user_id.is_some() { "Oui" } @else { "Non, dossier suivi au guichet" } } }
        }
        (record)
        @if !agent {
            p { a href="/mon-espace/donnees" { "Voir toutes les données que la régie conserve sur mon foyer" } " (et les télécharger)." }
        }
        @if h.user_id.is_some() && me.has_any(&[Role::Admin, Role::SocialAgent]) {
            h2 { "Mot de passe oublié" }
            p { "Après avoir vérifié l'identité de la personne, remettez-lui un lien pour choisir un nouveau mot de passe (il sert une fois, pendant trois jours)." }
            form method="post" action={ "/foyers/" (h.code) "/nouveau-mot-de-passe" } {
                input type="hidden" name="csrf_token" value=(me.csrf());
                button type="submit" class="secondaire" { "Remettre un lien pour un nouveau mot de passe" }
            }
        }
    };
    Ok(page(&format!("Dossier {}", h.code), &me, current, body))
}

/// `GET /technicien/capacite`: eligibility per PM and the points that are
/// full or above 80 %.
pub async fn capacity_page(State(state): State<AppState>, me: Principal) -> PageResult {
    let in_use = state.provisioning.in_use().await?;
    let report = inventory::service::capacity(&state.db, &state.plant, in_use).await?;
    let flagged_splitters: Vec<_> = report.splitters.iter().filter(|u| u.flagged).collect();
    let flagged_ports: Vec<_> = report.pon_ports.iter().filter(|u| u.flagged).collect();
    let usage_table = |caption: &str, first: &str, rows: &[&inventory::capacity::Usage]| {
        html! {
            table tabindex="0" {
                caption { (caption) }
                thead { tr { th scope="col" { (first) } th scope="col" { "Lieu" } th scope="col" { "Pris par des lignes" } th scope="col" { "Câblés" } th scope="col" { "Capacité" } th scope="col" { "Taux" } } }
                tbody {
                    @for u in rows {
                        tr { td { (u.code) } td { (u.place) } td { (u.used) } td { (u.wired) } td { (u.capacity) } td { (u.percent) " %" @if u.used >= u.capacity { " (plein)" } } }
                    }
                }
            }
        }
    };
    let body = html! {
        h1 { "Capacité et éligibilité" }
        h2 { "Locaux par PM" }
        @if report.eligibility_by_pm.is_empty() {
            p class="info" { "Aucun réseau importé." }
        } @else {
            table tabindex="0" {
                caption class="visually-hidden" { "Éligibilité des locaux par PM" }
                thead { tr { th scope="col" { "PM" } th scope="col" { "Raccordables" } th scope="col" { "Branchement à construire" } th scope="col" { "Non couverts" } } }
                tbody {
                    @for (pm, c) in &report.eligibility_by_pm {
                        tr { td { (pm) } td { (c.connectable) } td { (c.drop_to_build) } td { (c.not_covered) } }
                    }
                }
            }
        }
        h2 { "Points saturés ou au-delà de 80 %" }
        p { (flagged_splitters.len()) " coupleurs sur " (report.splitters.len()) ", " (flagged_ports.len()) " ports PON sur " (report.pon_ports.len()) " ont 80 % ou plus de leurs sorties prises par des lignes (commandées, en service ou suspendues)." }
        p class="aide" { "« Câblés » : les sorties raccordées vers les boîtiers (coupleurs), les locaux desservis (ports PON), selon le réseau importé." }
        @if !flagged_splitters.is_empty() { (usage_table("Coupleurs (sorties utilisées)", "Coupleur (fibre d'entrée)", &flagged_splitters)) }
        @if !flagged_ports.is_empty() { (usage_table("Ports PON (locaux desservis)", "Port PON", &flagged_ports)) }
    };
    Ok(page(
        "Capacité et éligibilité",
        &me,
        "/technicien/capacite",
        body,
    ))
}

fn import_page(
    me: &Principal,
    outcome: Option<&inventory::service::ImportOutcome>,
    error: Option<&str>,
) -> Markup {
    let csrf = me.csrf();
    html! {
        h1 { "Importer une livraison GraceTHD" }
        p { "Envoyez la livraison (GraceTHD v2.0.1, format « shpcsv ») sous forme d'archive zip. Elle est entièrement vérifiée avant d'être enregistrée : au moindre problème bloquant, rien n'est écrit." }
        @if let Some(e) = error {
            div class="resume-erreurs" role="alert" tabindex="-1" { h2 { "L'import a échoué" } p { (e) } }
        }
        form class="formulaire" method="post" action="/technicien/import" enctype="multipart/form-data" {
            // First: the server checks it before reading the file.
            input type="hidden" name="csrf_token" value=(csrf);
            div class="champ" {
                label for="livraison" { "Archive zip de la livraison" span class="aide" { "Les fichiers " code { "t_*.csv" } ", " code { "l_*.csv" } ", les shapefiles et, s'il y a lieu, " code { "x_pon.csv" } " et " code { "x_splitter.csv" } "." } }
                input type="file" id="livraison" name="livraison" accept=".zip,application/zip" required;
            }
            div class="champ" {
                label class="case" { input type="checkbox" name="verification" value="1"; "Vérifier seulement (n'écrit rien)" }
            }
            button type="submit" { "Importer" }
        }
        @if let Some(o) = outcome {
            @let errors = o.report.error_count;
            @let warnings = o.report.warning_count;
            h2 { "Résultat" }
            @if errors > 0 {
                p class="resume-erreurs" role="alert" { strong { (errors) " erreur(s) : rien n'a été importé." } }
            } @else if let Some(s) = &o.summary {
                @let t = s.total();
                p class="succes" role="status" { "Import terminé en " (o.duration_ms) " ms : " (t.added) " ajouts, " (t.changed) " modifications, " (t.removed) " suppressions, " (t.unchanged) " inchangés." }
            } @else {
                p class="info" role="status" { "Vérification seule : aucune erreur, rien n'a été écrit." }
            }
            @if errors + warnings > 0 {
                table tabindex="0" {
                    caption { "Problèmes relevés (" (errors) " erreurs, " (warnings) " avertissements)" }
                    thead { tr { th scope="col" { "Gravité" } th scope="col" { "Fichier" } th scope="col" { "Ligne" } th scope="col" { "Champ" } th scope="col" { "Motif" } } }
                    tbody {
                        @for i in &o.report.issues {
                            tr {
                                td { @if i.severity == inventory::gracethd::Severity::Error { "Erreur" } @else { "Avertissement" } }
                                td { (i.file) } td { (i.line) } td { (i.field) } td { (i.reason) }
                            }
                        }
                    }
                }
                @if o.report.left_out > 0 {
                    p { "Et " (o.report.left_out) " autres problèmes, comptés mais non listés : corrigez d'abord ceux-ci." }
                }
            }
            table tabindex="0" {
                caption { "Lignes lues par fichier" }
                thead { tr { th scope="col" { "Fichier" } th scope="col" { "Lignes" } } }
                tbody { @for (f, n) in &o.counts { tr { td { (f) } td { (n) } } } }
            }
        }
    }
}

/// `GET /technicien/import`.
pub async fn import_form(me: Principal) -> Response {
    page(
        "Importer une livraison",
        &me,
        "/technicien/import",
        import_page(&me, None, None),
    )
}

/// `POST /technicien/import` (multipart: `livraison`, `verification`).
pub async fn import_submit(
    State(state): State<AppState>,
    me: Principal,
    mut multipart: axum::extract::Multipart,
) -> PageResult {
    let mut zip = None;
    let mut dry_run = false;
    let uploads = state.config.uploads;
    let scratch = state.config.scratch_dir();
    let failed = |me: &Principal, status: StatusCode, message: &str| {
        render(
            status,
            layout(
                "Importer une livraison",
                Some(me),
                "/technicien/import",
                import_page(me, None, Some(message)),
            ),
        )
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Ok(failed(
                    &me,
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "Envoi interrompu : {}",
                        crate::platform::upload::multipart_reason(&e)
                    ),
                ))
            }
        };
        match field.name() {
            // Written to disk as it arrives: never held in memory.
            Some("livraison") => {
                match crate::platform::upload::spool(field, &scratch, uploads.delivery_max_bytes())
                    .await
                {
                    Ok(path) => zip = path,
                    Err(e) => {
                        return Ok(failed(&me, e.status(), &e.public_message()));
                    }
                }
            }
            Some("verification") => dry_run = true,
            _ => {}
        }
    }
    let Some(zip) = zip else {
        return Ok(failed(
            &me,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choisissez l'archive zip de la livraison.",
        ));
    };
    match inventory::service::import_zip(
        &state.db,
        &state.plant,
        &me.actor(),
        &zip,
        dry_run,
        &scratch,
        &uploads.delivery_limits(),
    )
    .await
    {
        Ok(o) => {
            let status = if o.refused() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            Ok(render(
                status,
                layout(
                    "Importer une livraison",
                    Some(&me),
                    "/technicien/import",
                    import_page(&me, Some(&o), None),
                ),
            ))
        }
        Err(inventory::Error::Invalid(m) | inventory::Error::Busy(m)) => {
            let body = import_page(&me, None, Some(&sentence(&m)));
            Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                layout(
                    "Importer une livraison",
                    Some(&me),
                    "/technicien/import",
                    body,
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}
