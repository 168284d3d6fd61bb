//! The accountant's money pages: the arrears (who owes, how late, whose
//! line is held and why), an account's position with its statement, the
//! counter payment form (with its receipt) and the FSL request, and the
//! exports of a period.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use billing::ledger::Method;
use billing::money::Cents;
use chrono::{Datelike, Days};
use maud::{html, Markup};
use serde::Deserialize;

use crate::billing::accounts::position;
use crate::platform::auth::Principal;
use crate::platform::web::{error_summary, field_error, has_error, layout, render, PageError};
use crate::social::today;
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

pub const ARREARS: &str = "/comptabilite/impayes";

fn policy_text(p: &str) -> &'static str {
    match p {
        "suspended" => "suspendue pour impayé",
        "throttled" => "débit réduit (maintien de la connexion)",
        _ => "normale",
    }
}

/// `GET /comptabilite/impayes`: accounts with an invoice past its due
/// date, the oldest first, and the exports of the last month.
pub async fn arrears(State(state): State<AppState>, me: Principal) -> PageResult {
    let on = today();
    let days = u64::from(state.config.payment_days);
    let cut = on.checked_sub_days(Days::new(days)).unwrap_or(on);
    let mut list = billing::storage::ledger::arrears(&state.db, cut).await?;
    list.sort_by_key(|a| a.issued_on);
    let held = billing::storage::ledger::held_accounts(&state.db).await?;
    let first = on.with_day(1).unwrap_or(on);
    let prev_last = first.pred_opt().unwrap_or(first);
    let prev_first = prev_last.with_day(1).unwrap_or(prev_last);
    let period = format!("from={prev_first}&to={prev_last}");
    let body = html! {
        h1 { "Impayés et encaissements" }
        p { "Les comptes dont une facture a dépassé son échéance (" (state.config.payment_days) " jours après émission). "
            "La relance passe chaque heure : lettres aux jours " (state.config.dunning.reminder_days.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))
            " après l'échéance, demande de suspension au jour " (state.config.dunning.suspend_days)
            " — jamais pour un foyer protégé (FSL en attente, délai de grâce du tarif social), dont la ligne est seulement ralentie." }
        @if list.is_empty() { p class="info" { "Aucun impayé." } } @else {
            table tabindex="0" {
                caption { "Comptes en retard, les plus anciens d'abord" }
                thead { tr { th scope="col" { "Compte" } th scope="col" { "Plus ancienne facture" } th scope="col" class="nombre" { "Jours de retard" }
                    th scope="col" class="nombre" { "Dû" } th scope="col" { "Ligne" } } }
                tbody {
                    @for a in &list {
                        @let late = billing::ledger::days_late(a.issued_on, on, state.config.payment_days);
                        tr {
                            td { a href={ "/comptabilite/comptes/" (a.account) } { (a.account) } }
                            td { (a.invoice) }
                            td class="nombre" { (late) }
                            td class="nombre" { (a.owed) }
                            td { @if held.contains(&a.account) { "retenue" } @else { "normale" } }
                        }
                    }
                }
            }
        }
        h2 { "Exports du mois dernier" }
        ul {
            li { a href={ "/comptabilite/exports/fec?" (period) } { "Journal des ventes (FEC)" } }
            li { a href={ "/comptabilite/exports/register?" (period) } { "Registre des factures et avoirs, TVA par taux" } }
            li { a href={ "/comptabilite/exports/payments?" (period) } { "Journal des paiements" } }
            li { a href={ "/comptabilite/exports/arrears?" (period) } { "Impayés par ancienneté" } }
        }
    };
    Ok(render(
        StatusCode::OK,
        layout("Impayés et encaissements", Some(&me), ARREARS, body),
    ))
}

/// What the counter form holds.
#[derive(Debug, Deserialize, Default)]
pub struct PaymentForm {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    montant: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    reference: String,
    /// One token per displayed form: the same submission twice books once.
    #[serde(default)]
    jeton: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct FslForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    reference: String,
}

pub(crate) async fn account_render(
    state: &AppState,
    me: &Principal,
    code: &str,
    status: StatusCode,
    notice: Option<Markup>,
    errors: &[(&'static str, String)],
    (form, mandate): (&PaymentForm, &crate::billing::mandates::MandateForm),
) -> PageResult {
    let account = billing::storage::account(&state.db, code).await?;
    let pos = position(state, &account.code).await?;
    let statement = billing::storage::ledger::statement(&state.db, &account.code).await?;
    let payments = billing::storage::ledger::payments(&state.db, &account.code).await?;
    let csrf = me.csrf();
    let path = format!("/comptabilite/comptes/{}", account.code);
    let methods = [Method::Cash, Method::Card, Method::Cheque];
    let mandate_section =
        crate::billing::mandates::section(state, &account, &csrf, errors, mandate).await?;
    let invoices_part = crate::billing::accounts::invoices_part(state, &account.code).await?;
    let body = html! {
        h1 { "Compte " (account.code) " — " (account.name) }
        (error_summary(errors))
        @if let Some(n) = notice { (n) }
        dl class="fiche" {
            div { dt { "Solde dû" } dd { strong { (pos.balance.balance) } } }
            div { dt { "Facturé" } dd { (pos.balance.billed) } }
            div { dt { "Payé" } dd { (pos.balance.paid) } }
            div { dt { "Ligne" } dd { (policy_text(&pos.line_policy)) } }
        }
        @if let Some(why) = &pos.protection_text {
            p class="info" role="status" { strong { "Foyer protégé : " } (why) "." }
        }
        @if !pos.balance.open.is_empty() {
            table tabindex="0" {
                caption { "Factures ouvertes" }
                thead { tr { th scope="col" { "Facture" } th scope="col" { "Émise le" } th scope="col" class="nombre" { "Reste dû" } } }
                tbody { @for o in &pos.balance.open { tr {
                    td { a href={ "/factures/" (o.invoice) } { (o.invoice) } }
                    td { (o.issued_on.format("%d/%m/%Y")) }
                    td class="nombre" { (o.due) }
                } } }
            }
            p { a href={ "/comptabilite/comptes/" (account.code) "/relance" } { "Lettre de relance (PDF)" } }
        }
        h2 { "Encaisser au guichet" }
        form method="post" action={ (path) "/paiement" } {
            input type="hidden" name="csrf_token" value=(csrf);
            input type="hidden" name="jeton" value=(if form.jeton.is_empty() { uuid::Uuid::new_v4().simple().to_string() } else { form.jeton.clone() });
            div class="champ" {
                label for="mode" { "Mode de paiement" }
                select id="mode" name="mode" { @for m in methods { option value=(m.as_str()) selected[form.mode == m.as_str()] { (m.label()) } } }
            }
            div class="champ" {
                label for="montant" { "Montant en euros" span class="aide" { "Par exemple 29,90. Il règle la facture la plus ancienne." } }
                input type="text" id="montant" name="montant" inputmode="decimal" value=(form.montant) aria-invalid=(has_error(errors, "montant"))
                    aria-describedby=[has_error(errors, "montant").then_some("montant-erreur")];
                (field_error(errors, "montant"))
            }
            div class="champ" {
                label for="date" { "Reçu le" span class="aide" { "JJ/MM/AAAA ; aujourd'hui si vide." } }
                input type="text" id="date" name="date" value=(form.date) aria-invalid=(has_error(errors, "date"))
                    aria-describedby=[has_error(errors, "date").then_some("date-erreur")];
                (field_error(errors, "date"))
            }
            div class="champ" {
                label for="reference" { "Référence" span class="aide" { "Numéro du chèque (obligatoire pour un chèque) ou du ticket de carte." } }
                input type="text" id="reference" name="reference" value=(form.reference) aria-invalid=(has_error(errors, "reference"))
                    aria-describedby=[has_error(errors, "reference").then_some("reference-erreur")];
                (field_error(errors, "reference"))
            }
            button type="submit" { "Enregistrer le paiement" }
        }
        @if pos.protection.is_none() {
            h2 { "Demande d'aide au FSL" }
            form method="post" action={ (path) "/fsl" } {
                input type="hidden" name="csrf_token" value=(csrf);
                p { "Tant que la demande est examinée, la ligne n'est pas coupée pour impayé (article L115-3 du code de l'action sociale et des familles)." }
                div class="champ" {
                    label for="fsl-date" { "Déposée le" span class="aide" { "JJ/MM/AAAA ; aujourd'hui si vide." } }
                    input type="text" id="fsl-date" name="date" aria-invalid=(has_error(errors, "fsl-date"))
                        aria-describedby=[has_error(errors, "fsl-date").then_some("fsl-date-erreur")];
                    (field_error(errors, "fsl-date"))
                }
                div class="champ" {
                    label for="fsl-reference" { "Numéro du dossier FSL" span class="aide" { "Facultatif." } }
                    input type="text" id="fsl-reference" name="reference";
                }
                button type="submit" class="secondaire" { "Enregistrer la demande" }
            }
        }
        (invoices_part)
        (mandate_section)
        h2 { "Relevé de compte" }
        @if statement.is_empty() { p { "Aucune écriture." } } @else {
            table tabindex="0" {
                caption { "Pièces et paiements, du plus ancien au plus récent" }
                thead { tr { th scope="col" { "Date" } th scope="col" { "Libellé" } th scope="col" class="nombre" { "Montant" } th scope="col" class="nombre" { "Solde" } } }
                tbody { @for l in &statement { tr {
                    td { (l.on.format("%d/%m/%Y")) } td { (l.label) } td class="nombre" { (l.amount) } td class="nombre" { (l.balance) }
                } } }
            }
        }
        @if !payments.is_empty() {
            h2 { "Paiements reçus" }
            ul { @for p in &payments { li {
                (p.received_on.format("%d/%m/%Y")) " — " (p.method.label()) " — " (p.amount) " — "
                a href={ "/comptabilite/paiements/" (p.number) "/recu" } { "reçu " (p.number) " (PDF)" }
            } } }
        }
        @if !pos.dunning.is_empty() {
            h2 { "Relances" }
            ul { @for s in &pos.dunning { li {
                (s.on.format("%d/%m/%Y")) " — " (s.invoice) " : "
                @if s.action == "reminder" { "relance n° " (s.step) } @else { "fin du calendrier de relance" }
            } } }
        }
    };
    Ok(render(
        status,
        layout(
            &format!("Compte {}", account.code),
            Some(me),
            crate::billing::accounts::ACCOUNTS,
            body,
        ),
    ))
}

/// `GET /comptabilite/comptes/{code}`.
pub async fn account(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    axum::extract::Query(done): axum::extract::Query<Done>,
) -> PageResult {
    let notice = match (&done.paiement, done.fait.as_deref()) {
        (Some(number), _) => {
            let p = billing::storage::ledger::payment(&state.db, number)
                .await
                .ok();
            p.filter(|p| p.account == code.trim()).map(|p| {
                html! { p class="succes" role="status" {
                    "Paiement " (p.number) " de " (p.amount) " enregistré. "
                    a href={ "/comptabilite/paiements/" (p.number) "/recu" } { "Imprimer le reçu" }
                } }
            })
        }
        (None, Some(f)) => crate::billing::mandates::notice_of(f),
        (None, None) => None,
    };
    account_render(
        &state,
        &me,
        &code,
        StatusCode::OK,
        notice,
        &[],
        (
            &PaymentForm::default(),
            &crate::billing::mandates::MandateForm::default(),
        ),
    )
    .await
}

/// What the page was redirected to say after a change (`?fait=…`).
#[derive(Debug, Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    pub fait: Option<String>,
    /// The payment just booked, whose receipt the notice links.
    #[serde(default)]
    pub paiement: Option<String>,
}

pub(crate) fn form_day(v: &str) -> Option<Result<chrono::NaiveDate, String>> {
    let v = v.trim();
    (!v.is_empty()).then(|| {
        billing::ledger::bank_date(v)
            .ok_or_else(|| format!("« {v} » n'est pas une date (JJ/MM/AAAA)"))
    })
}

/// `POST /comptabilite/comptes/{code}/paiement`: a counter payment; the
/// answer links its receipt.
pub async fn pay(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Form(f): Form<PaymentForm>,
) -> PageResult {
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    let amount = Cents::parse(&f.montant).map_err(|e| e.to_string());
    match &amount {
        Err(e) => errors.push(("montant", e.clone())),
        Ok(c) if c.0 <= 0 => errors.push(("montant", "le montant doit être positif".into())),
        Ok(_) => {}
    }
    let received_on = match form_day(&f.date) {
        None => today(),
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            errors.push(("date", e));
            today()
        }
    };
    let method = Method::parse(&f.mode);
    if method.as_ref().is_ok_and(|m| *m == Method::Cheque) && f.reference.trim().is_empty() {
        errors.push(("reference", "le numéro du chèque est obligatoire".into()));
    }
    let (Ok(amount), Ok(method), true) = (amount, method, errors.is_empty()) else {
        if errors.is_empty() {
            errors.push(("montant", "mode de paiement inconnu".into()));
        }
        return account_render(
            &state,
            &me,
            &code,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            &errors,
            (&f, &crate::billing::mandates::MandateForm::default()),
        )
        .await;
    };
    let new = billing::storage::ledger::NewPayment {
        account: code.clone(),
        method,
        amount,
        received_on,
        reference: Some(f.reference.clone()),
        invoice: None,
        submission: Some(f.jeton.clone()),
    };
    match billing::storage::ledger::record_payment(&state.db, &me.actor(), &new).await {
        // One submission, one payment: the page is shown again by a GET.
        Ok(p) => Ok(axum::response::Redirect::to(&format!(
            "/comptabilite/comptes/{code}?paiement={}",
            p.number
        ))
        .into_response()),
        Err(billing::Error::Invalid(m)) => {
            account_render(
                &state,
                &me,
                &code,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &[("montant", m)],
                (&f, &crate::billing::mandates::MandateForm::default()),
            )
            .await
        }
        Err(e) => Err(Error::from(e).into()),
    }
}

/// `POST /comptabilite/comptes/{code}/fsl`: the household asked the FSL.
pub async fn fsl(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Form(f): Form<FslForm>,
) -> PageResult {
    let filed_on = match form_day(&f.date) {
        None => today(),
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            return account_render(
                &state,
                &me,
                &code,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &[("fsl-date", e)],
                (
                    &PaymentForm::default(),
                    &crate::billing::mandates::MandateForm::default(),
                ),
            )
            .await
        }
    };
    match billing::storage::ledger::file_fsl(
        &state.db,
        &me.actor(),
        &code,
        filed_on,
        Some(&f.reference),
    )
    .await
    {
        Ok(()) => {
            let notice = html! { p class="succes" role="status" { "Demande au FSL enregistrée : la ligne ne sera pas coupée pour impayé." } };
            account_render(
                &state,
                &me,
                &code,
                StatusCode::OK,
                Some(notice),
                &[],
                (
                    &PaymentForm::default(),
                    &crate::billing::mandates::MandateForm::default(),
                ),
            )
            .await
        }
        Err(billing::Error::Invalid(m)) => {
            account_render(
                &state,
                &me,
                &code,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &[("fsl-date", m)],
                (
                    &PaymentForm::default(),
                    &crate::billing::mandates::MandateForm::default(),
                ),
            )
            .await
        }
        Err(e) => Err(Error::from(e).into()),
    }
}

/// The dates of an export, from the page's link.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    pub from: String,
    pub to: String,
}

fn query_day(name: &str, v: &str) -> Result<chrono::NaiveDate, Error> {
    v.trim().parse().map_err(|_| {
        Error::Invalid(format!(
            "{name} « {} » : date attendue au format AAAA-MM-JJ",
            v.trim()
        ))
    })
}

/// `GET /comptabilite/exports/{kind}?from=…&to=…`: an export of the
/// period, downloaded with the page's session.
pub async fn export_file(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ExportQuery>,
) -> PageResult {
    let from = query_day("début", &q.from)?;
    let to = query_day("fin", &q.to)?;
    Ok(crate::billing::files::export(&state, &kind, from, to, None)
        .await?
        .into_response())
}

/// `GET /comptabilite/paiements/{number}/recu`: a payment's receipt (PDF).
pub async fn receipt_file(State(state): State<AppState>, Path(number): Path<String>) -> PageResult {
    Ok(crate::billing::files::receipt(&state, &number)
        .await?
        .into_response())
}

/// `GET /comptabilite/comptes/{code}/relance`: the reminder letter (PDF).
pub async fn reminder_file(State(state): State<AppState>, Path(code): Path<String>) -> PageResult {
    Ok(crate::billing::files::reminder(&state, &code)
        .await?
        .into_response())
}
