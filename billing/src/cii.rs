//! An invoice or credit note as EN 16931 CII XML (UN/CEFACT Cross
//! Industry Invoice D16B, the Factur-X EN16931 profile): the electronic
//! twin of the PDF, for the public accountant and business buyers.
//!
//! EN 16931 wants an item's net price never negative (BR-27): a reduction
//! line (the social tariff, an aid) is written as quantity −1 at a positive
//! price. A credit note (type 381) carries positive amounts, as the
//! standard reads them, and names the invoice it corrects (BG-3).

use crate::compute::Month;
use crate::document::{DebitNotice, Seller};
use crate::model::{AccountKind, DocumentKind, Invoice};
use crate::money::{Cents, VatCategory};
use crate::xml::{el, text, text_attr, write, Node};

fn date(d: chrono::NaiveDate) -> Node {
    text_attr(
        "udt:DateTimeString",
        ("format", "102"),
        d.format("%Y%m%d").to_string(),
    )
}

fn rate(bp: u32) -> String {
    format!("{}.{:02}", bp / 100, bp % 100)
}

/// A VAT element, its children in the schema's order: CalculatedAmount,
/// TypeCode, ExemptionReason, BasisAmount, CategoryCode, RateApplicablePercent.
fn tax(category: VatCategory, bp: u32, calculated: Option<Cents>, basis: Option<Cents>) -> Node {
    let mut out = Vec::new();
    if let Some(c) = calculated {
        out.push(text("ram:CalculatedAmount", c.decimal()));
    }
    out.push(text("ram:TypeCode", "VAT"));
    if category == VatCategory::O && basis.is_some() {
        out.push(text("ram:ExemptionReason", "Hors champ de la TVA"));
    }
    if let Some(b) = basis {
        out.push(text("ram:BasisAmount", b.decimal()));
    }
    out.push(text("ram:CategoryCode", category.code()));
    if category != VatCategory::O {
        out.push(text("ram:RateApplicablePercent", rate(bp)));
    }
    el("ram:ApplicableTradeTax", out)
}

fn party(
    name: &str,
    siren: Option<&str>,
    address: &str,
    postcode: Option<&str>,
    town: Option<&str>,
    vat: Option<&str>,
    role: &'static str,
) -> Node {
    let mut children = vec![text("ram:Name", name)];
    if let Some(s) = siren {
        children.push(el(
            "ram:SpecifiedLegalOrganization",
            vec![text_attr("ram:ID", ("schemeID", "0002"), s)],
        ));
    }
    let mut addr = Vec::new();
    if let Some(p) = postcode {
        addr.push(text("ram:PostcodeCode", p));
    }
    addr.push(text("ram:LineOne", address));
    if let Some(t) = town {
        addr.push(text("ram:CityName", t));
    }
    addr.push(text("ram:CountryID", "FR"));
    children.push(el("ram:PostalTradeAddress", addr));
    if let Some(v) = vat {
        children.push(el(
            "ram:SpecifiedTaxRegistration",
            vec![text_attr("ram:ID", ("schemeID", "VA"), v)],
        ));
    }
    el(role, children)
}

/// How the invoice is paid (BG-16): by SEPA direct debit under the
/// mandate of its pre-notification (type 59, BT-89 mandate, BT-90 creditor
/// identifier), else by transfer to the régie's account (type 58, BT-84
/// IBAN, BT-86 BIC), with the invoice number as remittance (BT-83).
fn payment_means(seller: &Seller, debit: Option<&DebitNotice>) -> Option<Node> {
    match (debit, &seller.bank) {
        (Some(_), _) => Some(el(
            "ram:SpecifiedTradeSettlementPaymentMeans",
            vec![
                text("ram:TypeCode", "59"),
                text("ram:Information", "Prélèvement SEPA"),
            ],
        )),
        (None, Some((iban, bic))) => Some(el(
            "ram:SpecifiedTradeSettlementPaymentMeans",
            vec![
                text("ram:TypeCode", "58"),
                text("ram:Information", "Virement SEPA"),
                el(
                    "ram:PayeePartyCreditorFinancialAccount",
                    vec![text("ram:IBANID", iban.replace(' ', ""))],
                ),
                el(
                    "ram:PayeeSpecifiedCreditorFinancialInstitution",
                    vec![text("ram:BICID", bic.clone())],
                ),
            ],
        )),
        (None, None) => None,
    }
}

/// The document as CII XML; `debit` is the invoice's pre-notification when
/// it is paid by direct debit.
pub fn to_cii(invoice: &Invoice, seller: &Seller, debit: Option<&DebitNotice>) -> String {
    let credit = invoice.kind == DocumentKind::CreditNote;
    // A credit note's stored amounts are negative; CII wants them positive.
    let sign = |c: Cents| if credit { Cents(-c.0) } else { c };
    let mut items = Vec::new();
    for (i, l) in invoice.lines.iter().enumerate() {
        let net = sign(l.net);
        let (qty, price) = if net.0 < 0 {
            ("-1", Cents(-net.0))
        } else {
            ("1", net)
        };
        items.push(el(
            "ram:IncludedSupplyChainTradeLineItem",
            vec![
                el(
                    "ram:AssociatedDocumentLineDocument",
                    vec![text("ram:LineID", (i + 1).to_string())],
                ),
                el(
                    "ram:SpecifiedTradeProduct",
                    vec![text("ram:Name", l.description.clone())],
                ),
                el(
                    "ram:SpecifiedLineTradeAgreement",
                    vec![el(
                        "ram:NetPriceProductTradePrice",
                        vec![text("ram:ChargeAmount", price.decimal())],
                    )],
                ),
                el(
                    "ram:SpecifiedLineTradeDelivery",
                    vec![text_attr("ram:BilledQuantity", ("unitCode", "C62"), qty)],
                ),
                el(
                    "ram:SpecifiedLineTradeSettlement",
                    vec![
                        tax(l.rate.category, l.rate.basis_points, None, None),
                        el(
                            "ram:SpecifiedTradeSettlementLineMonetarySummation",
                            vec![text("ram:LineTotalAmount", net.decimal())],
                        ),
                    ],
                ),
            ],
        ));
    }
    let b = &invoice.buyer;
    let agreement = el(
        "ram:ApplicableHeaderTradeAgreement",
        vec![
            party(
                &seller.name,
                seller.siren.as_deref(),
                &seller.address,
                None,
                None,
                seller.vat_number.as_deref(),
                "ram:SellerTradeParty",
            ),
            party(
                &b.name,
                if b.kind == AccountKind::Business {
                    b.siren.as_deref()
                } else {
                    None
                },
                &b.address,
                Some(&b.postcode),
                Some(&b.town),
                b.vat_number.as_deref(),
                "ram:BuyerTradeParty",
            ),
        ],
    );
    let mut settlement = Vec::new();
    let debit = debit.filter(|_| !credit);
    if let Some(d) = debit {
        settlement.push(text("ram:CreditorReferenceID", d.creditor_id.clone()));
    }
    if !credit {
        settlement.push(text("ram:PaymentReference", invoice.number.clone()));
    }
    settlement.push(text("ram:InvoiceCurrencyCode", "EUR"));
    if !credit {
        settlement.extend(payment_means(seller, debit));
    }
    for v in &invoice.breakdown {
        settlement.push(tax(
            v.rate.category,
            v.rate.basis_points,
            Some(sign(v.tax)),
            Some(sign(v.taxable)),
        ));
    }
    if let Ok(m) = Month::parse(&invoice.period) {
        settlement.push(el(
            "ram:BillingSpecifiedPeriod",
            vec![
                el("ram:StartDateTime", vec![date(m.first)]),
                el("ram:EndDateTime", vec![date(m.last)]),
            ],
        ));
    }
    if !credit {
        let due = debit.map_or_else(
            || crate::document::debit_day(invoice.issued_on, seller.payment_days),
            |d| d.on,
        );
        let mut terms = vec![el("ram:DueDateDateTime", vec![date(due)])];
        if let Some(d) = debit {
            terms.push(text("ram:DirectDebitMandateID", d.rum.clone()));
        }
        settlement.push(el("ram:SpecifiedTradePaymentTerms", terms));
    }
    let (net, tax_total, gross) = (sign(invoice.net), sign(invoice.tax), sign(invoice.gross));
    settlement.push(el(
        "ram:SpecifiedTradeSettlementHeaderMonetarySummation",
        vec![
            text("ram:LineTotalAmount", net.decimal()),
            text("ram:TaxBasisTotalAmount", net.decimal()),
            text_attr(
                "ram:TaxTotalAmount",
                ("currencyID", "EUR"),
                tax_total.decimal(),
            ),
            text("ram:GrandTotalAmount", gross.decimal()),
            text("ram:DuePayableAmount", gross.decimal()),
        ],
    ));
    if let Some(c) = &invoice.corrects {
        settlement.push(el(
            "ram:InvoiceReferencedDocument",
            vec![text("ram:IssuerAssignedID", c.clone())],
        ));
    }
    let mut transaction = items;
    transaction.push(agreement);
    // BT-72: the day the service was completed (the end of the period
    // billed), a mandatory mention of a French invoice.
    let delivered = Month::parse(&invoice.period).map_or(invoice.issued_on, |m| m.last);
    transaction.push(el(
        "ram:ApplicableHeaderTradeDelivery",
        vec![el(
            "ram:ActualDeliverySupplyChainEvent",
            vec![el("ram:OccurrenceDateTime", vec![date(delivered)])],
        )],
    ));
    transaction.push(el("ram:ApplicableHeaderTradeSettlement", settlement));
    let root = Node::El {
        name: "rsm:CrossIndustryInvoice",
        attrs: vec![
            ("xmlns:rsm", "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100".into()),
            ("xmlns:ram", "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100".into()),
            ("xmlns:qdt", "urn:un:unece:uncefact:data:standard:QualifiedDataType:100".into()),
            ("xmlns:udt", "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100".into()),
        ],
        children: vec![
            el(
                "rsm:ExchangedDocumentContext",
                vec![el("ram:GuidelineSpecifiedDocumentContextParameter", vec![text("ram:ID", "urn:cen.eu:en16931:2017")])],
            ),
            el(
                "rsm:ExchangedDocument",
                vec![
                    text("ram:ID", invoice.number.clone()),
                    text("ram:TypeCode", if credit { "381" } else { "380" }),
                    el("ram:IssueDateTime", vec![date(invoice.issued_on)]),
                ],
            ),
            el("rsm:SupplyChainTradeTransaction", transaction),
        ],
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write(&root, &mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_have_two_decimals_and_a_point() {
        assert_eq!(rate(550), "5.50");
    }

    #[test]
    fn text_is_escaped() {
        let mut out = String::new();
        write(&text("ram:Name", "Dupont & fils <SARL>"), &mut out, 0);
        assert_eq!(out, "<ram:Name>Dupont &amp; fils &lt;SARL&gt;</ram:Name>\n");
    }
}
