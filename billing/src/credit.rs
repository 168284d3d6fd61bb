//! What a credit note gives back, decided from the invoice it corrects:
//! the whole invoice (one line per VAT rate, its taxable amount, so the
//! VAT given back is the VAT charged), or a part — an amount VAT included
//! at one of the invoice's rates — always with the reason, which the
//! credit note prints.

use crate::compute::{Line, LineKind};
use crate::model::{DocumentKind, Invoice};
use crate::money::{Cents, VatRate};
use crate::Error;

/// Why a credit note is issued: 3 to 120 characters.
fn reason(s: &str) -> Result<String, Error> {
    let r = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if !(3..=120).contains(&r.chars().count()) {
        return Err(Error::Invalid(
            "le motif de l'avoir est obligatoire (3 à 120 caractères)".into(),
        ));
    }
    Ok(r)
}

fn invoice_only(invoice: &Invoice) -> Result<(), Error> {
    if invoice.kind != DocumentKind::Invoice {
        return Err(Error::Invalid(format!(
            "{} n'est pas une facture : seule une facture se corrige par un avoir",
            invoice.number
        )));
    }
    Ok(())
}

/// The lines giving back the whole invoice.
pub fn whole(invoice: &Invoice, why: &str) -> Result<Vec<Line>, Error> {
    invoice_only(invoice)?;
    let why = reason(why)?;
    let lines: Vec<Line> = invoice
        .breakdown
        .iter()
        .filter(|b| b.taxable.0 > 0)
        .map(|b| Line {
            kind: LineKind::Subscription,
            description: format!("Avoir sur la facture {} : {why}", invoice.number),
            net: b.taxable,
            rate: b.rate,
        })
        .collect();
    if lines.is_empty() {
        return Err(Error::Invalid(format!(
            "la facture {} n'a rien à rendre",
            invoice.number
        )));
    }
    Ok(lines)
}

/// The line giving back `gross` (VAT included) at `rate`, one of the
/// invoice's rates.
pub fn part(invoice: &Invoice, gross: Cents, rate: VatRate, why: &str) -> Result<Vec<Line>, Error> {
    invoice_only(invoice)?;
    let why = reason(why)?;
    if gross.0 <= 0 {
        return Err(Error::Invalid(
            "le montant de l'avoir doit être positif".into(),
        ));
    }
    if !invoice.breakdown.iter().any(|b| b.rate == rate) {
        return Err(Error::Invalid(format!(
            "la facture {} n'a pas de TVA à {} %",
            invoice.number,
            rate.percent()
        )));
    }
    let net = rate.net_of(gross)?;
    Ok(vec![Line {
        kind: LineKind::Subscription,
        description: format!("Avoir sur la facture {} : {why}", invoice.number),
        net,
        rate,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::totals;

    fn invoice() -> Invoice {
        crate::test_support::document(
            "FA2026-000042",
            DocumentKind::Invoice,
            &[2492, -1246],
            "Famille Martin",
            "3 rue des Lilas",
        )
    }

    #[test]
    fn a_whole_credit_note_gives_back_what_was_charged() {
        let lines = whole(&invoice(), "panne de 15 jours").unwrap_or_default();
        // 24,92 − 12,46 = 12,46 net at 20 %: 14,95 TTC, as invoiced.
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].net, Cents(1246));
        assert_eq!(
            lines[0].description,
            "Avoir sur la facture FA2026-000042 : panne de 15 jours"
        );
        let t = totals(lines.iter().map(|l| (l.net, l.rate))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.gross, invoice().gross);
    }

    #[test]
    fn a_part_is_an_amount_at_one_of_the_invoice_rates() {
        // 5,00 € TTC at 20 %: 4,17 net (4,1666…).
        let lines = part(
            &invoice(),
            Cents(500),
            VatRate::STANDARD,
            "geste commercial",
        )
        .unwrap_or_default();
        assert_eq!(lines[0].net, Cents(417));
        assert!(part(&invoice(), Cents(500), VatRate::REDUCED, "geste commercial").is_err());
        assert!(part(&invoice(), Cents(0), VatRate::STANDARD, "geste commercial").is_err());
        assert!(part(&invoice(), Cents(500), VatRate::STANDARD, " x ").is_err());
        let mut cn = invoice();
        cn.kind = DocumentKind::CreditNote;
        assert!(whole(&cn, "erreur de saisie").is_err());
    }
}
