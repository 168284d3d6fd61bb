//! A month's billing run: previewed (totals, counts per offer, anomalies)
//! without writing anything, then issued page by page (1,000 subscriptions
//! read, computed and inserted in one transaction, the next page read while
//! this one is written), so memory stays flat
//! whatever the network's size. Issuing twice issues nothing new; a run
//! killed midway and started again completes the month without a gap.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use regie_core::audit::Actor;
use regie_core::Db;
use serde::Serialize;

use crate::compute::Month;
use crate::money::Cents;
use crate::storage;
use crate::Error;

/// What a run would issue or issued.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Report {
    pub period: String,
    /// Invoices issued by this run (0 in a preview).
    pub issued: usize,
    /// Subscriptions already invoiced for the month.
    pub already: usize,
    /// Subscriptions to invoice (in a preview) or invoiced now.
    pub to_issue: usize,
    /// Total VAT included of what is (to be) issued.
    pub gross: Cents,
    /// Subscriptions per offer code.
    pub per_offer: BTreeMap<String, usize>,
    /// Problems that need a look before issuing, in French.
    pub anomalies: Vec<String>,
}

/// Progress of a run: (subscriptions done, subscriptions in the month).
pub type Progress<'a> = &'a mut (dyn FnMut(usize, usize) + Send);

/// Subscriptions read, computed and issued at a time.
const PAGE: usize = 1000;

async fn walk(
    db: &Db,
    month: Month,
    issue: Option<(&Actor, NaiveDate)>,
    progress: Progress<'_>,
) -> Result<Report, Error> {
    let social = storage::social_days(db, month).await?;
    let devices = storage::granted_devices(db, month).await?;
    // A household's devices go on the invoice of its first subscription
    // (the lowest id): the same one on every rerun.
    let mut carried: std::collections::HashMap<i64, &[crate::compute::GrantedDevice]> =
        std::collections::HashMap::new();
    for (household, list) in &devices {
        if let Some(id) = storage::first_subscription_of(db, household, month).await? {
            carried.insert(id, list.as_slice());
        }
    }
    let mut report = Report {
        period: month.label(),
        ..Report::default()
    };
    let total = storage::billable_count(db, month).await?;
    let mut done = 0;
    let mut page = storage::billable_page(db, month, 0, PAGE).await?;
    while let Some(last) = page.last() {
        let after = last.subscription_id;
        progress(done, total);
        done += page.len();
        let mut items = Vec::with_capacity(page.len());
        for b in &page {
            if b.invoiced {
                report.already += 1;
                continue;
            }
            if b.account.address.trim().is_empty() {
                report
                    .anomalies
                    .push(format!("le compte {} n'a pas d'adresse", b.account.code));
            }
            let mine = carried.get(&b.subscription_id).copied().unwrap_or(&[]);
            let lines = match storage::lines_for(b, month, &social, mine) {
                Ok(l) => l,
                Err(e) => {
                    report
                        .anomalies
                        .push(format!("abonnement {} : {e}", b.subscription));
                    continue;
                }
            };
            if lines.is_empty() {
                continue;
            }
            let t = crate::money::totals(lines.iter().map(|l| (l.net, l.rate)))?;
            if t.gross.0 < 0 {
                report.anomalies.push(format!(
                    "abonnement {} : total négatif ({})",
                    b.subscription, t.gross
                ));
                continue;
            }
            if let Some(s) = b.segments.last() {
                *report.per_offer.entry(s.offer.code.clone()).or_default() += 1;
            }
            if issue.is_none() {
                report.to_issue += 1;
                report.gross = report.gross.checked_add(t.gross)?;
            }
            items.push((b, lines));
        }
        // The next page is read while this one is written: the reads
        // (periods, accounts) do not depend on the invoices being inserted.
        let next = storage::billable_page(db, month, after, PAGE);
        let next = match issue {
            Some((actor, issued_on)) => {
                let (written, next) = tokio::join!(
                    storage::issue_batch(db, actor, &items, month, issued_on),
                    next
                );
                let (issued, gross) = written?;
                // A concurrent run may have issued some of the page meanwhile.
                report.already += items.len() - issued;
                report.issued += issued;
                report.to_issue += issued;
                report.gross = report.gross.checked_add(gross)?;
                next?
            }
            None => next.await?,
        };
        drop(items);
        page = next;
    }
    progress(done, total);
    Ok(report)
}

/// The day a month's invoices are issued: after the month is over, and
/// not after today in France (the series' own order is checked as numbers
/// are taken). Only [`IssueDate::new`] makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueDate(NaiveDate);

impl IssueDate {
    /// `on` as the issue day of `month`, `today` being today's date.
    pub fn new(month: Month, on: NaiveDate, today: NaiveDate) -> Result<Self, Error> {
        if on <= month.last {
            let next = month.last.succ_opt().unwrap_or(month.last);
            return Err(Error::Invalid(format!(
                "le mois {} n'est pas terminé : ses factures s'émettent à partir du {}",
                regie_core::fr::month_year(
                    chrono::Datelike::year(&month.first),
                    chrono::Datelike::month(&month.first)
                ),
                next.format("%d/%m/%Y")
            )));
        }
        storage::series::not_after(on, today, "la date d'émission")?;
        Ok(IssueDate(on))
    }

    pub fn day(self) -> NaiveDate {
        self.0
    }
}

/// What issuing `month` would do, without writing.
#[tracing::instrument(skip_all, fields(period = %month.label()))]
pub async fn preview(db: &Db, month: Month) -> Result<Report, Error> {
    walk(db, month, None, &mut |_, _| {}).await
}

/// Issues the invoices of `month` not yet issued.
pub async fn issue(
    db: &Db,
    actor: &Actor,
    month: Month,
    issued_on: IssueDate,
) -> Result<Report, Error> {
    issue_with_progress(db, actor, month, issued_on, &mut |_, _| {}).await
}

/// [`issue`], telling `progress` how far it is (for a progress bar).
#[tracing::instrument(skip_all, fields(period = %month.label(), actor = %actor.username, issued_on = %issued_on.day()))]
pub async fn issue_with_progress(
    db: &Db,
    actor: &Actor,
    month: Month,
    issued_on: IssueDate,
    progress: Progress<'_>,
) -> Result<Report, Error> {
    let issued_on = issued_on.day();
    let started = std::time::Instant::now();
    let report = walk(db, month, Some((actor, issued_on)), progress).await?;
    tracing::info!(
        issued = report.issued,
        already = report.already,
        duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "billing run"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn a_month_is_issued_once_over_and_never_in_the_future() {
        let nov = Month::parse("2026-11").unwrap_or_else(|e| panic!("{e}"));
        let today = d("2026-12-07");
        match IssueDate::new(nov, d("2026-11-30"), today) {
            Err(Error::Invalid(m)) => assert!(
                m.contains("novembre 2026 n'est pas terminé") && m.contains("01/12/2026"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        match IssueDate::new(nov, d("2026-12-08"), today) {
            Err(Error::Invalid(m)) => assert!(
                m.contains("dans le futur") && m.contains("07/12/2026"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            IssueDate::new(nov, d("2026-12-01"), today)
                .map(IssueDate::day)
                .ok(),
            Some(d("2026-12-01"))
        );
        assert!(IssueDate::new(nov, today, today).is_ok());
    }
}
