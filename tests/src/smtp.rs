//! A real SMTP server on loopback (aiosmtpd, from PyPI) that prints every
//! message it receives, for the tests of what Régie sends by e-mail.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Debug)]
pub struct Smtp {
    child: Child,
    pub port: u16,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtp {
    /// Everything the server printed (the Debugging handler prints each
    /// message received).
    pub fn received(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        let _ = self.port;
        out
    }
}

/// A real SMTP server on loopback, or `None` where aiosmtpd is missing (CI
/// sets `REGIE_REQUIRE_PEERS`, and there it must be present).
pub fn smtp() -> Option<Smtp> {
    let present = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        assert!(
            std::env::var_os("REGIE_REQUIRE_PEERS").is_none(),
            "aiosmtpd is required (pip install aiosmtpd)"
        );
        eprintln!("skipped: aiosmtpd is not installed");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-u",
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Debugging",
            "-l",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Smtp { child, port })
}

impl Smtp {
    /// The `[smtp]` section pointing at this server.
    pub fn config(&self) -> regie::platform::config::SmtpConfig {
        regie::platform::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            security: "none".into(),
            username: None,
            password: None,
            from: "Régie de la fibre <fibre@mairie.example>".into(),
        }
    }
}
