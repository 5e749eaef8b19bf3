//! The closed sets of label values, as enums: transports, endpoint states, probe results and
//! failover kinds, and how an endpoint is named on the page.

use crate::health::state::{Observation, Status};

/// The transport a query came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp = 0,
    Tcp = 1,
}

impl Transport {
    pub(super) const ALL: [Transport; 2] = [Transport::Udp, Transport::Tcp];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// An endpoint as the page names it: its region and its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointLabel<'a> {
    pub region: &'a str,
    pub address: &'a str,
}

impl EndpointLabel<'_> {
    pub(super) fn key(self) -> (String, String) {
        (self.region.to_owned(), self.address.to_owned())
    }
}

/// The state of an endpoint as operators see it: its health, or drained by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EndpointState {
    Up,
    Degraded,
    Down,
    Drained,
}

impl EndpointState {
    pub(super) const ALL: [EndpointState; 4] =
        [EndpointState::Up, EndpointState::Degraded, EndpointState::Down, EndpointState::Drained];

    /// The `state` and `to` label value: the health status's own name (as the API shows
    /// it), or `drained`.
    pub fn as_str(self) -> &'static str {
        self.status().map_or("drained", Status::as_str)
    }

    /// The health status this state is, if it is one.
    fn status(self) -> Option<Status> {
        match self {
            EndpointState::Up => Some(Status::Up),
            EndpointState::Degraded => Some(Status::Degraded),
            EndpointState::Down => Some(Status::Down),
            EndpointState::Drained => None,
        }
    }
}

impl From<Status> for EndpointState {
    fn from(status: Status) -> Self {
        match status {
            Status::Up => EndpointState::Up,
            Status::Degraded => EndpointState::Degraded,
            Status::Down => EndpointState::Down,
        }
    }
}

/// What one health probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    Ok = 0,
    Degraded = 1,
    Fail = 2,
}

impl ProbeResult {
    pub(super) const ALL: [ProbeResult; 3] = [ProbeResult::Ok, ProbeResult::Degraded, ProbeResult::Fail];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            ProbeResult::Ok => "ok",
            ProbeResult::Degraded => "degraded",
            ProbeResult::Fail => "fail",
        }
    }
}

impl From<Observation> for ProbeResult {
    fn from(observation: Observation) -> Self {
        match observation {
            Observation::Ok => ProbeResult::Ok,
            Observation::Degraded => ProbeResult::Degraded,
            Observation::Failed => ProbeResult::Fail,
        }
    }
}

/// Who moved a pool's traffic away from its first choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailoverKind {
    /// An operator, through the API.
    Manual,
    /// Health checks.
    Automatic,
}

impl FailoverKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            FailoverKind::Manual => "manual",
            FailoverKind::Automatic => "automatic",
        }
    }
}

/// Why a UDP datagram went unanswered before, or as, its answer was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// From source port 0, which no reply can reach.
    SourcePortZero = 0,
    /// From the unspecified address (0.0.0.0 or ::).
    Unspecified = 1,
    /// From the IPv4 limited broadcast address, 255.255.255.255.
    Broadcast = 2,
    /// From a multicast group (224.0.0.0/4, ff00::/8).
    Multicast = 3,
    /// The answer was made but the kernel refused to send it.
    SendFailed = 4,
}

impl Dropped {
    pub(super) const ALL: [Dropped; 5] =
        [Dropped::SourcePortZero, Dropped::Unspecified, Dropped::Broadcast, Dropped::Multicast, Dropped::SendFailed];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Dropped::SourcePortZero => "source_port_zero",
            Dropped::Unspecified => "unspecified",
            Dropped::Broadcast => "broadcast",
            Dropped::Multicast => "multicast",
            Dropped::SendFailed => "send_failed",
        }
    }
}

/// What the TSIG stage made of a signed request (RFC 8945 section 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsigResult {
    /// Verified: answered and signed.
    Verified = 0,
    /// No such key, or not for that algorithm: NOTAUTH.
    BadKey = 1,
    /// The MAC did not verify: NOTAUTH.
    BadSig = 2,
    /// Signed outside the fudge: NOTAUTH.
    BadTime = 3,
    /// A truncated MAC: NOTAUTH.
    BadTrunc = 4,
    /// A TSIG record out of place, unreadable, or with a MAC of a size no signer may send.
    FormErr = 5,
}

impl TsigResult {
    pub(super) const ALL: [TsigResult; 6] = [
        TsigResult::Verified,
        TsigResult::BadKey,
        TsigResult::BadSig,
        TsigResult::BadTime,
        TsigResult::BadTrunc,
        TsigResult::FormErr,
    ];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            TsigResult::Verified => "verified",
            TsigResult::BadKey => "badkey",
            TsigResult::BadSig => "badsig",
            TsigResult::BadTime => "badtime",
            TsigResult::BadTrunc => "badtrunc",
            TsigResult::FormErr => "formerr",
        }
    }
}

/// Why a dnstap message was not sent to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnstapDropped {
    /// Every buffer was waiting for the writer: the collector is slow, or gone and not yet
    /// noticed.
    QueueFull = 0,
    /// The writer had no connection to the collector (not yet made, lost, or failing).
    NoCollector = 1,
}

impl DnstapDropped {
    pub(super) const ALL: [DnstapDropped; 2] = [DnstapDropped::QueueFull, DnstapDropped::NoCollector];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            DnstapDropped::QueueFull => "queue_full",
            DnstapDropped::NoCollector => "no_collector",
        }
    }
}

/// Which TCP connection limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpRefusal {
    /// `tcp_max_connections`: every client's connections together.
    Total = 0,
    /// `tcp_max_connections_per_client`: one address's connections.
    PerClient = 1,
}

impl TcpRefusal {
    pub(super) const ALL: [TcpRefusal; 2] = [TcpRefusal::Total, TcpRefusal::PerClient];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            TcpRefusal::Total => "total",
            TcpRefusal::PerClient => "per_client",
        }
    }
}

/// Which timeout closed a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpTimeout {
    /// No query begun within `tcp_idle_timeout_secs`.
    Idle = 0,
    /// A query not received, or its response not written, within `tcp_query_timeout_secs`.
    Query = 1,
    /// Idle longest when a new connection came at `tcp_max_connections`: closed to make room.
    Evicted = 2,
}

impl TcpTimeout {
    pub(super) const ALL: [TcpTimeout; 3] = [TcpTimeout::Idle, TcpTimeout::Query, TcpTimeout::Evicted];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            TcpTimeout::Idle => "idle",
            TcpTimeout::Query => "query",
            TcpTimeout::Evicted => "evicted",
        }
    }
}
