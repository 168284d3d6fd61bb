//! The page of devices polled over SNMP: those of the configuration file,
//! those an admin added (a form, secrets never shown again), and the
//! inventory's OLTs nobody polls yet.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use monitoring::devices::DeviceForm;
use serde::Deserialize;

use crate::monitoring::views::DeviceView;
use crate::platform::auth::{Principal, Role};
use crate::platform::web::{error_summary, field_error, has_error, layout, render, PageError};
use crate::AppState;

type PageResult = Result<Response, PageError>;

pub const PATH: &str = "/technicien/equipements";
const TITLE: &str = "Équipements supervisés";

/// The form as typed: numbers stay text until checked.
#[derive(Deserialize, Default, Clone)]
pub struct DevicePageForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    community: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    auth: String,
    #[serde(default)]
    auth_key: String,
    #[serde(default)]
    priv_key: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    timeout_ms: String,
    #[serde(default)]
    retries: String,
}

impl std::fmt::Debug for DevicePageForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevicePageForm")
            .field("name", &self.name)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl DevicePageForm {
    fn field(&self, name: &str) -> &str {
        match name {
            "name" => &self.name,
            "address" => &self.address,
            "user" => &self.user,
            "context" => &self.context,
            "timeout_ms" => &self.timeout_ms,
            "retries" => &self.retries,
            // Secrets are never written back into a page.
            _ => "",
        }
    }

    /// The domain's form; a number that is not one is named by its field.
    fn parse(&self) -> Result<DeviceForm, (&'static str, String)> {
        fn number<T: std::str::FromStr>(
            text: &str,
            field: &'static str,
        ) -> Result<Option<T>, (&'static str, String)> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse()
                .map(Some)
                .map_err(|_| (field, format!("« {text} » n'est pas un nombre entier")))
        }
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
        Ok(DeviceForm {
            name: self.name.clone(),
            address: self.address.clone(),
            version: self.version.clone(),
            community: some(&self.community),
            user: some(&self.user),
            auth: some(&self.auth),
            auth_key: some(&self.auth_key),
            priv_key: some(&self.priv_key),
            context: some(&self.context),
            timeout_ms: number(&self.timeout_ms, "timeout_ms")?,
            retries: number(&self.retries, "retries")?,
        })
    }
}

fn text_field(
    form: &DevicePageForm,
    errors: &[(&str, String)],
    name: &'static str,
    kind: &str,
    label: &str,
    help: &str,
) -> Markup {
    let invalid = has_error(errors, name);
    html! {
        div class="champ" {
            label for=(name) { (label) @if !help.is_empty() { span class="aide" { (help) } } }
            input type=(kind) id=(name) name=(name) value=(form.field(name)) autocomplete="off"
                aria-invalid=(invalid) aria-describedby=[invalid.then(|| format!("{name}-erreur"))];
            (field_error(errors, name))
        }
    }
}

pub(crate) fn status_label(v: &DeviceView) -> String {
    match (v.status, &v.last_error, &v.last_ok_at) {
        ("polled", Some(e), _) => format!("en défaut : {e}"),
        ("polled", None, Some(at)) => {
            format!(
                "répond (dernier relevé le {})",
                crate::platform::web::local_time(at)
            )
        }
        ("polled", None, None) => "pas encore interrogé".into(),
        ("secret_unreadable", _, _) => {
            "secret illisible (clé changée) : à saisir de nouveau".into()
        }
        _ => "non supervisé : ajoutez-le avec son adresse".into(),
    }
}

fn page(
    me: &Principal,
    devices: &[DeviceView],
    notice: Option<Markup>,
    form: &DevicePageForm,
    errors: &[(&str, String)],
) -> Markup {
    let csrf = me.csrf();
    let admin = me.roles.contains(&Role::Admin);
    html! {
        h1 { (TITLE) }
        @if let Some(n) = notice { (n) }
        p { "Les équipements interrogés en SNMP, chacun à son rythme : ceux du fichier de configuration, ceux ajoutés ici, "
            "et les OLT de l'inventaire dont l'entrée " code { "[[olt]]" } " donne l'adresse. "
            "Les communautés et les clés sont enregistrées chiffrées et ne sont jamais réaffichées." }
        @if devices.is_empty() {
            p class="info" { "Aucun équipement." }
        } @else {
            div class="defilant" {
                table tabindex="0" {
                    caption class="visually-hidden" { "Équipements" }
                    thead { tr {
                        th scope="col" { "Nom" } th scope="col" { "Adresse" } th scope="col" { "SNMP" }
                        th scope="col" { "Origine" } th scope="col" { "État" }
                        @if admin { th scope="col" { "Actions" } }
                    } }
                    tbody {
                        @for d in devices {
                            tr {
                                td {
                                    @if d.status == "polled" {
                                        a href={ (PATH) "/" (d.name) } { (d.name) }
                                    } @else { (d.name) }
                                }
                                td { (d.address.as_deref().unwrap_or("—")) }
                                td { (d.version.as_deref().unwrap_or("—")) @if let Some(u) = &d.user { " (" (u) ")" } }
                                td { (d.origin.map(|o| o.label()).unwrap_or("inventaire")) }
                                td { (status_label(d)) }
                                @if admin {
                                    td {
                                        @if d.added.is_some() {
                                            form class="en-ligne" method="post" action={ (PATH) "/" (d.name) "/retrait" } {
                                                input type="hidden" name="csrf_token" value=(csrf);
                                                button type="submit" { "Retirer" span class="visually-hidden" { " l'équipement " (d.name) } }
                                            }
                                        } @else if d.status == "unmonitored" {
                                            a href={ (PATH) "?nom=" (d.name) "#formulaire" } { "Ajouter" span class="visually-hidden" { " l'OLT " (d.name) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if admin {
            h2 id="formulaire" { "Ajouter un équipement" }
            (error_summary(errors))
            form class="formulaire" method="post" action=(PATH) novalidate {
                input type="hidden" name="csrf_token" value=(csrf);
                (text_field(form, errors, "name", "text", "Nom", "Pour une OLT, son code dans l'inventaire (par ex. OLT01)."))
                (text_field(form, errors, "address", "text", "Adresse", "Adresse IP, suivie de « :port » si ce n'est pas 161."))
                fieldset {
                    legend { "Version SNMP" }
                    @for (value, label) in [("v2c", "SNMPv2c (communauté)"), ("v3", "SNMPv3 authPriv (AES-128)")] {
                        div class="choix" {
                            input type="radio" id={ "version-" (value) } name="version" value=(value)
                                checked[form.version == value || (form.version.is_empty() && value == "v2c")];
                            label for={ "version-" (value) } { (label) }
                        }
                    }
                    (field_error(errors, "version"))
                }
                (text_field(form, errors, "community", "password", "Communauté (v2c)", ""))
                (text_field(form, errors, "user", "text", "Utilisateur (v3)", ""))
                div class="champ" {
                    label for="auth" { "Authentification (v3)" }
                    select id="auth" name="auth" {
                        option value="sha256" selected[form.auth != "sha1"] { "SHA-256" }
                        option value="sha1" selected[form.auth == "sha1"] { "SHA-1" }
                    }
                    (field_error(errors, "auth"))
                }
                (text_field(form, errors, "auth_key", "password", "Clé d'authentification (v3)", "8 caractères au moins."))
                (text_field(form, errors, "priv_key", "password", "Clé de chiffrement (v3)", "8 caractères au moins."))
                (text_field(form, errors, "context", "text", "Contexte SNMPv3 (facultatif)", "Le contexte que l'équipement demande ; vide : celui par défaut."))
                (text_field(form, errors, "timeout_ms", "text", "Délai d'attente (ms)", "De 100 à 60 000 ; 2 000 si vide."))
                (text_field(form, errors, "retries", "text", "Nouvelles tentatives", "De 0 à 10 ; 2 si vide."))
                button type="submit" { "Ajouter l'équipement" }
            }
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct DevicesQuery {
    /// An inventory OLT to add (prefills the name).
    nom: Option<String>,
    ajoute: Option<String>,
    retire: Option<String>,
}

/// `GET /technicien/equipements`.
pub async fn devices(
    State(state): State<AppState>,
    me: Principal,
    Query(q): Query<DevicesQuery>,
) -> PageResult {
    let list = crate::monitoring::views::device_views(&state).await?;
    let notice = match (&q.ajoute, &q.retire) {
        (Some(n), _) => Some(
            html! { p class="succes" role="status" { "L'équipement " strong { (n) } " est ajouté ; il sera interrogé dans l'intervalle qui vient." } },
        ),
        (_, Some(n)) => Some(
            html! { p class="succes" role="status" { "L'équipement " strong { (n) } " n'est plus interrogé." } },
        ),
        _ => None,
    };
    let form = DevicePageForm {
        name: q.nom.unwrap_or_default(),
        ..DevicePageForm::default()
    };
    Ok(render(
        StatusCode::OK,
        layout(TITLE, Some(&me), PATH, page(&me, &list, notice, &form, &[])),
    ))
}

/// `POST /technicien/equipements`: adds a device, or shows the form again
/// with the problem next to its field (secrets are not written back).
pub async fn add(
    State(state): State<AppState>,
    me: Principal,
    Form(form): Form<DevicePageForm>,
) -> PageResult {
    let added = match form.parse() {
        Ok(parsed) => crate::monitoring::views::add(&state, &me, &parsed)
            .await
            .map_err(|(field, e)| match e {
                crate::Error::Invalid(m) | crate::Error::Conflict(m) => Ok((field, m)),
                other => Err(other),
            }),
        Err(e) => Err(Ok(e)),
    };
    let errors = match added {
        Ok(d) => {
            return Ok(
                Redirect::to(&format!("{PATH}?ajoute={}", urlencode(&d.name))).into_response(),
            )
        }
        Err(Ok((field, message))) => vec![(field, message)],
        Err(Err(e)) => return Err(e.into()),
    };
    let list = crate::monitoring::views::device_views(&state).await?;
    Ok(render(
        StatusCode::UNPROCESSABLE_ENTITY,
        layout(
            TITLE,
            Some(&me),
            PATH,
            page(&me, &list, None, &form, &errors),
        ),
    ))
}

/// `POST /technicien/equipements/{name}/retrait`.
pub async fn remove(
    State(state): State<AppState>,
    me: Principal,
    Path(name): Path<String>,
) -> PageResult {
    monitoring::storage::remove_device(&state.db, &me.actor(), &name)
        .await
        .map_err(crate::Error::from)?;
    Ok(Redirect::to(&format!("{PATH}?retire={}", urlencode(&name))).into_response())
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
