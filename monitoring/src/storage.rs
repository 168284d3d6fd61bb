//! The tables of monitoring: their migrations, and the SQL of the devices
//! an admin adds (the alarms' SQL lives beside them in [`crate::alarms`]).
//! Device secrets are stored sealed by the régie's key, bound to the
//! device's name; nothing else in these tables is secret.

use regie_core::audit::{self, Actor, Change};
use regie_core::migrate::Migration;
use regie_core::secret::SecretKey;
use regie_core::{time, Db};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::devices::{DeviceName, DeviceSummary, NewDevice};
use crate::poller::Device;
use crate::snmp::{Credentials, Target, V3Auth};
use crate::Error;

/// The migrations of monitoring's tables, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(
        1,
        "alarms",
        // One open alarm per key: the partial unique index is the guard when two
        // pollers raise the same alarm at once.
        "CREATE TABLE mon_alarms (
        id {{id}},
        alarm_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        subject TEXT NOT NULL,
        message TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        occurrences BIGINT NOT NULL DEFAULT 1,
        cleared_at TEXT,
        acked_by TEXT,
        acked_at TEXT
    );
    CREATE UNIQUE INDEX mon_alarms_open ON mon_alarms (alarm_key) WHERE cleared_at IS NULL;
    CREATE INDEX mon_alarms_seen ON mon_alarms (last_seen);",
    ),
    Migration::portable(
        2,
        "devices",
        // `secret` is the sealed community or USM keys (base64).
        "CREATE TABLE mon_devices (
            name TEXT PRIMARY KEY,
            address TEXT NOT NULL,
            version TEXT NOT NULL,
            username TEXT,
            auth TEXT,
            secret TEXT NOT NULL,
            timeout_ms BIGINT NOT NULL,
            retries BIGINT NOT NULL,
            added_by TEXT NOT NULL,
            added_at TEXT NOT NULL
        );",
    ),
    Migration::portable(
        3,
        "device_context",
        // The SNMPv3 context a device is read in (NULL: the default one).
        "ALTER TABLE mon_devices ADD COLUMN context TEXT;",
    ),
];

fn storage(e: sqlx::Error) -> Error {
    Error::Storage(e.into())
}

/// What is sealed: the secret half of the credentials.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Sealed {
    V2c { community: String },
    V3 { auth_key: String, priv_key: String },
}

fn context(name: &str) -> String {
    format!("mon_devices/{name}")
}

const COLUMNS: &str = "name, address, version, username, auth, secret, timeout_ms, retries, added_by, added_at, context";

fn summary(row: &sqlx::any::AnyRow) -> Result<DeviceSummary, Error> {
    Ok(DeviceSummary {
        name: row.try_get("name").map_err(storage)?,
        address: row.try_get("address").map_err(storage)?,
        version: row.try_get("version").map_err(storage)?,
        user: row.try_get("username").map_err(storage)?,
        auth: row.try_get("auth").map_err(storage)?,
        timeout_ms: u64::try_from(row.try_get::<i64, _>("timeout_ms").map_err(storage)?)
            .unwrap_or(2000),
        retries: u32::try_from(row.try_get::<i64, _>("retries").map_err(storage)?).unwrap_or(2),
        added_by: row.try_get("added_by").map_err(storage)?,
        added_at: row.try_get("added_at").map_err(storage)?,
        context: row.try_get("context").map_err(storage)?,
    })
}

/// Stores a device, its secrets sealed, with an audit entry (without them).
#[tracing::instrument(skip(db, key, device), fields(device = device.name.as_str()))]
pub async fn add_device(
    db: &Db,
    key: &SecretKey,
    actor: &Actor,
    device: &NewDevice,
) -> Result<DeviceSummary, Error> {
    let name = device.name.as_str();
    let (version, user, auth, sealed) = match &device.target.credentials {
        Credentials::V2c { community } => (
            "v2c",
            None,
            None,
            Sealed::V2c {
                community: community.clone(),
            },
        ),
        Credentials::V3 {
            user,
            auth,
            auth_key,
            priv_key,
            ..
        } => (
            "v3",
            Some(user.clone()),
            Some(match auth {
                V3Auth::Sha1 => "sha1",
                V3Auth::Sha256 => "sha256",
            }),
            Sealed::V3 {
                auth_key: auth_key.clone(),
                priv_key: priv_key.clone(),
            },
        ),
    };
    let plain = serde_json::to_vec(&sealed).map_err(|e| Error::Invalid(e.to_string()))?;
    let secret = base64_encode(&key.seal(&plain, &context(name)));
    let timeout_ms = i64::try_from(device.target.timeout.as_millis()).unwrap_or(i64::MAX);
    let mut tx = db.begin().await?;
    let row = sqlx::query(&format!(
        "INSERT INTO mon_devices ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}"
    ))
    .bind(name)
    .bind(device.target.address.to_string())
    .bind(version)
    .bind(user)
    .bind(auth)
    .bind(secret)
    .bind(timeout_ms)
    .bind(i64::from(device.target.retries))
    .bind(&actor.username)
    .bind(time::to_db(time::now()))
    .bind(match &device.target.credentials {
        Credentials::V3 { context, .. } if !context.is_empty() => Some(context.clone()),
        _ => None,
    })
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if regie_core::db::is_unique_violation(&e) {
            Error::Conflict(format!("un équipement nommé « {name} » est déjà supervisé"))
        } else {
            storage(e)
        }
    })?;
    let shown = summary(&row)?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "device.add",
            entity: "snmp_device",
            entity_id: name,
            before: None,
            after: Some(serde_json::to_value(&shown).unwrap_or_default()),
        },
    )
    .await?;
    tx.commit().await.map_err(storage)?;
    Ok(shown)
}

/// Removes a device from polling, with an audit entry.
#[tracing::instrument(skip(db))]
pub async fn remove_device(db: &Db, actor: &Actor, name: &str) -> Result<DeviceSummary, Error> {
    let mut tx = db.begin().await?;
    let row = sqlx::query(&format!(
        "DELETE FROM mon_devices WHERE name = $1 RETURNING {COLUMNS}"
    ))
    .bind(name)
    .fetch_optional(&mut *tx)
    .await
    .map_err(storage)?
    .ok_or_else(|| Error::NotFound(format!("aucun équipement « {name} » ajouté")))?;
    let shown = summary(&row)?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "device.remove",
            entity: "snmp_device",
            entity_id: name,
            before: Some(serde_json::to_value(&shown).unwrap_or_default()),
            after: None,
        },
    )
    .await?;
    tx.commit().await.map_err(storage)?;
    Ok(shown)
}

/// The devices added, by name, without their secrets.
pub async fn devices(db: &Db) -> Result<Vec<DeviceSummary>, Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM mon_devices ORDER BY name"))
        .fetch_all(db.pool())
        .await
        .map_err(storage)?;
    rows.iter().map(summary).collect()
}

/// The devices added, ready to poll: their secrets opened. A device whose
/// secret does not open (the key changed) is left out and named in the
/// second list, so that the page can say so.
pub async fn device_targets(db: &Db, key: &SecretKey) -> Result<(Vec<Device>, Vec<String>), Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM mon_devices ORDER BY name"))
        .fetch_all(db.pool())
        .await
        .map_err(storage)?;
    let (mut ready, mut sealed_shut) = (Vec::new(), Vec::new());
    for row in &rows {
        let s = summary(row)?;
        let secret: String = row.try_get("secret").map_err(storage)?;
        match open(key, &s, &secret) {
            Ok(device) => ready.push(device),
            Err(reason) => {
                tracing::error!(device = %s.name, %reason, "device secret does not open");
                sealed_shut.push(s.name);
            }
        }
    }
    Ok((ready, sealed_shut))
}

fn open(key: &SecretKey, s: &DeviceSummary, secret: &str) -> Result<Device, String> {
    let sealed = base64_decode(secret).ok_or("not base64")?;
    let plain = key
        .open(&sealed, &context(&s.name))
        .map_err(|e| e.to_string())?;
    let sealed: Sealed = serde_json::from_slice(&plain).map_err(|e| e.to_string())?;
    let credentials = match (sealed, &s.user) {
        (Sealed::V2c { community }, None) => Credentials::V2c { community },
        (Sealed::V3 { auth_key, priv_key }, Some(user)) => Credentials::V3 {
            user: user.clone(),
            auth: V3Auth::parse(s.auth.as_deref())?,
            auth_key,
            priv_key,
            context: s.context.clone().unwrap_or_default(),
        },
        _ => return Err("credentials do not match the SNMP version".into()),
    };
    DeviceName::parse(&s.name).map_err(|e| e.to_string())?;
    Ok(Device {
        name: s.name.clone(),
        target: Target {
            address: s.address.parse().map_err(|_| "stored address".to_owned())?,
            credentials,
            timeout: std::time::Duration::from_millis(s.timeout_ms),
            retries: s.retries,
        },
    })
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}
