// TypeScript declarations for Cachet's JavaScript actions: `event` and `api` as in Auth0
// Actions (every trigger's whole API, post-login's redirects included).
//
// Use them from TypeScript (`cachet build action.ts` bundles TypeScript directly):
//
//   import type { PostLoginEvent, PostLoginAPI } from "<path to cachet>/guest/js";
//   export const onExecutePostLogin = async (event: PostLoginEvent, api: PostLoginAPI) => { … };
//
// or from JavaScript with JSDoc: `/** @param {import("…/guest/js").PostLoginEvent} event */`.

/** A cached value and when it expires (milliseconds since the Unix epoch). */
export interface CacheRecord {
  value: string;
  expires_at: number;
}

/** Auth0's cache error codes (plus `CacheKeyExists`, for Cachet's `if_absent`). */
export type CacheErrorCode =
  | "CacheKeySizeExceeded"
  | "CacheValueSizeExceeded"
  | "CacheSizeExceeded"
  | "ItemAlreadyExpired"
  | "InvalidExpiry"
  | "MaxSideEffectsExceeded"
  | "FailedToSetCacheRecord"
  | "FailedToDeleteCacheRecord"
  | "CacheKeyDoesNotExist"
  | "CacheKeyExists";

/** The result of `api.cache.set`. */
export type CacheWriteResult =
  | { type: "success"; record: CacheRecord }
  | { type: "error"; code: CacheErrorCode };

/** The result of `api.cache.delete`. */
export type CacheDeleteResult = { type: "success" } | { type: "error"; code: CacheErrorCode };

/**
 * When a written value expires. With neither it lives 15 minutes (Auth0's default); with both
 * the earlier wins; nothing lives past 24 hours.
 */
export interface CacheSetOptions {
  /** Lifetime in milliseconds from now. */
  ttl?: number;
  /** Expiry in milliseconds since the Unix epoch. */
  expires_at?: number;
  /**
   * Cachet's extension (not in Auth0): write only when the key holds no live entry, else
   * `CacheKeyExists`. An atomic claim, so one of many concurrent executions refreshes a value.
   */
  if_absent?: boolean;
}

/**
 * The per-trigger cache, shared by every action of the tenant's trigger. Quotas (defaults):
 * 20 entries, 64-byte keys, 4096-byte values, 8192 bytes in total, 15 min default and 24 h maximum lifetime, 100 writes
 * per execution. A full cache evicts the least recently used entries or refuses the write
 * (`CacheSizeExceeded`), as the host is configured.
 */
export interface CacheAPI {
  /** A live entry, or `undefined`. A hit counts as a use for LRU eviction. */
  get(key: string): CacheRecord | undefined;
  /** Writes an entry. `value` must be a string (use `JSON.stringify` for objects). */
  set(key: string, value: string, options?: CacheSetOptions): CacheWriteResult;
  /** Deletes a live entry. */
  delete(key: string): CacheDeleteResult;
}

/** The action's secrets, configured on the host. */
export type Secrets = Record<string, string>;

/** A JSON value, as claims and metadata take. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The request that triggered the action. */
export interface EventRequest {
  ip?: string;
  hostname?: string;
  method?: string;
  language?: string;
  user_agent?: string;
  query?: Record<string, unknown>;
  body?: Record<string, unknown>;
  geoip?: {
    cityName?: string;
    continentCode?: string;
    countryCode?: string;
    countryCode3?: string;
    countryName?: string;
    latitude?: number;
    longitude?: number;
    subdivisionCode?: string;
    subdivisionName?: string;
    timeZone?: string;
  };
  [key: string]: unknown;
}

/** The application the user logs in to, or the machine-to-machine client. */
export interface EventClient {
  client_id: string;
  name?: string;
  metadata?: Record<string, string>;
  [key: string]: unknown;
}

/** The tenant. */
export interface EventTenant {
  id: string;
  [key: string]: unknown;
}

/** The API (resource server) a token is requested for. */
export interface EventResourceServer {
  identifier: string;
  [key: string]: unknown;
}

/** The user logging in. */
export interface EventUser {
  user_id: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  nickname?: string;
  given_name?: string;
  family_name?: string;
  picture?: string;
  username?: string;
  phone_number?: string;
  created_at?: string;
  updated_at?: string;
  last_password_reset?: string;
  app_metadata: Record<string, JsonValue>;
  user_metadata: Record<string, JsonValue>;
  identities?: Array<{ connection?: string; provider?: string; user_id?: string; isSocial?: boolean }>;
  [key: string]: unknown;
}

/** The `event` of a post-login action. */
export interface PostLoginEvent {
  user: EventUser;
  client: EventClient;
  tenant: EventTenant;
  request: EventRequest;
  connection?: { id: string; name: string; strategy: string; metadata?: Record<string, string> };
  transaction?: { id?: string; locale?: string; requested_scopes?: string[]; protocol?: string; [key: string]: unknown };
  authentication?: { methods: Array<{ name: string; timestamp: string }> };
  authorization?: { roles: string[] };
  organization?: { id: string; name: string; display_name?: string; metadata?: Record<string, string> };
  resource_server?: EventResourceServer;
  stats?: { logins_count: number };
  secrets: Secrets;
  [key: string]: unknown;
}

/** An authentication factor, as `api.authentication.challengeWith` and friends take it. */
export interface Factor {
  type:
    | "otp"
    | "email"
    | "phone"
    | "push"
    | "push-notification"
    | "webauthn-platform"
    | "webauthn-roaming"
    | "recovery-code";
  options?: {
    /** `phone` only. */
    preferredMethod?: "voice" | "sms" | "both";
    /** `push-notification` only: `false` turns off the OTP fallback. */
    otpFallback?: boolean;
    [key: string]: unknown;
  };
}

/** A SAML attribute's value. */
export type SamlValue = string | number | boolean | null | Array<string | number | boolean>;

/**
 * The `api` of a post-login action, as Auth0's reference documents it. Every method is checked
 * by the host (a bad argument throws `Error("api.<method>: …")` and records nothing) and
 * returns `api`, so calls chain; `rules.wasExecuted` returns its answer. The groups
 * (`idToken`, `accessToken`, …) are objects an instance's executions share; a method acts for
 * the execution that calls it, also when detached from its group.
 */
export interface PostLoginAPI {
  access: {
    /** Refuses the login with a reason shown to the user; the flow stops after this action. */
    deny(reason: string): PostLoginAPI;
  };
  idToken: {
    setCustomClaim(name: string, value: JsonValue | undefined): PostLoginAPI;
  };
  accessToken: {
    setCustomClaim(name: string, value: JsonValue | undefined): PostLoginAPI;
    addScope(scope: string): PostLoginAPI;
    removeScope(scope: string): PostLoginAPI;
  };
  authentication: {
    /** Challenges with `factor`; the user may pick one of `additionalFactors` instead. */
    challengeWith(factor: Factor, options?: { additionalFactors?: Factor[] }): PostLoginAPI;
    /** Lets the user pick one of `factors` to be challenged with. */
    challengeWithAny(factors: Factor[]): PostLoginAPI;
    /** Enrolls in `factor` (not `email`); the user may pick one of `additionalFactors`. */
    enrollWith(factor: Factor, options?: { additionalFactors?: Factor[] }): PostLoginAPI;
    /** Lets the user pick one of `factors` to enroll in. */
    enrollWithAny(factors: Factor[]): PostLoginAPI;
    /** Only in `onContinuePostLogin`: records the custom method the user completed on the page they were sent to. */
    recordMethod(providerUrl: string): PostLoginAPI;
    /** Makes a linked account the login's subject. */
    setPrimaryUser(primaryUserId: string): PostLoginAPI;
  };
  multifactor: {
    enable(
      provider: "any" | "duo" | "google-authenticator" | "guardian" | "none",
      options?: {
        allowRememberBrowser?: boolean;
        /** Duo: `host`, `ikey`, `skey` (required), `username`. */
        providerOptions?: { host?: string; ikey?: string; skey?: string; username?: string; [key: string]: unknown };
      },
    ): PostLoginAPI;
  };
  prompt: {
    /** Shows a form (one per action); its results reach `onContinuePostLogin` at Auth0. */
    render(promptId: string, options?: { fields?: Record<string, unknown>; vars?: Record<string, unknown> }): PostLoginAPI;
  };
  refreshToken: {
    /** Denies the exchange and revokes the refresh token; the flow stops after this action. */
    revoke(reason: string): PostLoginAPI;
    setExpiresAt(absoluteMs: number): PostLoginAPI;
    setIdleExpiresAt(idleMs: number): PostLoginAPI;
    /** At most 256 characters each; `null` removes the key. */
    setMetadata(key: string, value: string | null): PostLoginAPI;
    deleteMetadata(key: string): PostLoginAPI;
    evictMetadata(): PostLoginAPI;
  };
  rules: {
    /** Whether a Rule ran earlier in this transaction: Cachet runs no Rules, so `false`. */
    wasExecuted(ruleId: string): boolean;
  };
  samlResponse: {
    setAttribute(attribute: string, value: SamlValue): PostLoginAPI;
    setAudience(audience: string): PostLoginAPI;
    setRecipient(recipient: string): PostLoginAPI;
    setCreateUpnClaim(createUpnClaim: boolean): PostLoginAPI;
    setPassthroughClaimsWithNoMapping(passthrough: boolean): PostLoginAPI;
    setMapUnknownClaimsAsIs(mapUnknown: boolean): PostLoginAPI;
    setMapIdentities(mapIdentities: boolean): PostLoginAPI;
    setSignatureAlgorithm(algorithm: "rsa-sha256" | "rsa-sha1"): PostLoginAPI;
    setDigestAlgorithm(algorithm: "sha256" | "sha1"): PostLoginAPI;
    setDestination(destination: string): PostLoginAPI;
    setLifetimeInSeconds(seconds: number): PostLoginAPI;
    setSignResponse(signResponse: boolean): PostLoginAPI;
    setNameIdentifierFormat(format: string): PostLoginAPI;
    setNameIdentifierProbes(probes: string[]): PostLoginAPI;
    setAuthnContextClassRef(ref: string): PostLoginAPI;
    setSigningCert(pem: string): PostLoginAPI;
    setIncludeAttributeNameFormat(include: boolean): PostLoginAPI;
    setTypedAttributes(typed: boolean): PostLoginAPI;
    setEncryptionCert(pem: string): PostLoginAPI;
    setEncryptionPublicKey(pem: string): PostLoginAPI;
    setCert(pem: string): PostLoginAPI;
    setKey(pem: string): PostLoginAPI;
    setRelayState(relayState: string): PostLoginAPI;
    setIssuer(issuer: string): PostLoginAPI;
    setEncryptionAlgorithm(algorithm: "aes256-gcm" | "aes256-cbc"): PostLoginAPI;
  };
  session: {
    /** Ends the session and denies the login; the flow stops after this action. */
    revoke(reason: string, options?: { preserveRefreshTokens?: boolean }): PostLoginAPI;
    setExpiresAt(absoluteMs: number): PostLoginAPI;
    setIdleExpiresAt(idleMs: number): PostLoginAPI;
    setCookieMode(mode: "persistent" | "non-persistent"): PostLoginAPI;
    /** At most 256 characters each; `null` removes the key. */
    setMetadata(key: string, value: string | null): PostLoginAPI;
    deleteMetadata(key: string): PostLoginAPI;
    evictMetadata(): PostLoginAPI;
  };
  transaction: {
    /** Also changes `event.transaction.metadata` at once. */
    setMetadata(key: string, value: string | number | boolean | null): PostLoginAPI;
    /** These also change `event.transaction.target_scopes` at once. */
    addTargetScope(scope: string): PostLoginAPI;
    removeTargetScope(scope: string): PostLoginAPI;
    setTargetScopes(scopes: string[]): PostLoginAPI;
    clearTargetScopes(): PostLoginAPI;
  };
  user: {
    /** Sets one key of the user's app_metadata (`null` removes it). */
    setAppMetadata(key: string, value: JsonValue | undefined): PostLoginAPI;
    /** Sets one key of the user's user_metadata (`null` removes it). */
    setUserMetadata(key: string, value: JsonValue | undefined): PostLoginAPI;
  };
  validation: {
    /** Refuses the login with this error; the flow stops after this action. */
    error(errorCode: string, errorMessage: string): PostLoginAPI;
  };
  /**
   * Redirects: the flow pauses after this action and the user goes to `url` with `state`;
   * `onContinuePostLogin` runs when they are back (the login server continues the flow).
   */
  redirect: {
    /** Sends the user to `url` with `query` and the flow's `state` once the action returns. */
    sendUserTo(url: string, options?: { query?: Record<string, string | number | boolean> }): PostLoginAPI;
    /** An HS256 JWT of `payload` (with `iat`, `exp`, `state`, and `sub`, `ip`, `iss` unless set) for the page. */
    encodeToken(options: { secret: string; payload: Record<string, unknown>; expiresInSeconds?: number }): string;
    /** In `onContinuePostLogin`: the claims of the token that came back (default parameter `session_token`), checked. */
    validateToken(options: { secret: string; tokenParameterName?: string }): Record<string, unknown>;
    /** Whether this login has a browser to redirect. */
    canRedirect(): boolean;
  };
  cache: CacheAPI;
}

/** The `event` of a credentials-exchange (machine-to-machine) action. */
export interface CredentialsExchangeEvent {
  client: EventClient;
  tenant: EventTenant;
  request: EventRequest;
  resource_server: EventResourceServer;
  accessToken?: { scope?: string[]; customClaims?: Record<string, JsonValue> };
  transaction?: { requested_scopes?: string[]; [key: string]: unknown };
  secrets: Secrets;
  [key: string]: unknown;
}

/** The OAuth 2 error code a credentials-exchange denial answers with. */
export type DenyCode = "invalid_scope" | "invalid_request" | "server_error";

/** The `api` of a credentials-exchange action. Every method returns `api`. */
export interface CredentialsExchangeAPI {
  access: {
    /** Refuses the token request; the flow stops after this action. */
    deny(code: DenyCode, reason: string): CredentialsExchangeAPI;
  };
  accessToken: {
    setCustomClaim(name: string, value: JsonValue | undefined): CredentialsExchangeAPI;
  };
  /** The request's target scopes (Early Access at Auth0). */
  transaction: {
    addTargetScope(scope: string): CredentialsExchangeAPI;
    removeTargetScope(scope: string): CredentialsExchangeAPI;
    setTargetScopes(scopes: string[]): CredentialsExchangeAPI;
    clearTargetScopes(): CredentialsExchangeAPI;
  };
  cache: CacheAPI;
}

/** A post-login handler: `exports.onExecutePostLogin = async (event, api) => { … }`. */
export type OnExecutePostLogin = (event: PostLoginEvent, api: PostLoginAPI) => void | Promise<void>;

/**
 * Where a post-login action resumes when the user is back from a redirect:
 * `exports.onContinuePostLogin = async (event, api) => { … }`. `event.request.query` and
 * `event.request.body` hold what the user came back with.
 */
export type OnContinuePostLogin = (event: PostLoginEvent, api: PostLoginAPI) => void | Promise<void>;

/** A credentials-exchange handler. */
export type OnExecuteCredentialsExchange = (
  event: CredentialsExchangeEvent,
  api: CredentialsExchangeAPI,
) => void | Promise<void>;

/** The user of the registration and password triggers (pre-user-registration has no `user_id` yet). */
export interface RegistrationUser {
  user_id?: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  nickname?: string;
  given_name?: string;
  family_name?: string;
  picture?: string;
  username?: string;
  phone_number?: string;
  phone_verified?: boolean;
  created_at?: string;
  updated_at?: string;
  last_password_reset?: string;
  app_metadata?: Record<string, JsonValue>;
  user_metadata?: Record<string, JsonValue>;
  [key: string]: unknown;
}

/** The connection a user signs up with or changes a password on. */
export interface EventConnection {
  id: string;
  name: string;
  strategy: string;
  metadata?: Record<string, string>;
}

/** The `event` of a pre-user-registration action. */
export interface PreUserRegistrationEvent {
  user: RegistrationUser;
  client?: EventClient;
  connection: EventConnection;
  request: EventRequest;
  tenant: EventTenant;
  transaction?: { locale?: string; ui_locales?: string[]; requested_scopes?: string[]; protocol?: string; [key: string]: unknown };
  secrets: Secrets;
  [key: string]: unknown;
}

/** The `api` of a pre-user-registration action. Every method returns `api`. */
export interface PreUserRegistrationAPI {
  access: {
    /** Refuses the sign-up: `reason` for the logs, `userMessage` for the user; the flow stops. */
    deny(reason: string, userMessage?: string): PreUserRegistrationAPI;
  };
  user: {
    setAppMetadata(key: string, value: JsonValue | undefined): PreUserRegistrationAPI;
    setUserMetadata(key: string, value: JsonValue | undefined): PreUserRegistrationAPI;
  };
  validation: {
    /** Refuses the sign-up with this error; the flow stops after this action. */
    error(errorCode: string, errorMessage: string): PreUserRegistrationAPI;
  };
  cache: CacheAPI;
}

/** The `event` of a post-user-registration action. */
export interface PostUserRegistrationEvent {
  user: RegistrationUser & { user_id: string };
  connection: EventConnection;
  request?: EventRequest;
  tenant: EventTenant;
  transaction?: Record<string, unknown>;
  secrets: Secrets;
  [key: string]: unknown;
}

/** The `event` of a post-change-password action. */
export interface PostChangePasswordEvent {
  user: RegistrationUser;
  connection: EventConnection;
  request: EventRequest;
  tenant: EventTenant;
  transaction?: { correlation_id?: string };
  secrets: Secrets;
  [key: string]: unknown;
}

/** The `event` of a send-phone-message action. */
export interface SendPhoneMessageEvent {
  message_options: {
    action: "enrollment" | "second-factor-authentication";
    code: string;
    message_type: "sms" | "voice";
    recipient: string;
    text: string;
  };
  user: EventUser;
  client?: EventClient;
  request: EventRequest;
  tenant: EventTenant;
  transaction?: { correlation_id?: string };
  secrets: Secrets;
  [key: string]: unknown;
}

/** The `api` of post-user-registration, post-change-password and send-phone-message: only the cache. */
export interface CacheOnlyAPI {
  cache: CacheAPI;
}

export type PostUserRegistrationAPI = CacheOnlyAPI;
export type PostChangePasswordAPI = CacheOnlyAPI;
export type SendPhoneMessageAPI = CacheOnlyAPI;

export type OnExecutePreUserRegistration = (event: PreUserRegistrationEvent, api: PreUserRegistrationAPI) => void | Promise<void>;
export type OnExecutePostUserRegistration = (event: PostUserRegistrationEvent, api: PostUserRegistrationAPI) => void | Promise<void>;
export type OnExecutePostChangePassword = (event: PostChangePasswordEvent, api: PostChangePasswordAPI) => void | Promise<void>;
export type OnExecuteSendPhoneMessage = (event: SendPhoneMessageEvent, api: SendPhoneMessageAPI) => void | Promise<void>;

/** `api.notification` of custom-email-provider and custom-phone-provider: the last call counts. */
export interface NotificationAPI<A> {
  /** Fails the notification for good (the reason is cut to 1024 characters). */
  drop(reason: string): A;
  /** Fails the notification and has it tried again (up to 5 times at Auth0). */
  retry(reason: string): A;
}

/** The `event` of a custom-email-provider action. */
export interface CustomEmailProviderEvent {
  notification: { from: string; to: string; subject: string; html: string; text: string; locale: string; message_type: string };
  user: EventUser;
  client: EventClient;
  connection?: EventConnection;
  organization?: { id: string; name: string; display_name?: string; metadata?: Record<string, string> };
  request: EventRequest;
  tenant: EventTenant & { friendly_name?: string; home_url?: string; logo_url?: string; support_email?: string; support_url?: string };
  transaction?: { correlation_id?: string };
  secrets: Secrets;
  [key: string]: unknown;
}

/** The `api` of a custom-email-provider action. */
export interface CustomEmailProviderAPI {
  notification: NotificationAPI<CustomEmailProviderAPI>;
  cache: CacheAPI;
}

/** The `event` of a custom-phone-provider action. */
export interface CustomPhoneProviderEvent {
  notification: {
    as_text: string;
    as_voice: string;
    code?: string;
    delivery_method: "text" | "voice";
    from?: string;
    locale?: string;
    message_type: "otp_verify" | "otp_enroll" | "blocked_account" | "change_password" | "password_breach";
    recipient: string;
  };
  user: EventUser;
  client: EventClient;
  connection?: EventConnection;
  request: EventRequest;
  tenant: EventTenant;
  transaction?: { correlation_id?: string };
  secrets: Secrets;
  [key: string]: unknown;
}

/** The `api` of a custom-phone-provider action. */
export interface CustomPhoneProviderAPI {
  notification: NotificationAPI<CustomPhoneProviderAPI>;
  cache: CacheAPI;
}

/** The `event` of a custom-token-exchange action. */
export interface CustomTokenExchangeEvent {
  client: EventClient;
  organization?: { id: string; name: string; display_name?: string; metadata?: Record<string, string> };
  request: EventRequest;
  resource_server: EventResourceServer;
  tenant: EventTenant;
  transaction: {
    subject_token: string;
    subject_token_type: string;
    requested_scopes: string[];
    requested_token_type?: string;
    actor_token?: string;
    actor_token_type?: string;
    actor_token_user?: EventUser;
  };
  secrets: Secrets;
  [key: string]: unknown;
}

/** An actor of custom-token-exchange: at most 5 deep. */
export interface Actor {
  sub: string;
  act?: Actor;
  [key: string]: string | number | boolean | Actor | undefined;
}

/** The `api` of a custom-token-exchange action. Every method returns `api`. */
export interface CustomTokenExchangeAPI {
  access: {
    /** Refuses the exchange: `invalid_request`, `server_error` or a code of your own. */
    deny(code: string, reason: string): CustomTokenExchangeAPI;
    /** Refuses it as an invalid subject token (counted by attack protection). */
    rejectInvalidSubjectToken(reason: string): CustomTokenExchangeAPI;
  };
  authentication: {
    /** Exactly one of `setUserById` and `setUserByConnection`, once. */
    setUserById(userId: string): CustomTokenExchangeAPI;
    setUserByConnection(
      connectionName: string,
      userAttributes: {
        user_id: string;
        email?: string;
        email_verified?: boolean;
        family_name?: string;
        given_name?: string;
        name?: string;
        nickname?: string;
        phone_number?: string;
        phone_verified?: boolean;
        picture?: string;
        username?: string;
        verify_email?: boolean;
      },
      options: { creationBehavior: "create_if_not_exists" | "none"; updateBehavior: "none" | "replace" },
    ): CustomTokenExchangeAPI;
    setOrganization(organization: string): CustomTokenExchangeAPI;
    setActor(actor: Actor): CustomTokenExchangeAPI;
  };
  user: {
    setAppMetadata(key: string, value: JsonValue | undefined): CustomTokenExchangeAPI;
    setUserMetadata(key: string, value: JsonValue | undefined): CustomTokenExchangeAPI;
  };
  cache: CacheAPI;
}

/** The `event` of an event-stream action: one CloudEvent. */
export interface EventStreamEvent {
  message: { id: string; type: string; source: string; specversion: string; time?: string; data?: Record<string, unknown> };
  secrets: Secrets;
  [key: string]: unknown;
}

export type EventStreamAPI = CacheOnlyAPI;

export type OnExecuteCustomEmailProvider = (event: CustomEmailProviderEvent, api: CustomEmailProviderAPI) => void | Promise<void>;
export type OnExecuteCustomPhoneProvider = (event: CustomPhoneProviderEvent, api: CustomPhoneProviderAPI) => void | Promise<void>;
export type OnExecuteCustomTokenExchange = (event: CustomTokenExchangeEvent, api: CustomTokenExchangeAPI) => void | Promise<void>;
export type OnExecuteEventStream = (event: EventStreamEvent, api: EventStreamAPI) => void | Promise<void>;

/** The `event` of a password-reset-post-challenge action: the user resetting their password. */
export interface PasswordResetPostChallengeEvent {
  user: EventUser;
  client: EventClient;
  tenant: EventTenant;
  /** After a redirect, `query` and `body` hold what the user came back with. */
  request: EventRequest;
  connection: { id: string; name: string; strategy: string };
  authentication?: { methods: Array<{ name: string; timestamp: string }>; riskAssessment?: Record<string, unknown> };
  authorization?: { roles: string[] };
  stats?: { logins_count: number };
  transaction?: { id?: string; locale?: string; [key: string]: unknown };
  secrets: Secrets;
  [key: string]: unknown;
}

/** The `api` of a password-reset-post-challenge action (Auth0's PostChallengeAPI). */
export interface PasswordResetPostChallengeAPI {
  access: {
    /** Refuses the reset; the flow stops after this action. */
    deny(reason: string): PasswordResetPostChallengeAPI;
  };
  authentication: {
    /** Challenges the user with `factor` (or one of `additionalFactors`) before the password changes. */
    challengeWith(factor: Factor, options?: { additionalFactors?: Factor[] }): PasswordResetPostChallengeAPI;
    /** Lets the user pick one of `factors` to be challenged with. */
    challengeWithAny(factors: Factor[]): PasswordResetPostChallengeAPI;
  };
  /** As post-login's: the flow pauses after the action; `onContinuePostChallenge` resumes it. */
  redirect: {
    sendUserTo(url: string, options?: { query?: Record<string, string | number | boolean> }): PasswordResetPostChallengeAPI;
    encodeToken(options: { secret: string; payload: Record<string, unknown>; expiresInSeconds?: number }): string;
    validateToken(options: { secret: string; tokenParameterName?: string }): Record<string, unknown>;
  };
  cache: CacheAPI;
}

/** A password-reset-post-challenge handler: `exports.onExecutePostChallenge = async (event, api) => { … }`. */
export type OnExecutePostChallenge = (event: PasswordResetPostChallengeEvent, api: PasswordResetPostChallengeAPI) => void | Promise<void>;
/** Where it resumes after a redirect: `exports.onContinuePostChallenge`. */
export type OnContinuePostChallenge = (event: PasswordResetPostChallengeEvent, api: PasswordResetPostChallengeAPI) => void | Promise<void>;
