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
    /// Public URL of the service; an `https://` URL marks cookies `Secure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
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
            public_url: None,
        }
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
];

impl Config {
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
        if let Some(url) = &self.database_url {
            DatabaseUrl::parse(url).map_err(|e| Error::Config(e.to_string()))?;
        }
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
}
