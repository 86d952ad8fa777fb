//! Typed events, in Auth0's shape.
//!
//! The event crosses from the host as JSON. Every field is optional on the wire (missing ones
//! take their default) and unknown fields are ignored by the types, so an event from a newer
//! host, or a hand-written one in a test, still parses. Unknown fields stay reachable: the
//! events with many fields keep the event's JSON ([`RawEvent`]: `event.raw.pointer("/user/x")`),
//! the others every unnamed top-level field in `other`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The event of a post-login action: who is logging in, to what, from where.
///
/// ```
/// let event: cachet_guest::PostLoginEvent = serde_json::from_str(r#"{
///     "user": {"user_id": "auth0|1", "email": "ada@example.com", "app_metadata": {"plan": "pro"}},
///     "client": {"client_id": "abc", "name": "Web"},
///     "secrets": {"CLIENT_SECRET": "s3cr3t"},
///     "something_new": true
/// }"#).unwrap();
/// assert_eq!(event.user.user_id, "auth0|1");
/// assert_eq!(event.user.app_metadata["plan"], "pro");
/// assert_eq!(event.secrets.get("CLIENT_SECRET"), Some("s3cr3t"));
/// // Secrets never show in debug output.
/// assert!(!format!("{event:?}").contains("s3cr3t"));
/// // Fields the type does not name are in the raw event when it is parsed with `parse`.
/// let event = cachet_guest::PostLoginEvent::parse(r#"{"something_new": {"a": 1}}"#).unwrap();
/// assert_eq!(event.raw.pointer("/something_new/a"), Some(serde_json::json!(1)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostLoginEvent {
    /// The user logging in.
    pub user: User,
    /// The application the user logs in to.
    pub client: Client,
    /// The connection the user authenticated with.
    pub connection: Connection,
    /// The HTTP request that started the login.
    pub request: Request,
    /// The tenant.
    pub tenant: Tenant,
    /// The action's secrets, configured on the host.
    pub secrets: Secrets,
    /// Details of the authentication (methods used).
    pub authentication: Option<Value>,
    /// The user's roles, when RBAC is on.
    pub authorization: Option<Authorization>,
    /// The organization logged in to, if any.
    pub organization: Option<Value>,
    /// The API the access token is for, if any.
    pub resource_server: Option<ResourceServer>,
    /// Login statistics.
    pub stats: Stats,
    /// The transaction (requested scopes, protocol, ...).
    pub transaction: Option<Value>,
    /// The session (`id`; Enterprise: expiries, device, metadata).
    pub session: Option<Value>,
    /// The refresh token being exchanged (Enterprise), when there is one.
    pub refresh_token: Option<Value>,
    /// A form's results (`id`, `fields`, `vars`), after `api.prompt.render`.
    pub prompt: Option<Value>,
    /// The custom domain the login came through (`domain`, `domain_metadata`).
    pub custom_domain: Option<Value>,
    /// TLS fingerprints (`ja3`, `ja4`) when the client came through Cloudflare.
    pub security_context: Option<Value>,
    /// The event's JSON as the host sent it, for fields the type does not name (the SDK's
    /// export macro fills it; `serde` does not).
    #[serde(skip)]
    pub raw: RawEvent,
}

impl PostLoginEvent {
    /// Parses an event, keeping its JSON in [`PostLoginEvent::raw`].
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        let mut event: Self = serde_json::from_str(json)?;
        event.raw = RawEvent(json.to_owned());
        Ok(event)
    }
}

/// An event's JSON as the host sent it: every field, the ones the typed event names and the
/// ones it does not (newer fields, Enterprise fields). Its `Debug` shows only its size: it
/// holds the action's secrets.
#[derive(Clone, Default, PartialEq)]
pub struct RawEvent(String);

impl RawEvent {
    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value at a JSON pointer (`/user/some_field`), parsing the text once per call.
    pub fn pointer(&self, pointer: &str) -> Option<Value> {
        let mut value: Value = serde_json::from_str(&self.0).ok()?;
        value.pointer_mut(pointer).map(Value::take)
    }
}

impl fmt::Debug for RawEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RawEvent({} bytes, not shown: it holds secrets)",
            self.0.len()
        )
    }
}

/// The event of a credentials-exchange (machine-to-machine) action.
///
/// ```
/// let event: cachet_guest::CredentialsExchangeEvent = serde_json::from_str(r#"{
///     "client": {"client_id": "m2m"},
///     "resource_server": {"identifier": "https://api.example.com"},
///     "transaction": {"requested_scopes": ["read:users"]}
/// }"#).unwrap();
/// assert_eq!(event.resource_server.identifier, "https://api.example.com");
/// assert_eq!(event.transaction.requested_scopes, ["read:users"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CredentialsExchangeEvent {
    /// The client asking for a token.
    pub client: Client,
    /// The HTTP request to the token endpoint.
    pub request: Request,
    /// The tenant.
    pub tenant: Tenant,
    /// The API the token is for.
    pub resource_server: ResourceServer,
    /// The token request.
    pub transaction: CredentialsTransaction,
    /// The access token being issued (its current claims and scope).
    #[serde(rename = "accessToken")]
    pub access_token: Option<Value>,
    /// The action's secrets, configured on the host.
    pub secrets: Secrets,
    /// The event's JSON as the host sent it (see [`PostLoginEvent::raw`]).
    #[serde(skip)]
    pub raw: RawEvent,
}

impl CredentialsExchangeEvent {
    /// Parses an event, keeping its JSON in [`CredentialsExchangeEvent::raw`].
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        let mut event: Self = serde_json::from_str(json)?;
        event.raw = RawEvent(json.to_owned());
        Ok(event)
    }
}

/// The user of a post-login event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    /// Unique id, e.g. `auth0|64f...`.
    pub user_id: String,
    /// Email address.
    pub email: Option<String>,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// Full name.
    pub name: Option<String>,
    /// Nickname.
    pub nickname: Option<String>,
    /// Username, for connections that have one.
    pub username: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Metadata the application controls (read-only to the user).
    pub app_metadata: Map<String, Value>,
    /// Metadata the user controls.
    pub user_metadata: Map<String, Value>,
    /// Creation time, ISO 8601.
    pub created_at: Option<String>,
    /// Last update time, ISO 8601.
    pub updated_at: Option<String>,
    /// Identities linked to the user.
    pub identities: Vec<Value>,
    /// The MFA factors the user enrolled (`{ type, … }`), as Auth0's `enrolledFactors`.
    #[serde(rename = "enrolledFactors", skip_serializing_if = "Vec::is_empty")]
    pub enrolled_factors: Vec<Value>,
}

/// The application (OAuth client).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Client {
    /// Client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Client metadata.
    pub metadata: BTreeMap<String, String>,
}

/// The connection (identity provider).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Connection {
    /// Connection id.
    pub id: String,
    /// Connection name.
    pub name: String,
    /// Strategy, e.g. `auth0`, `google-oauth2`.
    pub strategy: String,
    /// Connection metadata.
    pub metadata: BTreeMap<String, String>,
}

/// The incoming HTTP request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Request {
    /// Client IP address.
    pub ip: String,
    /// Host name the request was sent to.
    pub hostname: Option<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Preferred language.
    pub language: Option<String>,
    /// Query parameters.
    pub query: Map<String, Value>,
    /// Body parameters (secrets such as `client_secret` are removed by the platform).
    pub body: Map<String, Value>,
    /// Geolocation of the IP.
    pub geoip: Option<Value>,
}

/// The tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
}

/// The user's roles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Authorization {
    /// Role names.
    pub roles: Vec<String>,
}

/// An API (resource server).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceServer {
    /// The API's identifier (the token audience).
    pub identifier: String,
}

/// Login statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// How many times the user has logged in.
    pub logins_count: u64,
}

/// A client-credentials token request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CredentialsTransaction {
    /// Scopes the client asked for.
    pub requested_scopes: Vec<String>,
}

/// An action's secrets by name. `Debug` shows the names only, so logging an event never
/// leaks a secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secrets(BTreeMap<String, String>);

impl Secrets {
    /// The secret with this name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The secret with this name, or an error naming the missing secret.
    pub fn require(&self, name: &str) -> Result<&str, crate::Error> {
        self.get(name).ok_or_else(|| {
            crate::Error::msg(format!("secret `{name}` is not configured for this action"))
        })
    }

    /// Names of the configured secrets.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

impl FromIterator<(String, String)> for Secrets {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// The event of a pre-user-registration action (Auth0's shape): the user about to be created
/// (no `user_id` yet), where they sign up, and the request. Fields this type does not name are
/// kept in `other`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreUserRegistrationEvent {
    /// The user being created (`user_id` is empty: it has none yet).
    pub user: User,
    /// The application, when the sign-up comes through one.
    pub client: Option<Client>,
    /// The connection the user signs up with.
    pub connection: Connection,
    /// The sign-up request.
    pub request: Request,
    /// The tenant.
    pub tenant: Tenant,
    /// The transaction (`locale`, `ui_locales`, `requested_scopes`, `protocol`, …).
    pub transaction: Option<Value>,
    /// The action's secrets.
    pub secrets: Secrets,
    /// Every other field of the event, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The event of a post-user-registration action: the user just created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostUserRegistrationEvent {
    /// The user just created.
    pub user: User,
    /// The connection.
    pub connection: Connection,
    /// The request, when there was one.
    pub request: Option<Request>,
    /// The tenant.
    pub tenant: Tenant,
    /// The transaction, when there was one.
    pub transaction: Option<Value>,
    /// The action's secrets.
    pub secrets: Secrets,
    /// Every other field of the event, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The event of a post-change-password action: the user whose password changed (Auth0 sends
/// few of their fields: `user_id`, `email`, `email_verified`, `phone_number`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostChangePasswordEvent {
    /// The user.
    pub user: User,
    /// The connection.
    pub connection: Connection,
    /// The request.
    pub request: Request,
    /// The tenant.
    pub tenant: Tenant,
    /// The transaction (`correlation_id`).
    pub transaction: Option<Value>,
    /// The action's secrets.
    pub secrets: Secrets,
    /// Every other field of the event, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The event of a send-phone-message action: the message to deliver and whom to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SendPhoneMessageEvent {
    /// The message.
    pub message_options: MessageOptions,
    /// The user it is for.
    pub user: User,
    /// The application, when there is one.
    pub client: Option<Client>,
    /// The request.
    pub request: Request,
    /// The tenant.
    pub tenant: Tenant,
    /// The transaction (`correlation_id`).
    pub transaction: Option<Value>,
    /// The action's secrets.
    pub secrets: Secrets,
    /// Every other field of the event, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// What send-phone-message asks the action to deliver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageOptions {
    /// `enrollment` or `second-factor-authentication`.
    pub action: String,
    /// The one-time code.
    pub code: String,
    /// `sms` or `voice`.
    pub message_type: String,
    /// The phone number (E.164).
    pub recipient: String,
    /// The text to send.
    pub text: String,
}

/// The event of a custom-email-provider action: the e-mail Auth0 would send, for the action to
/// deliver through its provider. Fields this type does not name are kept in `other`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomEmailProviderEvent {
    /// The e-mail.
    pub notification: EmailNotification,
    /// The user it is for.
    pub user: User,
    /// The application.
    pub client: Client,
    /// The connection, when there is one.
    pub connection: Option<Connection>,
    /// The organization, when there is one.
    pub organization: Option<Value>,
    /// The request.
    pub request: Request,
    /// The tenant (`id`, `friendly_name`, `support_email`, …).
    pub tenant: Value,
    /// The transaction (`correlation_id`).
    pub transaction: Option<Value>,
    /// The action's secrets.
    pub secrets: Secrets,
    /// Every other field of the event, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An e-mail of custom-email-provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailNotification {
    /// The sender.
    pub from: String,
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The HTML body.
    pub html: String,
    /// The text body.
    pub text: String,
    /// The locale.
    pub locale: String,
    /// `verify_email`, `reset_email`, `welcome_email`, `mfa_oob_code`, …
    pub message_type: String,
}

/// The event of a custom-phone-provider action: the text or voice message to deliver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomPhoneProviderEvent {
    /// The message.
    pub notification: PhoneNotification,
    /// The user it is for.
    pub user: User,
    /// The application.
    pub client: Client,
    /// The connection, when there is one.
    pub connection: Option<Connection>,
    /// The organization, when there is one.
    pub organization: Option<Value>,
    /// The request.
    pub request: Request,
    /// The tenant.
    pub tenant: Value,
    /// The transaction (`correlation_id`).
    pub transaction: Option<Value>,
    /// The action's secrets.
    pub secrets: Secrets,
    /// Every other field of the event, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A message of custom-phone-provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhoneNotification {
    /// The text to send by SMS.
    pub as_text: String,
    /// The text to speak.
    pub as_voice: String,
    /// The one-time code, when there is one.
    pub code: Option<String>,
    /// `text` or `voice`.
    pub delivery_method: String,
    /// The sender (E.164), when configured.
    pub from: Option<String>,
    /// The locale.
    pub locale: Option<String>,
    /// `otp_verify`, `otp_enroll`, `blocked_account`, `change_password`, `password_breach`.
    pub message_type: String,
    /// The recipient (E.164).
    pub recipient: String,
}

/// The event of a custom-token-exchange action: the token to exchange and who asks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomTokenExchangeEvent {
    /// The application asking.
    pub client: Client,
    /// The organization, when there is one.
    pub organization: Option<Value>,
    /// The request.
    pub request: Request,
    /// The API the tokens are for.
    pub resource_server: ResourceServer,
    /// The tenant.
    pub tenant: Tenant,
    /// The exchange.
    pub transaction: TokenExchangeTransaction,
    /// The action's secrets.
    pub secrets: Secrets,
    /// Every other field of the event, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// What custom-token-exchange is asked to exchange.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenExchangeTransaction {
    /// The token to exchange (a credential: never logged by `Debug`).
    pub subject_token: String,
    /// Its type, as the client names it.
    pub subject_token_type: String,
    /// The scopes asked for.
    pub requested_scopes: Vec<String>,
    /// The token type asked for.
    pub requested_token_type: Option<String>,
    /// An actor token, when there is one (a credential too).
    pub actor_token: Option<String>,
    /// Its type.
    pub actor_token_type: Option<String>,
    /// The actor token's user, when it is a valid Auth0 ID token.
    pub actor_token_user: Option<Value>,
}

impl fmt::Debug for TokenExchangeTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeTransaction")
            .field("subject_token", &"<redacted>")
            .field("subject_token_type", &self.subject_token_type)
            .field("requested_scopes", &self.requested_scopes)
            .field("requested_token_type", &self.requested_token_type)
            .field(
                "actor_token",
                &self.actor_token.as_ref().map(|_| "<redacted>"),
            )
            .field("actor_token_type", &self.actor_token_type)
            .finish_non_exhaustive()
    }
}

/// The event of a password-reset-post-challenge action: the user resetting their password,
/// after the first challenge (Auth0's event object for the trigger).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordResetPostChallengeEvent {
    /// The user resetting their password.
    pub user: User,
    /// The methods the user completed in this reset (`methods`: `email`, `phone_number`, …).
    pub authentication: Option<Value>,
    /// The user's roles, when RBAC is on.
    pub authorization: Option<Authorization>,
    /// The application.
    pub client: Client,
    /// The database connection.
    pub connection: Connection,
    /// The request (after a redirect: what the user came back with in `query` and `body`).
    pub request: Request,
    /// Login statistics.
    pub stats: Stats,
    /// The tenant.
    pub tenant: Tenant,
    /// The transaction (`id`, `locale`, …).
    pub transaction: Option<Value>,
    /// The action's secrets.
    pub secrets: Secrets,
    /// Every other field of the event, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The event of an event-stream action: one CloudEvent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventStreamEvent {
    /// The event.
    pub message: CloudEvent,
    /// The action's secrets.
    pub secrets: Secrets,
    /// Every other field of the event, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A CloudEvent (`specversion` 1.0) of event-stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CloudEvent {
    /// Its id.
    pub id: String,
    /// Its type, e.g. `user.created`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it comes from.
    pub source: String,
    /// `1.0`.
    pub specversion: String,
    /// When it happened.
    pub time: Option<String>,
    /// Its data.
    pub data: Option<Value>,
}
