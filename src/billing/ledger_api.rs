//! Billing's money API: payments at the counter (with receipts), bank
//! imports (transfers, direct-debit rejects), returns, balances and
//! statements, FSL requests and decisions, the dunning pass and the
//! accountant's exports. Billing staff only.

use crate::billing::accounts::{position, Position};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use billing::ledger::{Method, ReturnReason};
use billing::money::Cents;
use billing::storage::ledger::{self as store, ImportReport, Payment};
use serde::{Deserialize, Serialize};

use crate::platform::api::extract::{Json, Path, Query};
use crate::platform::error::{ApiError, ErrorBody};
use crate::social::today;
use crate::{AppState, Error};

fn day(name: &str, v: Option<&str>) -> Result<chrono::NaiveDate, Error> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(today()),
        Some(v) => v.parse().map_err(|_| {
            Error::Invalid(format!(
                "{name} « {v} » : date attendue au format AAAA-MM-JJ"
            ))
        }),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PaymentBody {
    pub account: String,
    /// `cash`, `card` or `cheque`.
    pub method: String,
    pub amount_cents: i64,
    /// Today when absent.
    #[serde(default)]
    pub received_on: Option<String>,
    /// A cheque's number (required for a cheque), a card slip's reference.
    #[serde(default)]
    pub reference: Option<String>,
    /// Settle this invoice first rather than the oldest.
    #[serde(default)]
    pub invoice: Option<String>,
}

/// Records a payment at the counter; the answer is the receipt (its PDF
/// at `/api/v1/billing/payments/{number}/receipt`). The `Idempotency-Key`
/// header is required: one payment per key, however often it is sent.
#[utoipa::path(post, path = "/api/v1/billing/payments", operation_id = "record_payment", tag = "billing",
    security(("bearer" = [])), request_body = PaymentBody,
    params(("Idempotency-Key" = String, Header, description = "a value unique to this payment")),
    responses((status = 201, description = "the payment and the invoices it settled", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such account"),
        (status = 422, body = ErrorBody, description = "a field is missing or wrong")))]
pub async fn record_payment(
    State(state): State<AppState>,
    me: crate::platform::auth::Principal,
    headers: axum::http::HeaderMap,
    Json(b): Json<PaymentBody>,
) -> Result<(StatusCode, Json<Payment>), ApiError> {
    // Money is booked once per key: the same call sent twice, or a hundred
    // times at once, books one payment.
    let key = headers
        .get(crate::platform::idempotency::HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            Error::Invalid(
                "Idempotency-Key : en-tête obligatoire pour enregistrer un paiement (une valeur unique par paiement)".into(),
            )
        })?;
    let submission = {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{}\n{key}", me.username).as_bytes());
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let new = store::NewPayment {
        account: b.account,
        method: Method::parse(&b.method).map_err(Error::from)?,
        amount: Cents(b.amount_cents),
        received_on: day("received_on", b.received_on.as_deref())?,
        reference: b.reference,
        invoice: b.invoice,
        submission: Some(submission),
    };
    let p = store::record_payment(&state.db, &me.actor(), &new).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// The receipt of a payment, as PDF.
#[utoipa::path(get, path = "/api/v1/billing/payments/{number}/receipt", operation_id = "payment_receipt", tag = "billing",
    security(("bearer" = [])), params(("number" = String, Path, example = "PA2026-000001")),
    responses((status = 200, description = "the receipt", content_type = "application/pdf"),
        (status = 404, body = ErrorBody, description = "no such payment")))]
pub async fn receipt(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    Ok(crate::billing::files::receipt(&state, &number)
        .await?
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReturnBody {
    pub invoice: String,
    /// The ISO 20022 reason: AC01, AC04, AM04, MD06, MS02…
    pub reason: String,
    #[serde(default)]
    pub returned_on: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReturnAnswer {
    /// False when this debit had already been returned.
    pub booked: bool,
}

/// Books one returned or rejected direct debit by hand.
#[utoipa::path(post, path = "/api/v1/billing/returns", operation_id = "record_return", tag = "billing",
    security(("bearer" = [])), request_body = ReturnBody,
    responses((status = 200, description = "booked, or already booked", body = ReturnAnswer),
        (status = 404, body = ErrorBody, description = "the invoice was never debited"),
        (status = 422, body = ErrorBody, description = "unknown reason code")))]
pub async fn record_return(
    State(state): State<AppState>,
    me: crate::platform::auth::Principal,
    Json(b): Json<ReturnBody>,
) -> Result<Json<ReturnAnswer>, ApiError> {
    let reason = ReturnReason::parse(&b.reason).map_err(Error::from)?;
    let on = day("returned_on", b.returned_on.as_deref())?;
    let booked = store::record_return(&state.db, &me.actor(), &b.invoice, reason, on).await?;
    Ok(Json(ReturnAnswer { booked }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check and report without booking anything.
    #[serde(default)]
    pub dry_run: bool,
    /// The day the returns are booked on (today when absent).
    #[serde(default)]
    pub on: Option<String>,
}

fn import_answer(report: ImportReport) -> Response {
    let status = if report.faults.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, Json(report)).into_response()
}

/// Imports the bank's pain.002 report of rejected direct debits: every
/// rejection booked with its ISO reason, all or nothing.
#[utoipa::path(post, path = "/api/v1/billing/imports/returns", operation_id = "import_returns", tag = "billing",
    security(("bearer" = [])), params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/xml", description = "the pain.002 report"),
    responses((status = 200, description = "booked (or checked, with dry_run)", content_type = "application/json"),
        (status = 422, description = "faults: nothing was booked", content_type = "application/json")))]
pub async fn import_returns(
    State(state): State<AppState>,
    me: crate::platform::auth::Principal,
    Query(q): Query<ImportQuery>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let returned = billing::ledger::parse_status_report(&body).map_err(Error::from)?;
    let on = day("on", q.on.as_deref())?;
    let report = store::import_returns(&state.db, &me.actor(), &returned, on, q.dry_run).await?;
    Ok(import_answer(report))
}

/// Imports the bank's statement of transfers (CSV with `date`, `montant`
/// and `libelle` columns): each credit naming an invoice or an account is
/// booked; the others are listed for the accountant. All or nothing.
#[utoipa::path(post, path = "/api/v1/billing/imports/transfers", operation_id = "import_transfers", tag = "billing",
    security(("bearer" = [])), params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "text/csv", description = "the bank statement"),
    responses((status = 200, description = "booked (or checked, with dry_run)", content_type = "application/json"),
        (status = 422, description = "faults with line and field: nothing was booked", content_type = "application/json")))]
pub async fn import_transfers(
    State(state): State<AppState>,
    me: crate::platform::auth::Principal,
    Query(q): Query<ImportQuery>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let lines = match billing::ledger::parse_transfers(&body) {
        Ok(l) => l,
        Err(faults) => {
            return Ok(import_answer(ImportReport {
                faults,
                ..ImportReport::default()
            }))
        }
    };
    let report = store::import_transfers(&state.db, &me.actor(), &lines, q.dry_run).await?;
    Ok(import_answer(report))
}

/// An account's balance, open invoices, dunning and protection.
#[utoipa::path(get, path = "/api/v1/billing/accounts/{code}/balance", operation_id = "account_balance", tag = "billing",
    security(("bearer" = [])), params(("code" = String, Path)),
    responses((status = 200, description = "the position", body = Position),
        (status = 404, body = ErrorBody, description = "no such account")))]
pub async fn balance(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Position>, ApiError> {
    Ok(Json(position(&state, &code).await?))
}

/// An account's statement: documents and entries with the running balance.
#[utoipa::path(get, path = "/api/v1/billing/accounts/{code}/statement", operation_id = "account_statement", tag = "billing",
    security(("bearer" = [])), params(("code" = String, Path)),
    responses((status = 200, description = "the statement", content_type = "application/json"),
        (status = 404, body = ErrorBody, description = "no such account")))]
pub async fn statement(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Vec<store::StatementLine>>, ApiError> {
    billing::storage::account(&state.db, &code).await?;
    Ok(Json(store::statement(&state.db, &code).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FslBody {
    #[serde(default)]
    pub filed_on: Option<String>,
    /// The FSL's file number.
    #[serde(default)]
    pub reference: Option<String>,
}

/// Records the household's request to the FSL: its line is not cut for
/// unpaid bills until the decision (at most slowed).
#[utoipa::path(post, path = "/api/v1/billing/accounts/{code}/fsl", operation_id = "file_fsl", tag = "billing",
    security(("bearer" = [])), params(("code" = String, Path)), request_body = FslBody,
    responses((status = 204, description = "recorded"),
        (status = 404, body = ErrorBody, description = "no such account"),
        (status = 422, body = ErrorBody, description = "a request already awaits its decision")))]
pub async fn file_fsl(
    State(state): State<AppState>,
    me: crate::platform::auth::Principal,
    Path(code): Path<String>,
    Json(b): Json<FslBody>,
) -> Result<StatusCode, ApiError> {
    let on = day("filed_on", b.filed_on.as_deref())?;
    store::file_fsl(&state.db, &me.actor(), &code, on, b.reference.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FslDecisionBody {
    #[serde(default)]
    pub decided_on: Option<String>,
    /// What the FSL pays the régie.
    pub paid_cents: i64,
    /// What the decision writes off.
    #[serde(default)]
    pub written_off_cents: i64,
}

/// Books the FSL's decision: its payment and the write-off.
#[utoipa::path(post, path = "/api/v1/billing/accounts/{code}/fsl/decision", operation_id = "decide_fsl", tag = "billing",
    security(("bearer" = [])), params(("code" = String, Path)), request_body = FslDecisionBody,
    responses((status = 200, description = "the account's position after the booking", body = Position),
        (status = 404, body = ErrorBody, description = "no such account"),
        (status = 422, body = ErrorBody, description = "no pending request, or a negative amount")))]
pub async fn decide_fsl(
    State(state): State<AppState>,
    me: crate::platform::auth::Principal,
    Path(code): Path<String>,
    Json(b): Json<FslDecisionBody>,
) -> Result<Json<Position>, ApiError> {
    let on = day("decided_on", b.decided_on.as_deref())?;
    store::decide_fsl(
        &state.db,
        &me.actor(),
        &code,
        on,
        Cents(b.paid_cents),
        Cents(b.written_off_cents),
    )
    .await?;
    Ok(Json(position(&state, &code).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DunningBody {
    /// The day the pass runs as (today when absent).
    #[serde(default)]
    pub date: Option<String>,
}

/// Runs the dunning pass now (it also runs every night): reminders due,
/// suspensions for unpaid bills, throttles for protected households,
/// resumptions of settled accounts.
#[utoipa::path(post, path = "/api/v1/billing/dunning", operation_id = "run_dunning", tag = "billing",
    security(("bearer" = [])), request_body = DunningBody,
    responses((status = 200, description = "what the pass did", content_type = "application/json")))]
pub async fn dunning(
    State(state): State<AppState>,
    me: crate::platform::auth::Principal,
    Json(b): Json<DunningBody>,
) -> Result<Json<billing::dunning::PassReport>, ApiError> {
    let on = day("date", b.date.as_deref())?;
    let report = billing::dunning::pass(
        &state.db,
        &state.provisioning,
        &me.actor(),
        on,
        state.config.payment_days,
        &state.config.dunning,
    )
    .await?;
    Ok(Json(report))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First day (YYYY-MM-DD).
    pub from: String,
    /// Last day (YYYY-MM-DD).
    pub to: String,
    /// For `pes`: the number of the first bordereau (1 by default).
    #[serde(default)]
    pub bordereau: Option<u32>,
}

/// The accountant's exports of a period: `fec` (the sales journal, FEC
/// layout, tab-separated), `register` (invoices and credit notes with VAT
/// per rate), `payments` (the payments journal) and `arrears` (what is
/// owed by age on the period's last day), CSV in UTF-8; `pes`, the PES V2
/// receipt flow (titres de recette) when the configuration has `[pes]`.
#[utoipa::path(get, path = "/api/v1/billing/exports/{kind}", operation_id = "billing_export", tag = "billing",
    security(("bearer" = [])), params(("kind" = String, Path, description = "fec, register, payments, arrears or pes"), PeriodQuery),
    responses((status = 200, description = "the file", content_type = "text/csv"),
        (status = 404, body = ErrorBody, description = "no such export"),
        (status = 422, body = ErrorBody, description = "bad dates")))]
pub async fn export(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let from = day("from", Some(&q.from))?;
    let to = day("to", Some(&q.to))?;
    Ok(
        crate::billing::files::export(&state, &kind, from, to, q.bordereau)
            .await?
            .into_response(),
    )
}

/// The reminder letter of an account: its open invoices and what is owed,
/// numbered after the last reminder step the dunning pass recorded.
#[utoipa::path(get, path = "/api/v1/billing/accounts/{code}/reminder", operation_id = "reminder_letter", tag = "billing",
    security(("bearer" = [])), params(("code" = String, Path)),
    responses((status = 200, description = "the letter", content_type = "application/pdf"),
        (status = 404, body = ErrorBody, description = "no such account"),
        (status = 422, body = ErrorBody, description = "the account owes nothing")))]
pub async fn reminder(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    Ok(crate::billing::files::reminder(&state, &code)
        .await?
        .into_response())
}
