//! A cluster node takes a pipeline only if all of its keys share one slot. The
//! services' pipelines often put two independent atomic blocks in one round
//! trip (give back a per-client place, store a session); on a cluster such a
//! pipeline is cut into runs of consecutive blocks with one slot each, sent in
//! order, and the replies put back together. A `MULTI … EXEC` block always stays
//! whole (it must keep to one slot in any case).
//!
//! Each run is sent to its slot's node explicitly: redis-rs routes `PUBLISH` by
//! its channel as if it were a key and so refuses a block that announces a
//! change of another slot's keys, though Redis itself accepts it (a classic
//! channel has no slot).
//!
//! A `MULTI` sent to a node that no longer owns its slot gets `MOVED` for each
//! queued command and `EXECABORT` for the `EXEC`; redis-rs 1.8 reports that as
//! an aborted transaction and, unlike a plain `MOVED`, never refreshes its slot
//! map for it. After a failover every transaction on the lost master's slots
//! then failed until the process restarted (seen in the failover test: 15 s of
//! `503`s, and on). [`send`] makes redis-rs refresh by sending one keyed
//! read-only command to the slot, which gets the plain `MOVED`, and retries.

use std::time::Duration;

use redis::{
    Arg, Cmd, ErrorKind, Pipeline, RedisError, ServerErrorKind, Value,
    cluster_async::ClusterConnection,
    cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr},
};

use super::slots::{slot, tag_of_slot};

/// Tries of a transaction whose slot moved: the first, and after each refresh.
const MOVED_TRIES: u32 = 3;

/// The slot a command's keys are in, if it has keys.
fn command_slot(cmd: &Cmd) -> Option<u16> {
    let mut args = cmd.args_iter().filter_map(|a| match a {
        Arg::Simple(bytes) => Some(bytes),
        _ => None,
    });
    let name = args.next()?.to_ascii_uppercase();
    let key = match name.as_slice() {
        b"MULTI" | b"EXEC" | b"DISCARD" | b"PING" | b"PUBLISH" | b"SCRIPT" | b"INFO" | b"TIME"
        | b"CLIENT" => None,
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" => {
            let _script = args.next();
            let keys: usize = std::str::from_utf8(args.next()?).ok()?.parse().ok()?;
            if keys == 0 { None } else { args.next() }
        }
        _ => args.next(),
    }?;
    Some(slot(&String::from_utf8_lossy(key)))
}

/// How to send a pipeline on a cluster.
pub enum Plan {
    /// Whole, to this slot's node (none: no keys, any node).
    Whole(Option<u16>),
    /// In runs of one slot each, in order.
    Runs(Vec<(Pipeline, Option<u16>)>),
}

pub fn plan(pipeline: &Pipeline) -> Plan {
    let mut slots = pipeline.cmd_iter().filter_map(command_slot);
    let first = slots.next();
    if pipeline.is_transaction() || slots.all(|s| Some(s) == first) {
        return Plan::Whole(first);
    }
    Plan::Runs(runs(pipeline))
}

/// The pipeline's commands in runs of one slot each, atomic blocks kept whole.
fn runs(pipeline: &Pipeline) -> Vec<(Pipeline, Option<u16>)> {
    // Units: a MULTI … EXEC block, or one command; each with its slot, if any.
    let mut units: Vec<(Vec<&Cmd>, Option<u16>)> = Vec::new();
    let mut block: Option<(Vec<&Cmd>, Option<u16>)> = None;
    for cmd in pipeline.cmd_iter() {
        let is = |name: &[u8]| {
            cmd.args_iter()
                .next()
                .is_some_and(|a| matches!(a, Arg::Simple(b) if b.eq_ignore_ascii_case(name)))
        };
        if let Some((cmds, slot)) = block.as_mut() {
            cmds.push(cmd);
            *slot = slot.or_else(|| command_slot(cmd));
            if is(b"EXEC") || is(b"DISCARD") {
                units.extend(block.take());
            }
        } else if is(b"MULTI") {
            block = Some((vec![cmd], None));
        } else {
            units.push((vec![cmd], command_slot(cmd)));
        }
    }
    units.extend(block);
    // Consecutive units of one slot (or none) go together, in order.
    let mut runs: Vec<(Pipeline, Option<u16>)> = Vec::new();
    for (cmds, slot) in units {
        let joins = runs
            .last()
            .is_some_and(|(_, run)| slot.is_none() || run.is_none() || *run == slot);
        if !joins {
            runs.push((Pipeline::new(), slot));
        }
        if let Some((pipe, run)) = runs.last_mut() {
            *run = run.or(slot);
            for cmd in cmds {
                pipe.add_command(cmd.clone());
            }
        } else {
            let mut pipe = Pipeline::new();
            for cmd in cmds {
                pipe.add_command(cmd.clone());
            }
            runs.push((pipe, slot));
        }
    }
    runs
}

fn route(slot: Option<u16>) -> SingleNodeRoutingInfo {
    match slot {
        Some(slot) => SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master)),
        None => SingleNodeRoutingInfo::RandomPrimary,
    }
}

/// Sends a pipeline on a cluster as [`plan`] says; the replies as one pipeline's.
pub async fn send(
    conn: &mut ClusterConnection,
    pipeline: &Pipeline,
    offset: usize,
    count: usize,
) -> redis::RedisResult<Vec<Value>> {
    match plan(pipeline) {
        Plan::Whole(slot) => send_to_slot(conn, pipeline, offset, count, slot).await,
        Plan::Runs(runs) => {
            let mut replies = Vec::new();
            for (run, slot) in runs {
                let len = run.len();
                replies.extend(send_to_slot(conn, &run, 0, len, slot).await?);
            }
            Ok(replies.into_iter().skip(offset).take(count).collect())
        }
    }
}

/// One pipeline to its slot's master; a transaction the slot's old owner
/// refused is retried once redis-rs has learned the new owner.
async fn send_to_slot(
    conn: &mut ClusterConnection,
    pipeline: &Pipeline,
    offset: usize,
    count: usize,
    slot: Option<u16>,
) -> redis::RedisResult<Vec<Value>> {
    let mut tries = 1;
    loop {
        let sent = conn
            .route_pipeline(pipeline.clone(), offset, count, route(slot))
            .await;
        match (sent, slot) {
            (Err(err), Some(slot)) if tries < MOVED_TRIES && slot_moved(&err) => {
                tries += 1;
                refresh_slot(conn, slot).await;
            }
            (sent, _) => return sent,
        }
    }
}

/// Whether a transaction was refused because its slot is served elsewhere
/// now, or is between owners (a failover in progress).
fn slot_moved(err: &RedisError) -> bool {
    err.kind() == ErrorKind::Server(ServerErrorKind::ExecAbort)
        && err.clone().into_server_errors().is_some_and(|errors| {
            errors.iter().any(|(_, e)| {
                matches!(
                    e.kind(),
                    Some(
                        ServerErrorKind::Moved
                            | ServerErrorKind::Ask
                            | ServerErrorKind::ReadOnly
                            | ServerErrorKind::ClusterDown
                            | ServerErrorKind::MasterDown
                            | ServerErrorKind::TryAgain
                    )
                )
            })
        })
}

/// A keyed read of `slot`: its plain `MOVED` (or the wait redis-rs makes on
/// `CLUSTERDOWN`) makes redis-rs rebuild its slot map. The reply itself does
/// not matter; a failure here shows again in the retried transaction.
async fn refresh_slot(conn: &mut ClusterConnection, slot: u16) {
    let mut probe = redis::cmd("EXISTS");
    probe.arg(format!("{{{}}}", tag_of_slot(slot)));
    let refreshed: redis::RedisResult<Value> = probe.query_async(conn).await;
    if refreshed.is_err() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipeline_of_one_slot_is_left_whole() {
        let mut pipe = redis::pipe();
        pipe.cmd("SET").arg("{a}1").arg(1).cmd("GET").arg("{a}2");
        assert!(matches!(plan(&pipe), Plan::Whole(Some(s)) if s == slot("a")));
    }

    #[test]
    fn blocks_of_different_slots_become_runs_in_order() {
        let mut pipe = redis::pipe();
        pipe.cmd("MULTI")
            .cmd("DECR")
            .arg("rate:ip:1.2.3.4")
            .cmd("EXEC")
            .cmd("MULTI")
            .cmd("HSET")
            .arg("session:x")
            .arg("f")
            .arg(1)
            .cmd("EXPIRE")
            .arg("session:x")
            .arg(5)
            .cmd("EXEC")
            .cmd("PUBLISH")
            .arg("chan")
            .arg("m");
        let Plan::Runs(runs) = plan(&pipe) else {
            panic!("two slots")
        };
        let lengths: Vec<usize> = runs.iter().map(|(p, _)| p.len()).collect();
        assert_eq!(lengths, vec![3, 5]);
    }

    #[test]
    fn script_keys_decide_the_slot() {
        let mut first = redis::cmd("EVALSHA");
        first.arg("abc").arg(1).arg("{a}k").arg("x");
        let mut keyless = redis::cmd("EVALSHA");
        keyless.arg("abc").arg(0).arg("x");
        assert_eq!(command_slot(&first), Some(slot("a")));
        assert_eq!(command_slot(&keyless), None);
    }
}
