//! The audit journal as an administrator reads it: each action named in
//! French (« Ligne activée »), the record a short summary (« état : chemin
//! réservé → ONT installé ») rather than the stored JSON, filters by
//! person, day and kind of action. The vocabulary is here, for the pages;
//! the journal itself (`regie_core::audit`) stores codes.

use axum::extract::{Query, State};
use maud::{html, Markup};
use regie_core::audit::{self, AuditEntry, AuditFilter};
use serde::Deserialize;
use serde_json::Value;

use super::{local_time, page, PageError};
use crate::platform::auth::Principal;
use crate::AppState;

type PageResult = Result<axum::response::Response, PageError>;

/// `n` scaled down by 10^`places`, with a decimal comma and no useless
/// zero (`26639`, 3 → « 26,639 »; `2000`, 2 → « 20 »).
fn decimal(n: i64, places: u32) -> String {
    let scale = 10i64.pow(places);
    let sign = if n < 0 { "−" } else { "" };
    let (whole, frac) = (n.abs() / scale, n.abs() % scale);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let frac = format!("{frac:0width$}", width = places as usize);
    format!("{sign}{whole},{}", frac.trim_end_matches('0'))
}

/// The UTC instant (stored form) a day starts at in Europe/Paris.
fn paris_midnight_utc(day: chrono::NaiveDate) -> String {
    use chrono::TimeZone;
    let start = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    let local = chrono_tz::Europe::Paris
        .from_local_datetime(&start)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| start.and_utc());
    regie_core::time::to_db(local)
}

/// Each action recorded, with its name in French: the kinds offered in
/// the filter, and the label of an entry.
const ACTIONS: &[(&str, &str)] = &[
    ("line.order", "Ligne commandée"),
    ("line.reserve_path", "Chemin réservé"),
    ("line.install_ont", "ONT posé"),
    ("line.activate", "Ligne activée"),
    ("line.suspend", "Ligne suspendue"),
    ("line.resume", "Ligne rétablie"),
    ("line.terminate", "Ligne résiliée"),
    ("line.cancel", "Commande annulée"),
    ("inventory.import", "Réseau importé (GraceTHD)"),
    ("inventory.pon_port.add", "Port PON ajouté"),
    ("inventory.pon_port.change", "Port PON modifié"),
    ("inventory.pon_port.remove", "Port PON supprimé"),
    ("pool.create", "Réserve d'adresses créée"),
    ("alarm.acknowledge", "Alarme prise en compte"),
    ("device.add", "Équipement supervisé ajouté"),
    ("device.remove", "Équipement supervisé retiré"),
    ("offer.create", "Offre créée"),
    ("account.create", "Compte client ouvert"),
    ("subscription.start", "Abonnement commencé"),
    ("subscription.change", "Abonnement modifié"),
    ("invoice.issue", "Factures émises"),
    ("credit_note.issue", "Avoir émis"),
    ("payment.book", "Paiement enregistré"),
    ("mandate.add", "Mandat de prélèvement enregistré"),
    ("mandate.amend", "Mandat de prélèvement modifié"),
    ("mandate.revoke", "Mandat de prélèvement révoqué"),
    ("sepa.batch", "Remise de prélèvements"),
    ("dunning.step", "Relance d'impayé"),
    ("reminder.status", "Relance mise à jour"),
    ("fsl.file", "Dossier FSL déposé"),
    ("fsl.decide", "Décision FSL enregistrée"),
    ("balance.take_over", "Solde repris de l'ancien opérateur"),
    ("household.create", "Foyer créé"),
    ("rule_set.publish", "Règles du tarif social publiées"),
    ("application.draft", "Demande de tarif social commencée"),
    ("application.submit", "Demande de tarif social déposée"),
    ("application.document", "Justificatif enregistré"),
    ("application.area", "Adresse vérifiée (zone desservie)"),
    ("application.verify", "Critère vérifié"),
    ("scan.upload", "Pièce jointe déposée"),
    ("decision.validate", "Décision prise"),
    ("appeal.lodge", "Recours déposé"),
    ("appeal.review", "Recours examiné"),
    ("budget.set", "Enveloppe d'équipements fixée"),
    ("device.receive", "Appareil reconditionné reçu"),
    ("grant.request", "Aide à l'équipement demandée"),
    ("grant.allocate", "Appareil attribué"),
    ("grant.handover", "Appareil remis au foyer"),
    ("grant.cancel", "Aide à l'équipement annulée"),
    ("user.create", "Compte utilisateur créé"),
    ("user.update", "Compte utilisateur modifié"),
    ("user.email", "Adresse électronique changée"),
    ("user.password", "Mot de passe changé"),
    (
        "user.password_reset_issued",
        "Lien de nouveau mot de passe envoyé",
    ),
    ("user.password_reset", "Mot de passe renouvelé par lien"),
    ("user.totp_enable", "Double authentification activée"),
    ("user.totp_disable", "Double authentification retirée"),
    ("user.unlock", "Compte débloqué"),
    ("session.open", "Connexion"),
    ("token.issue", "Jeton d'accès créé"),
    ("token.revoke", "Jeton d'accès révoqué"),
];

/// The name of an action, or `None` for one this page does not know.
pub fn action_label(action: &str) -> Option<&'static str> {
    ACTIONS.iter().find(|(a, _)| *a == action).map(|(_, l)| *l)
}

/// The French name of a field of a record.
fn field_label(key: &str) -> Option<&'static str> {
    Some(match key {
        "state" => "état",
        "reason" => "motif",
        "previous_reason" => "motif précédent",
        "premises" => "local",
        "profile" => "profil de débit",
        "ipv4" | "ipv4_pool" => "adresses IPv4",
        "ipv6_prefix" => "préfixe IPv6",
        "ipv6_prefix_pool" => "réserve de préfixes IPv6",
        "ipv6_wan" => "réseau IPv6 de raccordement",
        "ipv6_wan_pool" => "réserve IPv6 de raccordement",
        "circuit_id" => "identifiant de circuit",
        "svlan" => "S-VLAN",
        "cvlan" => "C-VLAN",
        "class" => "classe optique",
        "margin_mdb" => "marge",
        "total_mdb" => "affaiblissement",
        "pass" => "bilan tenu",
        "override_reason" => "motif du passage outre",
        "olt" => "OLT",
        "slot" => "carte",
        "port" => "port",
        "frame" => "châssis",
        "ont_id" => "numéro d'ONT",
        "outlet" => "prise",
        "pbo" => "PBO",
        "pbo_position" => "position au PBO",
        "pm" => "point de mutualisation",
        "pon_port" => "port PON",
        "splitter_output" => "sortie de coupleur",
        "notes" => "notes",
        "rx_cdbm" => "puissance reçue",
        "serial" => "numéro de série",
        "released_resources" => "ressources libérées",
        "assign_len" => "longueur attribuée",
        "kind" => "type",
        "name" => "nom",
        "network" => "réseau",
        "code" => "code",
        "deliberation" => "délibération",
        "monthly_gross" => "prix mensuel TTC",
        "setup_fee" => "frais de mise en service",
        "basis_points" => "taux de TVA",
        "category" => "catégorie de TVA",
        "valid_from" => "valable du",
        "valid_to" => "valable jusqu'au",
        "line" => "ligne",
        "offer" => "offre",
        "on" => "le",
        "change" => "changement",
        "count" => "nombre",
        "first" => "première",
        "last" => "dernière",
        "gross_cents" => "montant TTC",
        "amount_cents" => "montant",
        "value_cents" => "valeur",
        "period" => "période",
        "corrects" => "corrige",
        "created_at" => "créé le",
        "expires_at" => "expire le",
        "disabled" => "désactivé",
        "display_name" => "nom affiché",
        "id" => "numéro",
        "user_id" => "compte utilisateur",
        "roles" => "rôles",
        "username" => "identifiant",
        "email" => "adresse électronique",
        "household" => "foyer",
        "from" => "à partir du",
        "to" => "jusqu'au",
        "channel" => "canal",
        "consent" => "consentement",
        "renewal" => "renouvellement",
        "dated" => "daté du",
        "document" => "pièce",
        "issuer" => "émis par",
        "subject" => "objet",
        "in_area" => "dans la zone desservie",
        "application" => "demande",
        "level" => "niveau",
        "outcome" => "décision",
        "rule_version" => "version des règles",
        "decision" => "décision",
        "partner" => "partenaire",
        "year" => "année",
        "device" => "appareil",
        "added" => "ajoutés",
        "changed" => "modifiés",
        "removed" => "supprimés",
        "unchanged" => "inchangés",
        "budget" => "bilan optique",
        "path" => "chemin",
        "service" => "service",
        "ont" => "ONT",
        "account" => "compte",
        "acked_by" => "pris en compte par",
        "address" => "adresse",
        "answered" => "réponse",
        "attestation" => "attestation",
        "check" => "vérification",
        "collection_date" => "date de prélèvement",
        "content_type" => "type de fichier",
        "decided_on" => "décidé le",
        "description" => "description",
        "eligibility" => "éligibilité",
        "failures" => "échecs",
        "filed_on" => "déposé le",
        "former_ref" => "ancienne référence",
        "former_creditor_id" => "ancien identifiant de créancier",
        "holder_changed" => "titulaire changé",
        "iban" => "IBAN",
        "bic" => "BIC",
        "holder" => "titulaire",
        "label" => "libellé",
        "method" => "mode",
        "received_on" => "reçu le",
        "reference" => "référence",
        "signed_on" => "signé le",
        "size_bytes" => "taille",
        "status" => "statut",
        "step" => "étape",
        "suf" => "local (SUF)",
        "type" => "type",
        "invoice" => "facture",
        "mandate" => "mandat",
        "paid_cents" => "payé",
        "written_off_cents" => "abandonné",
        "prestations" => "prestations",
        "scan" => "pièce numérisée",
        _ => return None,
    })
}

/// A stored value in words: codes the pages name in French, amounts in
/// euros, levels in dB.
fn value_text(key: &str, v: &Value) -> String {
    let text = match v {
        Value::Null => return "—".into(),
        Value::Bool(true) => return "oui".into(),
        Value::Bool(false) => return "non".into(),
        Value::Number(n) => {
            let Some(i) = n.as_i64() else {
                return n.to_string();
            };
            return if key.ends_with("_cents") || key == "monthly_gross" || key == "setup_fee" {
                regie_core::fr::euros(i)
            } else if key.ends_with("_mdb") {
                format!("{} dB", decimal(i, 3))
            } else if key.ends_with("_cdbm") {
                format!("{} dBm", monitoring::line_optics::hundredths(i))
            } else if key == "size_bytes" {
                format!("{i} octets")
            } else if key == "basis_points" {
                format!("{} %", decimal(i, 2))
            } else {
                i.to_string()
            };
        }
        Value::String(s) => s.as_str(),
        Value::Array(items) => {
            return items
                .iter()
                .map(|i| value_text(key, i))
                .collect::<Vec<_>>()
                .join(", ")
        }
        Value::Object(_) => return "…".into(),
    };
    if key == "state" {
        if let Some(s) = provisioning::lifecycle::State::parse(text) {
            return s.label().into();
        }
    }
    if key == "reason" || key == "previous_reason" {
        if let Ok(r) = provisioning::lifecycle::SuspendReason::parse(text) {
            return r.label().into();
        }
    }
    if key == "method" {
        if let Ok(m) = billing::ledger::Method::parse(text) {
            return m.label().into();
        }
    }
    if key == "period" {
        if let Ok(m) = billing::compute::Month::parse(text) {
            return m.words();
        }
    }
    // Days and instants as a French reader writes them.
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return regie_core::fr::date(d);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        let t = t.with_timezone(&chrono_tz::Europe::Paris);
        return format!(
            "{} à {}",
            regie_core::fr::date(t.date_naive()),
            t.format("%H:%M")
        );
    }
    if key == "roles" {
        if let Ok(r) = crate::platform::auth::Role::parse(text) {
            return r.label_fr().into();
        }
    }
    match text {
        "granted" => "accordée",
        "refused" => "refusée",
        "counter" => "guichet",
        "online" | "web" => "en ligne",
        "phone" => "téléphone",
        "mail" | "post" => "courrier",
        "laptop" => "ordinateur portable",
        "desktop" => "ordinateur de bureau",
        "tablet" => "tablette",
        "suspend_on_request" => "suspension à la demande",
        "resume" => "reprise",
        // A criterion of the social tariff named by its key.
        other => social_tariff::engine::criterion_label(other),
    }
    .to_owned()
}

/// Leaf values of a record, with the path of labels leading to each.
fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, String, Value)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                // Counts per table of an import: the totals say it.
                if k == "tables" {
                    continue;
                }
                // `detail` only groups a step's particulars.
                let label = match (k.as_str(), field_label(k)) {
                    ("detail", _) => String::new(),
                    (_, Some(l)) => l.to_owned(),
                    (raw, None) => raw.replace('_', " "),
                };
                let path = match (prefix.is_empty(), label.is_empty()) {
                    (_, true) => prefix.to_owned(),
                    (true, false) => label,
                    (false, false) => format!("{prefix}, {label}"),
                };
                leaves(&path, child, out);
                if let Some(last) = out.last_mut() {
                    if last.1.is_empty() {
                        last.1 = k.clone();
                    }
                }
            }
        }
        other => out.push((prefix.to_owned(), String::new(), other.clone())),
    }
}

/// Who acted: a person's identifier, or the application itself (`system:…`,
/// the name of the job or command after the colon).
fn actor_text(actor: &str) -> String {
    match actor.strip_prefix("system:") {
        Some(job) => format!("traitement automatique ({job})"),
        None => actor.to_owned(),
    }
}

/// At most this many fields of a record are shown.
const SHOWN: usize = 8;

/// « champ : avant → après » for what changed, « champ : valeur » for a
/// record created.
fn summary(e: &AuditEntry) -> Markup {
    let mut before = Vec::new();
    let mut after = Vec::new();
    if let Some(b) = &e.before {
        leaves("", b, &mut before);
    }
    if let Some(a) = &e.after {
        leaves("", a, &mut after);
    }
    let mut lines: Vec<String> = Vec::new();
    for (label, key, value) in &after {
        let now = value_text(key, value);
        let was = before
            .iter()
            .find(|(l, _, _)| l == label)
            .map(|(_, k, v)| value_text(k, v));
        let label = if label.is_empty() { "valeur" } else { label };
        lines.push(match was {
            Some(was) if was != now => format!("{label} : {was} → {now}"),
            _ => format!("{label} : {now}"),
        });
    }
    for (label, key, value) in &before {
        if !after.iter().any(|(l, _, _)| l == label) {
            lines.push(format!("{label} : {} → —", value_text(key, value)));
        }
    }
    let more = lines.len().saturating_sub(SHOWN);
    html! {
        @if lines.is_empty() {
            "—"
        } @else {
            ul class="resume" {
                @for l in lines.iter().take(SHOWN) { li { (l) } }
                @if more > 0 { li { "et " (more) " autre(s)" } }
            }
        }
    }
}

/// The journal's entries as a table.
pub fn table(entries: &[AuditEntry]) -> Markup {
    html! {
        @if entries.is_empty() {
            p { "Aucune entrée." }
        } @else {
            table class="journal empilee" {
                caption class="visually-hidden" { "Entrées du journal, de la plus récente à la plus ancienne" }
                thead { tr { th scope="col" { "Date" } th scope="col" { "Auteur" } th scope="col" { "Action" } th scope="col" { "Fiche" } th scope="col" { "Détail" } } }
                tbody {
                    @for e in entries {
                        tr {
                            td data-label="Date" { (local_time(&e.at)) }
                            td data-label="Auteur" { (actor_text(&e.actor)) }
                            td data-label="Action" {
                                @match action_label(&e.action) {
                                    Some(l) => (l),
                                    None => { "Action " code { (e.action) } },
                                }
                            }
                            td data-label="Fiche" { (e.entity_id) }
                            td { (summary(e)) }
                        }
                    }
                }
            }
        }
    }
}

/// The journal page's filters, as the form sends them.
#[derive(Debug, Deserialize, Default)]
pub struct JournalQuery {
    /// The person (username).
    auteur: Option<String>,
    /// The kind of action (its code).
    action: Option<String>,
    /// First and last day, `YYYY-MM-DD` (days in Europe/Paris).
    du: Option<String>,
    au: Option<String>,
    /// Record identifier.
    fiche: Option<String>,
}

/// A day of the form as the UTC instant it starts at in Paris; `None` for
/// no day or a day that is no date (said on the page).
fn day_start(day: &str) -> Result<Option<String>, String> {
    let day = day.trim();
    if day.is_empty() {
        return Ok(None);
    }
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|_| format!("« {day} » n'est pas une date (jj/mm/aaaa)"))?;
    Ok(Some(paris_midnight_utc(date)))
}

/// `GET /admin/journal`.
pub async fn page_handler(
    State(state): State<AppState>,
    me: Principal,
    Query(q): Query<JournalQuery>,
) -> PageResult {
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut errors = Vec::new();
    let since = day_start(q.du.as_deref().unwrap_or_default()).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let until =
        q.au.as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .and_then(|d| match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(date) => date.succ_opt().map(paris_midnight_utc),
                Err(_) => {
                    errors.push(format!("« {d} » n'est pas une date (jj/mm/aaaa)"));
                    None
                }
            });
    let filter = AuditFilter {
        actor: clean(&q.auteur),
        action: clean(&q.action),
        entity_id: clean(&q.fiche),
        since,
        until,
        limit: Some(200),
        ..AuditFilter::default()
    };
    let entries = if errors.is_empty() {
        audit::list(&state.db, &filter).await?
    } else {
        Vec::new()
    };
    let users = crate::platform::storage::list_users(&state.db).await?;
    let chosen = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let body = html! {
        h1 { "Journal d'audit" }
        p { "Chaque modification, avec son auteur et sa date. Le journal est en ajout seul : aucune entrée ne peut être modifiée ni supprimée." }
        @for e in &errors { p class="erreur" role="alert" { (e) } }
        form method="get" action="/admin/journal" class="formulaire filtres" {
            div class="champ" {
                label for="auteur" { "Personne" }
                select id="auteur" name="auteur" {
                    option value="" { "Toutes" }
                    @for u in &users {
                        option value=(u.username) selected[chosen(&filter.actor, &u.username)] {
                            (u.display_name) " (" (u.username) ")"
                        }
                    }
                }
            }
            div class="champ" {
                label for="action" { "Action" }
                select id="action" name="action" {
                    option value="" { "Toutes" }
                    @for (code, label) in ACTIONS {
                        option value=(code) selected[chosen(&filter.action, code)] { (label) }
                    }
                }
            }
            div class="champ" {
                label for="du" { "Du" }
                input type="date" id="du" name="du" value=(q.du.clone().unwrap_or_default());
            }
            div class="champ" {
                label for="au" { "Au" }
                input type="date" id="au" name="au" value=(q.au.clone().unwrap_or_default());
            }
            div class="champ" {
                label for="fiche" { "Fiche" span class="aide" { "Un numéro de ligne, de facture, de demande, un identifiant…" } }
                input type="text" id="fiche" name="fiche" value=(q.fiche.clone().unwrap_or_default());
            }
            button type="submit" { "Filtrer" }
        }
        p { (entries.len()) " entrée(s)" @if entries.len() == 200 { ", les 200 plus récentes" } "." }
        (table(&entries))
    };
    Ok(page("Journal d'audit", &me, "/admin/journal", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_reads_as_words() {
        let e = AuditEntry {
            id: 1,
            at: "2026-12-07T10:00:00Z".into(),
            actor: "technicien".into(),
            action: "line.install_ont".into(),
            entity: "line".into(),
            entity_id: "RGE-1".into(),
            before: Some(serde_json::json!({"state": "path_reserved"})),
            after: Some(serde_json::json!({
                "detail": {"ont": {"rx_cdbm": -1910, "serial": "HWTC00D30004"}},
                "state": "ont_installed"
            })),
            request_id: None,
        };
        let text = summary(&e).into_string();
        assert!(
            text.contains("état : chemin réservé → ONT installé"),
            "{text}"
        );
        assert!(text.contains("ONT, puissance reçue : −19,10 dBm"), "{text}");
        assert!(
            text.contains("ONT, numéro de série : HWTC00D30004"),
            "{text}"
        );
        assert_eq!(action_label("line.install_ont"), Some("ONT posé"));
        assert_eq!(action_label("inconnue.action"), None);
    }

    #[test]
    fn amounts_and_states_are_written_for_people() {
        let e = AuditEntry {
            id: 2,
            at: "2026-12-07T10:00:00Z".into(),
            actor: "comptable".into(),
            action: "invoice.issue".into(),
            entity: "invoice".into(),
            entity_id: "FA2026-000001".into(),
            before: None,
            after: Some(serde_json::json!({"count": 8, "gross_cents": 26920, "period": "2026-11"})),
            request_id: None,
        };
        let text = summary(&e).into_string();
        assert!(text.contains("montant TTC : 269,20"), "{text}");
        assert!(text.contains("nombre : 8"), "{text}");
        assert!(text.contains("période : novembre 2026"), "{text}");
    }

    #[test]
    fn payments_days_and_instants_read_in_french() {
        let e = AuditEntry {
            id: 3,
            at: "2026-12-07T10:00:00Z".into(),
            actor: "system:demo".into(),
            action: "payment.record".into(),
            entity: "payment".into(),
            entity_id: "PA2026-000001".into(),
            before: None,
            after: Some(serde_json::json!({
                "account": "CPT-1", "method": "cheque", "received_on": "2026-12-02",
                "expires_at": "2026-12-08T12:45:48.020936Z", "former_creditor_id": null
            })),
            request_id: None,
        };
        let text = summary(&e).into_string();
        for expected in [
            "compte : CPT-1",
            "mode : chèque",
            "reçu le : 2 décembre 2026",
            // 12:45 UTC is 13:45 in Paris in winter.
            "expire le : 8 décembre 2026 à 13:45",
            "ancien identifiant de créancier : —",
        ] {
            assert!(text.contains(expected), "{expected} not in {text}");
        }
        assert_eq!(actor_text("system:demo"), "traitement automatique (demo)");
        assert_eq!(actor_text("comptable"), "comptable");
    }

    #[test]
    fn a_day_that_is_no_date_is_said() {
        assert!(day_start("").unwrap().is_none());
        assert!(day_start("2026-12-07").unwrap().is_some());
        assert!(day_start("07/12/2026")
            .unwrap_err()
            .contains("n'est pas une date"));
    }
}
