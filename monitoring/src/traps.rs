//! The trap listener: v2c and v3 traps and informs (UDP, port 1162 by
//! default so that it runs unprivileged), classified into the events the
//! alarms use. Unknown traps are counted and logged, never dropped
//! silently.

use std::fmt;
use std::net::SocketAddr;

use async_snmp::notification::{
    oids, NotificationAcceptance, NotificationEnvelope, NotificationReceiver,
};
use async_snmp::{AuthoritativeEngine, PrivProtocol, SecurityLevel};
use prometheus::{IntCounterVec, Opts, Registry};
use serde::Serialize;

use crate::snmp::V3Auth;
use crate::Error;

const IF_INDEX: &str = "1.3.6.1.2.1.2.2.1.1";
const IF_NAME: &str = "1.3.6.1.2.1.31.1.1.1.1";

/// What a trap means for the alarms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    LinkDown {
        if_index: Option<u32>,
        /// ifName, when the trap carries it.
        if_name: Option<String>,
    },
    LinkUp {
        if_index: Option<u32>,
        if_name: Option<String>,
    },
    ColdStart,
    WarmStart,
    /// An ONT stopped sending (loss of signal, dying gasp), as the
    /// vendor profile named lists its traps.
    OntDown {
        profile: String,
        oid: String,
    },
    Unknown {
        oid: String,
    },
}

impl Event {
    pub fn label(&self) -> &'static str {
        match self {
            Event::LinkDown { .. } => "link_down",
            Event::LinkUp { .. } => "link_up",
            Event::ColdStart => "cold_start",
            Event::WarmStart => "warm_start",
            Event::OntDown { .. } => "ont_down",
            Event::Unknown { .. } => "unknown",
        }
    }
}

/// One trap or inform received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trap {
    pub source: SocketAddr,
    pub version: String,
    pub event: Event,
}

/// An SNMPv3 user allowed to send traps (authPriv, AES-128).
#[derive(Clone)]
pub struct TrapUser {
    pub user: String,
    pub auth: V3Auth,
    pub auth_key: String,
    pub priv_key: String,
}

impl fmt::Debug for TrapUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TrapUser {{ user: {:?}, auth: {:?}, keys: *** }}",
            self.user, self.auth
        )
    }
}

/// How the listener is set up.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    pub bind: SocketAddr,
    /// v2c communities accepted; empty: any.
    pub communities: Vec<String>,
    pub users: Vec<TrapUser>,
    /// The listener's own SNMPv3 engine id (informs are sent to it).
    pub engine_id: Vec<u8>,
    /// Trap OID prefixes meaning an ONT stopped sending, with the vendor
    /// profile naming each ([`crate::profiles::Profiles::ont_down_traps`]).
    pub ont_down: Vec<(crate::profiles::Oid, String)>,
}

/// Counters of traps received.
#[derive(Debug, Clone)]
pub struct TrapMetrics {
    received: IntCounterVec,
}

impl TrapMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let received = IntCounterVec::new(
            Opts::new(
                "snmp_traps_total",
                "Traps and informs received, by kind (unknown ones included)",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(received.clone()))?;
        Ok(Self { received })
    }

    /// The names of the metrics (without the registry's prefix).
    pub fn names(&self) -> Vec<String> {
        use prometheus::core::Collector;
        self.received
            .desc()
            .into_iter()
            .map(|d| d.fq_name.clone())
            .collect()
    }
}

/// A listening trap receiver.
pub struct Listener {
    receiver: NotificationReceiver,
    metrics: TrapMetrics,
    ont_down: Vec<(crate::profiles::Oid, String)>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("address", &self.receiver.local_addr())
            .finish()
    }
}

fn device(e: impl fmt::Display) -> Error {
    Error::Invalid(format!("récepteur de traps : {e}"))
}

impl Listener {
    pub async fn bind(config: &ListenerConfig, metrics: TrapMetrics) -> Result<Self, Error> {
        let engine = AuthoritativeEngine::install(config.engine_id.clone(), |_| {
            Ok::<(), std::convert::Infallible>(())
        })
        .map_err(device)?;
        let mut builder = NotificationReceiver::builder()
            .bind(config.bind.to_string())
            .authoritative_engine(engine);
        for c in &config.communities {
            builder = builder.communities([c.clone()]);
        }
        for u in &config.users {
            let protocol = u.auth.protocol();
            let (auth_key, priv_key) = (
                u.auth_key.clone().into_bytes(),
                u.priv_key.clone().into_bytes(),
            );
            builder = builder
                .usm_user(u.user.clone().into_bytes(), move |user| {
                    user.auth_priv(protocol, auth_key, PrivProtocol::Aes128, priv_key)
                })
                .map_err(device)?;
        }
        // v1/v2c notifications carry no security level (the community
        // list filters them); SNMPv3 ones must be authenticated and
        // encrypted, like the users configured.
        let builder =
            builder.acceptance_policy(|n: &NotificationEnvelope<'_>| match n.security_level {
                None => NotificationAcceptance::Accept,
                Some(level) if level >= SecurityLevel::AuthPriv => NotificationAcceptance::Accept,
                Some(_) => NotificationAcceptance::Reject,
            });
        let receiver = builder.build().await.map_err(device)?;
        Ok(Self {
            receiver,
            metrics,
            ont_down: config.ont_down.clone(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.receiver.local_addr()
    }

    /// The next trap or inform (informs are acknowledged by the receiver).
    pub async fn next(&self) -> Result<Trap, Error> {
        let received = self.receiver.recv().await.map_err(device)?;
        let n = &received.notification;
        let event = match n.trap_oid() {
            Err(e) => Event::Unknown {
                oid: format!("(illisible : {e})"),
            },
            Ok(oid) => {
                let if_index = n
                    .varbinds()
                    .iter()
                    .find(|vb| vb.oid.to_string().starts_with(IF_INDEX))
                    .and_then(|vb| vb.value.as_u32());
                let if_name = n
                    .varbinds()
                    .iter()
                    .find(|vb| vb.oid.to_string().starts_with(IF_NAME))
                    .and_then(|vb| {
                        vb.value
                            .as_bytes()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                    });
                let text = oid.to_string();
                if oid == oids::link_down() {
                    Event::LinkDown { if_index, if_name }
                } else if oid == oids::link_up() {
                    Event::LinkUp { if_index, if_name }
                } else if oid == oids::cold_start() {
                    Event::ColdStart
                } else if oid == oids::warm_start() {
                    Event::WarmStart
                } else if let Some((_, profile)) =
                    self.ont_down.iter().find(|(p, _)| p.covers(&text))
                {
                    Event::OntDown {
                        profile: profile.clone(),
                        oid: text,
                    }
                } else {
                    Event::Unknown { oid: text }
                }
            }
        };
        self.metrics
            .received
            .with_label_values(&[event.label()])
            .inc();
        if let Event::Unknown { oid } = &event {
            tracing::warn!(source = %received.source, trap_oid = %oid, "unknown trap received");
        }
        Ok(Trap {
            source: received.source,
            version: format!("{:?}", n.version()),
            event,
        })
    }
}
