//! `GET /metrics`: the Prometheus text exposition, without a token (scrapers rarely carry one;
//! nothing on the page is secret).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::{Shared, clock};
use crate::config::ManualState;
use crate::metrics::{CONTENT_TYPE, EndpointGauge, EndpointLabel, EndpointState, Gauges, PoolGauge};

/// The metrics page.
#[utoipa::path(get, path = "/metrics", tag = "status", security(()),
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain")))]
pub async fn metrics(State(shared): State<Shared>) -> impl IntoResponse {
    let published = shared.published();
    let (table, snapshot) = (&*published.health, &*published.snapshot);
    let config = &snapshot.config;
    let addresses: Vec<String> = config.endpoints().map(|(_, _, e)| e.target().to_string()).collect();
    let now = clock();
    let endpoints: Vec<EndpointGauge<'_>> = config
        .endpoints()
        .zip(&addresses)
        .map(|((index, region, endpoint), address)| {
            let state = match (endpoint.state, table.endpoint(index)) {
                (ManualState::Drain, _) => EndpointState::Drained,
                (_, Some(report)) => report.status.into(),
                (_, None) => EndpointState::Up,
            };
            // Weight 0 keeps an endpoint configured but out of every answer.
            let servable =
                snapshot.health.weight_milli(index, endpoint.weight) > 0 && snapshot.health.is_servable(index);
            let held_down = table.endpoint(index).and_then(|r| r.held_until).is_some_and(|until| now < until);
            let endpoint = EndpointLabel { region: &region.name, address };
            EndpointGauge { endpoint, state, servable, held_down }
        })
        .collect();
    let pools: Vec<PoolGauge<'_>> = published
        .pools
        .iter()
        .map(|p| PoolGauge { pool: &p.pool, regions: p.regions, servable_regions: p.servable_regions })
        .collect();
    let gauges = Gauges {
        generation: snapshot.generation,
        endpoints: &endpoints,
        pools: &pools,
        version: env!("CARGO_PKG_VERSION"),
        uptime: now.saturating_duration_since(shared.0.started),
    };
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], shared.0.observers.metrics.render(&gauges))
}
