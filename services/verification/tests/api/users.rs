//! Sign-ins' users are written in batches: concurrent sign-ins share
//! statements, and each still gets its own user.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::future::join_all;

use crate::helpers::{TestApp, json_body, spawn_app, unique_email};

/// Codes for `emails`, each sent and read back from the SMTP sink.
async fn codes_for(app: &TestApp, emails: &[String]) -> Vec<String> {
    let mut codes = Vec::new();
    for email in emails {
        let nth = app.smtp.mails_to(email).len() + 1;
        assert_eq!(app.send_code(email).await.status(), 202);
        codes.push(app.mailed_code(email, nth).await);
    }
    codes
}

/// Holds the users table (`EXCLUSIVE`), so that sign-ins queue behind their
/// workers' first statements and the rest go together in the next.
async fn hold_users_table(app: &TestApp) -> AsyncPgConnection {
    let mut lock = AsyncPgConnection::establish(app.db_url())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    lock.batch_execute("BEGIN; LOCK TABLE users IN EXCLUSIVE MODE")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    lock
}

async fn release_after(mut lock: AsyncPgConnection, wait: Duration) {
    tokio::time::sleep(wait).await;
    lock.batch_execute("COMMIT")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_sign_ins_share_statements_and_each_gets_its_own_user() {
    let app = spawn_app().await;
    let emails: Vec<String> = (0..40)
        .map(|i| unique_email(&format!("batch{i}")))
        .collect();
    // One of them signed in before: their user must be found again, not made anew.
    let earlier = app.login(&emails[0]).await;
    app.clear_cooldown(&emails[0]).await;
    let codes = codes_for(&app, &emails).await;
    let lock = hold_users_table(&app).await;
    let before = app
        .metric("verification_user_upsert_statements_total")
        .await;
    let confirms = join_all(emails.iter().zip(&codes).map(|(e, c)| app.confirm(e, c)));
    let (answers, ()) = tokio::join!(confirms, release_after(lock, Duration::from_millis(700)));

    let mut ids = std::collections::HashSet::new();
    for (email, answer) in emails.iter().zip(answers) {
        assert_eq!(answer.status(), 200, "{email}");
        let pair = json_body(answer).await;
        assert_eq!(pair["user"]["email"], email.as_str());
        assert!(ids.insert(pair["user"]["id"].to_string()), "{pair}");
        if email == &emails[0] {
            assert_eq!(pair["user"]["id"], earlier["user"]["id"]);
        }
    }
    let statements = app
        .metric("verification_user_upsert_statements_total")
        .await
        - before;
    // Two workers: each one's first statement waits for the lock, the rest of
    // its sign-ins go in its next. One statement per sign-in would be 40.
    assert!(statements <= 4, "{statements} statements for 40 sign-ins");
    assert_eq!(
        app.metric("verification_user_upserts_total").await,
        41,
        "every sign-in counted once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_the_database_refuses_fails_only_its_own_sign_in() {
    let app = spawn_app().await;
    let mut emails: Vec<String> = (0..12).map(|i| unique_email(&format!("ok{i}"))).collect();
    let refused = unique_email("refused");
    emails.insert(5, refused.clone());
    let mut conn = AsyncPgConnection::establish(app.db_url())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    conn.batch_execute(&format!(
        "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN \
           IF NEW.email = '{refused}' THEN RAISE EXCEPTION 'refused for the test'; END IF; \
           RETURN NEW; END $$ LANGUAGE plpgsql; \
         CREATE TRIGGER refuse_one BEFORE INSERT ON users \
           FOR EACH ROW EXECUTE FUNCTION refuse_one();"
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let codes = codes_for(&app, &emails).await;
    // All in as few statements as possible, the refused row among them.
    let lock = hold_users_table(&app).await;
    let confirms = join_all(emails.iter().zip(&codes).map(|(e, c)| app.confirm(e, c)));
    let (answers, ()) = tokio::join!(confirms, release_after(lock, Duration::from_millis(700)));
    for (email, answer) in emails.iter().zip(answers) {
        if *email == refused {
            assert_eq!(answer.status(), 500, "{email}");
        } else {
            assert_eq!(answer.status(), 200, "{email}");
            assert_eq!(json_body(answer).await["user"]["email"], email.as_str());
        }
    }
}
