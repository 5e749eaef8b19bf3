//! Prometheus metrics: one process-lifetime [`Registry`], shared as `Arc<Registry>`, that
//! outlives snapshot rebuilds so a reload never resets a counter.
//!
//! Queries touch only atomics: the query counters are a fixed array indexed by transport,
//! record type slot and RCODE slot, and the answer counters of a pool are resolved into
//! [`PoolHandles`] when the snapshot is built (as hickory's `ZoneLookupMetrics::new` creates
//! its counters up front). Series known only at run time (pool answers by label, health,
//! failovers) are atomics in maps that the writer replaces whole when it adds a label, so
//! nothing here is locked: the page never waits on the writer, nor the writer on a scrape.
//! [`Registry::render`] writes the text exposition format; gauges that describe the current
//! snapshot are handed in at scrape time as [`Gauges`].
//!
//! Pure: no sockets, no clock, no tasks. The exporter that serves the page lives at the edge.

mod health;
mod labels;
mod observers;
mod pool;
mod slots;
mod text;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use health::SharedHealthSeries;
pub use labels::{
    DnstapDropped, Dropped, EndpointLabel, EndpointState, FailoverKind, ProbeResult, TcpRefusal, TcpTimeout, Transport,
    TsigResult,
};
pub use observers::{Observers, PoolObserver, PoolObservers};
pub use pool::PoolHandles;
use pool::SharedAnswerCounters;
pub use slots::{QTYPE_SLOTS, qtype_label, qtype_slot};
pub use text::CONTENT_TYPE;
use text::{Kind, Page};

use crate::analytics::rcode::{RCODE_SLOTS, rcode_label, rcode_slot};

/// What the current snapshot says, read at scrape time.
#[derive(Debug, Clone, Copy)]
pub struct Gauges<'a> {
    pub generation: u64,
    pub endpoints: &'a [EndpointGauge<'a>],
    /// Every pool of the current snapshot.
    pub pools: &'a [PoolGauge<'a>],
    /// The `version` label of `meridian_build_info`, e.g. `env!("CARGO_PKG_VERSION")`.
    pub version: &'a str,
    pub uptime: Duration,
}

/// One endpoint's state in the current snapshot.
#[derive(Debug, Clone, Copy)]
pub struct EndpointGauge<'a> {
    pub endpoint: EndpointLabel<'a>,
    pub state: EndpointState,
    /// Whether queries may be answered with it now.
    pub servable: bool,
    /// Held down after flapping: kept down, whatever its probes say, until the hold ends.
    pub held_down: bool,
}

/// One pool's regions in the current snapshot.
#[derive(Debug, Clone, Copy)]
pub struct PoolGauge<'a> {
    pub pool: &'a str,
    /// Regions the pool lists.
    pub regions: usize,
    /// Regions that could answer now; 0: the pool is down.
    pub servable_regions: usize,
}

type QueryCounters = [[[AtomicU64; RCODE_SLOTS]; QTYPE_SLOTS]; Transport::ALL.len()];

/// Every metric of the process. `Send + Sync`; share it as `Arc<Registry>`.
pub struct Registry {
    queries: QueryCounters,
    ecs_tailored: AtomicU64,
    /// Responses response rate limiting held back: dropped, then slipped (sent truncated).
    rate_limited: [AtomicU64; 2],
    /// UDP datagrams left unanswered, by [`Dropped`].
    dropped: [AtomicU64; Dropped::ALL.len()],
    /// Signed requests, by [`TsigResult`].
    tsig: [AtomicU64; TsigResult::ALL.len()],
    /// TCP connections open now.
    tcp_connections: AtomicU64,
    /// TCP connections closed at once, by [`TcpRefusal`].
    tcp_refused: [AtomicU64; TcpRefusal::ALL.len()],
    /// TCP connections closed by a timeout, by [`TcpTimeout`].
    tcp_timeouts: [AtomicU64; TcpTimeout::ALL.len()],
    /// Reloads that succeeded, then failed.
    reloads: [AtomicU64; 2],
    /// The last reload failed: the server runs a configuration other than its file's.
    last_reload_failed: AtomicBool,
    /// Unix seconds of the writer's last heartbeat (0: none yet).
    writer_heartbeat: AtomicU64,
    /// Requests to the admin API refused for a missing or wrong token.
    api_auth_failures: AtomicU64,
    /// Registered endpoints removed because their lease ran out.
    registrations_expired: AtomicU64,
    answers: SharedAnswerCounters,
    health: SharedHealthSeries,
    cluster: ClusterSeries,
    /// DNSSEC signatures made, and the signature cache's hits, misses and size: fed by the
    /// cache itself (`dnssec::cache`), which shares these counters.
    signatures: std::sync::Arc<crate::dnssec::cache::CacheCounts>,
    dnstap: DnstapSeries,
}

/// dnstap's series, shown when `[dnstap]` is configured.
#[derive(Default)]
struct DnstapSeries {
    enabled: AtomicBool,
    connected: AtomicBool,
    sent: AtomicU64,
    dropped: [AtomicU64; DnstapDropped::ALL.len()],
}

/// The cluster's series, shown once the instance is part of one.
#[derive(Default)]
struct ClusterSeries {
    enabled: AtomicBool,
    isolated: AtomicBool,
    members: AtomicU64,
    revision: AtomicU64,
    /// Votes received, by vantage point; copied on a new vantage point (at most
    /// [`MAX_VANTAGE_SERIES`]), never locked.
    reports: arc_swap::ArcSwap<std::collections::BTreeMap<String, std::sync::Arc<AtomicU64>>>,
}

/// The most vantage points counted by name; the rest count as "other".
const MAX_VANTAGE_SERIES: usize = 64;

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self {
            queries: [const { [const { [const { AtomicU64::new(0) }; RCODE_SLOTS] }; QTYPE_SLOTS] };
                Transport::ALL.len()],
            ecs_tailored: AtomicU64::new(0),
            rate_limited: [const { AtomicU64::new(0) }; 2],
            dropped: [const { AtomicU64::new(0) }; Dropped::ALL.len()],
            tsig: [const { AtomicU64::new(0) }; TsigResult::ALL.len()],
            tcp_connections: AtomicU64::new(0),
            tcp_refused: [const { AtomicU64::new(0) }; TcpRefusal::ALL.len()],
            tcp_timeouts: [const { AtomicU64::new(0) }; TcpTimeout::ALL.len()],
            reloads: [const { AtomicU64::new(0) }; 2],
            last_reload_failed: AtomicBool::new(false),
            writer_heartbeat: AtomicU64::new(0),
            api_auth_failures: AtomicU64::new(0),
            registrations_expired: AtomicU64::new(0),
            answers: SharedAnswerCounters::default(),
            health: SharedHealthSeries::default(),
            cluster: ClusterSeries::default(),
            signatures: Default::default(),
            dnstap: DnstapSeries::default(),
        }
    }

    /// The counters the signature cache feeds.
    pub fn signature_counts(&self) -> std::sync::Arc<crate::dnssec::cache::CacheCounts> {
        self.signatures.clone()
    }

    /// Counts one response by transport, question type and RCODE (the full 12-bit one, so
    /// extended RCODEs count as `other`).
    ///
    /// Hot path: one relaxed atomic add; no lock, map or allocation.
    pub fn record_query(&self, transport: Transport, qtype: u16, rcode: u16) {
        self.queries[transport as usize][qtype_slot(qtype)][rcode_slot(rcode)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one answer tailored to the client's subnet: its ECS SCOPE PREFIX-LENGTH is
    /// above zero (RFC 7871 section 7.2.1). Hot path: one relaxed atomic add.
    pub fn record_ecs_tailored(&self) {
        self.ecs_tailored.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one response held back by response rate limiting: dropped, or else slipped
    /// (sent empty with TC=1).
    pub fn record_rate_limited(&self, dropped: bool) {
        self.rate_limited[usize::from(!dropped)].fetch_add(1, Ordering::Relaxed);
    }

    /// The DNSSEC series: signatures made, the signature cache's hits, misses and size.
    fn signature_series(&self, page: &mut Page) {
        let counts = &self.signatures;
        let series: [(&str, Kind, &str, u64); 5] = [
            (
                "meridian_dnssec_signatures_total",
                Kind::Counter,
                "RRSIGs made (each a signing operation).",
                counts.made.load(Ordering::Relaxed),
            ),
            (
                "meridian_dnssec_cache_hits_total",
                Kind::Counter,
                "RRSIGs found in the signature cache.",
                counts.hits.load(Ordering::Relaxed),
            ),
            (
                "meridian_dnssec_cache_misses_total",
                Kind::Counter,
                "RRSIGs not in the signature cache, so made.",
                counts.misses.load(Ordering::Relaxed),
            ),
            (
                "meridian_dnssec_cache_entries",
                Kind::Gauge,
                "RRSIGs held in the signature cache.",
                counts.filled.load(Ordering::Relaxed) as u64,
            ),
            (
                "meridian_dnssec_cache_capacity",
                Kind::Gauge,
                "The most RRSIGs the signature cache holds.",
                counts.capacity.load(Ordering::Relaxed) as u64,
            ),
        ];
        for (name, kind, help, value) in series {
            page.family(name, kind, help);
            page.sample(name, &[], value);
        }
    }

    /// Counts one UDP datagram left unanswered, and why. Hot path under a flood of forged
    /// sources: one relaxed atomic add.
    pub fn record_dropped(&self, reason: Dropped) {
        self.dropped[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one signed request, and what its TSIG record made of it. Only requests that
    /// carry a TSIG record come here: one relaxed atomic add.
    pub fn record_tsig(&self, result: TsigResult) {
        self.tsig[result as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a TCP connection opened (`true`) or closed (`false`): the open-connections gauge.
    /// Called on accept and close, never per query.
    pub fn record_tcp_connection(&self, opened: bool) {
        if opened {
            self.tcp_connections.fetch_add(1, Ordering::Relaxed);
        } else {
            self.tcp_connections.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Counts a TCP connection closed at once because `limit` was reached.
    pub fn record_tcp_refused(&self, limit: TcpRefusal) {
        self.tcp_refused[limit as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a TCP connection closed by a timeout.
    pub fn record_tcp_timeout(&self, kind: TcpTimeout) {
        self.tcp_timeouts[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The answer counters of one pool, for its snapshot. `regions` lists the pool's regions
    /// in pool order: each region's name and its endpoints as (global endpoint index, address
    /// label). The same labels always give the same counters, so counts survive rebuilds.
    ///
    /// Not hot: allocates, and copies the map of counters when the pool brings new labels.
    /// Call it while building a snapshot.
    pub fn pool_handles(&self, pool: &str, regions: &[(&str, Vec<(usize, String)>)]) -> PoolHandles {
        self.answers.resolve(pool, regions)
    }

    /// Drops every per-endpoint series of endpoints that left the configuration in force
    /// (a reload, an API removal, a lease expiry): `health` says which (region, address)
    /// the health table keeps, `answered` which (pool, region, address) the snapshot's
    /// pools answer with. Series kept keep their values; one that comes back starts at zero.
    ///
    /// Not hot: called by the writer when it installs a snapshot.
    pub fn retain_endpoints(
        &self,
        health: impl Fn(EndpointLabel<'_>) -> bool,
        answered: impl Fn(&str, EndpointLabel<'_>) -> bool,
    ) {
        self.health.retain_endpoints(health);
        self.answers.retain_endpoints(|pool, region, address| answered(pool, EndpointLabel { region, address }));
    }

    /// Records one health probe: its result and, when a response came back, its RTT.
    /// Not hot: allocates its labels, and copies the map of series the first time an
    /// endpoint is seen. Takes no lock: the page never waits on the writer.
    pub fn record_probe(&self, endpoint: EndpointLabel<'_>, rtt: Option<Duration>, result: ProbeResult) {
        self.health.record_probe(endpoint, rtt, result);
    }

    /// Counts a change of an endpoint's state. Not hot; no lock.
    pub fn record_transition(&self, endpoint: EndpointLabel<'_>, to: EndpointState) {
        self.health.record_transition(endpoint, to);
    }

    /// Sets an endpoint's smoothed load (`None`: no report counts, and the series goes). Not
    /// hot; no lock.
    pub fn set_endpoint_load(&self, endpoint: EndpointLabel<'_>, load: Option<f64>) {
        self.health.set_load(endpoint, load);
    }

    /// Counts a failover of `pool`. Not hot; no lock.
    pub fn record_failover(&self, pool: &str, kind: FailoverKind) {
        self.health.record_failover(pool, kind);
    }

    /// Counts a reload (SIGHUP or API), successful or not; the last one's result stays
    /// shown until the next.
    pub fn record_reload(&self, ok: bool) {
        self.reloads[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
        self.last_reload_failed.store(!ok, Ordering::Relaxed);
    }

    /// Counts registered endpoints removed because their lease ran out.
    pub fn record_registrations_expired(&self, n: usize) {
        self.registrations_expired.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Notes that the writer turned at `unix_secs` (it does so every few seconds, idle or not).
    pub fn record_writer_heartbeat(&self, unix_secs: u64) {
        self.writer_heartbeat.store(unix_secs, Ordering::Relaxed);
    }

    /// The cluster as the writer sees it: whether no other vantage point reports, and how many
    /// do (this instance included).
    pub fn set_cluster(&self, isolated: bool, members: usize) {
        self.cluster.enabled.store(true, Ordering::Relaxed);
        self.cluster.isolated.store(isolated, Ordering::Relaxed);
        self.cluster.members.store(members as u64, Ordering::Relaxed);
    }

    /// The revision of the shared changes this instance applied.
    pub fn set_cluster_revision(&self, revision: u64) {
        self.cluster.enabled.store(true, Ordering::Relaxed);
        self.cluster.revision.store(revision, Ordering::Relaxed);
    }

    /// Counts one vote received from `vantage`.
    pub fn record_cluster_report(&self, vantage: &str) {
        if let Some(counter) = self.cluster.reports.load().get(vantage) {
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let label = if self.cluster.reports.load().len() < MAX_VANTAGE_SERIES { vantage } else { "other" };
        self.cluster.reports.rcu(|current| {
            let mut next = (**current).clone();
            next.entry(label.to_owned()).or_default();
            next
        });
        if let Some(counter) = self.cluster.reports.load().get(label) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Shows dnstap's series: `[dnstap]` is configured.
    pub fn enable_dnstap(&self) {
        self.dnstap.enabled.store(true, Ordering::Relaxed);
    }

    /// Whether the dnstap writer is connected to its collector.
    pub fn set_dnstap_connected(&self, connected: bool) {
        self.dnstap.connected.store(connected, Ordering::Relaxed);
    }

    /// Counts dnstap messages written to the collector.
    pub fn record_dnstap_sent(&self, messages: u64) {
        self.dnstap.sent.fetch_add(messages, Ordering::Relaxed);
    }

    /// Counts dnstap messages dropped, and why. On the query path when the queue is full:
    /// one relaxed atomic add.
    pub fn record_dnstap_dropped(&self, reason: DnstapDropped, messages: u64) {
        self.dnstap.dropped[reason as usize].fetch_add(messages, Ordering::Relaxed);
    }

    /// Counts a request to the admin API refused for a missing or wrong token.
    pub fn record_api_auth_failure(&self) {
        self.api_auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The page in the text exposition format 0.0.4 (serve it as [`CONTENT_TYPE`]).
    ///
    /// Every family has its `# HELP` and `# TYPE` lines even with no samples. Query series are
    /// left out while zero, to keep the page small; all other series are shown once known.
    /// Series are sorted by label, queries in slot order, so equal state renders equally.
    pub fn render(&self, state: &Gauges<'_>) -> String {
        let mut page = Page::default();
        self.render_process(&mut page, state);
        self.render_queries(&mut page);
        self.render_tcp(&mut page);
        self.answers.render(&mut page);
        render_endpoints(&mut page, state.endpoints);
        render_pools(&mut page, state.pools);
        self.health.render(&mut page);
        self.render_cluster(&mut page);
        self.render_dnstap(&mut page);
        page.finish()
    }

    fn render_dnstap(&self, page: &mut Page) {
        let dnstap = &self.dnstap;
        if !dnstap.enabled.load(Ordering::Relaxed) {
            return;
        }
        let name = "meridian_dnstap_connected";
        page.family(name, Kind::Gauge, "1 while the dnstap writer is connected to its collector.");
        page.sample(name, &[], u64::from(dnstap.connected.load(Ordering::Relaxed)));
        let name = "meridian_dnstap_sent_total";
        page.family(name, Kind::Counter, "dnstap messages (AUTH_QUERY, AUTH_RESPONSE) written to the collector.");
        page.sample(name, &[], dnstap.sent.load(Ordering::Relaxed));
        let name = "meridian_dnstap_dropped_total";
        page.family(
            name,
            Kind::Counter,
            "dnstap messages dropped: the queue to the writer was full, or there was no collector to write to.",
        );
        for reason in DnstapDropped::ALL {
            page.sample(name, &[("reason", reason.as_str())], dnstap.dropped[reason as usize].load(Ordering::Relaxed));
        }
    }

    fn render_cluster(&self, page: &mut Page) {
        let cluster = &self.cluster;
        if !cluster.enabled.load(Ordering::Relaxed) {
            return;
        }
        let name = "meridian_cluster_isolated";
        page.family(name, Kind::Gauge, "1 while no other vantage point reports: health is this instance's own view.");
        page.sample(name, &[], u64::from(cluster.isolated.load(Ordering::Relaxed)));
        let name = "meridian_cluster_members";
        page.family(name, Kind::Gauge, "Vantage points heard from within report_max_age, this instance included.");
        page.sample(name, &[], cluster.members.load(Ordering::Relaxed));
        let name = "meridian_cluster_revision";
        page.family(name, Kind::Gauge, "Revision of the shared changes this instance applied.");
        page.sample(name, &[], cluster.revision.load(Ordering::Relaxed));
        let name = "meridian_cluster_reports_total";
        page.family(name, Kind::Counter, "Health votes received from other vantage points.");
        for (vantage, n) in cluster.reports.load().iter() {
            page.sample(name, &[("vantage", vantage)], n.load(Ordering::Relaxed));
        }
    }

    fn render_process(&self, page: &mut Page, state: &Gauges<'_>) {
        let name = "meridian_build_info";
        page.family(name, Kind::Gauge, "Always 1; the version of the running binary.");
        page.sample(name, &[("version", state.version)], 1);
        let name = "meridian_uptime_seconds";
        page.family(name, Kind::Gauge, "Seconds since the process started.");
        page.sample(name, &[], state.uptime.as_secs_f64());
        let name = "meridian_snapshot_generation";
        page.family(name, Kind::Gauge, "Generation of the snapshot queries are answered from.");
        page.sample(name, &[], state.generation);
        let name = "meridian_reloads_total";
        page.family(name, Kind::Counter, "Configuration reloads, by result.");
        for (result, n) in ["ok", "error"].into_iter().zip(&self.reloads) {
            page.sample(name, &[("result", result)], n.load(Ordering::Relaxed));
        }
        let name = "meridian_config_last_reload_successful";
        page.family(
            name,
            Kind::Gauge,
            "0 when the last reload was rejected: the server still runs the configuration it had, not its file's.",
        );
        page.sample(name, &[], u64::from(!self.last_reload_failed.load(Ordering::Relaxed)));
        let name = "meridian_writer_heartbeat_timestamp_seconds";
        page.family(
            name,
            Kind::Gauge,
            "Unix time the writer last turned; it turns every 10 s, so an older value means it is stuck and no health change, API change or reload is applied.",
        );
        page.sample(name, &[], self.writer_heartbeat.load(Ordering::Relaxed));
        let name = "meridian_api_auth_failures_total";
        page.family(name, Kind::Counter, "Admin API requests refused for a missing or wrong token.");
        page.sample(name, &[], self.api_auth_failures.load(Ordering::Relaxed));
        let name = "meridian_registrations_expired_total";
        page.family(name, Kind::Counter, "Registered endpoints removed because their lease ran out unrenewed.");
        page.sample(name, &[], self.registrations_expired.load(Ordering::Relaxed));
    }

    fn render_queries(&self, page: &mut Page) {
        let name = "meridian_queries_total";
        page.family(name, Kind::Counter, "Responses by transport, question type and RCODE.");
        for transport in Transport::ALL {
            for (qtype, rcodes) in self.queries[transport as usize].iter().enumerate() {
                for (rcode, n) in rcodes.iter().enumerate() {
                    let n = n.load(Ordering::Relaxed);
                    if n > 0 {
                        let labels = [
                            ("transport", transport.as_str()),
                            ("qtype", qtype_label(qtype)),
                            ("rcode", rcode_label(rcode)),
                        ];
                        page.sample(name, &labels, n);
                    }
                }
            }
        }
        let name = "meridian_ecs_tailored_answers_total";
        page.family(name, Kind::Counter, "Answers tailored to an ECS client subnet (scope prefix length above 0).");
        page.sample(name, &[], self.ecs_tailored.load(Ordering::Relaxed));
        let name = "meridian_rrl_limited_total";
        page.family(
            name,
            Kind::Counter,
            "UDP responses held back by response rate limiting, dropped or slipped (sent empty with TC=1).",
        );
        for (action, n) in ["dropped", "slipped"].iter().zip(&self.rate_limited) {
            page.sample(name, &[("action", action)], n.load(Ordering::Relaxed));
        }
        self.signature_series(page);
        let name = "meridian_dropped_total";
        page.family(
            name,
            Kind::Counter,
            "UDP datagrams left unanswered: from a source no answer can go to, or whose answer could not be sent.",
        );
        for reason in Dropped::ALL {
            page.sample(name, &[("reason", reason.as_str())], self.dropped[reason as usize].load(Ordering::Relaxed));
        }
        let name = "meridian_tsig_requests_total";
        page.family(
            name,
            Kind::Counter,
            "Requests that carried a TSIG record, by result: verified (answered and signed), or the error they got.",
        );
        for result in TsigResult::ALL {
            page.sample(name, &[("result", result.as_str())], self.tsig[result as usize].load(Ordering::Relaxed));
        }
    }

    fn render_tcp(&self, page: &mut Page) {
        let name = "meridian_tcp_connections";
        page.family(name, Kind::Gauge, "DNS TCP connections open now.");
        page.sample(name, &[], self.tcp_connections.load(Ordering::Relaxed));
        let name = "meridian_tcp_refused_total";
        page.family(name, Kind::Counter, "DNS TCP connections closed on accept, by the limit reached.");
        for limit in TcpRefusal::ALL {
            page.sample(name, &[("reason", limit.as_str())], self.tcp_refused[limit as usize].load(Ordering::Relaxed));
        }
        let name = "meridian_tcp_timeouts_total";
        page.family(name, Kind::Counter, "DNS TCP connections closed by a timeout, idle or within a query.");
        for kind in TcpTimeout::ALL {
            page.sample(name, &[("kind", kind.as_str())], self.tcp_timeouts[kind as usize].load(Ordering::Relaxed));
        }
    }
}

/// `meridian_endpoint_up` and `meridian_endpoint_state`, sorted by region and address.
fn render_endpoints(page: &mut Page, endpoints: &[EndpointGauge<'_>]) {
    let mut sorted: Vec<&EndpointGauge<'_>> = endpoints.iter().collect();
    sorted.sort_by_key(|e| (e.endpoint.region, e.endpoint.address));
    let name = "meridian_endpoint_up";
    page.family(name, Kind::Gauge, "1 if queries may be answered with the endpoint now, else 0.");
    for e in &sorted {
        page.sample(name, &[("region", e.endpoint.region), ("endpoint", e.endpoint.address)], u64::from(e.servable));
    }
    let name = "meridian_endpoint_state";
    page.family(name, Kind::Gauge, "1 for the endpoint's current state, 0 for the others.");
    for e in &sorted {
        for state in EndpointState::ALL {
            let labels = [("region", e.endpoint.region), ("endpoint", e.endpoint.address), ("state", state.as_str())];
            page.sample(name, &labels, u64::from(e.state == state));
        }
    }
    let name = "meridian_endpoint_held_down";
    page.family(
        name,
        Kind::Gauge,
        "1 while the endpoint is held down after flapping (flap_limit falls in flap_window).",
    );
    for e in &sorted {
        page.sample(name, &[("region", e.endpoint.region), ("endpoint", e.endpoint.address)], u64::from(e.held_down));
    }
}

/// `meridian_pool_up`, `meridian_pool_servable_regions` and `meridian_pool_regions`, by pool.
fn render_pools(page: &mut Page, pools: &[PoolGauge<'_>]) {
    let mut sorted: Vec<&PoolGauge<'_>> = pools.iter().collect();
    sorted.sort_by_key(|p| p.pool);
    let name = "meridian_pool_up";
    page.family(
        name,
        Kind::Gauge,
        "1 if some region of the pool can answer, 0 if none can (answers follow when_all_down).",
    );
    for p in &sorted {
        page.sample(name, &[("pool", p.pool)], u64::from(p.servable_regions > 0));
    }
    let name = "meridian_pool_servable_regions";
    page.family(name, Kind::Gauge, "Regions of the pool that can answer now (not down, drained or failed over from).");
    for p in &sorted {
        page.sample(name, &[("pool", p.pool)], p.servable_regions as u64);
    }
    let name = "meridian_pool_regions";
    page.family(name, Kind::Gauge, "Regions the pool lists.");
    for p in &sorted {
        page.sample(name, &[("pool", p.pool)], p.regions as u64);
    }
}

#[cfg(test)]
mod tests;
