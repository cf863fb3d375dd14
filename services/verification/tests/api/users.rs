//! Sign-ins' users are written in batches: concurrent sign-ins share
//! statements, and each still gets its own user.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::future::join_all;

use crate::helpers::{json_body, spawn_app, unique_email};

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_sign_ins_share_statements_and_each_gets_its_own_user() {
    let app = spawn_app().await;
    let emails: Vec<String> = (0..40)
        .map(|i| unique_email(&format!("batch{i}")))
        .collect();
    // One of them signed in before: their user must be found again, not made anew.
    let earlier = app.login(&emails[0]).await;
    app.clear_cooldown(&emails[0]).await;
    let mut codes = Vec::new();
    for email in &emails {
        let nth = app.smtp.mails_to(email).len() + 1;
        assert_eq!(app.send_code(email).await.status(), 202);
        codes.push(app.mailed_code(email, nth).await);
    }
    // Hold the users table so that every sign-in is queued behind its worker's
    // first statement: then each worker writes the rest in one more.
    let mut lock = AsyncPgConnection::establish(app.db_url())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    lock.batch_execute("BEGIN; LOCK TABLE users IN EXCLUSIVE MODE")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let before = app
        .metric("verification_user_upsert_statements_total")
        .await;
    let confirms = join_all(emails.iter().zip(&codes).map(|(e, c)| app.confirm(e, c)));
    let release = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        lock.batch_execute("COMMIT")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    };
    let (answers, ()) = tokio::join!(confirms, release);

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
