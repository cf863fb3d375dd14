//! A real Redis Cluster for tests: 3 masters and 3 replicas from the installed
//! `redis-server`, joined with `redis-cli --cluster create` on free ports.
//! [`RedisCluster::start`] gives a test one of its own (to kill a master);
//! [`shared`] one per test process, for tests that only need a cluster.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use deadpool_redis::redis;

use crate::redis_server::free_port;

pub struct RedisCluster {
    pub ports: Vec<u16>,
    nodes: Vec<Option<Child>>,
    dir: PathBuf,
}

/// A node's process. It is started under a shell that kills it when its stdin
/// closes, which happens when the test process ends however it ends: a
/// cluster kept in a `static` (never dropped) leaves no server behind.
fn spawn_node(port: u16, dir: &std::path::Path) -> Child {
    let conf = dir.join(format!("nodes-{port}.conf"));
    let script = format!(
        "redis-server --port {port} --bind 127.0.0.1 --cluster-enabled yes \
         --cluster-config-file '{}' --cluster-node-timeout 1000 --save '' \
         --appendonly no --dir '{}' >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill -9 $pid",
        conf.display(),
        dir.display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start redis-server (is it installed?): {e}"))
}

impl RedisCluster {
    /// Starts six nodes and makes them a cluster with every slot covered and
    /// every master replicated.
    pub async fn start() -> Self {
        let dir =
            std::env::temp_dir().join(format!("redis-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
        let nodes = ports.iter().map(|p| Some(spawn_node(*p, &dir))).collect();
        let cluster = Self { ports, nodes, dir };
        for port in &cluster.ports {
            wait_until(Duration::from_secs(10), || async { ping(*port).await }).await;
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for port in &cluster.ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let out = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| panic!("redis-cli --cluster create: {e}"));
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let ports = cluster.ports.clone();
        wait_until(Duration::from_secs(30), || {
            let ports = ports.clone();
            async move { healthy(&ports, 3).await && replicas_synced(&ports).await }
        })
        .await;
        cluster
    }

    /// `REDIS_URL` for it: every node as a seed.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// The port of the master now serving `key`'s slot.
    pub async fn master_of(&self, key: &str) -> u16 {
        let slot = platform::redis::slots::slot(key);
        for port in self.live_ports() {
            if let Some(master) = master_for_slot(port, slot).await {
                return master;
            }
        }
        panic!("no live node knows who serves slot {slot}");
    }

    /// Kills a node outright (SIGKILL: no goodbye to its peers).
    pub fn kill(&mut self, port: u16) {
        if let Some(at) = self.ports.iter().position(|p| *p == port)
            && let Some(child) = self.nodes[at].take()
        {
            stop(child);
        }
    }

    /// Waits until a replica has taken over every slot of killed masters and
    /// the cluster reports itself whole again.
    pub async fn wait_for_failover(&self) {
        let ports = self.live_ports();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !healthy(&ports, 3).await {
            if Instant::now() > deadline {
                let mut view = String::new();
                if let Ok(mut conn) = connection(ports[0]).await {
                    view = redis::cmd("CLUSTER")
                        .arg("NODES")
                        .query_async(&mut conn)
                        .await
                        .unwrap_or_default();
                }
                panic!("no failover within 30 s; live {ports:?}; the cluster as seen:\n{view}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn live_ports(&self) -> Vec<u16> {
        self.ports
            .iter()
            .zip(&self.nodes)
            .filter(|(_, n)| n.is_some())
            .map(|(p, _)| *p)
            .collect()
    }

    /// Moves `key`'s slot (and the keys in it) from its master to another
    /// master, as a resharding does; returns `(from, to)` ports.
    pub async fn move_slot_of(&self, key: &str) -> (u16, u16) {
        let slot = platform::redis::slots::slot(key);
        let from = self.master_of(key).await;
        let mut to = None;
        for port in self.live_ports() {
            if port != from && role(port).await.as_deref() == Some("master") {
                to = Some(port);
                break;
            }
        }
        let to = to.unwrap_or_else(|| panic!("no other master to move slot {slot} to"));
        let id = |port: u16| async move { command(port, &["CLUSTER", "MYID"]).await };
        let (from_id, to_id) = (id(from).await, id(to).await);
        let slot_arg = slot.to_string();
        command(
            to,
            &["CLUSTER", "SETSLOT", &slot_arg, "IMPORTING", &from_id],
        )
        .await;
        command(
            from,
            &["CLUSTER", "SETSLOT", &slot_arg, "MIGRATING", &to_id],
        )
        .await;
        loop {
            let mut conn = connection(from)
                .await
                .unwrap_or_else(|e| panic!("{from}: {e}"));
            let keys: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(100)
                .query_async(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("GETKEYSINSLOT: {e}"));
            if keys.is_empty() {
                break;
            }
            let () = redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(to)
                .arg("")
                .arg(0)
                .arg(5000)
                .arg("KEYS")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("MIGRATE: {e}"));
        }
        // The new owner, the old one, then the other masters (replicas learn it
        // from them).
        let mut masters = vec![to, from];
        for port in self.live_ports() {
            if !masters.contains(&port) && role(port).await.as_deref() == Some("master") {
                masters.push(port);
            }
        }
        for port in masters {
            command(port, &["CLUSTER", "SETSLOT", &slot_arg, "NODE", &to_id]).await;
        }
        let ports = self.live_ports();
        wait_until(Duration::from_secs(10), || {
            let ports = ports.clone();
            async move {
                for port in ports {
                    if master_for_slot(port, slot).await != Some(to) {
                        return false;
                    }
                }
                true
            }
        })
        .await;
        (from, to)
    }

    /// Deletes every key under `prefix` on every master.
    pub async fn clear_prefix(&self, prefix: &str) {
        for port in self.live_ports() {
            let pool = deadpool_redis::Config::from_url(format!("redis://127.0.0.1:{port}"))
                .create_pool(Some(deadpool_redis::Runtime::Tokio1));
            if let Ok(pool) = pool {
                crate::redis::clear_prefix(&pool, prefix).await;
            }
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in self.nodes.iter_mut().filter_map(Option::take) {
            stop(node);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Closing the wrapper's stdin makes it kill its server (see [`spawn_node`]).
fn stop(mut node: Child) {
    drop(node.stdin.take());
    let _ = node.wait();
}

/// A cluster shared by every test of this process that only needs one (each
/// isolates itself with its own key prefix).
pub async fn shared() -> &'static RedisCluster {
    static SHARED: OnceLock<RedisCluster> = OnceLock::new();
    static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    if let Some(cluster) = SHARED.get() {
        return cluster;
    }
    let _one_at_a_time = STARTING.lock().await;
    if SHARED.get().is_none() {
        let cluster = RedisCluster::start().await;
        let _ = SHARED.set(cluster);
    }
    SHARED.get().unwrap_or_else(|| unreachable!("set above"))
}

async fn connection(port: u16) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    tokio::time::timeout(
        Duration::from_secs(1),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)))?
}

async fn ping(port: u16) -> bool {
    let Ok(mut conn) = connection(port).await else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .is_ok()
}

/// Every live node says the cluster is ok, and `masters` masters serve all slots.
async fn healthy(ports: &[u16], masters: usize) -> bool {
    for port in ports {
        let Ok(mut conn) = connection(*port).await else {
            return false;
        };
        let Ok(info) = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async::<String>(&mut conn)
            .await
        else {
            return false;
        };
        if !info.contains("cluster_state:ok") || !info.contains("cluster_slots_ok:16384") {
            return false;
        }
        let Ok(nodes) = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async::<String>(&mut conn)
            .await
        else {
            return false;
        };
        // Masters serving slots, all of them live nodes (a killed one is
        // still listed as a master until its peers mark it failed).
        let serving: Vec<u16> = nodes
            .lines()
            .filter(|l| l.contains("master") && !l.contains("fail") && l.split(' ').count() > 8)
            .filter_map(|l| {
                let addr = l.split(' ').nth(1)?.split('@').next()?;
                addr.rsplit_once(':')?.1.parse().ok()
            })
            .collect();
        if serving.len() < masters || !serving.iter().all(|p| ports.contains(p)) {
            return false;
        }
    }
    true
}

/// Every replica has finished its first sync: one that has not would never be
/// promoted (it holds no data to take over with).
async fn replicas_synced(ports: &[u16]) -> bool {
    for port in ports {
        let Ok(mut conn) = connection(*port).await else {
            return false;
        };
        let Ok(info) = redis::cmd("INFO")
            .arg("replication")
            .query_async::<String>(&mut conn)
            .await
        else {
            return false;
        };
        if info.contains("role:slave") && !info.contains("master_link_status:up") {
            return false;
        }
    }
    true
}

/// One command on one node, its reply as text (`OK`, an id).
async fn command(port: u16, args: &[&str]) -> String {
    let mut conn = connection(port)
        .await
        .unwrap_or_else(|e| panic!("connect to {port}: {e}"));
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query_async::<String>(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{args:?} on {port}: {e}"))
}

/// `master` or `slave`, from `ROLE`.
async fn role(port: u16) -> Option<String> {
    let mut conn = connection(port).await.ok()?;
    let reply: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await.ok()?;
    redis::from_redis_value(reply.into_iter().next()?).ok()
}

async fn master_for_slot(port: u16, slot: u16) -> Option<u16> {
    let mut conn = connection(port).await.ok()?;
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut conn)
        .await
        .ok()?;
    nodes.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        if !fields.get(2)?.contains("master") || fields.get(2)?.contains("fail") {
            return None;
        }
        let serves = fields[8..].iter().any(|range| match range.split_once('-') {
            Some((lo, hi)) => {
                lo.parse::<u16>().is_ok_and(|lo| lo <= slot)
                    && hi.parse::<u16>().is_ok_and(|hi| slot <= hi)
            }
            None => range.parse::<u16>().is_ok_and(|s| s == slot),
        });
        let addr = fields.get(1)?.split('@').next()?;
        serves
            .then(|| addr.rsplit_once(':')?.1.parse().ok())
            .flatten()
    })
}

async fn wait_until<F, Fut>(within: Duration, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "the redis cluster never got there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
