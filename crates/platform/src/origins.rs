//! `ALLOWED_ORIGINS`: CORS for browsers and the WebSocket `Origin` check.

use actix_cors::Cors;
use actix_web::http::{Method, header};

use crate::env;

#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    pub fn from_env() -> Result<Self, env::EnvError> {
        let items = env::list("ALLOWED_ORIGINS");
        for item in &items {
            if !(item.starts_with("http://") || item.starts_with("https://")) || item.ends_with('/')
            {
                return Err(env::invalid(
                    "ALLOWED_ORIGINS",
                    item,
                    "expected origins like https://app.example.com (scheme, host, optional port, no path)",
                ));
            }
        }
        Ok(Self(items))
    }

    pub fn new(items: Vec<String>) -> Self {
        Self(items)
    }

    /// Empty list: any origin. No `Origin` header (a non-browser client): allowed.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(_) if self.0.is_empty() => true,
            Some(o) => self.0.iter().any(|allowed| allowed.eq_ignore_ascii_case(o)),
        }
    }

    pub fn cors(&self) -> Cors {
        let base = Cors::default()
            .allowed_methods([Method::GET, Method::POST, Method::PATCH, Method::OPTIONS])
            .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .expose_headers([header::RETRY_AFTER])
            .max_age(3600);
        if self.0.is_empty() {
            base.allow_any_origin()
        } else {
            self.0
                .iter()
                .fold(base, |cors, origin| cors.allowed_origin(origin))
        }
    }
}
