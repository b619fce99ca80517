//! Bearer tokens and roles.
//!
//! A token reads `vgl_<id>_<secret>`: the id finds the stored row, the secret is checked against
//! its stored SHA-256 in constant time. Secrets are 256 random bits, so a fast hash is enough;
//! the database never holds a usable token.
//!
//! A `train` token is the daemon's, for one retraining run (docs/retraining.md): it may read
//! its model's records and register its run's version, nothing else, until it expires. Only
//! the daemon mints them ([`create_run_token`]); `POST /v1/tokens` refuses the role.

use axum::RequestExt as _;
use axum::extract::{RawPathParams, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
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
    /// A retraining run's: reads its model's records, registers its run's version (see
    /// [`Access::admits_train`]). Minted by the daemon only.
    Train,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "write" => Ok(Role::Write),
            "ingest" => Ok(Role::Ingest),
            "read" => Ok(Role::Read),
            "train" => Ok(Role::Train),
            other => Err(format!(
                "unknown role `{other}`; roles: admin, write, ingest, read (and train, which \
                 the daemon gives its retraining runs)"
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
            Role::Train => vigil_store::TRAIN_ROLE,
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
    /// Reading a model's records: what [`Access::Read`] allows, and `train` tokens of the
    /// model the route's `{model}` names.
    ReadOrTrain,
    /// Registering a model's version: what [`Access::Write`] allows, and `train` tokens of the
    /// model the route's `{model}` names (for their own run: the handler checks the body).
    WriteOrTrain,
}

impl Access {
    /// Whether a token of `role` may use a route needing this; for `train` tokens, on
    /// condition that the route's model is theirs.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Access::Public => true,
            Access::Read => matches!(role, Role::Read | Role::Write | Role::Admin),
            Access::Ingest => matches!(role, Role::Ingest | Role::Write | Role::Admin),
            Access::Write => matches!(role, Role::Write | Role::Admin),
            Access::Admin => role == Role::Admin,
            Access::ReadOrTrain => Access::Read.allows(role) || role == Role::Train,
            Access::WriteOrTrain => Access::Write.allows(role) || role == Role::Train,
        }
    }

    /// Whether a `train` token may use the route at all (then only for its model).
    pub fn admits_train(self) -> bool {
        matches!(self, Access::ReadOrTrain | Access::WriteOrTrain)
    }

    /// The name the route table's tests and docs/security.md use.
    pub fn name(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Read => "read",
            Access::Ingest => "ingest",
            Access::Write => "write",
            Access::Admin => "admin",
            Access::ReadOrTrain => "read or train",
            Access::WriteOrTrain => "write or train",
        }
    }
}

/// Who made a request; handlers read it from the request extensions.
#[derive(Clone, Debug)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
    /// A `train` token's model and run.
    pub scope: Option<vigil_store::RunScope>,
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

/// Why `POST /v1/tokens` and `vigil token create` refuse the `train` role.
pub const TRAIN_NOT_MINTED: &str = "`train` tokens are scoped to one model and one retraining \
    run, and only the daemon creates them, for the runs it starts (docs/retraining.md)";

/// A role a person may create a token of (`train` is not one: see [`TRAIN_NOT_MINTED`]).
pub fn mintable_role(name: &str) -> Result<Role, String> {
    match name.parse()? {
        Role::Train => Err(TRAIN_NOT_MINTED.into()),
        role => Ok(role),
    }
}

/// Creates and stores a token with `role`; returns the text to give its owner. `train`
/// tokens are refused ([`Error::Invalid`](vigil_store::Error::Invalid)): they need a scope,
/// given by [`create_run_token`].
pub async fn create_token(
    store: &vigil_store::Store,
    name: &str,
    role: Role,
) -> vigil_store::Result<NewToken> {
    if role == Role::Train {
        return Err(vigil_store::Error::Invalid(TRAIN_NOT_MINTED.into()));
    }
    let token = generate_token();
    store
        .insert_token(&token.id, name, role.as_str(), &token.secret_sha256)
        .await?;
    Ok(token)
}

/// Creates and stores the `train` token of a retraining run of `model_id`, accepted until
/// `expires_at` (Unix ms); returns the text to give the run.
pub async fn create_run_token(
    store: &vigil_store::Store,
    model_id: i64,
    run_id: &str,
    expires_at: i64,
) -> vigil_store::Result<NewToken> {
    let token = generate_token();
    // A name for lists and logs: the run's id, cut to the names' 64 characters.
    let name: String = format!("run {run_id}").chars().take(64).collect();
    store
        .insert_run_token(&vigil_store::NewRunToken {
            id: &token.id,
            name: &name,
            secret_sha256: &token.secret_sha256,
            model_id,
            run_id,
            expires_at,
        })
        .await?;
    Ok(token)
}

fn forbidden(message: impl Into<String>) -> Response {
    ApiError::new(axum::http::StatusCode::FORBIDDEN, "forbidden", message).into_response()
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
    if stored
        .expires_at
        .is_some_and(|expires_at| expires_at <= vigil_store::now_ms())
    {
        return unauthorized("expired token");
    }
    if role == Role::Train {
        if let Err(refusal) = check_train_scope(&state, access, &stored, &mut request).await {
            return refusal;
        }
    } else if !access.allows(role) {
        return forbidden(format!(
            "{} `{}` token cannot do this",
            if role == Role::Admin || role == Role::Ingest {
                "an"
            } else {
                "a"
            },
            role.as_str()
        ));
    }
    request.extensions_mut().insert(Caller {
        token_id: stored.id,
        role,
        scope: stored.scope,
    });
    next.run(request).await
}

/// A `train` token passes only routes that admit it, for the model its scope names: the
/// route's `{model}` must be that model (403 otherwise, whether or not the named model exists).
async fn check_train_scope(
    state: &AppState,
    access: Access,
    stored: &vigil_store::Token,
    request: &mut Request,
) -> Result<(), Response> {
    const ONLY: &str = "a `train` token may only read its model's records and register its \
                        run's version";
    let Some(scope) = &stored.scope else {
        return Err(unauthorized("invalid token"));
    };
    if !access.admits_train() {
        return Err(forbidden(ONLY));
    }
    let params = request
        .extract_parts::<RawPathParams>()
        .await
        .map_err(|_| forbidden(ONLY))?;
    let Some((_, model)) = params.iter().find(|(name, _)| *name == "model") else {
        return Err(forbidden(ONLY));
    };
    match state.store.model(model).await {
        Ok(Some(found)) if found.id == scope.model_id => Ok(()),
        Ok(_) => Err(forbidden(format!(
            "this `train` token is for another model than `{model}`"
        ))),
        Err(error) => Err(ApiError::from(error).into_response()),
    }
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
