//! What answers a request no route takes: `405 method_not_allowed` with `Allow`
//! when the path is served with other methods, else `404 not_found`. The paths
//! come from the service's API description, which is built from the routes
//! themselves, so the two cannot disagree.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{Method, StatusCode, header},
    web,
};
use utoipa::openapi::OpenApi;

use crate::http_error::{JsonError, NoSuchRoute, ToJsonError};

/// Every described path, as segments (`None` for a `{parameter}`), with its methods.
#[derive(Debug, Clone, Default)]
pub struct KnownRoutes(Vec<(Vec<Option<String>>, Vec<Method>)>);

impl KnownRoutes {
    pub fn new(openapi: &OpenApi) -> Self {
        let routes = openapi
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path
                    .split('/')
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_owned()))
                    .collect();
                let methods = [
                    (Method::GET, item.get.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                    (Method::OPTIONS, item.options.is_some()),
                    (Method::HEAD, item.head.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::TRACE, item.trace.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, described)| described.then_some(method))
                .collect();
                (segments, methods)
            })
            .collect();
        Self(routes)
    }

    /// The methods `path` is served with, if any: a `{parameter}` matches one
    /// non-empty segment, as actix's router does.
    pub fn methods(&self, path: &str) -> Option<&[Method]> {
        let wanted: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(segments, _)| {
                segments.len() == wanted.len()
                    && segments.iter().zip(&wanted).all(|(s, w)| match s {
                        Some(literal) => literal == w,
                        None => !w.is_empty(),
                    })
            })
            .map(|(_, methods)| methods.as_slice())
    }
}

/// A wrong method on a served path.
#[derive(Debug, Clone)]
pub struct MethodNotAllowed(pub Vec<Method>);

impl ToJsonError for MethodNotAllowed {
    fn to_json_error(&self) -> JsonError<'_> {
        JsonError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this path is not served with this method",
        )
    }
}

/// The app's default service; needs [`KnownRoutes`] as app data (without it,
/// everything unrouted is a 404).
pub async fn fallback(req: HttpRequest, routes: Option<web::Data<KnownRoutes>>) -> HttpResponse {
    let Some(methods) = routes.as_deref().and_then(|r| r.methods(req.path())) else {
        return NoSuchRoute.to_json_error().response();
    };
    let error = MethodNotAllowed(methods.to_vec());
    let mut response = error.to_json_error().response();
    let allow = methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(value) = header::HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};

    use super::*;

    fn routes() -> KnownRoutes {
        let paths = PathsBuilder::new()
            .path(
                "/v1/me",
                PathItem::new(HttpMethod::Get, OperationBuilder::new().build()),
            )
            .path(
                "/v1/rooms/{room}/messages",
                PathItem::new(HttpMethod::Get, OperationBuilder::new().build()),
            )
            .path(
                "/ws/chat/",
                PathItem::new(HttpMethod::Get, OperationBuilder::new().build()),
            )
            .build();
        let mut openapi = OpenApi::default();
        openapi.paths = paths;
        KnownRoutes::new(&openapi)
    }

    #[test]
    fn parameters_match_one_non_empty_segment() {
        let routes = routes();
        assert_eq!(routes.methods("/v1/me"), Some(&[Method::GET][..]));
        assert!(routes.methods("/v1/rooms/general/messages").is_some());
        assert!(routes.methods("/v1/rooms//messages").is_none());
        assert!(routes.methods("/v1/rooms/a/b/messages").is_none());
        assert!(routes.methods("/ws/chat/").is_some());
        assert!(routes.methods("/ws/chat").is_none());
        assert!(routes.methods("/nope").is_none());
    }
}
