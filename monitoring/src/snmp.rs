//! The SNMP client, behind a small trait so that the poller does not depend
//! on one library: [`AsyncSnmp`] uses the `async-snmp` crate (v2c and v3
//! USM, GETBULK walks, timeouts and retries).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use async_snmp::{Auth, AuthProtocol, Client, Oid, PrivProtocol, Retry, Value as RawValue};

use crate::Error;

/// A value read from a device, in the few shapes the poller uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// INTEGER.
    Int(i64),
    /// Counter32, Gauge32, TimeTicks, Unsigned32, Counter64.
    Unsigned(u64),
    /// Counter32 specifically: it wraps at 2³², which rates must know.
    Counter32(u32),
    /// Counter64.
    Counter64(u64),
    /// OCTET STRING and the like.
    Bytes(Vec<u8>),
    /// OBJECT IDENTIFIER, dotted.
    Oid(String),
    /// NULL, noSuchObject, noSuchInstance, endOfMibView.
    Missing,
}

impl Value {
    fn of(raw: &RawValue) -> Self {
        match raw {
            RawValue::Integer(i) => Value::Int(i64::from(*i)),
            RawValue::Counter32(c) => Value::Counter32(*c),
            RawValue::Counter64(c) => Value::Counter64(*c),
            RawValue::Gauge32(g) | RawValue::UInteger32(g) | RawValue::TimeTicks(g) => {
                Value::Unsigned(u64::from(*g))
            }
            RawValue::OctetString(b) | RawValue::Opaque(b) | RawValue::Nsap(b) => {
                Value::Bytes(b.to_vec())
            }
            RawValue::IpAddress(a) => Value::Bytes(a.to_vec()),
            RawValue::ObjectIdentifier(o) => Value::Oid(o.to_string()),
            _ => Value::Missing,
        }
    }

    /// The value as an unsigned number, whatever its integer type.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(i) => u64::try_from(*i).ok(),
            Value::Unsigned(u) | Value::Counter64(u) => Some(*u),
            Value::Counter32(c) => Some(u64::from(*c)),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            other => other.as_u64().and_then(|u| i64::try_from(u).ok()),
        }
    }

    /// The value as text (lossy UTF-8 for bytes).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Bytes(b) => Some(String::from_utf8_lossy(b).trim_end_matches('\0').to_owned()),
            Value::Oid(o) => Some(o.clone()),
            _ => None,
        }
    }
}

/// SNMPv3 authentication protocols supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V3Auth {
    Sha1,
    Sha256,
}

impl V3Auth {
    /// Reads `sha1` or `sha256` (the default when absent).
    pub fn parse(name: Option<&str>) -> Result<Self, String> {
        match name {
            Some("sha1") => Ok(V3Auth::Sha1),
            Some("sha256") | None => Ok(V3Auth::Sha256),
            Some(other) => Err(format!("auth « {other} » (sha1 or sha256)")),
        }
    }

    pub(crate) fn protocol(self) -> AuthProtocol {
        match self {
            V3Auth::Sha1 => AuthProtocol::Sha1,
            V3Auth::Sha256 => AuthProtocol::Sha256,
        }
    }
}

/// How to log in to a device. Secrets never reach `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    V2c {
        community: String,
    },
    /// USM authPriv with AES-128 privacy.
    V3 {
        user: String,
        auth: V3Auth,
        auth_key: String,
        priv_key: String,
        /// The SNMPv3 context (empty: the agent's default one).
        context: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::V2c { .. } => f.write_str("V2c { community: *** }"),
            Credentials::V3 {
                user,
                auth,
                context,
                ..
            } => write!(
                f,
                "V3 {{ user: {user:?}, auth: {auth:?}, auth_key: ***, priv_key: ***, context: {context:?} }}"
            ),
        }
    }
}

/// A device to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub address: SocketAddr,
    pub credentials: Credentials,
    /// Wait for one answer.
    pub timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
}

/// What the poller asks of an SNMP agent.
#[async_trait::async_trait]
pub trait Snmp: Send + Sync {
    /// Every (OID, value) under `oid`, in order (GETBULK).
    async fn walk(&self, oid: &str) -> Result<Vec<(String, Value)>, Error>;
    /// The values of scalar OIDs, in order (missing ones as `Missing`).
    async fn get(&self, oids: &[&str]) -> Result<Vec<Value>, Error>;
    /// Several columns of one table, each as [`Snmp::walk`] gives it. The
    /// default walks them one after the other; a client may read them
    /// side by side, several columns per request.
    async fn walk_columns(&self, columns: &[&str]) -> Result<Vec<Vec<(String, Value)>>, Error> {
        let mut out = Vec::with_capacity(columns.len());
        for c in columns {
            out.push(self.walk(c).await?);
        }
        Ok(out)
    }
}

/// Varbinds asked per GETBULK request when columns are read side by side:
/// the rows asked are this divided by the columns still being read.
pub const TABLE_VARBINDS: u32 = 60;

/// The `async-snmp` client of one device.
pub struct AsyncSnmp {
    client: Client<async_snmp::UdpHandle>,
    address: SocketAddr,
    v3: bool,
    /// The SNMPv3 context asked for (empty: the default).
    context: String,
    /// When set, walks wait this long between two requests.
    pace: Option<Duration>,
}

/// Rows asked per GETBULK request of a paced walk: small, so that each
/// request costs the agent little.
pub const PACED_REPETITIONS: u32 = 10;

impl fmt::Debug for AsyncSnmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncSnmp")
            .field("address", &self.address)
            .finish()
    }
}

fn parse_oid(oid: &str) -> Result<Oid, Error> {
    Oid::parse(oid.trim_start_matches('.'))
        .map_err(|e| Error::Invalid(format!("OID « {oid} » : {e}")))
}

impl AsyncSnmp {
    /// Opens a session (no packet is sent until the first request).
    pub async fn connect(target: &Target) -> Result<Self, Error> {
        let auth: Auth = match &target.credentials {
            Credentials::V2c { community } => Auth::v2c(community.clone()),
            Credentials::V3 {
                user,
                auth,
                auth_key,
                priv_key,
                context,
            } => {
                let protocol = auth.protocol();
                async_snmp::UsmConfig::new(user.clone())
                    .auth_priv(
                        protocol,
                        auth_key.clone(),
                        PrivProtocol::Aes128,
                        priv_key.clone(),
                    )
                    .map_err(|e| Error::Invalid(format!("SNMPv3 : {e}")))?
                    .context_name(context.clone().into_bytes())
                    .into()
            }
        };
        let retry = Retry::fixed(target.retries, Duration::ZERO)
            .map_err(|e| Error::Invalid(format!("retries : {e}")))?;
        let client = Client::builder(target.address, auth)
            .request_timeout(target.timeout)
            .retry(retry)
            // An agent refuses a wrong key or an unknown user with a Report
            // that RFC 3414 sends unauthenticated. Reading it turns what
            // would be a timeout into a clear "authentication failed";
            // data in an unauthenticated reply is still refused.
            .allow_unauthenticated_v3_time_correction(true)
            .connect()
            .await
            .map_err(|e| {
                let (fault, reason) = describe(&e);
                Error::Device {
                    address: target.address,
                    reason,
                    fault,
                }
            })?;
        Ok(Self {
            client,
            address: target.address,
            v3: matches!(target.credentials, Credentials::V3 { .. }),
            context: match &target.credentials {
                Credentials::V3 { context, .. } => context.clone(),
                Credentials::V2c { .. } => String::new(),
            },
            pace: None,
        })
    }

    /// Walks of this session wait `pause` between two requests, and ask
    /// for few rows at a time (a zero pause leaves walks unpaced). Per-ONT
    /// tables read at full speed are known to destabilise real OLTs.
    pub fn paced(mut self, pause: Duration) -> Self {
        self.pace = (!pause.is_zero()).then_some(pause);
        self
    }

    /// Columns read side by side: each GETBULK asks for the next rows of
    /// every column not finished yet, so a table of `n` columns costs the
    /// agent about `n` times fewer requests than `n` walks. The answer is
    /// row-major (RFC 3416 §4.2.3): varbind `k` belongs to the `k mod m`-th
    /// of the `m` columns asked.
    async fn table_walk(&self, roots: &[Oid]) -> Result<Vec<Vec<(String, Value)>>, Error> {
        let mut out: Vec<Vec<(String, Value)>> = vec![Vec::new(); roots.len()];
        let mut next: Vec<Option<Oid>> = roots.iter().cloned().map(Some).collect();
        loop {
            let active: Vec<usize> = (0..roots.len()).filter(|&i| next[i].is_some()).collect();
            if active.is_empty() {
                return Ok(out);
            }
            let asked: Vec<Oid> = active.iter().filter_map(|&i| next[i].clone()).collect();
            let rows = (TABLE_VARBINDS / u32::try_from(active.len()).unwrap_or(u32::MAX)).max(1);
            let page = self
                .client
                .get_bulk(&asked, 0, rows)
                .await
                .map_err(|e| self.failed(e))?;
            if page.is_empty() {
                return Ok(out);
            }
            // Each answer moves or ends at least its first column, so the
            // walk ends even when an agent truncates its answers.
            for (k, vb) in page.into_iter().enumerate() {
                let i = active[k % active.len()];
                let Some(previous) = &next[i] else {
                    // This column ended earlier in the page.
                    continue;
                };
                if vb.value.is_exception() || !vb.oid.starts_with(&roots[i]) {
                    next[i] = None;
                    continue;
                }
                // An agent answering an OID not after the one asked would
                // make the walk loop forever.
                if vb.oid <= *previous {
                    return Err(Error::Device {
                        address: self.address,
                        fault: crate::Fault::Other,
                        reason: format!(
                            "l'agent renvoie des OID qui ne progressent pas ({})",
                            vb.oid
                        ),
                    });
                }
                out[i].push((vb.oid.to_string(), Value::of(&vb.value)));
                next[i] = Some(vb.oid);
            }
        }
    }

    /// A walk by GETBULK requests sent one at a time, `pause` apart.
    async fn paced_walk(&self, root: Oid, pause: Duration) -> Result<Vec<(String, Value)>, Error> {
        let mut out = Vec::new();
        let mut next = root.clone();
        loop {
            let page = self
                .client
                .get_bulk(std::slice::from_ref(&next), 0, PACED_REPETITIONS)
                .await
                .map_err(|e| self.failed(e))?;
            if page.is_empty() {
                return Ok(out);
            }
            for vb in page {
                if vb.value.is_exception() || !vb.oid.starts_with(&root) {
                    return Ok(out);
                }
                // An agent answering an OID not after the one asked would
                // make the walk loop forever.
                if vb.oid <= next {
                    return Err(Error::Device {
                        address: self.address,
                        fault: crate::Fault::Other,
                        reason: format!(
                            "l'agent renvoie des OID qui ne progressent pas ({})",
                            vb.oid
                        ),
                    });
                }
                next = vb.oid.clone();
                out.push((vb.oid.to_string(), Value::of(&vb.value)));
            }
            tokio::time::sleep(pause).await;
        }
    }

    fn failed(&self, e: impl Into<Box<async_snmp::Error>>) -> Error {
        let e = e.into();
        let (mut fault, mut reason) = describe(&e);
        if self.v3 && fault == crate::Fault::Silent {
            // An agent that cannot decrypt a request drops it without a
            // word (net-snmp does): silence after a successful discovery
            // (the device answered it) is most often a wrong privacy key.
            reason.push_str(" ; en SNMPv3, vérifiez aussi la clé de chiffrement");
            if !self.context.is_empty() {
                // net-snmp drops a request for a context it does not serve
                // the same way.
                reason.push_str(&format!(" et le contexte « {} »", self.context));
            }
            fault = crate::Fault::Credentials;
        }
        Error::Device {
            address: self.address,
            reason,
            fault,
        }
    }
}

/// What a technician should read of a failure, and its kind: credential
/// refusals, a closed port and silence named in French, anything else as
/// the library says it.
fn describe(e: &async_snmp::Error) -> (crate::Fault, String) {
    use crate::Fault;
    use async_snmp::v3::ReportStatus as R;
    use async_snmp::Error as E;
    let refused = |what: &str| {
        (
            Fault::Credentials,
            format!("identifiants SNMP refusés : {what}"),
        )
    };
    match e {
        E::SharedOperation { source } => describe(source),
        E::Exchange { source, .. } => describe(source),
        E::Report { status, .. } => match status.as_ref() {
            R::WrongDigest { .. } => refused("la clé d'authentification est erronée (SNMPv3)"),
            R::UnknownUserName { .. } => refused("utilisateur inconnu de l'équipement (SNMPv3)"),
            R::DecryptionError { .. } => refused("la clé de chiffrement est erronée (SNMPv3)"),
            R::UnsupportedSecurityLevel { .. } => {
                refused("niveau de sécurité SNMPv3 non pris en charge pour cet utilisateur")
            }
            other => (Fault::Other, format!("rapport SNMPv3 de l'équipement : {other}")),
        },
        E::Auth { .. } => refused("la réponse ne s'authentifie pas avec la clé SNMPv3 donnée"),
        E::Network { source, .. }
            if source.kind() == std::io::ErrorKind::ConnectionRefused =>
        {
            (
                Fault::Closed,
                "port SNMP fermé : l'équipement répond mais son agent SNMP n'écoute pas (ICMP port injoignable)".into(),
            )
        }
        E::Timeout { elapsed, retries, .. } => (
            Fault::Silent,
            format!(
                "pas de réponse (délai dépassé après {:.1} s, {retries} nouvel(s) essai(s))",
                elapsed.as_secs_f64()
            ),
        ),
        other => (Fault::Other, other.to_string()),
    }
}

#[async_trait::async_trait]
impl Snmp for AsyncSnmp {
    async fn walk(&self, oid: &str) -> Result<Vec<(String, Value)>, Error> {
        if let Some(pause) = self.pace {
            return self.paced_walk(parse_oid(oid)?, pause).await;
        }
        let stream = self
            .client
            .bulk_walk(parse_oid(oid)?, 25)
            .map_err(|e| self.failed(e))?;
        let varbinds = stream.collect().await.map_err(|e| self.failed(e))?;
        Ok(varbinds
            .into_iter()
            .map(|vb| (vb.oid.to_string(), Value::of(&vb.value)))
            .collect())
    }

    async fn walk_columns(&self, columns: &[&str]) -> Result<Vec<Vec<(String, Value)>>, Error> {
        if self.pace.is_some() {
            let mut out = Vec::with_capacity(columns.len());
            for c in columns {
                out.push(self.walk(c).await?);
            }
            return Ok(out);
        }
        let roots: Vec<Oid> = columns
            .iter()
            .map(|c| parse_oid(c))
            .collect::<Result<_, _>>()?;
        self.table_walk(&roots).await
    }

    async fn get(&self, oids: &[&str]) -> Result<Vec<Value>, Error> {
        let parsed: Vec<Oid> = oids
            .iter()
            .map(|o| parse_oid(o))
            .collect::<Result<_, _>>()?;
        let response = self
            .client
            .get_many(&parsed)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(response
            .varbinds
            .iter()
            .map(|vb| Value::of(&vb.value))
            .collect())
    }
}
