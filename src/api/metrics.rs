//! `GET /metrics`: the Prometheus text exposition, without a token (scrapers rarely carry one;
//! nothing on the page is secret).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::{Shared, clock};
use crate::config::ManualState;
use crate::metrics::{CONTENT_TYPE, EndpointGauge, EndpointLabel, EndpointState, Gauges};

/// The metrics page.
#[utoipa::path(get, path = "/metrics", tag = "status", security(()),
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain")))]
pub async fn metrics(State(shared): State<Shared>) -> impl IntoResponse {
    let published = shared.published();
    let (table, snapshot) = (&*published.health, &*published.snapshot);
    let config = &snapshot.config;
    let addresses: Vec<String> = config.endpoints().map(|(_, _, e)| e.address.to_string()).collect();
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
            let servable = endpoint.weight > 0 && snapshot.health.is_servable(index);
            EndpointGauge { endpoint: EndpointLabel { region: &region.name, address }, state, servable }
        })
        .collect();
    let gauges = Gauges {
        generation: snapshot.generation,
        endpoints: &endpoints,
        version: env!("CARGO_PKG_VERSION"),
        uptime: clock().saturating_duration_since(shared.0.started),
    };
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], shared.0.observers.metrics.render(&gauges))
}
