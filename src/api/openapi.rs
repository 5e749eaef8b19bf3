//! The OpenAPI 3 document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Meridian admin API", description = "Status, regions, strategies, health, failover, the changes log and reload of a Meridian GeoDNS server. Every route but /healthz and /metrics needs `Authorization: Bearer <token>`."),
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
        super::regions::push_load,
        super::regions::set_strategy,
        super::health::check,
        super::health::history,
        super::failover::trigger,
        super::failover::clear,
        super::failover::status,
        super::status::explain,
        super::analytics::analytics,
        super::cluster::cluster,
        super::metrics::metrics,
        super::changes::list,
        super::changes::revert,
        super::status::reload,
        document,
    ),
    modifiers(&BearerAuth, &AuthRefusals),
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

/// Every authenticated operation answers 401 to a missing or wrong token, and 429 to an
/// address with too many failed authentications: said once here rather than on each handler.
struct AuthRefusals;

impl Modify for AuthRefusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = || ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
        let unauthorized = ResponseBuilder::new()
            .description("No token, or a wrong one (the attempt counts against the client's address)")
            .content("application/json", error())
            .build();
        let retry_after = HeaderBuilder::new()
            .schema(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer))
            .description(Some("Seconds until the address may try again"))
            .build();
        let refused = ResponseBuilder::new()
            .description("Too many failed authentications from this address within api.failed_auth_window_secs")
            .content("application/json", error())
            .header("Retry-After", retry_after)
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if matches!(path.as_str(), "/healthz" | "/metrics") {
                continue;
            }
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses.entry("401".into()).or_insert_with(|| unauthorized.clone().into());
                responses.entry("429".into()).or_insert_with(|| refused.clone().into());
            }
        }
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "status", responses((status = 200, description = "The OpenAPI 3 document")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
