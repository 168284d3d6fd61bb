//! Subscriptions follow their lines: billing reads provisioning's public
//! event feed (never its tables) and applies what concerns the bill — a
//! suspension at the subscriber's request stops billing from that day, a
//! resumption restarts it, a termination ends the subscription after its
//! last day. Suspensions for unpaid bills, faults or the keep-connected
//! throttle change nothing: those days are billed. A subscription starts
//! no earlier than the day its line entered service ([`subscribe`]).

use chrono::NaiveDate;
use provisioning::lifecycle::State;
use provisioning::line::Event;
use regie_core::audit::Actor;
use regie_core::Db;

use crate::storage::{self, SubscriptionChange};
use crate::Error;

/// What an event means for the subscription, from which day (in France,
/// like the day a line enters service: a suspension at 23:30 UTC falls on
/// the next day in Paris, the day billing counts in).
pub fn change_for(event: &Event) -> Option<(SubscriptionChange, NaiveDate)> {
    let day = regie_core::time::paris_day(regie_core::time::from_db(&event.at)?);
    let reason = event
        .detail
        .as_ref()
        .and_then(|d| d.get("reason"))
        .and_then(|r| r.as_str());
    match (event.step.as_str(), event.to_state) {
        (_, State::Terminated) => Some((SubscriptionChange::End, day.succ_opt()?)),
        ("suspend", State::Suspended) if reason == Some("subscriber_request") => {
            Some((SubscriptionChange::SuspendOnRequest, day))
        }
        ("resume", State::Active) => Some((SubscriptionChange::Resume, day)),
        _ => None,
    }
}

/// The day (in France) a line first entered service, from its history;
/// `None` while it never has.
pub fn in_service_since(history: &[Event]) -> Option<NaiveDate> {
    history
        .iter()
        .find(|e| e.to_state == State::Active)
        .and_then(|e| regie_core::time::from_db(&e.at))
        .map(regie_core::time::paris_day)
}

/// Refuses a subscription that would start before its line is in service:
/// the days before activation are not owed.
pub fn check_start(line_id: &str, on: NaiveDate, since: Option<NaiveDate>) -> Result<(), Error> {
    match since {
        None => Err(Error::Invalid(format!(
            "la ligne {line_id} n'est pas encore en service : l'abonnement se crée une fois la ligne activée"
        ))),
        Some(since) if on < since => Err(Error::Invalid(format!(
            "la ligne {line_id} est en service depuis le {} : l'abonnement ne peut commencer avant",
            since.format("%d/%m/%Y")
        ))),
        Some(_) => Ok(()),
    }
}

/// Subscribes a provisioning line to an offer from `on`, which may not be
/// before the line entered service.
pub async fn subscribe(
    db: &Db,
    lines: &provisioning::service::Provisioning,
    actor: &Actor,
    account: &str,
    line_id: &str,
    offer: &str,
    on: NaiveDate,
) -> Result<crate::model::Subscription, Error> {
    let line_id = line_id.trim();
    let history = lines.history(line_id).await.map_err(|e| match e {
        provisioning::Error::NotFound(_) => Error::Invalid(format!("aucune ligne « {line_id} »")),
        other => Error::Upstream(format!("provisioning : {other}")),
    })?;
    check_start(line_id, on, in_service_since(&history))?;
    storage::subscribe(db, actor, account, line_id, offer, on).await
}

/// Applies the line events since the last run; answers how many changed
/// a subscription. A change refused (e.g. before the subscription's
/// current stretch) is logged and passed over. Each change is written in
/// one transaction with the cursor moved past its event, so a crash
/// between the two can neither lose the change nor apply it twice.
#[tracing::instrument(skip_all)]
pub async fn follow_lines(
    db: &Db,
    lines: &provisioning::service::Provisioning,
    actor: &Actor,
) -> Result<usize, Error> {
    let mut applied = 0;
    loop {
        let after = storage::cursor(db).await?;
        let events = lines
            .events_since(after, 500)
            .await
            .map_err(|e| Error::Upstream(format!("provisioning : {e}")))?;
        let Some(last) = events.last().map(|e| e.seq) else {
            break;
        };
        for e in &events {
            let Some((change, on)) = change_for(e) else {
                continue;
            };
            let Some(code) = storage::live_subscription_of_line(db, &e.line_id).await? else {
                continue;
            };
            let mut tx = db.begin().await.map_err(Error::Storage)?;
            match storage::change_in(&mut tx, actor, &code, on, &change).await {
                Ok(()) => {
                    storage::advance_cursor(&mut tx, e.seq).await?;
                    tx.commit().await.map_err(|e| Error::Storage(e.into()))?;
                    applied += 1;
                }
                Err(Error::Invalid(m)) => {
                    tracing::warn!(subscription = %code, line = %e.line_id, seq = e.seq, reason = %m, "line event not applied");
                    tx.rollback().await.map_err(|e| Error::Storage(e.into()))?;
                }
                Err(other) => return Err(other),
            }
        }
        // The events that change no bill need no transaction of their own.
        let mut conn = db
            .pool()
            .acquire()
            .await
            .map_err(|e| Error::Storage(e.into()))?;
        storage::advance_cursor(&mut conn, last).await?;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn a_subscription_starts_once_the_line_is_in_service() {
        assert!(check_start("RGE-AAAA-0001", d("2026-11-01"), None).is_err());
        match check_start("RGE-AAAA-0001", d("2026-11-01"), Some(d("2026-11-17"))) {
            Err(Error::Invalid(m)) => assert!(m.contains("depuis le 17/11/2026"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(check_start("RGE-AAAA-0001", d("2026-11-17"), Some(d("2026-11-17"))).is_ok());
        assert!(check_start("RGE-AAAA-0001", d("2026-12-01"), Some(d("2026-11-17"))).is_ok());
    }

    fn event(at: &str, to: State) -> Event {
        Event {
            seq: 1,
            line_id: "RGE-AAAA-0001".into(),
            at: at.into(),
            step: "x".into(),
            from_state: None,
            to_state: to,
            detail: None,
            actor: "t".into(),
        }
    }

    #[test]
    fn the_day_in_service_is_the_day_in_france() {
        // 23:30 UTC on 16 November is 00:30 on the 17th in Paris.
        let h = [
            event("2026-11-10T09:00:00.000000Z", State::Ordered),
            event("2026-11-16T23:30:00.000000Z", State::Active),
            event("2026-11-20T09:00:00.000000Z", State::Active),
        ];
        assert_eq!(in_service_since(&h), Some(d("2026-11-17")));
        // A change late in the UTC evening counts from the day in Paris.
        let mut resumed = event("2026-11-16T23:30:00.000000Z", State::Active);
        resumed.step = "resume".into();
        assert_eq!(
            change_for(&resumed).map(|(_, on)| on),
            Some(d("2026-11-17"))
        );
        assert_eq!(in_service_since(&h[..1]), None);
    }
}
