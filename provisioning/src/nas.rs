//! Changes of authorization sent to the BNG (RFC 5176): a CoA-Request when
//! a line's policy changes (suspended, throttled, resumed), a
//! Disconnect-Request when it is terminated.
//!
//! The database stays the truth: FreeRADIUS answers the next
//! authentication from it whatever happens here. A change the BNG did not
//! acknowledge is retried with backoff, then recorded on the line for a
//! technician to see.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc3576};
use tokio::net::UdpSocket;

/// A BNG that accepts changes of authorization.
#[derive(Clone)]
pub struct Bng {
    /// OLTs whose subscribers this BNG serves; empty: all.
    pub olts: Vec<String>,
    /// Its dynamic-authorization port (3799 by default).
    pub address: SocketAddr,
    pub secret: String,
    /// Wait for an answer to one attempt.
    pub timeout: Duration,
    /// Attempts in all.
    pub attempts: u32,
}

impl fmt::Debug for Bng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The shared secret never reaches logs or Debug output.
        f.debug_struct("Bng")
            .field("olts", &self.olts)
            .field("address", &self.address)
            .field("secret", &"***")
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl Bng {
    pub fn serves(&self, olt: &str) -> bool {
        self.olts.is_empty() || self.olts.iter().any(|o| o == olt)
    }
}

/// What to tell the BNG about a subscriber session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Apply this policy (`Filter-Id`) to the session.
    Policy(String),
    /// End the session.
    Disconnect,
}

/// Why a change was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NasError {
    #[error("pas de réponse du BNG {address} après {attempts} essai(s)")]
    NoAnswer { address: SocketAddr, attempts: u32 },
    #[error("le BNG {address} a refusé : {cause}")]
    Refused { address: SocketAddr, cause: String },
    #[error("échange avec le BNG {address} impossible : {reason}")]
    Io { address: SocketAddr, reason: String },
}

/// Sends a change for the session of `username` (the line's circuit id) and
/// waits for its acknowledgement, retrying with a doubling wait.
#[tracing::instrument(skip(bng), fields(bng = %bng.address))]
pub async fn send(bng: &Bng, username: &str, change: &Change) -> Result<(), NasError> {
    let address = bng.address;
    let io = |e: &dyn fmt::Display| NasError::Io {
        address,
        reason: e.to_string(),
    };
    let code = match change {
        Change::Policy(_) => Code::CoARequest,
        Change::Disconnect => Code::DisconnectRequest,
    };
    let bind: SocketAddr = if address.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind).await.map_err(|e| io(&e))?;
    socket.connect(address).await.map_err(|e| io(&e))?;
    let identifier: u8 = rand::random();
    let mut packet = Packet::new_with_identifier(code, bng.secret.as_bytes(), identifier);
    rfc2865::add_user_name(&mut packet, username);
    if let Change::Policy(filter) = change {
        rfc2865::add_filter_id(&mut packet, filter);
    }
    let request = packet.encode().map_err(|e| io(&e))?;
    let mut wait = bng.timeout;
    let attempts = bng.attempts.max(1);
    let mut buf = vec![0u8; 4096];
    for attempt in 1..=attempts {
        socket.send(&request).await.map_err(|e| io(&e))?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(io(&e)),
                Ok(Ok(n)) => n,
            };
            let answer = &buf[..n];
            // Anything not answering this request with our secret is
            // ignored, as RFC 5176 asks.
            if answer.len() < 20
                || answer[1] != identifier
                || !Packet::is_authentic_response(answer, &request, bng.secret.as_bytes())
            {
                continue;
            }
            let reply = Packet::decode(answer, bng.secret.as_bytes()).map_err(|e| io(&e))?;
            return match reply.get_code() {
                Code::CoAACK | Code::DisconnectACK => Ok(()),
                other => Err(NasError::Refused {
                    address,
                    cause: match rfc3576::lookup_error_cause(&reply) {
                        Some(Ok(cause)) => format!("{other:?}, Error-Cause {cause}"),
                        _ => format!("{other:?}"),
                    },
                }),
            };
        }
        tracing::warn!(attempt, "no answer from the BNG");
        wait *= 2;
    }
    Err(NasError::NoAnswer { address, attempts })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn bng_answering(code: Option<Code>) -> (Bng, tokio::task::JoinHandle<Vec<Packet>>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 4096];
            while let Ok(Ok((n, from))) =
                tokio::time::timeout(Duration::from_millis(400), socket.recv_from(&mut buf)).await
            {
                assert!(Packet::is_authentic_request(&buf[..n], b"s3cret"));
                let p = Packet::decode(&buf[..n], b"s3cret").unwrap();
                if let Some(code) = code {
                    let reply = p.make_response_packet(code).encode().unwrap();
                    socket.send_to(&reply, from).await.unwrap();
                }
                got.push(p);
            }
            got
        });
        let bng = Bng {
            olts: vec![],
            address,
            secret: "s3cret".into(),
            timeout: Duration::from_millis(50),
            attempts: 3,
        };
        (bng, task)
    }

    #[tokio::test]
    async fn a_policy_change_is_acknowledged() {
        let (bng, task) = bng_answering(Some(Code::CoAACK)).await;
        send(
            &bng,
            "OLT01:0/1/3:12",
            &Change::Policy("walled-garden".into()),
        )
        .await
        .unwrap();
        let got = task.await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].get_code(), Code::CoARequest);
        assert_eq!(
            rfc2865::lookup_user_name(&got[0]).unwrap().unwrap(),
            "OLT01:0/1/3:12"
        );
        assert_eq!(
            rfc2865::lookup_filter_id(&got[0]).unwrap().unwrap(),
            "walled-garden"
        );
    }

    #[tokio::test]
    async fn a_silent_bng_is_retried_then_reported() {
        let (bng, task) = bng_answering(None).await;
        let e = send(&bng, "x", &Change::Disconnect).await.unwrap_err();
        assert!(matches!(e, NasError::NoAnswer { attempts: 3, .. }), "{e}");
        assert!(e.to_string().contains("après 3 essai(s)"));
        assert_eq!(task.await.unwrap().len(), 3, "three attempts");
    }

    #[tokio::test]
    async fn a_nak_is_a_refusal() {
        let (bng, _task) = bng_answering(Some(Code::DisconnectNAK)).await;
        let e = send(&bng, "x", &Change::Disconnect).await.unwrap_err();
        assert!(matches!(e, NasError::Refused { .. }), "{e}");
    }

    #[test]
    fn the_secret_stays_out_of_debug() {
        let bng = Bng {
            olts: vec![],
            address: "127.0.0.1:3799".parse().unwrap(),
            secret: "s3cret".into(),
            timeout: Duration::from_secs(1),
            attempts: 1,
        };
        assert!(!format!("{bng:?}").contains("s3cret"));
    }
}
