//! Verification without documents: a [`Verifier`] asks a State service
//! whether a person receives a benefit, their quotient familial, or their
//! student grant. [`ApiParticulier`] calls the State's API Particulier
//! (version 3, "identité pivot" routes); tests run it against a local stub.
//!
//! A failure (timeout, refusal, unreadable answer, person unknown to the
//! service) is never a negative answer: the application falls back to the
//! agent checking a document, and the message says why.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::application::Identity;
use crate::rules::Benefit;

/// What can be asked of a verification service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Check {
    Benefit(Benefit),
    QuotientFamilial,
    StudentGrant,
}

impl Check {
    pub fn label(self) -> &'static str {
        match self {
            Check::Benefit(b) => b.code(),
            Check::QuotientFamilial => "quotient familial",
            Check::StudentGrant => "bourse d'études",
        }
    }
}

/// A service's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Receives(bool),
    Quotient(u32),
}

/// An answer and its traceability: which service, its reference, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub value: Value,
    pub service: String,
    pub answer_id: String,
    pub at: DateTime<Utc>,
}

/// Why a service gave no answer. The message is in French for the agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{service} ne vérifie pas : {what}")]
    Unsupported { service: String, what: &'static str },
    #[error("{service} n'a pas répondu dans le délai de {seconds} s")]
    Timeout { service: String, seconds: u64 },
    #[error("{service} ne connaît pas cette personne ({detail})")]
    NotFound { service: String, detail: String },
    #[error("{service} a refusé la demande ({detail})")]
    Refused { service: String, detail: String },
    #[error("{service} est injoignable ou en erreur ({detail})")]
    Unavailable { service: String, detail: String },
    #[error("{service} a renvoyé une réponse illisible ({detail})")]
    Malformed { service: String, detail: String },
}

/// A verification service.
#[async_trait::async_trait]
pub trait Verifier: Send + Sync + fmt::Debug {
    /// The service's name, as the household reads it in a decision.
    fn name(&self) -> &str;
    /// Whether it can answer this check at all.
    fn supports(&self, check: Check) -> bool;
    async fn check(&self, who: &Identity, check: Check) -> Result<Answer, VerifyError>;
}

/// The State's API Particulier (v3). The token is a secret: it never
/// appears in `Debug` output or logs.
pub struct ApiParticulier {
    base: url::Url,
    token: String,
    /// SIRET of the régie, sent as `recipient` as the API requires.
    recipient: String,
    timeout: Duration,
    http: reqwest::Client,
}

impl fmt::Debug for ApiParticulier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiParticulier")
            .field("base", &self.base.as_str())
            .field("recipient", &self.recipient)
            .field("token", &"…")
            .finish()
    }
}

const NAME: &str = "l'API Particulier";

/// The v3 route of each check ("identité pivot" modality).
fn route(check: Check) -> Option<&'static str> {
    Some(match check {
        Check::Benefit(Benefit::Rsa) => "v3/dss/revenu_solidarite_active/identite",
        Check::Benefit(Benefit::Aah) => "v3/dss/allocation_adulte_handicape/identite",
        Check::Benefit(Benefit::C2s) => "v3/dss/complementaire_sante_solidaire/identite",
        Check::QuotientFamilial => "v3/dss/quotient_familial/identite",
        Check::StudentGrant => "v3/mesri/statut_etudiant_boursier/identite",
        Check::Benefit(Benefit::Ass | Benefit::Aspa) => return None,
    })
}

/// The `data` member of a successful answer; each route fills its own part.
#[derive(Debug, Deserialize)]
struct Data {
    #[serde(default)]
    est_beneficiaire: Option<bool>,
    #[serde(default)]
    est_boursier: Option<bool>,
    #[serde(default)]
    quotient_familial: Option<Quotient>,
}

#[derive(Debug, Deserialize)]
struct Quotient {
    valeur: i64,
}

#[derive(Debug, Deserialize)]
struct Success {
    data: Data,
}

#[derive(Debug, Deserialize)]
struct Failure {
    errors: Vec<FailureItem>,
}

#[derive(Debug, Deserialize)]
struct FailureItem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    detail: String,
}

impl ApiParticulier {
    /// `base` is the service's root (e.g. `https://particulier.api.gouv.fr/`).
    pub fn new(
        base: &str,
        token: String,
        recipient: String,
        timeout: Duration,
    ) -> Result<Self, crate::Error> {
        let mut base = url::Url::parse(base).map_err(|e| {
            crate::Error::Invalid(format!("adresse de l'API Particulier invalide : {e}"))
        })?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| crate::Error::Invalid(format!("client HTTP : {e}")))?;
        Ok(Self {
            base,
            token,
            recipient,
            timeout,
            http,
        })
    }

    fn failure(&self, status: reqwest::StatusCode, body: &str) -> VerifyError {
        let service = NAME.to_owned();
        let detail = serde_json::from_str::<Failure>(body)
            .ok()
            .and_then(|f| f.errors.into_iter().next())
            .map(|e| format!("{} {} : {}", e.code, e.title, e.detail))
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        match status.as_u16() {
            404 => VerifyError::NotFound { service, detail },
            400 | 401 | 403 | 422 => VerifyError::Refused { service, detail },
            _ => VerifyError::Unavailable { service, detail },
        }
    }
}

#[async_trait::async_trait]
impl Verifier for ApiParticulier {
    fn name(&self) -> &str {
        NAME
    }

    fn supports(&self, check: Check) -> bool {
        route(check).is_some()
    }

    #[tracing::instrument(skip_all, fields(check = check.label()))]
    async fn check(&self, who: &Identity, check: Check) -> Result<Answer, VerifyError> {
        let service = NAME.to_owned();
        let Some(path) = route(check) else {
            return Err(VerifyError::Unsupported {
                service,
                what: check.label(),
            });
        };
        let url = self.base.join(path).map_err(|e| VerifyError::Unavailable {
            service: service.clone(),
            detail: e.to_string(),
        })?;
        let date = who.birth_date;
        let mut query: Vec<(&str, String)> = vec![
            ("recipient", self.recipient.clone()),
            ("nomNaissance", who.birth_name.clone()),
            ("anneeDateNaissance", date.format("%Y").to_string()),
            ("moisDateNaissance", date.format("%m").to_string()),
            ("jourDateNaissance", date.format("%d").to_string()),
            ("sexeEtatCivil", who.sex.to_string()),
            ("codeCogInseeCommuneNaissance", who.birth_place.clone()),
        ];
        for p in who.given_names.split_whitespace() {
            query.push(("prenoms[]", p.to_owned()));
        }
        let started = std::time::Instant::now();
        let sent = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .query(&query)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                tracing::warn!(
                    duration_ms = started.elapsed().as_millis() as u64,
                    "API Particulier timed out"
                );
                return Err(VerifyError::Timeout {
                    service,
                    seconds: self.timeout.as_secs().max(1),
                });
            }
            Err(e) => {
                return Err(VerifyError::Unavailable {
                    service,
                    detail: if e.is_connect() {
                        "connexion impossible".into()
                    } else {
                        "échange interrompu".into()
                    },
                })
            }
        };
        let status = response.status();
        let answer_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("local-{}", uuid_like()));
        let body = match response.text().await {
            Ok(b) => b,
            Err(e) if e.is_timeout() => {
                return Err(VerifyError::Timeout {
                    service,
                    seconds: self.timeout.as_secs().max(1),
                })
            }
            Err(_) => {
                return Err(VerifyError::Unavailable {
                    service,
                    detail: "réponse interrompue".into(),
                })
            }
        };
        tracing::info!(status = status.as_u16(), duration_ms = started.elapsed().as_millis() as u64, answer_id = %answer_id, "API Particulier answered");
        if !status.is_success() {
            return Err(self.failure(status, &body));
        }
        let malformed = |detail: String| VerifyError::Malformed {
            service: NAME.to_owned(),
            detail,
        };
        let data = serde_json::from_str::<Success>(&body)
            .map_err(|e| malformed(format!("JSON : {e}")))?
            .data;
        let value = match check {
            Check::Benefit(_) => Value::Receives(
                data.est_beneficiaire
                    .ok_or_else(|| malformed("« est_beneficiaire » absent".into()))?,
            ),
            Check::StudentGrant => Value::Receives(
                data.est_boursier
                    .ok_or_else(|| malformed("« est_boursier » absent".into()))?,
            ),
            Check::QuotientFamilial => {
                let v = data
                    .quotient_familial
                    .ok_or_else(|| malformed("« quotient_familial » absent".into()))?
                    .valeur;
                Value::Quotient(
                    u32::try_from(v).map_err(|_| malformed(format!("quotient familial {v}")))?,
                )
            }
        };
        Ok(Answer {
            value,
            service: NAME.to_owned(),
            answer_id,
            at: regie_core::time::now(),
        })
    }
}

/// A reference for an answer that carried none: time and randomness.
fn uuid_like() -> String {
    use rand::Rng;
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_stays_out_of_debug() {
        let api = ApiParticulier::new(
            "https://particulier.api.gouv.fr",
            "secret-jwt".into(),
            "21350238800019".into(),
            Duration::from_secs(5),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{api:?}");
        assert!(!shown.contains("secret-jwt"), "{shown}");
        assert!(shown.contains("particulier.api.gouv.fr/"), "{shown}");
    }

    #[test]
    fn only_the_documented_checks_are_routed() {
        assert!(route(Check::Benefit(Benefit::Rsa)).is_some());
        assert!(route(Check::QuotientFamilial).is_some());
        assert!(route(Check::Benefit(Benefit::Aspa)).is_none());
    }

    #[test]
    fn a_bad_base_is_refused() {
        assert!(ApiParticulier::new(
            "pas une url",
            String::new(),
            String::new(),
            Duration::from_secs(1)
        )
        .is_err());
    }
}
