use crate::helpers::{assert_error, spawn_app};

/// Each is refused with `invalid_email`, and nothing is mailed.
fn malformed() -> Vec<String> {
    let mut cases: Vec<String> = [
        "",
        "   ",
        "plainaddress",
        "@example.com",
        "ann@",
        "ann@@example.com",
        "ann@example..com",
        ".ann@example.com",
        "ann.@example.com",
        "ann@-example.com",
        "ann@example.com\r\nBcc: victim@example.org",
        "ann@example.com\nSubject: hi",
        "ann@exa\rmple.com",
        "ann\u{0000}@example.com",
        "Ann <ann@example.com>",
        "\"ann smith\"@example.com",
        "ann smith@example.com",
        "ann@[127.0.0.1]",
        "анна@example.com",
        "ann@exämple.com",
        "ann@例え.jp",
        "ann\u{202e}moc.elpmaxe@example.com",
        "ann\u{200b}@example.com",
        "ann@example.com,bob@example.com",
        "ann@example.com;bob@example.com",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    cases.push("a".repeat(10_000));
    cases.push(format!("{}@example.com", "a".repeat(65)));
    cases.push(format!("ann@{}.com", "b".repeat(250)));
    cases
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_addresses_are_invalid_email_and_nothing_is_mailed() {
    let app = spawn_app().await;
    let cases = malformed();
    assert!(cases.len() >= 15);
    for email in &cases {
        let resp = app.send_code(email).await;
        assert_eq!(resp.status(), 400, "{email:?}");
        assert_error(resp, 400, "invalid_email").await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.smtp.mails().is_empty(), "{:?}", app.smtp.mails());
}

#[tokio::test(flavor = "multi_thread")]
async fn confirm_with_a_malformed_address_is_invalid_email() {
    let app = spawn_app().await;
    assert_error(
        app.confirm("ann@example.com\r\nBcc: x@example.org", "123456")
            .await,
        400,
        "invalid_email",
    )
    .await;
}
