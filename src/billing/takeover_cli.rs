//! `regie takeover import DIR`: the outgoing concession's subscriber base
//! taken over from CSV files (the layout is in the README), all or
//! nothing, with the letters announcing the change of creditor;
//! `regie takeover letters` writes those letters again from the database.

use std::path::{Path, PathBuf};

use billing::takeover::{self, CreditorLetter, NewCreditor, Options, Outcome};
use regie_core::audit::Actor;
use regie_core::Db;

use crate::platform::config::Config;
use crate::Error;

/// Runs the import and prints its report; writes the letters and the
/// table of new line ids under `output` once the takeover is kept.
pub async fn import(
    db: &Db,
    config: &Config,
    dir: &Path,
    dry_run: bool,
    on: Option<&str>,
    output: Option<PathBuf>,
) -> Result<(), Error> {
    if !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "{} is not a directory holding {}",
            dir.display(),
            takeover::FILES.join(", ")
        )));
    }
    let on = match on {
        None => chrono::Utc::now().date_naive(),
        Some(d) => d
            .parse()
            .map_err(|_| Error::Invalid(format!("--on {d:?}: expected YYYY-MM-DD")))?,
    };
    let output = output.unwrap_or_else(|| dir.join("reprise"));
    if !dry_run {
        // Checked before anything is written: a takeover kept without its
        // letters would leave households uninformed.
        crate::cli::ensure_writable_dir(&output, "output directory")?;
    }
    let creditor = new_creditor(config)?;
    let lines = provisioning::service::Provisioning::new(
        db.clone(),
        inventory::service::PlantCache::default(),
        config.drivers()?,
        config.provisioning_settings(),
    );
    let outcome = takeover::import(
        db,
        &lines,
        &Actor::system("takeover"),
        dir,
        &Options { on, dry_run },
        creditor.as_ref(),
    )
    .await?;
    print!("{}", outcome_text(&outcome, dry_run));
    if outcome.report.has_errors() {
        return Err(Error::Invalid(format!(
            "the takeover has {} error(s); nothing was written",
            outcome.report.error_count
        )));
    }
    if outcome.committed {
        write_outputs(&outcome, config, &output)?;
        println!(
            "{} letter(s) and correspondance-lignes.csv written to {}",
            outcome.letters.len(),
            output.display()
        );
    }
    Ok(())
}

/// Writes again, under `output`, the change-of-creditor letter of every
/// mandate taken over and still in force: for a takeover whose letters
/// were lost, or imported before the SEPA section was configured.
pub async fn letters(db: &Db, config: &Config, output: &Path) -> Result<(), Error> {
    let creditor = new_creditor(config)?.ok_or_else(|| {
        Error::Invalid(
            "the configuration has no [sepa] section: the letters name the régie's SEPA creditor identifier".into(),
        )
    })?;
    crate::cli::ensure_writable_dir(output, "output directory")?;
    let letters = takeover::creditor_letters(db, &creditor).await?;
    write_letters(&letters, config, output)?;
    println!(
        "{} letter(s) written to {}",
        letters.len(),
        output.display()
    );
    Ok(())
}

/// The régie as the creditor the letters name, when SEPA is configured.
fn new_creditor(config: &Config) -> Result<Option<NewCreditor>, Error> {
    Ok(match &config.sepa {
        Some(s) => Some(NewCreditor {
            seller: config.seller(),
            id: s.creditor(&config.regie_name)?.id,
        }),
        None => None,
    })
}

fn write_file(output: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    crate::cli::write_atomically(&output.join(name), bytes)
}

fn write_outputs(outcome: &Outcome, config: &Config, output: &Path) -> Result<(), Error> {
    let mut table = String::from("ref_ligne;ligne\n");
    for (former, id) in &outcome.lines {
        table.push_str(&format!("{former};{id}\n"));
    }
    write_file(output, "correspondance-lignes.csv", table.as_bytes())?;
    write_letters(&outcome.letters, config, output)
}

/// One PDF per letter, named after the account and the RUM.
fn write_letters(letters: &[CreditorLetter], config: &Config, output: &Path) -> Result<(), Error> {
    let seller = config.seller();
    for letter in letters {
        let pdf = billing::document::render(
            format!("Changement de créancier — mandat {}", letter.rum),
            &seller,
            letter.blocks.clone(),
        )?;
        let safe: String = letter
            .rum
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        write_file(
            output,
            &format!("changement-creancier-{}-{safe}.pdf", letter.account),
            &pdf,
        )?;
    }
    Ok(())
}

/// The report, then what was (or would be) taken over.
pub fn outcome_text(o: &Outcome, dry_run: bool) -> String {
    let mut out = String::new();
    for issue in &o.report.issues {
        out.push_str(&format!("{issue}\n"));
    }
    let c = &o.counts;
    out.push_str(&format!(
        "\n{} error(s)\noffers {}, accounts {}, lines {}, subscriptions {}, mandates {}, balances {} ({})\n",
        o.report.error_count,
        c.offers,
        c.accounts,
        c.lines,
        c.subscriptions,
        c.mandates,
        c.balances,
        c.balances_total
    ));
    out.push_str(if o.committed {
        "taken over\n"
    } else if dry_run && !o.report.has_errors() {
        "dry run: everything checks, nothing written\n"
    } else {
        "nothing written\n"
    });
    out
}
