//! The files of billing an accountant downloads — the exports of a period,
//! a payment's receipt, a reminder letter — built once here, served both by
//! the API (bearer token) and by the accountant's pages (session), so a
//! link on a page never leads to a route the browser cannot open.

use crate::billing::scope::visible_invoice;
use crate::platform::auth::Principal;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use billing::exports::csv_amount;
use billing::model::Invoice;
use billing::money::Cents;
use billing::storage::ledger as store;
use chrono::NaiveDate;

use crate::social::today;
use crate::{AppState, Error};

/// A file to hand over: its name, type and bytes.
#[derive(Debug)]
pub struct Download {
    pub name: String,
    pub mime: &'static str,
    pub body: Vec<u8>,
    /// Shown in the browser (PDF) rather than saved.
    pub inline: bool,
}

impl IntoResponse for Download {
    fn into_response(self) -> Response {
        let disposition = if self.inline { "inline" } else { "attachment" };
        (
            [
                (header::CONTENT_TYPE, self.mime.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("{disposition}; filename=\"{}\"", self.name),
                ),
            ],
            self.body,
        )
            .into_response()
    }
}

fn pdf(name: String, body: Vec<u8>) -> Download {
    Download {
        name: format!("{name}.pdf"),
        mime: "application/pdf",
        body,
        inline: true,
    }
}

/// The exports a period has, by the name in their address.
pub const EXPORTS: [&str; 5] = ["fec", "register", "payments", "arrears", "pes"];

/// An export of the period `from`–`to`: `fec`, `register`, `payments`,
/// `arrears` or `pes` (with `[pes]` configured; `bordereau` numbers the
/// first bordereau).
pub async fn export(
    state: &AppState,
    kind: &str,
    from: NaiveDate,
    to: NaiveDate,
    bordereau: Option<u32>,
) -> Result<Download, Error> {
    if to < from {
        return Err(Error::Invalid(format!(
            "la période finit le {} avant de commencer le {}",
            to.format("%d/%m/%Y"),
            from.format("%d/%m/%Y")
        )));
    }
    let csv = |body: String, name: String| Download {
        name,
        mime: "text/csv; charset=utf-8",
        body: body.into_bytes(),
        inline: false,
    };
    Ok(match kind {
        "fec" => {
            // The year's entries up to `to`: numbers run from the year's
            // first entry, whatever the range.
            let opening = billing::fec::opening_day(from);
            let documents = billing::storage::booked_between(&state.db, opening, to).await?;
            let payments = store::payments_between(&state.db, opening, to).await?;
            let names = billing::storage::accounts(&state.db, None)
                .await?
                .into_iter()
                .map(|a| (a.code, a.name))
                .collect();
            let books = billing::fec::Books {
                documents: &documents,
                payments: &payments,
                names: &names,
            };
            let rows = billing::fec::rows(&books, &state.config.accounting, from, to);
            Download {
                name: billing::fec::file_name(
                    state.config.regie_siren.as_deref().unwrap_or("000000000"),
                    billing::fec::closing_day(to),
                ),
                mime: "text/plain; charset=iso-8859-15",
                body: billing::fec::latin9(&billing::fec::text(&rows)),
                inline: false,
            }
        }
        "register" => {
            let docs = billing::storage::issued_between(&state.db, from, to).await?;
            csv(
                billing::exports::register_csv(&docs),
                format!("registre-{from}-{to}.csv"),
            )
        }
        "payments" => csv(
            billing::exports::payments_csv(&store::payments_between(&state.db, from, to).await?),
            format!("paiements-{from}-{to}.csv"),
        ),
        "arrears" => csv(arrears_csv(state, to).await?, format!("impayes-{to}.csv")),
        "pes" => {
            let Some(pes) = &state.config.pes else {
                return Err(Error::Invalid(
                    "le flux PES V2 demande la section [pes] de la configuration (poste_comptable, siret, libelle_budget)".into(),
                ));
            };
            let docs = billing::storage::issued_between(&state.db, from, to).await?;
            Download {
                name: format!("PES_Aller-{from}-{to}.xml"),
                mime: "application/xml",
                body: billing::pes::pes_aller(&docs, pes, to, bordereau.unwrap_or(1).max(1))?
                    .xml
                    .into_bytes(),
                inline: false,
            }
        }
        other => {
            return Err(Error::NotFound(format!(
                "aucun export « {other} » (fec, register, payments, arrears ou pes)"
            )))
        }
    })
}

/// Arrears by account and age on `on`.
async fn arrears_csv(state: &AppState, on: NaiveDate) -> Result<String, Error> {
    let open = store::open_invoices(&state.db, on).await?;
    let mut out = String::from(
        "compte;nom;non_echu;1_30_jours;31_60_jours;61_90_jours;plus_90_jours;total\r\n",
    );
    let mut i = 0;
    while i < open.len() {
        let account = &open[i].account;
        let j = open[i..]
            .iter()
            .position(|o| &o.account != account)
            .map_or(open.len(), |k| i + k);
        let of: Vec<billing::ledger::Open> = open[i..j].iter().map(|o| o.open.clone()).collect();
        let a = billing::exports::ageing(&of, on, state.config.payment_days)?;
        let total = Cents(of.iter().map(|o| o.due.0).sum());
        let name = open[i].name.replace([';', '"'], " ");
        out.push_str(&format!(
            "{account};{name};{};{};{};{};{};{}\r\n",
            csv_amount(a.not_due),
            csv_amount(a.days_1_30),
            csv_amount(a.days_31_60),
            csv_amount(a.days_61_90),
            csv_amount(a.over_90),
            csv_amount(total)
        ));
        i = j;
    }
    Ok(out)
}

/// The receipt of a payment, as PDF.
pub async fn receipt(state: &AppState, number: &str) -> Result<Download, Error> {
    let p = store::payment(&state.db, number).await?;
    let payer = billing::storage::account(&state.db, &p.account).await?;
    let seller = state.config.seller();
    let blocks = billing::document::receipt_blocks(&p, &payer, &seller);
    let bytes = billing::document::render(format!("Reçu {}", p.number), &seller, blocks)?;
    Ok(pdf(format!("recu-{}", p.number), bytes))
}

/// The reminder letter of an account that owes something, as PDF: the
/// latest reminder step taken (the first when none yet).
pub async fn reminder(state: &AppState, code: &str) -> Result<Download, Error> {
    let account = billing::storage::account(&state.db, code).await?;
    let balance = store::balance(&state.db, &account.code).await?;
    if balance.open.is_empty() {
        return Err(Error::Invalid(format!(
            "le compte {} ne doit rien : pas de lettre de relance",
            account.code
        )));
    }
    let n = store::steps(&state.db, &account.code)
        .await?
        .iter()
        .filter(|s| s.action == "reminder")
        .map(|s| s.step)
        .max()
        .unwrap_or(1);
    let seller = state.config.seller();
    let blocks = billing::document::reminder_blocks(
        &account,
        &seller,
        usize::try_from(n).unwrap_or(1),
        &balance.open,
        today(),
    );
    let bytes = billing::document::render(format!("Relance {}", account.code), &seller, blocks)?;
    Ok(pdf(format!("relance-{}", account.code), bytes))
}

/// The filled-in form of an account's live mandate, to print and sign at
/// the counter (PDF); it names the régie's creditor identifier, so it
/// needs `[sepa]`.
pub async fn mandate_form(state: &AppState, code: &str) -> Result<Download, Error> {
    let Some(sepa) = &state.config.sepa else {
        return Err(Error::Invalid(
            "le prélèvement SEPA demande la section [sepa] de la configuration (ICS, IBAN, BIC)"
                .into(),
        ));
    };
    let account = billing::storage::account(&state.db, code).await?;
    let mandate = billing::storage::live_mandate(&state.db, &account.code)
        .await?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "le compte {} n'a pas de mandat en cours",
                account.code
            ))
        })?;
    let seller = state.config.seller();
    let blocks = billing::mandate::form(&mandate, &account, &seller, &sepa.creditor_id);
    let bytes = billing::document::render(format!("Mandat {}", mandate.rum), &seller, blocks)?;
    Ok(pdf(format!("mandat-{}", mandate.rum), bytes))
}

/// The régie as seller, from the configuration.
pub fn seller(state: &AppState) -> billing::document::Seller {
    state.config.seller()
}

/// A document the caller may read, as PDF.
pub async fn invoice_pdf_response(
    state: &AppState,
    me: &Principal,
    number: &str,
) -> Result<axum::response::Response, Error> {
    use axum::response::IntoResponse;
    let inv = visible_invoice(state, me, number).await?;
    let notice = debit_notice(state, &inv).await?;
    let bytes = billing::document::pdf(&inv, &seller(state), notice.as_ref())?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/pdf".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{}.pdf\"", inv.number),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The pre-notification of an invoice paid by direct debit (an account
/// with a live mandate, the régie set up as SEPA creditor): the debit falls
/// on the due date, never before the notice delay.
pub async fn debit_notice(
    state: &AppState,
    inv: &Invoice,
) -> Result<Option<billing::document::DebitNotice>, Error> {
    let Some(sepa) = &state.config.sepa else {
        return Ok(None);
    };
    let Some(m) = billing::storage::live_mandate(&state.db, &inv.account).await? else {
        return Ok(None);
    };
    let days = state.config.debit_days().unwrap_or(sepa.prenotice_days);
    Ok(billing::document::DebitNotice::new(
        inv,
        &m,
        &sepa.creditor_id,
        days,
    ))
}
