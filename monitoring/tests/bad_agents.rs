//! Agents that answer badly: garbage, truncated BER, wrong request ids,
//! oversized datagrams, or nothing. The client must end each request with
//! an error (never hang), never panic, and the poller must go on
//! with the other devices.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use std::time::Duration;

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

/// Longer than any request may take, however loaded the machine: a call
/// still running then is a client that hangs. (No upper bound on the time
/// a call takes is asserted: on a busy CI machine it would fail at random.)
const HANG_GUARD: Duration = Duration::from_secs(60);

/// `fut`, which must end.
async fn ends<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: the client hangs"))
}

async fn ask(address: std::net::SocketAddr) -> Result<(), String> {
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
    r.and(w)
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
        let e = ends(what, ask(address)).await.expect_err(what);
        assert!(!e.is_empty(), "{what}: an error says something");
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
    let result = ends("wrong request id", ask(address)).await;
    assert!(result.is_err());
}

/// Turns a v2c request into a "response" that repeats the OIDs asked (with
/// NULL values): an agent whose walk never moves forward.
fn echo_as_response(req: &[u8]) -> Vec<u8> {
    let mut v = req.to_vec();
    // 30 L | 02 01 01 | 04 n community | PDU tag L | 02 n reqid | 02 01 a | 02 01 b
    let Some(&community_len) = v.get(6) else {
        return Vec::new();
    };
    let tag = 7 + usize::from(community_len);
    if v.len() < tag + 2 || v[1] >= 0x80 || v[tag + 1] >= 0x80 {
        return Vec::new();
    }
    let bulk = v[tag] == 0xA5;
    v[tag] = 0xA2;
    let reqid_len = usize::from(v[tag + 3]);
    let max_repetitions = tag + 4 + reqid_len + 3 + 2;
    if bulk {
        if let Some(b) = v.get_mut(max_repetitions) {
            *b = 0;
        }
    }
    v
}

#[tokio::test]
async fn a_walk_that_does_not_move_forward_ends_with_an_error() {
    let address = bad_agent(echo_as_response).await;
    let snmp = AsyncSnmp::connect(&target(address)).await.unwrap();
    let walked = ends("walk", snmp.walk("1.3.6.1.2.1.2.2.1.2")).await;
    assert!(walked.is_err(), "{walked:?}");
    let columns = ends(
        "side-by-side walk",
        snmp.walk_columns(&["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.31.1.1.1.1"]),
    )
    .await;
    let e = columns
        .expect_err("the side-by-side walk stops")
        .to_string();
    assert!(e.contains("ne progressent pas"), "{e}");
    let paced = AsyncSnmp::connect(&target(address))
        .await
        .unwrap()
        .paced(Duration::from_millis(1));
    let e = ends("paced walk", paced.walk("1.3.6.1.2.1.2.2.1.2"))
        .await
        .expect_err("paced");
    assert!(e.to_string().contains("ne progressent pas"), "{e}");
}

#[tokio::test]
async fn side_by_side_walks_fail_cleanly_on_garbage_too() {
    let cases: [(&str, Answer); 3] = [
        ("truncated BER", |req| req[..req.len() / 2].to_vec()),
        ("the request echoed", |req| req.to_vec()),
        ("silence", |_| Vec::new()),
    ];
    for (what, answer) in cases {
        let address = bad_agent(answer).await;
        let snmp = AsyncSnmp::connect(&target(address)).await.unwrap();
        let r = ends(
            what,
            snmp.walk_columns(&["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.8"]),
        )
        .await;
        assert!(r.is_err(), "{what}");
    }
}
