//! Demo data for `regie serve --demo`.
//!
//! Loaded only into a database without users, so running `--demo` against a
//! database in use changes nothing. Each domain contributes its demo data
//! here as it lands; nothing comes from outside the repository.

use std::path::Path;

use regie_core::audit::Actor;
use regie_core::Db;

use crate::auth::{Password, Role, Username};
use crate::{storage, Error};

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
    for (name, display, role) in ACCOUNTS {
        let password = Password::random();
        let user = storage::create_user(
            db,
            &actor,
            &Username::parse(name)?,
            display,
            &password.hash()?,
            &[*role],
        )
        .await?;
        if *role == Role::Household {
            household_user = Some(user.id);
        }
        if *role == Role::Technician {
            technician = Some(Actor {
                user_id: Some(user.id),
                username: user.username.clone(),
                request_id: None,
            });
        }
        accounts.push(DemoAccount {
            username: user.username,
            role: *role,
            password,
        });
    }
    for (name, user_id) in [
        ("Famille Martin", household_user),
        ("Famille Bernard", None),
        ("M. et Mme Petit", None),
    ] {
        social_tariff::create_household(
            db,
            &actor,
            &social_tariff::NewHousehold {
                display_name: name.into(),
                user_id,
            },
        )
        .await?;
    }
    // The social tariff's rules, as a council would have voted them: the
    // public page has something to show.
    social_tariff::publish_rule_set(db, &actor, social_tariff::rules::EXAMPLE).await?;
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
    tracing::info!(lines = made, "demo lines provisioned");
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
) -> Result<usize, Error> {
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
    let mut made = 0;
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
        match then {
            Then::Stop => {}
            Then::Suspend(reason) => {
                service.suspend(tech, &line.id, *reason).await?;
            }
            Then::Terminate => {
                service.terminate(tech, &line.id).await?;
            }
            Then::Cancel => {
                service.cancel(tech, &line.id).await?;
            }
        }
        made += 1;
    }
    Ok(made)
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
