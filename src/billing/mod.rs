//! Billing, as the binary serves it: the accountant's and the household's
//! pages, the billing API, the documents answered as files, the monthly
//! run started from a page, and the `regie billing` and `regie takeover`
//! commands. The rules (invoices, ledger, SEPA, exports) live in the
//! `billing` crate.

pub mod accounts;
pub mod cli;
pub mod files;
pub mod invoices_api;
pub mod ledger;
pub mod ledger_api;
pub mod mandates;
pub mod mandates_api;
pub mod pages;
pub mod runs;
pub mod scope;
pub mod takeover_cli;
