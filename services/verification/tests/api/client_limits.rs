//! Per-client limits: failed confirms across addresses, /64 grouping, and which
//! `X-Forwarded-For` hop counts as the client.

use serde_json::json;

use crate::helpers::{
    TestApp, assert_error, retry_after, spawn_app_with, trust_loopback, unique_email, wrong,
};

#[tokio::test(flavor = "multi_thread")]
async fn failed_confirms_from_one_client_are_capped_across_addresses_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.codes.confirm_limit_per_ip = 3;
        c.codes.max_attempts = 3;
        trust_loopback(c);
    })
    .await;
    let attacker = "198.51.100.66";
    let (ann, bob) = (unique_email("ann"), unique_email("bob"));
    app.send_code(&ann).await;
    app.send_code(&bob).await;
    let ann_code = app.mailed_code(&ann, 1).await;
    let bob_code = app.mailed_code(&bob, 1).await;

    // Three wrong guesses spread over two addresses use up the client's hour.
    for (email, code) in [(&ann, &ann_code), (&ann, &ann_code), (&bob, &bob_code)] {
        assert_error(
            app.confirm_via(email, &wrong(code), attacker).await,
            400,
            "invalid_code",
        )
        .await;
    }
    // Now even the right code is refused unchecked, with Retry-After.
    for _ in 0..5 {
        let refused = app.confirm_via(&ann, &ann_code, attacker).await;
        let secs = retry_after(&refused);
        assert!((1..=3600).contains(&secs), "{secs}");
        assert_error(refused, 429, "rate_limited").await;
    }
    // The refused guesses were not counted against the code: ann had two wrong
    // guesses of three, and five refused ones would have burned it.
    assert_eq!(
        app.confirm_via(&ann, &ann_code, "203.0.113.5")
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn successful_confirms_do_not_count_against_the_client() {
    let app = spawn_app_with(|c| c.codes.confirm_limit_per_ip = 2).await;
    for i in 0..4 {
        app.login(&unique_email(&format!("office{i}"))).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_clients_are_limited_by_their_64_and_mapped_ipv4_as_ipv4() {
    let app = spawn_app_with(|c| {
        c.codes.confirm_limit_per_ip = 2;
        trust_loopback(c);
    })
    .await;
    let never = "000000";
    let fail = |xff: &'static str| {
        let app = &app;
        async move {
            app.confirm_via(&unique_email("v6"), never, xff)
                .await
                .status()
        }
    };
    // Two addresses of one /64 share its allowance.
    assert_eq!(fail("2001:db8:1:2::1").await, 400);
    assert_eq!(fail("[2001:db8:1:2:ffff::9]:443").await, 400);
    assert_eq!(fail("2001:db8:1:2::77").await, 429);
    // The next /64 is another subscriber.
    assert_eq!(fail("2001:db8:1:3::1").await, 400);
    // An IPv4-mapped address is its IPv4 address.
    assert_eq!(fail("198.51.100.9").await, 400);
    assert_eq!(fail("::ffff:198.51.100.9").await, 400);
    assert_eq!(fail("198.51.100.9").await, 429);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_forwarded_for_chain_cannot_choose_the_client() {
    let app = spawn_app_with(|c| {
        c.codes.send_limit_per_ip = 1;
        trust_loopback(c);
    })
    .await;
    let send = |xff: &'static str| {
        let app = &app;
        async move {
            app.post_json_via(
                "/v1/verification/send",
                &json!({"email": unique_email("xff")}),
                xff,
            )
            .await
            .status()
        }
    };
    // The garbled hop ends the walk: both count as the proxy itself (the peer),
    // whatever address the attacker wrote left of it.
    assert_eq!(send("198.51.100.1, not-an-ip").await, 202);
    assert_eq!(send("198.51.100.2, not-an-ip").await, 429);
    assert_eq!(send("198.51.100.3, , 127.0.0.1").await, 429);
    // The right-most untrusted hop is the client, never the left-most.
    assert_eq!(send("6.6.6.6, 198.51.100.20:5555").await, 202);
    assert_eq!(send("7.7.7.7, 198.51.100.20").await, 429);
}

/// Guesses sent all at once from one client, each to an address of its own:
/// exactly `limit` are looked at, every other one is refused. Checked apart
/// from counted, concurrent requests would all pass the check together.
async fn concurrent_guesses_stop_at_the_cap(app: &TestApp, limit: usize) {
    let emails: Vec<String> = (0..4 * limit)
        .map(|i| unique_email(&format!("crowd{i}")))
        .collect();
    for email in &emails {
        assert_eq!(app.send_code(email).await.status(), 202);
    }
    let mut guesses = Vec::new();
    for email in &emails {
        guesses.push(wrong(&app.mailed_code(email, 1).await));
    }
    let answers = futures_util::future::join_all(
        emails
            .iter()
            .zip(&guesses)
            .map(|(email, guess)| app.confirm_via(email, guess, "198.51.100.99")),
    )
    .await;
    let looked_at = answers.iter().filter(|r| r.status() == 400).count();
    let refused = answers.iter().filter(|r| r.status() == 429).count();
    assert_eq!(
        (looked_at, refused),
        (limit, 3 * limit),
        "of {} guesses at once",
        4 * limit
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_failed_confirms_cannot_slip_under_the_cap() {
    let app = spawn_app_with(|c| {
        c.codes.confirm_limit_per_ip = 5;
        trust_loopback(c);
    })
    .await;
    concurrent_guesses_stop_at_the_cap(&app, 5).await;
}

/// On a Redis Cluster the per-client counters live in other hash slots than an
/// address's keys, so they are taken and given back in calls of their own
/// (`store/code_limits.rs`); on one node they are counted inside the code's
/// script. The same limits hold on both.
#[tokio::test(flavor = "multi_thread")]
async fn per_client_limits_hold_on_a_redis_cluster() {
    let redis = testkit::redis_cluster::RedisCluster::start().await;
    let url = redis.url();
    let app = spawn_app_with(|c| {
        c.shared.redis.url = url.clone();
        c.codes.send_limit_per_ip = 4;
        c.codes.confirm_limit_per_ip = 2;
        trust_loopback(c);
    })
    .await;
    let (ann, bob, cat) = (
        unique_email("ann"),
        unique_email("bob"),
        unique_email("cat"),
    );
    assert_eq!(app.send_code(&ann).await.status(), 202);
    // Refused by the address's cooldown: the client's allowance is not spent.
    assert_error(app.send_code(&ann).await, 429, "rate_limited").await;
    assert_eq!(app.send_code(&bob).await.status(), 202);
    assert_eq!(app.send_code(&cat).await.status(), 202);
    let ann_code = app.mailed_code(&ann, 1).await;
    let bob_code = app.mailed_code(&bob, 1).await;
    let cat_code = app.mailed_code(&cat, 1).await;
    let attacker = "198.51.100.77";
    for (email, code) in [(&ann, &ann_code), (&bob, &bob_code)] {
        assert_error(
            app.confirm_via(email, &wrong(code), attacker).await,
            400,
            "invalid_code",
        )
        .await;
    }
    let refused = app.confirm_via(&ann, &ann_code, attacker).await;
    assert!((3500..=3600).contains(&retry_after(&refused)));
    assert_error(refused, 429, "rate_limited").await;
    // Another client confirms all three: the refused guess was not counted
    // against the code, and successes do not count (a limit of 2, 3 successes).
    let other = "203.0.113.9";
    for (email, code) in [(&ann, &ann_code), (&bob, &bob_code), (&cat, &cat_code)] {
        assert_eq!(app.confirm_via(email, code, other).await.status(), 200);
    }
    // The fourth send of the hour from this client is its last.
    assert_eq!(app.send_code(&unique_email("dan")).await.status(), 202);
    assert_error(
        app.send_code(&unique_email("eve")).await,
        429,
        "rate_limited",
    )
    .await;
    // Guesses at once are capped here too (a fresh client: its own counter).
    let app = spawn_app_with(|c| {
        c.shared.redis.url = url.clone();
        c.codes.confirm_limit_per_ip = 5;
        trust_loopback(c);
    })
    .await;
    concurrent_guesses_stop_at_the_cap(&app, 5).await;
    drop(redis);
}
