//! Billing, as the binary serves it: the accountant's and the household's
//! pages, the billing API, the documents answered as files, the monthly
//! run started from a page, and the `regie billing` and `regie takeover`
//! commands. The rules (invoices, ledger, SEPA, exports) live in the
//! `billing` crate.

pub mod accounts;
pub mod cli;
pub mod files;
pub mod home;
pub mod invoices_api;
pub mod ledger;
pub mod ledger_api;
pub mod mandates;
pub mod mandates_api;
pub mod pages;
pub mod runs;
pub mod scope;
pub mod takeover_cli;

use crate::platform::routes::{
    get, post,
    Access::Roles,
    Route,
    Surface::{Api, Page},
    ACCOUNTANT, BILLING_STAFF, HOUSEHOLD, INVOICE_READERS,
};

/// The routes of billing, each with who may call it: one line each
/// (method, path, access, surface, handler).
#[rustfmt::skip]
pub fn routes() -> Vec<Route> {
    vec![
        // API.
        post("/api/v1/billing/offers", Roles(BILLING_STAFF), Api, invoices_api::create_offer),
        get("/api/v1/billing/offers", Roles(BILLING_STAFF), Api, invoices_api::offers),
        post("/api/v1/billing/accounts", Roles(BILLING_STAFF), Api, invoices_api::create_account),
        get("/api/v1/billing/accounts", Roles(BILLING_STAFF), Api, invoices_api::accounts),
        post("/api/v1/billing/subscriptions", Roles(BILLING_STAFF), Api, invoices_api::subscribe),
        post("/api/v1/billing/subscriptions/{code}/changes", Roles(BILLING_STAFF), Api, invoices_api::change),
        get("/api/v1/billing/runs/{period}", Roles(BILLING_STAFF), Api, invoices_api::preview),
        post("/api/v1/billing/runs/{period}", Roles(BILLING_STAFF), Api, invoices_api::issue),
        get("/api/v1/billing/runs/{period}/state", Roles(BILLING_STAFF), Api, invoices_api::run_state),
        get("/api/v1/billing/invoices", Roles(INVOICE_READERS), Api, invoices_api::invoices),
        get("/api/v1/billing/invoices/{number}", Roles(INVOICE_READERS), Api, invoices_api::invoice),
        get("/api/v1/billing/invoices/{number}/pdf", Roles(INVOICE_READERS), Api, invoices_api::pdf),
        get("/api/v1/billing/invoices/{number}/cii", Roles(INVOICE_READERS), Api, invoices_api::cii),
        post("/api/v1/billing/invoices/{number}/credit-notes", Roles(BILLING_STAFF), Api, invoices_api::credit_note),
        post("/api/v1/billing/payments", Roles(BILLING_STAFF), Api, ledger_api::record_payment),
        get("/api/v1/billing/payments/{number}/receipt", Roles(BILLING_STAFF), Api, ledger_api::receipt),
        post("/api/v1/billing/returns", Roles(BILLING_STAFF), Api, ledger_api::record_return),
        post("/api/v1/billing/imports/returns", Roles(BILLING_STAFF), Api, ledger_api::import_returns),
        post("/api/v1/billing/imports/transfers", Roles(BILLING_STAFF), Api, ledger_api::import_transfers),
        get("/api/v1/billing/accounts/{code}/balance", Roles(BILLING_STAFF), Api, ledger_api::balance),
        get("/api/v1/billing/accounts/{code}/statement", Roles(BILLING_STAFF), Api, ledger_api::statement),
        get("/api/v1/billing/accounts/{code}/reminder", Roles(BILLING_STAFF), Api, ledger_api::reminder),
        get("/api/v1/billing/accounts/{code}/mandates", Roles(BILLING_STAFF), Api, mandates_api::list),
        post("/api/v1/billing/accounts/{code}/mandates", Roles(BILLING_STAFF), Api, mandates_api::add),
        post("/api/v1/billing/accounts/{code}/mandates/amendment", Roles(BILLING_STAFF), Api, mandates_api::amend),
        post("/api/v1/billing/accounts/{code}/mandates/revocation", Roles(BILLING_STAFF), Api, mandates_api::revoke),
        post("/api/v1/billing/my/mandates", Roles(HOUSEHOLD), Api, mandates_api::give),
        post("/api/v1/billing/accounts/{code}/fsl", Roles(BILLING_STAFF), Api, ledger_api::file_fsl),
        post("/api/v1/billing/accounts/{code}/fsl/decision", Roles(BILLING_STAFF), Api, ledger_api::decide_fsl),
        post("/api/v1/billing/dunning", Roles(BILLING_STAFF), Api, ledger_api::dunning),
        get("/api/v1/billing/exports/{kind}", Roles(BILLING_STAFF), Api, ledger_api::export),
        // Pages.
        get("/comptabilite/facturation", Roles(BILLING_STAFF), Page, pages::runs),
        get("/comptabilite/impayes", Roles(BILLING_STAFF), Page, ledger::arrears),
        get("/comptabilite/comptes", Roles(BILLING_STAFF), Page, accounts::search),
        get("/comptabilite/factures/{number}", Roles(BILLING_STAFF), Page, accounts::invoice),
        post("/comptabilite/factures/{number}/avoir", Roles(BILLING_STAFF), Page, accounts::credit),
        get("/comptabilite/comptes/{code}", Roles(BILLING_STAFF), Page, ledger::account),
        post("/comptabilite/comptes/{code}/paiement", Roles(BILLING_STAFF), Page, ledger::pay),
        post("/comptabilite/comptes/{code}/fsl", Roles(BILLING_STAFF), Page, ledger::fsl),
        post("/comptabilite/comptes/{code}/mandat", Roles(BILLING_STAFF), Page, mandates::create),
        post("/comptabilite/comptes/{code}/mandat/compte", Roles(BILLING_STAFF), Page, mandates::amend),
        post("/comptabilite/comptes/{code}/mandat/revocation", Roles(BILLING_STAFF), Page, mandates::revoke),
        get("/comptabilite/comptes/{code}/mandat.pdf", Roles(BILLING_STAFF), Page, mandates::form_pdf),
        get("/mon-espace/prelevement", Roles(HOUSEHOLD), Page, mandates::mine),
        post("/mon-espace/prelevement", Roles(HOUSEHOLD), Page, mandates::give),
        get("/comptabilite/comptes/{code}/relance", Roles(BILLING_STAFF), Page, ledger::reminder_file),
        get("/comptabilite/paiements/{number}/recu", Roles(BILLING_STAFF), Page, ledger::receipt_file),
        get("/comptabilite/exports/{kind}", Roles(BILLING_STAFF), Page, ledger::export_file),
        get("/factures/{number}", Roles(INVOICE_READERS), Page, pages::invoice_pdf),
        post("/comptabilite/facturation/{period}", Roles(BILLING_STAFF), Page, pages::issue),
        get("/comptabilite", Roles(ACCOUNTANT), Page, home::accountant_home),
    ]
}
