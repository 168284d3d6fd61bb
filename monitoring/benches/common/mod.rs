//! What the benchmarks share: this process's CPU and memory from /proc,
//! and snmpsim processes serving a directory of recordings.
#![allow(dead_code)] // Each benchmark uses its part.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds of a process (`self` for this one): user + system, and
/// those of its waited-for children.
pub fn cpu(pid: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let t = ticks_per_second();
    // Fields 14-17 of stat, counted after the command name (field 3 is [0]).
    let own = (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / t;
    let children = (f.get(13).unwrap_or(&0.0) + f.get(14).unwrap_or(&0.0)) / t;
    (own, children)
}

/// This process's resident memory, in MiB.
pub fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// snmpsim's responder (`REGIE_SNMPSIM`, or where `.ci/run` installs it),
/// or `None` with a note when it is not installed.
pub fn responder() -> Option<PathBuf> {
    let responder = std::env::var_os("REGIE_SNMPSIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/snmpsim/bin/snmpsim-command-responder"));
    if responder.exists() {
        Some(responder)
    } else {
        eprintln!(
            "snmpsim not found at {}: nothing measured",
            responder.display()
        );
        None
    }
}

/// Starts snmpsim on `port` serving `data` (caching in `cache`); as root it
/// drops to `nobody`, who must read everything under `dir`.
pub fn snmpsim(responder: &Path, dir: &Path, data: &Path, cache: &Path, port: u16) -> Child {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut cmd = Command::new(responder);
    cmd.arg(format!("--data-dir={}", data.display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if root {
        Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(dir)
            .status()
            .unwrap();
        cmd.args(["--process-user=nobody", "--process-group=nogroup"]);
    }
    cmd.spawn().unwrap()
}

/// The number after `name` on the command line, or `default`.
pub fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A v2c context of a local agent.
pub fn target(port: u16, community: &str) -> monitoring::snmp::Target {
    monitoring::snmp::Target {
        address: ([127, 0, 0, 1], port).into(),
        credentials: monitoring::snmp::Credentials::V2c {
            community: community.to_owned(),
        },
        timeout: std::time::Duration::from_secs(5),
        retries: 1,
    }
}

/// Whether the agent behind `target` answers within `limit` (snmpsim
/// indexes its recordings before it answers).
pub async fn answers(target: &monitoring::snmp::Target, limit: std::time::Duration) -> bool {
    use monitoring::snmp::Snmp;
    let snmp = monitoring::snmp::AsyncSnmp::connect(target).await.unwrap();
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if snmp.get(&["1.3.6.1.2.1.1.3.0"]).await.is_ok() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    false
}

/// Child processes killed (and reaped) when dropped.
pub struct Processes(pub Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
