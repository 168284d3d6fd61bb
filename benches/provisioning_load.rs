//! Load benchmark of the provisioning API: activations per second and
//! latency percentiles with concurrent HTTP clients over TCP against the
//! real server. Prints figures; asserts nothing.
//!
//! cargo bench --bench provisioning_load -- [--lines N] [--clients N] [--connections N]
//!     [--postgres SERVER_URL [--async-commit] [--pg-socket DIR]]
//!
//! `--connections` is the server's database pool (default: the product's, 10).
//!
//! Without `--postgres`, a SQLite file in a temporary directory; with it
//! (e.g. `postgres://postgres@127.0.0.1:5432`), a fresh database created on
//! that server and dropped afterwards.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use regie::platform::auth::{self, Password, Role, TokenKind, Username};
use regie::platform::config::Config;
use regie::AppState;
use regie_core::audit::Actor;
use regie_core::{DatabaseUrl, Db};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let lines: usize = arg("--lines").and_then(|v| v.parse().ok()).unwrap_or(2000);
    let clients: usize = arg("--clients").and_then(|v| v.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir()?;

    let (url, pg) = match arg("--postgres") {
        None => (DatabaseUrl::sqlite_file(&dir.path().join("regie.db")), None),
        Some(server) => {
            let server = server.trim_end_matches('/').to_owned();
            let name = format!("regie_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = Db::connect(&DatabaseUrl::parse(&format!("{server}/postgres"))?, 1).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(admin.pool())
                .await?;
            // An experiment, never a recommendation for a régie's data:
            // how much of the latency is waiting for the WAL to reach disk.
            if std::env::args().any(|a| a == "--async-commit") {
                sqlx::query(&format!(
                    "ALTER DATABASE {name} SET synchronous_commit = off"
                ))
                .execute(admin.pool())
                .await?;
            }
            admin.close().await;
            (
                DatabaseUrl::parse(&format!("{server}/{name}"))?,
                Some((server, name)),
            )
        }
    };
    let config = Config {
        data_dir: dir.path().to_owned(),
        db_max_connections: arg("--connections")
            .and_then(|v| v.parse().ok())
            .unwrap_or(Config::default().db_max_connections),
        ..Config::default()
    };
    let db = Db::connect(&url, config.db_max_connections).await?;
    regie_core::migrate::run(&db, regie::COMPONENTS).await?;
    println!(
        "backend: {}, {lines} activations, {clients} concurrent clients",
        db.backend().as_str()
    );

    // A network large enough for the lines, and its pools.
    let premises = (lines as u32 * 2).max(2000);
    let delivery = dir.path().join("network");
    inventory::generate::generate(premises, 11, &delivery)?;
    inventory::service::import(&db, &Actor::system("bench"), &delivery, false).await?;
    let state = AppState::new(db.clone(), config)?;
    let svc = state.provisioning.clone();
    let admin = Actor::system("bench");
    for (name, kind, network) in [
        ("cgnat", "cgnat_v4", "100.64.0.0/12"),
        ("public", "public_v4", "198.51.100.0/24"),
        ("pd", "delegated_v6", "2001:db8::/32"),
        ("wan", "wan_v6", "2001:db9::/32"),
    ] {
        svc.add_pool(
            &admin,
            &provisioning::service::NewPool {
                name: name.into(),
                kind: kind.into(),
                network: network.into(),
                assign_len: None,
            },
        )
        .await?;
    }

    // Lines ready to activate: ordered, path reserved, ONT installed.
    let plant = state.plant.get(&db).await?;
    let mut ready = Vec::new();
    let setup = Instant::now();
    for suf in plant.sufs.values() {
        if ready.len() == lines {
            break;
        }
        let Ok(inventory::capacity::Eligibility::Connectable { .. }) =
            inventory::capacity::eligibility(&plant, &suf.code)
        else {
            continue;
        };
        let line = svc
            .order(
                &admin,
                &provisioning::service::Order {
                    premises: suf.code.to_string(),
                    ..Default::default()
                },
            )
            .await?;
        if svc
            .reserve_path(&admin, &line.id, Some("banc de charge"))
            .await
            .is_err()
        {
            continue;
        }
        svc.install_ont(
            &admin,
            &line.id,
            &provisioning::service::Installation {
                serial: format!("BNCH{:08X}", ready.len()),
                rx_dbm: -20.0,
                notes: None,
            },
        )
        .await?;
        ready.push(line.id);
    }
    let setup_s = setup.elapsed().as_secs_f64();
    println!(
        "setup: {} lines ordered, reserved and installed in {setup_s:.1} s ({:.0} lines/s, 3 steps each, one at a time)",
        ready.len(),
        ready.len() as f64 / setup_s
    );

    // The server on a loopback port, and a technician's token.
    let hash = Password::parse("banc-de-charge-2026")?.hash()?;
    let bench = Username::parse("bench")?;
    let tech = regie::platform::storage::create_user(
        &db,
        &admin,
        &bench,
        &regie::platform::auth::DisplayName::parse("Banc", &bench)?,
        &hash,
        &[Role::Technician],
    )
    .await?;
    let token = auth::issue(
        &db,
        tech.id,
        &tech.username,
        TokenKind::Api,
        chrono::Duration::hours(1),
    )
    .await?
    .secret;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(regie::platform::server::serve(
        listener,
        state,
        std::future::pending(),
    ));

    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(clients)
        .build_http();
    let ready = Arc::new(ready);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, ready, next, token) =
            (client.clone(), ready.clone(), next.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ready.get(i) else { break };
                let req = hyper::Request::post(format!(
                    "http://{addr}/api/v1/provisioning/lines/{id}/activate"
                ))
                .header("authorization", format!("Bearer {token}"))
                .body(Empty::<Bytes>::new())
                .expect("request");
                let t0 = Instant::now();
                match client.request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let _ = resp.into_body().collect().await;
                        latencies.push(t0.elapsed());
                        if !ok {
                            failures += 1;
                        }
                    }
                    Err(_) => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut all = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await?;
        all.extend(l);
        failures += f;
    }
    let wall = start.elapsed();
    all.sort();
    println!(
        "activations: {} in {:.2} s = {:.0} per second; failures {failures}",
        all.len(),
        wall.as_secs_f64(),
        all.len() as f64 / wall.as_secs_f64()
    );
    println!(
        "latency: p50 {}  p95 {}  p99 {}  max {}",
        ms(percentile(&all, 0.50)),
        ms(percentile(&all, 0.95)),
        ms(percentile(&all, 0.99)),
        ms(all.last().copied().unwrap_or_default())
    );

    db.close().await;
    if let Some((server, name)) = pg {
        let admin = Db::connect(&DatabaseUrl::parse(&format!("{server}/postgres"))?, 1).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(admin.pool())
            .await?;
        admin.close().await;
    }
    Ok(())
}
