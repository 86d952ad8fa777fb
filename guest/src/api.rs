//! The trigger APIs: what an action may do to the login or token request, as Auth0's `api`
//! object offers it (the method names are Auth0's, in snake case).
//!
//! Every call goes to the host, which checks its arguments as Auth0's method does and records
//! a command, applied after the whole flow has run. Values are any `Serialize` type. A refused
//! call records nothing and returns an [`ApiError`] reading `api.<method>: <why>`.

use serde::Serialize;
use serde_json::{Value, json};

use crate::bindings::cachet::action::api as wit;
use crate::{ApiError, Cache};

/// `args`, which serialize as a JSON array (a tuple `(name, &value)`, or a `json!([…])`), as
/// the host reads them. Serialized straight to text: no intermediate `Value` on the path every
/// claim takes.
fn args_json(method: &str, args: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(args).map_err(|e| {
        ApiError(format!(
            "api.{method}: the arguments are not serializable as JSON: {e}"
        ))
    })
}

/// Calls `method` of the trigger's API with `args` and returns its value.
fn call(method: &str, args: &impl Serialize) -> Result<Value, ApiError> {
    let reply = wit::call(method, &args_json(method, args)?)
        .map_err(|why| ApiError(format!("api.{method}: {why}")))?;
    if reply == "null" {
        return Ok(Value::Null);
    }
    serde_json::from_str(&reply).map_err(|e| ApiError(format!("api.{method}: {e}")))
}

/// Records a call that returns nothing (the host's `perform`: no value comes back).
fn record(method: &str, args: &impl Serialize) -> Result<(), ApiError> {
    wit::perform(method, &args_json(method, args)?)
        .map_err(|why| ApiError(format!("api.{method}: {why}")))
}

/// The arguments of a method that takes none.
const NO_ARGS: [u8; 0] = [];

/// An authentication factor for [`Authentication`]: `{ type, options? }` as Auth0 takes it.
///
/// ```
/// use cachet_guest::Factor;
/// let phone = Factor::new("phone").with_options(serde_json::json!({ "preferredMethod": "sms" }));
/// assert_eq!(serde_json::to_value(&phone).unwrap()["type"], "phone");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Factor {
    /// `otp`, `email`, `phone`, `push-notification`, `webauthn-platform`, `webauthn-roaming`,
    /// `recovery-code` (and `push` for enrollment).
    #[serde(rename = "type")]
    pub kind: String,
    /// The factor's options (`preferredMethod` of `phone`, `otpFallback` of
    /// `push-notification`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

impl Factor {
    /// A factor of this type, without options.
    pub fn new(kind: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            options: None,
        }
    }

    /// The same factor with these options.
    pub fn with_options(mut self, options: Value) -> Self {
        self.options = Some(options);
        self
    }
}

/// Options of [`Multifactor::enable`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MultifactorOptions {
    /// Let the user skip MFA on this browser for a while.
    pub allow_remember_browser: bool,
    /// Provider settings: Duo's `host`, `ikey`, `skey` (keep them in the secrets), `username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_options: Option<Value>,
}

/// The post-login API, handed to a post-login action.
#[derive(Debug)]
pub struct PostLoginApi {
    _private: (),
}

/// Declares zero-sized accessor types, one per API namespace.
macro_rules! namespace {
    ($($(#[$doc:meta])* $name:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name {
                _private: (),
            }
        )*
    };
}

namespace! {
    /// `api.access()` of post-login.
    PostLoginAccess;
    /// `api.id_token()` of post-login.
    IdToken;
    /// `api.access_token()` of post-login.
    PostLoginAccessToken;
    /// `api.user()` of post-login.
    UserApi;
    /// `api.multifactor()` of post-login.
    Multifactor;
    /// `api.authentication()` of post-login.
    Authentication;
    /// `api.saml_response()` of post-login.
    SamlResponse;
    /// `api.session()` of post-login.
    Session;
    /// `api.refresh_token()` of post-login.
    RefreshToken;
    /// `api.transaction()` of post-login and credentials-exchange.
    Transaction;
    /// `api.prompt()` of post-login.
    Prompt;
    /// `api.validation()` of post-login.
    Validation;
    /// `api.rules()` of post-login.
    Rules;
    /// `api.redirect()` of post-login and password-reset-post-challenge.
    RedirectApi;
    /// `api.authentication()` of password-reset-post-challenge: second-factor challenges.
    ChallengeApi;
    /// `api.access()` of credentials-exchange.
    CredentialsAccess;
    /// `api.access_token()` of credentials-exchange.
    CredentialsAccessToken;
}

impl PostLoginApi {
    #[doc(hidden)]
    pub fn new() -> Self {
        Self { _private: () }
    }

    /// Allow or deny the login.
    pub fn access(&self) -> PostLoginAccess {
        PostLoginAccess { _private: () }
    }

    /// Claims of the ID token.
    pub fn id_token(&self) -> IdToken {
        IdToken { _private: () }
    }

    /// Claims and scopes of the access token.
    pub fn access_token(&self) -> PostLoginAccessToken {
        PostLoginAccessToken { _private: () }
    }

    /// The user's metadata.
    pub fn user(&self) -> UserApi {
        UserApi { _private: () }
    }

    /// Multi-factor authentication for this login.
    pub fn multifactor(&self) -> Multifactor {
        Multifactor { _private: () }
    }

    /// Challenges, enrollments, the login's subject.
    pub fn authentication(&self) -> Authentication {
        Authentication { _private: () }
    }

    /// The SAML response of a SAML login.
    pub fn saml_response(&self) -> SamlResponse {
        SamlResponse { _private: () }
    }

    /// The session.
    pub fn session(&self) -> Session {
        Session { _private: () }
    }

    /// The refresh token being exchanged.
    pub fn refresh_token(&self) -> RefreshToken {
        RefreshToken { _private: () }
    }

    /// The transaction's metadata and target scopes.
    pub fn transaction(&self) -> Transaction {
        Transaction { _private: () }
    }

    /// Forms.
    pub fn prompt(&self) -> Prompt {
        Prompt { _private: () }
    }

    /// Validation errors.
    pub fn validation(&self) -> Validation {
        Validation { _private: () }
    }

    /// Rules that ran before the actions.
    pub fn rules(&self) -> Rules {
        Rules { _private: () }
    }

    /// Redirects: send the user to another page and continue when they are back.
    pub fn redirect(&self) -> RedirectApi {
        RedirectApi { _private: () }
    }

    /// The trigger's cache.
    pub fn cache(&self) -> Cache {
        Cache::new()
    }
}

impl Default for PostLoginApi {
    fn default() -> Self {
        Self::new()
    }
}

impl PostLoginAccess {
    /// Refuses the login with a reason shown to the user; the flow stops after this action.
    pub fn deny(&self, reason: &str) -> Result<(), ApiError> {
        record("access.deny", &json!([reason]))
    }
}

impl IdToken {
    /// Adds a custom claim to the ID token.
    pub fn set_custom_claim(&self, name: &str, value: &impl Serialize) -> Result<(), ApiError> {
        record("idToken.setCustomClaim", &(name, value))
    }
}

impl PostLoginAccessToken {
    /// Adds a custom claim to the access token.
    pub fn set_custom_claim(&self, name: &str, value: &impl Serialize) -> Result<(), ApiError> {
        record("accessToken.setCustomClaim", &(name, value))
    }

    /// Adds a scope to the access token.
    pub fn add_scope(&self, scope: &str) -> Result<(), ApiError> {
        record("accessToken.addScope", &json!([scope]))
    }

    /// Removes a scope from the access token.
    pub fn remove_scope(&self, scope: &str) -> Result<(), ApiError> {
        record("accessToken.removeScope", &json!([scope]))
    }
}

impl UserApi {
    /// Sets one key of the user's app_metadata (`None`/`null` removes it).
    pub fn set_app_metadata(&self, key: &str, value: &impl Serialize) -> Result<(), ApiError> {
        record("user.setAppMetadata", &(key, value))
    }

    /// Sets one key of the user's user_metadata (`None`/`null` removes it).
    pub fn set_user_metadata(&self, key: &str, value: &impl Serialize) -> Result<(), ApiError> {
        record("user.setUserMetadata", &(key, value))
    }
}

impl Multifactor {
    /// Requires MFA with `provider`: `any`, `duo`, `google-authenticator`, `guardian` or
    /// `none`.
    pub fn enable(&self, provider: &str, options: &MultifactorOptions) -> Result<(), ApiError> {
        record("multifactor.enable", &(provider, options))
    }
}

impl Authentication {
    /// Challenges the user with `factor`, letting them pick one of `additional` instead.
    pub fn challenge_with(&self, factor: &Factor, additional: &[Factor]) -> Result<(), ApiError> {
        record(
            "authentication.challengeWith",
            &json!([factor, { "additionalFactors": additional }]),
        )
    }

    /// Lets the user pick one of `factors` to be challenged with.
    pub fn challenge_with_any(&self, factors: &[Factor]) -> Result<(), ApiError> {
        record("authentication.challengeWithAny", &json!([factors]))
    }

    /// Enrolls the user in `factor`, letting them pick one of `additional` instead.
    pub fn enroll_with(&self, factor: &Factor, additional: &[Factor]) -> Result<(), ApiError> {
        record(
            "authentication.enrollWith",
            &json!([factor, { "additionalFactors": additional }]),
        )
    }

    /// Lets the user pick one of `factors` to enroll in.
    pub fn enroll_with_any(&self, factors: &[Factor]) -> Result<(), ApiError> {
        record("authentication.enrollWithAny", &json!([factors]))
    }

    /// Records a custom authentication method the user completed on the page they were
    /// redirected to (only in the continue function, when they are back).
    pub fn record_method(&self, provider_url: &str) -> Result<(), ApiError> {
        record("authentication.recordMethod", &json!([provider_url]))
    }

    /// Makes the linked account `user_id` the login's subject.
    pub fn set_primary_user(&self, user_id: &str) -> Result<(), ApiError> {
        record("authentication.setPrimaryUser", &json!([user_id]))
    }
}

/// SAML setters that take one value: `fn name(&self, value) -> Result<(), ApiError>`.
macro_rules! saml_setters {
    ($($(#[$doc:meta])* $fn:ident($ty:ty) => $method:literal;)*) => {
        impl SamlResponse {
            $(
                $(#[$doc])*
                pub fn $fn(&self, value: $ty) -> Result<(), ApiError> {
                    record(concat!("samlResponse.", $method), &json!([value]))
                }
            )*
        }
    };
}

saml_setters! {
    /// The audience (default: the SAMLRequest's issuer).
    set_audience(&str) => "setAudience";
    /// The recipient (default: the AssertionConsumerUrl).
    set_recipient(&str) => "setRecipient";
    /// Whether to create a UPN claim (default true).
    set_create_upn_claim(bool) => "setCreateUpnClaim";
    /// Whether to pass claims without a mapping through (default true).
    set_passthrough_claims_with_no_mapping(bool) => "setPassthroughClaimsWithNoMapping";
    /// Whether to map unknown claims as they are (default false).
    set_map_unknown_claims_as_is(bool) => "setMapUnknownClaimsAsIs";
    /// Whether to map identities (default true).
    set_map_identities(bool) => "setMapIdentities";
    /// `rsa-sha256` (default) or `rsa-sha1`.
    set_signature_algorithm(&str) => "setSignatureAlgorithm";
    /// `sha256` (default) or `sha1`.
    set_digest_algorithm(&str) => "setDigestAlgorithm";
    /// The destination.
    set_destination(&str) => "setDestination";
    /// The assertion's lifetime in seconds (default 3600).
    set_lifetime_in_seconds(u64) => "setLifetimeInSeconds";
    /// Whether to sign the whole response (default false: the assertion is signed).
    set_sign_response(bool) => "setSignResponse";
    /// The NameID format.
    set_name_identifier_format(&str) => "setNameIdentifierFormat";
    /// The claims tried in order for the NameID.
    set_name_identifier_probes(&[&str]) => "setNameIdentifierProbes";
    /// The AuthnContextClassRef.
    set_authn_context_class_ref(&str) => "setAuthnContextClassRef";
    /// The certificate SAML requests must be signed with (PEM).
    set_signing_cert(&str) => "setSigningCert";
    /// Whether to include the attribute NameFormat (default true).
    set_include_attribute_name_format(bool) => "setIncludeAttributeNameFormat";
    /// Whether attributes are typed (default true).
    set_typed_attributes(bool) => "setTypedAttributes";
    /// The encryption certificate (PEM; with the public key).
    set_encryption_cert(&str) => "setEncryptionCert";
    /// The encryption public key (PEM; with the certificate).
    set_encryption_public_key(&str) => "setEncryptionPublicKey";
    /// Your own signing certificate (PEM; with the key).
    set_cert(&str) => "setCert";
    /// Your own signing key (PEM; keep it in the secrets).
    set_key(&str) => "setKey";
    /// The RelayState.
    set_relay_state(&str) => "setRelayState";
    /// The issuer (default `urn:auth0:TENANT`).
    set_issuer(&str) => "setIssuer";
    /// `aes256-gcm` (recommended) or `aes256-cbc`.
    set_encryption_algorithm(&str) => "setEncryptionAlgorithm";
}

impl SamlResponse {
    /// Sets one attribute: a string, number, boolean, array, or `null` to remove it.
    pub fn set_attribute(&self, attribute: &str, value: &impl Serialize) -> Result<(), ApiError> {
        record("samlResponse.setAttribute", &(attribute, value))
    }
}

impl Session {
    /// Ends the session and denies the login.
    pub fn revoke(&self, reason: &str, preserve_refresh_tokens: bool) -> Result<(), ApiError> {
        record(
            "session.revoke",
            &json!([reason, { "preserveRefreshTokens": preserve_refresh_tokens }]),
        )
    }

    /// When the session ends, ms since the Unix epoch (the earliest call wins).
    pub fn set_expires_at(&self, ms: u64) -> Result<(), ApiError> {
        record("session.setExpiresAt", &json!([ms]))
    }

    /// When the idle session ends, ms since the Unix epoch.
    pub fn set_idle_expires_at(&self, ms: u64) -> Result<(), ApiError> {
        record("session.setIdleExpiresAt", &json!([ms]))
    }

    /// `persistent` or `non-persistent`.
    pub fn set_cookie_mode(&self, mode: &str) -> Result<(), ApiError> {
        record("session.setCookieMode", &json!([mode]))
    }

    /// Sets one metadata key (`None` removes it).
    pub fn set_metadata(&self, key: &str, value: Option<&str>) -> Result<(), ApiError> {
        record("session.setMetadata", &json!([key, value]))
    }

    /// Removes one metadata key.
    pub fn delete_metadata(&self, key: &str) -> Result<(), ApiError> {
        record("session.deleteMetadata", &json!([key]))
    }

    /// Removes all metadata.
    pub fn evict_metadata(&self) -> Result<(), ApiError> {
        record("session.evictMetadata", &NO_ARGS)
    }
}

impl RefreshToken {
    /// Denies the exchange and revokes the refresh token used.
    pub fn revoke(&self, reason: &str) -> Result<(), ApiError> {
        record("refreshToken.revoke", &json!([reason]))
    }

    /// When the refresh token expires, ms since the Unix epoch.
    pub fn set_expires_at(&self, ms: u64) -> Result<(), ApiError> {
        record("refreshToken.setExpiresAt", &json!([ms]))
    }

    /// When the idle refresh token expires, ms since the Unix epoch.
    pub fn set_idle_expires_at(&self, ms: u64) -> Result<(), ApiError> {
        record("refreshToken.setIdleExpiresAt", &json!([ms]))
    }

    /// Sets one metadata key (`None` removes it).
    pub fn set_metadata(&self, key: &str, value: Option<&str>) -> Result<(), ApiError> {
        record("refreshToken.setMetadata", &json!([key, value]))
    }

    /// Removes one metadata key.
    pub fn delete_metadata(&self, key: &str) -> Result<(), ApiError> {
        record("refreshToken.deleteMetadata", &json!([key]))
    }

    /// Removes all metadata.
    pub fn evict_metadata(&self) -> Result<(), ApiError> {
        record("refreshToken.evictMetadata", &NO_ARGS)
    }
}

impl Transaction {
    /// Sets one key of the transaction's metadata: a string, number or boolean (`null`
    /// removes it). post-login only.
    pub fn set_metadata(&self, key: &str, value: &impl Serialize) -> Result<(), ApiError> {
        record("transaction.setMetadata", &(key, value))
    }

    /// Adds a target scope.
    pub fn add_target_scope(&self, scope: &str) -> Result<(), ApiError> {
        record("transaction.addTargetScope", &json!([scope]))
    }

    /// Removes a target scope.
    pub fn remove_target_scope(&self, scope: &str) -> Result<(), ApiError> {
        record("transaction.removeTargetScope", &json!([scope]))
    }

    /// Replaces the target scopes.
    pub fn set_target_scopes(&self, scopes: &[&str]) -> Result<(), ApiError> {
        record("transaction.setTargetScopes", &json!([scopes]))
    }

    /// Removes every target scope.
    pub fn clear_target_scopes(&self) -> Result<(), ApiError> {
        record("transaction.clearTargetScopes", &NO_ARGS)
    }
}

impl Prompt {
    /// Shows the form `prompt_id` (one per action), with client-side `fields` and
    /// server-side `vars`.
    pub fn render(
        &self,
        prompt_id: &str,
        fields: Option<&Value>,
        vars: Option<&Value>,
    ) -> Result<(), ApiError> {
        record(
            "prompt.render",
            &json!([prompt_id, { "fields": fields, "vars": vars }]),
        )
    }
}

impl Validation {
    /// Refuses the login with a validation error; the flow stops after this action.
    pub fn error(&self, code: &str, message: &str) -> Result<(), ApiError> {
        record("validation.error", &json!([code, message]))
    }
}

/// What `api.redirect().encode_token` signs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncodeToken<'a> {
    /// The secret shared with the page the user is sent to (keep it in the action's secrets).
    pub secret: &'a str,
    /// The token's lifetime in seconds (Auth0's default: 900).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_seconds: Option<u64>,
    /// The data the page should be able to trust.
    pub payload: Value,
}

impl RedirectApi {
    /// Whether this login can be redirected (it has a browser: not a password, refresh-token
    /// or token-exchange grant). post-login only.
    pub fn can_redirect(&self) -> Result<bool, ApiError> {
        Ok(call("redirect.canRedirect", &NO_ARGS)?
            .as_bool()
            .unwrap_or(false))
    }

    /// Sends the user to `url` with `query` (and the flow's `state`) once the action returns;
    /// the flow pauses there and resumes in the action's continue function (the second of
    /// [`post_login!`](crate::post_login)) when the user is back.
    pub fn send_user_to(&self, url: &str, query: &[(&str, &str)]) -> Result<(), ApiError> {
        let query: serde_json::Map<String, Value> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        record("redirect.sendUserTo", &json!([url, { "query": query }]))
    }

    /// An HS256 JWT of `options.payload` for the page the user is sent to, naming this
    /// login's `state` (with `iat`, `exp`, and `sub`, `ip`, `iss` unless the payload sets
    /// them).
    pub fn encode_token(&self, options: &EncodeToken<'_>) -> Result<String, ApiError> {
        let token = call("redirect.encodeToken", &(options,))?;
        Ok(token.as_str().unwrap_or_default().to_owned())
    }

    /// In the continue function: the claims of the token the user came back with (query or
    /// form parameter `parameter`, Auth0's default `session_token`), once its signature with
    /// `secret`, its `exp` and its `state` are checked.
    pub fn validate_token(
        &self,
        secret: &str,
        parameter: Option<&str>,
    ) -> Result<serde_json::Map<String, Value>, ApiError> {
        let claims = call(
            "redirect.validateToken",
            &json!([{ "secret": secret, "tokenParameterName": parameter }]),
        )?;
        match claims {
            Value::Object(map) => Ok(map),
            _ => Ok(serde_json::Map::new()),
        }
    }
}

impl Rules {
    /// Whether the Rule `rule_id` ran earlier in this transaction (Cachet runs no Rules).
    pub fn was_executed(&self, rule_id: &str) -> Result<bool, ApiError> {
        let value = call("rules.wasExecuted", &(rule_id,))?;
        Ok(value.as_bool().unwrap_or(false))
    }
}

/// The OAuth 2 error a credentials-exchange denial answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyCode {
    /// `invalid_scope`
    InvalidScope,
    /// `invalid_request`
    InvalidRequest,
    /// `server_error`
    ServerError,
}

/// The credentials-exchange API, handed to a credentials-exchange action.
#[derive(Debug)]
pub struct CredentialsExchangeApi {
    _private: (),
}

impl CredentialsExchangeApi {
    #[doc(hidden)]
    pub fn new() -> Self {
        Self { _private: () }
    }

    /// Allow or deny the token request.
    pub fn access(&self) -> CredentialsAccess {
        CredentialsAccess { _private: () }
    }

    /// Claims of the access token being issued.
    pub fn access_token(&self) -> CredentialsAccessToken {
        CredentialsAccessToken { _private: () }
    }

    /// The token request's target scopes (Early Access at Auth0).
    pub fn transaction(&self) -> Transaction {
        Transaction { _private: () }
    }

    /// The trigger's cache.
    pub fn cache(&self) -> Cache {
        Cache::new()
    }
}

impl Default for CredentialsExchangeApi {
    fn default() -> Self {
        Self::new()
    }
}

impl CredentialsAccess {
    /// Refuses the token request with an OAuth 2 error code; the flow stops after this action.
    pub fn deny(&self, code: DenyCode, reason: &str) -> Result<(), ApiError> {
        let code = match code {
            DenyCode::InvalidScope => "invalid_scope",
            DenyCode::InvalidRequest => "invalid_request",
            DenyCode::ServerError => "server_error",
        };
        record("access.deny", &json!([code, reason]))
    }
}

impl CredentialsAccessToken {
    /// Adds a custom claim to the access token.
    pub fn set_custom_claim(&self, name: &str, value: &impl Serialize) -> Result<(), ApiError> {
        record("accessToken.setCustomClaim", &(name, value))
    }
}

/// The pre-user-registration API, handed to a pre-user-registration action.
#[derive(Debug)]
pub struct PreUserRegistrationApi {
    _private: (),
}

/// `api.access()` of pre-user-registration.
#[derive(Debug)]
pub struct RegistrationAccess {
    _private: (),
}

impl PreUserRegistrationApi {
    #[doc(hidden)]
    pub fn new() -> Self {
        Self { _private: () }
    }

    /// Allow or deny the sign-up.
    pub fn access(&self) -> RegistrationAccess {
        RegistrationAccess { _private: () }
    }

    /// The new user's metadata.
    pub fn user(&self) -> UserApi {
        UserApi { _private: () }
    }

    /// Validation errors.
    pub fn validation(&self) -> Validation {
        Validation { _private: () }
    }

    /// The trigger's cache.
    pub fn cache(&self) -> Cache {
        Cache::new()
    }
}

impl Default for PreUserRegistrationApi {
    fn default() -> Self {
        Self::new()
    }
}

impl RegistrationAccess {
    /// Refuses the sign-up: `reason` goes to the tenant's logs, `user_message` may be shown to
    /// the user. The flow stops after this action.
    pub fn deny(&self, reason: &str, user_message: &str) -> Result<(), ApiError> {
        record("access.deny", &json!([reason, user_message]))
    }
}

/// The password-reset-post-challenge API (Auth0's PostChallengeAPI): deny the reset, challenge
/// the user with a second factor, or redirect them and continue in the action's continue
/// function (the second of [`password_reset_post_challenge!`](crate::password_reset_post_challenge)).
#[derive(Debug)]
pub struct PasswordResetPostChallengeApi {
    _private: (),
}

impl PasswordResetPostChallengeApi {
    #[doc(hidden)]
    pub fn new() -> Self {
        Self { _private: () }
    }

    /// Allow or deny the reset (`deny(reason)` stops the flow after this action).
    pub fn access(&self) -> PostLoginAccess {
        PostLoginAccess { _private: () }
    }

    /// Second-factor challenges before the password changes.
    pub fn authentication(&self) -> ChallengeApi {
        ChallengeApi { _private: () }
    }

    /// Redirects: send the user elsewhere and continue when they are back.
    pub fn redirect(&self) -> RedirectApi {
        RedirectApi { _private: () }
    }

    /// The trigger's cache.
    pub fn cache(&self) -> Cache {
        Cache::new()
    }
}

impl Default for PasswordResetPostChallengeApi {
    fn default() -> Self {
        Self::new()
    }
}

impl ChallengeApi {
    /// Challenges the user with `factor`, letting them pick one of `additional` instead.
    pub fn challenge_with(&self, factor: &Factor, additional: &[Factor]) -> Result<(), ApiError> {
        record(
            "authentication.challengeWith",
            &json!([factor, { "additionalFactors": additional }]),
        )
    }

    /// Lets the user pick one of `factors` to be challenged with.
    pub fn challenge_with_any(&self, factors: &[Factor]) -> Result<(), ApiError> {
        record("authentication.challengeWithAny", &json!([factors]))
    }
}

/// The API of a trigger whose only member is `api.cache` (post-user-registration,
/// post-change-password, send-phone-message).
#[derive(Debug)]
pub struct CacheOnlyApi {
    _private: (),
}

impl CacheOnlyApi {
    #[doc(hidden)]
    pub fn new() -> Self {
        Self { _private: () }
    }

    /// The trigger's cache.
    pub fn cache(&self) -> Cache {
        Cache::new()
    }
}

impl Default for CacheOnlyApi {
    fn default() -> Self {
        Self::new()
    }
}

/// The post-user-registration API: `api.cache` only.
pub type PostUserRegistrationApi = CacheOnlyApi;
/// The post-change-password API: `api.cache` only.
pub type PostChangePasswordApi = CacheOnlyApi;
/// The send-phone-message API: `api.cache` only.
pub type SendPhoneMessageApi = CacheOnlyApi;

/// The API of custom-email-provider and custom-phone-provider.
#[derive(Debug)]
pub struct NotificationProviderApi {
    _private: (),
}

/// `api.notification()`: fail the notification.
#[derive(Debug)]
pub struct Notification {
    _private: (),
}

impl NotificationProviderApi {
    #[doc(hidden)]
    pub fn new() -> Self {
        Self { _private: () }
    }

    /// Fail the notification.
    pub fn notification(&self) -> Notification {
        Notification { _private: () }
    }

    /// The trigger's cache.
    pub fn cache(&self) -> Cache {
        Cache::new()
    }
}

impl Default for NotificationProviderApi {
    fn default() -> Self {
        Self::new()
    }
}

impl Notification {
    /// Fails the notification for good (the last of `drop` and `retry` counts).
    #[allow(clippy::should_implement_trait)] // Auth0's name, not `Drop::drop`.
    pub fn drop(&self, reason: &str) -> Result<(), ApiError> {
        record("notification.drop", &json!([reason]))
    }

    /// Fails the notification and has it tried again (up to 5 times at Auth0).
    pub fn retry(&self, reason: &str) -> Result<(), ApiError> {
        record("notification.retry", &json!([reason]))
    }
}

/// The custom-email-provider API.
pub type CustomEmailProviderApi = NotificationProviderApi;
/// The custom-phone-provider API.
pub type CustomPhoneProviderApi = NotificationProviderApi;
/// The event-stream API: `api.cache` only.
pub type EventStreamApi = CacheOnlyApi;

/// The custom-token-exchange API.
#[derive(Debug)]
pub struct CustomTokenExchangeApi {
    _private: (),
}

/// `api.access()` of custom-token-exchange.
#[derive(Debug)]
pub struct TokenExchangeAccess {
    _private: (),
}

/// `api.authentication()` of custom-token-exchange.
#[derive(Debug)]
pub struct TokenExchangeAuthentication {
    _private: (),
}

/// How `set_user_by_connection` treats the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserByConnectionOptions {
    /// `create_if_not_exists` or `none`.
    pub creation_behavior: String,
    /// `none` or `replace`.
    pub update_behavior: String,
}

impl CustomTokenExchangeApi {
    #[doc(hidden)]
    pub fn new() -> Self {
        Self { _private: () }
    }

    /// Refuse the exchange.
    pub fn access(&self) -> TokenExchangeAccess {
        TokenExchangeAccess { _private: () }
    }

    /// Whom the tokens are for.
    pub fn authentication(&self) -> TokenExchangeAuthentication {
        TokenExchangeAuthentication { _private: () }
    }

    /// The user's metadata.
    pub fn user(&self) -> UserApi {
        UserApi { _private: () }
    }

    /// The trigger's cache.
    pub fn cache(&self) -> Cache {
        Cache::new()
    }
}

impl Default for CustomTokenExchangeApi {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenExchangeAccess {
    /// Refuses the exchange with `code` (`invalid_request`, `server_error` or your own).
    pub fn deny(&self, code: &str, reason: &str) -> Result<(), ApiError> {
        record("access.deny", &json!([code, reason]))
    }

    /// Refuses the exchange as an invalid subject token (counted by attack protection).
    pub fn reject_invalid_subject_token(&self, reason: &str) -> Result<(), ApiError> {
        record("access.rejectInvalidSubjectToken", &json!([reason]))
    }
}

impl TokenExchangeAuthentication {
    /// Issues the tokens for the existing user `user_id`.
    pub fn set_user_by_id(&self, user_id: &str) -> Result<(), ApiError> {
        record("authentication.setUserById", &json!([user_id]))
    }

    /// Issues the tokens for the connection's user with `attributes` (`user_id` required).
    pub fn set_user_by_connection(
        &self,
        connection: &str,
        attributes: &Value,
        options: &UserByConnectionOptions,
    ) -> Result<(), ApiError> {
        record(
            "authentication.setUserByConnection",
            &json!([connection, attributes, options]),
        )
    }

    /// The organization (id or name) the tokens are for.
    pub fn set_organization(&self, organization: &str) -> Result<(), ApiError> {
        record("authentication.setOrganization", &json!([organization]))
    }

    /// Who acts for the user: `{ sub, act? }`, at most 5 deep.
    pub fn set_actor(&self, actor: &Value) -> Result<(), ApiError> {
        record("authentication.setActor", &json!([actor]))
    }
}
