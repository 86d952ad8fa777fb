//! Deployed actions in Redis ([`RedisDeployStore`]): what every replica of a service reads to
//! serve the same versions.
//!
//! Every key is under one hash tag, `PREFIX:{deploy}` (one Cluster slot, so one script may
//! touch them all): `…:gen` (the generation), `…:deployed` and `…:bindings` (hashes keyed
//! `TENANT/ACTION` and `TENANT/TRIGGER`), and per action `…:versions:TENANT/ACTION` (a list,
//! oldest first) and per version `…:meta:TENANT/ACTION/VERSION` and `…:wasm:…`. Each change is
//! one `deploy.lua` call: a version's component and metadata are stored together or not at
//! all, and the generation moves in the same step. Tenant and action names are restricted by
//! the service to ASCII letters, digits, `-`, `_` and `.`, so `/` separates them safely.
//!
//! This store has its own connection: an upload may be tens of megabytes, which the cache's
//! 100 ms operation timeout is not meant for.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use cachet_deploy::{Binding, DeployStore, DeployStoreError, Deployed, Snapshot, VersionMeta};
use cachet_runtime::RedisUrl;
use redis::{Script, Value};
use serde::{Deserialize, Serialize};

use crate::{Conn, RedisStoreError, open};

/// The deployment script; see the module docs.
const DEPLOY_LUA: &str = include_str!("deploy.lua");

/// Deployed actions kept in Redis, shared by every replica that uses the server.
pub struct RedisDeployStore {
    conn: Conn,
    script: Script,
    /// `PREFIX:{deploy}`.
    tag: String,
    timeout: Duration,
    /// The URL, password redacted.
    url: String,
}

impl fmt::Debug for RedisDeployStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisDeployStore")
            .field("url", &self.url)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

/// A deployed record as the `deployed` hash holds it.
#[derive(Serialize, Deserialize)]
struct DeployedRecord {
    version: String,
    deployed_at_ms: u64,
    deployed_by: String,
}

/// A binding as the `bindings` hash holds it.
#[derive(Serialize, Deserialize)]
struct BindingRecord {
    actions: Vec<String>,
    bound_by: String,
}

impl RedisDeployStore {
    /// Connects to `url` (a server or a Cluster); keys start with `key_prefix` (as the cache
    /// store's, default `cachet`). Each request may take `timeout` (uploads are large).
    pub async fn connect(
        url: &RedisUrl,
        key_prefix: &str,
        timeout: Duration,
    ) -> Result<Self, RedisStoreError> {
        if key_prefix.contains(['{', '}']) {
            return Err(RedisStoreError::Options(format!(
                "key_prefix `{key_prefix}` contains a brace, which would break the hash tag"
            )));
        }
        let script = Script::new(DEPLOY_LUA);
        let conn = open(url, Duration::from_secs(2), timeout, &script)
            .await
            .map_err(|reason| RedisStoreError::Unreachable {
                url: url.to_string(),
                reason,
            })?;
        Ok(Self {
            conn,
            script,
            tag: format!("{key_prefix}:{{deploy}}"),
            timeout,
            url: url.to_string(),
        })
    }

    fn failed(&self, e: impl fmt::Display) -> DeployStoreError {
        DeployStoreError::Unavailable(format!("Redis at {}: {e}", self.url))
    }

    /// Runs the script's `op` on the action's (and version's) keys.
    async fn script(
        &self,
        action: Option<(&str, &str, &str)>,
        args: &[&[u8]],
    ) -> Result<Value, DeployStoreError> {
        let tag = &self.tag;
        let (versions, meta, wasm) = match action {
            Some((tenant, action, version)) => (
                format!("{tag}:versions:{tenant}/{action}"),
                format!("{tag}:meta:{tenant}/{action}/{version}"),
                format!("{tag}:wasm:{tenant}/{action}/{version}"),
            ),
            // Unused by the operation, but declared keys must be in the tag's slot.
            None => (
                format!("{tag}:versions"),
                format!("{tag}:meta"),
                format!("{tag}:wasm"),
            ),
        };
        let mut invocation = self.script.prepare_invoke();
        for key in [
            format!("{tag}:gen"),
            format!("{tag}:deployed"),
            format!("{tag}:bindings"),
            versions,
            meta,
            wasm,
        ] {
            invocation.key(key);
        }
        for a in args {
            invocation.arg(*a);
        }
        self.bounded(async {
            match self.conn.clone() {
                Conn::Single(mut conn) => invocation.invoke_async::<Value>(&mut conn).await,
                Conn::Cluster(mut conn) => invocation.invoke_async::<Value>(&mut conn).await,
            }
        })
        .await
    }

    /// `running`, within the store's timeout, its failure said with the server's URL.
    async fn bounded(
        &self,
        running: impl std::future::Future<Output = redis::RedisResult<Value>>,
    ) -> Result<Value, DeployStoreError> {
        match tokio::time::timeout(self.timeout, running).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failed(e)),
            Err(_) => Err(self.failed(format!("no answer within {:?}", self.timeout))),
        }
    }

    /// Runs one plain command.
    async fn command(&self, cmd: redis::Cmd) -> Result<Value, DeployStoreError> {
        self.bounded(async {
            match self.conn.clone() {
                Conn::Single(mut conn) => cmd.query_async::<Value>(&mut conn).await,
                Conn::Cluster(mut conn) => cmd.query_async::<Value>(&mut conn).await,
            }
        })
        .await
    }
}

fn corrupt(what: impl Into<String>, reason: impl fmt::Display) -> DeployStoreError {
    DeployStoreError::Corrupt {
        what: what.into(),
        reason: reason.to_string(),
    }
}

fn bytes(v: Value, what: &str) -> Result<Option<Vec<u8>>, DeployStoreError> {
    match v {
        Value::Nil => Ok(None),
        Value::BulkString(b) => Ok(Some(b)),
        other => Err(corrupt(what, format!("unexpected reply {other:?}"))),
    }
}

fn json<T: serde::de::DeserializeOwned>(v: &[u8], what: &str) -> Result<T, DeployStoreError> {
    serde_json::from_slice(v).map_err(|e| corrupt(what, e))
}

fn flag(v: &Value) -> Result<bool, DeployStoreError> {
    match v {
        Value::Int(n) => Ok(*n == 1),
        other => Err(corrupt("script reply", format!("{other:?}"))),
    }
}

/// A script's refusal `{code, a, b?}`: its two texts when `reply` is one with `code` (the second
/// empty when the script sent one).
fn refusal(reply: &Value, code: &str) -> Result<Option<[String; 2]>, DeployStoreError> {
    let Value::Array(items) = reply else {
        return Ok(None);
    };
    let texts: Vec<String> = items
        .iter()
        .map(|v| match v {
            Value::BulkString(b) => Ok(String::from_utf8_lossy(b).into_owned()),
            Value::SimpleString(s) => Ok(s.clone()),
            other => Err(corrupt("script refusal", format!("{other:?}"))),
        })
        .collect::<Result<_, _>>()?;
    match texts.as_slice() {
        [c, a] if c == code => Ok(Some([a.clone(), String::new()])),
        [c, a, b] if c == code => Ok(Some([a.clone(), b.clone()])),
        _ => Ok(None),
    }
}

/// A `HGETALL` reply as (field, value) pairs.
fn pairs(v: &Value, what: &str) -> Result<Vec<(String, Vec<u8>)>, DeployStoreError> {
    let (Value::Array(items) | Value::Set(items)) = v else {
        if let Value::Map(map) = v {
            return map
                .iter()
                .map(|(k, v)| match (k, v) {
                    (Value::BulkString(k), Value::BulkString(v)) => {
                        Ok((String::from_utf8_lossy(k).into_owned(), v.clone()))
                    }
                    _ => Err(corrupt(what, "not a hash")),
                })
                .collect();
        }
        return Err(corrupt(what, format!("{v:?}")));
    };
    items
        .chunks(2)
        .map(|pair| match pair {
            [Value::BulkString(k), Value::BulkString(v)] => {
                Ok((String::from_utf8_lossy(k).into_owned(), v.clone()))
            }
            _ => Err(corrupt(what, "not a hash")),
        })
        .collect()
}

#[async_trait]
impl DeployStore for RedisDeployStore {
    async fn put_version(
        &self,
        meta: &VersionMeta,
        component: &[u8],
    ) -> Result<bool, DeployStoreError> {
        let record = serde_json::to_vec(meta).map_err(|e| self.failed(e))?;
        let reply = self
            .script(
                Some((&meta.tenant, &meta.action, &meta.version)),
                &[b"put", meta.version.as_bytes(), &record, component],
            )
            .await?;
        flag(&reply)
    }

    async fn versions(
        &self,
        tenant: &str,
        action: &str,
    ) -> Result<Vec<VersionMeta>, DeployStoreError> {
        let tag = &self.tag;
        let listed = self
            .command(
                redis::cmd("LRANGE")
                    .arg(format!("{tag}:versions:{tenant}/{action}"))
                    .arg(0)
                    .arg(-1)
                    .clone(),
            )
            .await?;
        let Value::Array(ids) = listed else {
            return Err(corrupt("versions list", format!("{listed:?}")));
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut mget = redis::cmd("MGET");
        for id in &ids {
            let Value::BulkString(id) = id else {
                return Err(corrupt("versions list", format!("{id:?}")));
            };
            mget.arg(format!(
                "{tag}:meta:{tenant}/{action}/{}",
                String::from_utf8_lossy(id)
            ));
        }
        let Value::Array(metas) = self.command(mget).await? else {
            return Err(corrupt("version metadata", "not a list"));
        };
        let mut out = Vec::with_capacity(metas.len());
        for meta in metas {
            if let Some(b) = bytes(meta, "version metadata")? {
                out.push(json(&b, "version metadata")?);
            }
        }
        Ok(out)
    }

    async fn version(
        &self,
        tenant: &str,
        action: &str,
        version: &str,
    ) -> Result<Option<VersionMeta>, DeployStoreError> {
        let key = format!("{}:meta:{tenant}/{action}/{version}", self.tag);
        let reply = self.command(redis::cmd("GET").arg(key).clone()).await?;
        bytes(reply, "version metadata")?
            .map(|b| json(&b, "version metadata"))
            .transpose()
    }

    async fn component(
        &self,
        tenant: &str,
        action: &str,
        version: &str,
    ) -> Result<Option<Vec<u8>>, DeployStoreError> {
        let key = format!("{}:wasm:{tenant}/{action}/{version}", self.tag);
        let reply = self.command(redis::cmd("GET").arg(key).clone()).await?;
        bytes(reply, "component")
    }

    async fn deploy(
        &self,
        tenant: &str,
        action: &str,
        version: &str,
        by: &str,
        at_ms: u64,
    ) -> Result<(), DeployStoreError> {
        let record = serde_json::to_vec(&DeployedRecord {
            version: version.to_owned(),
            deployed_at_ms: at_ms,
            deployed_by: by.to_owned(),
        })
        .map_err(|e| self.failed(e))?;
        let field = format!("{tenant}/{action}");
        let reply = self
            .script(
                Some((tenant, action, version)),
                &[
                    b"deploy",
                    field.as_bytes(),
                    &record,
                    tenant.as_bytes(),
                    action.as_bytes(),
                ],
            )
            .await?;
        if let Some([deployed, bound]) = refusal(&reply, "mismatch")? {
            return Err(DeployStoreError::TriggerMismatch {
                tenant: tenant.to_owned(),
                action: action.to_owned(),
                deployed,
                bound,
            });
        }
        if flag(&reply)? {
            Ok(())
        } else {
            Err(DeployStoreError::NoSuchVersion {
                tenant: tenant.to_owned(),
                action: action.to_owned(),
                version: version.to_owned(),
            })
        }
    }

    async fn bind(
        &self,
        tenant: &str,
        trigger: &str,
        actions: &[String],
        by: &str,
    ) -> Result<(), DeployStoreError> {
        let record = if actions.is_empty() {
            Vec::new()
        } else {
            serde_json::to_vec(&BindingRecord {
                actions: actions.to_vec(),
                bound_by: by.to_owned(),
            })
            .map_err(|e| self.failed(e))?
        };
        let field = format!("{tenant}/{trigger}");
        let mut args: Vec<&[u8]> = vec![
            b"bind",
            field.as_bytes(),
            &record,
            tenant.as_bytes(),
            trigger.as_bytes(),
            self.tag.as_bytes(),
        ];
        args.extend(actions.iter().map(String::as_bytes));
        let reply = self.script(None, &args).await?;
        if let Some([action, _]) = refusal(&reply, "not-deployed")? {
            return Err(DeployStoreError::NotDeployed {
                tenant: tenant.to_owned(),
                action,
            });
        }
        if let Some([action, deployed]) = refusal(&reply, "mismatch")? {
            return Err(DeployStoreError::TriggerMismatch {
                tenant: tenant.to_owned(),
                action,
                deployed,
                bound: trigger.to_owned(),
            });
        }
        Ok(())
    }

    async fn generation(&self) -> Result<u64, DeployStoreError> {
        let reply = self
            .command(redis::cmd("GET").arg(format!("{}:gen", self.tag)).clone())
            .await?;
        match bytes(reply, "generation")? {
            None => Ok(0),
            Some(b) => String::from_utf8_lossy(&b)
                .parse()
                .map_err(|e| corrupt("generation", e)),
        }
    }

    async fn snapshot(&self) -> Result<Snapshot, DeployStoreError> {
        let reply = self.script(None, &[b"snapshot"]).await?;
        let Value::Array(parts) = reply else {
            return Err(corrupt("snapshot", format!("{reply:?}")));
        };
        let [generation, deployed, bindings] = parts.as_slice() else {
            return Err(corrupt("snapshot", "not three parts"));
        };
        let generation = match generation {
            Value::BulkString(b) => String::from_utf8_lossy(b)
                .parse()
                .map_err(|e| corrupt("generation", e))?,
            other => return Err(corrupt("generation", format!("{other:?}"))),
        };
        let mut snapshot = Snapshot {
            generation,
            ..Snapshot::default()
        };
        for (field, value) in pairs(deployed, "deployed")? {
            let Some((tenant, action)) = field.split_once('/') else {
                return Err(corrupt("deployed", format!("field {field:?}")));
            };
            let record: DeployedRecord = json(&value, "deployed")?;
            snapshot.deployed.push(Deployed {
                tenant: tenant.to_owned(),
                action: action.to_owned(),
                version: record.version,
                deployed_at_ms: record.deployed_at_ms,
                deployed_by: record.deployed_by,
            });
        }
        for (field, value) in pairs(bindings, "bindings")? {
            let Some((tenant, trigger)) = field.split_once('/') else {
                return Err(corrupt("bindings", format!("field {field:?}")));
            };
            let record: BindingRecord = json(&value, "bindings")?;
            snapshot.bindings.push(Binding {
                tenant: tenant.to_owned(),
                trigger: trigger.to_owned(),
                actions: record.actions,
                bound_by: record.bound_by,
            });
        }
        snapshot.sort();
        Ok(snapshot)
    }
}
