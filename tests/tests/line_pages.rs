//! The technician's line pages: work orders, ordering, and every step
//! through forms, with errors next to their fields. On SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use regie::platform::auth::Role;
use regie_tests::{connectable_premises, network_app, Session, TestApp};

async fn submit(
    t: &TestApp,
    s: &Session,
    uri: &str,
    fields: &[(&str, &str)],
) -> regie_tests::Answer {
    let mut form = vec![("csrf_token", s.csrf.as_str())];
    form.extend_from_slice(fields);
    t.page(Method::POST, uri, Some(s), Some(&form)).await
}

fn location(a: &regie_tests::Answer) -> String {
    a.header("location").unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_technician_takes_a_line_from_order_to_activation_through_the_pages() {
    let t = network_app(700, 24).await;
    let tech = t.user("tech", &[Role::Technician]).await;
    let s = t.session_for(&tech).await;
    let premises = connectable_premises(&t, "PM1").await;

    let a = t
        .page(Method::GET, "/technicien/lignes", Some(&s), None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.text.contains("Aucune ligne n'attend d'intervention"),
        "{}",
        a.text
    );

    // An unknown premises: the reason next to the field and in the summary.
    let a = submit(
        &t,
        &s,
        "/technicien/lignes",
        &[
            ("premises", "SF-INCONNU"),
            ("profile", "1G"),
            ("ipv4", "cgnat"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.text.contains("resume-erreurs") && a.text.contains("premises-erreur"),
        "{}",
        a.text
    );
    assert!(a.text.contains("SF-INCONNU"));

    let a = submit(
        &t,
        &s,
        "/technicien/lignes",
        &[
            ("premises", &premises[0]),
            ("profile", "1G"),
            ("ipv4", "public"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text);
    let page = location(&a);
    assert!(page.starts_with("/technicien/lignes/RGE-"), "{page}");
    let a = t.page(Method::GET, &page, Some(&s), None).await;
    assert!(
        a.text.contains("Réserver le chemin") && a.text.contains("commandée"),
        "{}",
        a.text
    );

    let a = submit(
        &t,
        &s,
        &format!("{page}/reserver"),
        &[("override_reason", "")],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text);
    let a = t.page(Method::GET, &location(&a), Some(&s), None).await;
    assert!(
        a.text.contains("Le chemin est réservé.") && a.text.contains("Compte rendu d'intervention"),
        "{}",
        a.text
    );
    assert!(a.text.contains("dans le budget"));

    // The intervention report, with a bad serial and an unreadable reading.
    let a = submit(
        &t,
        &s,
        &format!("{page}/installer"),
        &[("serial", "HWTC123"), ("rx_dbm", "faible"), ("notes", "")],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.text.contains("serial-erreur") && a.text.contains("rx_dbm-erreur"),
        "{}",
        a.text
    );
    assert!(a.text.contains("Le formulaire contient 2 erreurs"));
    assert!(
        a.text.contains("value=\"HWTC123\""),
        "the typed values are kept"
    );

    let a = submit(
        &t,
        &s,
        &format!("{page}/installer"),
        &[
            ("serial", "hwtc0badcafe"),
            ("rx_dbm", "−19,5"),
            ("notes", "PTO dans l'entrée"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text);
    let a = t.page(Method::GET, &location(&a), Some(&s), None).await;
    assert!(
        a.text.contains("HWTC0BADCAFE")
            && a.text.contains("−19,50 dBm")
            && a.text.contains("PTO dans l'entrée"),
        "{}",
        a.text
    );

    let a = submit(&t, &s, &format!("{page}/activer"), &[]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text);
    let a = t.page(Method::GET, &location(&a), Some(&s), None).await;
    assert!(
        a.text.contains("La ligne est active.") && a.text.contains("198.51.100.1"),
        "{}",
        a.text
    );
    assert!(a.text.contains("Suspendre la ligne") && a.text.contains("Résilier la ligne"));
    let a = t
        .page(Method::GET, &format!("{page}?ont=1"), Some(&s), None)
        .await;
    assert!(
        a.text.contains("en ligne") && a.text.contains("Distance mesurée"),
        "{}",
        a.text
    );

    // A step the state does not allow: the reason, on the page.
    let a = submit(
        &t,
        &s,
        &format!("{page}/installer"),
        &[("serial", "HWTC00000077"), ("rx_dbm", "-20")],
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(
        a.text.contains("« installer l'ONT » impossible"),
        "{}",
        a.text
    );
    let a = submit(&t, &s, &format!("{page}/decoller"), &[]).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // No reason chosen: asked for, in words.
    let a = submit(&t, &s, &format!("{page}/suspendre"), &[("reason", "")]).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(a.text.contains("hoisissez le motif"), "{}", a.text);
    let a = submit(
        &t,
        &s,
        &format!("{page}/suspendre"),
        &[("reason", "keep_connected")],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let a = t.page(Method::GET, &location(&a), Some(&s), None).await;
    assert!(
        a.text.contains("débit réduit") && a.text.contains("Rétablir la ligne"),
        "{}",
        a.text
    );

    let a = t.page(Method::GET, "/technicien", Some(&s), None).await;
    assert!(
        a.text.contains("0 ligne(s) attendent une intervention"),
        "{}",
        a.text
    );
    let a = t
        .page(Method::GET, "/technicien/lignes", Some(&s), None)
        .await;
    assert!(
        a.text.contains("Modifiées aujourd'hui")
            && a.text
                .contains(page.trim_start_matches("/technicien/lignes/"))
    );

    // Terminating asks first, naming what goes; only the confirmed form
    // acts.
    let a = submit(&t, &s, &format!("{page}/resilier"), &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(
        a.text.contains("ne peut pas être défaite") && a.text.contains("perd son accès"),
        "{}",
        a.text
    );
    let a = t.page(Method::GET, &page, Some(&s), None).await;
    assert!(a.text.contains("Rétablir la ligne"), "still suspended");
    let a = submit(&t, &s, &format!("{page}/resilier"), &[("confirme", "oui")]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text);
    let a = t.page(Method::GET, &location(&a), Some(&s), None).await;
    assert!(a.text.contains("résiliée"), "{}", a.text);
}

#[tokio::test]
async fn the_line_pages_are_for_network_staff_only() {
    let t = network_app(700, 24).await;
    let accountant = t.user("compta", &[Role::Accountant]).await;
    let s = t.session_for(&accountant).await;
    let a = t
        .page(Method::GET, "/technicien/lignes", Some(&s), None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = submit(&t, &s, "/technicien/lignes", &[("premises", "x")]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_technician_orders_by_address_or_by_a_code_in_any_case() {
    let t = network_app(700, 24).await;
    let tech = t.user("tech", &[Role::Technician]).await;
    let s = t.session_for(&tech).await;
    let premises = connectable_premises(&t, "PM1").await;
    let plant = t.state.plant.get(t.db()).await.unwrap();

    // The code typed in lower case.
    let a = submit(
        &t,
        &s,
        "/technicien/lignes",
        &[("premises", &premises[0].to_lowercase()), ("profile", "1G")],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text);

    // An address with a single local: « 12 rue … » as typed, ordered at
    // once.
    let typed_of = |a: &inventory::plant::Address| {
        format!(
            "{} {}",
            a.number.as_deref().unwrap_or_default(),
            a.street.to_lowercase()
        )
    };
    let single = premises
        .iter()
        .skip(1)
        .find_map(|suf| {
            let addr = plant.sufs.get(suf.as_str())?.address.clone()?;
            let a = plant.addresses.get(addr.as_str())?;
            let found = inventory::search::addresses(&plant, &typed_of(a));
            (a.number.is_some() && found.len() == 1 && plant.premises_at(&a.code).count() == 1)
                .then(|| a.clone())
        })
        .expect("an address with one local");
    let typed = typed_of(&single);
    let a = submit(
        &t,
        &s,
        "/technicien/lignes",
        &[("premises", &typed), ("profile", "1G")],
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{typed}: {}", a.text);
    let line = t.page(Method::GET, &location(&a), Some(&s), None).await;
    let suf = plant.premises_at(&single.code).next().unwrap().to_owned();
    assert!(line.text.contains(&suf), "{}", line.text);

    // A street without a number: the locals to choose from, as radio
    // buttons (no script needed), nothing ordered yet.
    let before = t.state.provisioning.counts().await.unwrap();
    let a = submit(
        &t,
        &s,
        "/technicien/lignes",
        &[
            ("premises", &single.street.to_lowercase()),
            ("profile", "1G"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(
        a.text.contains("Plusieurs locaux correspondent")
            && a.text.contains(r#"type="radio" name="premises""#),
        "{}",
        a.text
    );
    assert_eq!(t.state.provisioning.counts().await.unwrap(), before);

    // Words no street has: said, in French.
    let a = submit(
        &t,
        &s,
        "/technicien/lignes",
        &[("premises", "12 avenue introuvable"), ("profile", "1G")],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.text.contains("ucune adresse ni aucun local"),
        "{}",
        a.text
    );
}
