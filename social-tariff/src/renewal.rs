//! Renewals: an entitlement lasts a set time (12 months by default); the
//! household is reminded 60 and 15 days before it ends, by e-mail when it
//! chose e-mail and the régie has an SMTP server, otherwise by a letter an
//! agent prints from the outbox. A renewal is an application pre-filled
//! from the last one; while it is examined, billing keeps the tariff for
//! the grace period of the rules.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::decision::{DecisionNumber, Issuer, Letter, Section};
use crate::rules::french_date;
use crate::Error;

/// Which reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 60 days before the end.
    J60,
    /// 15 days before the end.
    J15,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::J60 => "j60",
            Kind::J15 => "j15",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "j60" => Ok(Kind::J60),
            "j15" => Ok(Kind::J15),
            other => Err(Error::Invalid(format!("rappel inconnu : {other}"))),
        }
    }

    pub fn days(self) -> u64 {
        match self {
            Kind::J60 => 60,
            Kind::J15 => 15,
        }
    }
}

/// The reminder due on `today` for an entitlement ending on `valid_to`:
/// the latest of the two whose day has come, none before 60 days or after
/// the end. A job that did not run for a while sends only the latest.
pub fn due(valid_to: NaiveDate, today: NaiveDate) -> Option<(Kind, NaiveDate)> {
    if today > valid_to {
        return None;
    }
    [Kind::J15, Kind::J60].into_iter().find_map(|k| {
        let on = valid_to.checked_sub_days(Days::new(k.days()))?;
        (today >= on).then_some((k, on))
    })
}

/// Where a reminder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A letter to print and post.
    ToPrint,
    /// An e-mail waiting for the SMTP server.
    ToSend,
    /// Claimed by one instance, being sent.
    Sending,
    Sent,
    Printed,
    /// The e-mail failed; the reminder is printed instead.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::ToPrint => "to_print",
            Status::ToSend => "to_send",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Printed => "printed",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "to_print" => Status::ToPrint,
            "to_send" => Status::ToSend,
            "sending" => Status::Sending,
            "sent" => Status::Sent,
            "printed" => Status::Printed,
            "failed" => Status::Failed,
            other => return Err(Error::Invalid(format!("état de rappel inconnu : {other}"))),
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::ToPrint => "lettre à imprimer",
            Status::ToSend => "courriel à envoyer",
            Status::Sending => "courriel en cours d'envoi",
            Status::Sent => "courriel envoyé",
            Status::Printed => "lettre imprimée",
            Status::Failed => "courriel en échec : lettre à imprimer",
        }
    }
}

/// A reminder in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    pub id: i64,
    pub decision: DecisionNumber,
    pub household: String,
    pub applicant: String,
    pub address: Vec<String>,
    pub kind: Kind,
    pub due_on: NaiveDate,
    pub valid_to: NaiveDate,
    /// The e-mail address, when sent by e-mail.
    pub email: Option<String>,
    pub status: Status,
    pub detail: Option<String>,
    pub created_at: String,
}

impl Reminder {
    /// The subject and body of the e-mail, and the letter's text.
    pub fn text(&self, issuer: &Issuer, renew_url: &str) -> (String, Vec<String>) {
        let subject = format!(
            "Votre tarif social prend fin le {} : pensez à le renouveler",
            french_date(self.valid_to)
        );
        let body = vec![
            format!("Bonjour {},", self.applicant),
            format!(
                "Votre droit au tarif social (décision {}) prend fin le {}. Pour le garder sans interruption, renouvelez votre demande dès maintenant.",
                self.decision,
                french_date(self.valid_to)
            ),
            format!(
                "En ligne : {renew_url} — votre demande est pré-remplie avec vos dernières informations ; vous n'avez qu'à les vérifier. Vous pouvez aussi venir au guichet de la mairie."
            ),
            "Tant que votre demande de renouvellement est examinée, le tarif social continue de s'appliquer pendant le délai de grâce prévu par les règles.".into(),
            format!("{} — {}", issuer.name, issuer.address),
        ];
        (subject, body)
    }

    /// The reminder as a letter to print.
    pub fn letter(&self, issuer: &Issuer, renew_url: &str) -> Letter {
        let (subject, body) = self.text(issuer, renew_url);
        let mut recipient = vec![self.applicant.clone()];
        recipient.extend(self.address.iter().cloned());
        Letter {
            title: subject,
            recipient,
            reference: vec![
                issuer.name.clone(),
                issuer.address.clone(),
                format!("Référence : {}", self.decision),
                format!("Le {}", french_date(self.due_on)),
            ],
            sections: vec![Section {
                heading: "Renouveler votre tarif social".into(),
                paragraphs: body,
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn reminders_fall_60_and_15_days_before_the_end() {
        let end = day("2027-03-31");
        assert_eq!(due(end, day("2027-01-29")), None);
        assert_eq!(
            due(end, day("2027-01-30")),
            Some((Kind::J60, day("2027-01-30")))
        );
        assert_eq!(
            due(end, day("2027-03-15")),
            Some((Kind::J60, day("2027-01-30")))
        );
        assert_eq!(
            due(end, day("2027-03-16")),
            Some((Kind::J15, day("2027-03-16")))
        );
        assert_eq!(
            due(end, day("2027-03-31")),
            Some((Kind::J15, day("2027-03-16")))
        );
        assert_eq!(due(end, day("2027-04-01")), None);
    }
}
