//! Billing's JSON API: offers, accounts, subscriptions and their changes,
//! monthly runs (preview, issue), invoices and credit notes. Accountants
//! and admins manage; a household reads its own invoices.

use crate::billing::files::{debit_notice, invoice_pdf_response, seller};
use crate::billing::runs::day;
use crate::billing::runs::issue_month;
use crate::billing::scope::{visible_invoice, visible_invoices};
use axum::extract::State;
use axum::http::StatusCode;
use billing::compute::{Line, LineKind, Month};
use billing::model::{AccountKind, Invoice, NewAccount, NewOffer, Subscription};
use billing::money::{Cents, VatRate};
use billing::run::Report;
use billing::storage::SubscriptionChange;
use serde::Deserialize;

use crate::platform::api::extract::{Json, Path, Query};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, ErrorBody};
use crate::social::today;
use crate::{AppState, Error};

/// An offer as voted: prices in cents VAT included, the rate as written.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OfferBody {
    pub code: String,
    pub name: String,
    pub monthly_price_cents: i64,
    /// `20`, `10`, `5,5`, `2,1` or `0`.
    pub vat_rate: String,
    #[serde(default)]
    pub setup_fee_cents: i64,
    pub deliberation: String,
    pub valid_from: String,
    #[serde(default)]
    pub valid_to: Option<String>,
}

/// Records an offer voted by délibération.
#[utoipa::path(post, path = "/api/v1/billing/offers", operation_id = "create_offer", tag = "billing",
    security(("bearer" = [])), request_body = OfferBody,
    responses((status = 201, description = "the offer", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "a field is missing or wrong, or the code exists")))]
pub async fn create_offer(
    State(state): State<AppState>,
    me: Principal,
    Json(b): Json<OfferBody>,
) -> Result<(StatusCode, Json<billing::model::Offer>), ApiError> {
    let new = NewOffer {
        code: b.code,
        name: b.name,
        monthly_gross: Cents(b.monthly_price_cents),
        rate: VatRate::parse(&b.vat_rate).map_err(Error::from)?,
        setup_fee: Cents(b.setup_fee_cents),
        deliberation: b.deliberation,
        valid_from: day("valid_from", &b.valid_from)?,
        valid_to: b
            .valid_to
            .as_deref()
            .map(|d| day("valid_to", d))
            .transpose()?,
    };
    let offer = billing::storage::create_offer(&state.db, &me.actor(), &new).await?;
    Ok((StatusCode::CREATED, Json(offer)))
}

/// The offers.
#[utoipa::path(get, path = "/api/v1/billing/offers", operation_id = "list_offers", tag = "billing",
    security(("bearer" = [])), responses((status = 200, description = "the offers", content_type = "application/json")))]
pub async fn offers(
    State(state): State<AppState>,
) -> Result<Json<Vec<billing::model::Offer>>, ApiError> {
    Ok(Json(billing::storage::offers(&state.db).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AccountBody {
    /// `household` or `business`.
    pub kind: String,
    pub name: String,
    pub address: String,
    pub postcode: String,
    pub town: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub siren: Option<String>,
    #[serde(default)]
    pub vat_number: Option<String>,
    /// The social-tariff household code, for the tariff.
    #[serde(default)]
    pub household: Option<String>,
}

/// Opens a payer's account.
#[utoipa::path(post, path = "/api/v1/billing/accounts", operation_id = "create_account", tag = "billing",
    security(("bearer" = [])), request_body = AccountBody,
    responses((status = 201, description = "the account", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "a field is missing or wrong")))]
pub async fn create_account(
    State(state): State<AppState>,
    me: Principal,
    Json(b): Json<AccountBody>,
) -> Result<(StatusCode, Json<billing::model::Account>), ApiError> {
    if let Some(h) = &b.household {
        social_tariff::get_household(&state.db, social_tariff::Scope::All, h)
            .await
            .map_err(|_| Error::Invalid(format!("household : aucun foyer « {} »", h.trim())))?;
    }
    let new = NewAccount {
        kind: AccountKind::parse(&b.kind).map_err(Error::from)?,
        name: b.name,
        address: b.address,
        postcode: b.postcode,
        town: b.town,
        email: b.email,
        siren: b.siren,
        vat_number: b.vat_number,
        household: b.household,
    };
    let account = billing::storage::create_account(&state.db, &me.actor(), &new).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// The accounts.
#[utoipa::path(get, path = "/api/v1/billing/accounts", operation_id = "list_accounts", tag = "billing",
    security(("bearer" = [])), responses((status = 200, description = "the accounts", content_type = "application/json")))]
pub async fn accounts(
    State(state): State<AppState>,
) -> Result<Json<Vec<billing::model::Account>>, ApiError> {
    Ok(Json(billing::storage::accounts(&state.db, None).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SubscriptionBody {
    pub account: String,
    pub line_id: String,
    pub offer: String,
    pub started_on: String,
}

/// Subscribes a provisioning line to an offer.
#[utoipa::path(post, path = "/api/v1/billing/subscriptions", operation_id = "subscribe", tag = "billing",
    security(("bearer" = [])), request_body = SubscriptionBody,
    responses((status = 201, description = "the subscription", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "unknown line, line not yet in service or started before, offer closed, or the line already subscribed")))]
pub async fn subscribe(
    State(state): State<AppState>,
    me: Principal,
    Json(b): Json<SubscriptionBody>,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let s = billing::sync::subscribe(
        &state.db,
        &state.provisioning,
        &me.actor(),
        &b.account,
        &b.line_id,
        &b.offer,
        day("started_on", &b.started_on)?,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChangeBody {
    /// The first day under the change.
    pub on: String,
    /// `plan` (with `offer`), `suspend_on_request`, `resume` or `end`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub change: SubscriptionChange,
}

/// A plan change, a suspension at the subscriber's request, a resumption
/// or the end, from a day on.
#[utoipa::path(post, path = "/api/v1/billing/subscriptions/{code}/changes", operation_id = "change_subscription", tag = "billing",
    security(("bearer" = [])), params(("code" = String, Path)), request_body = ChangeBody,
    responses((status = 200, description = "the subscription", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "not after the current period's start")))]
pub async fn change(
    State(state): State<AppState>,
    me: Principal,
    Path(code): Path<String>,
    Json(b): Json<ChangeBody>,
) -> Result<Json<Subscription>, ApiError> {
    let s = billing::storage::change(&state.db, &me.actor(), &code, day("on", &b.on)?, &b.change)
        .await?;
    Ok(Json(s))
}

/// What issuing a month would do, without writing.
#[utoipa::path(get, path = "/api/v1/billing/runs/{period}", operation_id = "preview_run", tag = "billing",
    security(("bearer" = [])), params(("period" = String, Path, example = "2026-11")),
    responses((status = 200, description = "totals, counts per offer, anomalies", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "not a month")))]
pub async fn preview(
    State(state): State<AppState>,
    Path(period): Path<String>,
) -> Result<Json<Report>, ApiError> {
    let month = Month::parse(&period).map_err(Error::from)?;
    Ok(Json(billing::run::preview(&state.db, month).await?))
}

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct IssueBody {
    /// The issue date; today by default.
    #[serde(default)]
    pub issued_on: Option<String>,
}

/// Issues the month's invoices not yet issued (safe to repeat).
#[utoipa::path(post, path = "/api/v1/billing/runs/{period}", operation_id = "issue_run", tag = "billing",
    security(("bearer" = [])), params(("period" = String, Path, example = "2026-11")), request_body = IssueBody,
    responses((status = 200, description = "what was issued", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "not a month, or the month is not over")))]
pub async fn issue(
    State(state): State<AppState>,
    me: Principal,
    Path(period): Path<String>,
    Json(b): Json<IssueBody>,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(
        issue_month(&state, &me, &period, b.issued_on.as_deref()).await?,
    ))
}

/// How a run started from the page stands (progress, then its report).
#[utoipa::path(get, path = "/api/v1/billing/runs/{period}/state", operation_id = "run_state", tag = "billing",
    security(("bearer" = [])), params(("period" = String, Path, example = "2026-11")),
    responses((status = 200, description = "the run's progress", body = crate::billing::runs::RunState),
        (status = 404, body = ErrorBody, description = "no run of this month was started from the page")))]
pub async fn run_state(
    State(state): State<AppState>,
    Path(period): Path<String>,
) -> Result<Json<crate::billing::runs::RunState>, ApiError> {
    state
        .runs
        .get(&state.db, period.trim())
        .await?
        .map(Json)
        .ok_or_else(|| Error::NotFound(format!("run of {period}")).into())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceQuery {
    /// Billing staff: one account's documents.
    pub account: Option<String>,
}

/// Invoices and credit notes, in number order.
#[utoipa::path(get, path = "/api/v1/billing/invoices", operation_id = "list_invoices", tag = "billing",
    security(("bearer" = [])), params(InvoiceQuery),
    responses((status = 200, description = "the documents", content_type = "application/json")))]
pub async fn invoices(
    State(state): State<AppState>,
    me: Principal,
    Query(q): Query<InvoiceQuery>,
) -> Result<Json<Vec<Invoice>>, ApiError> {
    Ok(Json(
        visible_invoices(&state, &me, q.account.as_deref()).await?,
    ))
}

/// One invoice or credit note.
#[utoipa::path(get, path = "/api/v1/billing/invoices/{number}", operation_id = "show_invoice", tag = "billing",
    security(("bearer" = [])), params(("number" = String, Path, example = "FA2026-000001")),
    responses((status = 200, description = "the document", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such document (or not yours)")))]
pub async fn invoice(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
) -> Result<Json<Invoice>, ApiError> {
    Ok(Json(visible_invoice(&state, &me, &number).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreditLine {
    pub description: String,
    /// What is given back, net of VAT, in cents (positive).
    pub net_cents: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreditBody {
    pub lines: Vec<CreditLine>,
}

/// Issues a credit note against an invoice, in full or in part (at the
/// invoice's VAT rate).
#[utoipa::path(post, path = "/api/v1/billing/invoices/{number}/credit-notes", operation_id = "issue_credit_note", tag = "billing",
    security(("bearer" = [])), params(("number" = String, Path)), request_body = CreditBody,
    responses((status = 201, description = "the credit note", content_type = "application/json"),
        (status = 422, body = ErrorBody, description = "more than the invoice still owes, or empty")))]
pub async fn credit_note(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
    Json(b): Json<CreditBody>,
) -> Result<(StatusCode, Json<Invoice>), ApiError> {
    let inv = billing::storage::invoice(&state.db, &number).await?;
    let rate = inv.lines.first().map_or(VatRate::STANDARD, |l| l.rate);
    let mut lines = Vec::new();
    for l in b.lines {
        if l.description.trim().is_empty() || l.description.chars().count() > 200 {
            return Err(Error::Invalid(
                "lines: each line needs a description (200 characters at most)".into(),
            )
            .into());
        }
        lines.push(Line {
            kind: LineKind::Subscription,
            description: l.description.trim().to_owned(),
            net: Cents(l.net_cents),
            rate,
        });
    }
    let cn =
        billing::storage::credit_note(&state.db, &me.actor(), &inv.number, lines, today()).await?;
    Ok((StatusCode::CREATED, Json(cn)))
}

/// The invoice or credit note as PDF.
#[utoipa::path(get, path = "/api/v1/billing/invoices/{number}/pdf", operation_id = "invoice_pdf", tag = "billing",
    security(("bearer" = [])), params(("number" = String, Path)),
    responses((status = 200, description = "the PDF", content_type = "application/pdf"),
        (status = 404, body = ErrorBody, description = "no such document (or not yours)")))]
pub async fn pdf(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    Ok(invoice_pdf_response(&state, &me, &number).await?)
}

/// The invoice or credit note as EN 16931 CII XML (Factur-X EN16931).
#[utoipa::path(get, path = "/api/v1/billing/invoices/{number}/cii", operation_id = "invoice_cii", tag = "billing",
    security(("bearer" = [])), params(("number" = String, Path)),
    responses((status = 200, description = "the CII XML", content_type = "application/xml"),
        (status = 404, body = ErrorBody, description = "no such document (or not yours)")))]
pub async fn cii(
    State(state): State<AppState>,
    me: Principal,
    Path(number): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let inv = visible_invoice(&state, &me, &number).await?;
    if inv.kind == billing::model::DocumentKind::Balance {
        // Not an invoice of the régie: there is no e-invoice to give.
        return Err(crate::Error::NotFound(format!(
            "{} est un solde repris de l'opérateur sortant, pas une facture électronique",
            inv.number
        ))
        .into());
    }
    let notice = debit_notice(&state, &inv).await?;
    let xml = billing::cii::to_cii(&inv, &seller(&state), notice.as_ref());
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/xml".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.xml\"", inv.number),
            ),
        ],
        xml,
    )
        .into_response())
}
