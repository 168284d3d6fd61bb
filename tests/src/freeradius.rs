//! FreeRADIUS for the tests: the shipped site, policy and SQL module
//! (`deploy/freeradius`) started on a loopback port against a test's
//! database, and questioned by `radclient` as a BNG would.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use regie_core::Backend;

use crate::TestApp;

pub const SECRET: &str = "testing123";

/// FreeRADIUS and radclient, or `None` to skip where they are not installed
/// (CI sets `REGIE_REQUIRE_PEERS=1`, and there a missing peer fails).
pub fn peers() -> Option<PathBuf> {
    let daemon = PathBuf::from("/usr/sbin/freeradius");
    let client = Command::new("radclient").arg("-h").output().is_ok();
    if daemon.exists() && client {
        return Some(daemon);
    }
    assert!(
        std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
        "freeradius and freeradius-utils are required"
    );
    eprintln!("skipped: FreeRADIUS or radclient is not installed");
    None
}

fn shipped(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/freeradius")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Debug)]
pub struct Radius {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Radius {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts FreeRADIUS with the shipped site, policy and SQL module, pointed
/// at the test's database.
pub fn start_radius(t: &TestApp, daemon: &Path) -> Radius {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["mods-enabled", "policy.d", "sites-enabled"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::os::unix::fs::symlink("/etc/freeradius/3.0/mods-config", d.join("mods-config")).unwrap();
    std::fs::write(d.join("dictionary"), "").unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sql = match t.tdb.backend() {
        Backend::Sqlite => shipped("mods-available/regie_sql_sqlite").replace(
            "/var/lib/regie/regie.db",
            &t.tdb.url.sqlite_path().unwrap().display().to_string(),
        ),
        Backend::Postgres => {
            let url = url::Url::parse(t.tdb.url.expose()).unwrap();
            shipped("mods-available/regie_sql_postgresql")
                .replace(
                    "login = \"freeradius\"",
                    &format!("login = \"{}\"", url.username()),
                )
                .replace(
                    "radius_db = \"regie\"",
                    &format!("radius_db = \"{}\"", url.path().trim_start_matches('/')),
                )
                .replace(
                    "port = 5432",
                    &format!("port = {}", url.port().unwrap_or(5432)),
                )
        }
    };
    std::fs::write(d.join("mods-enabled/regie_sql"), sql).unwrap();
    std::fs::write(d.join("policy.d/regie"), shipped("policy.d/regie")).unwrap();
    std::fs::write(
        d.join("sites-enabled/regie"),
        shipped("sites-available/regie")
            .replace("ipaddr = *", "ipaddr = 127.0.0.1")
            .replace("port = 1812", &format!("port = {port}")),
    )
    .unwrap();
    std::fs::write(
        d.join("radiusd.conf"),
        format!(
            "prefix = /usr\nexec_prefix = /usr\nsysconfdir = /etc\nlocalstatedir = /var\nsbindir = /usr/sbin\n\
             logdir = {dir}\nraddbdir = {dir}\nradacctdir = {dir}\nname = freeradius\nconfdir = {dir}\n\
             modconfdir = {dir}/mods-config\ncertdir = {dir}\ncadir = {dir}\nrun_dir = {dir}\ndb_dir = {dir}\n\
             libdir = /usr/lib/freeradius\npidfile = {dir}/radiusd.pid\nmax_request_time = 30\ncleanup_delay = 0\n\
             max_requests = 1024\nhostname_lookups = no\n\
             log {{\n destination = stdout\n colourise = no\n auth = yes\n}}\n\
             security {{\n allow_core_dumps = no\n max_attributes = 200\n reject_delay = 0\n status_server = no\n}}\n\
             thread pool {{\n start_servers = 2\n max_servers = 4\n min_spare_servers = 1\n max_spare_servers = 2\n max_requests_per_server = 0\n}}\n\
             client bng {{\n ipaddr = 127.0.0.1\n secret = {SECRET}\n}}\n\
             modules {{\n expr {{\n }}\n always reject {{\n  rcode = reject\n }}\n always ok {{\n  rcode = ok\n }}\n $INCLUDE mods-enabled/\n}}\n\
             policy {{\n $INCLUDE policy.d/\n}}\n\
             $INCLUDE sites-enabled/\n",
            dir = d.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(daemon)
        .args(["-f", "-l", "stdout", "-d"])
        .arg(d)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            log.push_str(&line);
            log.push('\n');
            if line.contains("Ready to process requests") {
                let _ = ready_tx.send(Ok(()));
            }
        }
        let _ = ready_tx.send(Err(log));
    });
    match ready_rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(())) => {}
        Ok(Err(log)) => panic!("FreeRADIUS stopped:\n{log}"),
        Err(_) => panic!("FreeRADIUS did not start within 20 s"),
    }
    Radius {
        child,
        port,
        _dir: dir,
    }
}

/// Asks FreeRADIUS as the BNG would, by circuit id; answers radclient's
/// report.
pub fn ask(radius: &Radius, circuit_id: &str) -> String {
    let mut child = Command::new("radclient")
        .args(["-x", "-r", "1", "-t", "5"])
        .arg(format!("127.0.0.1:{}", radius.port))
        .args(["auth", SECRET])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            format!("User-Name = \"bng-ipoe\", User-Password = \"ipoe\", ADSL-Agent-Circuit-Id = \"{circuit_id}\"\n")
                .as_bytes(),
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}
