//! The cluster edge: this instance's connection to NATS JetStream, where the instances of one
//! load balancer share their API changes (issue: one control plane).
//!
//! The changes in force are one value in a key-value bucket, written with compare-and-set on
//! the revision they were validated on: the writer (`control`) asks for each write through
//! [`crate::control::shared::SharedLog`], and this edge answers with the new revision, a lost
//! race (with the value that won) or unavailability. A watch on the key hands every newer value
//! to the writer, which validates and applies it as it would a change of its own. Nothing here
//! is on the answer path: DNS answers never wait on NATS, and while NATS cannot be reached the
//! instance serves its last applied state (kept in its state file) and refuses writes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use async_nats::{ConnectOptions, ServerAddr};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::cluster::ClusterConfig;
use crate::control::Control;
use crate::control::leases::LeaseKey;
use crate::control::shared::{LogError, LogWrite, OwnVote};

/// The key whose value is the whole state of the shared changes.
pub const CHANGES_KEY: &str = "changes";

/// Values kept per key: the log an operator can read back with `nats kv history`.
const HISTORY: i64 = 64;

/// How long one JetStream operation may take; shorter than the writer's own deadline, so a
/// write is answered by this edge before the writer gives up on it.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// The largest value accepted from the bucket, as the state file's own limit.
const MAX_VALUE: usize = 16 << 20;

pub use crate::control::shared::ClusterStatus as Status;

/// Connects to NATS and serves the shared log until `cancel`: answers `writes` and hands the
/// bucket's newer values to `control`. `credentials` is the content of the credentials file,
/// read before root was dropped.
pub async fn run(
    config: ClusterConfig,
    credentials: Option<String>,
    control: Control,
    mut writes: mpsc::Receiver<LogWrite>,
    (own_votes, own_renewals): (mpsc::Receiver<OwnVote>, mpsc::Receiver<LeaseKey>),
    status: Arc<Status>,
    cancel: CancellationToken,
) {
    let servers: Vec<ServerAddr> = config.nats.iter().filter_map(|url| url.parse().ok()).collect();
    let options = match credentials.as_deref().map(ConnectOptions::with_credentials).transpose() {
        Ok(options) => options.unwrap_or_default(),
        Err(error) => {
            error!(%error, "cluster.credentials_file cannot be used: not connecting; API changes are refused");
            return refuse_all(&mut writes, "the NATS credentials cannot be used", &cancel).await;
        }
    };
    // A watch through a connection that was lost can take its consumer's heartbeat timeout
    // (about 10 s) to notice; after a reconnection it is started again at once.
    let reconnected = Arc::new(tokio::sync::Notify::new());
    let notify = reconnected.clone();
    let events_status = status.clone();
    let options = options
        .event_callback(move |event| {
            let (notify, status) = (notify.clone(), events_status.clone());
            async move {
                match event {
                    async_nats::Event::Connected => {
                        status.connected.store(status.bucket_open.load(Ordering::Relaxed), Ordering::Relaxed);
                        notify.notify_waiters();
                    }
                    async_nats::Event::Disconnected | async_nats::Event::Closed => {
                        status.connected.store(false, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        })
        .name(format!("meridian {}", config.name))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(OPERATION_TIMEOUT)
        .request_timeout(Some(OPERATION_TIMEOUT));
    let client = match options.connect(servers).await {
        Ok(client) => client,
        Err(error) => {
            error!(%error, "cannot set up the NATS connection; API changes are refused");
            return refuse_all(&mut writes, "no NATS connection", &cancel).await;
        }
    };
    let subject = format!("meridian.{}.votes", config.bucket);
    let voting =
        tokio::spawn(votes(client.clone(), subject, config.name.clone(), own_votes, control.clone(), cancel.clone()));
    let subject = format!("meridian.{}.leases", config.bucket);
    let renewing = tokio::spawn(renewals(
        client.clone(),
        subject,
        config.name.clone(),
        own_renewals,
        control.clone(),
        cancel.clone(),
    ));
    let context = jetstream::new(client.clone());
    // Until the bucket is open, writes are refused and the state file's changes are served.
    let store = tokio::select! {
        store = open_bucket(&context, &config.bucket, config.replicas, &mut writes) => store,
        () = cancel.cancelled() => {
            voting.abort();
            renewing.abort();
            return;
        }
    };
    status.bucket_open.store(true, Ordering::Relaxed);
    status.connected.store(true, Ordering::Relaxed);
    info!(bucket = %config.bucket, name = %config.name, "cluster: the shared changes' bucket is open");
    seed(&store, &control).await;
    let watcher = tokio::spawn(watch(store.clone(), control.clone(), status.clone(), reconnected, cancel.clone()));
    loop {
        tokio::select! {
            write = writes.recv() => match write {
                Some(write) => {
                    let result = self::write(&store, write.value, write.after).await;
                    let _ = write.reply.send(result);
                }
                None => break,
            },
            () = cancel.cancelled() => break,
        }
        status
            .connected
            .store(client.connection_state() == async_nats::connection::State::Connected, Ordering::Relaxed);
    }
    watcher.abort();
    voting.abort();
    renewing.abort();
}

/// A vote as it travels between instances on the votes subject.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct VoteMessage {
    vantage: String,
    /// "region/address".
    endpoint: String,
    down: bool,
    /// "up", "degraded" or "down".
    status: String,
    rtt_ms: Option<f64>,
}

/// The largest vote message read; anything larger is not one of ours.
const MAX_VOTE_BYTES: usize = 1024;

/// Publishes this instance's votes and hands the other vantage points' to the writer.
async fn votes(
    client: async_nats::Client,
    subject: String,
    name: String,
    mut own: mpsc::Receiver<OwnVote>,
    control: Control,
    cancel: CancellationToken,
) {
    let mut wait = Duration::from_millis(100);
    let mut subscriber = loop {
        match client.subscribe(subject.clone()).await {
            Ok(subscriber) => break subscriber,
            Err(error) => {
                warn!(%error, "cluster: cannot subscribe to the health votes; retrying");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = cancel.cancelled() => return,
                }
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        }
    };
    loop {
        tokio::select! {
            vote = own.recv() => {
                let Some(vote) = vote else { return };
                let message = VoteMessage {
                    vantage: name.clone(),
                    endpoint: vote.endpoint.to_string(),
                    down: vote.down,
                    status: vote.status.to_owned(),
                    rtt_ms: vote.rtt_ms,
                };
                if let Ok(bytes) = serde_json::to_vec(&message) {
                    // Without a connection the client buffers a little, then refuses: a vote
                    // lost is replaced by the next probe's.
                    let _ = tokio::time::timeout(OPERATION_TIMEOUT, client.publish(subject.clone(), bytes.into())).await;
                }
            }
            message = subscriber.next() => {
                let Some(message) = message else { return };
                if message.payload.len() > MAX_VOTE_BYTES {
                    continue;
                }
                let Ok(vote) = serde_json::from_slice::<VoteMessage>(&message.payload) else { continue };
                let plausible = vote.vantage.len() <= 64 && vote.endpoint.len() <= 512 && vote.vantage != name;
                if plausible {
                    control.vote(vote.vantage, vote.endpoint, vote.down);
                }
            }
            () = cancel.cancelled() => return,
        }
    }
}

/// A lease renewal as it travels between instances on the leases subject: the lease's TTL is
/// in the shared log; only that it was renewed, and where, goes here.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct RenewalMessage {
    vantage: String,
    region: String,
    address: String,
}

/// Publishes the renewals heard by this instance and hands the others' to the writer, so
/// that a heartbeat to any instance keeps the lease on every one. A renewal lost (no
/// connection) is made good by the next heartbeat, as long as one comes within the TTL.
async fn renewals(
    client: async_nats::Client,
    subject: String,
    name: String,
    mut own: mpsc::Receiver<LeaseKey>,
    control: Control,
    cancel: CancellationToken,
) {
    let mut wait = Duration::from_millis(100);
    let mut subscriber = loop {
        match client.subscribe(subject.clone()).await {
            Ok(subscriber) => break subscriber,
            Err(error) => {
                warn!(%error, "cluster: cannot subscribe to the lease renewals; retrying");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = cancel.cancelled() => return,
                }
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        }
    };
    loop {
        tokio::select! {
            key = own.recv() => {
                let Some(LeaseKey { region, address }) = key else { return };
                let message = RenewalMessage { vantage: name.clone(), region, address };
                if let Ok(bytes) = serde_json::to_vec(&message) {
                    let _ = tokio::time::timeout(OPERATION_TIMEOUT, client.publish(subject.clone(), bytes.into())).await;
                }
            }
            message = subscriber.next() => {
                let Some(message) = message else { return };
                if message.payload.len() > MAX_VOTE_BYTES {
                    continue;
                }
                let Ok(renewal) = serde_json::from_slice::<RenewalMessage>(&message.payload) else { continue };
                // Only a key the writer holds a lease for is renewed: nothing here can grow it.
                if renewal.vantage != name {
                    control.renewed(LeaseKey::new(&renewal.region, &renewal.address));
                }
            }
            () = cancel.cancelled() => return,
        }
    }
}

/// Opens (or creates) the bucket, retrying until it can; writes asked meanwhile are refused.
async fn open_bucket(
    context: &jetstream::Context,
    bucket: &str,
    replicas: usize,
    writes: &mut mpsc::Receiver<LogWrite>,
) -> kv::Store {
    let mut wait = Duration::from_millis(100);
    let mut warned = false;
    loop {
        let attempt = tokio::time::timeout(OPERATION_TIMEOUT, async {
            match context.get_key_value(bucket).await {
                Ok(store) => Ok(store),
                Err(_) => {
                    let config = kv::Config {
                        bucket: bucket.to_owned(),
                        history: HISTORY,
                        num_replicas: replicas,
                        ..Default::default()
                    };
                    context.create_key_value(config).await.map_err(|e| e.to_string())
                }
            }
        })
        .await;
        match attempt {
            Ok(Ok(store)) => return store,
            Ok(Err(error)) if !warned => {
                warn!(%error, "cluster: the shared changes' bucket cannot be opened yet; serving the last applied state");
                warned = true;
            }
            Err(_) if !warned => {
                warn!("cluster: NATS does not answer yet; serving the last applied state");
                warned = true;
            }
            _ => {}
        }
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => break,
                Some(write) = writes.recv() => {
                    let _ = write.reply.send(Err(LogError::Unavailable("not connected to NATS".into())));
                }
            }
        }
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

/// An instance whose state file holds changes made before the cluster existed puts them in
/// an empty bucket, so that they are not lost; in a bucket that has a value it does nothing.
async fn seed(store: &kv::Store, control: &Control) {
    let local = control.persisted();
    if local.revision.is_some() || local.changes == crate::config::Overlay::default() {
        return;
    }
    let mut value = (*local).clone();
    value.revision = None;
    let Ok(bytes) = serde_json::to_vec(&value) else { return };
    if let Ok(Ok(revision)) = tokio::time::timeout(OPERATION_TIMEOUT, store.create(CHANGES_KEY, bytes.into())).await {
        info!(revision, "cluster: this instance's saved changes seeded the empty shared log");
    }
}

/// One compare-and-set write: `after` is the revision it was validated on (`None`: the key
/// must not exist yet).
async fn write(store: &kv::Store, value: Vec<u8>, after: Option<u64>) -> Result<u64, LogError> {
    let written = tokio::time::timeout(OPERATION_TIMEOUT, async {
        match after {
            Some(revision) => store.update(CHANGES_KEY, value.into(), revision).await.map_err(|e| match e.kind() {
                kv::UpdateErrorKind::WrongLastRevision => None,
                _ => Some(e.to_string()),
            }),
            None => store.create(CHANGES_KEY, value.into()).await.map_err(|e| match e.kind() {
                kv::CreateErrorKind::AlreadyExists => None,
                _ => Some(e.to_string()),
            }),
        }
    })
    .await;
    match written {
        Ok(Ok(revision)) => Ok(revision),
        Ok(Err(None)) => Err(LogError::Conflict { latest: latest(store).await }),
        Ok(Err(Some(why))) => Err(LogError::Unavailable(why)),
        Err(_) => {
            Err(LogError::Unavailable(format!("NATS did not acknowledge within {} s", OPERATION_TIMEOUT.as_secs())))
        }
    }
}

/// The key's latest revision and value, when it can be read.
async fn latest(store: &kv::Store) -> Option<(u64, Vec<u8>)> {
    match tokio::time::timeout(OPERATION_TIMEOUT, store.entry(CHANGES_KEY)).await {
        Ok(Ok(Some(entry))) if entry.value.len() <= MAX_VALUE => Some((entry.revision, entry.value.to_vec())),
        _ => None,
    }
}

/// Hands every value of the key, the latest first, to the writer; reconnects the watch when
/// it ends (NATS restarted, say).
async fn watch(
    store: kv::Store,
    control: Control,
    status: Arc<Status>,
    reconnected: Arc<tokio::sync::Notify>,
    cancel: CancellationToken,
) {
    let mut wait = Duration::from_millis(100);
    while !cancel.is_cancelled() {
        match store.watch_with_history(CHANGES_KEY).await {
            Ok(mut entries) => {
                wait = Duration::from_millis(100);
                // A watch can stall unnoticed while JetStream elects a new leader for the
                // bucket (a NATS node stopped): the latest value is also read every 2 s.
                let mut check = tokio::time::interval(Duration::from_secs(2));
                loop {
                    let entry = tokio::select! {
                        entry = entries.next() => entry,
                        // The latest value comes again first: applying it twice is a no-op.
                        () = reconnected.notified() => break,
                        _ = check.tick() => {
                            if let Some((revision, value)) = latest(&store).await
                                && revision > status.revision.load(Ordering::Relaxed)
                            {
                                status.revision.fetch_max(revision, Ordering::Relaxed);
                                control.remote(revision, value).await;
                            }
                            continue;
                        }
                    };
                    let Some(Ok(entry)) = entry else { break };
                    if entry.operation != kv::Operation::Put {
                        continue;
                    }
                    if entry.value.len() > MAX_VALUE {
                        error!(
                            revision = entry.revision,
                            bytes = entry.value.len(),
                            "cluster: a shared value over 16 MiB is ignored"
                        );
                        continue;
                    }
                    status.revision.fetch_max(entry.revision, Ordering::Relaxed);
                    control.remote(entry.revision, entry.value.to_vec()).await;
                }
            }
            Err(error) => warn!(%error, "cluster: cannot watch the shared changes; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => return,
        }
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

/// Without a connection: every write is refused until `cancel`.
async fn refuse_all(writes: &mut mpsc::Receiver<LogWrite>, why: &str, cancel: &CancellationToken) {
    loop {
        tokio::select! {
            write = writes.recv() => match write {
                Some(write) => { let _ = write.reply.send(Err(LogError::Unavailable(why.to_owned()))); }
                None => return,
            },
            () = cancel.cancelled() => return,
        }
    }
}
