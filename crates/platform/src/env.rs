//! Environment configuration helpers. Every error names the variable, so a
//! misconfigured deployment fails at start-up with a message an operator can act on.

use std::{fmt::Display, str::FromStr};

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("{name} is required but not set")]
    Missing { name: &'static str },
    #[error("{name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Loads `.env` from the working directory if present. Values already in the process
/// environment win, as with every dotenv implementation.
pub fn load_dotenv() {
    // A missing file is the normal production case; a malformed one is worth a warning.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(e) if e.not_found() => {}
        Err(e) => eprintln!("warning: ignoring .env: {e}"),
    }
}

/// The raw value, treating an empty string as unset.
pub fn raw(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn required(name: &'static str) -> Result<String, EnvError> {
    raw(name).ok_or(EnvError::Missing { name })
}

pub fn or(name: &'static str, default: &str) -> String {
    raw(name).unwrap_or_else(|| default.to_owned())
}

pub fn parsed_or<T>(name: &'static str, default: T) -> Result<T, EnvError>
where
    T: FromStr,
    T::Err: Display,
{
    match raw(name) {
        None => Ok(default),
        Some(value) => parse(name, &value),
    }
}

/// A positive integer setting (TTLs, limits): zero would silently disable a rule.
pub fn positive_or(name: &'static str, default: u64) -> Result<u64, EnvError> {
    let v: u64 = parsed_or(name, default)?;
    if v == 0 {
        return Err(EnvError::Invalid {
            name,
            value: "0".into(),
            reason: "must be greater than zero".into(),
        });
    }
    Ok(v)
}

pub fn bool_or(name: &'static str, default: bool) -> Result<bool, EnvError> {
    match raw(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(EnvError::Invalid {
                name,
                value: v,
                reason: "expected true or false".into(),
            }),
        },
    }
}

/// A comma-separated list; blank items are dropped.
pub fn list(name: &'static str) -> Vec<String> {
    raw(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub fn parse<T>(name: &'static str, value: &str) -> Result<T, EnvError>
where
    T: FromStr,
    T::Err: Display,
{
    value.trim().parse().map_err(|e: T::Err| EnvError::Invalid {
        name,
        value: value.to_owned(),
        reason: e.to_string(),
    })
}

pub fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> EnvError {
    EnvError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// Log output format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl LogFormat {
    pub fn from_env() -> Result<Self, EnvError> {
        match or("LOG_FORMAT", "pretty").as_str() {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            other => Err(invalid("LOG_FORMAT", other, "expected pretty or json")),
        }
    }
}
