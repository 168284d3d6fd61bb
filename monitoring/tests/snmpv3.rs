//! SNMPv3 USM authPriv against net-snmp's `snmpd` on loopback: SHA-1 and
//! SHA-256 with AES-128 read the agent; a wrong key is a clear
//! authentication error, not a timeout.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use monitoring::snmp::{AsyncSnmp, Credentials, Snmp, Target, V3Auth};

fn snmpd() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/sbin/snmpd");
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
        "net-snmp's snmpd is required (apt-get install snmpd)"
    );
    eprintln!("skipped: /usr/sbin/snmpd is not installed");
    None
}

struct Agent {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Option<Agent> {
    let daemon = snmpd()?;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.path().join("snmpd.conf");
    std::fs::write(
        &conf,
        format!(
            "agentAddress udp:127.0.0.1:{port}\n\
             createUser regie256 SHA-256 \"auth-secret-2026\" AES \"priv-secret-2026\"\n\
             createUser regie1 SHA \"auth-secret-2026\" AES \"priv-secret-2026\"\n\
             rouser regie256 priv\nrouser regie1 priv\n\
             sysDescr Agent de test Régie\n"
        ),
    )
    .unwrap();
    let child = Command::new(daemon)
        .args(["-f", "-Lo", "-C", "-c"])
        .arg(&conf)
        .arg(format!(
            "--persistentDir={}",
            dir.path().join("persist").display()
        ))
        .arg("-p")
        .arg(dir.path().join("pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Some(Agent {
        child,
        port,
        _dir: dir,
    })
}

fn target(agent: &Agent, user: &str, auth: V3Auth, auth_key: &str) -> Target {
    Target {
        address: ([127, 0, 0, 1], agent.port).into(),
        credentials: Credentials::V3 {
            user: user.into(),
            auth,
            auth_key: auth_key.into(),
            priv_key: "priv-secret-2026".into(),
            context: String::new(),
        },
        timeout: Duration::from_millis(800),
        retries: 1,
    }
}

async fn sys_descr(t: &Target) -> Result<String, monitoring::Error> {
    let snmp = AsyncSnmp::connect(t).await?;
    Ok(snmp.get(&["1.3.6.1.2.1.1.1.0"]).await?[0]
        .as_text()
        .unwrap_or_default())
}

#[tokio::test]
async fn auth_priv_reads_the_agent_and_a_wrong_key_says_so() {
    let Some(agent) = start() else { return };
    // The agent is ready when it answers.
    let good = target(&agent, "regie256", V3Auth::Sha256, "auth-secret-2026");
    let mut answer = Err(monitoring::Error::Invalid("not tried".into()));
    for _ in 0..40 {
        answer = sys_descr(&good).await;
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answer.unwrap(), "Agent de test Régie");
    let sha1 = target(&agent, "regie1", V3Auth::Sha1, "auth-secret-2026");
    assert_eq!(sys_descr(&sha1).await.unwrap(), "Agent de test Régie");
    let snmp = AsyncSnmp::connect(&good).await.unwrap();
    assert!(
        snmp.walk("1.3.6.1.2.1.1").await.unwrap().len() >= 5,
        "a GETBULK walk over v3"
    );

    let wrong = target(&agent, "regie256", V3Auth::Sha256, "wrong-secret-2026");
    let e = sys_descr(&wrong).await.unwrap_err();
    // A refusal, not an outage: the alarm is a warning without impact.
    assert_eq!(e.fault(), monitoring::Fault::Credentials, "{e}");
    let e = e.to_string();
    assert!(e.contains("identifiants SNMP refusés"), "{e}");
    assert!(
        e.contains("clé d'authentification est erronée"),
        "a wrong key is named as such: {e}"
    );
    let unknown = target(&agent, "personne", V3Auth::Sha256, "auth-secret-2026");
    let e = sys_descr(&unknown).await.unwrap_err();
    assert_eq!(e.fault(), monitoring::Fault::Credentials, "{e}");
    let e = e.to_string();
    assert!(
        e.contains("utilisateur inconnu"),
        "an unknown user is named as such: {e}"
    );
    // A context the agent does not serve: the request carries it, and the
    // agent's refusal is named.
    let mut other_context = good.clone();
    if let Credentials::V3 { context, .. } = &mut other_context.credentials {
        *context = "vlan100".into();
    }
    let e = sys_descr(&other_context).await.unwrap_err();
    assert_eq!(e.fault(), monitoring::Fault::Credentials, "{e}");
    assert!(e.to_string().contains("contexte « vlan100 »"), "{e}");
    // A wrong privacy key.
    let mut bad_priv = good.clone();
    if let Credentials::V3 { priv_key, .. } = &mut bad_priv.credentials {
        *priv_key = "autre-secret-2026".into();
    }
    let e = sys_descr(&bad_priv).await.unwrap_err();
    assert_eq!(e.fault(), monitoring::Fault::Credentials, "{e}");
    let e = e.to_string();
    // The agent drops what it cannot decrypt without a word (net-snmp's own
    // client reports a timeout too): the message says what to check.
    assert!(
        e.contains("vérifiez aussi la clé de chiffrement"),
        "a wrong privacy key is hinted: {e}"
    );
    // Credentials never reach Debug output.
    let shown = format!("{good:?}");
    assert!(
        !shown.contains("auth-secret") && !shown.contains("priv-secret"),
        "{shown}"
    );
}
