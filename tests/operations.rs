//! Operations, process to process, on SQLite and on PostgreSQL when
//! `REGIE_TEST_POSTGRES` names a server (as in CI):
//!
//! - `regie backup` and `regie restore`: a snapshot taken while the demo
//!   server runs restores into a fresh database, a snapshot of the stopped
//!   database restores to exactly its contents, and a database that holds
//!   data is only replaced with `--force`;
//! - two `regie serve` on one database: the scheduled work is done once,
//!   by one of them, and the other takes over when it stops.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::http_get;

use regie_core::backup::contents;
use regie_core::{DatabaseUrl, Db};

/// The databases of one test: SQLite files in its directory, or databases
/// on the PostgreSQL server of the suite (created by `regie` on first
/// connection, dropped at the end).
struct Databases {
    dir: tempfile::TempDir,
    server: Option<String>,
    created: Vec<String>,
}

impl Databases {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("dir"),
            server: std::env::var("REGIE_TEST_POSTGRES")
                .ok()
                .filter(|s| !s.is_empty())
                .map(|s| s.trim_end_matches('/').to_owned()),
            created: Vec::new(),
        }
    }

    fn url(&mut self, name: &str) -> String {
        match &self.server {
            None => format!(
                "sqlite://{}",
                self.dir.path().join(format!("{name}.db")).display()
            ),
            Some(server) => {
                let db = format!("regie_backup_{name}_{}", uuid::Uuid::new_v4().simple());
                self.created.push(db.clone());
                format!("{server}/{db}")
            }
        }
    }

    fn snapshot(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        let Some(server) = self.server.clone() else {
            return;
        };
        let names = std::mem::take(&mut self.created);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let url = DatabaseUrl::parse(&format!("{server}/postgres")).expect("url");
                if let Ok(admin) = Db::connect(&url, 1).await {
                    for name in names {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(admin.pool())
                                .await;
                    }
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

fn regie(dir: &Path, url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regie"));
    c.arg("--data-dir").arg(dir).arg("--database").arg(url);
    c.env("REGIE_LOG_LEVEL", "warn");
    c
}

/// Runs a command to its end; answers (success, stdout, stderr).
fn run(mut c: Command) -> (bool, String, String) {
    let out = c.output().expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn serve_demo(dir: &Path, url: &str) -> Child {
    serve(regie(dir, url).args(["serve", "--demo"])).0
}

/// Starts `regie serve` (arguments after `serve` already given) on a free
/// port; answers the process and its address once it listens.
fn serve(c: &mut Command) -> (Child, String) {
    let mut child = c
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines {
        if let Some(addr) = line
            .expect("utf-8")
            .strip_prefix("Régie listening on http://")
        {
            return (child, addr.to_owned());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the demo server stopped before listening");
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("waits");
    assert!(status.success(), "clean stop: {status}");
}

async fn contents_of(url: &str) -> regie_core::backup::Contents {
    let db = Db::connect(&DatabaseUrl::parse(url).expect("url"), 1)
        .await
        .expect("connect");
    let c = contents(&db).await.expect("contents");
    db.close().await;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_restores_into_a_fresh_database_and_only_forced_over_data() {
    let mut dbs = Databases::new();
    let data = dbs.dir.path().join("data");
    let live = dbs.url("live");

    // Taken while the demo server runs: a consistent database of its own.
    let server = serve_demo(&data, &live);
    let hot = dbs.snapshot("hot.backup");
    let mut backup = regie(&data, &live);
    backup.arg("backup").arg(&hot);
    let (ok, out, err) = run(backup);
    assert!(ok, "{err}");
    assert!(out.contains("written to"), "{out}");
    stop(server);

    let from_hot = dbs.url("from_hot");
    let mut restore = regie(&data, &from_hot);
    restore.arg("restore").arg(&hot);
    let (ok, out, err) = run(restore);
    assert!(ok, "{err}");
    assert!(out.contains("tables"), "{out}");
    let restored = contents_of(&from_hot).await;
    let source = contents_of(&live).await;
    assert_eq!(
        restored.tables.keys().collect::<Vec<_>>(),
        source.tables.keys().collect::<Vec<_>>(),
        "every table is in the snapshot"
    );
    for table in ["users", "inv_sites", "st_applications", "regie_migrations"] {
        let rows = source.tables[table].rows;
        assert!(rows > 0, "the demo fills {table}");
        assert_eq!(restored.tables[table].rows, rows, "{table}");
    }
    // The restored database serves: users are there to log in.
    let (ok, out, err) = run({
        let mut c = regie(&data, &from_hot);
        c.args(["user", "list"]);
        c
    });
    assert!(ok, "{err}");
    assert!(out.contains("technicien"), "{out}");

    // Of the stopped database: exactly its contents, row for row.
    let cold = dbs.snapshot("cold.backup");
    let (ok, _, err) = run({
        let mut c = regie(&data, &live);
        c.arg("backup").arg(&cold);
        c
    });
    assert!(ok, "{err}");
    let fresh = dbs.url("fresh");
    let (ok, _, err) = run({
        let mut c = regie(&data, &fresh);
        c.arg("restore").arg(&cold);
        c
    });
    assert!(ok, "{err}");
    assert_eq!(contents_of(&fresh).await, source);

    // A database that holds data is not replaced without --force…
    let (ok, _, err) = run({
        let mut c = regie(&data, &from_hot);
        c.arg("restore").arg(&cold);
        c
    });
    assert!(!ok);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // …and is, with it.
    let (ok, _, err) = run({
        let mut c = regie(&data, &from_hot);
        c.args(["restore", "--force"]).arg(&cold);
        c
    });
    assert!(ok, "{err}");
    assert_eq!(contents_of(&from_hot).await, source);

    // Not a snapshot: refused, nothing changed.
    let notes = dbs.snapshot("notes.txt");
    std::fs::write(&notes, "pas une sauvegarde").expect("write");
    let (ok, _, err) = run({
        let mut c = regie(&data, &from_hot);
        c.args(["restore", "--force"]).arg(&notes);
        c
    });
    assert!(!ok);
    assert!(err.contains("not a Régie backup"), "{err}");
    assert_eq!(contents_of(&from_hot).await, source);
}

/// The value of a metric without labels, or the sum over its label sets
/// matching `labels` (a substring of the label set), 0 when absent.
fn metric(addr: &str, name: &str, labels: &str) -> f64 {
    http_get(addr, "/metrics")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(key, _)| {
            key.strip_prefix(name).is_some_and(|rest| {
                rest.is_empty() || (rest.starts_with('{') && rest.contains(labels))
            })
        })
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum()
}

/// Waits up to `limit` for `ready`, polling every 100 ms.
fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn runs_by_job(url: &str) -> Vec<(String, String)> {
    let db = Db::connect(&DatabaseUrl::parse(url).expect("url"), 1)
        .await
        .expect("connect");
    let rows = sqlx::query_as::<_, (String, String)>(
        "SELECT job, instance FROM sched_runs ORDER BY job, started_at",
    )
    .fetch_all(db.pool())
    .await
    .expect("runs");
    db.close().await;
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_do_the_scheduled_work_once() {
    let mut dbs = Databases::new();
    let data = dbs.dir.path().join("data");
    let url = dbs.url("shared");
    // A short lease and a poll every second, so that the hand-over shows
    // within the test.
    let start = |demo: bool| {
        let mut c = regie(&data, &url);
        c.env("REGIE_SCHEDULE_LEASE_S", "3")
            .env("REGIE_SNMP_INTERVAL_S", "1")
            .arg("serve");
        if demo {
            c.arg("--demo");
        }
        serve(&mut c)
    };
    let (first, a) = start(true);
    let (second, b) = start(false);

    wait_for(Duration::from_secs(20), "the first instance's jobs", || {
        metric(&a, "regie_scheduled_runs_total", "job=\"dunning\"") >= 1.0
            && metric(&a, "regie_scheduled_runs_total", "job=\"snmp_poll\"") >= 2.0
    });
    assert_eq!(metric(&a, "regie_scheduler_leader", ""), 1.0);
    // The second stands by: it leads nothing, polls nothing, runs nothing.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(metric(&b, "regie_scheduler_leader", ""), 0.0);
    assert_eq!(metric(&b, "regie_scheduled_runs_total", ""), 0.0);
    let runs = runs_by_job(&url).await;
    let jobs: Vec<&str> = runs.iter().map(|(j, _)| j.as_str()).collect();
    assert_eq!(
        jobs,
        ["dunning", "line_follower", "renewal_reminders", "retention"],
        "each job once: {runs:?}"
    );
    let leader = runs[0].1.clone();
    assert!(runs.iter().all(|(_, i)| *i == leader), "{runs:?}");

    // The first stops: the second takes over the polls at once (the lease
    // is given up on a clean stop), without running again the jobs whose
    // period has not elapsed.
    stop(first);
    wait_for(Duration::from_secs(10), "the hand-over", || {
        metric(&b, "regie_scheduler_leader", "") == 1.0
            && metric(&b, "regie_scheduled_runs_total", "job=\"snmp_poll\"") >= 1.0
    });
    assert_eq!(
        metric(&b, "regie_scheduled_runs_total", "job=\"dunning\""),
        0.0
    );
    let after = runs_by_job(&url).await;
    assert_eq!(after, runs, "no job ran twice in its period");
    stop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_crash_left_unpacked_is_removed_at_start() {
    let mut dbs = Databases::new();
    let data = tempfile::tempdir().expect("tempdir");
    // A delivery half-unpacked when the process was killed.
    let left = data.path().join("tmp").join("livraison-abc123");
    std::fs::create_dir_all(&left).expect("mkdir");
    std::fs::write(left.join("t_fibre.csv"), "fo_code\n").expect("write");
    let url = dbs.url("scratch");
    let (server, _addr) = serve(regie(data.path(), &url).arg("serve"));
    // Listening means started: the scratch directory was emptied before.
    assert!(!left.exists(), "{} still there", left.display());
    stop(server);
}
