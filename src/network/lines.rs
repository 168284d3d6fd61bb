//! The technician's pages of subscriber lines: the work orders of the day,
//! a form to order a line, and the line page (path, budget, ONT, addresses,
//! history) with the next steps and the intervention report. Made to be
//! used on a phone at the premises: one column, large buttons.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use provisioning::ids::OntSerial;
use provisioning::lifecycle::{State as LineState, Step, SuspendReason};
use provisioning::line::{Event, Ipv4Kind, Line};
use provisioning::service::{Installation, Order};
use serde::Deserialize;

use crate::platform::auth::Principal;
use crate::platform::web::{error_summary, field_error, has_error, layout, render, PageError};
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

const PATH: &str = "/technicien/lignes";
const TITLE: &str = "Lignes et interventions";

/// The states with work left for a technician.
const PENDING: [LineState; 3] = [
    LineState::Ordered,
    LineState::PathReserved,
    LineState::OntInstalled,
];

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A time as the UI shows it: Europe/Paris, to the minute.
fn local(at: &str) -> String {
    regie_core::time::from_db(at)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Paris)
                .format("%d/%m/%Y %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| at.to_owned())
}

fn db_text(mdb: i64) -> String {
    inventory::budget::MilliDb(mdb).fr_tenths()
}

fn dbm_text(cdbm: i64) -> String {
    format!("{} dBm", monitoring::line_optics::hundredths(cdbm))
}

fn state_badge(s: LineState) -> Markup {
    html! { span class={ "etat etat-" (s.as_str()) } { (s.label()) } }
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct OrderForm {
    #[serde(default)]
    premises: String,
    #[serde(default)]
    profile: String,
    #[serde(default)]
    ipv4: String,
}

fn lines_table(lines: &[Line], caption: &str) -> Markup {
    html! {
        div class="defilant" {
            table tabindex="0" {
                caption { (caption) }
                thead { tr {
                    th scope="col" { "Ligne" } th scope="col" { "Local" } th scope="col" { "État" }
                    th scope="col" { "Port PON" } th scope="col" { "Mise à jour" }
                } }
                tbody {
                    @for l in lines {
                        tr {
                            td { a href={ (PATH) "/" (l.id) } { (l.id) } }
                            td { (l.premises) }
                            td { (state_badge(l.state)) @if l.last_error.is_some() { " " span class="alerte" { "échec à reprendre" } } }
                            td { @if let Some(p) = &l.path { (p.pon_port) " · ONT " (p.ont_id) } @else { "—" } }
                            td { (local(&l.updated_at)) }
                        }
                    }
                }
            }
        }
    }
}

/// Premises a typed address names, to choose from: (local code, its
/// address and code in words).
type Choices = Vec<(String, String)>;

/// At most this many premises are offered to choose from.
const CHOICES: usize = 30;

#[allow(clippy::too_many_arguments)]
fn list_page(
    state: &AppState,
    me: &Principal,
    pending: &[Line],
    today: &[Line],
    counts: &[(LineState, i64)],
    form: &OrderForm,
    errors: &[(&str, String)],
    choices: &[(String, String)],
) -> Markup {
    let csrf = me.csrf();
    let profiles = &state.provisioning.settings().profiles;
    let invalid = has_error(errors, "premises");
    html! {
        h1 { (TITLE) }
        p class="compteurs" {
            @for (s, n) in counts { span class="compteur" { (state_badge(*s)) " " (n) } " " }
        }
        h2 { "Interventions à faire" }
        @if pending.is_empty() {
            p class="info" { "Aucune ligne n'attend d'intervention." }
        } @else {
            (lines_table(pending, "Lignes commandées, à chemin réservé ou à ONT posé"))
        }
        h2 { "Modifiées aujourd'hui" }
        @if today.is_empty() {
            p class="info" { "Aucune ligne modifiée aujourd'hui." }
        } @else {
            (lines_table(today, "Lignes modifiées aujourd'hui"))
        }
        h2 id="commander" { "Commander une ligne" }
        p { "Indiquez l'adresse (numéro et rue), sa clé Hexaclé ou son identifiant BAN, ou le code du local. Un local qui ne peut pas être raccordé est refusé avec la raison donnée par l'inventaire." }
        (error_summary(errors))
        form class="formulaire" method="post" action={ (PATH) "#commander" } novalidate {
            input type="hidden" name="csrf_token" value=(csrf);
            @if choices.is_empty() {
                div class="champ" {
                    label for="premises" { "Adresse ou code du local" span class="aide" { "Par exemple « 12 rue des Écoles », ou SF000000001234." } }
                    input type="text" id="premises" name="premises" value=(form.premises) autocomplete="off"
                        aria-invalid=(invalid) aria-describedby=[invalid.then_some("premises-erreur")];
                    (field_error(errors, "premises"))
                }
            } @else {
                fieldset {
                    legend { "Plusieurs locaux correspondent à « " (form.premises) " » : lequel ?" }
                    @for (i, (code, label)) in choices.iter().enumerate() {
                        label class="case" {
                            input type="radio" name="premises" value=(code) checked[i == 0];
                            (label)
                        }
                    }
                }
                p { a href={ (PATH) "#commander" } { "Chercher une autre adresse" } }
            }
            div class="champ" {
                label for="profile" { "Profil de débit" }
                select id="profile" name="profile" {
                    @for (name, _) in profiles {
                        option value=(name) selected[form.profile == *name] { (name) }
                    }
                }
            }
            fieldset {
                legend { "Adresse IPv4" }
                label class="case" { input type="radio" name="ipv4" value="cgnat" checked[form.ipv4 != "public"]; "Partagée (CGNAT)" }
                label class="case" { input type="radio" name="ipv4" value="public" checked[form.ipv4 == "public"]; "Publique" }
            }
            button type="submit" { "Commander la ligne" }
        }
    }
}

async fn list_data(
    state: &AppState,
) -> Result<(Vec<Line>, Vec<Line>, Vec<(LineState, i64)>), Error> {
    let p = &state.provisioning;
    let mut pending = Vec::new();
    for s in PENDING {
        pending.extend(p.lines(Some(s), None, 500).await?);
    }
    pending.sort_by(|a, b| a.updated_at.cmp(&b.updated_at));
    let midnight = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono_tz::Europe::Paris).earliest())
        .map(|t| regie_core::time::to_db(t.with_timezone(&chrono::Utc)))
        .unwrap_or_default();
    let today: Vec<Line> = p
        .lines(None, None, 200)
        .await?
        .into_iter()
        .filter(|l| l.updated_at >= midnight && !PENDING.contains(&l.state))
        .collect();
    let mut counts = p.counts().await?;
    counts.sort_by_key(|(s, _)| LineState::ALL.iter().position(|x| x == s));
    Ok((pending, today, counts))
}

/// `GET /technicien/lignes`.
pub async fn lines(State(state): State<AppState>, me: Principal) -> PageResult {
    let (pending, today, counts) = list_data(&state).await?;
    let body = list_page(
        &state,
        &me,
        &pending,
        &today,
        &counts,
        &OrderForm::default(),
        &[],
        &[],
    );
    Ok(crate::platform::web::page(TITLE, &me, PATH, body))
}

/// `POST /technicien/lignes`: orders a line, then shows it.
pub async fn order(
    State(state): State<AppState>,
    me: Principal,
    Form(form): Form<OrderForm>,
) -> PageResult {
    // A local's code in any case, or an address to find its locals.
    let plant = state.plant.get(&state.db).await?;
    let typed = form.premises.trim();
    let upper = typed.to_uppercase();
    let premises = if typed.is_empty() || plant.sufs.get(upper.as_str()).is_some() {
        upper
    } else {
        let mut choices: Choices = Vec::new();
        for a in inventory::search::addresses(&plant, typed) {
            let place = inventory::search::postal(a);
            for suf in plant.premises_at(&a.code) {
                choices.push((suf.to_owned(), format!("{place} — local {suf}")));
            }
        }
        choices.truncate(CHOICES);
        match choices.len() {
            // A code (no space): the order says whether it exists.
            0 if !typed.contains(char::is_whitespace) => upper,
            0 => {
                let errors = vec![(
                    "premises",
                    format!("aucune adresse ni aucun local ne correspond à « {typed} » : vérifiez le numéro et le nom de la rue"),
                )];
                let (pending, today, counts) = list_data(&state).await?;
                let body = list_page(&state, &me, &pending, &today, &counts, &form, &errors, &[]);
                return Ok(render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    layout(TITLE, Some(&me), PATH, body),
                ));
            }
            1 => choices.remove(0).0,
            _ => {
                let (pending, today, counts) = list_data(&state).await?;
                let body = list_page(&state, &me, &pending, &today, &counts, &form, &[], &choices);
                return Ok(crate::platform::web::page(TITLE, &me, PATH, body));
            }
        }
    };
    let order = Order {
        premises,
        ipv4: Ipv4Kind::parse(form.ipv4.trim()),
        profile: Some(form.profile.clone()).filter(|p| !p.trim().is_empty()),
    };
    let error = match state.provisioning.order(&me.actor(), &order).await {
        Ok(line) => {
            return Ok(Redirect::to(&format!("{PATH}/{}", urlencode(&line.id))).into_response())
        }
        Err(e) => match Error::from(e) {
            e @ (Error::NotFound(_) | Error::Invalid(_) | Error::Conflict(_)) => e.public_message(),
            other => return Err(other.into()),
        },
    };
    let errors = vec![("premises", error)];
    let (pending, today, counts) = list_data(&state).await?;
    let body = list_page(&state, &me, &pending, &today, &counts, &form, &errors, &[]);
    Ok(render(
        StatusCode::UNPROCESSABLE_ENTITY,
        layout(TITLE, Some(&me), PATH, body),
    ))
}

/// The fields of every step's form; each step reads its own.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct StepForm {
    /// `oui` once an irreversible step's confirmation page was seen.
    #[serde(default)]
    confirme: String,
    #[serde(default)]
    override_reason: String,
    #[serde(default)]
    serial: String,
    #[serde(default)]
    rx_dbm: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    reason: String,
}

impl StepForm {
    const EMPTY: StepForm = StepForm {
        confirme: String::new(),
        override_reason: String::new(),
        serial: String::new(),
        rx_dbm: String::new(),
        notes: String::new(),
        reason: String::new(),
    };
}

/// A power as typed on a phone: `-19,5`, `−19.5`, `-19,5 dBm`.
fn parse_dbm(s: &str) -> Option<f64> {
    let t = s
        .trim()
        .trim_end_matches("dBm")
        .trim()
        .replace(',', ".")
        .replace('−', "-");
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn step_of(slug: &str) -> Option<Step> {
    Some(match slug {
        "reserver" => Step::ReservePath,
        "installer" => Step::InstallOnt,
        "activer" => Step::Activate,
        "suspendre" => Step::Suspend,
        "retablir" => Step::Resume,
        "resilier" => Step::Terminate,
        "annuler" => Step::Cancel,
        _ => return None,
    })
}

fn slug_of(step: Step) -> &'static str {
    match step {
        Step::ReservePath => "reserver",
        Step::InstallOnt => "installer",
        Step::Activate => "activer",
        Step::Suspend => "suspendre",
        Step::Resume => "retablir",
        Step::Terminate => "resilier",
        Step::Cancel => "annuler",
    }
}

fn definition(term: &str, value: Markup) -> Markup {
    html! { div { dt { (term) } dd { (value) } } }
}

fn history_table(events: &[Event]) -> Markup {
    html! {
        div class="defilant" {
            table tabindex="0" {
                caption { "Historique" }
                thead { tr { th scope="col" { "Date" } th scope="col" { "Étape" } th scope="col" { "État" } th scope="col" { "Par" } } }
                tbody {
                    @for e in events {
                        tr {
                            td { (local(&e.at)) }
                            td { (provisioning::lifecycle::Step::history_label(&e.step)) }
                            td { (state_badge(e.to_state)) }
                            td { (e.actor) }
                        }
                    }
                }
            }
        }
    }
}

/// An address as written on an envelope, from the plant.
fn postal(a: &inventory::plant::Address) -> String {
    let mut out = String::new();
    for part in [a.number.as_deref(), a.repetition.as_deref()]
        .into_iter()
        .flatten()
    {
        out.push_str(part);
        out.push(' ');
    }
    out.push_str(&a.street);
    format!("{out}, {} {}", a.postcode, a.commune)
}

/// A reading of the ONT through its OLT, when asked for.
type Live = Option<Result<provisioning::driver::OntStatus, String>>;

/// What the page says back after a request: the form as typed, its
/// errors, a notice of success, a live reading of the ONT.
#[derive(Debug, Clone, Copy)]
struct Feedback<'a> {
    form: &'a StepForm,
    errors: &'a [(&'a str, String)],
    notice: Option<&'a str>,
    live: &'a Live,
}

impl Feedback<'_> {
    const NONE: Feedback<'static> = Feedback {
        form: &StepForm::EMPTY,
        errors: &[],
        notice: None,
        live: &None,
    };
}

/// What supervision last read of the line's ONT, and when.
type Supervised = Option<(monitoring::line_optics::LineReading, Option<String>)>;

fn line_page(
    me: &Principal,
    postal_address: Option<&str>,
    line: &Line,
    events: &[Event],
    feedback: Feedback<'_>,
    supervised: &Supervised,
    alarms: &[&crate::monitoring::views::AlarmView],
) -> Markup {
    let Feedback {
        form,
        errors,
        notice,
        live,
    } = feedback;
    let csrf = me.csrf();
    let action = |step: Step| format!("{PATH}/{}/{}", line.id, slug_of(step));
    let allowed: Vec<Step> = line.state.next().iter().map(|(s, _)| *s).collect();
    let can = |s: Step| allowed.contains(&s);
    let over_budget = line.budget.as_ref().is_some_and(|b| !b.pass);
    html! {
        p { a href=(PATH) { "← Toutes les lignes" } }
        h1 { "Ligne " (line.id) }
        p class="etat-ligne" { "État : " (state_badge(line.state))
            @if let Some(r) = line.suspend_reason { " — " (r.label()) } }
        @if let Some(n) = notice { p class="succes" role="status" { (n) } }
        @for v in alarms {
            div class={ "alarme alarme-" (v.alarm.severity.as_str()) } role="alert" {
                strong { (v.alarm.severity.label()) " — " (v.alarm.subject) } " : " (v.alarm.message) ". "
                a href="/technicien/alarmes" { "Voir l'alarme" }
            }
        }
        @if let Some(e) = &line.last_error {
            div class="info alerte-bloc" role="alert" { strong { "Dernier échec : " } (e) ". Relancez l'étape : elle reprendra où elle s'est arrêtée." }
        }
        (error_summary(errors))
        section class="actions" aria-labelledby="actions-titre" {
            h2 id="actions-titre" { "Étapes suivantes" }
            @if allowed.is_empty() {
                p class="info" { "Aucune étape possible : la ligne est dans un état final." }
            }
            @if can(Step::ReservePath) {
                form method="post" action=(action(Step::ReservePath)) class="formulaire" novalidate {
                    input type="hidden" name="csrf_token" value=(csrf);
                    div class="champ" {
                        label for="override_reason" { "Motif de dérogation au budget optique"
                            span class="aide" { "Seulement si le chemin dépasse le budget (mesure terrain, accord du bureau d'études)." } }
                        input type="text" id="override_reason" name="override_reason" value=(form.override_reason)
                            aria-invalid=(has_error(errors, "override_reason"))
                            aria-describedby=[has_error(errors, "override_reason").then_some("override_reason-erreur")];
                        (field_error(errors, "override_reason"))
                    }
                    button type="submit" class="large" { "Réserver le chemin" }
                }
            }
            @if can(Step::InstallOnt) {
                form method="post" action=(action(Step::InstallOnt)) class="formulaire" novalidate {
                    h3 { "Compte rendu d'intervention" }
                    input type="hidden" name="csrf_token" value=(csrf);
                    div class="champ" {
                        label for="serial" { "Numéro de série de l'ONT" span class="aide" { "4 lettres et 8 chiffres hexadécimaux, sur l'étiquette (ex. HWTC1A2B3C4D)." } }
                        input type="text" id="serial" name="serial" value=(form.serial) autocomplete="off" autocapitalize="characters"
                            aria-invalid=(has_error(errors, "serial")) aria-describedby=[has_error(errors, "serial").then_some("serial-erreur")];
                        (field_error(errors, "serial"))
                    }
                    div class="champ" {
                        label for="rx_dbm" { "Puissance reçue mesurée (dBm)" span class="aide" { "Par exemple −19,5." } }
                        input type="text" id="rx_dbm" name="rx_dbm" value=(form.rx_dbm) inputmode="decimal"
                            aria-invalid=(has_error(errors, "rx_dbm")) aria-describedby=[has_error(errors, "rx_dbm").then_some("rx_dbm-erreur")];
                        (field_error(errors, "rx_dbm"))
                    }
                    div class="champ" {
                        label for="notes" { "Remarques" span class="aide" { "Facultatif : emplacement de la PTO, difficultés rencontrées." } }
                        textarea id="notes" name="notes" rows="3" maxlength="4000" { (form.notes) }
                    }
                    button type="submit" class="large" { "Enregistrer la pose de l'ONT" }
                }
            }
            @if can(Step::Activate) {
                @if !alarms.is_empty() {
                    p class="info alerte-bloc" {
                        strong { "Le port PON de cette ligne est en alarme." }
                        " L'activation risque d'échouer ou de ne pas pouvoir être vérifiée : voyez l'alarme avant d'activer."
                    }
                }
                form method="post" action=(action(Step::Activate)) {
                    input type="hidden" name="csrf_token" value=(csrf);
                    button type="submit" class="large" { "Activer la ligne" }
                }
            }
            @if can(Step::Resume) {
                form method="post" action=(action(Step::Resume)) {
                    input type="hidden" name="csrf_token" value=(csrf);
                    button type="submit" class="large" { "Rétablir la ligne" }
                }
            }
            @if can(Step::Suspend) {
                form method="post" action=(action(Step::Suspend)) class="formulaire" {
                    input type="hidden" name="csrf_token" value=(csrf);
                    div class="champ" {
                        label for="reason" { "Motif de suspension" }
                        select id="reason" name="reason" required {
                            option value="" selected { "— choisir un motif —" }
                            @for r in SuspendReason::ALL {
                                @if line.suspend_reason != Some(r) {
                                    option value=(r.as_str()) { (r.label()) }
                                }
                            }
                        }
                    }
                    button type="submit" class="large secondaire" {
                        @if line.state == LineState::Suspended { "Changer le motif" } @else { "Suspendre la ligne" }
                    }
                }
            }
            @if can(Step::Terminate) {
                form method="post" action=(action(Step::Terminate)) {
                    input type="hidden" name="csrf_token" value=(csrf);
                    button type="submit" class="large secondaire" { "Résilier la ligne" }
                }
            }
            @if can(Step::Cancel) {
                form method="post" action=(action(Step::Cancel)) {
                    input type="hidden" name="csrf_token" value=(csrf);
                    button type="submit" class="large secondaire" { "Annuler la commande" }
                }
            }
        }
        h2 { "Local et chemin" }
        dl class="fiche" {
            (definition("Local", html! { (line.premises) }))
            (definition("Adresse", html! { (postal_address.or(line.address.as_deref()).unwrap_or("—")) }))
            (definition("Profil", html! { (line.profile) " · IPv4 " (if line.ipv4_kind == Ipv4Kind::Public { "publique" } else { "partagée (CGNAT)" }) }))
            @if let Some(p) = &line.path {
                (definition("PTO", html! { a href={ "/technicien/trace?pto=" (urlencode(&p.outlet)) } { (p.outlet) } }))
                (definition("PBO", html! { (p.pbo.as_deref().unwrap_or("—")) @if let Some(pos) = &p.pbo_position { " (position " (pos) ")" } }))
                (definition("Sortie de coupleur", html! { (p.splitter_output) @if let Some(pm) = &p.pm { " — " (pm) } }))
                (definition("Port PON", html! { (p.pon_port) " (OLT " (p.olt) ", carte " (p.slot) ", port " (p.port) ")" }))
                (definition("Identifiant d'ONT", html! { (p.ont_id) }))
            } @else {
                (definition("Chemin", html! { "pas encore réservé" }))
            }
            @if let Some(b) = &line.budget {
                (definition("Budget optique", html! {
                    (db_text(b.total_mdb)) " pour la classe " (b.class) " : "
                    @if b.pass { span class="ok" { "dans le budget, marge " (db_text(b.margin_mdb)) } }
                    @else { span class="alerte" { "hors budget de " (db_text(-b.margin_mdb)) } }
                    @if let Some(r) = &b.override_reason { br; "Dérogation : " (r) }
                }))
            }
            @if over_budget && line.budget.as_ref().is_some_and(|b| b.override_reason.is_none()) {
                (definition("Attention", html! { "chemin hors budget" }))
            }
        }
        h2 { "ONT et service" }
        dl class="fiche" {
            @if let Some(o) = &line.ont {
                (definition("ONT", html! { (o.serial) }))
                (definition("Puissance reçue à la pose", html! { (dbm_text(o.rx_cdbm)) }))
                @if let Some((r, at)) = supervised {
                    (definition("Dernier relevé de supervision", html! {
                        @if let Some(rx) = r.rx_ont_cdbm {
                            "reçu à l'ONT " (dbm_text(i64::from(rx)))
                            @if let Some(loss) = r.loss_cdb() {
                                @if r.drifting() { " " span class="alerte" { "(perte de " (monitoring::line_optics::hundredths(loss)) " dB depuis la pose)" } }
                                @else { " (écart de " (monitoring::line_optics::hundredths(loss)) " dB depuis la pose)" }
                            }
                            @if r.low() { " " span class="alerte" { "sous le seuil de la classe " (r.class.as_deref().unwrap_or("")) } }
                        }
                        @if let Some(rx) = r.rx_olt_cdbm { br; "reçu à l'OLT " (dbm_text(i64::from(rx))) }
                        @if let Some(min) = r.min_cdbm { br; "seuil de la classe " (dbm_text(i64::from(min))) }
                        @if let Some(at) = at { br; "relevé le " (crate::platform::web::local_time(at)) }
                    }))
                }
                @if let Some(n) = &o.notes { (definition("Remarques", html! { (n) })) }
            } @else {
                (definition("ONT", html! { "pas encore posé" }))
            }
            @if let Some(s) = &line.service {
                (definition("IPv4", html! { (s.ipv4) " (pool " (s.ipv4_pool) ")" }))
                (definition("Préfixe IPv6 délégué", html! { (s.ipv6_prefix) }))
                (definition("IPv6 WAN", html! { (s.ipv6_wan) }))
                (definition("VLAN", html! { "S-VLAN " (s.svlan) " / C-VLAN " (s.cvlan) }))
                (definition("Circuit-id", html! { code { (s.circuit_id) } }))
            }
            @if let Some(n) = &line.nas_status { (definition("BNG", html! { (n) })) }
        }
        @if matches!(line.state, LineState::Active | LineState::Suspended) {
            h2 id="etat-ont" { "État de l'ONT en direct" }
            @match live {
                None => p { a href={ (PATH) "/" (line.id) "?ont=1#etat-ont" } { "Lire l'état de l'ONT sur l'OLT" } },
                Some(Err(e)) => p class="info alerte-bloc" role="alert" { (e) },
                Some(Ok(st)) => dl class="fiche" {
                    (definition("Connexion", html! { @if st.online { span class="ok" { "en ligne" } } @else { span class="alerte" { "hors ligne" } } }))
                    @if let Some(rx) = st.rx_cdbm { (definition("Puissance reçue", html! { (dbm_text(i64::from(rx))) })) }
                    @if let Some(tx) = st.tx_cdbm { (definition("Puissance émise", html! { (dbm_text(i64::from(tx))) })) }
                    @if let Some(d) = st.distance_m { (definition("Distance mesurée", html! { (d) " m" })) }
                },
            }
        }
        h2 { "Historique" }
        (history_table(events))
    }
}

async fn show_line(
    state: &AppState,
    me: &Principal,
    id: &str,
    status: StatusCode,
    feedback: Feedback<'_>,
) -> PageResult {
    let line = state.provisioning.line(id).await.map_err(Error::from)?;
    let events = state
        .provisioning
        .history(&line.id)
        .await
        .map_err(Error::from)?;
    let title = format!("Ligne {}", line.id);
    let plant = state.plant.get(&state.db).await?;
    let postal_address = line
        .address
        .as_deref()
        .and_then(|a| plant.addresses.get(a))
        .map(postal);
    // What the optics cycle last read of this line's ONT, on this
    // instance.
    let supervised: Supervised = line.path.as_ref().and_then(|p| {
        let status = state.poller.board.get(&p.olt)?;
        let reading =
            monitoring::line_optics::readings(&p.olt, &status, std::slice::from_ref(&line))
                .into_iter()
                .next()?;
        Some((reading, status.optics_at))
    });
    // The open alarms on this line's port or OLT, or that cut it off.
    let open = crate::monitoring::views::open_alarms(state).await?;
    let alarms: Vec<&crate::monitoring::views::AlarmView> = open
        .iter()
        .filter(|v| {
            let on_path = line.path.as_ref().is_some_and(|p| {
                (v.alarm.kind == "pon_port_down" && v.alarm.subject == p.pon_port)
                    || (v.alarm.kind == "device_unreachable" && v.alarm.subject == p.olt)
            });
            on_path
                || v.impact
                    .as_ref()
                    .is_some_and(|i| i.lines.iter().any(|l| l.line_id == line.id))
        })
        .collect();
    Ok(render(
        status,
        layout(
            &title,
            Some(me),
            PATH,
            line_page(
                me,
                postal_address.as_deref(),
                &line,
                &events,
                feedback,
                &supervised,
                &alarms,
            ),
        ),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct LineQuery {
    fait: Option<String>,
    /// Read the ONT's state from its OLT.
    ont: Option<String>,
}

/// The page a termination asks first: what the household loses, and what
/// the network takes back, with the button that does it.
async fn confirm_termination(state: &AppState, me: &Principal, id: &str) -> PageResult {
    let line = state.provisioning.line(id).await.map_err(Error::from)?;
    let csrf = me.csrf();
    let body = html! {
        h1 { "Résilier la ligne " (line.id) " ?" }
        div class="info alerte-bloc" {
            p { strong { "La résiliation ne peut pas être défaite." } }
            ul {
                li { "Le foyer du local " (line.premises) " perd son accès à internet dès maintenant." }
                @if let Some(s) = &line.service {
                    li { "Son adresse IPv4 " (s.ipv4) " et son préfixe IPv6 " (s.ipv6_prefix) " sont rendus aux réserves." }
                }
                @if let Some(p) = &line.path {
                    li { "La sortie de coupleur " (p.splitter_output) ", la prise " (p.outlet) " et l'ONT n° " (p.ont_id) " du port " (p.pon_port) " sont libérés." }
                }
                li { "Pour rebrancher ce local, il faudra commander une nouvelle ligne." }
            }
        }
        form method="post" action={ (PATH) "/" (line.id) "/" (slug_of(Step::Terminate)) } {
            input type="hidden" name="csrf_token" value=(csrf);
            input type="hidden" name="confirme" value="oui";
            button type="submit" class="large danger" { "Résilier définitivement la ligne " (line.id) }
        }
        p { a href={ (PATH) "/" (line.id) } { "Non, revenir à la ligne" } }
    };
    Ok(render(
        StatusCode::OK,
        layout(
            &format!("Résilier la ligne {}", line.id),
            Some(me),
            PATH,
            body,
        ),
    ))
}

/// `GET /technicien/lignes/{id}`.
pub async fn line(
    State(state): State<AppState>,
    me: Principal,
    Path(id): Path<String>,
    Query(q): Query<LineQuery>,
) -> PageResult {
    let notice = q.fait.as_deref().and_then(step_of).map(|s| match s {
        Step::ReservePath => "Le chemin est réservé.",
        Step::InstallOnt => "La pose de l'ONT est enregistrée.",
        Step::Activate => "La ligne est active.",
        Step::Suspend => "La ligne est suspendue.",
        Step::Resume => "La ligne est rétablie.",
        Step::Terminate => "La ligne est résiliée.",
        Step::Cancel => "La commande est annulée.",
    });
    let live: Live = match q.ont.as_deref() {
        Some(_) => Some(
            state
                .provisioning
                .ont_status(&id)
                .await
                .map_err(|e| Error::from(e).public_message()),
        ),
        None => None,
    };
    let feedback = Feedback {
        notice,
        live: &live,
        ..Feedback::NONE
    };
    show_line(&state, &me, &id, StatusCode::OK, feedback).await
}

/// `POST /technicien/lignes/{id}/{etape}`: one step; on refusal the line
/// page again, with the reason next to the field or in the summary.
pub async fn step(
    State(state): State<AppState>,
    me: Principal,
    Path((id, slug)): Path<(String, String)>,
    Form(form): Form<StepForm>,
) -> PageResult {
    let Some(step) = step_of(&slug) else {
        return Err(Error::NotFound(format!("étape « {slug} » inconnue")).into());
    };
    let p = &state.provisioning;
    let actor = me.actor();
    let mut errors: Vec<(&str, String)> = Vec::new();
    let result = match step {
        Step::ReservePath => Some(
            p.reserve_path(&actor, &id, Some(form.override_reason.as_str()))
                .await,
        ),
        Step::InstallOnt => {
            if let Err(e) = OntSerial::parse(&form.serial) {
                errors.push(("serial", e));
            }
            let rx = parse_dbm(&form.rx_dbm);
            if rx.is_none() {
                errors.push((
                    "rx_dbm",
                    "indiquez la puissance mesurée en dBm, par exemple −19,5".into(),
                ));
            }
            match rx {
                Some(rx_dbm) if errors.is_empty() => Some(
                    p.install_ont(
                        &actor,
                        &id,
                        &Installation {
                            serial: form.serial.clone(),
                            rx_dbm,
                            notes: Some(form.notes.clone()),
                        },
                    )
                    .await,
                ),
                _ => None,
            }
        }
        Step::Activate => Some(p.activate(&actor, &id).await),
        Step::Suspend => match SuspendReason::parse(&form.reason) {
            Ok(r) => Some(p.suspend(&actor, &id, r).await),
            Err(_) => {
                errors.push(("reason", "choisissez le motif de la suspension".into()));
                None
            }
        },
        Step::Resume => Some(p.resume(&actor, &id).await),
        // Irreversible: a page first says what will be lost.
        Step::Terminate if form.confirme != "oui" => {
            return confirm_termination(&state, &me, &id).await;
        }
        Step::Terminate => Some(p.terminate(&actor, &id).await),
        Step::Cancel => Some(p.cancel(&actor, &id).await),
    };
    match result {
        Some(Ok(line)) => {
            return Ok(
                Redirect::to(&format!("{PATH}/{}?fait={slug}", urlencode(&line.id)))
                    .into_response(),
            )
        }
        Some(Err(e)) => {
            let field = match (&e, step) {
                (provisioning::Error::OverBudget(_), _) => "override_reason",
                (
                    provisioning::Error::Taken(_) | provisioning::Error::Invalid(_),
                    Step::InstallOnt,
                ) => "serial",
                _ => "actions-titre",
            };
            let status;
            let message;
            match Error::from(e) {
                e @ (Error::Invalid(_)
                | Error::Conflict(_)
                | Error::Exhausted(_)
                | Error::Upstream(_)) => {
                    status = e.status();
                    message = e.public_message();
                }
                other => return Err(other.into()),
            }
            // The domain's message starts with the field's name for the
            // API; the page names the field by its label instead.
            let message = message
                .strip_prefix("serial : ")
                .map(str::to_owned)
                .unwrap_or(message);
            errors.push((field, message));
            let feedback = Feedback {
                form: &form,
                errors: &errors,
                ..Feedback::NONE
            };
            return show_line(&state, &me, &id, status, feedback).await;
        }
        None => {}
    }
    let feedback = Feedback {
        form: &form,
        errors: &errors,
        ..Feedback::NONE
    };
    show_line(&state, &me, &id, StatusCode::UNPROCESSABLE_ENTITY, feedback).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_are_read_as_typed_on_a_phone() {
        assert_eq!(parse_dbm("-19,5"), Some(-19.5));
        assert_eq!(parse_dbm("−21.07 dBm"), Some(-21.07));
        assert_eq!(parse_dbm(" -8 "), Some(-8.0));
        assert_eq!(parse_dbm("faible"), None);
        assert_eq!(parse_dbm(""), None);
    }

    #[test]
    fn every_step_has_a_slug() {
        for s in Step::ALL {
            assert_eq!(step_of(slug_of(s)), Some(s));
        }
        assert_eq!(dbm_text(-1955), "−19,55 dBm");
    }
}
