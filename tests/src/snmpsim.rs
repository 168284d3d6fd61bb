//! An SNMP agent for the tests: `snmpsim` serving recordings the test
//! writes itself (an OLT with the interface of a PON port, say), one per
//! community, on a loopback port.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running snmpsim, stopped when dropped.
#[derive(Debug)]
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

/// snmpsim's responder (`REGIE_SNMPSIM`, or where `.ci/run` installs it),
/// or `None` to skip where it is not installed (CI sets
/// `REGIE_REQUIRE_PEERS=1`, and there a missing peer fails).
pub fn responder() -> Option<PathBuf> {
    let path = std::env::var_os("REGIE_SNMPSIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/snmpsim/bin/snmpsim-command-responder"));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
        "snmpsim is required at {}",
        path.display()
    );
    eprintln!("skipped: snmpsim is not installed at {}", path.display());
    None
}

/// One `OID|type|value` line of a recording (types as snmpsim numbers
/// them: 2 integer, 4 string, 67 timeticks, 70 counter64).
pub fn rec(oid: &str, kind: u8, value: &str) -> String {
    format!("{oid}|{kind}|{value}\n")
}

/// An OLT whose only interface, `if_name`, is administratively up and
/// operationally `up` or down.
pub fn olt_recording(sys_name: &str, if_name: &str, up: bool) -> String {
    let mut lines = vec![
        ("1.3.6.1.2.1.1.1.0", 4, "Régie test OLT".to_owned()),
        ("1.3.6.1.2.1.1.3.0", 67, "123456".to_owned()),
        ("1.3.6.1.2.1.1.5.0", 4, sys_name.to_owned()),
        ("1.3.6.1.2.1.2.2.1.1.1", 2, "1".to_owned()),
        ("1.3.6.1.2.1.2.2.1.2.1", 4, if_name.to_owned()),
        ("1.3.6.1.2.1.2.2.1.3.1", 2, "250".to_owned()),
        ("1.3.6.1.2.1.2.2.1.7.1", 2, "1".to_owned()),
        (
            "1.3.6.1.2.1.2.2.1.8.1",
            2,
            if up { "1" } else { "2" }.to_owned(),
        ),
        ("1.3.6.1.2.1.31.1.1.1.1.1", 4, if_name.to_owned()),
        ("1.3.6.1.2.1.31.1.1.1.6.1", 70, "1000".to_owned()),
        ("1.3.6.1.2.1.31.1.1.1.10.1", 70, "2000".to_owned()),
    ];
    lines.sort_by_key(|l| oid_key(l.0));
    lines.iter().map(|(o, k, v)| rec(o, *k, v)).collect()
}

fn oid_key(oid: &str) -> Vec<u32> {
    oid.split('.').filter_map(|p| p.parse().ok()).collect()
}

/// Serves `recordings` (community, text); answers once the agent replies.
pub fn serve(responder: &std::path::Path, recordings: &[(&str, String)]) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let (data, cache) = (dir.path().join("data"), dir.path().join("cache"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    for (community, text) in recordings {
        std::fs::write(data.join(format!("{community}.snmprec")), text).unwrap();
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
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        // As root snmpsim drops to `nobody`, who must read the data and
        // write the cache.
        Command::new("chmod")
            .args(["-R", "a+rwX"])
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
    let community = recordings.first().map_or("public", |r| r.0);
    for _ in 0..120 {
        let answered = Command::new("snmpget")
            .args(["-v2c", "-c", community, "-t", "0.5", "-r", "0", "-Oqv"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("1.3.6.1.2.1.1.3.0")
            .output()
            .is_ok_and(|o| o.status.success());
        if answered {
            return agent;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("snmpsim did not answer on port {port}");
}
