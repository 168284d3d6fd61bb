//! Benchmark of hostile uploads against a real server process: the peak
//! resident memory of `regie serve` while it reads each. Prints figures;
//! asserts nothing.
//!
//! cargo bench --bench hostile_uploads
//!
//! Starts the release binary on SQLite in a scratch directory, adds a
//! technician, then sends to `POST /api/v1/inventory/imports?dry_run=true`
//! (each body streamed from a file, so the bench holds none of it):
//!
//! 1. a zip bomb: one 1 GiB line of one repeated byte, zipped to ~1 MB;
//! 2. one 64 MiB line that does not compress;
//! 3. 7 million copies of one row (as many duplicate codes), ~800 KB zipped;
//! 4. 7 million distinct faulty rows (each names an unknown cable);
//! 5. a body of 1.1 GiB, past the 1 GiB upload limit.
//!
//! Each upload goes to a fresh server process; the figure is the peak
//! resident memory of that process (VmHWM) once it has answered, the
//! server at rest (some 65 MiB) included.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const FIBRE_HEADER: &str = "fo_code;fo_cb_code;fo_nincab;fo_numtub;fo_nintub;fo_color\n";

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// A zip whose `t_fibre.csv` is written by `fill`, with the minimal other
/// tables (headers only), into `path`.
fn write_zip(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> u64 {
    let file = std::fs::File::create(path).expect("create");
    let mut w = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, header) in [
        ("t_sitetech.csv", "st_code;st_nom;st_typelog\n"),
        ("t_ltech.csv", "lt_code;lt_st_code\n"),
        ("t_baie.csv", "ba_code;ba_lt_code\n"),
        ("t_tiroir.csv", "ti_code;ti_ba_code\n"),
        ("t_ebp.csv", "bp_code;bp_typelog;bp_sf_code\n"),
        ("t_cassette.csv", "cs_code;cs_bp_code\n"),
        ("t_cable.csv", "cb_code;cb_capafo;cb_lgreel\n"),
        (
            "t_position.csv",
            "ps_code;ps_1;ps_2;ps_cs_code;ps_ti_code;ps_type;ps_fonct;ps_preaff\n",
        ),
    ] {
        w.start_file(name, opts).expect("start");
        w.write_all(header.as_bytes()).expect("write");
    }
    w.start_file("t_fibre.csv", opts).expect("start");
    fill(&mut w).expect("fill");
    w.finish().expect("finish");
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Sends a request with a body streamed from `body` (or `len` bytes of
/// filler) and returns the status and the answer's length.
fn post(addr: &str, path: &str, token: &str, ctype: &str, body: Body) -> (u16, usize) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let len = match &body {
        Body::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        Body::Filler(n) => *n,
    };
    let auth = format!("Authorization: Bearer {token}\r\n");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: {ctype}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
    .expect("head");
    let sent = match body {
        Body::File(p) => {
            std::io::copy(&mut std::fs::File::open(p).expect("open"), &mut s).map(|_| ())
        }
        Body::Filler(n) => {
            let chunk = vec![b'x'; 1 << 20];
            let mut left = n;
            let mut r = Ok(());
            while left > 0 && r.is_ok() {
                let k = left.min(chunk.len() as u64) as usize;
                r = s.write_all(&chunk[..k]);
                left -= k as u64;
            }
            r
        }
    };
    // The server may answer (413) and close before the body is all sent.
    let _ = sent;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer.len())
}

enum Body {
    File(PathBuf),
    Filler(u64),
}

struct Server(Child);

/// Starts `regie serve` on a free port; answers the server, its address,
/// its pid and a technician's token.
fn start(bin: &str, data: &Path) -> (Server, String, u32, String) {
    let mut child = Command::new(bin)
        .args(["serve", "--data-dir"])
        .arg(data)
        .env("REGIE_LISTEN", "127.0.0.1:0")
        .env("REGIE_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let pid = child.id();
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let server = Server(child);
    let addr = loop {
        let line = lines.next().expect("server stopped").expect("line");
        if let Some(a) = line.strip_prefix("Régie listening on http://") {
            break a.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    let body = r#"{"username":"bench","password":"un mot de passe assez long"}"#;
    write!(
        s,
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut a = String::new();
    s.read_to_string(&mut a).expect("read");
    let json = a.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    let token = v["token"].as_str().expect("token").to_owned();
    (server, addr, pid, token)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_regie");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut add = Command::new(bin)
        .args(["user", "add", "--role", "technician", "bench", "--data-dir"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("user add");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(b"un mot de passe assez long\n")
        .expect("password");
    assert!(add.wait().expect("wait").success(), "user add failed");
    let zips = dir.path();
    let mut cases: Vec<(&str, Body)> = Vec::new();
    let bomb = zips.join("bomb.zip");
    write_zip(&bomb, |w| {
        w.write_all(FIBRE_HEADER.as_bytes())?;
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..1024 {
            w.write_all(&chunk)?;
        }
        Ok(())
    });
    cases.push(("zip bomb, one 1 GiB line", Body::File(bomb)));
    let long = zips.join("long.zip");
    write_zip(&long, |w| {
        w.write_all(FIBRE_HEADER.as_bytes())?;
        w.write_all(b"FO1;")?;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut chunk = vec![0u8; 1 << 20];
        for _ in 0..64 {
            for c in chunk.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *c = b"abcdefghijklmnopqrstuvwxyz0123456789"[(x % 36) as usize];
            }
            w.write_all(&chunk)?;
        }
        w.write_all(b";1;1;1;BL\n")
    });
    cases.push(("one 64 MiB line", Body::File(long)));
    let dups = zips.join("dups.zip");
    write_zip(&dups, |w| {
        w.write_all(FIBRE_HEADER.as_bytes())?;
        for _ in 0..7_000_000 {
            w.write_all(b"FODUP;CB1;1;1;1;BL\n")?;
        }
        Ok(())
    });
    cases.push(("7 million duplicate rows", Body::File(dups)));
    let distinct = zips.join("distinct.zip");
    write_zip(&distinct, |w| {
        w.write_all(FIBRE_HEADER.as_bytes())?;
        let mut line = String::new();
        for i in 0..7_000_000u32 {
            line.clear();
            use std::fmt::Write as _;
            let _ = writeln!(line, "FO{i:08};CB{};{};1;1;BL", i / 144, i % 144 + 1);
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    });
    cases.push((
        "7 million distinct rows, unknown cables",
        Body::File(distinct),
    ));
    cases.push(("1.1 GiB body (limit 1 GiB)", Body::Filler(1_100 << 20)));

    println!(
        "{:<42} {:>12} {:>7} {:>12} {:>9} {:>10}",
        "upload", "body", "status", "answer", "seconds", "peak MiB"
    );
    for (name, body) in cases {
        let size = match &body {
            Body::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Body::Filler(n) => *n,
        };
        // A fresh server for each upload: the allocator keeps what an
        // earlier one freed, which would count against the next.
        let (server, addr, pid, token) = start(bin, &data);
        reset_peak(pid);
        let began = Instant::now();
        let (status, answer) = post(
            &addr,
            "/api/v1/inventory/imports?dry_run=true",
            &token,
            "application/zip",
            body,
        );
        println!(
            "{name:<42} {:>9} KiB {status:>7} {:>8} KiB {:>9.1} {:>10}",
            size / 1024,
            answer / 1024,
            began.elapsed().as_secs_f64(),
            status_kb(pid, "VmHWM:") / 1024
        );
        drop(server);
    }
}
