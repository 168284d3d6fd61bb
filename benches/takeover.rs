//! Benchmark of a takeover from the concession. Prints figures; asserts
//! nothing.
//!
//! cargo bench --bench takeover -- [--lines N] [--postgres SERVER_URL]
//!
//! Generates a network of about 2 N premises, imports it, defines address
//! pools, then writes the outgoing operator's files for N lines in service
//! on connectable premises (one account each, a mandate for one in two, an
//! open balance for one in ten) and times:
//!
//! 1. reading and checking the files alone (`takeover::read`);
//! 2. a dry run (everything written, then rolled back);
//! 3. the takeover itself, and the peak memory of the process during it.

use std::fmt::Write as _;
use std::time::Instant;

use billing::takeover::{NewCreditor, Options};
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

fn peak_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = arg("--lines")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
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
            admin.close().await;
            (
                DatabaseUrl::parse(&format!("{server}/{name}"))?,
                Some((server, name)),
            )
        }
    };
    let db = Db::connect(&url, 10).await?;
    regie_core::migrate::run(&db, regie::COMPONENTS).await?;
    let sys = Actor::system("bench");

    // --- The network, the pools, the files -------------------------------
    let plant_dir = dir.path().join("plant");
    let premises = u32::try_from(n * 2).unwrap_or(u32::MAX);
    inventory::generate::generate(premises, 11, &plant_dir)?;
    let imported = inventory::service::import(&db, &sys, &plant_dir, false).await?;
    anyhow::ensure!(!imported.refused(), "the generated network imports");
    let lines = provisioning::service::Provisioning::new(
        db.clone(),
        inventory::service::PlantCache::default(),
        provisioning::driver::Drivers::default(),
        provisioning::service::Settings::default(),
    );
    for (name, kind, network) in [
        ("cgnat", "cgnat_v4", "100.64.0.0/10"),
        ("pd", "delegated_v6", "2001:db8::/32"),
        ("wan", "wan_v6", "2001:db9::/40"),
    ] {
        lines
            .add_pool(
                &sys,
                &provisioning::service::NewPool {
                    name: name.into(),
                    kind: kind.into(),
                    network: network.into(),
                    assign_len: None,
                },
            )
            .await?;
    }
    let plant = lines.plant().await?;
    let mut served = Vec::new();
    let mut per_port: std::collections::HashMap<String, u32> = Default::default();
    for suf in plant.sufs.values() {
        if served.len() == n {
            break;
        }
        let Ok(inventory::capacity::Eligibility::Connectable { outlet, .. }) =
            inventory::capacity::eligibility(&plant, &suf.code)
        else {
            continue;
        };
        let up = inventory::trace::upstream(
            &plant,
            &outlet,
            &inventory::budget::PlanningLosses::default(),
            inventory::budget::OpticalClass::GponBPlus,
        )?;
        let (Some(pon), Some(hexacle)) = (
            up.pon_port,
            suf.address
                .as_deref()
                .and_then(|a| plant.addresses.get(a))
                .and_then(|a| a.hexacle.clone()),
        ) else {
            continue;
        };
        let next = per_port.entry(pon.clone()).or_default();
        let ont_id = *next;
        *next += 1;
        served.push((hexacle.as_str().to_owned(), pon, ont_id));
    }
    let files = dir.path().join("reprise");
    std::fs::create_dir_all(&files)?;
    let mut accounts = String::from(
        "ref_client;type;nom;adresse;code_postal;commune;email;siren;tva_intracom;foyer\n",
    );
    let mut rows = String::from("ref_ligne;ref_client;hexacle;local;offre;profil;ipv4;numero_serie_ont;port_pon;ont_id;puissance_rx_dbm\n");
    let mut mandates = String::from(
        "ref_client;rum;titulaire;iban;bic;date_signature;ics_creancier;nom_creancier\n",
    );
    let mut balances = String::from("ref_client;facture;date_facture;montant\n");
    for (i, (hexacle, pon, ont_id)) in served.iter().enumerate() {
        writeln!(
            accounts,
            "C{i:07};menage;Famille {i};{} rue de la Fibre;99100;Régie-sur-Fibre;;;;",
            i % 200 + 1
        )?;
        writeln!(
            rows,
            "L{i:07};C{i:07};{hexacle};;CONC300;300M;cgnat;BNCH{i:08X};{pon};{ont_id};-20,5"
        )?;
        if i % 2 == 0 {
            writeln!(
                mandates,
                "C{i:07};CONC-{i:09};Famille {i};FR7630006000011234567890189;;2020-01-15;FR76ZZZ987654;Fibre Concession SAS"
            )?;
        }
        if i % 10 == 0 {
            writeln!(balances, "C{i:07};FC-{i:07};01/11/2026;29,99")?;
        }
    }
    std::fs::write(files.join("offres.csv"), "code;nom;prix_mensuel_ttc;tva;frais_mise_en_service;deliberation\nCONC300;Fibre 300;29,99;20;;Délibération 2026-41\n")?;
    std::fs::write(files.join("comptes.csv"), accounts)?;
    std::fs::write(files.join("lignes.csv"), rows)?;
    std::fs::write(files.join("mandats.csv"), mandates)?;
    std::fs::write(files.join("soldes.csv"), balances)?;
    println!(
        "backend: {}, {} lines in service on {} PON ports ({} premises generated)",
        db.backend().as_str(),
        served.len(),
        per_port.len(),
        premises
    );

    // --- The takeover ------------------------------------------------------
    let on = "2027-01-01".parse()?;
    let creditor = NewCreditor {
        seller: billing::document::Seller {
            name: "Régie publique de la fibre".into(),
            address: "Place de la mairie".into(),
            siren: None,
            vat_number: None,
            payment_days: 30,
            bank: None,
        },
        id: billing::sepa::CreditorId::parse("FR72ZZZ123456")?,
    };
    let started = Instant::now();
    let (_, report) = billing::takeover::read(&files, on);
    anyhow::ensure!(!report.has_errors(), "{:?}", report.issues.first());
    println!(
        "read and check the files: {} ms",
        started.elapsed().as_millis()
    );
    for dry_run in [true, false] {
        let started = Instant::now();
        let outcome = billing::takeover::import(
            &db,
            &lines,
            &sys,
            &files,
            &Options { on, dry_run },
            Some(&creditor),
        )
        .await?;
        let s = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            !outcome.report.has_errors(),
            "{:?}",
            outcome.report.issues.first()
        );
        println!(
            "{}: {:.1} s, {:.0} lines/s ({} accounts, {} lines, {} mandates, {} balances){}",
            if dry_run { "dry run" } else { "takeover" },
            s,
            outcome.counts.lines as f64 / s,
            outcome.counts.accounts,
            outcome.counts.lines,
            outcome.counts.mandates,
            outcome.counts.balances,
            if dry_run {
                String::new()
            } else {
                format!(
                    ", {} letters; peak memory {} MiB",
                    outcome.letters.len(),
                    peak_mib()
                )
            }
        );
    }

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
