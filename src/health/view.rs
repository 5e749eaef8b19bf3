//! What health says of endpoints, regions and pools, as queries read it: an immutable view the
//! health writer builds from its table (`table::HealthTable::view`) and publishes with the
//! snapshot. Steering reads it; it holds no probe state and reads no clock.

/// What health says of one endpoint, as queries read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointView {
    pub servable: bool,
    /// Up but degraded: served only when no healthy endpoint remains in its region.
    pub degraded: bool,
    /// Drained by hand: never served, not even when a pool fails open.
    pub drained: bool,
}

/// Which endpoints, regions and pools are healthy: built by the health writer, read by
/// queries from the snapshot. Until a prober fills it in, everything is up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthView {
    endpoints: Vec<EndpointView>,
    /// Regions down as a whole (fewer servable endpoints than `min_healthy`), by index.
    regions_down: Vec<bool>,
    /// Pools answering with their failover TTL, by index.
    short_ttl: Vec<bool>,
    /// For `latency` pools: the region measured fastest (index into the pool's regions).
    preferred: Vec<Option<u8>>,
    /// Per pool, a bit per region (index into the pool's regions) still within its
    /// `failback_delay` after recovering: tried after the others.
    held_back: Vec<u32>,
    /// Each endpoint's weight in thousandths while some weight ramps (`health::ramp`); empty
    /// when none does, and each endpoint's configured weight is in force.
    weights: Vec<u32>,
    /// Each endpoint's smoothed load as a fraction of capacity, while a report counts.
    loads: Vec<Option<f32>>,
    /// Per pool, the endpoints (health indexes, sorted) shed for their load.
    shed: Vec<Vec<u32>>,
}

impl HealthView {
    pub fn all_up(endpoints: usize) -> Self {
        Self {
            endpoints: vec![EndpointView { servable: true, degraded: false, drained: false }; endpoints],
            ..Self::default()
        }
    }

    /// A view from its parts (the health writer builds these).
    pub fn new(
        endpoints: Vec<EndpointView>,
        regions_down: Vec<bool>,
        short_ttl: Vec<bool>,
        preferred: Vec<Option<u8>>,
    ) -> Self {
        Self {
            endpoints,
            regions_down,
            short_ttl,
            preferred,
            held_back: Vec::new(),
            weights: Vec::new(),
            loads: Vec::new(),
            shed: Vec::new(),
        }
    }

    /// The same view with ramped weights, in thousandths, by endpoint.
    pub fn with_weights(mut self, weights: Vec<u32>) -> Self {
        self.weights = weights;
        self
    }

    /// An endpoint's weight in thousandths as answers follow it now: its ramped weight while
    /// one ramps, else `configured` (whole weights).
    pub fn weight_milli(&self, endpoint: usize, configured: u32) -> u64 {
        match self.weights.get(endpoint) {
            Some(&milli) => u64::from(milli),
            None => u64::from(configured) * u64::from(super::ramp::MILLI),
        }
    }

    /// The same view with endpoints' loads and each pool's shed endpoints.
    pub fn with_loads(mut self, loads: Vec<Option<f32>>, shed: Vec<Vec<u32>>) -> Self {
        self.loads = loads;
        self.shed = shed;
        self
    }

    /// An endpoint's smoothed load (a fraction of capacity), if a report counts.
    pub fn load(&self, endpoint: usize) -> Option<f32> {
        self.loads.get(endpoint).copied().flatten()
    }

    /// Whether a pool leaves an endpoint out of its answers for its load.
    pub fn is_shed(&self, pool: usize, endpoint: usize) -> bool {
        match self.shed.get(pool) {
            Some(shed) if !shed.is_empty() => u32::try_from(endpoint).is_ok_and(|e| shed.binary_search(&e).is_ok()),
            _ => false,
        }
    }

    /// Whether a pool sheds any endpoint now.
    pub fn is_shedding(&self, pool: usize) -> bool {
        self.shed.get(pool).is_some_and(|shed| !shed.is_empty())
    }

    /// The same view with regions held back from failback.
    pub fn with_held_back(mut self, held_back: Vec<u32>) -> Self {
        self.held_back = held_back;
        self
    }

    /// Whether a pool's region (index into its regions) waits out its failback delay.
    pub fn is_held_back(&self, pool: usize, region: usize) -> bool {
        region < 32 && self.held_back.get(pool).is_some_and(|mask| mask & (1 << region) != 0)
    }

    /// The region a `latency` pool prefers, if measured.
    pub fn preferred_region(&self, pool: usize) -> Option<u8> {
        self.preferred.get(pool).copied().flatten()
    }

    /// Marks an endpoint servable or not (the steering tests set up views this way).
    pub fn set_servable(&mut self, endpoint: usize, servable: bool) {
        if let Some(view) = self.endpoints.get_mut(endpoint) {
            view.servable = servable;
        }
    }

    pub fn endpoint(&self, endpoint: usize) -> EndpointView {
        self.endpoints.get(endpoint).copied().unwrap_or(EndpointView {
            servable: true,
            degraded: false,
            drained: false,
        })
    }

    pub fn is_servable(&self, endpoint: usize) -> bool {
        self.endpoint(endpoint).servable
    }

    pub fn is_region_down(&self, region: usize) -> bool {
        self.regions_down.get(region).copied().unwrap_or(false)
    }

    pub fn is_short_ttl(&self, pool: usize) -> bool {
        self.short_ttl.get(pool).copied().unwrap_or(false)
    }
}
