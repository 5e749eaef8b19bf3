//! The OpenAPI 3 document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Meridian admin API", description = "Status, regions, strategies, health, failover and reload of a Meridian GeoDNS server. Every route but /healthz and /metrics needs `Authorization: Bearer <token>`."),
    paths(
        super::status::healthz,
        super::status::status,
        super::regions::list,
        super::regions::one,
        super::regions::add,
        super::regions::remove,
        super::regions::set_weight,
        super::regions::drain,
        super::regions::undrain,
        super::regions::set_strategy,
        super::health::check,
        super::health::history,
        super::failover::trigger,
        super::failover::clear,
        super::failover::status,
        super::status::explain,
        super::analytics::analytics,
        super::metrics::metrics,
        super::status::reload,
        document,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "status", responses((status = 200, description = "The OpenAPI 3 document")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
