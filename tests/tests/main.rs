//! The scenario tests, one module per capability, in one test binary: each
//! test binary links the whole application, so one binary per file made
//! the build many times longer and larger for nothing. Each module still
//! says what it covers in its own header.

mod access;
mod accounts;
mod alarms;
mod audit;
mod auth;
mod billing_api;
mod billing_arrears;
mod billing_cii;
mod billing_fees;
mod billing_lines;
mod billing_mandate_pages;
mod billing_mandates;
mod billing_pages;
mod billing_runs;
mod billing_scenario;
mod billing_sepa;
mod browser_a11y;
mod capacity;
mod devices;
mod every_page;
mod hardening;
mod house_rules;
mod inventory;
mod journey;
mod line_pages;
mod migrations;
mod password_resets;
mod platform;
mod provisioning;
mod radius;
mod scheduler;
mod second_factor;
mod social_applications;
mod social_grants;
mod social_pages;
mod social_privacy;
mod social_renewals;
mod social_rules;
mod startup;
mod takeover;
mod uploads;
