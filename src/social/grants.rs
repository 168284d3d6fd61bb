//! Pages of the refurbished-equipment grants: the agents' page (the year's
//! envelope, the stock received from partners, the waiting list in order,
//! handovers and cancellations, requests made at the counter) and the
//! household's part of "Mon espace" (its request and where it stands).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use chrono::{Datelike, NaiveDate};
use maud::{html, Markup};
use serde::Deserialize;
use social_tariff::grants::{
    euros, parse_euros, Attestation, Condition, DeviceKind, DeviceStatus, Grant, GrantStatus,
    NewDevice,
};
use social_tariff::rules::french_date;
use social_tariff::Scope;

use crate::platform::auth::Principal;
use crate::platform::web::{
    error_summary, field_error, has_error, layout, local_time, render, PageError,
};
use crate::social::today;
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;
type Errors = Vec<(&'static str, String)>;

pub const AGENT_PAGE: &str = "/instruction/equipements";
pub const HOUSEHOLD_REQUEST: &str = "/mon-espace/equipement";

fn kind_options(selected: Option<DeviceKind>) -> Markup {
    html! {
        @for k in DeviceKind::ALL {
            option value=(k.as_str()) selected[selected == Some(k)] { (k.label()) }
        }
    }
}

fn status_text(g: &Grant) -> String {
    match (g.status, g.position) {
        (GrantStatus::Waiting, Some(p)) => format!("{} (rang {p})", g.status.label()),
        _ => g.status.label().to_owned(),
    }
}

/// The fields of the device form, as typed, to show them back on error.
#[derive(Debug, Deserialize, Default)]
pub struct DevicePost {
    #[serde(default)]
    partenaire: String,
    #[serde(default)]
    type_appareil: String,
    #[serde(default)]
    modele: String,
    #[serde(default)]
    numero_serie: String,
    #[serde(default)]
    etat: String,
    #[serde(default)]
    valeur: String,
    #[serde(default)]
    recu_le: String,
}

impl DevicePost {
    /// The device, or the errors by field.
    fn parse(&self) -> Result<NewDevice, Errors> {
        let mut errors = Errors::new();
        let mut need = |field: &'static str, v: &str, what: &str| {
            if v.trim().is_empty() {
                errors.push((field, format!("indiquez {what}")));
            }
        };
        need("partenaire", &self.partenaire, "l'association partenaire");
        need("modele", &self.modele, "le modèle");
        need("numero_serie", &self.numero_serie, "le numéro de série");
        let kind = DeviceKind::parse(&self.type_appareil)
            .map_err(|e| errors.push(("type_appareil", e.to_string())))
            .ok();
        let condition = Condition::parse(&self.etat)
            .map_err(|_| errors.push(("etat", "choisissez l'état de l'appareil".into())))
            .ok();
        let value = parse_euros(&self.valeur)
            .map_err(|e| errors.push(("valeur", e.to_string())))
            .ok();
        let received = NaiveDate::parse_from_str(self.recu_le.trim(), "%Y-%m-%d")
            .map_err(|_| {
                errors.push((
                    "recu_le",
                    "indiquez la date de réception (jj/mm/aaaa)".into(),
                ))
            })
            .ok();
        match (kind, condition, value, received) {
            (Some(kind), Some(condition), Some(value_cents), Some(received_on))
                if errors.is_empty() =>
            {
                Ok(NewDevice {
                    partner: self.partenaire.clone(),
                    kind,
                    model: self.modele.clone(),
                    serial: self.numero_serie.clone(),
                    condition,
                    value_cents,
                    received_on,
                })
            }
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct BudgetPost {
    #[serde(default)]
    deliberation: String,
    #[serde(default)]
    montant: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct RequestPost {
    #[serde(default)]
    foyer: String,
    #[serde(default)]
    type_appareil: String,
}

/// What the agent typed, shown back with the errors.
#[derive(Default)]
struct Typed<'a> {
    device: Option<&'a DevicePost>,
    budget: Option<&'a BudgetPost>,
    request: Option<&'a RequestPost>,
}

fn text_field(errors: &Errors, id: &'static str, label: &str, value: &str, kind: &str) -> Markup {
    let invalid = has_error(errors, id);
    html! {
        div class="champ" {
            label for=(id) { (label) }
            input type=(kind) id=(id) name=(id) value=(value)
                aria-invalid=(invalid) aria-describedby=[invalid.then(|| format!("{id}-erreur"))];
            (field_error(errors, id))
        }
    }
}

async fn agent_render(
    state: &AppState,
    me: &Principal,
    status: StatusCode,
    notice: Option<Markup>,
    errors: &Errors,
    typed: Typed<'_>,
) -> PageResult {
    let year = today().year();
    let budget = social_tariff::budget(&state.db, year).await?;
    let devices = social_tariff::devices(&state.db).await?;
    let grants = social_tariff::grants(&state.db, Scope::All).await?;
    let csrf = me.csrf();
    let in_stock = devices
        .iter()
        .filter(|d| d.status == DeviceStatus::InStock)
        .count();
    let d = typed.device;
    let b = typed.budget;
    let r = typed.request;
    let body = html! {
        h1 { "Aide à l'équipement" }
        (error_summary(errors))
        @if let Some(n) = notice { (n) }
        p { "Les foyers qui bénéficient du tarif social peuvent recevoir un ordinateur, une tablette ou un téléphone reconditionné, une fois par an. "
            "Les demandes sont servies dans leur ordre d'arrivée, dès qu'un appareil du type demandé est en stock et que l'enveloppe le permet." }

        h2 id="enveloppe-titre" { "Enveloppe " (year) }
        @match &budget {
            Some(b) => {
                dl class="fiche" {
                    div { dt { "Délibération" } dd { (b.deliberation) } }
                    div { dt { "Montant voté" } dd { (euros(b.amount_cents)) } }
                    div { dt { "Engagé" } dd { (euros(b.committed_cents)) } }
                    div { dt { "Disponible" } dd { strong { (euros(b.remaining_cents())) } } }
                }
            }
            None => { p class="info" { "Aucune enveloppe n'est encore votée pour " (year) " : aucune aide ne peut être attribuée." } }
        }
        form method="post" action={ (AGENT_PAGE) "/enveloppe" } aria-labelledby="enveloppe-titre" {
            input type="hidden" name="csrf_token" value=(csrf);
            (text_field(errors, "deliberation", "Numéro de la délibération", b.map_or_else(|| budget.as_ref().map(|x| x.deliberation.clone()).unwrap_or_default(), |b| b.deliberation.clone()).as_str(), "text"))
            (text_field(errors, "montant", "Montant de l'enveloppe (en euros)", b.map_or("", |b| b.montant.as_str()), "text"))
            button type="submit" { "Enregistrer l'enveloppe" }
        }

        h2 { "Demandes" }
        @if grants.is_empty() { p class="info" { "Aucune demande." } } @else {
            table tabindex="0" {
                caption { "Demandes, dans l'ordre d'arrivée" }
                thead { tr { th scope="col" { "N°" } th scope="col" { "Foyer" } th scope="col" { "Demandé" } th scope="col" { "Le" } th scope="col" { "État" } th scope="col" { "Appareil" } th scope="col" { "Action" } } }
                tbody {
                    @for g in &grants {
                        tr {
                            td { (g.id) }
                            td { a href={ "/foyers/" (g.household) } { (g.household) } }
                            td { (g.kind.label()) }
                            td { (local_time(&g.requested_at)) }
                            td { (status_text(g))
                                @if let (Some(on), Some(a)) = (g.handed_over_on, g.attestation) { br; span class="aide" { "le " (french_date(on)) ", " (a.label()) } } }
                            td { @if let Some(dev) = &g.device { (dev.model) " (" (dev.serial) "), " (euros(dev.value_cents)) } }
                            td {
                                @if g.status == GrantStatus::Allocated {
                                    form method="post" action={ (AGENT_PAGE) "/demandes/" (g.id) "/remise" } {
                                        input type="hidden" name="csrf_token" value=(csrf);
                                        fieldset {
                                            legend { "Remise de l'appareil n° " (g.id) }
                                            div class="case" { input type="radio" id={ "att-sig-" (g.id) } name="attestation" value="signature" checked; label for={ "att-sig-" (g.id) } { "Reçu signé par le foyer" } }
                                            div class="case" { input type="radio" id={ "att-agent-" (g.id) } name="attestation" value="agent"; label for={ "att-agent-" (g.id) } { "Attestée par moi (le foyer ne peut pas signer)" } }
                                        }
                                        button type="submit" { "Enregistrer la remise" }
                                    }
                                    p { a href={ (AGENT_PAGE) "/demandes/" (g.id) "/recu.pdf" } { "Imprimer le reçu à faire signer (PDF)" } }
                                }
                                @if g.status == GrantStatus::HandedOver {
                                    a href={ (AGENT_PAGE) "/demandes/" (g.id) "/recu.pdf" } { "Reçu de remise (PDF)" }
                                }
                                @if matches!(g.status, GrantStatus::Waiting | GrantStatus::Allocated) {
                                    form method="post" action={ (AGENT_PAGE) "/demandes/" (g.id) "/annulation" } {
                                        input type="hidden" name="csrf_token" value=(csrf);
                                        button type="submit" class="secondaire" aria-label={ "Annuler la demande n° " (g.id) } { "Annuler" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h3 id="demande-titre" { "Demande au guichet" }
        form method="post" action={ (AGENT_PAGE) "/demandes" } aria-labelledby="demande-titre" {
            input type="hidden" name="csrf_token" value=(csrf);
            (text_field(errors, "foyer", "Numéro de dossier du foyer", r.map_or("", |r| r.foyer.as_str()), "text"))
            div class="champ" {
                label for="demande-type" { "Appareil demandé" }
                select id="demande-type" name="type_appareil" { (kind_options(r.and_then(|r| DeviceKind::parse(&r.type_appareil).ok()))) }
            }
            button type="submit" { "Enregistrer la demande" }
        }

        h2 { "Stock (" (in_stock) " en stock)" }
        @if !devices.is_empty() {
            table tabindex="0" {
                caption { "Appareils reçus des associations partenaires" }
                thead { tr { th scope="col" { "Reçu le" } th scope="col" { "Partenaire" } th scope="col" { "Type" } th scope="col" { "Modèle" } th scope="col" { "N° de série" } th scope="col" { "État" } th scope="col" { "Valeur" } th scope="col" { "Situation" } } }
                tbody {
                    @for dev in &devices {
                        tr {
                            td { (french_date(dev.received_on)) }
                            td { (dev.partner) }
                            td { (dev.kind.label()) }
                            td { (dev.model) }
                            td { (dev.serial) }
                            td { (dev.condition.as_str().to_uppercase()) " — " (dev.condition.label()) }
                            td { (euros(dev.value_cents)) }
                            td { (dev.status.label()) }
                        }
                    }
                }
            }
        }
        h3 id="appareil-titre" { "Enregistrer un appareil reçu" }
        form method="post" action={ (AGENT_PAGE) "/appareils" } aria-labelledby="appareil-titre" {
            input type="hidden" name="csrf_token" value=(csrf);
            (text_field(errors, "partenaire", "Association partenaire", d.map_or("", |d| d.partenaire.as_str()), "text"))
            div class="champ" {
                label for="type_appareil" { "Type" }
                select id="type_appareil" name="type_appareil" { (kind_options(d.and_then(|d| DeviceKind::parse(&d.type_appareil).ok()))) }
                (field_error(errors, "type_appareil"))
            }
            (text_field(errors, "modele", "Modèle", d.map_or("", |d| d.modele.as_str()), "text"))
            (text_field(errors, "numero_serie", "Numéro de série", d.map_or("", |d| d.numero_serie.as_str()), "text"))
            fieldset aria-describedby=[has_error(errors, "etat").then_some("etat-erreur")] {
                legend { "État" }
                @for c in [Condition::A, Condition::B, Condition::C] {
                    @let id = format!("etat-{}", c.as_str());
                    div class="case" {
                        input type="radio" id=(id) name="etat" value=(c.as_str()) checked[d.is_some_and(|d| d.etat == c.as_str())];
                        label for=(id) { (c.as_str().to_uppercase()) " — " (c.label()) }
                    }
                }
                (field_error(errors, "etat"))
            }
            (text_field(errors, "valeur", "Valeur (en euros, imputée sur l'enveloppe)", d.map_or("", |d| d.valeur.as_str()), "text"))
            (text_field(errors, "recu_le", "Reçu le", d.map_or_else(|| today().to_string(), |d| d.recu_le.clone()).as_str(), "date"))
            button type="submit" { "Enregistrer l'appareil" }
        }
    };
    Ok(render(
        status,
        layout("Aide à l'équipement", Some(me), AGENT_PAGE, body),
    ))
}

/// `GET /instruction/equipements`.
pub async fn agent_page(State(state): State<AppState>, me: Principal) -> PageResult {
    agent_render(
        &state,
        &me,
        StatusCode::OK,
        None,
        &Errors::new(),
        Typed::default(),
    )
    .await
}

fn done(msg: String) -> Option<Markup> {
    Some(html! { p class="succes" role="status" { (msg) } })
}

/// Renders the outcome of an agent's action: the notice, or the domain's
/// refusal next to `field` and in the summary.
async fn outcome(
    state: &AppState,
    me: &Principal,
    result: Result<String, social_tariff::Error>,
    field: &'static str,
    typed: Typed<'_>,
) -> PageResult {
    match result {
        Ok(msg) => {
            agent_render(
                state,
                me,
                StatusCode::OK,
                done(msg),
                &Errors::new(),
                Typed::default(),
            )
            .await
        }
        Err(social_tariff::Error::Invalid(m) | social_tariff::Error::Missing(m)) => {
            agent_render(
                state,
                me,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &vec![(field, m)],
                typed,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /instruction/equipements/appareils`.
pub async fn add_device(
    State(state): State<AppState>,
    me: Principal,
    Form(post): Form<DevicePost>,
) -> PageResult {
    let typed = Typed {
        device: Some(&post),
        ..Typed::default()
    };
    let new = match post.parse() {
        Ok(n) => n,
        Err(errors) => {
            return agent_render(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &errors,
                typed,
            )
            .await
        }
    };
    let result = social_tariff::add_device(&state.db, &me.actor(), &new, today())
        .await
        .map(|d| {
            format!(
                "Appareil {} ({}) enregistré : {}.",
                d.model,
                d.serial,
                d.status.label()
            )
        });
    outcome(&state, &me, result, "numero_serie", typed).await
}

/// `POST /instruction/equipements/enveloppe`.
pub async fn set_budget(
    State(state): State<AppState>,
    me: Principal,
    Form(post): Form<BudgetPost>,
) -> PageResult {
    let typed = Typed {
        budget: Some(&post),
        ..Typed::default()
    };
    let amount = match parse_euros(&post.montant) {
        Ok(a) => a,
        Err(e) => {
            let errors = vec![("montant", e.to_string())];
            return agent_render(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &errors,
                typed,
            )
            .await;
        }
    };
    let result = social_tariff::set_budget(
        &state.db,
        &me.actor(),
        today().year(),
        &post.deliberation,
        amount,
    )
    .await
    .map(|b| {
        format!(
            "Enveloppe {} enregistrée : {} dont {} disponibles.",
            b.year,
            euros(b.amount_cents),
            euros(b.remaining_cents())
        )
    });
    let field = if post.deliberation.trim().is_empty() {
        "deliberation"
    } else {
        "montant"
    };
    outcome(&state, &me, result, field, typed).await
}

/// `POST /instruction/equipements/demandes`: a request made at the counter.
pub async fn agent_request(
    State(state): State<AppState>,
    me: Principal,
    Form(post): Form<RequestPost>,
) -> PageResult {
    let typed = Typed {
        request: Some(&post),
        ..Typed::default()
    };
    let result = async {
        let h = social_tariff::get_household(&state.db, Scope::All, post.foyer.trim())
            .await
            .map_err(|_| {
                social_tariff::Error::Invalid(format!(
                    "aucun foyer n'a le numéro de dossier « {} »",
                    post.foyer.trim()
                ))
            })?;
        let kind = DeviceKind::parse(&post.type_appareil)?;
        social_tariff::request_grant(
            &state.db,
            &me.actor(),
            Scope::All,
            &h.code,
            kind,
            today(),
            state.config.grant_period_years,
        )
        .await
    }
    .await
    .map(|g| {
        format!(
            "Demande n° {} enregistrée pour le foyer {} : {}.",
            g.id,
            g.household,
            status_text(&g)
        )
    });
    outcome(&state, &me, result, "foyer", typed).await
}

#[derive(Debug, Deserialize, Default)]
pub struct HandoverPost {
    #[serde(default)]
    attestation: String,
}

/// `POST /instruction/equipements/demandes/{id}/remise`.
pub async fn hand_over(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<i64>,
    Form(post): Form<HandoverPost>,
) -> PageResult {
    let result = async {
        let a = Attestation::parse(&post.attestation)?;
        social_tariff::hand_over(&state.db, &me.actor(), id, a, today()).await
    }
    .await
    .map(|g| {
        format!(
            "Remise de l'aide n° {} enregistrée ({}).",
            g.id,
            g.attestation.map_or("", |a| a.label())
        )
    });
    outcome(&state, &me, result, "demandes", Typed::default()).await
}

/// `GET /instruction/equipements/demandes/{id}/recu.pdf`: the receipt
/// the household signs when the device is handed over — who, what (model,
/// serial, value), when, and the lines to sign.
pub async fn receipt_pdf(State(state): State<AppState>, Path(id): Path<i64>) -> PageResult {
    use regie_core::pdf::{Block, Pdf};
    let grant = social_tariff::grants(&state.db, Scope::All)
        .await?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or_else(|| Error::NotFound(format!("aucune aide n° {id}")))?;
    let Some(device) = &grant.device else {
        return Err(Error::Invalid(format!(
            "aucun appareil n'est encore attribué à l'aide n° {id}"
        ))
        .into());
    };
    let household = social_tariff::list_households(&state.db, Scope::All)
        .await?
        .into_iter()
        .find(|h| h.code.to_string() == grant.household)
        .map_or_else(|| grant.household.clone(), |h| h.display_name);
    let on = grant.handed_over_on.unwrap_or_else(today);
    let doc = Pdf {
        title: format!("Reçu de remise — aide n° {}", grant.id),
        author: state.config.regie_name.clone(),
        blocks: vec![
            Block::Lines(vec![state.config.regie_name.clone()]),
            Block::Space(12),
            Block::Title("Reçu de remise d'un appareil reconditionné".into()),
            Block::Paragraph(format!(
                "Aide à l'équipement n° {} ({} {}), accordée au foyer {} ({}).",
                grant.id,
                grant.kind.label(),
                grant.year,
                household,
                grant.household
            )),
            Block::Heading("Appareil remis".into()),
            Block::Lines(vec![
                format!("{} : {}", device.kind.label(), device.model),
                format!("Numéro de série : {}", device.serial),
                format!("Valeur : {}", euros(device.value_cents)),
                format!("Reconditionné par : {}", device.partner),
            ]),
            Block::Space(8),
            Block::Paragraph(format!(
                "Je reconnais avoir reçu l'appareil ci-dessus le {}, en état de marche, \
                 avec son chargeur. Il m'appartient désormais ; il ne peut être revendu.",
                french_date(on)
            )),
            Block::Space(24),
            Block::Lines(vec![
                "Nom et signature du foyer :".into(),
                String::new(),
                String::new(),
                "Nom et signature de l'agent :".into(),
            ]),
        ],
    };
    let bytes = regie_core::pdf::render(&doc).map_err(|e| Error::Internal(e.to_string()))?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/pdf".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("inline; filename=\"recu-remise-{}.pdf\"", grant.id),
            ),
        ],
        axum::body::Body::from(bytes),
    )
        .into_response())
}

/// `POST /instruction/equipements/demandes/{id}/annulation`.
pub async fn cancel(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<i64>,
) -> PageResult {
    let result = social_tariff::cancel_grant(&state.db, &me.actor(), Scope::All, id)
        .await
        .map(|g| format!("Demande n° {} annulée.", g.id));
    outcome(&state, &me, result, "demandes", Typed::default()).await
}

// --- Households --------------------------------------------------------

/// The household's part of "Mon espace": its requests, and the form to ask
/// when it is entitled and has none this year.
pub async fn household_part(
    state: &AppState,
    me: &Principal,
    errors: &[(&'static str, String)],
) -> Result<Markup, Error> {
    let mine = social_tariff::grants(&state.db, me.household_scope()).await?;
    let households = social_tariff::list_households(&state.db, me.household_scope()).await?;
    let mut entitled = false;
    for h in &households {
        entitled |= social_tariff::entitlement(&state.db, &h.code, today())
            .await?
            .is_some();
    }
    let year = today().year();
    let this_year = mine
        .iter()
        .any(|g| g.year == year && g.status != GrantStatus::Cancelled);
    let csrf = me.csrf();
    Ok(html! {
        h2 id="equipement" { "Aide à l'équipement" }
        (error_summary(errors))
        @for g in &mine {
            p {
                "Demande n° " (g.id) " (" (g.kind.label()) "), " (local_time(&g.requested_at)) " : " strong { (status_text(g)) } "."
                @if g.status == GrantStatus::Allocated { " Un appareil vous attend : le service social de la mairie vous appelle pour convenir de la remise." }
                @if g.status == GrantStatus::Waiting { " Vous serez servi dès qu'un appareil arrive, dans l'ordre des demandes." }
            }
        }
        @if !entitled {
            p { "L'aide à l'équipement (un ordinateur, une tablette ou un téléphone reconditionné) est réservée aux foyers qui bénéficient du tarif social." }
        } @else if this_year {
            p class="aide" { "Une aide par foyer et par an." }
        } @else {
            form method="post" action=(HOUSEHOLD_REQUEST) aria-labelledby="equipement" {
                input type="hidden" name="csrf_token" value=(csrf);
                div class="champ" {
                    label for="type_appareil" { "Appareil souhaité" }
                    select id="type_appareil" name="type_appareil" aria-invalid=(has_error(errors, "type_appareil")) { (kind_options(None)) }
                    (field_error(errors, "type_appareil"))
                }
                button type="submit" { "Demander un appareil reconditionné" }
            }
        }
    })
}

/// `POST /mon-espace/equipement`: the household asks for a device.
pub async fn household_request(
    State(state): State<AppState>,
    me: Principal,
    Form(post): Form<RequestPost>,
) -> PageResult {
    let result = async {
        let kind = DeviceKind::parse(&post.type_appareil)?;
        let mine = social_tariff::list_households(&state.db, me.household_scope()).await?;
        let h = mine.into_iter().next().ok_or_else(|| {
            social_tariff::Error::Invalid(
                "l'aide à l'équipement est réservée aux foyers qui bénéficient du tarif social : faites d'abord la demande de tarif social".into(),
            )
        })?;
        social_tariff::request_grant(&state.db, &me.actor(), me.household_scope(), &h.code, kind, today(), state.config.grant_period_years).await
    }
    .await;
    match result {
        Ok(_) => Ok(axum::response::IntoResponse::into_response(Redirect::to(
            "/mon-espace#equipement",
        ))),
        Err(social_tariff::Error::Invalid(m)) => {
            let errors = vec![("type_appareil", m)];
            crate::social::households::household_home_with(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                &errors,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
