//! The command line (in English, for operators).

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use regie_core::{Backend, Db};

use crate::platform::auth::{Password, Role, Username};
use crate::platform::config::{Config, Overrides};
use crate::platform::{server, storage};
use crate::{AppState, Error};

/// Régie: operator system of a municipally run public fiber network.
#[derive(Debug, Parser)]
#[command(name = "regie", version, about)]
pub struct Cli {
    /// TOML configuration file (overridden by REGIE_* variables and flags).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB
    /// [env: REGIE_DATABASE_URL] [default: SQLite at DATA_DIR/regie.db].
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Directory for local data [env: REGIE_DATA_DIR] [default: ./data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate,
    /// Write a consistent snapshot of the database to FILE, while the
    /// server runs (SQLite: VACUUM INTO; PostgreSQL: pg_dump's custom
    /// format). The secret key is not in it: keep it apart.
    Backup {
        /// The snapshot to write (replaced only once the new one is
        /// complete).
        file: PathBuf,
    },
    /// Replace the database by a snapshot written by `regie backup` (stop
    /// the servers first). All or nothing.
    Restore {
        /// The snapshot to load.
        file: PathBuf,
        /// Replace a database that already holds tables.
        #[arg(long)]
        force: bool,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// The fibre plant: GraceTHD import, path tracing.
    #[command(subcommand)]
    Inventory(InventoryCommand),
    /// Subscriber lines: address pools, OLT drift.
    #[command(subcommand)]
    Provisioning(ProvisioningCommand),
    /// Billing: monthly runs.
    #[command(subcommand)]
    Billing(BillingCommand),
    /// Taking over from the concession's operator.
    #[command(subcommand)]
    Takeover(TakeoverCommand),
    /// Network monitoring: try a device before adding it.
    #[command(subcommand)]
    Monitoring(MonitoringCommand),
}

#[derive(Debug, Subcommand)]
pub enum MonitoringCommand {
    /// Ask a device over SNMP v2c what the poller would read: the vendor
    /// profile it gets (the configuration's `snmp_profiles_dir` first),
    /// its PON ports and the inventory's slot and port of each, its ONTs
    /// and their levels. Writes nothing.
    Probe {
        /// The device's address (`HOST` or `HOST:PORT`, port 161 by
        /// default).
        address: String,
        /// The v2c community.
        #[arg(long, default_value = "public")]
        community: String,
        /// Profiles to try first (default: the configuration's).
        #[arg(long)]
        profiles_dir: Option<PathBuf>,
        /// Seconds to wait for each answer.
        #[arg(long, default_value_t = 5)]
        timeout_s: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum TakeoverCommand {
    /// Load the outgoing operator's subscriber base from DIR (offres.csv,
    /// comptes.csv, lignes.csv, mandats.csv, soldes.csv; see the README):
    /// all or nothing, every problem reported with its file, line and
    /// column.
    Import {
        dir: PathBuf,
        /// Check everything, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The takeover day, `YYYY-MM-DD` (default: today): offers open and
        /// subscriptions start that day.
        #[arg(long)]
        on: Option<String>,
        /// Where the change-of-creditor letters and the table of new line
        /// ids go (default: DIR/reprise).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Write again the letters announcing the change of creditor, one PDF
    /// per mandate taken over and still in force.
    Letters {
        /// The directory the letters go to.
        #[arg(long)]
        output: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// What issuing a month would do (totals, counts per offer, anomalies),
    /// without issuing anything.
    Preview {
        /// The month, `YYYY-MM`.
        #[arg(long)]
        period: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Prepare the direct debits due on a day (invoices issued at least the
    /// pre-notification delay before, each once) and write the bank file.
    Sepa {
        /// The collection day, `YYYY-MM-DD`.
        #[arg(long)]
        date: String,
        /// Where to write the pain.008 file.
        #[arg(long)]
        output: std::path::PathBuf,
        /// `08` (pain.008.001.08) or `02` for banks that still want it.
        #[arg(long, default_value = "08")]
        version: String,
    },
    /// Write the PDFs of a month's invoices and of the credit notes
    /// correcting them into a directory (for printing and posting),
    /// rendered on every core.
    Pdfs {
        /// The month, `YYYY-MM`.
        #[arg(long)]
        period: String,
        /// The directory to write `NUMBER.pdf` files into (created if
        /// missing; files already there are replaced).
        #[arg(long)]
        output: std::path::PathBuf,
    },
    /// Issue the month's invoices not yet issued; safe to run again after
    /// an interruption.
    Run {
        /// The month, `YYYY-MM`.
        #[arg(long)]
        period: String,
        /// The issue date, `YYYY-MM-DD` (default: today).
        #[arg(long)]
        issued_on: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProvisioningCommand {
    /// List ONTs on an OLT unknown to the database, and live lines whose
    /// ONT the OLT lacks.
    Drift {
        /// The OLT's code, as in the inventory's PON ports.
        #[arg(long)]
        olt: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// List the address pools with their use.
    Pools,
    /// Define an address pool (refused if it overlaps another).
    PoolAdd {
        /// a-z, 0-9, - and _.
        name: String,
        /// public_v4, cgnat_v4, delegated_v6 or wan_v6.
        kind: String,
        /// The network, e.g. 100.64.0.0/16 or 2001:db8::/40.
        network: String,
        /// Length of delegated prefixes (default 56).
        #[arg(long)]
        assign_len: Option<u8>,
    },
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Check a GraceTHD v2.0.1 "shpcsv" delivery and import it in one
    /// transaction (nothing is written when it has errors).
    Import {
        /// Directory holding the t_*.csv, l_*.csv and shapefiles.
        dir: PathBuf,
        /// Report problems and what would change, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a synthetic GraceTHD delivery shaped like a real RIP, the same
    /// for the same seed (with the Régie extension files: PON ports,
    /// splitter ratios).
    Generate {
        /// About how many premises.
        #[arg(long)]
        premises: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Directory to write (created if needed).
        outdir: PathBuf,
    },
    /// List the outlets and premises behind a PON port, a splitter or a
    /// cable (what a fault there cuts off).
    Downstream {
        /// A PON port code (Régie extension).
        #[arg(long)]
        pon: Option<String>,
        /// A splitter, by its input fibre code.
        #[arg(long)]
        splitter: Option<String>,
        /// A cable code.
        #[arg(long)]
        cable: Option<String>,
    },
    /// Export the addresses: an IPE-style address file or GeoJSON (WGS84).
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Trace the optical path upstream from an outlet (PTO).
    Trace {
        /// Code of the PTO (t_ebp.bp_code).
        #[arg(long)]
        pto: String,
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// Address file with IPE column names.
    Ipe,
    /// Addresses as GeoJSON (WGS84).
    Geojson,
    /// The whole plant as a GraceTHD shpcsv delivery (needs --output DIR).
    Gracethd,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: REGIE_LISTEN] [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// On an empty database, create one user per role and load demo data.
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from a prompt, or from the first
    /// line of standard input when it is not a terminal.
    Add {
        name: String,
        /// Role(s): admin, technician, accountant, social_agent, household.
        #[arg(long = "role", required = true, value_parser = parse_role)]
        roles: Vec<Role>,
        /// Name shown in the pages.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration, secrets masked.
    Show,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).map_err(|e| e.to_string())
}

/// Runs a command.
pub async fn run(cli: Cli) -> Result<(), Error> {
    let listen = match &cli.command {
        Command::Serve(a) => a.listen.clone(),
        _ => None,
    };
    let overrides = Overrides {
        listen,
        database_url: cli.database.clone(),
        data_dir: cli.data_dir.clone(),
    };
    let config = Config::load(cli.config.as_deref(), &overrides)?;
    match cli.command {
        Command::Config(ConfigCommand::Show) => {
            print!("{}", config.to_masked_toml());
            Ok(())
        }
        Command::Openapi => {
            let routes: Vec<_> = crate::app::route_table()
                .into_iter()
                .map(|r| r.spec)
                .collect();
            let doc = crate::platform::openapi::document(&routes);
            let json =
                serde_json::to_string_pretty(&doc).map_err(|e| Error::Internal(e.to_string()))?;
            println!("{json}");
            Ok(())
        }
        Command::Migrate => {
            crate::platform::telemetry::init(&config);
            let db = open_database(&config).await?;
            let applied = regie_core::migrate::run(&db, crate::COMPONENTS).await?;
            if applied.is_empty() {
                println!("database is up to date");
            }
            for a in applied {
                println!("applied {}/{:04} {}", a.component, a.version, a.name);
            }
            db.close().await;
            Ok(())
        }
        Command::Backup { file } => {
            let db = open_database(&config).await?;
            let url = config.database()?;
            let written = regie_core::backup::backup(&db, &url, &file).await;
            db.close().await;
            println!(
                "backup of {url} written to {} ({} bytes)",
                file.display(),
                written?
            );
            Ok(())
        }
        Command::Restore { file, force } => {
            let url = prepare_local_storage(&config)?;
            let restored = regie_core::backup::restore(&url, &file, force).await?;
            println!(
                "{} restored into {url}: {} tables, {} rows; pending migrations apply at the next start",
                file.display(),
                restored.tables,
                restored.rows
            );
            Ok(())
        }
        Command::User(cmd) => {
            let db = open_database(&config).await?;
            regie_core::migrate::run(&db, crate::COMPONENTS).await?;
            let result = user_command(&db, cmd).await;
            db.close().await;
            result
        }
        Command::Serve(args) => {
            crate::platform::telemetry::init(&config);
            serve(config, args.demo).await
        }
        Command::Inventory(InventoryCommand::Generate {
            premises,
            seed,
            outdir,
        }) => {
            let g = inventory::generate::generate(premises, seed, &outdir)?;
            println!(
                "generated {} premises ({} outlets, {} drops to build), {} PMs, {} PON ports, {} fibres, {} positions in {}",
                g.premises, g.outlets, g.drops_to_build, g.pms, g.pon_ports, g.fibres, g.positions, outdir.display()
            );
            Ok(())
        }
        Command::Inventory(cmd) => {
            let db = open_database(&config).await?;
            regie_core::migrate::run(&db, crate::COMPONENTS).await?;
            let result =
                crate::network::plant_cli::run(&db, cmd, &config.uploads.delivery_limits()).await;
            db.close().await;
            result
        }
        Command::Billing(cmd) => {
            let db = open_database(&config).await?;
            regie_core::migrate::run(&db, crate::COMPONENTS).await?;
            let result = crate::billing::cli::run(&db, &config, cmd).await;
            db.close().await;
            result
        }
        Command::Takeover(TakeoverCommand::Import {
            dir,
            dry_run,
            on,
            output,
        }) => {
            let db = open_database(&config).await?;
            regie_core::migrate::run(&db, crate::COMPONENTS).await?;
            let result = crate::billing::takeover_cli::import(
                &db,
                &config,
                &dir,
                dry_run,
                on.as_deref(),
                output,
            )
            .await;
            db.close().await;
            result
        }
        Command::Takeover(TakeoverCommand::Letters { output }) => {
            let db = open_database(&config).await?;
            regie_core::migrate::run(&db, crate::COMPONENTS).await?;
            let result = crate::billing::takeover_cli::letters(&db, &config, &output).await;
            db.close().await;
            result
        }
        Command::Monitoring(MonitoringCommand::Probe {
            address,
            community,
            profiles_dir,
            timeout_s,
        }) => {
            let dir = profiles_dir.or_else(|| config.snmp_profiles_dir.clone());
            crate::monitoring::cli::probe(&address, community, dir.as_deref(), timeout_s).await
        }
        Command::Provisioning(cmd) => {
            let db = open_database(&config).await?;
            regie_core::migrate::run(&db, crate::COMPONENTS).await?;
            let service = provisioning::service::Provisioning::new(
                db.clone(),
                inventory::service::PlantCache::default(),
                config.drivers()?,
                config.provisioning_settings(),
            );
            let result = crate::network::lines_cli::run(&service, cmd).await;
            db.close().await;
            result
        }
    }
}

async fn user_command(db: &Db, cmd: UserCommand) -> Result<(), Error> {
    match cmd {
        UserCommand::Add {
            name,
            roles,
            display_name,
        } => {
            let username = Username::parse(&name)?;
            let display_name = crate::platform::auth::DisplayName::parse(
                display_name.as_deref().unwrap_or_default(),
                &username,
            )?;
            let password = Password::parse(&read_password()?)?;
            let actor = regie_core::audit::Actor::system("cli");
            let user = storage::create_user(
                db,
                &actor,
                &username,
                &display_name,
                &password.hash()?,
                &roles,
            )
            .await?;
            println!(
                "user {} created with role(s) {}",
                user.username,
                user.roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        UserCommand::List => {
            let users = storage::list_users(db).await?;
            println!(
                "{:<24} {:<32} {:<9} ROLES",
                "USERNAME", "DISPLAY NAME", "STATE"
            );
            for u in users {
                println!(
                    "{:<24} {:<32} {:<9} {}",
                    u.username,
                    u.display_name,
                    if u.disabled { "disabled" } else { "active" },
                    u.roles
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                );
            }
            Ok(())
        }
    }
}

fn read_password() -> Result<String, Error> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")
            .map_err(|e| Error::Invalid(format!("cannot read the password: {e}")))?;
        let again = rpassword::prompt_password("Password again: ")
            .map_err(|e| Error::Invalid(format!("cannot read the password: {e}")))?;
        if first != again {
            return Err(Error::Invalid("the two passwords differ".into()));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            Error::Invalid(format!("cannot read the password from standard input: {e}"))
        })?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// Writes `bytes` to `path` under a temporary name in the same directory,
/// then renames it: an interrupted command leaves no truncated file
/// behind, and running it again replaces the file whole.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.part"));
    std::fs::write(&partial, bytes)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| Error::Invalid(format!("cannot write {}: {e}", path.display())))
}

/// Creates `dir` if need be and checks that it can be written to; `what`
/// names it in the error ("data directory", "output directory").
pub fn ensure_writable_dir(dir: &Path, what: &str) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::Config(format!(
            "cannot create {what} {}: {}",
            dir.display(),
            io_reason(&e)
        ))
    })?;
    let probe = dir.join(".regie-write-test");
    std::fs::write(&probe, b"ok").map_err(|e| {
        Error::Config(format!(
            "{what} {} is not writable: {}",
            dir.display(),
            io_reason(&e)
        ))
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

fn io_reason(e: &std::io::Error) -> String {
    // The OS message without the "(os error N)" suffix, lower-cased to read
    // as the end of a sentence.
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_owned();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

/// Prepares local storage and connects to the configured database.
pub async fn open_database(config: &Config) -> Result<Db, Error> {
    let url = prepare_local_storage(config)?;
    Ok(Db::connect(&url, config.db_max_connections).await?)
}

/// Creates the data directory and the SQLite file's; answers the database
/// URL.
fn prepare_local_storage(config: &Config) -> Result<regie_core::DatabaseUrl, Error> {
    ensure_writable_dir(&config.data_dir, "data directory")?;
    let url = config.database()?;
    if url.backend() == Backend::Sqlite {
        if let Some(parent) = url.sqlite_path().as_deref().and_then(Path::parent) {
            if !parent.as_os_str().is_empty() {
                ensure_writable_dir(parent, "database directory")?;
            }
        }
    }
    Ok(url)
}

async fn serve(config: Config, demo: bool) -> Result<(), Error> {
    let addr = config.listen_addr()?;
    // Bind before anything slow so that a port in use is reported at once.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Startup(format!("cannot listen on {addr}: {}", io_reason(&e))))?;
    let db = open_database(&config).await?;
    let applied = regie_core::migrate::run(&db, crate::COMPONENTS).await?;
    tracing::info!(
        migrations_applied = applied.len(),
        backend = db.backend().as_str(),
        "database ready"
    );
    // What a crash left half-unpacked is removed: nothing else writes there.
    let scratch = config.scratch_dir();
    if scratch.exists() {
        if let Err(e) = std::fs::remove_dir_all(&scratch) {
            tracing::warn!(dir = %scratch.display(), error = %e, "cannot empty the scratch directory");
        }
    }
    let state = AppState::new(db.clone(), config)?;
    let config = state.config.clone();
    if demo {
        match crate::demo::load(
            &db,
            &config.data_dir,
            crate::demo::DEMO_PREMISES,
            &state.provisioning,
        )
        .await?
        {
            Some(accounts) => {
                println!(
                    "Demo data loaded. Demo accounts (also in {}):",
                    config.data_dir.join("demo-credentials.txt").display()
                );
                for a in &accounts {
                    println!(
                        "  {:<12} {:<14} password: {}",
                        a.username,
                        a.role.as_str(),
                        a.password.expose()
                    );
                }
            }
            None => {
                println!("The database already has users: demo data not loaded, nothing changed.")
            }
        }
    }
    // The lease first, so that the first instance starts its jobs at once.
    state.scheduler.renew(&db).await;
    state.scheduler.spawn_lease(&db);
    crate::monitoring::poll::spawn(&state).await?;
    crate::social::spawn_renewal_job(&state);
    crate::billing::cli::spawn_line_follower(&state);
    crate::billing::cli::spawn_dunning(&state);
    // Load the plant in the background, so the first trace does not wait.
    {
        let (db, cache) = (state.db.clone(), state.plant.clone());
        tokio::spawn(async move {
            if let Err(e) = cache.get(&db).await {
                tracing::warn!(error = %e, "cannot preload the plant");
            }
        });
    }
    let shutdown = server::shutdown_signal();
    println!(
        "Régie listening on http://{}",
        listener
            .local_addr()
            .map_err(|e| Error::Startup(e.to_string()))?
    );
    let scheduler = state.scheduler.clone();
    let result = server::serve(listener, state, shutdown).await;
    scheduler.release(&db).await;
    db.close().await;
    tracing::info!("stopped");
    result.map_err(|e| Error::Startup(format!("server error: {e}")))
}
