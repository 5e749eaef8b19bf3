//! `GET /api/v1/cluster`: this instance's view of the cluster it belongs to.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, clock, timestamp_of};
use crate::config::cluster::Quorum;

#[derive(Serialize, ToSchema, Default)]
pub struct ClusterInfo {
    /// Whether this instance is part of a cluster (`[cluster]`); the rest is empty when not.
    pub clustered: bool,
    /// This instance, also its vantage name.
    pub name: String,
    pub bucket: String,
    pub nats: Vec<String>,
    /// Connected to NATS with the shared changes' bucket open.
    pub connected: bool,
    /// The revision of the shared changes this instance applied (0: none yet).
    pub applied_revision: u64,
    /// The latest revision this instance saw in the bucket.
    pub log_revision: u64,
    /// "majority", a count ("2") or a fraction ("0.5").
    pub health_quorum: String,
    pub report_max_age_ms: u64,
    /// No other vantage point reports: health is this instance's own view.
    pub isolated: bool,
    /// The other vantage points heard from within `report_max_age`.
    pub members: Vec<Member>,
}

#[derive(Serialize, ToSchema)]
pub struct Member {
    pub name: String,
    /// When its last health vote arrived (RFC 3339).
    #[schema(format = DateTime)]
    pub last_report: String,
    pub age_ms: u64,
}

/// The cluster: its connection, the revision applied, and the members heard from
/// (`clustered: false` for a standalone instance).
#[utoipa::path(get, path = "/api/v1/cluster", tag = "cluster", responses((status = 200, body = ClusterInfo)))]
pub async fn cluster(State(shared): State<Shared>) -> Json<ClusterInfo> {
    let published = shared.published();
    let (Some(settings), Some((view, status))) = (&published.snapshot.config.cluster, &published.cluster) else {
        return Json(ClusterInfo::default());
    };
    let now = clock();
    let members = view
        .members
        .iter()
        .map(|(name, at)| Member {
            name: name.to_string(),
            last_report: timestamp_of(*at),
            age_ms: u64::try_from(now.saturating_duration_since(*at).as_millis()).unwrap_or(u64::MAX),
        })
        .collect();
    Json(ClusterInfo {
        clustered: true,
        name: settings.name.clone(),
        bucket: settings.bucket.clone(),
        nats: settings.nats.clone(),
        connected: status.connected.load(Ordering::Relaxed),
        applied_revision: published.persisted.revision.unwrap_or(0),
        log_revision: status.revision.load(Ordering::Relaxed),
        health_quorum: match settings.health_quorum {
            Quorum::Majority => "majority".to_owned(),
            Quorum::Count(n) => n.to_string(),
            Quorum::Fraction(f) => f.to_string(),
        },
        report_max_age_ms: u64::try_from(settings.report_max_age.as_millis()).unwrap_or(u64::MAX),
        isolated: view.isolated,
        members,
    })
}
