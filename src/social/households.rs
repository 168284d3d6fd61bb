//! The social agent's home, the households (list, creation at the
//! counter, one household's page) and the household's own space.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;

use crate::platform::auth::{Principal, Role};
use crate::platform::storage;
use crate::platform::web::{
    error_summary, field_error, has_error, layout, local_time, page, render, PageError,
};
use crate::AppState;

type PageResult = Result<Response, PageError>;

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
