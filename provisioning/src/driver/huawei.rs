//! Huawei MA5800-family OLTs: each driver call as the CLI sequence an
//! operator would type, pushed over SSH, each command's reply checked.
//!
//! Rendering ([`cli`]) is pure and snapshot-tested; the [`Transport`] runs
//! a batch of commands in one CLI session and answers each reply, so that
//! the driver can be tested without an OLT. [`SshTransport`] is the real
//! one (russh); what the OLT holds is read back from its running
//! configuration, whose `ont add` and `service-port` lines are the very
//! syntax this driver writes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::PublicKeyBase64;

use super::{
    ConfiguredOnt, DiscoveredOnt, DriverError, OltDriver, OntLocation, OntSpec, OntStatus,
    ServiceSpec,
};
use crate::ids::OntSerial;

/// The CLI text of each operation.
pub mod cli {
    use super::*;

    fn enter(at: &OntLocation) -> Vec<String> {
        vec![
            "enable".into(),
            "config".into(),
            format!("interface gpon {}/{}", at.frame, at.slot),
        ]
    }

    fn leave() -> Vec<String> {
        vec!["quit".into(), "quit".into()]
    }

    /// The serial as the OLT's `sn-auth` wants it: the vendor code in hex
    /// and the eight hex digits (`48575443` + `1A2B3C4D`).
    pub fn serial_hex(serial: &OntSerial) -> String {
        let (vendor, rest) = serial.as_str().split_at(4);
        let mut out: String = vendor.bytes().map(|b| format!("{b:02X}")).collect();
        out.push_str(rest);
        out
    }

    /// Quotes free text for the CLI: no quotes or line breaks inside.
    fn quoted(text: &str) -> String {
        let clean: String = text
            .chars()
            .filter(|c| *c != '"' && !c.is_control())
            .take(64)
            .collect();
        format!("\"{clean}\"")
    }

    pub fn provision_ont(ont: &OntSpec) -> Vec<String> {
        let at = &ont.location;
        let mut c = enter(at);
        c.push(format!(
            "ont add {} {} sn-auth {} omci ont-lineprofile-id {} ont-srvprofile-id {} desc {}",
            at.port,
            at.ont_id,
            serial_hex(&ont.serial),
            ont.line_profile,
            ont.service_profile,
            quoted(&ont.description)
        ));
        c.extend(leave());
        c
    }

    /// The service port: the S-VLAN outside, the line's C-VLAN inside,
    /// translated from the ONT's user VLAN.
    pub fn create_service(s: &ServiceSpec) -> Vec<String> {
        vec![
            "enable".into(),
            "config".into(),
            service_port_line(s),
            "quit".into(),
        ]
    }

    pub fn service_port_line(s: &ServiceSpec) -> String {
        let at = &s.location;
        format!(
            "service-port vlan {} gpon {}/{}/{} ont {} gemport {} multi-service user-vlan {} tag-transform translate-and-add inner-vlan {} inbound traffic-table index {} outbound traffic-table index {}",
            s.svlan, at.frame, at.slot, at.port, at.ont_id, s.gemport, s.user_vlan, s.cvlan, s.traffic_table, s.traffic_table
        )
    }

    pub fn set_admin_state(at: &OntLocation, up: bool) -> Vec<String> {
        let mut c = enter(at);
        c.push(format!(
            "ont {} {} {}",
            if up { "activate" } else { "deactivate" },
            at.port,
            at.ont_id
        ));
        c.extend(leave());
        c
    }

    pub fn remove_service(at: &OntLocation) -> Vec<String> {
        vec![
            "enable".into(),
            "config".into(),
            format!(
                "undo service-port port {}/{}/{} ont {}",
                at.frame, at.slot, at.port, at.ont_id
            ),
            "quit".into(),
        ]
    }

    pub fn delete_ont(at: &OntLocation) -> Vec<String> {
        let mut c = enter(at);
        c.push(format!("ont delete {} {}", at.port, at.ont_id));
        c.extend(leave());
        c
    }

    pub fn ont_status(at: &OntLocation) -> Vec<String> {
        vec![
            "enable".into(),
            format!(
                "display ont info {} {} {} {}",
                at.frame, at.slot, at.port, at.ont_id
            ),
            "config".into(),
            format!("interface gpon {}/{}", at.frame, at.slot),
            format!("display ont optical-info {} {}", at.port, at.ont_id),
            "quit".into(),
            "quit".into(),
        ]
    }

    pub fn discover() -> Vec<String> {
        vec!["enable".into(), "display ont autofind all".into()]
    }

    pub fn running_config() -> Vec<String> {
        vec![
            "enable".into(),
            "scroll 512".into(),
            "display current-configuration".into(),
        ]
    }

    /// The OLT's refusal in a command's reply, if any.
    pub fn refusal(reply: &str) -> Option<String> {
        reply
            .lines()
            .map(str::trim)
            .find(|l| {
                l.starts_with("% ")
                    || l.starts_with("Failure:")
                    || l.starts_with("Error:")
                    || l.contains("Unknown command")
                    || l.contains("Parameter error")
            })
            .map(str::to_owned)
    }

    fn after_colon(line: &str) -> Option<&str> {
        line.split_once(':').map(|(_, v)| v.trim())
    }

    /// Reads a serial as the OLT prints it: `48575443A1B2C3D4`, possibly
    /// quoted or followed by `(HWTC-A1B2C3D4)`.
    fn serial_in(text: &str) -> Option<OntSerial> {
        let word = text.split_whitespace().next()?.trim_matches('"');
        OntSerial::parse(word).ok()
    }

    /// ONTs found but not declared (`display ont autofind all`).
    pub fn parse_autofind(text: &str) -> Vec<DiscoveredOnt> {
        let mut out = Vec::new();
        let mut fsp: Option<(u32, u32, u32)> = None;
        for line in text.lines().map(str::trim) {
            if line.starts_with("F/S/P") {
                fsp = after_colon(line).and_then(parse_fsp);
            } else if line.starts_with("Ont SN") {
                if let (Some((frame, slot, port)), Some(serial)) =
                    (fsp, after_colon(line).and_then(serial_in))
                {
                    out.push(DiscoveredOnt {
                        frame,
                        slot,
                        port,
                        serial,
                    });
                }
            }
        }
        out
    }

    fn parse_fsp(s: &str) -> Option<(u32, u32, u32)> {
        let mut it = s.split('/').map(|p| p.trim().parse::<u32>());
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some(Ok(f)), Some(Ok(s)), Some(Ok(p)), None) => Some((f, s, p)),
            _ => None,
        }
    }

    /// The ONTs and service ports declared in a running configuration.
    pub fn parse_running_config(text: &str) -> Vec<ConfiguredOnt> {
        let mut onts: Vec<ConfiguredOnt> = Vec::new();
        let mut board: Option<(u32, u32)> = None;
        for line in text.lines().map(str::trim) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["interface", "gpon", fs] => {
                    board = fs
                        .split_once('/')
                        .and_then(|(f, s)| Some((f.parse().ok()?, s.parse().ok()?)));
                }
                ["quit"] | ["#"] => board = None,
                ["ont", "add", port, id, "sn-auth", sn, rest @ ..] => {
                    let (Some((frame, slot)), Ok(port), Ok(ont_id), Some(serial)) =
                        (board, port.parse(), id.parse(), serial_in(sn))
                    else {
                        continue;
                    };
                    let description = rest
                        .iter()
                        .position(|w| *w == "desc")
                        .map(|i| rest[i + 1..].join(" ").trim_matches('"').to_owned())
                        .unwrap_or_default();
                    onts.push(ConfiguredOnt {
                        location: OntLocation {
                            frame,
                            slot,
                            port,
                            ont_id,
                        },
                        serial,
                        description,
                        admin_up: true,
                        services: Vec::new(),
                    });
                }
                ["ont", "deactivate", port, id] => {
                    if let (Some((frame, slot)), Ok(port), Ok(ont_id)) =
                        (board, port.parse::<u32>(), id.parse::<u32>())
                    {
                        let at = OntLocation {
                            frame,
                            slot,
                            port,
                            ont_id,
                        };
                        if let Some(o) = onts.iter_mut().find(|o| o.location == at) {
                            o.admin_up = false;
                        }
                    }
                }
                ["service-port", rest @ ..] => {
                    let find = |key: &str| {
                        rest.iter()
                            .position(|w| *w == key)
                            .and_then(|i| rest.get(i + 1))
                    };
                    let svlan = find("vlan").and_then(|v| v.parse::<u16>().ok());
                    let cvlan = find("inner-vlan").and_then(|v| v.parse::<u16>().ok());
                    let fsp = find("gpon").and_then(|v| parse_fsp(v));
                    let id = find("ont").and_then(|v| v.parse::<u32>().ok());
                    if let (Some(svlan), Some((frame, slot, port)), Some(ont_id)) = (svlan, fsp, id)
                    {
                        let at = OntLocation {
                            frame,
                            slot,
                            port,
                            ont_id,
                        };
                        if let Some(o) = onts.iter_mut().find(|o| o.location == at) {
                            o.services.push((svlan, cvlan.unwrap_or(0)));
                        }
                    }
                }
                _ => {}
            }
        }
        onts
    }

    /// An ONT's state, optical levels and distance from `display ont info`
    /// and `display ont optical-info`.
    pub fn parse_status(info: &str, optical: &str) -> OntStatus {
        let field = |text: &str, name: &str| -> Option<String> {
            text.lines()
                .map(str::trim)
                .find(|l| l.starts_with(name))
                .and_then(after_colon)
                .map(str::to_owned)
        };
        let cdbm = |v: Option<String>| -> Option<i32> {
            let v: f64 = v?.split_whitespace().next()?.parse().ok()?;
            Some((v * 100.0).round() as i32)
        };
        OntStatus {
            online: field(info, "Run state").is_some_and(|s| s.starts_with("online")),
            rx_cdbm: cdbm(field(optical, "Rx optical power(dBm)")),
            tx_cdbm: cdbm(field(optical, "Tx optical power(dBm)")),
            distance_m: field(info, "ONT distance(m)").and_then(|d| d.parse().ok()),
        }
    }
}

/// Runs CLI sessions on one OLT.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Runs `commands` in order in one session; answers each reply. Stops
    /// at the first command the OLT refuses.
    async fn run(&self, commands: &[String]) -> Result<Vec<String>, DriverError>;
}

/// How the driver logs in.
#[derive(Clone)]
pub enum SshAuth {
    Password(String),
    /// An OpenSSH private key (PEM text).
    Key(String),
}

impl fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets never reach logs or Debug output.
        match self {
            SshAuth::Password(_) => f.write_str("Password(***)"),
            SshAuth::Key(_) => f.write_str("Key(***)"),
        }
    }
}

/// Where an OLT's CLI answers.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// The OLT's code in the inventory, for messages.
    pub olt: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub auth: SshAuth,
    /// The OLT's host key, as in `known_hosts` (`ssh-ed25519 AAAA…`): a
    /// server presenting another key is refused.
    pub host_key: String,
    /// Longest wait for one command's reply.
    pub command_timeout: Duration,
}

/// The CLI over SSH.
#[derive(Debug, Clone)]
pub struct SshTransport {
    target: Arc<SshTarget>,
}

impl SshTransport {
    pub fn new(target: SshTarget) -> Self {
        Self {
            target: Arc::new(target),
        }
    }
}

struct HostKeyCheck {
    expected: String,
}

impl russh::client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::ssh_key::PublicKey,
    ) -> Result<bool, Self::Error> {
        Ok(key.public_key_base64() == self.expected)
    }
}

/// Whether the CLI has finished answering: its output ends with a prompt
/// (`MA5800-X7>`, `MA5800-X7#`, `MA5800-X7(config)#`) or with a question
/// for more input (`{ <cr>|… }:`).
fn at_prompt(output: &str) -> Option<bool> {
    let tail = output.trim_end_matches([' ', '\r', '\n']);
    let last = tail.lines().last().unwrap_or("");
    if last.ends_with("}:") {
        return Some(false);
    }
    (last.ends_with('#') || last.ends_with('>')).then_some(true)
}

impl SshTransport {
    fn unreachable(&self, reason: impl fmt::Display) -> DriverError {
        DriverError::Unreachable {
            olt: self.target.olt.clone(),
            reason: reason.to_string(),
        }
    }

    async fn session(&self, commands: &[String]) -> Result<Vec<String>, DriverError> {
        let t = &self.target;
        let expected = t
            .host_key
            .split_whitespace()
            .nth(1)
            .ok_or_else(|| {
                self.unreachable("clé d'hôte SSH mal configurée (attendu : « type base64 »)")
            })?
            .to_owned();
        let config = Arc::new(russh::client::Config {
            inactivity_timeout: Some(t.command_timeout * 4),
            ..Default::default()
        });
        // A management plane that drops a connection (reset while it is
        // busy, a rate limit on new sessions) gets a second try after a
        // pause; a wrong host key never does.
        let mut tries = 0;
        let mut handle = loop {
            tries += 1;
            let attempt = russh::client::connect(
                config.clone(),
                (t.host.as_str(), t.port),
                HostKeyCheck {
                    expected: expected.clone(),
                },
            )
            .await;
            match attempt {
                Ok(h) => break h,
                Err(russh::Error::UnknownKey) => {
                    return Err(self.unreachable("clé d'hôte SSH inattendue : connexion refusée"))
                }
                Err(russh::Error::IO(e)) if tries < 2 => {
                    tracing::warn!(olt = %t.olt, error = %e, "SSH connection failed, retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Err(e) => return Err(self.unreachable(e)),
            }
        };
        let auth = match &t.auth {
            SshAuth::Password(p) => handle.authenticate_password(&t.username, p).await,
            SshAuth::Key(pem) => {
                let key = russh::keys::decode_secret_key(pem, None)
                    .map_err(|e| self.unreachable(format!("clé SSH illisible : {e}")))?;
                let hash = handle
                    .best_supported_rsa_hash()
                    .await
                    .map_err(|e| self.unreachable(e))?
                    .flatten();
                handle
                    .authenticate_publickey(
                        &t.username,
                        russh::keys::PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                    )
                    .await
            }
        }
        .map_err(|e| self.unreachable(e))?;
        if !auth.success() {
            return Err(
                self.unreachable(format!("authentification SSH refusée pour {}", t.username))
            );
        }
        let mut channel = handle
            .channel_open_session()
            .await
            .map_err(|e| self.unreachable(e))?;
        channel
            .request_shell(true)
            .await
            .map_err(|e| self.unreachable(e))?;
        let mut output = String::new();
        // The banner, up to the first prompt.
        self.read_until_prompt(&mut channel, &mut output).await?;
        let mut replies = Vec::new();
        for command in commands {
            output.clear();
            channel
                .data(format!("{command}\n").as_bytes())
                .await
                .map_err(|e| self.unreachable(e))?;
            loop {
                let done = self.read_until_prompt(&mut channel, &mut output).await?;
                if done {
                    break;
                }
                // A question for more parameters: accept the defaults.
                channel
                    .data(&b"\n"[..])
                    .await
                    .map_err(|e| self.unreachable(e))?;
            }
            if let Some(refusal) = cli::refusal(&output) {
                let _ = channel.eof().await;
                return Err(DriverError::Refused {
                    olt: t.olt.clone(),
                    reason: format!("« {command} » : {refusal}"),
                });
            }
            replies.push(std::mem::take(&mut output));
        }
        let _ = channel.eof().await;
        let _ = handle
            .disconnect(russh::Disconnect::ByApplication, "", "fr")
            .await;
        Ok(replies)
    }

    /// Reads until a prompt (true) or a question (false).
    async fn read_until_prompt(
        &self,
        channel: &mut russh::Channel<russh::client::Msg>,
        output: &mut String,
    ) -> Result<bool, DriverError> {
        loop {
            if let Some(done) = at_prompt(output) {
                return Ok(done);
            }
            let msg = tokio::time::timeout(self.target.command_timeout, channel.wait())
                .await
                .map_err(|_| DriverError::Timeout {
                    olt: self.target.olt.clone(),
                })?;
            match msg {
                Some(russh::ChannelMsg::Data { data })
                | Some(russh::ChannelMsg::ExtendedData { data, .. }) => {
                    output.push_str(&String::from_utf8_lossy(&data));
                }
                Some(russh::ChannelMsg::Eof | russh::ChannelMsg::Close) | None => {
                    return Err(self.unreachable("la session CLI s'est fermée avant l'invite"));
                }
                Some(_) => {}
            }
        }
    }
}

#[async_trait::async_trait]
impl Transport for SshTransport {
    async fn run(&self, commands: &[String]) -> Result<Vec<String>, DriverError> {
        tracing::debug!(olt = %self.target.olt, commands = commands.len(), "OLT CLI session");
        self.session(commands).await
    }
}

/// A Huawei MA5800-family OLT.
#[derive(Debug, Clone)]
pub struct Huawei {
    transport: Arc<dyn Transport>,
}

impl Huawei {
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Self { transport }
    }

    async fn reply_of(&self, commands: Vec<String>, index: usize) -> Result<String, DriverError> {
        let mut replies = self.transport.run(&commands).await?;
        Ok(if index < replies.len() {
            replies.swap_remove(index)
        } else {
            String::new()
        })
    }
}

#[async_trait::async_trait]
impl OltDriver for Huawei {
    async fn discover(&self) -> Result<Vec<DiscoveredOnt>, DriverError> {
        Ok(cli::parse_autofind(
            &self.reply_of(cli::discover(), 1).await?,
        ))
    }

    async fn provision_ont(&self, ont: &OntSpec) -> Result<(), DriverError> {
        self.transport.run(&cli::provision_ont(ont)).await.map(drop)
    }

    async fn create_service(&self, service: &ServiceSpec) -> Result<(), DriverError> {
        self.transport
            .run(&cli::create_service(service))
            .await
            .map(drop)
    }

    async fn set_admin_state(&self, at: &OntLocation, up: bool) -> Result<(), DriverError> {
        self.transport
            .run(&cli::set_admin_state(at, up))
            .await
            .map(drop)
    }

    async fn remove_service(&self, at: &OntLocation) -> Result<(), DriverError> {
        self.transport.run(&cli::remove_service(at)).await.map(drop)
    }

    async fn delete_ont(&self, at: &OntLocation) -> Result<(), DriverError> {
        self.transport.run(&cli::delete_ont(at)).await.map(drop)
    }

    async fn ont_status(&self, at: &OntLocation) -> Result<OntStatus, DriverError> {
        let replies = self.transport.run(&cli::ont_status(at)).await?;
        let info = replies.get(1).map(String::as_str).unwrap_or("");
        let optical = replies.get(4).map(String::as_str).unwrap_or("");
        Ok(cli::parse_status(info, optical))
    }

    async fn ont_config(&self, at: &OntLocation) -> Result<Option<ConfiguredOnt>, DriverError> {
        Ok(self
            .list_config()
            .await?
            .into_iter()
            .find(|o| o.location == *at))
    }

    async fn list_config(&self) -> Result<Vec<ConfiguredOnt>, DriverError> {
        Ok(cli::parse_running_config(
            &self.reply_of(cli::running_config(), 2).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn at() -> OntLocation {
        OntLocation {
            frame: 0,
            slot: 1,
            port: 3,
            ont_id: 12,
        }
    }

    fn ont() -> OntSpec {
        OntSpec {
            location: at(),
            serial: OntSerial::parse("HWTC1A2B3C4D").unwrap(),
            line_profile: 10,
            service_profile: 10,
            description: "RGE-7K2M-9QXD".into(),
        }
    }

    fn service() -> ServiceSpec {
        ServiceSpec {
            location: at(),
            svlan: 101,
            cvlan: 14,
            gemport: 1,
            user_vlan: 100,
            traffic_table: 10,
        }
    }

    #[test]
    fn cli_sequences() {
        let all = [
            ("provision_ont", cli::provision_ont(&ont())),
            ("create_service", cli::create_service(&service())),
            ("deactivate", cli::set_admin_state(&at(), false)),
            ("activate", cli::set_admin_state(&at(), true)),
            ("remove_service", cli::remove_service(&at())),
            ("delete_ont", cli::delete_ont(&at())),
            ("ont_status", cli::ont_status(&at())),
            ("discover", cli::discover()),
            ("running_config", cli::running_config()),
        ];
        let text: String = all
            .iter()
            .map(|(name, lines)| format!("## {name}\n{}\n", lines.join("\n")))
            .collect();
        insta::assert_snapshot!(text);
    }

    #[test]
    fn descriptions_cannot_break_the_command() {
        let mut o = ont();
        o.description = "a\"b\nundo everything".into();
        let line = &cli::provision_ont(&o)[3];
        assert!(line.ends_with("desc \"abundo everything\""), "{line}");
    }

    #[test]
    fn refusals_are_found_in_replies() {
        assert_eq!(
            cli::refusal("  Failure: SN already exists\nMA5800#"),
            Some("Failure: SN already exists".into())
        );
        assert!(cli::refusal("% Unknown command, the error locates at '^'").is_some());
        assert_eq!(
            cli::refusal("  Number of ONTs that can be added: 1, success: 1\n"),
            None
        );
    }

    #[test]
    fn running_configuration_round_trips_what_the_driver_writes() {
        let config = format!(
            "#\n interface gpon 0/1\n  {}\n  ont add 3 13 sn-auth \"414C434C00000001\" omci ont-lineprofile-id 10 ont-srvprofile-id 10 desc \"stray\"\n  ont deactivate 3 13\n quit\n {}\n#\n",
            cli::provision_ont(&ont())[3],
            cli::service_port_line(&service()),
        );
        let onts = cli::parse_running_config(&config);
        assert_eq!(onts.len(), 2);
        assert_eq!(onts[0].location, at());
        assert_eq!(onts[0].serial.as_str(), "HWTC1A2B3C4D");
        assert_eq!(onts[0].description, "RGE-7K2M-9QXD");
        assert_eq!(onts[0].services, vec![(101, 14)]);
        assert!(onts[0].admin_up);
        assert_eq!(onts[1].serial.as_str(), "ALCL00000001");
        assert!(!onts[1].admin_up);
    }

    #[test]
    fn autofind_and_status_are_read() {
        let autofind = "   ----------------------------------------------------------------------------\n   Number              : 1\n   F/S/P               : 0/1/3\n   Ont SN              : 48575443A1B2C3D4 (HWTC-A1B2C3D4)\n   Password            : 0x00000000000000000000\n";
        let found = cli::parse_autofind(autofind);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].slot, found[0].port), (1, 3));
        assert_eq!(found[0].serial.as_str(), "HWTCA1B2C3D4");
        let info = "  F/S/P                   : 0/1/3\n  ONT-ID                  : 12\n  Run state               : online\n  ONT distance(m)         : 2314\n";
        let optical = "  Rx optical power(dBm)                  : -19.55\n  Tx optical power(dBm)                  : 2.31\n";
        let s = cli::parse_status(info, optical);
        assert_eq!(
            s,
            OntStatus {
                online: true,
                rx_cdbm: Some(-1955),
                tx_cdbm: Some(231),
                distance_m: Some(2314)
            }
        );
    }

    /// A transport that records the commands and answers from a script.
    #[derive(Debug, Default)]
    struct Recorder {
        sent: Mutex<Vec<String>>,
        running: String,
    }

    #[async_trait::async_trait]
    impl Transport for Recorder {
        async fn run(&self, commands: &[String]) -> Result<Vec<String>, DriverError> {
            self.sent.lock().unwrap().extend(commands.iter().cloned());
            Ok(commands
                .iter()
                .map(|c| {
                    if c == "display current-configuration" {
                        self.running.clone()
                    } else {
                        String::new()
                    }
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn driver_calls_send_the_rendered_sequences() {
        let rec = Arc::new(Recorder {
            running: format!(
                " interface gpon 0/1\n  {}\n quit\n",
                cli::provision_ont(&ont())[3]
            ),
            ..Recorder::default()
        });
        let olt = Huawei::new(rec.clone());
        olt.provision_ont(&ont()).await.unwrap();
        olt.create_service(&service()).await.unwrap();
        assert_eq!(
            rec.sent.lock().unwrap().clone(),
            [cli::provision_ont(&ont()), cli::create_service(&service())].concat()
        );
        let found = olt.ont_config(&at()).await.unwrap().expect("declared");
        assert_eq!(found.serial.as_str(), "HWTC1A2B3C4D");
    }
}
