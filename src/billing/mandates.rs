//! The SEPA mandate in the pages: on the accountant's account page, record
//! a mandate signed at the counter and print its form, change the account
//! it debits, revoke it; in the household's space, give one online after
//! reading the authorisation. Every change answers with a redirect (one
//! submission, one change), errors beside their fields.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use billing::mandate::{Record, Status};
use billing::model::Account;
use billing::sepa::{Bic, Iban};
use maud::{html, Markup};
use serde::Deserialize;

use crate::platform::auth::Principal;
use crate::platform::web::{error_summary, field_error, has_error, layout, render, PageError};
use crate::social::today;
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

/// The mandate fields of the account page's forms.
#[derive(Debug, Deserialize, Default)]
pub struct MandateForm {
    #[serde(default)]
    pub titulaire: String,
    #[serde(default)]
    pub iban: String,
    #[serde(default)]
    pub bic: String,
    #[serde(default)]
    pub date: String,
}

/// The notice a change's redirect asks for.
pub fn notice_of(done: &str) -> Option<Markup> {
    let text = match done {
        "mandat" => "Mandat enregistré. Imprimez le formulaire, faites-le signer et conservez-le.",
        "compte" => "Nouveau compte enregistré : le prochain prélèvement l'annoncera à la banque.",
        "revocation" => "Mandat révoqué : plus aucun prélèvement ne sera fait sous ce mandat.",
        _ => return None,
    };
    Some(html! { p class="succes" role="status" { (text) } })
}

fn status_text(r: &Record) -> String {
    match &r.status {
        Status::Live => "en cours".into(),
        Status::Revoked { on, reason } => {
            format!("révoqué le {} ({reason})", on.format("%d/%m/%Y"))
        }
        Status::Expired { on } => format!(
            "caduc depuis le {} (aucun prélèvement pendant 36 mois)",
            on.format("%d/%m/%Y")
        ),
    }
}

fn text_input(
    errors: &[(&'static str, String)],
    id: &'static str,
    name: &str,
    label: &str,
    help: &str,
    value: &str,
) -> Markup {
    html! {
        div class="champ" {
            label for=(id) { (label) @if !help.is_empty() { span class="aide" { (help) } } }
            input type="text" id=(id) name=(name) value=(value) aria-invalid=(has_error(errors, id))
                aria-describedby=[has_error(errors, id).then_some(format!("{id}-erreur"))];
            (field_error(errors, id))
        }
    }
}

/// The « Mandat de prélèvement » section of an account's page.
pub async fn section(
    state: &AppState,
    account: &Account,
    csrf: &str,
    errors: &[(&'static str, String)],
    form: &MandateForm,
) -> Result<Markup, Error> {
    let records = billing::storage::mandates_of(&state.db, &account.code).await?;
    let live = records.iter().find(|r| r.status == Status::Live);
    let path = format!("/comptabilite/comptes/{}/mandat", account.code);
    let sepa = state.config.sepa.is_some();
    Ok(html! {
        h2 id="mandat" { "Mandat de prélèvement SEPA" }
        @if !sepa {
            p class="info" { "Le prélèvement n'est pas configuré (section [sepa] : identifiant créancier, IBAN, BIC)." }
        }
        @if let Some(r) = live {
            dl class="fiche" {
                div { dt { "Référence (RUM)" } dd { (r.mandate.rum) } }
                div { dt { "Titulaire" } dd { (r.mandate.holder) } }
                div { dt { "Compte débité" } dd { (r.mandate.iban.masked()) } }
                div { dt { "Signé le" } dd { (r.mandate.signed_on.format("%d/%m/%Y")) " — " (r.channel.label()) } }
                div { dt { "Dernier prélèvement" } dd { @if let Some(d) = r.last_debit { (d.format("%d/%m/%Y")) } @else { "aucun" } } }
                @if let Some(l) = r.lapses_on { div { dt { "Caduc après le" } dd { (l.format("%d/%m/%Y")) " sans prélèvement" } } }
            }
            @if let Some(old) = &r.amendment_pending {
                p class="info" { "Le prochain prélèvement annoncera à la banque le changement de compte (ancien compte " (old) ")." }
            }
            @if sepa { p { a href={ (path) ".pdf" } { "Imprimer le formulaire de mandat (PDF)" } } }
            h3 { "Changer le compte débité" }
            form method="post" action={ (path) "/compte" } {
                input type="hidden" name="csrf_token" value=(csrf);
                (text_input(errors, "mandat-iban", "iban", "Nouvel IBAN", "Sur le relevé d'identité bancaire, par exemple FR76 3000 6000 0112 3456 7890 189.", &form.iban))
                (text_input(errors, "mandat-bic", "bic", "BIC", "Facultatif.", &form.bic))
                (text_input(errors, "mandat-titulaire", "titulaire", "Titulaire du compte", "Seulement s'il change.", &form.titulaire))
                button type="submit" { "Enregistrer le nouveau compte" }
            }
            h3 { "Révoquer le mandat" }
            form method="post" action={ (path) "/revocation" } {
                input type="hidden" name="csrf_token" value=(csrf);
                p { "À la demande du titulaire : plus aucun prélèvement. Les factures se paieront par virement ou au guichet." }
                button type="submit" class="secondaire" { "Révoquer le mandat" }
            }
        } @else if sepa {
            p { "Aucun mandat en cours : les factures se paient par virement ou au guichet." }
            form method="post" action=(path) {
                input type="hidden" name="csrf_token" value=(csrf);
                (error_summary(&errors.iter().filter(|(k, _)| k.starts_with("mandat-")).cloned().collect::<Vec<_>>()))
                (text_input(errors, "mandat-titulaire", "titulaire", "Titulaire du compte", "Tel qu'il figure sur le relevé d'identité bancaire.", &form.titulaire))
                (text_input(errors, "mandat-iban", "iban", "IBAN", "Par exemple FR76 3000 6000 0112 3456 7890 189.", &form.iban))
                (text_input(errors, "mandat-bic", "bic", "BIC", "Facultatif.", &form.bic))
                (text_input(errors, "mandat-date", "date", "Signé le", "JJ/MM/AAAA ; aujourd'hui si vide.", &form.date))
                button type="submit" { "Enregistrer le mandat signé" }
            }
        }
        @let past: Vec<&Record> = records.iter().filter(|r| r.status != Status::Live).collect();
        @if !past.is_empty() {
            table tabindex="0" {
                caption { "Mandats passés" }
                thead { tr { th scope="col" { "RUM" } th scope="col" { "Compte" } th scope="col" { "Situation" } } }
                tbody { @for r in past { tr {
                    td { (r.mandate.rum) } td { (r.mandate.iban.masked()) } td { (status_text(r)) }
                } } }
            }
        }
    })
}

/// The account and its bank details read from a form; errors keyed by the
/// fields' ids.
fn bank_details(
    f: &MandateForm,
    errors: &mut Vec<(&'static str, String)>,
) -> Option<(Iban, Option<Bic>)> {
    let iban = Iban::parse(&f.iban).map_err(|e| errors.push(("mandat-iban", e.to_string())));
    let bic = match f.bic.trim() {
        "" => Ok(None),
        b => Bic::parse(b)
            .map(Some)
            .map_err(|e| errors.push(("mandat-bic", e.to_string()))),
    };
    Some((iban.ok()?, bic.ok()?))
}

async fn again(
    state: &AppState,
    me: &Principal,
    code: &str,
    errors: &[(&'static str, String)],
    f: &MandateForm,
) -> PageResult {
    crate::billing::ledger::account_render(
        state,
        me,
        code,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        errors,
        (&crate::billing::ledger::PaymentForm::default(), f),
    )
    .await
}

fn done(code: &str, what: &str) -> Response {
    Redirect::to(&format!("/comptabilite/comptes/{code}?fait={what}#mandat")).into_response()
}

/// `POST /comptabilite/comptes/{code}/mandat`: a mandate signed at the
/// counter.
pub async fn create(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Form(f): Form<MandateForm>,
) -> PageResult {
    let mut errors = Vec::new();
    let details = bank_details(&f, &mut errors);
    let signed_on = match crate::billing::ledger::form_day(&f.date) {
        None => today(),
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            errors.push(("mandat-date", e));
            today()
        }
    };
    if f.titulaire.trim().is_empty() {
        errors.push((
            "mandat-titulaire",
            "le titulaire du compte est obligatoire".into(),
        ));
    }
    let (Some((iban, bic)), true) = (details, errors.is_empty()) else {
        return again(&state, &me, &code, &errors, &f).await;
    };
    let added = billing::storage::add_mandate(
        &state.db,
        &me.actor(),
        &code,
        &f.titulaire,
        &iban,
        bic.as_ref(),
        signed_on,
    )
    .await;
    match added {
        Ok(_) => Ok(done(&code, "mandat")),
        Err(billing::Error::Invalid(m)) => {
            let field = if m.contains("signature") {
                "mandat-date"
            } else {
                "mandat-titulaire"
            };
            again(&state, &me, &code, &[(field, m)], &f).await
        }
        Err(e) => Err(Error::from(e).into()),
    }
}

/// `POST /comptabilite/comptes/{code}/mandat/compte`: another account
/// debited under the same mandate.
pub async fn amend(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Form(f): Form<MandateForm>,
) -> PageResult {
    let mut errors = Vec::new();
    let Some((iban, bic)) = bank_details(&f, &mut errors) else {
        return again(&state, &me, &code, &errors, &f).await;
    };
    let holder = Some(f.titulaire.trim()).filter(|h| !h.is_empty());
    match billing::storage::amend_mandate(
        &state.db,
        &me.actor(),
        &code,
        holder,
        &iban,
        bic.as_ref(),
    )
    .await
    {
        Ok(_) => Ok(done(&code, "compte")),
        Err(billing::Error::Invalid(m)) => {
            again(&state, &me, &code, &[("mandat-iban", m)], &f).await
        }
        Err(e) => Err(Error::from(e).into()),
    }
}

/// `POST /comptabilite/comptes/{code}/mandat/revocation`.
pub async fn revoke(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
) -> PageResult {
    billing::storage::revoke_mandate(&state.db, &me.actor(), &code, today())
        .await
        .map_err(Error::from)?;
    Ok(done(&code, "revocation"))
}

/// `GET /comptabilite/comptes/{code}/mandat.pdf`: the form to sign.
pub async fn form_pdf(State(state): State<AppState>, Path(code): Path<String>) -> PageResult {
    Ok(crate::billing::files::mandate_form(&state, &code)
        .await?
        .into_response())
}

/// The household's online consent.
#[derive(Debug, Deserialize, Default)]
pub struct ConsentForm {
    #[serde(default)]
    pub compte: String,
    #[serde(default)]
    pub titulaire: String,
    #[serde(default)]
    pub iban: String,
    #[serde(default)]
    pub bic: String,
    /// The box « J'autorise… », checked.
    #[serde(default)]
    pub accord: Option<String>,
}

async fn consent_page(
    state: &AppState,
    me: &Principal,
    status: StatusCode,
    errors: &[(&'static str, String)],
    f: &ConsentForm,
) -> PageResult {
    let accounts = crate::billing::scope::accounts_of(state, me).await?;
    let mut current = Vec::new();
    for a in &accounts {
        if let Some(m) = billing::storage::live_mandate(&state.db, &a.code).await? {
            current.push((a.clone(), m));
        }
    }
    let open: Vec<&Account> = accounts
        .iter()
        .filter(|a| !current.iter().any(|(c, _)| c.code == a.code))
        .collect();
    let csrf = me.csrf();
    let creditor = state.config.regie_name.clone();
    let body = html! {
        h1 { "Payer par prélèvement" }
        (error_summary(errors))
        @for (a, m) in &current {
            p class="info" { "Le compte " (a.code) " est payé par prélèvement sur le compte " (m.iban.masked()) " (mandat " (m.rum) "). Pour le changer ou l'arrêter, adressez-vous au guichet de la régie." }
        }
        @if state.config.sepa.is_none() {
            p class="info" { "La régie ne propose pas encore le prélèvement. Vous pouvez payer par virement ou au guichet." }
        } @else if open.is_empty() && current.is_empty() {
            p { "Vous n'avez pas encore de compte de facturation : il est ouvert avec votre abonnement." }
        } @else if !open.is_empty() {
            p { "Chaque facture sera prélevée à la date qu'elle annonce, au moins 14 jours après son envoi. Vous pouvez arrêter à tout moment au guichet." }
            form method="post" action="/mon-espace/prelevement" {
                input type="hidden" name="csrf_token" value=(csrf);
                @if open.len() == 1 {
                    input type="hidden" name="compte" value=(open[0].code);
                    p { "Compte de facturation : " strong { (open[0].code) } " (" (open[0].name) ")" }
                } @else {
                    div class="champ" {
                        label for="compte" { "Compte de facturation" }
                        select id="compte" name="compte" { @for a in &open { option value=(a.code) selected[f.compte == a.code] { (a.code) " — " (a.name) } } }
                    }
                }
                (text_input(errors, "titulaire", "titulaire", "Titulaire du compte bancaire", "Tel qu'il figure sur votre relevé d'identité bancaire.", &f.titulaire))
                (text_input(errors, "iban", "iban", "IBAN", "Sur votre relevé d'identité bancaire, par exemple FR76 3000 6000 0112 3456 7890 189.", &f.iban))
                (text_input(errors, "bic", "bic", "BIC", "Facultatif.", &f.bic))
                h2 { "Mandat de prélèvement SEPA" }
                p { (billing::mandate::authorisation(&creditor)) }
                div class="champ" {
                    input type="checkbox" id="accord" name="accord" value="oui" aria-invalid=(has_error(errors, "accord"))
                        aria-describedby=[has_error(errors, "accord").then_some("accord-erreur")];
                    label for="accord" { "J'autorise " (creditor) " à prélever mon compte selon ce mandat." }
                    (field_error(errors, "accord"))
                }
                button type="submit" { "Donner mon accord" }
            }
        }
        p { a href="/mon-espace" { "Retour à mon espace" } }
    };
    Ok(render(
        status,
        layout("Payer par prélèvement", Some(me), "/mon-espace", body),
    ))
}

/// `GET /mon-espace/prelevement`.
pub async fn mine(State(state): State<AppState>, me: Principal) -> PageResult {
    consent_page(&state, &me, StatusCode::OK, &[], &ConsentForm::default()).await
}

/// `POST /mon-espace/prelevement`: the household's mandate, given online.
pub async fn give(
    State(state): State<AppState>,
    me: Principal,
    Form(f): Form<ConsentForm>,
) -> PageResult {
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    let account = crate::billing::scope::account_of(&state, &me, &f.compte).await;
    if account.is_err() {
        errors.push((
            "compte",
            "choisissez l'un de vos comptes de facturation".into(),
        ));
    }
    let iban = Iban::parse(&f.iban).map_err(|e| errors.push(("iban", e.to_string())));
    let bic = match f.bic.trim() {
        "" => Ok(None),
        b => Bic::parse(b)
            .map(Some)
            .map_err(|e| errors.push(("bic", e.to_string()))),
    };
    if f.titulaire.trim().is_empty() {
        errors.push(("titulaire", "le titulaire du compte est obligatoire".into()));
    }
    if f.accord.as_deref() != Some("oui") {
        errors.push(("accord", "cochez la case pour donner votre accord".into()));
    }
    if state.config.sepa.is_none() {
        errors.push((
            "iban",
            "la régie ne propose pas encore le prélèvement".into(),
        ));
    }
    let (Ok(account), Ok(iban), Ok(bic), true) = (account, iban, bic, errors.is_empty()) else {
        return consent_page(&state, &me, StatusCode::UNPROCESSABLE_ENTITY, &errors, &f).await;
    };
    match billing::storage::add_mandate_online(
        &state.db,
        &me.actor(),
        &account.code,
        &f.titulaire,
        &iban,
        bic.as_ref(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/mon-espace/prelevement").into_response()),
        Err(billing::Error::Invalid(m)) => {
            consent_page(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                &[("titulaire", m)],
                &f,
            )
            .await
        }
        Err(e) => Err(Error::from(e).into()),
    }
}
