//! Finding an account as the accountant knows it: by name or account
//! code (any part, any letter case), by an invoice or credit-note number,
//! by a line id, or by the last digits of the IBAN its mandate debits.

use regie_core::Db;

use super::{account_from, storage, Result, ACCOUNT_COLUMNS};
use crate::model::Account;
use crate::Error;

/// What the accountant typed, checked once: 2 to 80 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountQuery(String);

impl AccountQuery {
    pub fn parse(s: &str) -> std::result::Result<Self, Error> {
        let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
        let n = t.chars().count();
        if !(2..=80).contains(&n) {
            return Err(Error::Invalid(
                "tapez au moins 2 caractères (80 au plus) : un nom, un numéro de compte, de facture ou de ligne, ou la fin d'un IBAN".into(),
            ));
        }
        Ok(AccountQuery(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text for a `LIKE … ESCAPE '\'`: wildcards taken literally.
    fn like_part(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + 2);
        out.push('%');
        for c in self.0.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('%');
        out
    }

    /// The last digits of an IBAN: 3 to 11 digits (spaces ignored).
    fn iban_tail(&self) -> Option<String> {
        let digits: String = self.0.chars().filter(|c| !c.is_whitespace()).collect();
        ((3..=11).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| format!("%{digits}"))
    }
}

/// The accounts matching `q`, by name, at most `limit`.
pub async fn search_accounts(db: &Db, q: &AccountQuery, limit: usize) -> Result<Vec<Account>> {
    let exact = q.as_str().to_uppercase();
    let rows = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM bil_accounts a
         WHERE LOWER(a.name) LIKE $1 ESCAPE '\\' OR LOWER(a.code) LIKE $1 ESCAPE '\\'
            OR a.id IN (SELECT i.account_id FROM bil_invoices i WHERE i.number = $2)
            OR a.id IN (SELECT s.account_id FROM bil_subscriptions s WHERE UPPER(s.line_id) = $2)
            OR a.id IN (SELECT m.account_id FROM bil_mandates m WHERE m.iban LIKE $3)
         ORDER BY a.name, a.code LIMIT $4"
    ))
    .bind(q.like_part())
    .bind(exact)
    .bind(q.iban_tail().unwrap_or_else(|| "-".into()))
    .bind(i64::try_from(limit).unwrap_or(50))
    .fetch_all(db.pool())
    .await
    .map_err(storage)?;
    rows.iter().map(account_from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_bounded_and_wildcards_literal() {
        assert!(AccountQuery::parse(" a ").is_err());
        assert!(AccountQuery::parse(&"x".repeat(81)).is_err());
        let q = AccountQuery::parse("  Mar  tin_%  ").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.as_str(), "Mar tin_%");
        assert_eq!(q.like_part(), "%mar tin\\_\\%%");
        assert_eq!(
            AccountQuery::parse("0189").ok().and_then(|q| q.iban_tail()),
            Some("%0189".into())
        );
        assert_eq!(
            AccountQuery::parse("Martin")
                .ok()
                .and_then(|q| q.iban_tail()),
            None
        );
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_reads_what_it_prints(s in "\\PC{0,100}") {
            if let Ok(q) = AccountQuery::parse(&s) {
                proptest::prop_assert_eq!(AccountQuery::parse(q.as_str()).ok(), Some(q));
            }
        }
    }
}
