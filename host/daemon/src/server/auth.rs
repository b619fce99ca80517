//! Bearer tokens and roles.
//!
//! A token reads `vgl_<id>_<secret>`: the id finds the stored row, the secret is checked against
//! its stored SHA-256 in constant time. Secrets are 256 random bits, so a fast hash is enough;
//! the database never holds a usable token.

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including tokens.
    Admin,
    /// Reads, ingests, and manages plugins, models and monitors.
    Write,
    /// Sends records and labels, nothing else.
    Ingest,
    /// Reads.
    Read,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "write" => Ok(Role::Write),
            "ingest" => Ok(Role::Ingest),
            "read" => Ok(Role::Read),
            other => Err(format!(
                "unknown role `{other}`; roles: admin, write, ingest, read"
            )),
        }
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Write => "write",
            Role::Ingest => "ingest",
            Role::Read => "read",
        }
    }
}

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No token: health and readiness only.
    Public,
    /// Reading: read, write and admin tokens.
    Read,
    /// Sending records and labels: ingest, write and admin tokens.
    Ingest,
    /// Changing plugins, models and monitors: write and admin tokens.
    Write,
    /// Managing tokens: admin tokens.
    Admin,
}

impl Access {
    pub fn allows(self, role: Role) -> bool {
        match self {
            Access::Public => true,
            Access::Read => matches!(role, Role::Read | Role::Write | Role::Admin),
            Access::Ingest => matches!(role, Role::Ingest | Role::Write | Role::Admin),
            Access::Write => matches!(role, Role::Write | Role::Admin),
            Access::Admin => role == Role::Admin,
        }
    }
}

/// Who made a request; handlers read it from the request extensions.
#[derive(Clone, Debug)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
}

/// A new token: what to store, and the text shown to its owner once.
pub struct NewToken {
    pub id: String,
    pub secret_sha256: [u8; 32],
    pub text: String,
}

pub fn generate_token() -> NewToken {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).expect("the OS random source works");
    getrandom::fill(&mut secret).expect("the OS random source works");
    let (id, secret) = (hex::encode(id), hex::encode(secret));
    NewToken {
        secret_sha256: Sha256::digest(secret.as_bytes()).into(),
        text: format!("vgl_{id}_{secret}"),
        id,
    }
}

/// A token's name is for people reading lists and logs: 1 to 64 characters, none of them a
/// control character (a line break or an escape sequence would forge or garble output).
pub fn check_token_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err("name: 1 to 64 characters, without control characters".into());
    }
    Ok(())
}

/// Creates and stores a token with `role`; returns the text to give its owner.
pub async fn create_token(
    store: &vigil_store::Store,
    name: &str,
    role: Role,
) -> vigil_store::Result<NewToken> {
    let token = generate_token();
    store
        .insert_token(&token.id, name, role.as_str(), &token.secret_sha256)
        .await?;
    Ok(token)
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "unauthorized",
        message,
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

/// The credentials of a `Bearer` authorization; the scheme is case-insensitive (RFC 9110).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(credentials.trim())
}

/// Checks the bearer token against `access`: 401 without a valid token, 403 with a token
/// whose role does not allow the route.
pub async fn authorize(
    state: AppState,
    access: Access,
    mut request: Request,
    next: Next,
) -> Response {
    if access == Access::Public {
        return next.run(request).await;
    }
    let Some(text) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
    else {
        return unauthorized("missing bearer token");
    };
    let Some((id, secret)) = text
        .trim()
        .strip_prefix("vgl_")
        .and_then(|rest| rest.split_once('_'))
    else {
        return unauthorized("malformed token");
    };
    let stored = match state.store.token(id).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return unauthorized("invalid token"),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    let matches: bool = digest.ct_eq(stored.secret_sha256.as_slice()).into();
    if !matches || stored.revoked_at.is_some() {
        return unauthorized("invalid token");
    }
    let Ok(role) = stored.role.parse::<Role>() else {
        return unauthorized("invalid token");
    };
    if !access.allows(role) {
        return ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{} `{}` token cannot do this",
                if role == Role::Admin || role == Role::Ingest {
                    "an"
                } else {
                    "a"
                },
                role.as_str()
            ),
        )
        .into_response();
    }
    request.extensions_mut().insert(Caller {
        token_id: stored.id,
        role,
    });
    next.run(request).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer t", "bearer t", "BEARER  t", " Bearer t "] {
            assert_eq!(super::bearer(value), Some("t"), "{value:?}");
        }
        for value in ["Basic t", "Bearert", "t"] {
            assert_eq!(super::bearer(value), None, "{value:?}");
        }
    }
}
