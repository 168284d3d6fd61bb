//! Configuration: built-in defaults, then an optional TOML file, then
//! `REGIE_*` environment variables, then command-line flags; each layer
//! overrides the ones before it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use regie_core::DatabaseUrl;
use serde::{Deserialize, Serialize};

use crate::Error;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The effective configuration.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: String,
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`; when
    /// absent, SQLite at `DATA_DIR/regie.db`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Directory for the SQLite file and other local data.
    pub data_dir: PathBuf,
    /// Maximum number of database connections of this instance.
    pub db_max_connections: u32,
    pub log_format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `regie=debug,sqlx=warn`.
    pub log_level: String,
    /// Lifetime of a web session.
    pub session_ttl_hours: u32,
    /// Lifetime of an API token.
    pub token_ttl_hours: u32,
    /// Failed logins tolerated per account within the window.
    pub login_max_failures_per_account: u32,
    /// Failed logins tolerated per client address within the window. Higher
    /// than per account because a town-hall counter shares one address.
    pub login_max_failures_per_address: u32,
    pub login_window_minutes: u32,
    /// Trust `X-Forwarded-For` / `X-Forwarded-Proto` from a reverse proxy.
    pub trust_proxy: bool,
    /// Seconds a client may take to send a request's headers; past it the
    /// connection is closed (slow-header attacks).
    pub http_header_timeout_s: u64,
    /// Seconds a client may take to send a request's body; past it the
    /// request is refused (408).
    pub http_body_timeout_s: u64,
    /// Connections served at once; the next ones wait to be accepted.
    pub http_max_connections: usize,
    /// Public URL of the service; an `https://` URL marks cookies `Secure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Longest wait for one OLT command, in milliseconds.
    pub olt_timeout_ms: u64,
    /// BNGs told of subscriber policy changes (RFC 5176 CoA / Disconnect).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bng: Vec<BngConfig>,
    /// OLTs reached through a real driver; the others are simulated, their
    /// state kept under `DATA_DIR/simulated-olts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub olt: Vec<OltConfig>,
    /// Seconds the scheduler's lease lasts: with several instances on one
    /// database, one runs the scheduled work (polls, dunning, reminders,
    /// retention) and another takes over within this time if it stops.
    pub schedule_lease_s: u64,
    /// Seconds between two polls of the devices (interfaces, reachability).
    pub snmp_interval_s: u64,
    /// Seconds between two polls of the ONT optics (heavy for an OLT).
    pub snmp_optics_interval_s: u64,
    /// Address of the SNMP trap listener (e.g. `0.0.0.0:1162`); absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trap_listen: Option<String>,
    /// v2c communities the trap listener accepts; empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trap_communities: Vec<String>,
    /// SNMPv3 users allowed to send traps and informs (authPriv, AES-128).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trap_user: Vec<TrapUserConfig>,
    /// Devices polled over SNMP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snmp_device: Vec<SnmpDeviceConfig>,
    /// Pause between two requests to one OLT while reading its ONT optics,
    /// in milliseconds: per-ONT tables read too fast are known to
    /// destabilise real OLTs.
    pub snmp_optics_pause_ms: u64,
    /// A directory of vendor profiles (`*.toml`, see
    /// `monitoring/profiles/`): they add to the shipped ones, and override
    /// them where they match the same devices. Read at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp_profiles_dir: Option<PathBuf>,
    /// How to reach the inventory's OLTs over SNMP when their `[[olt]]`
    /// entry gives a host: they are then polled without being added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp_olt: Option<SnmpCredentialsConfig>,
    /// The key sealing the secrets stored in the database (64 hexadecimal
    /// digits or base64 of 32 bytes), e.g. from `REGIE_SECRET_KEY`; absent:
    /// read from `secret_key_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// The bearer token Prometheus sends to read `/metrics` (e.g. from
    /// `REGIE_METRICS_TOKEN`); absent: `/metrics` answers only to this
    /// machine (loopback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<String>,
    /// The file holding that key, created on first use; absent:
    /// `DATA_DIR/secret.key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_file: Option<PathBuf>,
    /// The régie's name, as its letters and invoices are signed.
    pub regie_name: String,
    /// The régie's postal address, on its letters and invoices.
    pub regie_address: String,
    /// The régie's SIREN and intra-community VAT number, mandatory on its
    /// invoices (the preview of a run flags their absence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regie_siren: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regie_vat_number: Option<String>,
    /// Days between an invoice's issue and its due date.
    #[serde(default = "thirty_days")]
    pub payment_days: u32,
    /// The régie as SEPA creditor, for direct debits; absent: no debit
    /// file can be made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sepa: Option<SepaConfig>,
    /// The dunning schedule: reminder letters at `reminder_days` after the
    /// due date, the request to suspend (or throttle a protected
    /// household) at `suspend_days`.
    #[serde(default)]
    pub dunning: billing::ledger::Schedule,
    /// What an upload may make the server hold (`[uploads]`).
    #[serde(default)]
    pub uploads: UploadsConfig,
    /// Roles whose accounts must use a second factor (TOTP), e.g.
    /// `["admin", "accountant", "social_agent"]`: until they turn it on,
    /// their pages lead to `/compte/double-authentification` and the API
    /// refuses them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub totp_required_roles: Vec<crate::platform::auth::Role>,
    /// The régie as the public accountant knows it, for the PES V2 receipt
    /// flow; absent: no PES export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pes: Option<billing::pes::PesConfig>,
    /// The general-ledger accounts of the FEC sales journal.
    #[serde(default)]
    pub accounting: billing::exports::Accounts,
    /// The State's API Particulier, to check a household's situation
    /// without documents; absent: agents check documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_particulier: Option<ApiParticulierConfig>,
    /// The régie's SMTP server, for e-mail reminders; absent: reminders
    /// are letters printed from the outbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpConfig>,
    /// How long social-tariff files are kept (years after the end of the
    /// entitlement, days for a forgotten draft); scans always go at the
    /// end of the appeal period.
    #[serde(default)]
    pub retention: social_tariff::privacy::Policy,
    /// A household gets one equipment grant per this many years (one per
    /// calendar year by default), as the délibération says.
    #[serde(default = "one_year")]
    pub grant_period_years: u32,
}

fn one_year() -> u32 {
    1
}

fn thirty_days() -> u32 {
    30
}

/// The SMTP server:
///
/// ```toml
/// [smtp]
/// host = "smtp.mairie.example"
/// port = 587
/// security = "starttls"          # "tls", "starttls" or "none" (a relay on the LAN)
/// username = "regie"             # facultatif
/// password = "…"                 # or REGIE_SMTP_PASSWORD
/// from = "Régie de la fibre <fibre@mairie.example>"
/// ```
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default = "default_smtp_security")]
    pub security: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    pub from: String,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_smtp_security() -> String {
    "starttls".into()
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// The régie as SEPA creditor:
///
/// ```toml
/// [sepa]
/// creditor_id = "FR72ZZZ123456"   # the ICS the Banque de France assigned
/// iban = "FR76 3000 6000 0112 3456 7890 189"
/// bic = "AGRIFRPP"
/// prenotice_days = 14              # days between the notice and the debit
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SepaConfig {
    pub creditor_id: String,
    pub iban: String,
    pub bic: String,
    #[serde(default = "fourteen_days")]
    pub prenotice_days: u32,
}

fn fourteen_days() -> u32 {
    14
}

impl SepaConfig {
    /// The creditor, its identifiers checked.
    pub fn creditor(&self, name: &str) -> Result<billing::sepa::Creditor, Error> {
        Ok(billing::sepa::Creditor {
            name: name.to_owned(),
            iban: billing::sepa::Iban::parse(&self.iban)?,
            bic: billing::sepa::Bic::parse(&self.bic)?,
            id: billing::sepa::CreditorId::parse(&self.creditor_id)?,
        })
    }
}

/// How to reach the State's API Particulier:
///
/// ```toml
/// [api_particulier]
/// url = "https://particulier.api.gouv.fr/"
/// token = "…"                 # or REGIE_API_PARTICULIER_TOKEN
/// recipient = "21350238800019" # the régie's SIRET
/// timeout_ms = 5000
/// ```
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiParticulierConfig {
    pub url: String,
    #[serde(default)]
    pub token: Option<String>,
    pub recipient: String,
    #[serde(default = "default_api_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_api_timeout_ms() -> u64 {
    5000
}

impl std::fmt::Debug for ApiParticulierConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiParticulierConfig")
            .field("url", &self.url)
            .field("recipient", &self.recipient)
            .finish_non_exhaustive()
    }
}

impl ApiParticulierConfig {
    /// The connector; the token comes from the file or from
    /// `REGIE_API_PARTICULIER_TOKEN`, never from the command line.
    pub fn verifier(&self) -> Result<social_tariff::verify::ApiParticulier, Error> {
        let token = self
            .token
            .clone()
            .or_else(|| std::env::var("REGIE_API_PARTICULIER_TOKEN").ok())
            .ok_or_else(|| {
                Error::Config(
                    "api_particulier: token missing (set it in the file or REGIE_API_PARTICULIER_TOKEN)".into(),
                )
            })?;
        social_tariff::verify::ApiParticulier::new(
            &self.url,
            token,
            self.recipient.clone(),
            std::time::Duration::from_millis(self.timeout_ms),
        )
        .map_err(|e| Error::Config(format!("api_particulier: {e}")))
    }
}

/// SNMP credentials shared by the inventory's OLTs:
///
/// ```toml
/// [snmp_olt]
/// community = "…"                 # v2c; or, for v3 authPriv (AES-128):
/// # user = "regie"; auth = "sha256"; auth_key = "…"; priv_key = "…"
/// port = 161
/// ```
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SnmpCredentialsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priv_key: Option<String>,
    /// SNMPv3 context (absent: the agent's default one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default = "default_snmp_port")]
    pub port: u16,
    #[serde(default = "default_snmp_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_snmp_retries")]
    pub retries: u32,
}

fn default_snmp_port() -> u16 {
    161
}

impl std::fmt::Debug for SnmpCredentialsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnmpCredentialsConfig")
            .field("user", &self.user)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl SnmpCredentialsConfig {
    /// The device an OLT at `host` is, polled with these credentials.
    pub fn device(&self, name: &str, host: &str) -> Result<monitoring::poller::Device, Error> {
        let address = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, self.port).to_string(),
            Err(_) => host.to_owned(),
        };
        SnmpDeviceConfig {
            name: name.to_owned(),
            address,
            community: self.community.clone(),
            user: self.user.clone(),
            auth: self.auth.clone(),
            auth_key: self.auth_key.clone(),
            priv_key: self.priv_key.clone(),
            context: self.context.clone(),
            timeout_ms: self.timeout_ms,
            retries: self.retries,
        }
        .device()
        .map_err(|e| Error::Config(format!("snmp_olt: {e}")))
    }
}

/// An SNMPv3 user of the trap listener:
///
/// ```toml
/// [[trap_user]]
/// user = "pieges"
/// auth = "sha256"                 # or "sha1"
/// auth_key = "…"
/// priv_key = "…"
/// ```
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TrapUserConfig {
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    pub auth_key: String,
    pub priv_key: String,
}

impl std::fmt::Debug for TrapUserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrapUserConfig")
            .field("user", &self.user)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl TrapUserConfig {
    /// The user as the trap listener takes it.
    pub fn user(&self) -> Result<monitoring::traps::TrapUser, Error> {
        use monitoring::snmp::V3Auth;
        let auth = V3Auth::parse(self.auth.as_deref())
            .map_err(|e| Error::Config(format!("trap_user {}: {e}", self.user)))?;
        if self.auth_key.len() < 8 || self.priv_key.len() < 8 {
            return Err(Error::Config(format!(
                "trap_user {}: keys need at least 8 characters (RFC 3414)",
                self.user
            )));
        }
        Ok(monitoring::traps::TrapUser {
            user: self.user.clone(),
            auth,
            auth_key: self.auth_key.clone(),
            priv_key: self.priv_key.clone(),
        })
    }
}

/// A device polled over SNMP:
///
/// ```toml
/// [[snmp_device]]
/// name = "OLT01"                  # an OLT: as in the inventory's PON ports
/// address = "192.0.2.10:161"
/// community = "…"                 # v2c; or, for v3 authPriv (AES-128):
/// # user = "regie"; auth = "sha256"; auth_key = "…"; priv_key = "…"
/// ```
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SnmpDeviceConfig {
    pub name: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `sha1` or `sha256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priv_key: Option<String>,
    /// SNMPv3 context (absent: the agent's default one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default = "default_snmp_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_snmp_retries")]
    pub retries: u32,
}

fn default_snmp_timeout_ms() -> u64 {
    2000
}

fn default_snmp_retries() -> u32 {
    2
}

impl std::fmt::Debug for SnmpDeviceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnmpDeviceConfig")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl SnmpDeviceConfig {
    /// The device as the poller takes it.
    pub fn device(&self) -> Result<monitoring::poller::Device, Error> {
        use monitoring::snmp::{Credentials, Target, V3Auth};
        let bad = |what: &str| Error::Config(format!("snmp_device {}: {what}", self.name));
        let address = self.address.parse().map_err(|_| {
            bad(&format!(
                "address « {} » is not an IP address and port",
                self.address
            ))
        })?;
        let credentials = match (&self.community, &self.user) {
            (Some(c), None) => Credentials::V2c {
                community: c.clone(),
            },
            (None, Some(user)) => {
                let auth = V3Auth::parse(self.auth.as_deref()).map_err(|e| bad(&e))?;
                Credentials::V3 {
                    user: user.clone(),
                    auth,
                    auth_key: self
                        .auth_key
                        .clone()
                        .ok_or_else(|| bad("auth_key is required for v3"))?,
                    priv_key: self
                        .priv_key
                        .clone()
                        .ok_or_else(|| bad("priv_key is required for v3"))?,
                    context: self.context.clone().unwrap_or_default(),
                }
            }
            _ => return Err(bad("give either community (v2c) or user (v3)")),
        };
        Ok(monitoring::poller::Device {
            name: self.name.clone(),
            target: Target {
                address,
                credentials,
                timeout: std::time::Duration::from_millis(self.timeout_ms.max(1)),
                retries: self.retries,
            },
        })
    }
}

/// An OLT and how to reach it:
///
/// ```toml
/// [[olt]]
/// code = "OLT01"                 # as in the inventory's PON ports
/// driver = "huawei"              # MA5800 CLI over SSH
/// host = "192.0.2.10"
/// username = "regie"
/// key_file = "/etc/regie/olt01.key"   # or password = "…"
/// host_key = "ssh-ed25519 AAAA…"      # as in known_hosts
/// ```
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OltConfig {
    pub code: String,
    /// `huawei` or `simulator`.
    pub driver: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
    /// Longest wait for one command's reply, in milliseconds.
    #[serde(default = "default_command_timeout_ms")]
    pub command_timeout_ms: u64,
}

fn default_ssh_port() -> u16 {
    22
}

fn default_command_timeout_ms() -> u64 {
    10_000
}

impl std::fmt::Debug for OltConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OltConfig")
            .field("code", &self.code)
            .field("driver", &self.driver)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl OltConfig {
    /// The driver this entry describes.
    fn driver(&self) -> Result<Option<provisioning::driver::huawei::SshTarget>, Error> {
        let bad = |what: &str| Error::Config(format!("olt {}: {what}", self.code));
        match self.driver.as_str() {
            "simulator" => Ok(None),
            "huawei" => {
                let auth = match (&self.password, &self.key_file) {
                    (Some(p), None) => provisioning::driver::huawei::SshAuth::Password(p.clone()),
                    (None, Some(path)) => provisioning::driver::huawei::SshAuth::Key(
                        std::fs::read_to_string(path)
                            .map_err(|e| bad(&format!("key_file {}: {e}", path.display())))?,
                    ),
                    _ => return Err(bad("give exactly one of password and key_file")),
                };
                let host_key = self
                    .host_key
                    .clone()
                    .filter(|k| k.split_whitespace().count() >= 2)
                    .ok_or_else(|| {
                        bad("host_key is required, as in known_hosts (\"ssh-ed25519 AAAA…\")")
                    })?;
                Ok(Some(provisioning::driver::huawei::SshTarget {
                    olt: self.code.clone(),
                    host: self.host.clone().ok_or_else(|| bad("host is required"))?,
                    port: self.port,
                    username: self
                        .username
                        .clone()
                        .ok_or_else(|| bad("username is required"))?,
                    auth,
                    host_key,
                    command_timeout: std::time::Duration::from_millis(
                        self.command_timeout_ms.max(1),
                    ),
                }))
            }
            other => Err(bad(&format!(
                "unknown driver « {other} » (huawei or simulator)"
            ))),
        }
    }
}

/// A BNG accepting changes of authorization, as configured:
///
/// ```toml
/// [[bng]]
/// olts = ["OLT01", "OLT02"]   # empty or absent: every OLT
/// address = "192.0.2.1:3799"
/// secret = "…"
/// ```
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BngConfig {
    #[serde(default)]
    pub olts: Vec<String>,
    pub address: String,
    pub secret: String,
    /// Wait for one answer, in milliseconds (default 1000).
    #[serde(default = "default_bng_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts before giving up (default 3).
    #[serde(default = "default_bng_attempts")]
    pub attempts: u32,
}

fn default_bng_timeout_ms() -> u64 {
    1000
}

fn default_bng_attempts() -> u32 {
    3
}

impl std::fmt::Debug for BngConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BngConfig")
            .field("olts", &self.olts)
            .field("address", &self.address)
            .field("secret", &"***")
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database URL may carry a password: show it masked.
        f.write_str(&self.to_masked_toml())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            data_dir: PathBuf::from("./data"),
            db_max_connections: 10,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            session_ttl_hours: 12,
            token_ttl_hours: 24 * 30,
            login_max_failures_per_account: 10,
            login_max_failures_per_address: 50,
            login_window_minutes: 15,
            trust_proxy: false,
            http_header_timeout_s: 10,
            http_body_timeout_s: 30,
            http_max_connections: 512,
            public_url: None,
            olt_timeout_ms: 10_000,
            bng: Vec::new(),
            olt: Vec::new(),
            schedule_lease_s: 30,
            snmp_interval_s: 60,
            snmp_optics_interval_s: 900,
            trap_listen: None,
            trap_communities: Vec::new(),
            trap_user: Vec::new(),
            snmp_device: Vec::new(),
            snmp_optics_pause_ms: 200,
            snmp_profiles_dir: None,
            snmp_olt: None,
            secret_key: None,
            metrics_token: None,
            secret_key_file: None,
            regie_name: "Régie publique de la fibre".into(),
            regie_address: "Hôtel de ville".into(),
            regie_siren: None,
            regie_vat_number: None,
            payment_days: 30,
            sepa: None,
            dunning: billing::ledger::Schedule::default(),
            uploads: UploadsConfig::default(),
            totp_required_roles: Vec::new(),
            pes: None,
            accounting: billing::exports::Accounts::default(),
            api_particulier: None,
            smtp: None,
            retention: social_tariff::privacy::Policy::default(),
            grant_period_years: 1,
        }
    }
}

/// What an upload may make the server hold: a small hostile file must not
/// make it hold gigabytes. Defaults sized for a 700,000-premises department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadsConfig {
    /// Largest delivery upload (a zip), in MiB; written to disk as it
    /// arrives, never held in memory.
    pub delivery_max_mib: u64,
    /// Most bytes a delivery may unpack to, in MiB.
    pub delivery_max_unpacked_mib: u64,
    /// Most a file of a delivery may grow when unpacked.
    pub delivery_max_ratio: u64,
    /// Most rows per table of a delivery.
    pub delivery_max_rows: usize,
    /// Longest line of an uploaded CSV file, in bytes.
    pub csv_max_line_bytes: usize,
    /// Most problems listed in an import's report (the rest are counted).
    pub report_max_issues: usize,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        let d = inventory::gracethd::Limits::default();
        Self {
            delivery_max_mib: 1024,
            delivery_max_unpacked_mib: d.max_unpacked_bytes >> 20,
            delivery_max_ratio: d.max_ratio,
            delivery_max_rows: d.max_rows,
            csv_max_line_bytes: d.max_line_bytes,
            report_max_issues: d.max_issues,
        }
    }
}

impl UploadsConfig {
    /// The bounds a delivery is read within.
    pub fn delivery_limits(&self) -> inventory::gracethd::Limits {
        inventory::gracethd::Limits {
            max_line_bytes: self.csv_max_line_bytes,
            max_rows: self.delivery_max_rows,
            max_issues: self.report_max_issues,
            max_unpacked_bytes: self.delivery_max_unpacked_mib.saturating_mul(1 << 20),
            max_ratio: self.delivery_max_ratio,
            ..inventory::gracethd::Limits::default()
        }
    }

    /// The largest delivery upload, in bytes.
    pub fn delivery_max_bytes(&self) -> u64 {
        self.delivery_max_mib.saturating_mul(1 << 20)
    }
}

/// Values given on the command line; `None` leaves the lower layers alone.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

/// Keys that `REGIE_*` variables may set, e.g. `REGIE_DATABASE_URL`.
const ENV_KEYS: &[&str] = &[
    "listen",
    "metrics_token",
    "http_header_timeout_s",
    "http_body_timeout_s",
    "http_max_connections",
    "database_url",
    "data_dir",
    "db_max_connections",
    "log_format",
    "log_level",
    "session_ttl_hours",
    "token_ttl_hours",
    "login_max_failures_per_account",
    "login_max_failures_per_address",
    "login_window_minutes",
    "trust_proxy",
    "public_url",
    "olt_timeout_ms",
    "schedule_lease_s",
    "snmp_interval_s",
    "snmp_optics_interval_s",
    "trap_listen",
    "snmp_optics_pause_ms",
    "snmp_profiles_dir",
    "secret_key",
    "secret_key_file",
    "regie_name",
    "regie_address",
    "grant_period_years",
    "regie_siren",
    "regie_vat_number",
    "payment_days",
];

impl Config {
    /// The OLT drivers: those configured, and simulators for the others.
    pub fn drivers(&self) -> Result<provisioning::driver::Drivers, Error> {
        let drivers =
            provisioning::driver::Drivers::with_simulator_dir(self.data_dir.join("simulated-olts"));
        for olt in &self.olt {
            if let Some(target) = olt.driver()? {
                let transport = provisioning::driver::huawei::SshTransport::new(target);
                drivers.set(
                    &olt.code,
                    std::sync::Arc::new(provisioning::driver::huawei::Huawei::new(
                        std::sync::Arc::new(transport),
                    )),
                );
            }
        }
        Ok(drivers)
    }

    /// The régie as seller on its invoices.
    pub fn seller(&self) -> billing::document::Seller {
        billing::document::Seller {
            name: self.regie_name.clone(),
            address: self.regie_address.clone(),
            siren: self.regie_siren.clone(),
            vat_number: self.regie_vat_number.clone(),
            payment_days: self.payment_days,
            bank: self.sepa.as_ref().map(|s| (s.iban.clone(), s.bic.clone())),
        }
    }

    /// Where uploads are unpacked while they are read: under the data
    /// directory (not the system's `/tmp`), emptied when the server starts.
    pub fn scratch_dir(&self) -> PathBuf {
        self.data_dir.join("tmp")
    }

    /// Days from an invoice's issue to its debit: the payment delay, never
    /// less than the pre-notification delay (`[sepa]`); `None` without
    /// direct debit. The invoice prints the day, the batch keeps to it.
    pub fn debit_days(&self) -> Option<u32> {
        self.sepa
            .as_ref()
            .map(|s| self.payment_days.max(s.prenotice_days))
    }

    /// How provisioning talks to the network.
    pub fn provisioning_settings(&self) -> provisioning::service::Settings {
        provisioning::service::Settings {
            driver_timeout: std::time::Duration::from_millis(self.olt_timeout_ms.max(1)),
            bngs: self
                .bng
                .iter()
                .filter_map(|b| {
                    // Checked by `validate`; an unparseable one is skipped.
                    Some(provisioning::nas::Bng {
                        olts: b.olts.clone(),
                        address: b.address.parse().ok()?,
                        secret: b.secret.clone(),
                        timeout: std::time::Duration::from_millis(b.timeout_ms.max(1)),
                        attempts: b.attempts.max(1),
                    })
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Loads the layers in order of precedence.
    pub fn load(file: Option<&Path>, flags: &Overrides) -> Result<Self, Error> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(Error::Config(format!(
                    "configuration file {} does not exist or is not a file",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let config: Config = figment
            .merge(Env::prefixed("REGIE_").only(ENV_KEYS))
            .merge(Serialized::defaults(flags))
            .extract()
            .map_err(|e| Error::Config(format!("invalid configuration: {}", first_line(&e))))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), Error> {
        self.listen_addr()?;
        let u = &self.uploads;
        if u.delivery_max_mib == 0
            || u.delivery_max_unpacked_mib == 0
            || u.delivery_max_ratio == 0
            || u.delivery_max_rows == 0
            || u.csv_max_line_bytes < 1024
            || u.report_max_issues == 0
        {
            return Err(Error::Config(
                "uploads: every limit must be positive (csv_max_line_bytes at least 1024)".into(),
            ));
        }
        // Each OLT entry is checked whole (a key file is read) so that a bad
        // one stops the start, not the first activation.
        for o in &self.olt {
            o.driver()?;
        }
        for d in &self.snmp_device {
            d.device()?;
        }
        for u in &self.trap_user {
            u.user()?;
        }
        if let Some(c) = &self.snmp_olt {
            c.device("OLT", "192.0.2.1")?;
        }
        if let Some(k) = &self.secret_key {
            regie_core::secret::SecretKey::parse(k)
                .map_err(|e| Error::Config(format!("secret_key: {e}")))?;
        }
        if let Some(t) = &self.trap_listen {
            t.parse::<std::net::SocketAddr>().map_err(|_| {
                Error::Config(format!(
                    "trap_listen: « {t} » is not an IP address and port"
                ))
            })?;
        }
        for b in &self.bng {
            if b.address.parse::<std::net::SocketAddr>().is_err() {
                return Err(Error::Config(format!(
                    "bng.address: « {} » is not an IP address and port (e.g. 192.0.2.1:3799)",
                    b.address
                )));
            }
            if b.secret.is_empty() {
                return Err(Error::Config(format!(
                    "bng.secret: empty for {}",
                    b.address
                )));
            }
        }
        if let Some(url) = &self.database_url {
            DatabaseUrl::parse(url).map_err(|e| Error::Config(e.to_string()))?;
        }
        self.dunning
            .check()
            .map_err(|e| Error::Config(format!("dunning: {e}")))?;
        if let Some(p) = &self.pes {
            p.check().map_err(|e| Error::Config(format!("pes: {e}")))?;
        }
        self.accounting
            .check()
            .map_err(|e| Error::Config(format!("accounting: {e}")))?;
        if self.db_max_connections == 0 {
            return Err(Error::Config(
                "db_max_connections must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The listen address, parsed.
    pub fn listen_addr(&self) -> Result<SocketAddr, Error> {
        self.listen.parse().map_err(|_| {
            Error::Config(format!(
                "listen address {:?} is not of the form IP:PORT (e.g. 127.0.0.1:8080)",
                self.listen
            ))
        })
    }

    /// The key sealing the secrets stored in the database: the configured
    /// one, or the key file's (created on first use).
    pub fn secret_key(&self) -> Result<regie_core::secret::SecretKey, Error> {
        use regie_core::secret::SecretKey;
        match &self.secret_key {
            Some(k) => SecretKey::parse(k).map_err(|e| Error::Config(format!("secret_key: {e}"))),
            None => {
                let path = self
                    .secret_key_file
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("secret.key"));
                SecretKey::load_or_create(&path).map_err(|e| Error::Config(e.to_string()))
            }
        }
    }

    /// The database to use: the configured URL, or SQLite in the data dir.
    pub fn database(&self) -> Result<DatabaseUrl, Error> {
        match &self.database_url {
            Some(url) => DatabaseUrl::parse(url).map_err(|e| Error::Config(e.to_string())),
            None => Ok(DatabaseUrl::sqlite_file(&self.data_dir.join("regie.db"))),
        }
    }

    /// Whether session cookies get the `Secure` attribute regardless of the
    /// request (when the public URL is https).
    pub fn https_public_url(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// The configuration as TOML, with secrets masked.
    pub fn to_masked_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = shown
            .database_url
            .as_deref()
            .map(regie_core::db::mask_password);
        for b in &mut shown.bng {
            b.secret = "***".into();
        }
        for d in &mut shown.snmp_device {
            for secret in [&mut d.community, &mut d.auth_key, &mut d.priv_key] {
                if secret.is_some() {
                    *secret = Some("***".into());
                }
            }
        }
        if shown.metrics_token.is_some() {
            shown.metrics_token = Some("***".into());
        }
        shown.trap_communities = shown
            .trap_communities
            .iter()
            .map(|_| "***".into())
            .collect();
        for u in &mut shown.trap_user {
            u.auth_key = "***".into();
            u.priv_key = "***".into();
        }
        if let Some(m) = &mut shown.smtp {
            if m.password.is_some() {
                m.password = Some("***".into());
            }
        }
        if let Some(a) = &mut shown.api_particulier {
            if a.token.is_some() {
                a.token = Some("***".into());
            }
        }
        if let Some(c) = &mut shown.snmp_olt {
            for secret in [&mut c.community, &mut c.auth_key, &mut c.priv_key] {
                if secret.is_some() {
                    *secret = Some("***".into());
                }
            }
        }
        if shown.secret_key.is_some() {
            shown.secret_key = Some("***".into());
        }
        for o in &mut shown.olt {
            if o.password.is_some() {
                o.password = Some("***".into());
            }
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

fn first_line(e: &figment::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
// `Jail::expect_with` dictates the closures' error type, figment's own.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    // `figment::Jail` runs each closure in a scratch directory with its own
    // environment, serialised with the other jails, so these tests can set
    // `REGIE_*` variables without disturbing the rest of the suite.
    use figment::Jail;

    #[test]
    fn defaults_apply_without_any_layer() {
        Jail::expect_with(|_| {
            let c = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(c, Config::default());
            assert_eq!(c.listen, "127.0.0.1:8080");
            assert!(c
                .database()
                .map_err(|e| e.to_string())?
                .expose()
                .ends_with("data/regie.db"));
            Ok(())
        });
    }

    #[test]
    fn precedence_is_defaults_file_env_flags() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "regie.toml",
                r#"
                listen = "127.0.0.1:9000"
                data_dir = "/srv/from-file"
                log_level = "debug"
                session_ttl_hours = 8
                "#,
            )?;
            jail.set_env("REGIE_DATA_DIR", "/srv/from-env");
            jail.set_env("REGIE_LOG_LEVEL", "warn");
            let flags = Overrides {
                data_dir: Some("/srv/from-flag".into()),
                ..Overrides::default()
            };
            let c =
                Config::load(Some(Path::new("regie.toml")), &flags).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "127.0.0.1:9000", "file beats default");
            assert_eq!(c.session_ttl_hours, 8, "file beats default");
            assert_eq!(c.log_level, "warn", "env beats file");
            assert_eq!(
                c.data_dir,
                PathBuf::from("/srv/from-flag"),
                "flag beats env"
            );
            assert_eq!(c.token_ttl_hours, 720, "default kept");
            Ok(())
        });
    }

    #[test]
    fn database_url_from_env() {
        Jail::expect_with(|jail| {
            jail.set_env("REGIE_DATABASE_URL", "postgres://regie:pw@db/regie");
            let c = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(
                c.database().map_err(|e| e.to_string())?.backend(),
                regie_core::Backend::Postgres
            );
            Ok(())
        });
    }

    #[test]
    fn secrets_masked_in_show_and_debug() {
        let c = Config {
            database_url: Some("postgres://regie:hunter2@db/regie".into()),
            ..Config::default()
        };
        assert!(!c.to_masked_toml().contains("hunter2"));
        assert!(c.to_masked_toml().contains("****"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn bad_values_are_one_clear_sentence() {
        Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "listen = \"nowhere\"")?;
            let e = Config::load(Some(Path::new("bad.toml")), &Overrides::default())
                .expect_err("must fail");
            assert!(e.to_string().contains("not of the form IP:PORT"), "{e}");

            jail.create_file("typo.toml", "lisen = \"127.0.0.1:1\"")?;
            let e = Config::load(Some(Path::new("typo.toml")), &Overrides::default())
                .expect_err("must fail");
            assert!(e.to_string().contains("lisen"), "{e}");

            let e = Config::load(Some(Path::new("missing.toml")), &Overrides::default())
                .expect_err("must fail");
            assert!(e.to_string().contains("does not exist"), "{e}");

            let flags = Overrides {
                database_url: Some("mysql://x/y".into()),
                ..Overrides::default()
            };
            let e = Config::load(None, &flags).expect_err("must fail");
            assert!(e.to_string().contains("neither sqlite"), "{e}");

            jail.set_env("REGIE_SESSION_TTL_HOURS", "douze");
            let e = Config::load(None, &Overrides::default()).expect_err("must fail");
            assert!(!e.to_string().contains('\n'), "{e}");
            Ok(())
        });
    }

    #[test]
    fn olt_and_bng_entries_are_checked_and_their_secrets_masked() {
        let olt = |driver: &str, host_key: Option<&str>| OltConfig {
            code: "OLT01".into(),
            driver: driver.into(),
            host: Some("192.0.2.10".into()),
            port: 22,
            username: Some("regie".into()),
            password: Some("olt-s3cret".into()),
            key_file: None,
            host_key: host_key.map(str::to_owned),
            command_timeout_ms: 1000,
        };
        let mut c = Config {
            olt: vec![olt("cisco", None)],
            ..Config::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("unknown driver « cisco »"));
        c.olt = vec![olt("huawei", None)];
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("host_key is required"));
        c.olt = vec![olt(
            "huawei",
            Some(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ",
            ),
        )];
        let drivers = c.drivers().expect("a complete entry");
        assert!(!drivers.is_simulated("OLT01") && drivers.is_simulated("OLT02"));
        c.bng = vec![BngConfig {
            olts: vec![],
            address: "192.0.2.1:3799".into(),
            secret: "bng-s3cret".into(),
            timeout_ms: 1000,
            attempts: 3,
        }];
        let shown = format!("{c:?} {:?} {:?}", c.olt[0], c.bng[0]);
        assert!(
            !shown.contains("olt-s3cret") && !shown.contains("bng-s3cret"),
            "{shown}"
        );
        c.bng[0].address = "bng.example".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("bng.address"));
    }

    #[test]
    fn trap_users_are_checked_and_their_keys_masked() {
        let mut c = Config {
            trap_user: vec![TrapUserConfig {
                user: "pieges".into(),
                auth: Some("md5".into()),
                auth_key: "trap-auth-secret".into(),
                priv_key: "trap-priv-secret".into(),
            }],
            ..Config::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("auth « md5 »"));
        c.trap_user[0].auth = None;
        c.trap_user[0].priv_key = "court".into();
        assert!(c.validate().unwrap_err().to_string().contains("at least 8"));
        c.trap_user[0].priv_key = "trap-priv-secret".into();
        c.validate().expect("a complete user");
        let shown = format!("{} {:?}", c.to_masked_toml(), c.trap_user[0]);
        assert!(
            !shown.contains("trap-auth-secret") && !shown.contains("trap-priv-secret"),
            "{shown}"
        );
    }
}
