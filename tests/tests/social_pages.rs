//! The social tariff through its pages, as people use them: a household
//! fills the form (errors by the field and in the summary, a draft, then
//! sent), an agent enters a counter and a paper application, records the
//! documents seen, decides; the household reads the letter and appeals;
//! another agent answers; the accountant's list shows no benefit or
//! income. On SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)] // A failed unwrap stops the test loudly, with the value.

use axum::http::{Method, StatusCode};
use regie::platform::auth::Role;
use regie_tests::{Answer, Session, TestApp};
use serde_json::json;

async fn submit(t: &TestApp, s: &Session, uri: &str, fields: &[(&str, &str)]) -> Answer {
    let mut form = vec![("csrf_token", s.csrf.as_str())];
    form.extend_from_slice(fields);
    t.page(Method::POST, uri, Some(s), Some(&form)).await
}

fn location(a: &Answer) -> String {
    a.header("location").unwrap_or_default().to_owned()
}

const FILLED: &[(&str, &str)] = &[
    ("nom", "Awa Diallo"),
    ("adresse", "12 rue de l'Église"),
    ("code_postal", "35000"),
    ("commune", "Rennes"),
    ("taille_foyer", "3"),
    ("prestations", "RSA"),
    ("prestations", "C2S"),
    ("contact", "courrier"),
];

async fn publish_rules(t: &TestApp) {
    let admin = t.user("admin", &[Role::Admin]).await;
    let token = t.token_for(&admin).await;
    let r = t
        .api(
            Method::POST,
            "/api/v1/social-tariff/rules",
            Some(&token),
            Some(json!({"document": social_tariff::rules::EXAMPLE})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_household_applies_online_an_agent_decides_the_household_reads_and_appeals() {
    let t = TestApp::new().await;
    publish_rules(&t).await;
    let family = t.user("famille", &[Role::Household]).await;
    let f = t.session_for(&family).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let a = t.session_for(&agent).await;
    let other = t.user("agente2", &[Role::SocialAgent]).await;
    let o = t.session_for(&other).await;

    let home = t.page(Method::GET, "/mon-espace", Some(&f), None).await;
    assert!(
        home.text.contains("Demander le tarif social"),
        "{}",
        home.text
    );
    let page = t
        .page(Method::GET, "/mon-espace/demande", Some(&f), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    for label in [
        "<label for=\"nom\">",
        "<label for=\"code_postal\">",
        "<legend>Votre situation</legend>",
        "Ce qui se passe ensuite",
    ] {
        assert!(page.text.contains(label), "{label}");
    }

    // Sent empty: every error in the summary and next to its field.
    let r = submit(
        &t,
        &f,
        "/mon-espace/demande",
        &[("action", "envoyer"), ("code_postal", "3500")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("Le formulaire contient 7 erreurs"),
        "{}",
        r.text
    );
    for field in [
        "nom",
        "adresse",
        "code_postal",
        "commune",
        "taille_foyer",
        "prestations",
        "contact",
    ] {
        assert!(
            r.text.contains(&format!("href=\"#{field}\"")),
            "summary link to {field}"
        );
        assert!(
            r.text.contains(&format!("id=\"{field}-erreur\"")),
            "error next to {field}"
        );
    }
    assert!(
        r.text.contains("Le code postal s'écrit avec 5 chiffres"),
        "{}",
        r.text
    );
    assert!(r.text.contains("value=\"3500\""), "what was typed is kept");

    // A draft, then the form comes back filled.
    let mut draft = FILLED[..3].to_vec();
    draft.push(("action", "brouillon"));
    let r = submit(&t, &f, "/mon-espace/demande", &draft).await;
    assert_eq!(
        (r.status, location(&r).as_str()),
        (StatusCode::SEE_OTHER, "/mon-espace?brouillon=1")
    );
    let page = t
        .page(Method::GET, "/mon-espace/demande", Some(&f), None)
        .await;
    assert!(page.text.contains("value=\"Awa Diallo\""));
    let draft_code = regie_tests::hidden_field(&page.text, "demande").unwrap();
    let mut sent = FILLED.to_vec();
    sent.extend([("action", "envoyer"), ("demande", draft_code.as_str())]);
    let r = submit(&t, &f, "/mon-espace/demande", &sent).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        location(&r),
        format!("/mon-espace/demandes/{draft_code}?envoyee=1")
    );
    let mine = t
        .page(
            Method::GET,
            &format!("/mon-espace/demandes/{draft_code}"),
            Some(&f),
            None,
        )
        .await;
    assert!(
        mine.text.contains("a bien été envoyée") && mine.text.contains("Ce qui se passe ensuite"),
        "{}",
        mine.text
    );

    // The agent sees it, records the documents and the dwelling, decides.
    let list = t
        .page(Method::GET, "/instruction/demandes", Some(&a), None)
        .await;
    assert!(
        list.text.contains(&draft_code) && list.text.contains("en ligne"),
        "{}",
        list.text
    );
    let review = format!("/instruction/demandes/{draft_code}");
    let show = t.page(Method::GET, &review, Some(&a), None).await;
    assert!(
        show.text
            .contains("Incomplet : des critères restent à vérifier"),
        "{}",
        show.text
    );
    // Criteria still to check: nothing is chosen for the agent; the
    // benefits read as sentences, the criteria as words.
    assert!(
        !show.text.contains(r#"value="granted" checked"#)
            && !show.text.contains(r#"value="refused" checked"#),
        "{}",
        show.text
    );
    assert!(
        show.text.contains("Perçoit l&#39;AAH") || show.text.contains("Perçoit l'AAH"),
        "{}",
        show.text
    );
    assert!(show.text.contains("Ne perçoit pas la C2S"));
    assert!(!show.text.contains("quotient_familial"));
    let bad = submit(
        &t,
        &a,
        &format!("{review}/justificatif"),
        &[
            ("objet", "prestation:RSA"),
            ("document", "attestation CAF"),
            ("date_document", "hier"),
            ("emetteur", "CAF"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text.contains("date_document-erreur") || bad.text.contains("JJ/MM/AAAA"),
        "{}",
        bad.text
    );
    let ok = submit(
        &t,
        &a,
        &format!("{review}/justificatif"),
        &[
            ("objet", "prestation:RSA"),
            ("document", "attestation de paiement"),
            ("date_document", "05/10/2026"),
            ("emetteur", "CAF d'Ille-et-Vilaine"),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(ok.text.contains("Justificatif enregistré"));
    let ok = submit(
        &t,
        &a,
        &format!("{review}/raccordable"),
        &[("raccordable", "oui")],
    )
    .await;
    assert!(ok.text.contains("Accorder le niveau N1"), "{}", ok.text);
    let decided = submit(
        &t,
        &a,
        &format!("{review}/decision"),
        &[("issue", "granted"), ("motif", "")],
    )
    .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.text);
    assert!(
        decided.text.contains("validée ; la lettre est prête"),
        "{}",
        decided.text
    );

    // The household reads the letter on its page and as PDF, and appeals.
    let mine = t
        .page(
            Method::GET,
            &format!("/mon-espace/demandes/{draft_code}"),
            Some(&f),
            None,
        )
        .await;
    for expected in [
        "Votre demande de tarif social est acceptée",
        "traitement algorithmique",
        "Comment contester cette décision",
        "Contester cette décision",
        "lettre.pdf",
    ] {
        assert!(mine.text.contains(expected), "{expected}: {}", mine.text);
    }
    let number = mine
        .text
        .split("/decisions/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let pdf = t
        .page(
            Method::GET,
            &format!("/decisions/{number}/lettre.pdf"),
            Some(&f),
            None,
        )
        .await;
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    let home = t.page(Method::GET, "/mon-espace", Some(&f), None).await;
    assert!(
        home.text
            .contains("Vous bénéficiez du tarif social, niveau N1"),
        "{}",
        home.text
    );
    let empty = submit(
        &t,
        &f,
        &format!("/mon-espace/decisions/{number}/recours"),
        &[("motifs", "  ")],
    )
    .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text.contains("motifs-erreur"), "{}", empty.text);
    let appealed = submit(
        &t,
        &f,
        &format!("/mon-espace/decisions/{number}/recours"),
        &[("motifs", "Je pense avoir droit à davantage.")],
    )
    .await;
    assert_eq!(appealed.status, StatusCode::SEE_OTHER, "{}", appealed.text);

    // The deciding agent cannot answer it; another agent maintains it.
    let appeals = t
        .page(Method::GET, "/instruction/recours", Some(&a), None)
        .await;
    assert!(
        appeals
            .text
            .contains("un autre agent doit examiner ce recours"),
        "{}",
        appeals.text
    );
    let id = appeals
        .text
        .split("id=\"recours-")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    // The other agent chooses the new level among the rules' levels.
    let theirs = t
        .page(Method::GET, "/instruction/recours", Some(&o), None)
        .await;
    assert!(
        theirs.text.contains(r#"<select id="niveau-"#)
            && theirs.text.contains("Aucun : la demande reste refusée")
            && theirs.text.contains(r#"<option value="N1">"#),
        "{}",
        theirs.text
    );
    let refused = submit(
        &t,
        &a,
        &format!("/instruction/recours/{id}"),
        &[("reponse", "maintenir"), ("motif", "non")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let answered = submit(
        &t,
        &o,
        &format!("/instruction/recours/{id}"),
        &[
            ("reponse", "maintenir"),
            ("niveau", ""),
            ("motif", "Le niveau N1 est déjà le plus favorable."),
        ],
    )
    .await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.text);
    assert!(
        answered.text.contains("décision maintenue"),
        "{}",
        answered.text
    );
    let mine = t
        .page(
            Method::GET,
            &format!("/mon-espace/demandes/{draft_code}"),
            Some(&f),
            None,
        )
        .await;
    assert!(
        mine.text
            .contains("Le niveau N1 est déjà le plus favorable"),
        "{}",
        mine.text
    );
    // « Voir mon dossier »: the whole file — what was declared, the
    // decision in words with its letter, the appeal and its answer.
    let home = t.page(Method::GET, "/mon-espace", Some(&f), None).await;
    let file = home
        .text
        .split(r#"href="/foyers/"#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to the household's file")
        .to_owned();
    let dossier = t
        .page(Method::GET, &format!("/foyers/{file}"), Some(&f), None)
        .await;
    assert_eq!(dossier.status, StatusCode::OK);
    for expected in [
        draft_code.as_str(),
        "Ce qui a été déclaré",
        &format!("Décision {number}"),
        "Lettre de décision (PDF)",
        "Recours n°",
        "Le niveau N1 est déjà le plus favorable",
    ] {
        assert!(
            dossier.text.contains(expected),
            "{expected}: {}",
            dossier.text
        );
    }
    assert!(!dossier.text.contains("quotient_familial"));

    // The accountant sees who is entitled, never why.
    let compta = t.user("compta", &[Role::Accountant]).await;
    let c = t.session_for(&compta).await;
    let list = t
        .page(Method::GET, "/comptabilite/tarif-social", Some(&c), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.text.contains(&number) && list.text.contains("Gratuité"),
        "{}",
        list.text
    );
    for secret in [
        "RSA",
        "C2S",
        "revenu",
        "quotient",
        "prestation",
        "Diallo",
        "Église",
    ] {
        assert!(
            !list.text.contains(secret),
            "{secret} shown to the accountant"
        );
    }
    for uri in [
        format!("/instruction/demandes/{draft_code}"),
        format!("/decisions/{number}/lettre.pdf"),
    ] {
        assert_eq!(
            t.page(Method::GET, &uri, Some(&c), None).await.status,
            StatusCode::FORBIDDEN,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn an_agent_enters_counter_and_paper_applications() {
    let t = TestApp::new().await;
    publish_rules(&t).await;
    let agent = t.user("agent", &[Role::SocialAgent]).await;
    let a = t.session_for(&agent).await;

    // The paper form prints without an account.
    let paper = t
        .page(Method::GET, "/tarif-social/formulaire", None, None)
        .await;
    assert_eq!(paper.status, StatusCode::OK);
    assert!(
        paper.text.contains("formulaire papier") && paper.text.contains("Signature"),
        "{}",
        paper.text
    );

    // Without the household's consent, nothing is entered.
    let mut fields = FILLED.to_vec();
    fields.push(("canal", "paper"));
    let r = submit(&t, &a, "/instruction/demandes/nouvelle", &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("consentement-erreur"), "{}", r.text);
    let mut unknown = fields.clone();
    unknown.extend([("consentement", "on"), ("foyer", "FOY-222222")]);
    let r = submit(&t, &a, "/instruction/demandes/nouvelle", &unknown).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("aucun foyer ne porte le code")
            || r.text.contains("Aucun foyer ne porte le code"),
        "{}",
        r.text
    );

    fields.push(("consentement", "on"));
    let r = submit(&t, &a, "/instruction/demandes/nouvelle", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let show = t.page(Method::GET, &location(&r), Some(&a), None).await;
    assert!(
        show.text.contains("formulaire papier")
            && show.text.contains("saisie par agent")
            && show.text.contains("avec l'accord du foyer"),
        "{}",
        show.text
    );

    // A counter application for the same dwelling: flagged as a duplicate.
    let mut counter: Vec<(&str, &str)> = FILLED.to_vec();
    counter[0] = ("nom", "Moussa Diallo");
    counter.extend([("canal", "counter"), ("consentement", "on")]);
    let r = submit(&t, &a, "/instruction/demandes/nouvelle", &counter).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let show = t.page(Method::GET, &location(&r), Some(&a), None).await;
    assert!(
        show.text.contains("Doublons possibles")
            && show.text.contains("demande pour le même logement"),
        "{}",
        show.text
    );
    assert!(show.text.contains("au guichet"));
    // A refusal the rules do not propose needs a reason.
    let code = location(&r);
    let r = submit(
        &t,
        &a,
        &format!("{code}/decision"),
        &[("issue", "refused"), ("motif", "")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("motif-erreur"), "{}", r.text);
}
