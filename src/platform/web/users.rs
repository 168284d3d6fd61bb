//! The administrator's page for one account (name, roles, disable and
//! re-enable, unlock after failed logins) and the page where anyone
//! changes their own password. Both call `auth::accounts`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;

use crate::platform::auth::accounts::{self, AccountChange};
use crate::platform::auth::{password, DisplayName, Principal, Role};
use crate::platform::storage;
use crate::platform::web::{
    error_summary, field_error, has_error, layout, local_time, render, PageError,
};
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

fn user_page(
    me: &Principal,
    u: &storage::User,
    email: Option<&str>,
    totp: bool,
    failures: i64,
    notice: Option<&str>,
    errors: &[(&str, String)],
) -> Markup {
    let csrf = me.csrf();
    let base = format!("/admin/utilisateurs/{}", u.username);
    html! {
        p { a href="/admin/utilisateurs" { "← Tous les comptes" } }
        h1 { "Compte " (u.username) }
        @if let Some(n) = notice { p class="succes" role="status" { (n) } }
        (error_summary(errors))
        dl {
            dt { "État" } dd { @if u.disabled { "Désactivé : plus aucune connexion possible" } @else { "Actif" } }
            dt { "Créé le" } dd { (local_time(&u.created_at)) }
            dt { "Échecs de connexion (24 h)" } dd { (failures) }
        }
        h2 { "Nom et rôles" }
        form class="formulaire" method="post" action=(base) novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            div class="champ" {
                label for="nom" { "Nom affiché" span class="aide" { "Au plus " (DisplayName::MAX_CHARS) " caractères." } }
                input type="text" id="nom" name="nom" value=(u.display_name) maxlength=(DisplayName::MAX_CHARS)
                    aria-invalid=(has_error(errors, "nom")) aria-describedby=[has_error(errors, "nom").then_some("nom-erreur")];
                (field_error(errors, "nom"))
            }
            fieldset id="roles" {
                legend { "Rôles" }
                (field_error(errors, "roles"))
                @for r in Role::ALL {
                    label class="case" {
                        input type="checkbox" name="roles" value=(r.as_str()) checked[u.roles.contains(&r)];
                        (r.label_fr())
                    }
                }
            }
            button type="submit" { "Enregistrer" }
        }
        h2 { "Adresse électronique" }
        form class="formulaire" method="post" action={ (base) "/courriel" } novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            div class="champ" {
                label for="courriel" { "Adresse électronique" span class="aide" { "Facultative : elle reçoit les liens « mot de passe oublié »." } }
                input type="email" id="courriel" name="courriel" value=(email.unwrap_or_default()) maxlength="254" autocomplete="off"
                    aria-invalid=(has_error(errors, "courriel")) aria-describedby=[has_error(errors, "courriel").then_some("courriel-erreur")];
                (field_error(errors, "courriel"))
            }
            button type="submit" class="secondaire" { "Enregistrer l'adresse" }
        }
        h2 { "Accès" }
        form method="post" action={ (base) "/nouveau-mot-de-passe" } {
            input type="hidden" name="csrf_token" value=(csrf);
            p class="aide" { "Exiger un nouveau mot de passe : l'ancien cesse aussitôt de fonctionner, ses sessions sont fermées, et vous obtenez un lien à remettre à la personne." }
            button type="submit" class="secondaire" { "Exiger un nouveau mot de passe" }
        }
        @if totp {
            form method="post" action={ (base) "/double-authentification/retirer" } {
                input type="hidden" name="csrf_token" value=(csrf);
                p class="aide" { "La double authentification est active. Téléphone perdu ? Retirez-la, après avoir vérifié l'identité de la personne : elle pourra la remettre depuis son compte." }
                button type="submit" class="secondaire" { "Retirer la double authentification" }
            }
        }
        @if failures > 0 {
            form method="post" action={ (base) "/debloquer" } {
                input type="hidden" name="csrf_token" value=(csrf);
                p class="aide" { "Après plusieurs échecs, chaque nouvel essai attend de plus en plus longtemps (une heure au plus). Débloquer efface les échecs." }
                button type="submit" class="secondaire" { "Débloquer la connexion" }
            }
        }
        @if u.disabled {
            form method="post" action={ (base) "/reactiver" } {
                input type="hidden" name="csrf_token" value=(csrf);
                button type="submit" { "Réactiver le compte" }
            }
        } @else if u.username != me.username {
            form method="post" action={ (base) "/desactiver" } {
                input type="hidden" name="csrf_token" value=(csrf);
                p class="aide" { "Désactiver ferme aussitôt toutes ses sessions et révoque ses jetons d'API ; ses traces au journal restent." }
                button type="submit" class="danger" { "Désactiver le compte" }
            }
        }
    }
}

async fn show(
    state: &AppState,
    me: &Principal,
    username: &str,
    status: StatusCode,
    notice: Option<&str>,
    errors: &[(&str, String)],
) -> PageResult {
    let u = storage::get_user(&state.db, username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("aucun compte « {username} »")))?;
    let failures = storage::login_failures_since(&state.db, username, "", regie_core::time::now())
        .await?
        .account;
    let email = crate::platform::auth::reset::email_of(&state.db, u.id).await?;
    let totp = crate::platform::auth::totp::enrolled(&state.db, u.id).await?;
    let title = format!("Compte {}", u.username);
    Ok(render(
        status,
        layout(
            &title,
            Some(me),
            "/admin/utilisateurs",
            user_page(me, &u, email.as_deref(), totp, failures, notice, errors),
        ),
    ))
}

/// The account's page again, with an error beside one field.
pub(crate) async fn show_with_error(
    state: &AppState,
    me: &Principal,
    username: &str,
    error: (&str, String),
) -> PageResult {
    show(
        state,
        me,
        username,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        &[error],
    )
    .await
}

/// `GET /admin/utilisateurs/{username}`.
pub async fn user(
    State(state): State<AppState>,
    me: Principal,
    Path(username): Path<String>,
    axum::extract::Query(q): axum::extract::Query<Saved>,
) -> PageResult {
    let notice = q
        .enregistre
        .is_some()
        .then_some("Modifications enregistrées.");
    show(&state, &me, &username, StatusCode::OK, notice, &[]).await
}

/// `?enregistre=1` after a change saved.
#[derive(Debug, Deserialize)]
pub struct Saved {
    enregistre: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct UserForm {
    #[serde(default)]
    nom: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// `POST /admin/utilisateurs/{username}`: name and roles.
pub async fn user_save(
    State(state): State<AppState>,
    me: Principal,
    Path(username): Path<String>,
    Form(form): Form<UserForm>,
) -> PageResult {
    let roles: Vec<Role> = form
        .roles
        .iter()
        .filter_map(|r| Role::parse(r).ok())
        .collect();
    let mut errors = Vec::new();
    if roles.is_empty() {
        errors.push(("roles", "Choisissez au moins un rôle.".to_owned()));
    } else {
        let change = AccountChange {
            display_name: Some(form.nom.clone()),
            roles: Some(roles),
            disabled: None,
        };
        match accounts::change_account(&state.db, &me, &username, change).await {
            Ok(_) => {
                return Ok(
                    Redirect::to(&format!("/admin/utilisateurs/{username}?enregistre=1"))
                        .into_response(),
                )
            }
            Err(Error::Invalid(m)) if m.contains("nom affiché") => errors.push(("nom", m)),
            Err(Error::Invalid(m)) => errors.push(("roles", m)),
            Err(e) => return Err(e.into()),
        }
    }
    show(
        &state,
        &me,
        &username,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        &errors,
    )
    .await
}

async fn access(state: &AppState, me: &Principal, username: &str, disabled: bool) -> PageResult {
    let change = AccountChange {
        disabled: Some(disabled),
        ..AccountChange::default()
    };
    match accounts::change_account(&state.db, me, username, change).await {
        Ok(_) => {
            let notice = if disabled {
                "Compte désactivé : ses sessions et jetons sont révoqués."
            } else {
                "Compte réactivé."
            };
            show(state, me, username, StatusCode::OK, Some(notice), &[]).await
        }
        Err(Error::Invalid(m)) => {
            show(
                state,
                me,
                username,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &[("roles", m)],
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/utilisateurs/{username}/desactiver`.
pub async fn user_disable(
    State(state): State<AppState>,
    me: Principal,
    Path(username): Path<String>,
) -> PageResult {
    access(&state, &me, &username, true).await
}

/// `POST /admin/utilisateurs/{username}/reactiver`.
pub async fn user_enable(
    State(state): State<AppState>,
    me: Principal,
    Path(username): Path<String>,
) -> PageResult {
    access(&state, &me, &username, false).await
}

/// `POST /admin/utilisateurs/{username}/double-authentification/retirer`:
/// for a person who lost the phone with the application; audited.
pub async fn user_remove_totp(
    State(state): State<AppState>,
    me: Principal,
    Path(username): Path<String>,
) -> PageResult {
    let u = storage::get_user(&state.db, &username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("aucun compte « {username} »")))?;
    crate::platform::auth::totp::disable(&state.db, &me.actor(), u.id, &u.username).await?;
    show(
        &state,
        &me,
        &username,
        StatusCode::OK,
        Some(
            "Double authentification retirée : la personne se connecte avec son seul mot de passe.",
        ),
        &[],
    )
    .await
}

/// `POST /admin/utilisateurs/{username}/debloquer`.
pub async fn user_unlock(
    State(state): State<AppState>,
    me: Principal,
    Path(username): Path<String>,
) -> PageResult {
    accounts::unlock(&state.db, &me, &username).await?;
    show(
        &state,
        &me,
        &username,
        StatusCode::OK,
        Some("Connexion débloquée : les échecs sont effacés."),
        &[],
    )
    .await
}

/// The new password, typed twice, with the rule said beside it.
pub(crate) fn new_password_fields(errors: &[(&str, String)]) -> Markup {
    html! {
        div class="champ" {
            label for="nouveau" { "Nouveau mot de passe" span class="aide" { "Au moins " (password::MIN_CHARS) " caractères ; une phrase de quelques mots convient. Les mots de passe les plus courants sont refusés." } }
            input type="password" id="nouveau" name="nouveau" autocomplete="new-password" required
                aria-invalid=(has_error(errors, "nouveau")) aria-describedby=[has_error(errors, "nouveau").then_some("nouveau-erreur")];
            (field_error(errors, "nouveau"))
        }
        div class="champ" {
            label for="confirmation" { "Nouveau mot de passe, encore une fois" }
            input type="password" id="confirmation" name="confirmation" autocomplete="new-password" required
                aria-invalid=(has_error(errors, "confirmation")) aria-describedby=[has_error(errors, "confirmation").then_some("confirmation-erreur")];
            (field_error(errors, "confirmation"))
        }
    }
}

fn password_page(me: &Principal, done: bool, errors: &[(&str, String)]) -> Markup {
    let csrf = me.csrf();
    html! {
        p { a href="/compte" { "← Mon compte" } }
        h1 { "Changer mon mot de passe" }
        @if done { p class="succes" role="status" { "Mot de passe changé. Vos autres sessions ont été fermées." } }
        (error_summary(errors))
        form class="formulaire" method="post" action="/compte/mot-de-passe" novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            div class="champ" {
                label for="actuel" { "Mot de passe actuel" }
                input type="password" id="actuel" name="actuel" autocomplete="current-password" required
                    aria-invalid=(has_error(errors, "actuel")) aria-describedby=[has_error(errors, "actuel").then_some("actuel-erreur")];
                (field_error(errors, "actuel"))
            }
            (new_password_fields(errors))
            button type="submit" { "Changer le mot de passe" }
        }
    }
}

/// `GET /compte/mot-de-passe`.
pub async fn password_form(me: Principal) -> PageResult {
    Ok(render(
        StatusCode::OK,
        layout(
            "Changer mon mot de passe",
            Some(&me),
            "/compte",
            password_page(&me, false, &[]),
        ),
    ))
}

#[derive(Deserialize, Default)]
pub struct PasswordForm {
    #[serde(default)]
    actuel: String,
    #[serde(default)]
    nouveau: String,
    #[serde(default)]
    confirmation: String,
}

impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordForm").finish_non_exhaustive()
    }
}

/// `POST /compte/mot-de-passe`.
pub async fn password_submit(
    State(state): State<AppState>,
    me: Principal,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    let outcome = accounts::change_own_password(
        &state.db,
        &me,
        &form.actuel,
        &form.nouveau,
        &form.confirmation,
    )
    .await;
    let (status, done, errors) = match outcome {
        Ok(()) => (StatusCode::OK, true, Vec::new()),
        Err(Error::Invalid(m)) => {
            let field = if m.contains("actuel n'est pas") {
                "actuel"
            } else if m.contains("diffèrent") {
                "confirmation"
            } else {
                "nouveau"
            };
            (StatusCode::UNPROCESSABLE_ENTITY, false, vec![(field, m)])
        }
        Err(e) => return Err(e.into()),
    };
    Ok(render(
        status,
        layout(
            "Changer mon mot de passe",
            Some(&me),
            "/compte",
            password_page(&me, done, &errors),
        ),
    ))
}
