//! The one immutable view of everything a query needs, and the store that publishes it.
//!
//! A query loads the current [`Snapshot`] once and answers from it alone, so it never sees
//! half of a change (arc-swap: "a query should be answered by a consistent version of data").
//! Only the writer publishes; readers take no lock.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::config::{Config, Problem};
use crate::dnssec::Signing;
use crate::geo::asn::AsnDb;
use crate::geo::mmdb::GeoDb;
use crate::health::view::HealthView;
use crate::metrics::{Observers, PoolObservers};
use crate::steering::Steering;
use crate::transfer::{self, Carried, Transfers};
use crate::tsig::Keys;
use crate::zone::{Zones, load};

/// Everything a query needs. Never changed once published.
#[derive(Debug)]
pub struct Snapshot {
    /// Counts publications, starting at 1; the API and tests wait on it.
    pub generation: u64,
    pub config: Arc<Config>,
    pub zones: Arc<Zones>,
    /// Pools and the geo database.
    pub steering: Arc<Steering>,
    /// The counters each pool's answers feed, by pool index: resolved with `steering`.
    pub observers: Arc<PoolObservers>,
    /// What the health checks say; replaced on its own when health changes.
    pub health: Arc<HealthView>,
    /// The TSIG keys (`[[key]]`), their secrets read with the zone files.
    pub keys: Arc<Keys>,
    /// With `[cluster]`: the revision of the shared changes in force (`CH TXT
    /// revision.meridian.` answers it, so `dig` can compare instances).
    pub cluster_revision: Option<u64>,
    /// Each signed zone's keys; empty when no zone is signed.
    pub signing: Arc<Signing>,
    /// The time signatures are dated from, in seconds since the epoch: set by the writer
    /// when it publishes and moved on when a validity window changes (never read from the
    /// clock by a query).
    pub signing_now: u64,
    /// Each zone's serial, transfer rules, pools as transferred and journal.
    pub transfers: Arc<Transfers>,
}

impl Snapshot {
    /// Reads the zone files and the geo database a configuration names and builds the
    /// snapshot over them, with `health` as its view. The one way a snapshot is loaded from
    /// files: `serve`, a reload, `check-config` and `explain` all come here.
    ///
    /// # Errors
    /// Every problem of every zone file, the geo database's, and every pool's, together.
    pub fn load(
        generation: u64,
        config: Arc<Config>,
        health: HealthView,
        observers: Option<&Observers>,
    ) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut zones = load::load_all(&config.zones).unwrap_or_else(|mut found| {
            problems.append(&mut found);
            Vec::new()
        });
        let signing = crate::dnssec::load::load_all(&config.zones).unwrap_or_else(|mut found| {
            problems.append(&mut found);
            Vec::new()
        });
        add_key_records(&mut zones, &signing, &mut problems);
        let geo = match &config.geoip {
            Some(path) => match GeoDb::open(path) {
                Ok(db) => Some(Arc::new(db)),
                Err(e) => {
                    problems.push(Problem::new("geoip.database", e.to_string()));
                    None
                }
            },
            None => None,
        };
        let keys = Keys::read(&config.keys).unwrap_or_else(|mut found| {
            problems.append(&mut found);
            Keys::default()
        });
        let asn = match &config.asn_database {
            Some(path) => match AsnDb::open(path) {
                Ok(db) => Some(Arc::new(db)),
                Err(e) => {
                    problems.push(Problem::new("geoip.asn_database", e.to_string()));
                    None
                }
            },
            None => None,
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut snapshot = Self::build(generation, config, Zones::new(zones), geo, asn, health, observers)?;
        snapshot.keys = Arc::new(keys);
        snapshot.signing = Arc::new(Signing::new(signing));
        Ok(snapshot)
    }

    /// Puts a snapshot together: builds the pools over the zones (checking where they live),
    /// then makes each pool name exist in its zone.
    ///
    /// # Errors
    /// Every pool that cannot live where it is configured.
    pub fn build(
        generation: u64,
        config: Arc<Config>,
        mut zones: Zones,
        geo: Option<Arc<GeoDb>>,
        asn: Option<Arc<AsnDb>>,
        health: HealthView,
        observers: Option<&Observers>,
    ) -> Result<Self, Vec<Problem>> {
        if let Some(name) = &config.catalog {
            zones.insert(transfer::catalog::build(name, &zones).map_err(|p| vec![p])?);
        }
        let steering = Steering::build(&config, geo, asn, &zones)?;
        let observers = Arc::new(observers.map(|o| o.resolve(&steering)).unwrap_or_default());
        for pool in &steering.pools {
            zones.ensure_name(&pool.name);
        }
        // Serials as written (no clock here): the writer decides them when it publishes
        // ([`Snapshot::carry_transfers`]).
        let transfers = Arc::new(transfer::carry(None, &mut zones, &steering, &config, 0).transfers);
        let health = Arc::new(health);
        let zones = Arc::new(zones);
        Ok(Self {
            generation,
            config,
            zones,
            steering: Arc::new(steering),
            observers,
            health,
            keys: Arc::default(),
            cluster_revision: None,
            signing: Arc::default(),
            signing_now: 0,
            transfers,
        })
    }

    /// Decides this (new) snapshot's serials and transfer state from the one served before
    /// (none at start), at `now_unix` (see [`transfer::carry`]): zones whose change is
    /// refused go back to their served version.
    pub fn carry_transfers(&mut self, previous: Option<&Snapshot>, now_unix: u64) -> Carried {
        let previous = previous.map(|p| (&*p.zones, &*p.transfers));
        let mut zones = match Arc::get_mut(&mut self.zones) {
            Some(zones) => std::mem::take(zones),
            None => return Carried::default(),
        };
        let mut carried = transfer::carry(previous, &mut zones, &self.steering, &self.config, now_unix);
        self.zones = Arc::new(zones);
        self.transfers = Arc::new(std::mem::take(&mut carried.transfers));
        carried
    }

    /// A snapshot for another configuration over the same zones and geo database (an API
    /// change, which reads no file). Its generation and health view are set when it is
    /// published.
    ///
    /// # Errors
    /// Every pool that cannot live where it is configured.
    pub fn rebuild(&self, config: Arc<Config>, observers: Option<&Observers>) -> Result<Self, Vec<Problem>> {
        let steering = Steering::build(&config, self.steering.geo.clone(), self.steering.asn.clone(), &self.zones)?;
        let observers = Arc::new(observers.map(|o| o.resolve(&steering)).unwrap_or_default());
        // API changes add no pool, so every pool name already exists in its zone.
        Ok(Self {
            generation: self.generation,
            config,
            zones: self.zones.clone(),
            steering: Arc::new(steering),
            observers,
            health: self.health.clone(),
            keys: self.keys.clone(),
            cluster_revision: self.cluster_revision,
            signing: self.signing.clone(),
            signing_now: self.signing_now,
            transfers: self.transfers.clone(),
        })
    }

    /// The same snapshot with another health view, one generation on.
    pub fn with_health(&self, health: HealthView) -> Self {
        Self {
            generation: self.generation + 1,
            config: self.config.clone(),
            zones: self.zones.clone(),
            steering: self.steering.clone(),
            observers: self.observers.clone(),
            health: Arc::new(health),
            keys: self.keys.clone(),
            cluster_revision: self.cluster_revision,
            signing: self.signing.clone(),
            signing_now: self.signing_now,
            transfers: self.transfers.clone(),
        }
    }

    /// The same snapshot with signatures dated from `unix_secs`, under the same generation
    /// (the publisher moves it on when this replaces the snapshot in force).
    pub fn with_signing_now(&self, unix_secs: u64) -> Self {
        Self {
            generation: self.generation,
            config: self.config.clone(),
            zones: self.zones.clone(),
            steering: self.steering.clone(),
            observers: self.observers.clone(),
            health: self.health.clone(),
            keys: self.keys.clone(),
            cluster_revision: self.cluster_revision,
            signing: self.signing.clone(),
            signing_now: unix_secs,
            transfers: self.transfers.clone(),
        }
    }

    /// Whether signatures dated from `unix_secs` would fall in another validity window than
    /// those of `signing_now`: then the writer publishes [`Snapshot::with_signing_now`].
    pub fn is_signing_stale(&self, unix_secs: u64) -> bool {
        self.signing.iter().any(|z| z.validity.window_at(self.signing_now) != z.validity.window_at(unix_secs))
    }
}

/// Puts each signed zone's DNSKEY, CDS and CDNSKEY at its apex; keys for a zone no file
/// serves are a problem.
fn add_key_records(zones: &mut [crate::zone::Zone], signing: &[crate::dnssec::ZoneKeys], problems: &mut Vec<Problem>) {
    for keys in signing {
        let Some(zone) = zones.iter_mut().find(|z| z.origin_key == keys.origin) else {
            let at = keys.keys.first().map(|k| k.file.display().to_string()).unwrap_or_default();
            problems.push(Problem::new(
                "zone",
                format!("{at}: the keys are for {}, which no zone file serves", keys.origin_name),
            ));
            continue;
        };
        let ttl = zone.apex().get(hickory_proto::rr::RecordType::SOA).map_or(3600, |soa| soa.ttl);
        zone.add_apex_records(keys.apex_records(ttl));
    }
}

/// Holds the current snapshot; lock-free for readers.
#[derive(Debug)]
pub struct SnapshotStore {
    current: ArcSwap<Snapshot>,
    changed: watch::Sender<u64>,
}

impl SnapshotStore {
    pub fn new(first: Snapshot) -> Self {
        let (changed, _) = watch::channel(first.generation);
        Self { current: ArcSwap::from_pointee(first), changed }
    }

    /// The current snapshot. Cheap: one atomic increment.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The current snapshot, borrowed: cheaper than [`SnapshotStore::load`] (no reference
    /// count shared between threads is touched), for a short use such as a batch of queries.
    pub fn guard(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// Replaces the snapshot. Only the writer calls this.
    pub fn publish(&self, next: Arc<Snapshot>) {
        let generation = next.generation;
        self.current.store(next);
        self.changed.send_replace(generation);
    }

    /// Tells of each publication by its generation: what the tests and anything else that
    /// waits for "the change is in force" wait on. Never read on the query path (a `watch`
    /// borrow takes a read lock).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
