//! SNMP polling benchmark: one cycle over many device contexts served from
//! the recordings by several snmpsim processes, measured in the same run
//! against the same walks by net-snmp's `snmpbulkwalk` and by Prometheus's
//! `snmp_exporter`; then the poller's memory with many devices configured.
//! Prints figures; asserts nothing.
//!
//! cargo bench -p monitoring --bench snmp_poll -- [--contexts 100] [--agents 4]
//!     [--rounds 3] [--memory-devices 1000]
//!
//! Needs snmpsim (`REGIE_SNMPSIM`, default /opt/snmpsim/bin/…), net-snmp's
//! `snmpbulkwalk` and Debian's `prometheus-snmp-exporter`; a tool that is
//! missing is skipped with a note. Linux only (CPU and memory from /proc).
#![allow(clippy::unwrap_used, clippy::expect_used)] // A benchmark stops loudly.

mod common;
use common::{arg, cpu, free_port, rss_mib, target};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monitoring::poller::{Device, Metrics, Poller};
use monitoring::snmp::{AsyncSnmp, Snmp, Value};

const RECORDINGS: [&str; 5] = [
    "smartax",
    "nokia-isam",
    "edgeosolt",
    "vrp_5720",
    "ios_c3560",
];
/// What every client walks: ifTable and ifXTable (and sysUpTime).
const TABLES: [&str; 2] = ["1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"];
const CONCURRENCY: usize = 64;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/snmprec")
}

struct Agents {
    children: common::Processes,
    /// (port, community) of every context.
    contexts: Vec<(u16, String)>,
    _dir: tempfile::TempDir,
}

impl Agents {
    fn cpu(&self) -> f64 {
        self.children
            .0
            .iter()
            .map(|c| cpu(&c.id().to_string()).0)
            .sum()
    }
}

async fn start_agents(contexts: usize, agents: usize) -> Option<Agents> {
    let responder = common::responder()?;
    let dir = tempfile::tempdir().unwrap();
    let mut children = Vec::new();
    let mut all = Vec::new();
    for a in 0..agents {
        let (data, cache) = (
            dir.path().join(format!("data{a}")),
            dir.path().join(format!("cache{a}")),
        );
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&cache).unwrap();
        let port = free_port();
        for c in (0..contexts).filter(|c| c % agents == a) {
            let rec = RECORDINGS[c % RECORDINGS.len()];
            let community = format!("{rec}-{c:03}");
            std::fs::copy(
                fixtures().join(format!("{rec}.snmprec")),
                data.join(format!("{community}.snmprec")),
            )
            .unwrap();
            all.push((port, community));
        }
        children.push(common::snmpsim(&responder, dir.path(), &data, &cache, port));
    }
    let agents = Agents {
        children: common::Processes(children),
        contexts: all,
        _dir: dir,
    };
    // Ready when every context answers (each agent indexes its files).
    for (port, community) in &agents.contexts {
        assert!(
            common::answers(&target(*port, community), Duration::from_secs(120)).await,
            "context {community} on {port} never answered"
        );
    }
    Some(agents)
}

/// Counts the varbinds the poller's walks return.
struct Counting<'a>(&'a AsyncSnmp, &'a AtomicU64);

#[async_trait::async_trait]
impl Snmp for Counting<'_> {
    async fn walk(&self, oid: &str) -> Result<Vec<(String, Value)>, monitoring::Error> {
        let rows = self.0.walk(oid).await?;
        self.1.fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok(rows)
    }
    async fn get(&self, oids: &[&str]) -> Result<Vec<Value>, monitoring::Error> {
        let values = self.0.get(oids).await?;
        self.1.fetch_add(values.len() as u64, Ordering::Relaxed);
        Ok(values)
    }
    async fn walk_columns(
        &self,
        columns: &[&str],
    ) -> Result<Vec<Vec<(String, Value)>>, monitoring::Error> {
        let rows = self.0.walk_columns(columns).await?;
        let n: usize = rows.iter().map(Vec::len).sum();
        self.1.fetch_add(n as u64, Ordering::Relaxed);
        Ok(rows)
    }
}

struct Figures {
    wall: Duration,
    client_cpu: f64,
    agents_cpu: f64,
    varbinds: u64,
}

impl Figures {
    fn print(&self, who: &str, cores: f64) {
        let million = self.varbinds as f64 / 1e6;
        println!(
            "{who:<16} wall {:>7.3} s  varbinds {:>8}  client CPU {:>7.3} s = {:>7.2} s per million varbinds  agents CPU {:>6.2} s ({:>3.0} % of {cores} cores over the wall time)",
            self.wall.as_secs_f64(),
            self.varbinds,
            self.client_cpu,
            self.client_cpu / million,
            self.agents_cpu,
            100.0 * self.agents_cpu / (self.wall.as_secs_f64() * cores),
        );
    }
}

async fn bench_poller(agents: &Agents, poller: &Poller, devices: &[Device]) -> Figures {
    let (cpu0, _) = cpu("self");
    let agents0 = agents.cpu();
    let t0 = Instant::now();
    let cycle = poller.cycle(devices, Duration::from_secs(3600)).await;
    let wall = t0.elapsed();
    let failed = cycle.devices.iter().filter(|d| d.result.is_err()).count();
    if failed > 0 {
        println!("  ({failed} device polls failed)");
    }
    Figures {
        wall,
        client_cpu: cpu("self").0 - cpu0,
        agents_cpu: agents.cpu() - agents0,
        varbinds: 0,
    }
}

async fn count_poller_varbinds(agents: &Agents) -> u64 {
    let n = AtomicU64::new(0);
    let profiles = monitoring::profiles::Profiles::shipped().unwrap();
    for (port, community) in &agents.contexts {
        let snmp = AsyncSnmp::connect(&target(*port, community)).await.unwrap();
        let c = Counting(&snmp, &n);
        c.get(&["1.3.6.1.2.1.1.3.0"]).await.unwrap();
        let profile = profiles.of_device(&c).await.unwrap();
        monitoring::interfaces::poll(&c, profile).await.unwrap();
        monitoring::sensors::poll(&c).await.unwrap();
    }
    n.into_inner()
}

async fn bench_bulkwalk(agents: &Agents) -> Option<Figures> {
    if Command::new("snmpbulkwalk").arg("-V").output().is_err() {
        println!("snmpbulkwalk: not installed, skipped");
        return None;
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let (_, children0) = cpu("self");
    let agents0 = agents.cpu();
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (port, community) in agents.contexts.clone() {
        for oid in TABLES.iter().chain(["1.3.6.1.2.1.1.3"].iter()) {
            let (gate, community, oid) = (gate.clone(), community.clone(), (*oid).to_owned());
            set.spawn(async move {
                let _p = gate.acquire_owned().await;
                let out = tokio::process::Command::new("snmpbulkwalk")
                    .args([
                        "-v2c",
                        "-c",
                        &community,
                        "-Cr25",
                        "-On",
                        "-Oq",
                        "-t",
                        "5",
                        "-r",
                        "1",
                        "-M",
                        "/dev/null",
                    ])
                    .arg(format!("127.0.0.1:{port}"))
                    .arg(&oid)
                    .output()
                    .await
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).lines().count() as u64
            });
        }
    }
    let mut varbinds = 0;
    while let Some(n) = set.join_next().await {
        varbinds += n.unwrap();
    }
    let wall = t0.elapsed();
    Some(Figures {
        wall,
        client_cpu: cpu("self").1 - children0,
        agents_cpu: agents.cpu() - agents0,
        varbinds,
    })
}

/// The snmp_exporter module of a context: the same walks, and metrics for
/// the columns the poller reads (numeric OIDs: the generator needs IF-MIB's
/// text, which Debian ships only through the non-free downloader).
fn exporter_config(agents: &Agents) -> String {
    let columns = [
        ("ifDescr", "1.3.6.1.2.1.2.2.1.2", "DisplayString"),
        ("ifType", "1.3.6.1.2.1.2.2.1.3", "gauge"),
        ("ifSpeed", "1.3.6.1.2.1.2.2.1.5", "gauge"),
        ("ifAdminStatus", "1.3.6.1.2.1.2.2.1.7", "gauge"),
        ("ifOperStatus", "1.3.6.1.2.1.2.2.1.8", "gauge"),
        ("ifInOctets", "1.3.6.1.2.1.2.2.1.10", "counter"),
        ("ifInErrors", "1.3.6.1.2.1.2.2.1.14", "counter"),
        ("ifOutOctets", "1.3.6.1.2.1.2.2.1.16", "counter"),
        ("ifOutErrors", "1.3.6.1.2.1.2.2.1.20", "counter"),
        ("ifName", "1.3.6.1.2.1.31.1.1.1.1", "DisplayString"),
        ("ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6", "counter"),
        ("ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10", "counter"),
        ("ifHighSpeed", "1.3.6.1.2.1.31.1.1.1.15", "gauge"),
        ("ifAlias", "1.3.6.1.2.1.31.1.1.1.18", "DisplayString"),
    ];
    let mut metrics = String::new();
    for (name, oid, kind) in columns {
        metrics.push_str(&format!(
            "  - name: {name}\n    oid: {oid}\n    type: {kind}\n    help: {name}\n    indexes:\n    - labelname: ifIndex\n      type: gauge\n"
        ));
    }
    metrics.push_str(
        "  - name: sysUpTime\n    oid: 1.3.6.1.2.1.1.3\n    type: gauge\n    help: sysUpTime\n",
    );
    // snmp_exporter 0.21 (Debian 12): modules at the top level, the
    // community inside each module.
    let mut yml = String::new();
    for (_, community) in &agents.contexts {
        yml.push_str(&format!(
            "{}:\n  walk:\n  - 1.3.6.1.2.1.1.3\n  - {}\n  - {}\n  version: 2\n  max_repetitions: 25\n  retries: 1\n  timeout: 5s\n  auth:\n    community: {community}\n  metrics:\n{metrics}",
            community.replace('-', "_"),
            TABLES[0],
            TABLES[1]
        ));
    }
    yml
}

async fn http_get(port: u16, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).await.ok()?;
    Some(body)
}

async fn bench_exporter(agents: &Agents) -> Option<Figures> {
    let exporter = "prometheus-snmp-exporter";
    if Command::new(exporter).arg("--version").output().is_err() {
        println!("snmp_exporter: not installed, skipped");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("snmp.yml");
    std::fs::write(&config, exporter_config(agents)).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(exporter)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut ready = false;
    for _ in 0..100 {
        if http_get(port, "/").await.is_some() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !ready {
        println!("snmp_exporter did not start");
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    let scrape = |warm: bool| {
        let contexts = agents.contexts.clone();
        async move {
            let gate = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
            let mut set = tokio::task::JoinSet::new();
            for (p, community) in contexts {
                let gate = gate.clone();
                set.spawn(async move {
                    let _g = gate.acquire_owned().await;
                    let module = community.replace('-', "_");
                    let body =
                        http_get(port, &format!("/snmp?target=127.0.0.1:{p}&module={module}"))
                            .await
                            .unwrap_or_default();
                    // The exporter counts the varbinds it received.
                    body.lines()
                        .find_map(|l| l.strip_prefix("snmp_scrape_pdus_returned "))
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .unwrap_or(0.0) as u64
                });
            }
            let mut n = 0;
            while let Some(x) = set.join_next().await {
                n += x.unwrap();
            }
            let _ = warm;
            n
        }
    };
    scrape(true).await;
    let cpu0 = cpu(&pid).0;
    let agents0 = agents.cpu();
    let t0 = Instant::now();
    let varbinds = scrape(false).await;
    let wall = t0.elapsed();
    let figures = Figures {
        wall,
        client_cpu: cpu(&pid).0 - cpu0,
        agents_cpu: agents.cpu() - agents0,
        varbinds,
    };
    let _ = child.kill();
    let _ = child.wait();
    Some(figures)
}

#[tokio::main]
async fn main() {
    let contexts = arg("--contexts", 100);
    let agent_count = arg("--agents", 4);
    let rounds = arg("--rounds", 3);
    let memory_devices = arg("--memory-devices", 1000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let Some(agents) = start_agents(contexts, agent_count).await else {
        return;
    };
    println!(
        "{contexts} contexts ({} recordings) on {agent_count} snmpsim processes, {cores} cores, {rounds} rounds each",
        RECORDINGS.len()
    );
    let registry = prometheus::Registry::new();
    let poller = Poller::new(Metrics::register(&registry).unwrap());
    let devices: Vec<Device> = agents
        .contexts
        .iter()
        .map(|(port, community)| Device {
            name: community.clone(),
            target: target(*port, community),
        })
        .collect();
    let per_cycle = count_poller_varbinds(&agents).await;
    // A first cycle sets the counters' baselines (and warms the agents).
    bench_poller(&agents, &poller, &devices).await;
    for _ in 0..rounds {
        let mut f = bench_poller(&agents, &poller, &devices).await;
        f.varbinds = per_cycle;
        f.print("régie poller", cores);
    }
    for _ in 0..rounds {
        if let Some(f) = bench_bulkwalk(&agents).await {
            f.print("snmpbulkwalk", cores);
        }
    }
    for _ in 0..rounds {
        if let Some(f) = bench_exporter(&agents).await {
            f.print("snmp_exporter", cores);
        }
    }

    // Memory: the poller's state for many devices (names, counters of
    // every interface, metric series), each context polled under several
    // names.
    let before = rss_mib();
    let registry = prometheus::Registry::new();
    let big = Poller::new(Metrics::register(&registry).unwrap());
    let many: Vec<Device> = (0..memory_devices)
        .map(|i| {
            let (port, community) = &agents.contexts[i % agents.contexts.len()];
            Device {
                name: format!("device-{i:04}"),
                target: target(*port, community),
            }
        })
        .collect();
    let t0 = Instant::now();
    let cycle = big.cycle(&many, Duration::from_secs(3600)).await;
    let wall = t0.elapsed();
    let failed = cycle.devices.iter().filter(|d| d.result.is_err()).count();
    drop(cycle);
    let after = rss_mib();
    // A second cycle: the steady state (counters known, series existing).
    drop(big.cycle(&many, Duration::from_secs(3600)).await);
    let steady = rss_mib();
    let series = registry
        .gather()
        .iter()
        .map(|f| f.get_metric().len())
        .sum::<usize>();
    println!(
        "{memory_devices} devices: one cycle in {:.1} s ({failed} failed), resident memory {before:.1} → {after:.1} MiB (+{:.1} MiB, {:.1} KiB per device, {series} metric series), {steady:.1} MiB after a second cycle",
        wall.as_secs_f64(),
        after - before,
        (after - before) * 1024.0 / memory_devices as f64
    );
}
