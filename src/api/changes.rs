//! The changes log: the API changes in force, each with the settings of the configuration file
//! it overrides, and reverting one.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::TokenName;
use super::error::{ApiError, ErrorBody};
use super::status::Applied;
use super::{Shared, timestamp_of_unix};
use crate::config::changes::{ChangeInForce, Override};
use crate::config::names::shown;
use crate::control::Change;

/// A change in force.
#[derive(Serialize, ToSchema)]
pub struct SavedChange {
    /// Never given twice within the state (with a cluster, within the cluster's).
    pub id: u64,
    /// When it was made: RFC 3339 in UTC, to the second; absent for one saved before changes
    /// were stamped.
    #[schema(format = DateTime)]
    pub at: Option<String>,
    /// The name of the token that made it ("default", or a `[[api.token]]`'s name); absent
    /// for one saved before changes were stamped.
    pub token: Option<String>,
    /// What it did, in one line.
    pub summary: String,
    /// The settings it decides, instead of the configuration file.
    pub overrides: Vec<Overridden>,
}

/// A setting a change decides instead of the configuration file.
#[derive(Serialize, ToSchema)]
pub struct Overridden {
    /// The setting, in the operator's words: "region a endpoint 192.0.2.1 weight",
    /// "pool www.lb.example. policy", "region c".
    pub setting: String,
    /// What the file says (a weight or a state the file leaves out: its default, 1 or
    /// "auto"); null when the file does not set it or has no such thing (a region the change
    /// added).
    pub file: Value,
    /// What the change says, and the answers follow; null for a region it removed.
    pub change: Value,
}

impl From<ChangeInForce> for SavedChange {
    fn from(change: ChangeInForce) -> Self {
        let ChangeInForce { stamp, overrides } = change;
        Self {
            id: stamp.id,
            at: timestamp_of_unix(stamp.at),
            token: Some(stamp.token).filter(|t| !t.is_empty()),
            summary: stamp.summary,
            overrides: overrides.into_iter().map(Overridden::from).collect(),
        }
    }
}

impl From<Override> for Overridden {
    fn from(o: Override) -> Self {
        Self { setting: o.setting, file: o.file.unwrap_or(Value::Null), change: o.change }
    }
}

/// Every API change in force, oldest first, each with the settings of the configuration file
/// it overrides.
#[utoipa::path(get, path = "/api/v1/changes", tag = "changes",
    responses((status = 200, body = Vec<SavedChange>), (status = 401, body = ErrorBody)))]
pub async fn list(State(shared): State<Shared>) -> Json<Vec<SavedChange>> {
    // One publication: the changes and the file they are laid over, of one moment.
    let published = shared.published();
    Json(published.persisted.changes.in_force(&published.file).into_iter().map(SavedChange::from).collect())
}

/// Reverts a change: its settings follow the configuration file again. Checked as any change
/// is, saved (and with a cluster, written to the shared log) before the answer.
#[utoipa::path(delete, path = "/api/v1/changes/{id}", tag = "changes",
    params(("id" = u64, Path, description = "The change's id, as GET /api/v1/changes lists it")),
    responses((status = 200, body = Applied), (status = 400, body = ErrorBody),
        (status = 404, description = "No change of that id is in force", body = ErrorBody),
        (status = 409, description = "Without it the configuration would be invalid, or other changes \
            would no longer apply: the message names why and the changes that depend on it", body = ErrorBody)))]
pub async fn revert(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Applied>, ApiError> {
    let Path(id) = id.map_err(super::error::path_rejection)?;
    let id = id.parse::<u64>().ok().filter(|&id| id > 0).ok_or_else(|| {
        ApiError::bad_request(format!("{} is not a change id: a whole number from 1", shown(&id)), Some("id"))
    })?;
    let generation = shared.0.control.change(Change::Revert(id), &token.0).await?;
    Ok(Json(Applied { generation }))
}
