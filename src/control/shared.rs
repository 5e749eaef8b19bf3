//! The shared log of API changes, as the writer sees it: a value written with compare-and-set
//! on the revision it was validated on, and answered with its new revision, a lost race, or
//! unavailability. The cluster edge (`crate::cluster`) serves these writes over NATS JetStream;
//! the writer never touches the network itself, and DNS answers never wait on it.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

/// The cluster connection as its edge sees it; written by the edge only, read by the API.
#[derive(Debug, Default)]
pub struct ClusterStatus {
    /// Connected to a NATS server, with the bucket open.
    pub connected: AtomicBool,
    /// The bucket was opened (once it is, `connected` follows the connection).
    pub bucket_open: AtomicBool,
    /// The last revision of the shared changes seen in the bucket.
    pub revision: AtomicU64,
}

/// The cluster as the writer last published it for the API.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// The other vantage points with a fresh vote, and when each was last heard from.
    pub members: Vec<(std::sync::Arc<str>, Instant)>,
    /// No other vantage point reports: health is this instance's own view.
    pub isolated: bool,
}

/// How long a write may take before it is answered as unavailable (and nothing changes).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// A write the writer asks of the shared log.
#[derive(Debug)]
pub struct LogWrite {
    /// The whole state of the changes (JSON of `state::Persisted`).
    pub value: Vec<u8>,
    /// The revision it was validated on; `None`: the log must be empty.
    pub after: Option<u64>,
    pub reply: oneshot::Sender<Result<u64, LogError>>,
}

/// Why a write did not happen; in every case nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogError {
    /// Another instance wrote first: the latest revision and value, when they could be read.
    Conflict { latest: Option<(u64, Vec<u8>)> },
    /// The log cannot be reached or did not acknowledge in time.
    Unavailable(String),
}

/// The writer's side of the shared log.
#[derive(Debug, Clone)]
pub struct SharedLog {
    writes: mpsc::Sender<LogWrite>,
}

impl SharedLog {
    /// A log and the receiver the cluster edge serves its writes from.
    pub fn new() -> (Self, mpsc::Receiver<LogWrite>) {
        let (writes, receiver) = mpsc::channel(16);
        (Self { writes }, receiver)
    }

    /// Writes `value` if the log is still at `after`; the new revision once acknowledged.
    ///
    /// # Errors
    /// A lost race, or no acknowledgement within [`WRITE_TIMEOUT`].
    pub async fn write(&self, value: Vec<u8>, after: Option<u64>) -> Result<u64, LogError> {
        let (reply, answer) = oneshot::channel();
        let write = LogWrite { value, after, reply };
        let unavailable = |why: &str| LogError::Unavailable(why.to_owned());
        match tokio::time::timeout(WRITE_TIMEOUT, async {
            self.writes.send(write).await.map_err(|_| unavailable("the cluster connection is stopped"))?;
            answer.await.map_err(|_| unavailable("the cluster connection stopped"))?
        })
        .await
        {
            Ok(result) => result,
            Err(_) => Err(LogError::Unavailable(format!("no acknowledgement within {} s", WRITE_TIMEOUT.as_secs()))),
        }
    }
}

/// This instance's vote on an endpoint, after one of its probes: the cluster edge publishes
/// it for the other instances.
#[derive(Debug, Clone)]
pub struct OwnVote {
    /// "region/address".
    pub endpoint: std::sync::Arc<str>,
    pub down: bool,
    /// "up", "degraded" or "down", as this instance's thresholds say.
    pub status: &'static str,
    /// The probe's round trip in milliseconds, when it answered.
    pub rtt_ms: Option<f64>,
}
