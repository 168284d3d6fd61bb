//! What the process tests of the `regie` binary share.

use std::io::{Read, Write};

/// One plain HTTP/1.1 GET to a server the test started; the whole answer,
/// head and body.
pub fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connects");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .expect("writes");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("reads");
    text
}
