//! E-mail through the régie's own SMTP server (no third-party service).

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::platform::config::SmtpConfig;
use crate::Error;

/// A configured SMTP server and sender.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    pub fn new(c: &SmtpConfig) -> Result<Self, Error> {
        let bad = |m: String| Error::Config(format!("smtp: {m}"));
        let from = c
            .from
            .parse()
            .map_err(|e| bad(format!("sender {:?}: {e}", c.from)))?;
        let mut builder = match c.security.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)
                .map_err(|e| bad(e.to_string()))?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)
                .map_err(|e| bad(e.to_string()))?,
            "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
            other => {
                return Err(bad(format!(
                    "security {other:?}: expected tls, starttls or none"
                )))
            }
        }
        .port(c.port)
        .timeout(Some(std::time::Duration::from_secs(20)));
        let password = c
            .password
            .clone()
            .or_else(|| std::env::var("REGIE_SMTP_PASSWORD").ok());
        if let (Some(user), Some(password)) = (&c.username, password) {
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// Sends a plain-text message; the error says why in words an agent
    /// can pass on.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let to = to
            .parse()
            .map_err(|e| format!("adresse {to:?} invalide : {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| format!("message : {e}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("serveur SMTP : {e}"))
    }
}
