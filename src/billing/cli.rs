//! `regie billing …`: monthly runs from the command line, with a progress
//! bar on standard error for the long ones.

use billing::compute::Month;
use regie_core::audit::Actor;
use regie_core::Db;

use crate::cli::{BillingCommand, OutputFormat};
use crate::Error;

fn report_text(r: &billing::run::Report) -> String {
    let mut out = format!(
        "{}: {} invoice(s) to issue or issued ({} issued now, {} already issued), {} VAT included\n",
        r.period, r.to_issue, r.issued, r.already, r.gross
    );
    for (offer, n) in &r.per_offer {
        out.push_str(&format!("  {offer:<12} {n}\n"));
    }
    for a in &r.anomalies {
        out.push_str(&format!("  anomaly: {a}\n"));
    }
    out
}

pub async fn run(
    db: &Db,
    config: &crate::platform::config::Config,
    cmd: BillingCommand,
) -> Result<(), Error> {
    match cmd {
        BillingCommand::Sepa {
            date,
            output,
            version,
        } => {
            let sepa = config
                .sepa
                .as_ref()
                .ok_or_else(|| Error::Invalid("no [sepa] section in the configuration: the régie's creditor identifier, IBAN and BIC are needed".into()))?;
            let creditor = sepa.creditor(&config.regie_name)?;
            let version = match version.as_str() {
                "08" => billing::sepa::Pain008::V08,
                "02" => billing::sepa::Pain008::V02,
                other => return Err(Error::Invalid(format!("version {other:?}: 08 or 02"))),
            };
            let day: chrono::NaiveDate = date
                .parse()
                .map_err(|_| Error::Invalid(format!("date {date:?}: expected YYYY-MM-DD")))?;
            let message_id = format!(
                "PRLV-{}-{}",
                day.format("%Y%m%d"),
                uuid::Uuid::new_v4()
                    .simple()
                    .to_string()
                    .get(..8)
                    .unwrap_or_default()
            );
            // The file is written inside the batch's transaction: if the
            // write fails, no invoice is marked as collected.
            let created = chrono::Utc::now();
            let collections = billing::storage::prepare_collections(
                db,
                &Actor::system("cli"),
                day,
                config.payment_days.max(sepa.prenotice_days),
                config.dunning.represent_returned,
                &message_id,
                |c| {
                    let xml =
                        billing::sepa::pain008(version, &message_id, created, &creditor, day, c)?;
                    std::fs::write(&output, xml).map_err(|e| {
                        billing::Error::Invalid(format!("cannot write {}: {e}", output.display()))
                    })
                },
            )
            .await?;
            if collections.is_empty() {
                println!("nothing to debit on {day}");
                return Ok(());
            }
            let total = billing::money::Cents::sum(collections.iter().map(|c| c.amount))?;
            println!(
                "{}: {} debit(s), {total}, written to {}",
                message_id,
                collections.len(),
                output.display()
            );
            Ok(())
        }
        BillingCommand::Pdfs { period, output } => {
            let month = Month::parse(&period)?;
            let started = std::time::Instant::now();
            let written = write_pdfs(db, config, &month.label(), &output).await?;
            println!(
                "{}: {written} document(s) written to {} in {:.1} s",
                month.label(),
                output.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        BillingCommand::Preview { period, format } => {
            let month = Month::parse(&period)?;
            let report = billing::run::preview(db, month).await?;
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report)
                        .map_err(|e| Error::Internal(e.to_string()))?
                ),
                OutputFormat::Text => print!("{}", report_text(&report)),
            }
            Ok(())
        }
        BillingCommand::Run { period, issued_on } => {
            let month = Month::parse(&period)?;
            let issued_on = match issued_on {
                Some(d) => d.parse().map_err(|_| {
                    Error::Invalid(format!(
                        "date d'émission « {d} » : date attendue au format AAAA-MM-JJ"
                    ))
                })?,
                None => crate::social::today(),
            };
            let issued_on = billing::run::IssueDate::new(month, issued_on, crate::social::today())?;
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} subscriptions, {eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let progress_bar = bar.clone();
            let mut progress = move |done: usize, total: usize| {
                progress_bar.set_length(u64::try_from(total).unwrap_or(u64::MAX));
                progress_bar.set_position(u64::try_from(done).unwrap_or(u64::MAX));
            };
            let report = billing::run::issue_with_progress(
                db,
                &Actor::system("cli"),
                month,
                issued_on,
                &mut progress,
            )
            .await;
            bar.finish_and_clear();
            print!("{}", report_text(&report?));
            Ok(())
        }
    }
}

/// Writes the PDFs of a period's documents into `dir`, a page of 500 at a
/// time (memory stays flat), each page rendered on every core. A file is
/// written under a temporary name, then renamed: an interrupted run
/// leaves no truncated PDF behind, and running again replaces them all.
async fn write_pdfs(
    db: &Db,
    config: &crate::platform::config::Config,
    period: &str,
    dir: &std::path::Path,
) -> Result<usize, Error> {
    const PAGE: usize = 500;
    crate::cli::ensure_writable_dir(dir, "output directory")?;
    let seller = std::sync::Arc::new(config.seller());
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} PDF written, {per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let mut after = 0;
    let mut written = 0;
    loop {
        let page = billing::storage::period_documents(db, period, after, PAGE).await?;
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            break;
        };
        after = last.id;
        // The pre-notification goes on the invoices of accounts paying by
        // direct debit, as on the invoice downloaded from the page.
        let mandates = match &config.sepa {
            Some(_) => {
                let low = page
                    .iter()
                    .map(|d| d.account_id)
                    .min()
                    .unwrap_or(first.account_id);
                let high = page
                    .iter()
                    .map(|d| d.account_id)
                    .max()
                    .unwrap_or(first.account_id);
                billing::storage::live_mandates_between(db, low, high).await?
            }
            None => Default::default(),
        };
        let docs: Vec<_> = page
            .into_iter()
            .map(|d| {
                let notice = config.sepa.as_ref().and_then(|sepa| {
                    mandates.get(&d.document.account).and_then(|m| {
                        billing::document::DebitNotice::new(
                            &d.document,
                            m,
                            &sepa.creditor_id,
                            config.debit_days().unwrap_or(sepa.prenotice_days),
                        )
                    })
                });
                (d.document, notice)
            })
            .collect();
        // Rendering is CPU work: off the async workers, on its own threads.
        let seller = std::sync::Arc::clone(&seller);
        let (docs, rendered) = tokio::task::spawn_blocking(move || {
            let rendered = billing::document::pdfs(&docs, &seller, threads);
            (docs, rendered)
        })
        .await
        .map_err(|e| Error::Internal(format!("rendering the PDFs stopped: {e}")))?;
        for ((doc, _), pdf) in docs.iter().zip(rendered) {
            crate::cli::write_atomically(&dir.join(format!("{}.pdf", doc.number)), &pdf?)?;
            written += 1;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(written)
}

/// Keeps subscriptions in step with their lines: every minute, billing
/// applies provisioning's new line events (on one instance, see
/// [`crate::platform::schedule`]).
pub fn spawn_line_follower(state: &crate::AppState) {
    let st = state.clone();
    state.scheduler.every(
        &state.db,
        "line_follower",
        std::time::Duration::from_secs(60),
        move || {
            let st = st.clone();
            async move {
                let actor = Actor::system("billing");
                billing::sync::follow_lines(&st.db, &st.provisioning, &actor)
                    .await
                    .map(|n| format!("{n} changes"))
                    .map_err(|e| e.to_string())
            }
        },
    );
}

/// Runs the dunning pass every hour (the pass is idempotent: a step done
/// today is not done again), so a settled account is resumed within the
/// hour and the reminders of the day go out once.
pub fn spawn_dunning(state: &crate::AppState) {
    let st = state.clone();
    state.scheduler.every(
        &state.db,
        "dunning",
        std::time::Duration::from_secs(3600),
        move || {
            let st = st.clone();
            async move {
                let actor = Actor::system("dunning");
                billing::dunning::pass(
                    &st.db,
                    &st.provisioning,
                    &actor,
                    crate::social::today(),
                    st.config.payment_days,
                    &st.config.dunning,
                )
                .await
                .map(|r| format!("{} reminders", r.reminders.len()))
                .map_err(|e| e.to_string())
            }
        },
    );
}
