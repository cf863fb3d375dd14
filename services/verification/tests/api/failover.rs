//! A Redis Cluster master dies: once a replica is promoted, codes are issued
//! and confirmed again, for addresses whose keys lived on the lost master too.

use std::time::{Duration, Instant};

use serde_json::json;
use testkit::redis_cluster::RedisCluster;

use crate::helpers::{spawn_app_with, unique_email};

#[tokio::test(flavor = "multi_thread")]
async fn codes_are_issued_and_confirmed_again_after_a_master_fails_over() {
    let mut redis = RedisCluster::start().await;
    let url = redis.url();
    let app = spawn_app_with(|c| c.shared.redis.url = url.clone()).await;
    let before = unique_email("before");
    assert_eq!(app.login(&before).await["token_type"], "Bearer");

    // An address whose code key lives on the master about to die.
    let key = |email: &str| format!("{}email_verification:{email}", app.prefix);
    let email = unique_email("lost");
    let victim = redis.master_of(&key(&email)).await;
    let sent = app
        .post_json("/v1/verification/send", &json!({"email": email}))
        .await;
    assert_eq!(sent.status(), 202);
    // A second address on the same master, first used after the failover: its
    // code is stored by a MULTI, which the old owner's slot map would send to
    // a node that answers MOVED inside the transaction.
    let after = loop {
        let candidate = unique_email("after");
        if redis.master_of(&key(&candidate)).await == victim {
            break candidate;
        }
    };
    redis.kill(victim);
    redis.wait_for_failover().await;

    // The cluster connection finds the new master; a request in the moment of
    // the switch may be refused as unavailable, never answered wrongly.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let sent = app
            .post_json("/v1/verification/send", &json!({"email": after}))
            .await;
        match sent.status().as_u16() {
            202 => break,
            503 => assert!(Instant::now() < deadline, "still unavailable"),
            other => panic!("send after failover answered {other}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let code = app.mailed_code(&after, 1).await;
    assert_eq!(app.confirm(&after, &code).await.status(), 200);
    // The address on the lost master: its code may be gone with it (replication
    // is asynchronous), but a new one is issued and confirmed.
    let code = app.mailed_code(&email, 1).await;
    let confirmed = app.confirm(&email, &code).await.status().as_u16();
    assert!(confirmed == 200 || confirmed == 400, "{confirmed}");
    if confirmed == 400 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            app.login(&unique_email("again")).await["token_type"],
            "Bearer"
        );
    }
}
