//! The social tariff's rules: the public page (the rules in force in plain
//! French with their délibération, older versions readable) and the admin's
//! page to preview and publish a new version.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;
use social_tariff::rules::{french_date, RuleSet, EXAMPLE};
use social_tariff::RuleSetRecord;

use crate::platform::auth::Principal;
use crate::platform::web::{error_summary, field_error, has_error, layout, render, PageError};
use crate::AppState;

type PageResult = Result<Response, PageError>;

pub const PUBLIC_PATH: &str = "/tarif-social/regles";
pub const ADMIN_PATH: &str = "/admin/tarif-social";

fn today() -> chrono::NaiveDate {
    regie_core::time::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive()
}

fn paragraphs(rules: &RuleSet) -> Markup {
    html! {
        @for p in rules.describe() {
            @if let Some(item) = p.strip_prefix("— ") {
                p class="critere" { (item) }
            } @else {
                p { (p) }
            }
        }
    }
}

fn version_line(r: &RuleSetRecord) -> Markup {
    html! {
        p class="aide" {
            "Version " (r.version) " — délibération n° " (r.rules.deliberation.numero)
            " du " (french_date(r.rules.deliberation.date)) ", publiée le "
            (regie_core::time::from_db(&r.published_at)
                .map(|t| french_date(t.with_timezone(&chrono_tz::Europe::Paris).date_naive()))
                .unwrap_or_else(|| r.published_at.clone()))
            "."
        }
    }
}

/// `GET /tarif-social/regles`: public.
pub async fn public(State(state): State<AppState>, me: Option<Principal>) -> PageResult {
    let all = social_tariff::rule_sets(&state.db).await?;
    let now = social_tariff::rule_set_in_force(&state.db, today()).await?;
    let body = html! {
        h1 { "Règles du tarif social" }
        @match &now {
            Some(r) => {
                (version_line(r))
                (paragraphs(&r.rules))
            }
            None => p class="info" { "Aucune règle n'est en vigueur aujourd'hui." }
        }
        @let older: Vec<&RuleSetRecord> = all.iter().filter(|r| Some(r.version) != now.as_ref().map(|n| n.version)).collect();
        @if !older.is_empty() {
            h2 { "Autres versions" }
            ul {
                @for r in older {
                    li { a href={ (PUBLIC_PATH) "/" (r.version) } {
                        "Version " (r.version) " — délibération n° " (r.rules.deliberation.numero)
                        ", à partir du " (french_date(r.rules.validite.du))
                        @if let Some(au) = r.rules.validite.au { " jusqu'au " (french_date(au)) }
                    } }
                }
            }
        }
    };
    Ok(render(
        StatusCode::OK,
        layout("Règles du tarif social", me.as_ref(), PUBLIC_PATH, body),
    ))
}

/// `GET /tarif-social/regles/{version}`: public.
pub async fn public_version(
    State(state): State<AppState>,
    me: Option<Principal>,
    Path(version): Path<i64>,
) -> PageResult {
    let r = social_tariff::rule_set(&state.db, version).await?;
    let in_force = social_tariff::rule_set_in_force(&state.db, today())
        .await?
        .is_some_and(|n| n.version == version);
    let body = html! {
        h1 { "Règles du tarif social, version " (r.version) }
        @if !in_force {
            p class="info" { "Cette version n'est pas celle en vigueur aujourd'hui. "
                a href=(PUBLIC_PATH) { "Voir les règles en vigueur" } "." }
        }
        (version_line(&r))
        (paragraphs(&r.rules))
    };
    Ok(render(
        StatusCode::OK,
        layout("Règles du tarif social", me.as_ref(), PUBLIC_PATH, body),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct RulesForm {
    #[serde(default)]
    document: String,
}

fn admin_page(
    me: &Principal,
    document: &str,
    preview: Option<&RuleSet>,
    notice: Option<Markup>,
    errors: &[(&str, String)],
) -> Markup {
    let csrf = me.csrf();
    let invalid = has_error(errors, "document");
    html! {
        h1 { "Règles du tarif social" }
        @if let Some(n) = notice { (n) }
        p { "Une nouvelle version s'écrit en entier ; une version publiée ne change plus et reste lisible sur "
            a href=(PUBLIC_PATH) { "la page publique" } "." }
        (error_summary(errors))
        form class="formulaire" method="post" action=(ADMIN_PATH) novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            div class="champ" {
                label for="document" { "Règlement (TOML)"
                    span class="aide" { "La délibération, la période, les niveaux, les critères et les conditions." } }
                textarea id="document" name="document" rows="30" spellcheck="false" maxlength="200000"
                    aria-invalid=(invalid) aria-describedby=[invalid.then_some("document-erreur")] { (document) }
                (field_error(errors, "document"))
            }
            div class="actions" {
                button type="submit" formaction={ (ADMIN_PATH) "/apercu" } { "Prévisualiser" }
                button type="submit" { "Publier cette version" }
            }
        }
        @if let Some(rules) = preview {
            section aria-labelledby="apercu" {
                h2 id="apercu" { "Aperçu : ce que lira le public" }
                (paragraphs(rules))
            }
        }
    }
}

fn admin_render(status: StatusCode, me: &Principal, body: Markup) -> Response {
    render(
        status,
        layout("Règles du tarif social", Some(me), ADMIN_PATH, body),
    )
}

/// `GET /admin/tarif-social`: the rules in force (or an example) to edit.
pub async fn admin(State(state): State<AppState>, me: Principal) -> PageResult {
    let document = match social_tariff::rule_sets(&state.db)
        .await?
        .into_iter()
        .next()
    {
        Some(r) => r.document,
        None => EXAMPLE.to_owned(),
    };
    Ok(admin_render(
        StatusCode::OK,
        &me,
        admin_page(&me, &document, None, None, &[]),
    ))
}

/// `POST /admin/tarif-social/apercu`: the document told in French, or why
/// it does not hold together.
pub async fn admin_preview(me: Principal, Form(form): Form<RulesForm>) -> PageResult {
    Ok(match RuleSet::parse(&form.document) {
        Ok(rules) => admin_render(
            StatusCode::OK,
            &me,
            admin_page(&me, &form.document, Some(&rules), None, &[]),
        ),
        Err(e) => admin_render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &me,
            admin_page(
                &me,
                &form.document,
                None,
                None,
                &[("document", e.to_string())],
            ),
        ),
    })
}

/// `POST /admin/tarif-social`: publishes the document as a new version.
pub async fn admin_publish(
    State(state): State<AppState>,
    me: Principal,
    Form(form): Form<RulesForm>,
) -> PageResult {
    match social_tariff::publish_rule_set(&state.db, &me.actor(), &form.document).await {
        Ok(r) => Ok(Redirect::to(&format!("{PUBLIC_PATH}/{}", r.version)).into_response()),
        Err(social_tariff::Error::Invalid(m)) => Ok(admin_render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &me,
            admin_page(&me, &form.document, None, None, &[("document", m)]),
        )),
        Err(e) => Err(crate::Error::from(e).into()),
    }
}
