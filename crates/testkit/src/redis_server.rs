//! A private `redis-server` on a free port, for tests that need to break Redis
//! (deny a command, stop it) without touching the shared server other tests use.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use deadpool_redis::redis;

pub struct PrivateRedis {
    pub port: u16,
    child: Child,
}

impl PrivateRedis {
    /// Starts `redis-server` (from `PATH`) on a free loopback port, without
    /// persistence, and waits until it answers.
    pub async fn start() -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start redis-server (is it installed?): {e}"));
        let server = Self { port, child };
        for _ in 0..100 {
            if server.try_command(&["PING"]).await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the private redis-server on port {port} never answered");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs one command on a fresh connection of its own (an operator's).
    pub async fn command(&self, args: &[&str]) -> redis::Value {
        self.try_command(args)
            .await
            .unwrap_or_else(|e| panic!("{args:?} on the private redis: {e}"))
    }

    async fn try_command(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let client = redis::Client::open(self.url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query_async(&mut conn).await
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("find a free port: {e}"))
}
