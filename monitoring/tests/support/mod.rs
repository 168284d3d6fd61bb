//! What the tests against SNMP recordings share: snmpsim serving the
//! recordings of `../shared/fixtures/snmprec` and those written for Régie
//! (`tests/recordings`), sessions to it, the shipped profile a recording
//! gets, Prometheus's text exposition parsed, `promtool` run.
#![allow(dead_code)] // Each test binary uses its part.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use monitoring::snmp::{AsyncSnmp, Credentials, Snmp, Target};

pub const RECORDINGS: [&str; 7] = [
    "smartax",
    "nokia-isam",
    "edgeosolt",
    "vrp_5720",
    "ios_c3560",
    "bdcom",
    "ubiquoss-pon_9500",
];

/// More recordings to hold the poller against, outside the repository:
/// `REGIE_MORE_SNMPREC=DIR` with `DIR/NAME.snmprec` and
/// `DIR/expected/NAME.json` (LibreNMS's test data has this shape). Unset
/// (as in CI), only the recordings of `../shared` are compared.
pub fn more() -> Vec<(PathBuf, String)> {
    let Some(dir) = std::env::var_os("REGIE_MORE_SNMPREC").map(PathBuf::from) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let name = path.file_stem()?.to_str()?.to_owned();
            let expected = dir.join("expected").join(format!("{name}.json"));
            let has_ports = std::fs::metadata(&expected).is_ok_and(|m| m.len() > 0);
            (path.extension()? == "snmprec" && has_ports).then_some((path, name))
        })
        .collect();
    found.sort();
    found
}

/// Every recording compared with LibreNMS: (its expected JSON, name).
pub fn compared() -> Vec<(PathBuf, String)> {
    let mut all: Vec<(PathBuf, String)> = RECORDINGS
        .iter()
        .map(|n| {
            (
                fixtures().join(format!("expected/{n}.json")),
                (*n).to_owned(),
            )
        })
        .collect();
    for (path, name) in more() {
        let expected = path
            .parent()
            .unwrap()
            .join("expected")
            .join(format!("{name}.json"));
        all.push((expected, name));
    }
    all
}

/// The recordings written for Régie's tests (not a device's).
pub fn written() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/recordings")
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/snmprec")
}

/// snmpsim's responder, or `None` to skip where it is not installed (CI
/// sets `REGIE_REQUIRE_PEERS=1`, and there a missing peer fails).
pub fn snmpsim() -> Option<PathBuf> {
    let path = std::env::var_os("REGIE_SNMPSIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/snmpsim/bin/snmpsim-command-responder"));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
        "snmpsim is required ({}; see ../shared/fixtures/snmprec/README.md)",
        path.display()
    );
    eprintln!("skipped: snmpsim is not installed at {}", path.display());
    None
}

pub struct Agent {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

pub async fn serve() -> Option<Agent> {
    let responder = snmpsim()?;
    let dir = tempfile::tempdir().unwrap();
    let (data, cache) = (dir.path().join("data"), dir.path().join("cache"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    for name in RECORDINGS {
        let file = format!("{name}.snmprec");
        std::fs::copy(fixtures().join(&file), data.join(&file)).unwrap();
    }
    // Recordings written for Régie from a vendor's MIB, where no device's
    // recording is at hand (each profile's header says which).
    for entry in std::fs::read_dir(written()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, data.join(path.file_name().unwrap())).unwrap();
    }
    for (path, _) in more() {
        std::fs::copy(&path, data.join(path.file_name().unwrap())).unwrap();
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(responder);
    cmd.arg(format!("--data-dir={}", data.display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if is_root() {
        // As root snmpsim drops to `nobody`, who must read the data and
        // write the cache.
        Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(dir.path())
            .status()
            .unwrap();
        Command::new("chmod")
            .args(["a+rx"])
            .arg(dir.path())
            .status()
            .unwrap();
        cmd.args(["--process-user=nobody", "--process-group=nogroup"]);
    }
    let child = cmd.spawn().unwrap();
    let agent = Agent {
        child,
        port,
        _dir: dir,
    };
    // Ready when it answers (it indexes the recordings first).
    for _ in 0..120 {
        let probe = session(&agent, "smartax", Duration::from_millis(500)).await;
        if probe.get(&["1.3.6.1.2.1.1.3.0"]).await.is_ok() {
            return Some(agent);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("snmpsim did not answer on port {port}");
}

pub async fn session(agent: &Agent, community: &str, timeout: Duration) -> AsyncSnmp {
    AsyncSnmp::connect(&Target {
        address: ([127, 0, 0, 1], agent.port).into(),
        credentials: Credentials::V2c {
            community: community.into(),
        },
        timeout,
        retries: 1,
    })
    .await
    .unwrap()
}

/// One sample: metric name, labels, value.
pub type Sample = (String, Vec<(String, String)>, f64);

/// Parses Prometheus text exposition: every sample line is
/// `name{label="value",...} number`; answers (name, labels, value).
pub fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (head, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match head.split_once('{') {
            None => (head.to_owned(), Vec::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                let mut labels = Vec::new();
                let mut rest = body;
                while !rest.is_empty() {
                    let (k, after) = rest
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("bad label: {line}"));
                    // Values escape backslashes, quotes and newlines.
                    let mut value = String::new();
                    let mut chars = after.char_indices();
                    let end = loop {
                        match chars.next() {
                            Some((i, '"')) => break i,
                            Some((_, '\\')) => match chars.next() {
                                Some((_, 'n')) => value.push('\n'),
                                Some((_, c)) => value.push(c),
                                None => panic!("bad escape: {line}"),
                            },
                            Some((_, c)) => value.push(c),
                            None => panic!("unclosed value: {line}"),
                        }
                    };
                    labels.push((k.to_owned(), value));
                    rest = after.get(end + 1..).unwrap_or("").trim_start_matches(',');
                }
                (name.to_owned(), labels)
            }
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad name: {line}"
        );
        out.push((name, labels, value));
    }
    out
}

/// LibreNMS's sensors of a class and group: (index, value).
pub fn sensors(name: &str, class: &str, group: &str) -> Vec<(String, f64)> {
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join(format!("expected/{name}.json"))).unwrap(),
    )
    .unwrap();
    expected["sensors"]["discovery"]["sensors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["sensor_class"] == class && s["group"] == group)
        .map(|s| {
            (
                s["sensor_oid"].as_str().unwrap().to_owned(),
                s["sensor_current"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The shipped profile the poller picks for a recording, by its
/// sysObjectID and sysDescr as the agent answers them.
pub async fn profile_of(snmp: &AsyncSnmp) -> Option<monitoring::profiles::Profile> {
    monitoring::profiles::Profiles::shipped()
        .unwrap()
        .of_device(snmp)
        .await
        .unwrap()
        .cloned()
}

/// Runs `promtool test rules` on `test` beside the shipped rules; `None`
/// where promtool is not installed (CI requires it).
pub fn promtool_test(test: &str) -> Option<std::process::Output> {
    if Command::new("promtool").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
            "promtool is required (apt-get install prometheus)"
        );
        eprintln!("skipped: promtool is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus/regie-alerts.yml");
    std::fs::copy(rules, dir.path().join("regie-alerts.yml")).unwrap();
    std::fs::write(dir.path().join("test.yml"), test).unwrap();
    Some(
        Command::new("promtool")
            .args(["test", "rules", "test.yml"])
            .current_dir(dir.path())
            .output()
            .unwrap(),
    )
}
