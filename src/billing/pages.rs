//! Billing pages: the accountant's monthly run (preview, then issue) and
//! the documents issued; a household's own invoices on "Mon espace".

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::Form;
use billing::compute::Month;
use billing::model::{DocumentKind, Invoice};
use chrono::Datelike;
use maud::{html, Markup};
use serde::Deserialize;

use crate::platform::auth::Principal;
use crate::platform::web::{error_summary, field_error, has_error, layout, render, PageError};
use crate::social::today;
use crate::{AppState, Error};

type PageResult = Result<Response, PageError>;

pub const RUNS: &str = "/comptabilite/facturation";

/// The month before today's: the one to bill.
fn last_month() -> Month {
    let t = today();
    let first = chrono::NaiveDate::from_ymd_opt(t.year(), t.month(), 1).unwrap_or(t);
    let prev = first.pred_opt().unwrap_or(first);
    Month::parse(&prev.format("%Y-%m").to_string()).unwrap_or(Month {
        first: prev,
        last: prev,
    })
}

/// The documents as a table.
pub fn invoice_table(caption: &str, list: &[Invoice]) -> Markup {
    html! {
        table tabindex="0" {
            caption { (caption) }
            thead { tr { th scope="col" { "Numéro" } th scope="col" { "Type" } th scope="col" { "Période" } th scope="col" { "Émise le" }
                th scope="col" class="nombre" { "HT" } th scope="col" class="nombre" { "TVA" } th scope="col" class="nombre" { "TTC" } } }
            tbody {
                @for i in list {
                    tr {
                        td { a href={ "/factures/" (i.number) } { (i.number) } @if let Some(c) = &i.corrects { br; span class="aide" { "corrige " (c) } } }
                        td { (match i.kind {
                            DocumentKind::Invoice => "facture",
                            DocumentKind::CreditNote => "avoir",
                            DocumentKind::Balance => "solde repris",
                        }) }
                        td { (period_words(&i.period)) }
                        td { (i.issued_on.format("%d/%m/%Y")) }
                        td class="nombre" { (i.net) }
                        td class="nombre" { (i.tax) }
                        td class="nombre" { strong { (i.gross) } }
                    }
                }
            }
        }
    }
}

async fn runs_render(
    state: &AppState,
    me: &Principal,
    status: StatusCode,
    period: &str,
    notice: Option<Markup>,
    errors: &[(&'static str, String)],
) -> PageResult {
    let month = Month::parse(period).unwrap_or_else(|_| last_month());
    let preview = billing::run::preview(&state.db, month).await?;
    let mut issued = billing::storage::invoices(&state.db, None).await?;
    issued.reverse();
    issued.truncate(100);
    let csrf = me.csrf();
    let running = state
        .runs
        .get(&state.db, &month.label())
        .await?
        .filter(|r| r.status == "running");
    // A month is issued once it is over: before, the page says from when.
    let not_yet =
        billing::run::IssueDate::new(month, crate::social::today(), crate::social::today())
            .err()
            .map(|e| e.to_string());
    let body = html! {
        h1 { "Facturation mensuelle" }
        (error_summary(errors))
        @if let Some(n) = notice { (n) }
        @if let Some(r) = &running {
            // The page reloads itself until the run is over.
            meta http-equiv="refresh" content="2";
            div class="info" role="status" {
                p { "Émission des factures de " (period_words(&r.period.to_string())) " en cours : " (r.done) " abonnements traités sur " (r.total) "." }
                progress max=(r.total.max(1)) value=(r.done) aria-label="Avancement de l'émission" { (r.done) " / " (r.total) }
            }
        }
        form method="get" action=(RUNS) {
            div class="champ" {
                label for="periode" { "Mois à facturer" span class="aide" { "AAAA-MM, par exemple " (last_month().label()) "." } }
                input type="text" id="periode" name="periode" value=(month.label()) aria-invalid=(has_error(errors, "periode"))
                    aria-describedby=[has_error(errors, "periode").then_some("periode-erreur")];
                (field_error(errors, "periode"))
            }
            button type="submit" class="secondaire" { "Prévisualiser" }
        }
        @if state.config.regie_siren.is_none() || state.config.regie_vat_number.is_none() {
            p class="info" { "Le SIREN ou le numéro de TVA de la régie n'est pas configuré (réglages " code { "regie_siren" } " et " code { "regie_vat_number" } ", à demander à l'administrateur) : "
                "ce sont des mentions obligatoires des factures." }
        }
        h2 { "Prévisualisation de " (month.words()) }
        dl class="fiche" {
            div { dt { "Factures à émettre" } dd { (preview.to_issue) } }
            div { dt { "Déjà émises" } dd { (preview.already) } }
            div { dt { "Total TTC à émettre" } dd { (preview.gross) } }
        }
        @if !preview.per_offer.is_empty() {
            table tabindex="0" {
                caption { "Abonnements par offre" }
                thead { tr { th scope="col" { "Offre" } th scope="col" class="nombre" { "Abonnements" } } }
                tbody { @for (o, n) in &preview.per_offer { tr { td { (o) } td class="nombre" { (n) } } } }
            }
        }
        @if !preview.anomalies.is_empty() {
            div class="resume-erreurs" role="region" aria-labelledby="anomalies" {
                h3 id="anomalies" { "Anomalies à vérifier avant d'émettre" }
                ul { @for a in &preview.anomalies { li { (a) } } }
            }
        }
        @if let Some(why) = &not_yet {
            p class="info" { (why) "." }
        } @else if preview.to_issue > 0 && running.is_none() {
            form method="post" action={ (RUNS) "/" (month.label()) } {
                input type="hidden" name="csrf_token" value=(csrf);
                p { "L'émission numérote les factures sans trou ; relancer une émission n'émet rien deux fois." }
                button type="submit" { "Émettre les factures de " (month.words()) }
            }
        }
        h2 { "Dernières pièces émises" }
        @if issued.is_empty() { p class="info" { "Aucune facture émise." } } @else { (invoice_table("Factures et avoirs, les plus récents d'abord", &issued)) }
    };
    Ok(render(
        status,
        layout("Facturation mensuelle", Some(me), RUNS, body),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct RunQuery {
    #[serde(default)]
    periode: Option<String>,
}

/// `GET /comptabilite/facturation[?periode=AAAA-MM]`.
pub async fn runs(
    State(state): State<AppState>,
    me: Principal,
    axum::extract::Query(q): axum::extract::Query<RunQuery>,
) -> PageResult {
    match q.periode.as_deref() {
        Some(p) if Month::parse(p).is_err() => {
            let errors = vec![("periode", format!("« {p} » n'est pas un mois (AAAA-MM)"))];
            runs_render(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                &last_month().label(),
                None,
                &errors,
            )
            .await
        }
        Some(p) => runs_render(&state, &me, StatusCode::OK, p, None, &[]).await,
        None => {
            runs_render(
                &state,
                &me,
                StatusCode::OK,
                &last_month().label(),
                None,
                &[],
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct IssueForm {}

/// `POST /comptabilite/facturation/{periode}`: issues the month.
pub async fn issue(
    State(state): State<AppState>,
    me: Principal,
    Path(period): Path<String>,
    Form(_): Form<IssueForm>,
) -> PageResult {
    let (month, issued_on) = match crate::billing::runs::month_to_issue(&period, None) {
        Ok(m) => m,
        Err(Error::Invalid(m)) => {
            return runs_render(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                &period,
                None,
                &[("periode", m)],
            )
            .await
        }
        Err(e) => return Err(e.into()),
    };
    state
        .runs
        .start(state.db.clone(), me.actor(), month, issued_on)
        .await?;
    // A small run ends while the accountant waits; a large one goes on in
    // the background and the page shows its progress.
    let mut finished = None;
    for _ in 0..40 {
        match state.runs.get(&state.db, &month.label()).await? {
            Some(s) if s.status != "running" => {
                finished = Some(s);
                break;
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    let outcome = match finished {
        None => return runs_render(&state, &me, StatusCode::ACCEPTED, &period, None, &[]).await,
        Some(s) => match (s.report, s.error) {
            (Some(r), _) => Ok(r),
            (None, e) => Err(Error::Invalid(e.unwrap_or_default())),
        },
    };
    match outcome {
        Ok(r) => {
            let msg = format!(
                "{} facture(s) émise(s) pour {}, {} TTC ; {} déjà émise(s).",
                r.issued,
                period_words(&r.period.to_string()),
                r.gross,
                r.already
            );
            runs_render(
                &state,
                &me,
                StatusCode::OK,
                &period,
                Some(html! { p class="succes" role="status" { (msg) } }),
                &[],
            )
            .await
        }
        Err(Error::Invalid(m)) => {
            runs_render(
                &state,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                &period,
                None,
                &[("periode", m)],
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /factures/{number}`: the PDF, for billing staff or the household
/// it belongs to.
pub async fn invoice_pdf(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
) -> PageResult {
    Ok(crate::billing::files::invoice_pdf_response(&state, &me, &number).await?)
}

/// A billing period in words: « novembre 2026 » (the stored form when it
/// is no month).
fn period_words(period: &str) -> String {
    billing::compute::Month::parse(period)
        .map(billing::compute::Month::words)
        .unwrap_or_else(|_| period.to_owned())
}

/// Where an invoice stands for the household that received it, from its
/// kind, number, issue date and amount.
fn standing(
    (kind, number, issued_on, gross): (DocumentKind, &str, chrono::NaiveDate, i64),
    open: &[billing::ledger::Open],
    debited: bool,
    payment_days: u32,
) -> String {
    if kind != DocumentKind::Invoice {
        return "déduit de votre solde".into();
    }
    if gross <= 0 {
        return "rien à payer".into();
    }
    let due_on = billing::document::debit_day(issued_on, payment_days);
    match open.iter().find(|o| o.invoice == number) {
        None => "payée".into(),
        Some(o) if debited => format!(
            "{} seront prélevés le {}",
            regie_core::fr::euros(o.due.0),
            regie_core::fr::date(due_on)
        ),
        Some(o) if o.due.0 < gross => format!(
            "reste {} à payer avant le {}",
            regie_core::fr::euros(o.due.0),
            regie_core::fr::date(due_on)
        ),
        Some(_) => format!("à payer avant le {}", regie_core::fr::date(due_on)),
    }
}

/// The household's invoices on "Mon espace": a list that reads on a
/// phone — what, how much, where it stands, the PDF — with no tax
/// columns, which a household does not need.
pub async fn household_part(state: &AppState, me: &Principal) -> Result<Markup, Error> {
    let mut mine = crate::billing::scope::visible_invoices(state, me, None).await?;
    mine.sort_by(|a, b| (b.issued_on, &b.number).cmp(&(a.issued_on, &a.number)));
    let mut accounts: Vec<&str> = mine.iter().map(|i| i.account.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let mut open = Vec::new();
    let mut debited = Vec::new();
    for a in accounts {
        open.extend(billing::storage::ledger::balance(&state.db, a).await?.open);
        if billing::storage::live_mandate(&state.db, a)
            .await?
            .is_some()
        {
            debited.push(a.to_owned());
        }
    }
    Ok(html! {
        h2 { "Mes factures" }
        @if mine.is_empty() {
            p { "Aucune facture pour l'instant." }
        } @else {
            ul class="factures" {
                @for i in &mine {
                    li {
                        p class="facture-titre" {
                            strong { (match i.kind {
                                DocumentKind::Invoice => "Facture",
                                DocumentKind::CreditNote => "Avoir",
                                DocumentKind::Balance => "Solde repris",
                            }) " de " (period_words(&i.period)) }
                            " — " strong { (regie_core::fr::euros(i.gross.0)) }
                        }
                        p {
                            (standing((i.kind, &i.number, i.issued_on, i.gross.0), &open, debited.contains(&i.account), state.config.payment_days))
                            " · n° " (i.number) ", émise le " (regie_core::fr::date(i.issued_on))
                        }
                        p { a href={ "/factures/" (i.number) } {
                            (match i.kind {
                                DocumentKind::Invoice => "Télécharger la facture ",
                                DocumentKind::CreditNote => "Télécharger l'avoir ",
                                DocumentKind::Balance => "Télécharger le relevé du solde ",
                            })
                            (i.number) " (PDF)"
                        } }
                    }
                }
            }
        }
        p { a href="/mon-espace/prelevement" { "Payer mes factures par prélèvement" } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing::ledger::Open;
    use billing::money::Cents;

    #[test]
    fn a_household_reads_where_each_invoice_stands() {
        let issued = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default();
        let open = |due| {
            vec![Open {
                invoice: "FA1".into(),
                issued_on: issued,
                due: Cents(due),
            }]
        };
        let inv = (DocumentKind::Invoice, "FA1", issued, 2990);
        // Issued on 1 December, 30 days to pay: by 31 December.
        assert_eq!(
            standing(inv, &open(2990), false, 30),
            "à payer avant le 31 décembre 2026"
        );
        assert_eq!(
            standing(inv, &open(990), false, 30),
            "reste 9,90 € à payer avant le 31 décembre 2026"
        );
        assert_eq!(
            standing(inv, &open(2990), true, 30),
            "29,90 € seront prélevés le 31 décembre 2026"
        );
        assert_eq!(standing(inv, &[], false, 30), "payée");
        assert_eq!(
            standing(
                (DocumentKind::CreditNote, "AV1", issued, -600),
                &[],
                false,
                30
            ),
            "déduit de votre solde"
        );
        assert_eq!(period_words("2026-11"), "novembre 2026");
    }
}
