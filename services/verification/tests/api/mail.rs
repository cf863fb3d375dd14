use std::time::Duration;

use verification::mail::settings::TransportKind;

use crate::helpers::{assert_error, spawn_app, spawn_app_with, unique_email};

#[tokio::test(flavor = "multi_thread")]
async fn the_mail_has_text_and_html_parts_stating_the_code_and_its_lifetime() {
    let app = spawn_app().await;
    let email = unique_email("parts");
    app.send_code(&email).await;
    let mails = app.smtp.wait_for(&email, 1, Duration::from_secs(5)).await;
    let mail = &mails[0];
    let code = mail.code().unwrap_or_default();
    assert!(mail.chunked, "the sink offers CHUNKING: one BDAT chunk");
    assert_eq!(mail.from, "no-reply@chatverify.test");
    let text = mail.text();
    assert!(text.contains("multipart/alternative"), "{text}");
    assert!(text.contains("text/plain"));
    assert!(text.contains("text/html"));
    assert!(text.matches("expires in 5 minutes").count() >= 2, "{text}");
    assert!(
        text.matches(code.as_str()).count() >= 3,
        "subject, text and html"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_without_chunking_gets_the_mail_after_data() {
    let app = spawn_app().await;
    app.smtp.set_chunking(false);
    let email = unique_email("nochunk");
    assert_eq!(app.send_code(&email).await.status(), 202);
    let mails = app.smtp.wait_for(&email, 1, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 1);
    assert!(!mails[0].chunked);
    let code = mails[0].code().unwrap_or_default();
    assert_eq!(app.confirm(&email, &code).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_smtp_failures_are_retried_until_the_mail_is_delivered() {
    let app = spawn_app().await;
    app.smtp.fail_next(2);
    let email = unique_email("retry");
    assert_eq!(app.send_code(&email).await.status(), 202);
    let mails = app.smtp.wait_for(&email, 1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1, "delivered on the third attempt");
    assert_eq!(
        app.metric("verification_mail_failures_total{result=\"retried\"}")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_smtp_server_does_not_slow_send() {
    let app = spawn_app().await;
    app.smtp.set_delay(Duration::from_millis(400));
    let email = unique_email("slow");
    assert_eq!(app.send_code(&email).await.status(), 202);
    // Answered before the mail could possibly have been delivered (each SMTP
    // command is stalled, and a delivery takes several).
    assert!(app.smtp.mails_to(&email).is_empty());
    let mails = app.smtp.wait_for(&email, 1, Duration::from_secs(15)).await;
    assert_eq!(mails.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_mail_queue_answers_unavailable_and_spends_nothing() {
    let app = spawn_app_with(|c| {
        c.mail.queue_capacity = 1;
        c.mail.concurrency = 1;
    })
    .await;
    app.smtp.set_delay(Duration::from_millis(300));
    let emails: Vec<String> = (0..4).map(|i| unique_email(&format!("full{i}"))).collect();
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for email in &emails {
        let resp = app.send_code(email).await;
        if resp.status() == 202 {
            accepted.push(email.clone());
        } else {
            assert!(resp.headers().contains_key("retry-after"));
            assert_error(resp, 503, "unavailable").await;
            refused.push(email.clone());
        }
    }
    assert!(!refused.is_empty(), "a queue of one must overflow");
    assert!(!accepted.is_empty());
    for email in &accepted {
        assert_eq!(
            app.smtp
                .wait_for(email, 1, Duration::from_secs(20))
                .await
                .len(),
            1
        );
    }
    // A refused address spent no cooldown: it can ask again once the queue
    // drained. A mail keeps its place until its delivery is done, which is a
    // moment after the relay has it.
    for _ in 0..100 {
        if app.metric("verification_mail_queue_depth").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.send_code(&refused[0]).await.status(), 202);
}

#[tokio::test(flavor = "multi_thread")]
async fn queued_mail_is_delivered_before_shutdown_completes() {
    // One delivery at a time, each slow: the first mail is still on the
    // worker that queued it when the workers stop, and must be handed over.
    let mut app = spawn_app_with(|c| c.mail.concurrency = 1).await;
    app.smtp.set_delay(Duration::from_millis(100));
    let emails: Vec<String> = (0..3).map(|i| unique_email(&format!("drain{i}"))).collect();
    for email in &emails {
        assert_eq!(app.send_code(email).await.status(), 202);
    }
    app.stop().await;
    for email in &emails {
        assert_eq!(
            app.smtp.mails_to(email).len(),
            1,
            "{email} was not delivered"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_transport_writes_one_eml_per_mail() {
    let dir = testkit::keys::temp_dir("mailfiles");
    let transport =
        TransportKind::parse(&format!("file:{}", dir.display())).unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_app_with(move |c| c.mail.transport = transport).await;
    let email = unique_email("file");
    assert_eq!(app.send_code(&email).await.status(), 202);
    // The transport writes the file in more than one call: read until the
    // mail is whole (its body comes last), not merely until the file exists.
    let mut last = None;
    for _ in 0..50 {
        let files: Vec<_> = std::fs::read_dir(&dir)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        let emls: Vec<_> = files
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        assert!(emls.len() <= 1, "one mail, one file: {emls:?}");
        last = emls.first().and_then(|p| std::fs::read_to_string(p).ok());
        if last
            .as_deref()
            .is_some_and(|eml| eml.contains("is your verification code"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let eml = last.unwrap_or_else(|| panic!("no .eml written"));
    assert!(eml.contains("is your verification code"), "{eml}");
    assert!(eml.contains(&email), "{eml}");
}

#[test]
fn mail_transport_settings_are_checked() {
    for ok in [
        "log",
        "file:/tmp/mail",
        "smtp://127.0.0.1:2525",
        "smtps://user:pass@mail.example.com:465",
        "smtp+starttls://user:pass@mail.example.com:587",
    ] {
        assert!(TransportKind::parse(ok).is_ok(), "{ok}");
    }
    for bad in ["", "mail", "file:", "http://x", "smtp//x"] {
        assert!(TransportKind::parse(bad).is_err(), "{bad}");
    }
    let debug = format!("{:?}", TransportKind::parse("smtps://user:secret@h:465"));
    assert!(!debug.contains("secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mail_still_queued_when_its_code_expires_is_not_sent() {
    let app = spawn_app_with(|c| {
        c.codes.ttl_secs = 1;
        c.mail.concurrency = 1;
    })
    .await;
    // Each SMTP command stalls, so the first delivery takes seconds and the
    // second mail waits in the queue past its code's one-second life.
    app.smtp.set_delay(Duration::from_millis(600));
    let (first, stale) = (unique_email("first"), unique_email("stale"));
    assert_eq!(app.send_code(&first).await.status(), 202);
    assert_eq!(app.send_code(&stale).await.status(), 202);
    assert_eq!(
        app.smtp
            .wait_for(&first, 1, Duration::from_secs(20))
            .await
            .len(),
        1
    );
    let mut expired = false;
    for _ in 0..100 {
        let dropped = app
            .metric("verification_mail_failures_total{result=\"expired\"}")
            .await;
        if dropped == 1 {
            expired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(expired, "the stale mail was not dropped as expired");
    assert!(
        app.smtp.mails_to(&stale).is_empty(),
        "a dead code was mailed"
    );
}
