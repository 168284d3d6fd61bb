//! The life of a SEPA direct-debit mandate, as the SEPA Core rulebook
//! wants it: given on paper at the counter (the signature date recorded)
//! or online by the household (its consent recorded with time and
//! account), one live mandate per billing account, amended when the
//! debtor's account changes (the next debit says so), revoked at the
//! debtor's request, and lapsed after 36 months without a debit. A
//! mandate's first debit is `FRST`, the next ones `RCUR`.

use chrono::NaiveDate;
use serde::Serialize;

use crate::storage::Mandate;
use crate::Error;

/// Months without a debit after which a mandate lapses (SEPA Core
/// rulebook: a mandate not used for 36 months may no longer be used).
pub const EXPIRY_MONTHS: u32 = 36;

/// Where the debtor gave the mandate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Signed on paper at the town hall's counter.
    Counter,
    /// Given online by the household, from its own space.
    Online,
    /// Signed with the outgoing operator, kept at the takeover.
    Takeover,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Counter => "counter",
            Channel::Online => "online",
            Channel::Takeover => "takeover",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "counter" => Some(Channel::Counter),
            "online" => Some(Channel::Online),
            "takeover" => Some(Channel::Takeover),
            _ => None,
        }
    }

    /// In French, for pages and letters.
    pub fn label(self) -> &'static str {
        match self {
            Channel::Counter => "signé au guichet",
            Channel::Online => "donné en ligne",
            Channel::Takeover => "repris du précédent opérateur",
        }
    }
}

/// Where a mandate stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Status {
    /// In force: the account's debits are taken under it.
    Live,
    /// Revoked on a day (at the debtor's request, or by a return that says
    /// the mandate cannot serve).
    Revoked { on: NaiveDate, reason: String },
    /// Lapsed: no debit for 36 months.
    Expired { on: NaiveDate },
}

/// A mandate with its history, as an account's page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub mandate: Mandate,
    pub channel: Channel,
    /// Online consent: when (UTC, stored form) and as which user.
    pub consent_at: Option<String>,
    pub consent_by: Option<String>,
    pub status: Status,
    /// The former IBAN (masked) while the next debit must announce the
    /// change of account.
    pub amendment_pending: Option<String>,
    /// The day of the last debit taken under it.
    pub last_debit: Option<NaiveDate>,
    /// The day it lapses if no debit is taken before (live mandates).
    pub lapses_on: Option<NaiveDate>,
}

/// The day a mandate last used (or signed) on `last_use` lapses.
pub fn lapses_on(last_use: NaiveDate) -> Option<NaiveDate> {
    last_use.checked_add_months(chrono::Months::new(EXPIRY_MONTHS))
}

/// Whether a mandate last used on `last_use` has lapsed by `on`.
pub fn has_lapsed(last_use: NaiveDate, on: NaiveDate) -> bool {
    lapses_on(last_use).is_some_and(|l| on > l)
}

/// The holder's name as the mandate carries it: required, 70 characters
/// at most (the pain.008 `Nm`).
pub fn holder(s: &str) -> Result<String, Error> {
    let h = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if h.is_empty() || h.chars().count() > 70 {
        return Err(Error::Invalid(
            "le titulaire du compte est obligatoire (70 caractères au plus)".into(),
        ));
    }
    Ok(h)
}

/// The authorisation the debtor gives, in the rulebook's French wording,
/// naming the creditor: printed on the paper form and shown before online
/// consent.
pub fn authorisation(creditor: &str) -> String {
    format!(
        "En signant ce formulaire de mandat, vous autorisez {creditor} à envoyer des instructions \
         à votre banque pour débiter votre compte, et votre banque à débiter votre compte \
         conformément aux instructions de {creditor}. Vous bénéficiez du droit d'être remboursé \
         par votre banque selon les conditions décrites dans la convention que vous avez passée \
         avec elle. Une demande de remboursement doit être présentée dans les 8 semaines suivant \
         la date de débit de votre compte pour un prélèvement autorisé. Vos droits concernant ce \
         mandat sont expliqués dans un document que vous pouvez obtenir auprès de votre banque."
    )
}

/// The mandate form to print at the counter, filled in: the creditor
/// (name, address, identifier), the RUM, the debtor and its account, the
/// authorisation, recurrent payment, and room for place, date and
/// signature. Kept by the régie once signed.
pub fn form(
    mandate: &Mandate,
    payer: &crate::model::Account,
    creditor: &crate::document::Seller,
    creditor_id: &str,
) -> Vec<regie_core::pdf::Block> {
    use regie_core::pdf::Block;
    vec![
        Block::Title("Mandat de prélèvement SEPA".into()),
        Block::Lines(vec![
            format!("Référence unique du mandat (RUM) : {}", mandate.rum),
            "Type de paiement : récurrent".into(),
        ]),
        Block::Space(8),
        Block::Heading("Créancier".into()),
        Block::Lines(vec![
            creditor.name.clone(),
            creditor.address.clone(),
            format!("Identifiant créancier SEPA (ICS) : {creditor_id}"),
        ]),
        Block::Heading("Débiteur".into()),
        Block::Lines(vec![
            format!("Titulaire du compte : {}", mandate.holder),
            payer.address.clone(),
            format!("{} {}", payer.postcode, payer.town),
            format!("Compte client : {}", payer.code),
            format!("IBAN : {}", mandate.iban.grouped()),
            format!(
                "BIC : {}",
                mandate
                    .bic
                    .as_ref()
                    .map_or("(facultatif)".to_owned(), |b| b.as_str().to_owned())
            ),
        ]),
        Block::Space(8),
        Block::Paragraph(authorisation(&creditor.name)),
        Block::Space(8),
        Block::Lines(vec![
            format!(
                "Fait à : {}                Le : {}",
                payer.town,
                mandate.signed_on.format("%d/%m/%Y")
            ),
            String::new(),
            "Signature du titulaire du compte :".into(),
        ]),
        Block::Space(60),
        Block::Paragraph(
            "Joindre un relevé d'identité bancaire. Pour changer de compte ou révoquer ce mandat, \
             adressez-vous à la régie (guichet de la mairie ou votre espace en ligne)."
                .into(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn a_mandate_lapses_36_months_after_its_last_use() {
        assert_eq!(lapses_on(d("2023-01-31")), Some(d("2026-01-31")));
        assert!(!has_lapsed(d("2023-01-31"), d("2026-01-31")));
        assert!(has_lapsed(d("2023-01-31"), d("2026-02-01")));
    }

    #[test]
    fn the_form_carries_the_rum_the_creditor_and_the_authorisation() {
        let mandate = Mandate {
            rum: "RUM-CPT-AB2CD3-01".into(),
            account: "CPT-AB2CD3".into(),
            holder: "Marie Martin".into(),
            iban: crate::sepa::Iban::parse("FR7630006000011234567890189")
                .unwrap_or_else(|e| panic!("{e}")),
            bic: None,
            signed_on: d("2026-12-07"),
        };
        let payer = crate::model::Account {
            code: "CPT-AB2CD3".into(),
            kind: crate::model::AccountKind::Household,
            name: "Famille Martin".into(),
            address: "3 rue des Lilas".into(),
            postcode: "35000".into(),
            town: "Rennes".into(),
            email: None,
            siren: None,
            vat_number: None,
            household: None,
        };
        let seller = crate::document::Seller {
            name: "Régie publique de la fibre".into(),
            address: "1 place de la Mairie, 35000 Rennes".into(),
            siren: None,
            vat_number: None,
            payment_days: 30,
            bank: None,
        };
        let blocks = form(&mandate, &payer, &seller, "FR72ZZZ123456");
        let text = format!("{blocks:?}");
        for expected in [
            "RUM-CPT-AB2CD3-01",
            "FR72ZZZ123456",
            "FR76 3000 6000 0112 3456 7890 189",
            "récurrent",
            "Régie publique de la fibre à envoyer des instructions",
            "07/12/2026",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
        let pdf = crate::document::render("Mandat".into(), &seller, blocks);
        assert!(pdf.is_ok_and(|p| p.starts_with(b"%PDF")));
    }

    #[test]
    fn holders_are_named_and_bounded() {
        assert_eq!(
            holder("  Marie   Martin ").ok(),
            Some("Marie Martin".into())
        );
        assert!(holder(" ").is_err());
        assert!(holder(&"x".repeat(71)).is_err());
        assert_eq!(
            Channel::parse(Channel::Online.as_str()),
            Some(Channel::Online)
        );
        assert!(authorisation("Régie de la fibre").contains("8 semaines"));
    }
}
