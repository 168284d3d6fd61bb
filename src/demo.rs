//! Demo data for `regie serve --demo`.
//!
//! Loaded only into a database without users, so running `--demo` against a
//! database in use changes nothing. Each domain contributes its demo data
//! here as it lands; nothing comes from outside the repository.

use std::path::Path;

use regie_core::audit::Actor;
use regie_core::Db;

use crate::platform::auth::{Password, Role, Username};
use crate::platform::storage;
use crate::Error;

/// A demo account and its password, printed once.
#[derive(Debug)]
pub struct DemoAccount {
    pub username: String,
    pub role: Role,
    pub password: Password,
}

const ACCOUNTS: &[(&str, &str, Role)] = &[
    ("admin", "Camille Roux", Role::Admin),
    ("technicien", "Karim Benali", Role::Technician),
    ("comptable", "Sophie Lefèvre", Role::Accountant),
    ("agent", "Nadia Moreau", Role::SocialAgent),
    ("foyer", "Famille Martin", Role::Household),
];

/// Size of the demo network of `serve --demo`.
pub const DEMO_PREMISES: u32 = 3_000;
/// Its seed: the same network on every machine.
pub const DEMO_SEED: u64 = 2026;

/// Loads the demo into an empty database; `None` if it already has users.
/// The network has about `premises` premises, generated into
/// `DATA_DIR/demo-network` (a GraceTHD delivery one can read and re-import)
/// and imported.
pub async fn load(
    db: &Db,
    data_dir: &Path,
    premises: u32,
    lines: &provisioning::service::Provisioning,
) -> Result<Option<Vec<DemoAccount>>, Error> {
    if storage::user_count(db).await? > 0 {
        return Ok(None);
    }
    let actor = Actor::system("demo");
    let mut accounts = Vec::new();
    let mut household_user = None;
    let mut technician = None;
    let mut agent = None;
    for (name, display, role) in ACCOUNTS {
        let password = Password::random();
        let username = Username::parse(name)?;
        let user = storage::create_user(
            db,
            &actor,
            &username,
            &crate::platform::auth::DisplayName::parse(display, &username)?,
            &password.hash()?,
            &[*role],
        )
        .await?;
        if *role == Role::Household {
            household_user = Some(user.id);
        }
        let as_actor = Actor {
            user_id: Some(user.id),
            username: user.username.clone(),
            request_id: None,
        };
        match role {
            Role::Technician => technician = Some(as_actor),
            Role::SocialAgent => agent = Some(as_actor),
            _ => {}
        }
        accounts.push(DemoAccount {
            username: user.username,
            role: *role,
            password,
        });
    }
    let mut households = Vec::new();
    for (name, user_id) in [
        ("Famille Martin", household_user),
        ("Famille Bernard", None),
        ("M. et Mme Petit", None),
        ("Mme Leroy", None),
    ] {
        let h = social_tariff::create_household(
            db,
            &actor,
            &social_tariff::NewHousehold {
                display_name: name.into(),
                user_id,
            },
        )
        .await?;
        households.push(h.code);
    }
    // The social tariff's rules, as a council would have voted them: the
    // public page has something to show.
    social_tariff::publish_rule_set(db, &actor, social_tariff::rules::EXAMPLE).await?;
    let agent = agent.unwrap_or_else(|| actor.clone());
    demo_social(db, &agent, &households).await?;
    let network = data_dir.join("demo-network");
    let generated = {
        let dir = network.clone();
        tokio::task::spawn_blocking(move || {
            inventory::generate::generate(premises, DEMO_SEED, &dir)
        })
        .await
        .map_err(|e| Error::Internal(format!("demo network generation: {e}")))??
    };
    let imported = inventory::service::import(db, &actor, &network, false).await?;
    if imported.refused() {
        return Err(Error::Internal(
            "the generated demo network did not pass validation".into(),
        ));
    }
    tracing::info!(
        premises = generated.premises,
        pon_ports = generated.pon_ports,
        "demo network loaded"
    );
    let technician = technician.unwrap_or_else(|| actor.clone());
    let made = demo_lines(db, lines, &actor, &technician).await?;
    tracing::info!(lines = made.len(), "demo lines provisioned");
    demo_billing(db, &actor, &made, &households).await?;
    write_credentials(data_dir, &accounts);
    Ok(Some(accounts))
}

/// The address pools of the demo, in documentation ranges (RFC 5737,
/// RFC 3849) and the shared address space.
const POOLS: &[(&str, &str, &str)] = &[
    ("cgnat", "cgnat_v4", "100.64.0.0/16"),
    ("public", "public_v4", "198.51.100.0/24"),
    ("pd", "delegated_v6", "2001:db8::/40"),
    ("wan", "wan_v6", "2001:db8:ff00::/48"),
];

/// Lines in every state on the first PM, as a technician would have left
/// them: the demo's OLT (a simulator) holds the active ones.
async fn demo_lines(
    db: &Db,
    service: &provisioning::service::Provisioning,
    admin: &Actor,
    tech: &Actor,
) -> Result<Vec<provisioning::line::Line>, Error> {
    use provisioning::lifecycle::SuspendReason;
    use provisioning::service::{Installation, NewPool, Order};
    for (name, kind, network) in POOLS {
        service
            .add_pool(
                admin,
                &NewPool {
                    name: (*name).into(),
                    kind: (*kind).into(),
                    network: (*network).into(),
                    assign_len: None,
                },
            )
            .await?;
    }
    let plant = inventory::storage::load(db).await?;
    let mut candidates = Vec::new();
    for suf in plant.sufs.values() {
        if let Ok(inventory::capacity::Eligibility::Connectable {
            outlet,
            pm: Some(pm),
        }) = inventory::capacity::eligibility(&plant, &suf.code)
        {
            let within = inventory::trace::upstream(
                &plant,
                &outlet,
                &inventory::budget::PlanningLosses::default(),
                inventory::budget::OpticalClass::GponBPlus,
            )
            .is_ok_and(|u| {
                u.pon_port.is_some()
                    && matches!(u.verdict, Some(inventory::budget::Verdict::Pass { .. }))
            });
            if within && pm == "PM1" {
                candidates.push(suf.code.to_string());
            }
        }
        if candidates.len() == 14 {
            break;
        }
    }
    // (how far each line goes, and what happens after)
    #[derive(Clone, Copy)]
    enum Then {
        Stop,
        Suspend(SuspendReason),
        Terminate,
        Cancel,
    }
    let plan: &[(usize, Then)] = &[
        (0, Then::Stop),
        (0, Then::Stop),
        (1, Then::Stop),
        (1, Then::Cancel),
        (2, Then::Stop),
        (2, Then::Stop),
        (3, Then::Stop),
        (3, Then::Stop),
        (3, Then::Stop),
        (3, Then::Stop),
        (3, Then::Suspend(SuspendReason::Unpaid)),
        (3, Then::Suspend(SuspendReason::KeepConnected)),
        (3, Then::Suspend(SuspendReason::SubscriberRequest)),
        (3, Then::Terminate),
    ];
    let mut made = Vec::new();
    for (i, (premises, (steps, then))) in candidates.iter().zip(plan).enumerate() {
        let line = service
            .order(
                tech,
                &Order {
                    premises: premises.clone(),
                    ipv4: None,
                    profile: Some(["1G", "500M", "300M"][i % 3].into()),
                },
            )
            .await?;
        if *steps >= 1 {
            service.reserve_path(tech, &line.id, None).await?;
        }
        if *steps >= 2 {
            service
                .install_ont(
                    tech,
                    &line.id,
                    &Installation {
                        serial: format!("HWTC{:08X}", 0x00D3_0000 + i),
                        rx_dbm: -17.5 - (i as f64) * 0.4,
                        notes: (i == 4)
                            .then(|| "PTO posée dans le séjour, câble passé en plinthe.".into()),
                    },
                )
                .await?;
        }
        if *steps >= 3 {
            service.activate(tech, &line.id).await?;
        }
        let line = match then {
            Then::Stop => service.line(&line.id).await?,
            Then::Suspend(reason) => service.suspend(tech, &line.id, *reason).await?,
            Then::Terminate => service.terminate(tech, &line.id).await?,
            Then::Cancel => service.cancel(tech, &line.id).await?,
        };
        made.push(line);
    }
    Ok(made)
}

/// The billing of the demo, as the accountant finds it at the start of a
/// month: two offers voted by the council, an account for each line that
/// has run (the demo's households among them, the business of the corner
/// too), last month's run issued with its invoices, one of them reduced by
/// a credit note for an outage; and, on the port of a live line, the alarm
/// of that outage still open.
async fn demo_billing(
    db: &Db,
    actor: &Actor,
    lines: &[provisioning::line::Line],
    households: &[social_tariff::HouseholdCode],
) -> Result<(), Error> {
    use billing::model::{AccountKind, NewAccount, NewOffer};
    use billing::money::{Cents, VatRate};
    use chrono::Datelike;
    use provisioning::lifecycle::State;
    let today = crate::social::today();
    let this_month = today.with_day(1).unwrap_or(today);
    let last_month = this_month
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(this_month);
    let opened = last_month
        .checked_sub_months(chrono::Months::new(2))
        .unwrap_or(last_month);
    for (code, name, gross) in [
        ("FIBRE300", "Fibre 300 Mb/s", 2990),
        ("FIBRE1G", "Fibre 1 Gb/s", 3990),
    ] {
        billing::storage::create_offer(
            db,
            actor,
            &NewOffer {
                code: code.into(),
                name: name.into(),
                monthly_gross: Cents(gross),
                rate: VatRate::STANDARD,
                setup_fee: Cents(0),
                deliberation: "2025-047".into(),
                valid_from: opened.with_month(1).unwrap_or(opened),
                valid_to: None,
            },
        )
        .await?;
    }
    // Lines that have run: active, suspended or since terminated.
    let served: Vec<_> = lines
        .iter()
        .filter(|l| {
            matches!(
                l.state,
                State::Active | State::Suspended | State::Terminated
            )
        })
        .collect();
    let named = [
        ("Famille Martin", households.first()),
        ("Famille Bernard", households.get(1)),
        ("M. et Mme Petit", households.get(2)),
    ];
    for (i, line) in served.iter().enumerate() {
        let (kind, name, household, siren) = match (named.get(i), i) {
            (Some((name, household)), _) => (
                AccountKind::Household,
                (*name).to_owned(),
                household.map(|h| h.to_string()),
                None,
            ),
            (None, 3) => (
                AccountKind::Business,
                "Boulangerie du Marché".to_owned(),
                None,
                Some("732829320".to_owned()),
            ),
            (None, _) => (
                AccountKind::Household,
                format!("Foyer {}", i + 1),
                None,
                None,
            ),
        };
        let account = billing::storage::create_account(
            db,
            actor,
            &NewAccount {
                kind,
                name,
                address: line
                    .address
                    .clone()
                    .unwrap_or_else(|| "1 place de la Mairie".into()),
                postcode: "35000".into(),
                town: "Rennes".into(),
                email: None,
                siren,
                vat_number: None,
                household,
            },
        )
        .await?;
        let offer = if line.profile == "1G" {
            "FIBRE1G"
        } else {
            "FIBRE300"
        };
        billing::storage::subscribe(db, actor, &account.code, &line.id, offer, opened).await?;
    }
    let month = billing::compute::Month::parse(&format!(
        "{:04}-{:02}",
        last_month.year(),
        last_month.month()
    ))?;
    let issued_on = billing::run::IssueDate::new(month, this_month, today)?;
    billing::run::issue(db, actor, month, issued_on).await?;
    let invoices = billing::storage::invoices(db, None).await?;
    // The outage: the PON port of the first live line went down last
    // month, was credited, and is still reported down.
    if let (Some(invoice), Some(line)) = (
        invoices.first(),
        served.iter().find(|l| l.state == State::Active),
    ) {
        if let Some(first) = invoice.lines.first() {
            let mut refund = first.clone();
            refund.net = Cents(500);
            refund.description = "Geste commercial : coupure de la fibre du 3 au 7".into();
            billing::storage::credit_note(db, actor, &invoice.number, vec![refund], this_month)
                .await?;
        }
        if let Some(path) = &line.path {
            monitoring::alarms::raise(
                db,
                &monitoring::alarms::Subject::PonPortDown {
                    pon_port: path.pon_port.clone(),
                },
                monitoring::alarms::Severity::Critical,
                &format!(
                    "interface {}/{}/{} coupée",
                    path.frame, path.slot, path.port
                ),
            )
            .await?;
        }
    }
    Ok(())
}

fn write_credentials(dir: &Path, accounts: &[DemoAccount]) {
    let mut text = String::from("# Régie demo accounts (generated by `regie serve --demo`)\n");
    for a in accounts {
        text.push_str(&format!(
            "{} {} {}\n",
            a.username,
            a.role.as_str(),
            a.password.expose()
        ));
    }
    let path = dir.join("demo-credentials.txt");
    if let Err(e) = std::fs::write(&path, text) {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the demo credentials file");
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
}

/// Files the social tariff's demo: a right granted at the counter (with a
/// device set aside for the household), an online application waiting for
/// review, a refusal under appeal; the envelope and stock of the year.
/// The household account ("Famille Martin") has nothing yet, so its
/// journey can be walked from the start.
async fn demo_social(
    db: &Db,
    agent: &Actor,
    households: &[social_tariff::HouseholdCode],
) -> Result<(), Error> {
    use social_tariff::application::{ApplicationForm, Channel};
    use social_tariff::decision::{Outcome, Ruling};
    use social_tariff::grants::{Condition, DeviceKind, NewDevice};
    use social_tariff::service::{self, DocumentSeen, Proof};
    let today = crate::social::today();
    let file = |name: &str, address: &str, benefits: &[&str], qf: &str| ApplicationForm {
        nom: name.into(),
        adresse: address.into(),
        code_postal: "35000".into(),
        commune: "Rennes".into(),
        taille_foyer: "3".into(),
        prestations: benefits.iter().map(|b| (*b).to_owned()).collect(),
        quotient_familial: qf.into(),
        contact: "courrier".into(),
        ..ApplicationForm::default()
    };
    let [_, bernard, petit, leroy] = households else {
        return Ok(());
    };
    let mut codes = Vec::new();
    for (household, form, channel) in [
        (
            bernard,
            file("Luc Bernard", "4 rue des Tanneurs", &["RSA"], ""),
            Channel::Counter,
        ),
        (
            petit,
            file("Élise Petit", "9 allée des Cerisiers", &["ASPA"], ""),
            Channel::Online,
        ),
        (
            leroy,
            file("Anne Leroy", "2 place du Marché", &[], "1450"),
            Channel::Counter,
        ),
    ] {
        let input = form
            .parse(true)
            .map_err(|e| Error::Internal(format!("demo application: {e:?}")))?;
        let a = social_tariff::create_application(
            db,
            agent,
            social_tariff::Scope::All,
            &social_tariff::Filing {
                household,
                channel,
                input: &input,
                submit: true,
                renewal: false,
                consent: true,
            },
        )
        .await?;
        codes.push(a.code);
    }
    let seen = |proof: Proof, document: &str| DocumentSeen {
        proof,
        document: document.into(),
        dated: today - chrono::Days::new(20),
        issuer: "CAF d'Ille-et-Vilaine".into(),
    };
    // Bernard: RSA seen at the counter, granted.
    let rsa = Proof::Benefit {
        benefit: "RSA".into(),
        received: true,
    };
    service::record_document(
        db,
        agent,
        &codes[0],
        &seen(rsa, "attestation de paiement du RSA"),
        today,
    )
    .await?;
    service::record_area(db, agent, &codes[0], true).await?;
    let ruling = Ruling {
        outcome: Outcome::Granted,
        reason: None,
    };
    service::decide(db, agent, &codes[0], &ruling, today).await?;
    // Leroy: a quotient familial above every bracket, refused, appealed.
    let qf = Proof::QuotientFamilial { value: 1450 };
    service::record_document(
        db,
        agent,
        &codes[2],
        &seen(qf, "attestation de quotient familial"),
        today,
    )
    .await?;
    service::record_area(db, agent, &codes[2], true).await?;
    let refusal = Ruling {
        outcome: Outcome::Refused,
        reason: Some("Le quotient familial dépasse le plafond fixé par la délibération.".into()),
    };
    let refused = service::decide(db, agent, &codes[2], &refusal, today).await?;
    social_tariff::lodge_appeal(
        db,
        agent,
        social_tariff::Scope::All,
        &refused.number,
        Channel::Counter,
        "Mes revenus ont baissé depuis l'attestation : je joins ma situation actuelle.",
        today,
    )
    .await?;

    // The year's envelope and stock; Bernard's request is served at once.
    let year = chrono::Datelike::year(&today);
    social_tariff::set_budget(db, agent, year, "2026-041", 200_000).await?;
    for (kind, model, serial, value_cents) in [
        (
            DeviceKind::Laptop,
            "Lenovo ThinkPad T480",
            "DEMO-PF1A23",
            15_000,
        ),
        (
            DeviceKind::Laptop,
            "Dell Latitude 5490",
            "DEMO-5490X7",
            14_000,
        ),
        (
            DeviceKind::Phone,
            "Samsung Galaxy A40",
            "DEMO-A40Q11",
            6_000,
        ),
    ] {
        let device = NewDevice {
            partner: "Ateliers du Bocage".into(),
            kind,
            model: model.into(),
            serial: serial.into(),
            condition: Condition::B,
            value_cents,
            received_on: today - chrono::Days::new(10),
        };
        social_tariff::add_device(db, agent, &device, today).await?;
    }
    social_tariff::request_grant(
        db,
        agent,
        social_tariff::Scope::All,
        bernard,
        DeviceKind::Laptop,
        today,
        1,
    )
    .await?;
    Ok(())
}
