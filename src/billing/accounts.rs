//! The accountant's accounts: a search by name, account code, invoice
//! number, line id or the end of an IBAN; and an invoice's page with its
//! lines, what is left to pay, the credit notes correcting it and the form
//! to issue one (the whole invoice or a part, with the reason).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use billing::ledger::Protection;
use billing::model::DocumentKind;
use billing::money::{Cents, VatRate};
use billing::storage::ledger as store;
use billing::storage::search::AccountQuery;
use maud::{html, Markup};
use serde::Deserialize;
use serde::Serialize;

use crate::platform::auth::Principal;
use crate::platform::web::{error_summary, field_error, has_error, layout, render, PageError};
use crate::social::today;
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

pub const ACCOUNTS: &str = "/comptabilite/comptes";

#[derive(Debug, Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
}

/// `GET /comptabilite/comptes?q=…`: find an account.
pub async fn search(
    State(state): State<AppState>,
    me: Principal,
    Query(query): Query<SearchQuery>,
) -> PageResult {
    let typed = query.q.trim();
    let (found, error) = if typed.is_empty() {
        (None, None)
    } else {
        match AccountQuery::parse(typed) {
            Ok(q) => (
                Some(billing::storage::search::search_accounts(&state.db, &q, 50).await?),
                None,
            ),
            Err(e) => (None, Some(e.to_string())),
        }
    };
    let errors: Vec<(&'static str, String)> = error.into_iter().map(|e| ("q", e)).collect();
    let body = html! {
        h1 { "Comptes" }
        (error_summary(&errors))
        form method="get" action=(ACCOUNTS) role="search" {
            div class="champ" {
                label for="q" { "Rechercher un compte" span class="aide" { "Nom, numéro de compte (CPT-…), de facture (FA…), de ligne (RGE-…) ou fin d'IBAN." } }
                input type="search" id="q" name="q" value=(typed) aria-invalid=(has_error(&errors, "q"))
                    aria-describedby=[has_error(&errors, "q").then_some("q-erreur")];
                (field_error(&errors, "q"))
            }
            button type="submit" { "Rechercher" }
        }
        @if let Some(list) = &found {
            @if list.is_empty() {
                p class="info" role="status" { "Aucun compte ne correspond à « " (typed) " »." }
            } @else {
                table tabindex="0" {
                    caption { (list.len()) " compte(s) pour « " (typed) " »" }
                    thead { tr { th scope="col" { "Compte" } th scope="col" { "Nom" } th scope="col" { "Commune" } th scope="col" { "Type" } } }
                    tbody { @for a in list { tr {
                        td { a href={ (ACCOUNTS) "/" (a.code) } { (a.code) } }
                        td { (a.name) }
                        td { (a.postcode) " " (a.town) }
                        td { (match a.kind { billing::model::AccountKind::Household => "particulier", billing::model::AccountKind::Business => "entreprise" }) }
                    } } }
                }
            }
        }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render(status, layout("Comptes", Some(&me), ACCOUNTS, body)))
}

/// The form of a credit note.
#[derive(Debug, Deserialize, Default)]
pub struct CreditForm {
    /// `totalite` or `partiel`.
    #[serde(default)]
    pub etendue: String,
    /// A part, VAT included.
    #[serde(default)]
    pub montant: String,
    /// The rate of the part (`20`, `5,5`…).
    #[serde(default)]
    pub taux: String,
    #[serde(default)]
    pub motif: String,
}

async fn invoice_render(
    state: &AppState,
    me: &Principal,
    number: &str,
    status: StatusCode,
    errors: &[(&'static str, String)],
    form: &CreditForm,
) -> PageResult {
    let inv = billing::storage::invoice(&state.db, number).await?;
    let all = billing::storage::invoices(&state.db, Some(&inv.account)).await?;
    let credits: Vec<_> = all
        .iter()
        .filter(|c| c.corrects.as_deref() == Some(inv.number.as_str()))
        .collect();
    let balance = billing::storage::ledger::balance(&state.db, &inv.account).await?;
    let due = balance
        .open
        .iter()
        .find(|o| o.invoice == inv.number)
        .map_or(Cents::ZERO, |o| o.due);
    let csrf = me.csrf();
    let title = match inv.kind {
        DocumentKind::Invoice => format!("Facture {}", inv.number),
        DocumentKind::CreditNote => format!("Avoir {}", inv.number),
        DocumentKind::Balance => format!("Solde repris {}", inv.number),
    };
    let body = html! {
        h1 { (title) }
        (error_summary(errors))
        dl class="fiche" {
            div { dt { "Compte" } dd { a href={ (ACCOUNTS) "/" (inv.account) } { (inv.account) } " — " (inv.buyer.name) } }
            div { dt { "Émise le" } dd { (inv.issued_on.format("%d/%m/%Y")) } }
            div { dt { "Période" } dd { (inv.period) } }
            div { dt { "Total TTC" } dd { strong { (inv.gross) } } }
            @if inv.kind != DocumentKind::CreditNote {
                div { dt { "Reste à payer" } dd { @if due.0 > 0 { (due) } @else { "payée" } } }
            }
            @if let Some(c) = &inv.corrects { div { dt { "Corrige" } dd { a href={ "/comptabilite/factures/" (c) } { (c) } } } }
        }
        p { a href={ "/factures/" (inv.number) } { "Télécharger le PDF" } }
        table tabindex="0" {
            caption { "Lignes" }
            thead { tr { th scope="col" { "Désignation" } th scope="col" class="nombre" { "Montant HT" } th scope="col" class="nombre" { "TVA" } } }
            tbody { @for l in &inv.lines { tr {
                td { (l.description) } td class="nombre" { (l.net) } td class="nombre" { (l.rate.percent()) " %" }
            } } }
        }
        @if !credits.is_empty() {
            h2 { "Avoirs" }
            ul { @for c in &credits { li { a href={ "/comptabilite/factures/" (c.number) } { (c.number) } " du " (c.issued_on.format("%d/%m/%Y")) " : " (Cents(-c.gross.0)) } } }
        }
        @if inv.kind == DocumentKind::Invoice {
            h2 { "Émettre un avoir" }
            form method="post" action={ "/comptabilite/factures/" (inv.number) "/avoir" } {
                input type="hidden" name="csrf_token" value=(csrf);
                fieldset {
                    legend { "Ce que l'avoir rend" }
                    div { input type="radio" id="etendue-totalite" name="etendue" value="totalite" checked[form.etendue != "partiel"] disabled[!credits.is_empty()];
                        label for="etendue-totalite" { "Toute la facture (" (inv.gross) ")" @if !credits.is_empty() { " — déjà en partie corrigée" } } }
                    div { input type="radio" id="etendue-partiel" name="etendue" value="partiel" checked[form.etendue == "partiel" || !credits.is_empty()];
                        label for="etendue-partiel" { "Une partie" } }
                }
                div class="champ" {
                    label for="montant" { "Montant de la partie, TTC" span class="aide" { "Par exemple 5,00." } }
                    input type="text" id="montant" name="montant" inputmode="decimal" value=(form.montant) aria-invalid=(has_error(errors, "montant"))
                        aria-describedby=[has_error(errors, "montant").then_some("montant-erreur")];
                    (field_error(errors, "montant"))
                }
                div class="champ" {
                    label for="taux" { "Taux de TVA de la partie" }
                    select id="taux" name="taux" { @for b in &inv.breakdown { option value=(b.rate.as_written()) selected[form.taux == b.rate.as_written()] { (b.rate.percent()) " %" } } }
                }
                div class="champ" {
                    label for="motif" { "Motif" span class="aide" { "Imprimé sur l'avoir, par exemple « panne du 3 au 10 mars »." } }
                    input type="text" id="motif" name="motif" value=(form.motif) aria-invalid=(has_error(errors, "motif"))
                        aria-describedby=[has_error(errors, "motif").then_some("motif-erreur")];
                    (field_error(errors, "motif"))
                }
                button type="submit" { "Émettre l'avoir" }
            }
        }
    };
    Ok(render(status, layout(&title, Some(me), ACCOUNTS, body)))
}

/// `GET /comptabilite/factures/{number}`.
pub async fn invoice(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
) -> PageResult {
    invoice_render(
        &state,
        &me,
        &number,
        StatusCode::OK,
        &[],
        &CreditForm::default(),
    )
    .await
}

/// `POST /comptabilite/factures/{number}/avoir`: a credit note, then its
/// page.
pub async fn credit(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
    Form(f): Form<CreditForm>,
) -> PageResult {
    let inv = billing::storage::invoice(&state.db, &number).await?;
    let lines = if f.etendue == "partiel" {
        let amount = Cents::parse(&f.montant);
        let rate = VatRate::parse(&f.taux);
        match (amount, rate) {
            (Ok(a), Ok(r)) => billing::credit::part(&inv, a, r, &f.motif),
            (Err(e), _) => Err(e),
            (_, Err(e)) => Err(e),
        }
    } else {
        billing::credit::whole(&inv, &f.motif)
    };
    let issued = match lines {
        Ok(lines) => {
            billing::storage::credit_note(&state.db, &me.actor(), &inv.number, lines, today()).await
        }
        Err(e) => Err(e),
    };
    match issued {
        Ok(cn) => {
            Ok(Redirect::to(&format!("/comptabilite/factures/{}", cn.number)).into_response())
        }
        Err(billing::Error::Invalid(m)) => {
            let field = if m.contains("motif") {
                "motif"
            } else {
                "montant"
            };
            invoice_render(
                &state,
                &me,
                &number,
                StatusCode::UNPROCESSABLE_ENTITY,
                &[(field, m)],
                &f,
            )
            .await
        }
        Err(e) => Err(Error::from(e).into()),
    }
}

/// The account page's list of invoices, with what is left to pay.
pub async fn invoices_part(state: &AppState, code: &str) -> Result<Markup, Error> {
    let list = billing::storage::invoices(&state.db, Some(code)).await?;
    let balance = billing::storage::ledger::balance(&state.db, code).await?;
    let lines = billing::storage::ledger::lines_of(&state.db, code).await?;
    Ok(html! {
        h2 { "Factures et avoirs" }
        @if list.is_empty() { p { "Aucune facture." } } @else {
            table tabindex="0" {
                caption { "Du plus ancien au plus récent ; chaque avoir suit la facture qu'il corrige" }
                thead { tr { th scope="col" { "Numéro" } th scope="col" { "Émise le" } th scope="col" class="nombre" { "TTC" } th scope="col" { "Situation" } } }
                tbody { @for i in &list {
                    @let due = balance.open.iter().find(|o| o.invoice == i.number).map(|o| o.due);
                    tr {
                        td { a href={ "/comptabilite/factures/" (i.number) } { (i.number) } }
                        td { (i.issued_on.format("%d/%m/%Y")) }
                        td class="nombre" { (i.gross) }
                        td { (match (i.kind, due) {
                            (DocumentKind::CreditNote, _) => format!("avoir sur {}", i.corrects.as_deref().unwrap_or("")),
                            (_, Some(d)) => format!("reste {d} à payer"),
                            (_, None) if i.gross.0 == 0 => "rien à payer".to_owned(),
                            (_, None) => "payée".to_owned(),
                        }) }
                    }
                } }
            }
        }
        h2 { "Lignes abonnées" }
        @if lines.is_empty() { p { "Aucune ligne en cours." } } @else { ul { @for l in &lines { li { (l) } } } }
    })
}

/// The position of an account: balance, open invoices, dunning steps and
/// the keep-connected protection.
pub async fn position(state: &AppState, code: &str) -> Result<Position, Error> {
    let account = billing::storage::account(&state.db, code).await?;
    let grace = billing::dunning::in_grace(&state.db, today()).await?;
    let protection = billing::dunning::protection(
        &state.db,
        &account.code,
        account.household.as_deref(),
        &grace,
    )
    .await?;
    Ok(Position {
        balance: store::balance(&state.db, &account.code).await?,
        protection_text: protection.as_ref().map(Protection::explain),
        protection,
        line_policy: store::policy(&state.db, &account.code)
            .await?
            .map_or_else(|| "normal".to_owned(), |(w, _)| w),
        dunning: store::steps(&state.db, &account.code).await?,
    })
}

/// An account's position as the accountant sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Position {
    #[schema(value_type = Object)]
    pub balance: store::Balance,
    /// Why the line may not be cut, if it may not.
    #[schema(value_type = Option<Object>)]
    pub protection: Option<Protection>,
    /// `protection` in words, for the page.
    pub protection_text: Option<String>,
    /// `normal`, `suspended` or `throttled`: what billing asked.
    pub line_policy: String,
    #[schema(value_type = Vec<Object>)]
    pub dunning: Vec<store::DoneStep>,
}
