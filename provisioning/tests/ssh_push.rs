//! The Huawei driver's SSH path against a real OpenSSH server on loopback:
//! a forced command plays the OLT's CLI and records every line it gets.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use provisioning::driver::huawei::{cli, Huawei, SshAuth, SshTarget, SshTransport};
use provisioning::driver::{DriverError, OltDriver, OntLocation, OntSpec, ServiceSpec};
use provisioning::ids::OntSerial;

/// The OpenSSH server, or `None` to skip where it is not installed (CI
/// sets `REGIE_REQUIRE_PEERS=1`, and there a missing peer fails).
fn sshd() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/sbin/sshd");
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
        "openssh-server is required (apt-get install openssh-server)"
    );
    eprintln!("skipped: /usr/sbin/sshd is not installed");
    None
}

struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    host_key: String,
    client_key: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) -> (String, String) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen");
    (
        std::fs::read_to_string(path).unwrap(),
        std::fs::read_to_string(path.with_extension("pub"))
            .unwrap()
            .trim()
            .to_owned(),
    )
}

/// The CLI the forced command plays: a prompt after each line, the running
/// configuration on demand, and a refusal for one serial.
const CLI: &str = r#"#!/bin/sh
dir=$(dirname "$0")
printf 'Huawei Integrated Access Software (MA5800).\nMA5800-X7>'
while IFS= read -r line; do
  printf '%s\n' "$line" >> "$dir/record.txt"
  case "$line" in
    *"display current-configuration"*) cat "$dir/running.txt" ;;
    *"sn-auth 4857544300000BAD"*) printf '  Failure: SN already exists\n' ;;
    *"display ont info 0 1 3 12"*) printf '  Run state               : online\n  ONT distance(m)         : 1840\n' ;;
    *"display ont optical-info 3 12"*) printf '  Rx optical power(dBm)                  : -21.07\n  Tx optical power(dBm)                  : 2.15\n' ;;
  esac
  printf 'MA5800-X7#'
done
"#;

fn start() -> Option<Server> {
    let sshd = sshd()?;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, host_pub) = keygen(&d.join("host_key"));
    let (client_key, client_pub) = keygen(&d.join("client_key"));
    let cli = d.join("cli.sh");
    std::fs::write(&cli, CLI).unwrap();
    Command::new("chmod").arg("755").arg(&cli).status().unwrap();
    std::fs::write(d.join("running.txt"), "#\n").unwrap();
    std::fs::write(
        d.join("authorized_keys"),
        format!(
            "command=\"{}\",no-pty,no-port-forwarding {client_pub}\n",
            cli.display()
        ),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        d.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nLogLevel ERROR\n",
            d.join("host_key").display(),
            d.join("authorized_keys").display(),
            d.join("sshd.pid").display(),
        ),
    )
    .unwrap();
    // sshd run by root wants its privilege-separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let child = Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // Ready means answering with its SSH banner, not only accepting.
    for _ in 0..200 {
        if banner(port) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Server {
        child,
        port,
        dir,
        host_key: host_pub,
        client_key,
    })
}

/// Whether an SSH server answers on `port` with its identification line.
fn banner(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4];
    stream.read_exact(&mut buf).is_ok() && &buf == b"SSH-"
}

fn target(s: &Server, host_key: &str) -> SshTarget {
    SshTarget {
        olt: "OLT-SSH".into(),
        host: "127.0.0.1".into(),
        port: s.port,
        username: whoami(),
        auth: SshAuth::Key(s.client_key.clone()),
        host_key: host_key.to_owned(),
        command_timeout: Duration::from_secs(5),
    }
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn at() -> OntLocation {
    OntLocation {
        frame: 0,
        slot: 1,
        port: 3,
        ont_id: 12,
    }
}

fn spec(serial: &str) -> OntSpec {
    OntSpec {
        location: at(),
        serial: OntSerial::parse(serial).unwrap(),
        line_profile: 10,
        service_profile: 10,
        description: "RGE-7K2M-9QXD".into(),
    }
}

#[tokio::test]
async fn the_driver_pushes_its_cli_over_ssh_and_reads_the_olt_back() {
    let Some(server) = start() else { return };
    let olt = Huawei::new(Arc::new(SshTransport::new(target(
        &server,
        &server.host_key,
    ))));
    let service = ServiceSpec {
        location: at(),
        svlan: 101,
        cvlan: 14,
        gemport: 1,
        user_vlan: 100,
        traffic_table: 10,
    };
    olt.provision_ont(&spec("HWTC1A2B3C4D")).await.unwrap();
    olt.create_service(&service).await.unwrap();
    let record = std::fs::read_to_string(server.dir.path().join("record.txt")).unwrap();
    let expected = [
        cli::provision_ont(&spec("HWTC1A2B3C4D")),
        cli::create_service(&service),
    ]
    .concat();
    assert_eq!(
        record.lines().collect::<Vec<_>>(),
        expected,
        "the OLT received exactly the rendered CLI"
    );

    // What the OLT holds is read back from its running configuration.
    std::fs::write(
        server.dir.path().join("running.txt"),
        format!(
            " interface gpon 0/1\n  {}\n quit\n {}\n",
            cli::provision_ont(&spec("HWTC1A2B3C4D"))[3],
            cli::service_port_line(&service)
        ),
    )
    .unwrap();
    let config = olt.list_config().await.unwrap();
    assert_eq!(config.len(), 1);
    assert_eq!(config[0].services, vec![(101, 14)]);
    let status = olt.ont_status(&at()).await.unwrap();
    assert_eq!(
        (status.online, status.rx_cdbm, status.distance_m),
        (true, Some(-2107), Some(1840))
    );

    // A command the OLT refuses stops the session with the OLT's words.
    let e = olt.provision_ont(&spec("HWTC00000BAD")).await.unwrap_err();
    match e {
        DriverError::Refused { reason, .. } => {
            assert!(reason.contains("Failure: SN already exists"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_with_another_host_key_is_refused() {
    let Some(server) = start() else { return };
    let (_, other) = keygen(&server.dir.path().join("other_key"));
    let olt = Huawei::new(Arc::new(SshTransport::new(target(&server, &other))));
    let e = olt.list_config().await.unwrap_err();
    assert!(
        matches!(&e, DriverError::Unreachable { reason, .. } if reason.contains("clé d'hôte")),
        "{e:?}"
    );
    assert!(
        !server.dir.path().join("record.txt").exists(),
        "nothing was sent"
    );
}
