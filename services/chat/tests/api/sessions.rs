//! A socket lives only as long as its token: logout and expiry close it.

use std::time::Duration;

use crate::helpers::{User, spawn_app, spawn_cluster};

#[tokio::test(flavor = "multi_thread")]
async fn logout_closes_that_logins_sockets_on_every_replica_with_4003_within_a_second() {
    let app = spawn_cluster(2, |_| {}).await;
    let ann = User::new("ann");
    let other_login = User {
        sid: uuid::Uuid::new_v4(),
        ..ann.clone()
    };
    let mut on_0 = app.connect(0, "/ws/chat/", &ann).await;
    let mut on_1 = app.connect(1, "/ws/chat/general/", &ann).await;
    let mut phone = app.connect(1, "/ws/chat/", &other_login).await;
    let token = app.token(&ann);

    app.logout(&ann).await;
    for socket in [&mut on_0, &mut on_1] {
        let ended = socket.ended_within(Duration::from_secs(1)).await;
        assert_eq!(ended.code(), Some(4003), "{ended:?}");
    }
    phone.ping().await;
    assert!(app.try_connect(0, "/ws/chat/", &token).await.is_err());
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_that_expires_while_connected_closes_with_4001() {
    let app = spawn_app().await;
    let ann = User::new("ann");
    let token = app.token_with_ttl(&ann, 2);
    let mut socket = app.try_connect(0, "/ws/chat/", &token).await.unwrap();
    assert_eq!(socket.next_json().await["type"], "joined");
    socket.ping().await;
    let ended = socket.ended_within(Duration::from_secs(4)).await;
    assert_eq!(ended.code(), Some(4001), "{ended:?}");
    app.teardown().await;
}
