//! Bad configuration ends with one clear sentence, never a panic.

use clap::Parser;
use regie::cli::{run, Cli};

async fn error_of(args: &[&str]) -> String {
    let cli = Cli::try_parse_from(std::iter::once("regie").chain(args.iter().copied()))
        .expect("arguments parse");
    let e = run(cli).await.expect_err("must fail");
    let msg = format!("{e:#}");
    assert!(!msg.contains('\n'), "one line: {msg}");
    msg
}

#[tokio::test]
async fn unparseable_database_url() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().expect("utf-8");
    let msg = error_of(&["--data-dir", d, "--database", "mysql://x/y", "migrate"]).await;
    assert!(
        msg.contains("neither sqlite://PATH nor postgres://"),
        "{msg}"
    );
    let msg = error_of(&["--data-dir", d, "--database", "postgres://", "migrate"]).await;
    assert!(msg.contains("invalid database URL"), "{msg}");
}

#[tokio::test]
async fn unreachable_database() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().expect("utf-8");
    // Nothing listens on port 1 of loopback.
    let msg = error_of(&[
        "--data-dir",
        d,
        "--database",
        "postgres://regie:secret@127.0.0.1:1/regie",
        "migrate",
    ])
    .await;
    assert!(
        msg.starts_with(
            "cannot connect to the database at postgres://regie:****@127.0.0.1:1/regie"
        ),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
    assert!(!msg.contains("secret"), "password leaked: {msg}");
}

#[tokio::test]
async fn port_in_use() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().expect("utf-8");
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let msg = error_of(&["--data-dir", d, "serve", "--listen", &addr]).await;
    assert_eq!(
        msg,
        format!("cannot listen on {addr}: address already in use")
    );
}

#[tokio::test]
async fn bad_listen_address() {
    let msg = error_of(&["serve", "--listen", "partout"]).await;
    assert!(msg.contains("not of the form IP:PORT"), "{msg}");
}

#[tokio::test]
async fn unwritable_data_dir() {
    let dir = tempfile::tempdir().expect("dir");
    // A regular file where a directory is expected: fails even for root,
    // which ignores permission bits.
    let file = dir.path().join("fichier");
    std::fs::write(&file, b"x").expect("write");
    let data = file.join("data");
    let msg = error_of(&["--data-dir", data.to_str().expect("utf-8"), "migrate"]).await;
    assert!(
        msg.starts_with(&format!("cannot create data directory {}", data.display())),
        "{msg}"
    );
    assert!(msg.ends_with("not a directory"), "{msg}");
}

#[tokio::test]
async fn missing_config_file() {
    let msg = error_of(&["--config", "/nonexistent/regie.toml", "config", "show"]).await;
    assert!(
        msg.contains("/nonexistent/regie.toml does not exist"),
        "{msg}"
    );
}

#[tokio::test]
async fn migrate_creates_the_sqlite_file_in_the_data_dir() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("nouveau").join("data");
    let cli = Cli::try_parse_from([
        "regie",
        "--data-dir",
        data.to_str().expect("utf-8"),
        "migrate",
    ])
    .expect("parse");
    run(cli).await.expect("migrates");
    assert!(data.join("regie.db").is_file());
}

#[tokio::test]
async fn a_missing_postgres_database_is_created() {
    let Some(server) = std::env::var(regie_tests::POSTGRES_ENV)
        .ok()
        .filter(|s| !s.is_empty())
    else {
        // SQLite run: the equivalent (file created on first run) is covered by
        // `migrate_creates_the_sqlite_file_in_the_data_dir`.
        return;
    };
    let server = server.trim_end_matches('/');
    let name = format!("regie_test_{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("{server}/{name}");
    let cli = Cli::try_parse_from([
        "regie",
        "--data-dir",
        dir.path().to_str().expect("utf-8"),
        "--database",
        &url,
        "migrate",
    ])
    .expect("parse");
    run(cli).await.expect("creates the database and migrates");
    let admin = regie_core::Db::connect(
        &regie_core::DatabaseUrl::parse(&format!("{server}/postgres")).expect("url"),
        1,
    )
    .await
    .expect("connects");
    let exists = sqlx::query("SELECT 1 AS one FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(admin.pool())
        .await
        .expect("query");
    assert!(exists.is_some());
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(admin.pool())
        .await
        .expect("drop");
}

#[test]
fn the_shipped_example_configuration_loads_as_written() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/regie.example.toml");
    let config = regie::platform::config::Config::load(
        Some(&path),
        &regie::platform::config::Overrides::default(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(config.regie_siren.as_deref(), Some("213500000"));
    assert_eq!(config.sepa.map(|s| s.prenotice_days), Some(14));
    assert!(config.pes.is_some() && config.smtp.is_some());
    assert!(config.trust_proxy);
}
