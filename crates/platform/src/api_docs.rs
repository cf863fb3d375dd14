//! What both services' OpenAPI descriptions share: error responses read from the
//! errors themselves, the bearer scheme, and serving the document at
//! `GET /openapi.json`.
//!
//! Each service builds its description from the same `service(...)` calls that
//! serve its routes (utoipa-actix-web), so a route cannot be served undescribed.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, http::header, web};
use utoipa::{
    PartialSchema,
    openapi::{
        Components, OpenApi, RefOr, Schema,
        extensions::Extensions,
        header::Header,
        response::{Response, ResponseBuilder},
        schema::{Object, Type},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::http_error::{ErrorBody, JsonError, ToJsonError};

/// The name of the `Authorization: Bearer <access token>` scheme.
pub const BEARER: &str = "bearer";

/// Declares a type whose `utoipa::IntoResponses` are the error responses of the
/// listed errors, for a route's `responses(...)`:
///
/// ```ignore
/// platform::error_responses!(SendErrors = [ApiError::InvalidEmail, ApiError::Unavailable]);
/// ```
#[macro_export]
macro_rules! error_responses {
    ($(#[$meta:meta])* $vis:vis $name:ident = [$($error:expr),+ $(,)?]) => {
        $(#[$meta])*
        $vis struct $name;

        impl ::utoipa::IntoResponses for $name {
            fn responses() -> ::std::collections::BTreeMap<
                String,
                ::utoipa::openapi::RefOr<::utoipa::openapi::response::Response>,
            > {
                $crate::api_docs::error_responses(&[
                    $(&$error as &dyn $crate::http_error::ToJsonError),+
                ])
            }
        }
    };
}

/// One response per status: its body schema lists the status's codes as an enum,
/// its description says what each means, and it declares the headers the errors
/// send (required when every error of that status sends it).
pub fn error_responses(errors: &[&dyn ToJsonError]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<JsonError<'_>>> = BTreeMap::new();
    for error in errors {
        let rendered = error.to_json_error();
        by_status
            .entry(rendered.status.as_u16())
            .or_default()
            .push(rendered);
    }
    by_status
        .into_iter()
        .map(|(status, errors)| (status.to_string(), RefOr::T(response_of(&errors))))
        .collect()
}

fn response_of(errors: &[JsonError<'_>]) -> Response {
    let mut codes: Vec<&str> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for error in errors {
        if !codes.contains(&error.code) {
            codes.push(error.code);
        }
        let line = format!("`{}`: {}", error.code, error.message);
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    let mut builder = ResponseBuilder::new()
        .description(lines.join("; "))
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(error_schema(&codes)))
                .build(),
        );
    let retrying = errors.iter().filter(|e| e.retry_after.is_some()).count();
    if retrying > 0 {
        let mut seconds = Object::with_type(Type::Integer);
        seconds.minimum = Some(1.into());
        builder = builder.header(
            "Retry-After",
            sent(
                Header::new(seconds),
                "Seconds to wait before trying again.",
                retrying == errors.len(),
            ),
        );
    }
    let challenging = errors.iter().filter(|e| e.bearer_challenge).count();
    if challenging > 0 {
        let mut bearer = Object::with_type(Type::String);
        bearer.enum_values = Some(vec!["Bearer".into()]);
        builder = builder.header(
            "WWW-Authenticate",
            sent(
                Header::new(bearer),
                "The scheme to authenticate with (RFC 6750).",
                challenging == errors.len(),
            ),
        );
    }
    builder.build()
}

/// utoipa's `Header` has no field for OpenAPI's `required`; its flattened
/// extension map writes the key as given.
fn sent(mut header: Header, description: &str, always: bool) -> Header {
    header.description = Some(description.to_owned());
    if always {
        header.extensions = Some(Extensions::from_iter([("required", true)]));
    }
    header
}

/// [`ErrorBody`]'s own schema, with `error.code` narrowed to the given codes.
fn error_schema(codes: &[&str]) -> RefOr<Schema> {
    let mut schema = ErrorBody::schema();
    if let Some(code) = code_property(&mut schema) {
        code.enum_values = Some(codes.iter().map(|c| (*c).into()).collect());
    }
    schema
}

fn code_property(schema: &mut RefOr<Schema>) -> Option<&mut Object> {
    let RefOr::T(Schema::Object(body)) = schema else {
        return None;
    };
    let RefOr::T(Schema::Object(error)) = body.properties.get_mut("error")? else {
        return None;
    };
    match error.properties.get_mut("code")? {
        RefOr::T(Schema::Object(code)) => Some(code),
        _ => None,
    }
}

/// Adds the bearer scheme (the access token the verification service issues).
pub fn add_bearer_scheme(openapi: &mut OpenApi) {
    let scheme = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("JWT")
        .description(Some(
            "An access token from `POST /v1/verification/confirm` or \
             `POST /v1/token/refresh` (an EdDSA JWT).",
        ))
        .build();
    openapi
        .components
        .get_or_insert_with(Components::new)
        .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
}

/// The description as served and committed: pretty JSON, keys in a stable order
/// (paths sorted, properties as declared), ending in a newline.
pub fn render(openapi: &OpenApi) -> Result<String, serde_json::Error> {
    openapi.to_pretty_json().map(|mut text| {
        text.push('\n');
        text
    })
}

/// The rendered description, registered as app data for [`openapi_json`].
#[derive(Debug, Clone)]
pub struct ApiDescription(pub web::Bytes);

impl ApiDescription {
    pub fn new(openapi: &OpenApi) -> Result<Self, serde_json::Error> {
        render(openapi).map(|text| Self(web::Bytes::from(text)))
    }
}

/// This service's OpenAPI 3.1 description.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "This document, OpenAPI 3.1", body = serde_json::Value))
)]
#[get("/openapi.json")]
pub async fn openapi_json(description: web::Data<ApiDescription>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(description.0.clone())
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;

    use super::*;
    use crate::http_error::NoSuchRoute;

    struct Limited;

    impl ToJsonError for Limited {
        fn to_json_error(&self) -> JsonError<'_> {
            JsonError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down")
                .retry_after(3)
        }
    }

    struct Burned;

    impl ToJsonError for Burned {
        fn to_json_error(&self) -> JsonError<'_> {
            JsonError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "new code",
            )
            .retry_after(60)
        }
    }

    fn json(responses: &BTreeMap<String, RefOr<Response>>) -> serde_json::Value {
        serde_json::to_value(responses).unwrap_or_default()
    }

    #[test]
    fn one_response_per_status_with_its_codes_and_headers() {
        let doc = json(&error_responses(&[&Limited, &Burned, &NoSuchRoute]));
        let limited = &doc["429"];
        let code = &limited["content"]["application/json"]["schema"]["properties"]["error"]["properties"]
            ["code"];
        assert_eq!(
            code["enum"],
            serde_json::json!(["rate_limited", "too_many_attempts"])
        );
        assert_eq!(limited["headers"]["Retry-After"]["required"], true);
        assert_eq!(limited["headers"]["Retry-After"]["schema"]["minimum"], 1);
        let missing = &doc["404"];
        assert!(missing["headers"].is_null());
        assert_eq!(
            missing["description"],
            serde_json::json!("`not_found`: no such route")
        );
    }
}
