//! Documents built by hand for the unit tests of the exports: one
//! subscription line per net amount, totals computed as an issued
//! document's are, a household as buyer.

use crate::compute::{Line, LineKind};
use crate::model::{Account, AccountKind, DocumentKind, Invoice};
use crate::money::{totals, Cents, VatRate};

/// A document of `kind` issued on 2026-12-01 for November 2026, with one
/// line per amount in `nets` (cents), to the household `buyer` living at
/// `address`; a credit note corrects `FA2026-000001`.
pub(crate) fn document(
    number: &str,
    kind: DocumentKind,
    nets: &[i64],
    buyer: &str,
    address: &str,
) -> Invoice {
    let lines: Vec<Line> = nets
        .iter()
        .map(|n| Line {
            kind: LineKind::Subscription,
            description: "Fibre".into(),
            net: Cents(*n),
            rate: VatRate::STANDARD,
        })
        .collect();
    let t = totals(lines.iter().map(|l| (l.net, l.rate))).unwrap_or_else(|e| panic!("{e}"));
    Invoice {
        number: number.into(),
        kind,
        account: "CPT-AAAAAA".into(),
        subscription: None,
        period: "2026-11".into(),
        issued_on: "2026-12-01".parse().unwrap_or_default(),
        lines,
        breakdown: t.breakdown,
        net: t.net,
        tax: t.tax,
        gross: t.gross,
        corrects: (kind == DocumentKind::CreditNote).then(|| "FA2026-000001".into()),
        buyer: Account {
            code: "CPT-AAAAAA".into(),
            kind: AccountKind::Household,
            name: buyer.into(),
            address: address.into(),
            postcode: "35000".into(),
            town: "Rennes".into(),
            email: None,
            siren: None,
            vat_number: None,
            household: None,
        },
    }
}
