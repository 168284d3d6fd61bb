//! The technician's page of PON ports: the OLT ports GraceTHD lacks, listed,
//! entered and removed by hand (the same checks as `x_pon.csv`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use inventory::budget::OpticalClass;
use inventory::extension::PonPort;
use maud::{html, Markup};
use serde::Deserialize;

use crate::platform::auth::Principal;
use crate::platform::web::{error_summary, field_error, has_error, layout, render, PageError};
use crate::AppState;

type PageResult = Result<Response, PageError>;

const PATH: &str = "/technicien/pon";
const TITLE: &str = "Ports PON";

/// The form, field by field, named as the columns of `x_pon.csv`.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct PonForm {
    #[serde(default)]
    pon_code: String,
    #[serde(default)]
    olt_code: String,
    #[serde(default)]
    olt_model: String,
    #[serde(default)]
    st_code: String,
    #[serde(default)]
    slot: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    optical_class: String,
    #[serde(default)]
    max_onts: String,
    #[serde(default)]
    fo_code: String,
}

impl PonForm {
    fn of(p: &PonPort) -> Self {
        Self {
            pon_code: p.code.clone(),
            olt_code: p.olt.clone(),
            olt_model: p.model.clone(),
            st_code: p.site.clone(),
            slot: p.slot.to_string(),
            port: p.port.to_string(),
            optical_class: p.class.label().to_owned(),
            max_onts: p.max_onts.to_string(),
            fo_code: p.fibre.clone(),
        }
    }

    /// The value of a column, as `inventory::service::save_pon_port` asks.
    fn field(&self, column: &str) -> &str {
        match column {
            "pon_code" => &self.pon_code,
            "olt_code" => &self.olt_code,
            "olt_model" => &self.olt_model,
            "st_code" => &self.st_code,
            "slot" => &self.slot,
            "port" => &self.port,
            "optical_class" => &self.optical_class,
            "max_onts" => &self.max_onts,
            "fo_code" => &self.fo_code,
            _ => "",
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct PonQuery {
    /// A port to edit.
    code: Option<String>,
    /// The port just saved.
    enregistre: Option<String>,
    /// The port just removed.
    supprime: Option<String>,
}

fn text_field(
    form: &PonForm,
    errors: &[(&str, String)],
    name: &'static str,
    label: &str,
    help: &str,
) -> Markup {
    let invalid = has_error(errors, name);
    html! {
        div class="champ" {
            label for=(name) { (label) @if !help.is_empty() { span class="aide" { (help) } } }
            input type="text" id=(name) name=(name) value=(form.field(name))
                aria-invalid=(invalid) aria-describedby=[invalid.then(|| format!("{name}-erreur"))];
            (field_error(errors, name))
        }
    }
}

fn pon_page(
    me: &Principal,
    ports: &[PonPort],
    notice: Option<Markup>,
    form: &PonForm,
    errors: &[(&str, String)],
) -> Markup {
    let csrf = me.csrf();
    let class_invalid = has_error(errors, "optical_class");
    html! {
        h1 { (TITLE) }
        @if let Some(n) = notice { (n) }
        p { "Les ports des OLT et la fibre de transport à laquelle chacun est raccordé au NRO. "
            "Une livraison qui contient " code { "x_pon.csv" } " remplace cette liste ; une livraison sans ce fichier la garde." }
        @if ports.is_empty() {
            p class="info" { "Aucun port PON." }
        } @else {
            table class="empilee" {
                caption class="visually-hidden" { "Ports PON" }
                thead { tr {
                    th scope="col" { "Port" } th scope="col" { "OLT" } th scope="col" { "Modèle" } th scope="col" { "Site" }
                    th scope="col" { "Carte / port" } th scope="col" { "Classe" } th scope="col" { "ONT max." } th scope="col" { "Fibre" }
                    th scope="col" { "Actions" }
                } }
                tbody {
                    @for p in ports {
                        tr {
                            td data-label="Port" { strong { (p.code) } } td data-label="OLT" { (p.olt) }
                            td data-label="Modèle" { (p.model) } td data-label="Site" { (p.site) }
                            td data-label="Carte / port" { (p.slot) " / " (p.port) } td data-label="Classe" { (p.class.label()) }
                            td data-label="ONT max." { (p.max_onts) } td data-label="Fibre" { (p.fibre) }
                            td {
                                a href={ (PATH) "?code=" (p.code) "#formulaire" } { "Modifier" span class="visually-hidden" { " le port " (p.code) } }
                                form class="en-ligne" method="post" action={ (PATH) "/supprimer" } {
                                    input type="hidden" name="csrf_token" value=(csrf);
                                    input type="hidden" name="pon_code" value=(p.code);
                                    button type="submit" { "Supprimer" span class="visually-hidden" { " le port " (p.code) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 id="formulaire" { "Ajouter ou modifier un port" }
        p { "Un port du même code est remplacé." }
        (error_summary(errors))
        form class="formulaire" method="post" action=(PATH) novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            (text_field(form, errors, "pon_code", "Code du port", "Par exemple OLT01-1/0."))
            (text_field(form, errors, "olt_code", "Code de l'OLT", ""))
            (text_field(form, errors, "olt_model", "Modèle de l'OLT", "Facultatif."))
            (text_field(form, errors, "st_code", "Site de l'OLT", "Code du site (t_sitetech)."))
            (text_field(form, errors, "slot", "Carte", "Numéro de la carte dans l'OLT."))
            (text_field(form, errors, "port", "Port", "Numéro du port sur la carte."))
            div class="champ" {
                label for="optical_class" { "Classe optique" }
                select id="optical_class" name="optical_class"
                    aria-invalid=(class_invalid) aria-describedby=[class_invalid.then_some("optical_class-erreur")] {
                    @for c in OpticalClass::ALL {
                        option value=(c.label()) selected[form.optical_class == c.label()] { (c.label()) }
                    }
                }
                (field_error(errors, "optical_class"))
            }
            (text_field(form, errors, "max_onts", "ONT au plus", "De 1 à 256."))
            (text_field(form, errors, "fo_code", "Fibre raccordée au NRO", "Code de la fibre (t_fibre)."))
            button type="submit" { "Enregistrer le port" }
        }
    }
}

fn ok(me: &Principal, body: Markup) -> Response {
    crate::platform::web::page(TITLE, me, PATH, body)
}

/// `GET /technicien/pon`.
pub async fn pon_ports(
    State(state): State<AppState>,
    me: Principal,
    Query(q): Query<PonQuery>,
) -> PageResult {
    let ports = inventory::service::pon_ports(&state.db, &state.plant).await?;
    let notice = match (&q.enregistre, &q.supprime) {
        (Some(c), _) => Some(
            html! { p class="succes" role="status" { "Le port " strong { (c) } " est enregistré." } },
        ),
        (_, Some(c)) => Some(
            html! { p class="succes" role="status" { "Le port " strong { (c) } " est supprimé." } },
        ),
        _ => None,
    };
    let form = q
        .code
        .as_deref()
        .and_then(|c| ports.iter().find(|p| p.code == c))
        .map(PonForm::of)
        .unwrap_or_else(|| PonForm {
            optical_class: OpticalClass::GponBPlus.label().to_owned(),
            max_onts: "128".into(),
            ..PonForm::default()
        });
    Ok(ok(&me, pon_page(&me, &ports, notice, &form, &[])))
}

/// `POST /technicien/pon`: saves a port, or shows the form again with the
/// problems next to their fields.
pub async fn pon_save(
    State(state): State<AppState>,
    me: Principal,
    Form(form): Form<PonForm>,
) -> PageResult {
    let saved =
        inventory::service::save_pon_port(&state.db, &state.plant, &me.actor(), |c| form.field(c))
            .await;
    let errors: Vec<(&str, String)> = match saved {
        Ok((port, _)) => {
            return Ok(
                Redirect::to(&format!("{PATH}?enregistre={}", urlencode(&port.code)))
                    .into_response(),
            )
        }
        Err(inventory::Error::Fields(issues)) => {
            issues.into_iter().map(|i| (i.field, i.reason)).collect()
        }
        Err(e) => return Err(e.into()),
    };
    let ports = inventory::service::pon_ports(&state.db, &state.plant).await?;
    Ok(render(
        StatusCode::UNPROCESSABLE_ENTITY,
        layout(
            TITLE,
            Some(&me),
            PATH,
            pon_page(&me, &ports, None, &form, &errors),
        ),
    ))
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    pon_code: String,
    /// `oui` once the confirmation page was seen.
    #[serde(default)]
    confirme: String,
}

/// `POST /technicien/pon/supprimer`: first a page naming what will be
/// lost, then (confirmed) the removal.
pub async fn pon_delete(
    State(state): State<AppState>,
    me: Principal,
    Form(form): Form<DeleteForm>,
) -> PageResult {
    crate::network::ensure_unused(&state, &form.pon_code).await?;
    if form.confirme != "oui" {
        let plant = state.plant.get(&state.db).await?;
        let behind = inventory::trace::downstream(
            &plant,
            inventory::trace::From::PonPort(form.pon_code.clone()),
        )
        .map(|d| d.premises.len())
        .unwrap_or(0);
        let csrf = me.csrf();
        let body = html! {
            h1 { "Supprimer le port PON " (form.pon_code) " ?" }
            div class="info alerte-bloc" {
                p { strong { "Cette suppression ne peut pas être défaite." } }
                ul {
                    li { "Le port " (form.pon_code) " disparaît de l'inventaire : plus aucune ligne ne pourra y être commandée." }
                    li { (behind) " local(aux) desservi(s) par ce port ne seront plus rattachés à un OLT tant qu'un port ne le remplace pas." }
                    li { "Aucune ligne n'y est en service (sinon la suppression serait refusée)." }
                }
            }
            form method="post" action={ (PATH) "/supprimer" } {
                input type="hidden" name="csrf_token" value=(csrf);
                input type="hidden" name="pon_code" value=(form.pon_code);
                input type="hidden" name="confirme" value="oui";
                button type="submit" class="danger" { "Supprimer définitivement le port " (form.pon_code) }
            }
            p { a href=(PATH) { "Non, revenir aux ports PON" } }
        };
        return Ok(crate::platform::web::render(
            axum::http::StatusCode::OK,
            crate::platform::web::layout("Supprimer un port PON", Some(&me), PATH, body),
        ));
    }
    inventory::service::delete_pon_port(&state.db, &state.plant, &me.actor(), &form.pon_code)
        .await?;
    Ok(Redirect::to(&format!("{PATH}?supprime={}", urlencode(&form.pon_code))).into_response())
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
