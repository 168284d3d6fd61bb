//! Agents that answer badly: garbage, truncated BER, wrong request ids,
//! oversized datagrams, or nothing. The client must end each request with
//! an error within its deadline, never panic, and the poller must go on
//! with the other devices.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::time::{Duration, Instant};

use monitoring::snmp::{AsyncSnmp, Credentials, Snmp, Target};

/// How a bad agent answers a request.
type Answer = fn(&[u8]) -> Vec<u8>;

/// A UDP "agent" that answers every request with `answer(request)`.
async fn bad_agent(answer: Answer) -> std::net::SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let reply = answer(&buf[..n]);
            if !reply.is_empty() {
                let _ = socket.send_to(&reply, from).await;
            }
        }
    });
    address
}

fn target(address: std::net::SocketAddr) -> Target {
    Target {
        address,
        credentials: Credentials::V2c {
            community: "public".into(),
        },
        timeout: Duration::from_millis(300),
        retries: 1,
    }
}

async fn ask(address: std::net::SocketAddr) -> (Result<(), String>, Duration) {
    let start = Instant::now();
    let snmp = AsyncSnmp::connect(&target(address)).await.unwrap();
    let r = snmp
        .get(&["1.3.6.1.2.1.1.3.0"])
        .await
        .map(drop)
        .map_err(|e| e.to_string());
    let w = snmp
        .walk("1.3.6.1.2.1.2.2")
        .await
        .map(drop)
        .map_err(|e| e.to_string());
    (r.and(w), start.elapsed())
}

#[tokio::test]
async fn garbage_never_crashes_or_stalls_the_client() {
    let cases: [(&str, Answer); 6] = [
        ("random bytes", |_| {
            (0..200u8).map(|i| i.wrapping_mul(37)).collect()
        }),
        ("truncated BER", |req| req[..req.len() / 2].to_vec()),
        ("the request echoed", |req| req.to_vec()),
        ("a length that overruns the datagram", |_| {
            vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01]
        }),
        ("an oversized datagram", |_| {
            let mut v = vec![0x30, 0x83, 0x00, 0xff, 0xf0];
            v.resize(65_000, 0x04);
            v
        }),
        ("silence", |_| Vec::new()),
    ];
    for (what, answer) in cases {
        let address = bad_agent(answer).await;
        let (result, took) = ask(address).await;
        let e = result.expect_err(what);
        assert!(!e.is_empty(), "{what}: an error says something");
        // Two requests (get, first walk step), each at most 2 × 300 ms.
        assert!(took < Duration::from_secs(3), "{what}: took {took:?}");
    }
}

#[tokio::test]
async fn a_response_with_another_request_id_is_ignored() {
    // Flip the request id bytes of a well-formed GetRequest: whatever it
    // then is, it must not be taken for the answer.
    let address = bad_agent(|req| {
        let mut v = req.to_vec();
        if let Some(last) = v.get_mut(20) {
            *last ^= 0xff;
        }
        v
    })
    .await;
    let (result, _) = ask(address).await;
    assert!(result.is_err());
}
