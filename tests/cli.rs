//! Process-level tests of the `regie` binary (an integration test of the
//! root package, which is why it sits here beside the scenario-test crate):
//! exit codes, one-line errors, user management through standard input,
//! the demo, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::http_get;

fn regie(data_dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regie"));
    c.arg("--data-dir").arg(data_dir);
    // The suite may run with a PostgreSQL server configured for the scenario
    // tests; these tests choose their database themselves.
    c.env_remove("REGIE_DATABASE_URL");
    c.env("REGIE_LOG_LEVEL", "warn");
    c
}

#[test]
fn bad_configuration_exits_non_zero_with_one_line() {
    let dir = tempfile::tempdir().expect("dir");
    let out = regie(dir.path())
        .args(["--database", "mysql://x", "migrate"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: invalid database URL"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );

    let out = regie(dir.path())
        .args(["--database", "postgres://postgres@127.0.0.1:1/x", "migrate"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot connect to the database"),
        "{err}"
    );
}

#[test]
fn users_are_added_from_stdin_and_listed() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = regie(dir.path())
        .args([
            "user",
            "add",
            "Camille",
            "--role",
            "admin",
            "--role",
            "technician",
            "--display-name",
            "Camille Roux",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"un-mot-de-passe-solide\n")
        .expect("write");
    let out = child.wait_with_output().expect("waits");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("user camille created with role(s) admin, technician"));

    let list = regie(dir.path())
        .args(["user", "list"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("camille")
            && text.contains("Camille Roux")
            && text.contains("admin,technician"),
        "{text}"
    );

    let mut weak = regie(dir.path())
        .args(["user", "add", "bob", "--role", "admin"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    weak.stdin
        .take()
        .expect("stdin")
        .write_all(b"court\n")
        .expect("write");
    let out = weak.wait_with_output().expect("waits");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("12 caractères"));

    let bad_role = regie(dir.path())
        .args(["user", "add", "bob", "--role", "root"])
        .output()
        .expect("runs");
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("unknown role"));
}

#[test]
fn migrate_twice_reports_up_to_date() {
    let dir = tempfile::tempdir().expect("dir");
    let first = regie(dir.path()).arg("migrate").output().expect("runs");
    assert!(first.status.success());
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied core/0001 audit_log"));
    let second = regie(dir.path()).arg("migrate").output().expect("runs");
    assert!(second.status.success());
    assert_eq!(
        String::from_utf8_lossy(&second.stdout),
        "database is up to date\n"
    );
}

#[test]
fn config_show_masks_secrets_and_honours_env() {
    let dir = tempfile::tempdir().expect("dir");
    let out = regie(dir.path())
        .env(
            "REGIE_DATABASE_URL",
            "postgres://regie:tres-secret@db.local/regie",
        )
        .env("REGIE_LISTEN", "0.0.0.0:9090")
        .args(["config", "show"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("postgres://regie:****@db.local/regie"),
        "{text}"
    );
    assert!(!text.contains("tres-secret"));
    assert!(text.contains("listen = \"0.0.0.0:9090\""));
}

#[test]
fn serve_demo_then_stop_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = regie(dir.path())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = Vec::new();
    let addr = loop {
        let line = lines
            .next()
            .expect("server printed its address")
            .expect("utf-8");
        if let Some(a) = line.strip_prefix("Régie listening on http://") {
            break a.to_owned();
        }
        printed.push(line);
    };
    let printed = printed.join("\n");
    for user in ["admin", "technicien", "comptable", "agent", "foyer"] {
        assert!(
            printed.contains(&format!("  {user} ")),
            "{user} missing from:\n{printed}"
        );
    }
    assert!(printed.contains("password: "));

    let health = http_get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let ready = http_get(&addr, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit on SIGTERM: {status}");

    // A second --demo on the same database changes nothing.
    let mut again = regie(dir.path())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let first = BufReader::new(again.stdout.take().expect("stdout"))
        .lines()
        .next()
        .expect("a line")
        .expect("utf-8");
    let _ = Command::new("kill")
        .args(["-TERM", &again.id().to_string()])
        .status();
    let _ = again.wait();
    assert!(
        first.contains("demo data not loaded, nothing changed"),
        "{first}"
    );
}

#[test]
fn pools_and_olt_drift_from_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let run = |args: &[&str]| regie(dir.path()).args(args).output().expect("runs");

    let out = run(&[
        "provisioning",
        "pool-add",
        "cgnat",
        "cgnat_v4",
        "100.64.0.0/22",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1022 addresses or prefixes"));
    let out = run(&[
        "provisioning",
        "pool-add",
        "cgnat-b",
        "cgnat_v4",
        "100.64.2.0/24",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an overlapping pool is bad input"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("chevauche le pool « cgnat »"), "{err}");
    let out = run(&["provisioning", "pools"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 used of 1022"));

    // A network, and an ONT on its simulated OLT that no line accounts for.
    let delivery = dir.path().join("delivery");
    assert!(run(&[
        "inventory",
        "generate",
        "--premises",
        "400",
        "--seed",
        "3",
        delivery.to_str().expect("utf-8")
    ])
    .status
    .success());
    assert!(
        run(&["inventory", "import", delivery.to_str().expect("utf-8")])
            .status
            .success()
    );
    let out = run(&["provisioning", "drift", "--olt", "OLT01"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("OLT01: no drift"));
    std::fs::create_dir_all(dir.path().join("simulated-olts")).expect("mkdir");
    std::fs::write(
        dir.path().join("simulated-olts/OLT01.json"),
        r#"{"onts":[[[0,1,0,7],{"serial":"HWTC0000DEAD","description":"posé à la main","admin_up":true,"services":[]}]],"unprovisioned":[]}"#,
    )
    .expect("write");
    let out = run(&["provisioning", "drift", "--olt", "OLT01"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ONTs on OLT01 unknown to the database (1)"),
        "{text}"
    );
    assert!(text.contains("0/1/0 ONT 7  HWTC0000DEAD"), "{text}");
    let out = run(&[
        "provisioning",
        "drift",
        "--olt",
        "OLT01",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["unknown_on_olt"][0]["serial"], "HWTC0000DEAD");
}

#[test]
fn a_takeover_with_bad_files_reports_them_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = regie(dir.path())
        .args(["takeover", "import"])
        .arg(dir.path().join("nowhere"))
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is not a directory"));

    let files = tempfile::tempdir().expect("dir");
    let write =
        |name: &str, text: &str| std::fs::write(files.path().join(name), text).expect("write");
    write(
        "offres.csv",
        "code;nom;prix_mensuel_ttc;tva;frais_mise_en_service;deliberation\nCONC300;Fibre 300;29,99;19,6;;Délibération 2026-41\n",
    );
    write(
        "comptes.csv",
        "ref_client;type;nom;adresse;code_postal;commune;email;siren;tva_intracom;foyer\nC001;menage;Famille Durand;3 rue des Lilas;18000;Bourges;;;;\n",
    );
    write(
        "lignes.csv",
        "ref_ligne;ref_client;hexacle;local;offre;profil;ipv4;numero_serie_ont;port_pon;ont_id;puissance_rx_dbm\nL001;C002;18033222AB;;CONC300;300M;cgnat;HWTC1A2B3C4D;PON-1;3;-19,5\n",
    );
    write(
        "mandats.csv",
        "ref_client;rum;titulaire;iban;bic;date_signature;ics_creancier;nom_creancier\n",
    );
    let out = regie(dir.path())
        .args(["takeover", "import", "--dry-run", "--on", "2027-01-01"])
        .arg(files.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("erreur offres.csv:2 [tva]"), "{report}");
    assert!(
        report.contains("erreur lignes.csv:2 [ref_client]"),
        "{report}"
    );
    assert!(report.contains("erreur soldes.csv:0"), "{report}");
    assert!(report.contains("nothing written"), "{report}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 error(s)"), "{err}");

    // The letters cannot name the régie as creditor without its SEPA
    // configuration: said in one line, nothing written.
    let letters = dir.path().join("lettres");
    let out = regie(dir.path())
        .args(["takeover", "letters", "--output"])
        .arg(&letters)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[sepa]"), "{err}");
    assert!(!letters.exists());
}
