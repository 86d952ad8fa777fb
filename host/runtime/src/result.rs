//! What an execution returns: the flow's outcome, the merged commands, and per-action detail.
//!
//! These types serialize to the JSON `cachet run` prints, so their field names are a contract.

use cachet_limits::Usage;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How a flow (or one action) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every action ran to completion; apply the commands.
    Success,
    /// An action denied; the flow stopped after it. Refuse the login/exchange.
    Denied,
    /// An action failed (error, trap, limit); the flow stopped. Fail the login/exchange.
    Failed,
    /// An action sent the user elsewhere (`api.redirect.sendUserTo`); the flow paused after it.
    /// Send the user to [`FlowResult::redirect`]'s URL, and continue the flow with its `state`
    /// when they come back.
    Redirect,
}

/// A paused flow: where the user goes, and the `state` that continues the flow when they are
/// back (any host sharing the store can continue it, once, before `expires_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// The URL the action gave, with its query and the `state` parameter added.
    pub url: String,
    /// What continues the flow: unguessable, single-use, bound to the tenant and trigger.
    pub state: String,
    /// When the continuation expires, ms since the Unix epoch.
    pub expires_at: u64,
}

/// One call an action made to its trigger API, recorded for the caller to apply.
///
/// Serialized with a `type` tag (the variant in kebab case) and the fields in snake case: the
/// README's table of commands lists every type with its JSON shape and the Auth0 method that
/// records it. Commands that end the login or exchange ([`Command::ends_flow`]) stop the flow
/// after the action that recorded them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Command {
    /// Refuse the login or token exchange (`access.deny`).
    Deny {
        /// OAuth 2 error code (credentials-exchange only): `invalid_scope`, `invalid_request`
        /// or `server_error`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        code: Option<String>,
        /// Reason shown to the user or client (pre-user-registration: for the tenant's logs).
        reason: String,
        /// The message shown to the user (pre-user-registration's second argument).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        user_message: Option<String>,
    },
    /// Add a custom claim to the ID token (`idToken.setCustomClaim`).
    SetIdTokenClaim {
        /// Claim name.
        name: String,
        /// Claim value.
        value: Value,
    },
    /// Add a custom claim to the access token (`accessToken.setCustomClaim`).
    SetAccessTokenClaim {
        /// Claim name.
        name: String,
        /// Claim value.
        value: Value,
    },
    /// Add a scope to the access token (`accessToken.addScope`).
    AddAccessTokenScope {
        /// The scope.
        scope: String,
    },
    /// Remove a scope from the access token (`accessToken.removeScope`).
    RemoveAccessTokenScope {
        /// The scope.
        scope: String,
    },
    /// Set one key of the user's app_metadata (`user.setAppMetadata`); `null` removes it.
    SetAppMetadata {
        /// Metadata key.
        key: String,
        /// Metadata value.
        value: Value,
    },
    /// Set one key of the user's user_metadata (`user.setUserMetadata`); `null` removes it.
    SetUserMetadata {
        /// Metadata key.
        key: String,
        /// Metadata value.
        value: Value,
    },
    /// Require multi-factor authentication for this login (`multifactor.enable`).
    EnableMultifactor {
        /// `any`, `duo`, `google-authenticator`, `guardian` or `none`.
        provider: String,
        /// Let the user skip MFA on this browser for a while.
        allow_remember_browser: bool,
        /// Provider settings (Duo's `host`, `ikey`, `skey`, `username`).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        provider_options: Option<Value>,
    },
    /// Challenge the user with a factor, offering others (`authentication.challengeWith`).
    ChallengeWith {
        /// The factor shown first.
        factor: Factor,
        /// Factors the user may pick instead.
        additional_factors: Vec<Factor>,
    },
    /// Let the user pick one of these factors to be challenged with
    /// (`authentication.challengeWithAny`).
    ChallengeWithAny {
        /// The factors offered.
        factors: Vec<Factor>,
    },
    /// Enroll the user in a factor, offering others (`authentication.enrollWith`).
    EnrollWith {
        /// The factor offered first.
        factor: Factor,
        /// Factors the user may pick instead.
        additional_factors: Vec<Factor>,
    },
    /// Let the user pick one of these factors to enroll in (`authentication.enrollWithAny`).
    EnrollWithAny {
        /// The factors offered.
        factors: Vec<Factor>,
    },
    /// Make a linked account the login's subject (`authentication.setPrimaryUser`).
    SetPrimaryUser {
        /// The primary user's id.
        user_id: String,
    },
    /// Record that the user authenticated with a custom method at `provider_url`
    /// (`authentication.recordMethod`, in `onContinuePostLogin` only): it joins the session's
    /// `amr`, so later MFA checks see it.
    RecordMethod {
        /// The method's provider URL.
        provider_url: String,
    },
    /// Set one attribute of the SAML response (`samlResponse.setAttribute`); `null` removes
    /// it.
    SetSamlAttribute {
        /// The attribute's name.
        attribute: String,
        /// A string, number, boolean, array or `null`.
        value: Value,
    },
    /// Set one property of the SAML response (`samlResponse.setAudience`, `setIssuer`, …).
    SetSamlProperty {
        /// The property, named as Auth0's setter without `set` (`audience`, `issuer`,
        /// `signatureAlgorithm`, …).
        property: String,
        /// Its value, of the setter's type.
        value: Value,
    },
    /// End the session and deny the login (`session.revoke`).
    RevokeSession {
        /// Why.
        reason: String,
        /// Keep the session's refresh tokens.
        preserve_refresh_tokens: bool,
    },
    /// When the session ends, ms since the Unix epoch (`session.setExpiresAt`).
    SetSessionExpiresAt {
        /// The absolute expiry.
        expires_at: u64,
    },
    /// When the idle session ends, ms since the Unix epoch (`session.setIdleExpiresAt`).
    SetSessionIdleExpiresAt {
        /// The idle expiry.
        idle_expires_at: u64,
    },
    /// The session cookie's mode (`session.setCookieMode`).
    SetSessionCookieMode {
        /// `persistent` or `non-persistent`.
        mode: String,
    },
    /// Set one key of the session's metadata (`session.setMetadata`); `null` removes it.
    SetSessionMetadata {
        /// The key.
        key: String,
        /// A string, or `null`.
        value: Value,
    },
    /// Remove one key of the session's metadata (`session.deleteMetadata`).
    DeleteSessionMetadata {
        /// The key.
        key: String,
    },
    /// Remove all of the session's metadata (`session.evictMetadata`).
    EvictSessionMetadata,
    /// Deny the exchange and revoke the refresh token used (`refreshToken.revoke`).
    RevokeRefreshToken {
        /// Why.
        reason: String,
    },
    /// When the refresh token expires, ms since the Unix epoch (`refreshToken.setExpiresAt`).
    SetRefreshTokenExpiresAt {
        /// The absolute expiry.
        expires_at: u64,
    },
    /// When the idle refresh token expires (`refreshToken.setIdleExpiresAt`).
    SetRefreshTokenIdleExpiresAt {
        /// The idle expiry.
        idle_expires_at: u64,
    },
    /// Set one key of the refresh token's metadata (`refreshToken.setMetadata`).
    SetRefreshTokenMetadata {
        /// The key.
        key: String,
        /// A string, or `null`.
        value: Value,
    },
    /// Remove one key of the refresh token's metadata (`refreshToken.deleteMetadata`).
    DeleteRefreshTokenMetadata {
        /// The key.
        key: String,
    },
    /// Remove all of the refresh token's metadata (`refreshToken.evictMetadata`).
    EvictRefreshTokenMetadata,
    /// Set one key of the transaction's metadata (`transaction.setMetadata`).
    SetTransactionMetadata {
        /// The key.
        key: String,
        /// A string, number, boolean, or `null` (removes it).
        value: Value,
    },
    /// Add a scope to the transaction's target scopes (`transaction.addTargetScope`).
    AddTargetScope {
        /// The scope.
        scope: String,
    },
    /// Remove a scope from the target scopes (`transaction.removeTargetScope`).
    RemoveTargetScope {
        /// The scope.
        scope: String,
    },
    /// Replace the target scopes (`transaction.setTargetScopes`).
    SetTargetScopes {
        /// The scopes.
        scopes: Vec<String>,
    },
    /// Remove every target scope (`transaction.clearTargetScopes`).
    ClearTargetScopes,
    /// Show a form (`prompt.render`).
    RenderPrompt {
        /// The form's id.
        prompt_id: String,
        /// Values filled in on the client.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        fields: Option<Value>,
        /// Values kept on the server.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        vars: Option<Value>,
    },
    /// Refuse the login with a validation error (`validation.error`).
    ValidationError {
        /// The error code, the action's own.
        code: String,
        /// The message.
        message: String,
    },
    /// Fail the notification for good (`notification.drop`; the last call counts).
    DropNotification {
        /// Why (at most 1024 characters).
        reason: String,
    },
    /// Fail the notification and try it again later (`notification.retry`; the last call
    /// counts).
    RetryNotification {
        /// Why (at most 1024 characters).
        reason: String,
    },
    /// Refuse the token exchange as an invalid subject token, which Auth0's attack protection
    /// counts (`access.rejectInvalidSubjectToken`).
    RejectInvalidSubjectToken {
        /// Why.
        reason: String,
    },
    /// Issue the exchanged tokens for this existing user (`authentication.setUserById`).
    SetUserById {
        /// The user's id.
        user_id: String,
    },
    /// Issue the exchanged tokens for the connection's user with these attributes, creating
    /// or updating it as the behaviours say (`authentication.setUserByConnection`).
    SetUserByConnection {
        /// The connection's name.
        connection: String,
        /// The user's attributes (`user_id` required).
        user_attributes: Value,
        /// `create_if_not_exists` or `none`.
        creation_behavior: String,
        /// `none` or `replace`.
        update_behavior: String,
    },
    /// The organization the tokens are for (`authentication.setOrganization`).
    SetOrganization {
        /// Its id or name.
        organization: String,
    },
    /// Who acts for the user (`authentication.setActor`): becomes the `act` claim.
    SetActor {
        /// `{ sub, act? }`, at most 5 deep.
        actor: Value,
    },
}

impl Command {
    /// Whether this command ends the login or exchange: the flow stops after the action that
    /// recorded it and the outcome is `denied` (`access.deny`, `validation.error`,
    /// `session.revoke`, `refreshToken.revoke`).
    pub fn ends_flow(&self) -> bool {
        matches!(
            self,
            Self::Deny { .. }
                | Self::ValidationError { .. }
                | Self::RevokeSession { .. }
                | Self::RevokeRefreshToken { .. }
                | Self::RejectInvalidSubjectToken { .. }
        )
    }
}

/// An authentication factor, as `authentication.challengeWith` and friends take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    /// `otp`, `email`, `phone`, `push-notification`, `webauthn-platform`,
    /// `webauthn-roaming`, `recovery-code` (and `push` for enrollment).
    #[serde(rename = "type")]
    pub kind: String,
    /// The factor's options (`preferredMethod` of `phone`, `otpFallback` of
    /// `push-notification`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub options: Option<Value>,
}

/// Why an action failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The action returned an error (like a thrown error in JavaScript).
    ActionError,
    /// The flow's deadline passed while the action ran.
    DeadlineExceeded,
    /// The action tried to grow its memory past the per-instance limit.
    MemoryLimitExceeded,
    /// The action overflowed its stack (e.g. unbounded recursion).
    StackOverflow,
    /// The action trapped: a panic, an abort, or another WebAssembly trap.
    Trap,
    /// The action could not be instantiated (e.g. the instance pool is exhausted).
    Instantiation,
    /// The action redirected, but the paused flow could not be kept for the user's return
    /// (too large, or the store failed); or the flow was continued and the action exports no
    /// `onContinuePostLogin`.
    Continuation,
}

/// An action's failure: a kind to branch on and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionFailure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What happened and, where it helps, what to do.
    pub message: String,
}

/// One action's part of a flow execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    /// The action's name.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<ActionFailure>,
    /// What it wrote to stdout and stderr (capped; a marker says when output was cut).
    pub logs: String,
    /// Its commands, in call order (also merged into [`FlowResult::commands`]).
    #[serde(skip)]
    pub commands: Vec<Command>,
    /// Where it sent the user (`api.redirect.sendUserTo`'s URL with its query and the flow's
    /// `state`); the flow's [`FlowResult::redirect`] carries it with the state and expiry.
    #[serde(skip)]
    pub redirect: Option<String>,
    /// Cache writes (set + delete) it made.
    pub cache_writes: u32,
    /// Wall time from instantiation to return, in microseconds.
    pub duration_us: u64,
}

/// The result of executing a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowResult {
    /// How the flow ended.
    pub outcome: Outcome,
    /// Commands of every action that ran to completion, in order. Apply them only on
    /// [`Outcome::Success`]; on [`Outcome::Denied`] they include the denial.
    pub commands: Vec<Command>,
    /// Each action that ran, in order (actions after a denial or failure do not run).
    pub actions: Vec<ActionResult>,
    /// Where to send the user, on [`Outcome::Redirect`].
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub redirect: Option<Redirect>,
    /// The partition's usage after the flow.
    pub cache: Usage,
    /// Wall time of the whole flow, in microseconds.
    pub duration_us: u64,
}

/// What the user came back with when a redirected flow is continued: Auth0's `/continue`
/// request's query and form parameters. The continued action reads them as
/// `event.request.query` and `event.request.body`, and `api.redirect.validateToken` looks for
/// its token in them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContinueParams {
    /// Query parameters.
    #[serde(default)]
    pub query: Map<String, Value>,
    /// Form (body) parameters.
    #[serde(default)]
    pub body: Map<String, Value>,
}
