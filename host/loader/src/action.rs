//! Action files into loaded actions: a component as it is, JavaScript built into one first.

use std::path::{Path, PathBuf};

use cachet_js::{JsBuildError, JsBuilder, World};
use cachet_runtime::{Action, ActionConfig, LoadError, Runtime, Trigger};
use thiserror::Error;

/// Why an action file could not be loaded.
#[derive(Debug, Error)]
pub enum LoadFileError {
    /// The component (or the one a JavaScript build wrote) could not be read.
    #[error("action `{name}`: cannot read {}: {source}", path.display())]
    Read {
        /// The action.
        name: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A JavaScript action could not be built into a component.
    #[error("action `{name}`: {source}")]
    JavaScript {
        /// The action.
        name: String,
        /// Why (boxed: it is large, and rare).
        source: Box<JsBuildError>,
    },
    /// The trigger has no JavaScript world in this build of the SDK.
    #[error("action `{name}`: the JavaScript SDK has no `{trigger}` world")]
    NoJavaScriptWorld {
        /// The action.
        name: String,
        /// The trigger.
        trigger: Trigger,
    },
    /// The runtime refused the component.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Loads action files into a runtime, building JavaScript and TypeScript actions with its
/// [`JsBuilder`] first. Cheap to clone.
#[derive(Clone)]
pub struct ActionLoader {
    js: JsBuilder,
}

impl ActionLoader {
    /// A loader building JavaScript with `js`.
    pub fn new(js: JsBuilder) -> Self {
        Self { js }
    }

    /// A loader with the default JavaScript cache directory
    /// ([`JsBuilder::default_cache_dir`]) that reports build progress to `progress`.
    pub fn with_progress(progress: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self::new(JsBuilder::new(JsBuilder::default_cache_dir()).on_progress(progress))
    }

    /// The JavaScript builder.
    pub fn js(&self) -> &JsBuilder {
        &self.js
    }

    /// Whether `path` names a JavaScript or TypeScript action rather than a component.
    pub fn is_source(path: &Path) -> bool {
        cachet_js::is_source(path)
    }

    /// The JavaScript world of `trigger`.
    pub fn world(trigger: Trigger) -> Option<World> {
        World::from_name(trigger.world())
    }

    /// The component file of the action at `path`: `path` itself for a component; for a
    /// JavaScript or TypeScript action, the component built from it (cached by content hash:
    /// seconds the first time, milliseconds afterwards). Blocks while building.
    pub fn component(
        &self,
        name: &str,
        trigger: Trigger,
        path: &Path,
    ) -> Result<PathBuf, LoadFileError> {
        if !Self::is_source(path) {
            return Ok(path.to_path_buf());
        }
        let world = Self::world(trigger).ok_or_else(|| LoadFileError::NoJavaScriptWorld {
            name: name.to_string(),
            trigger,
        })?;
        self.js
            .build(path, world)
            .map(|built| built.path)
            .map_err(|source| LoadFileError::JavaScript {
                name: name.to_string(),
                source: Box::new(source),
            })
    }

    /// Loads the action at `path` into `runtime` as [`Runtime::load_action`] does, building
    /// it first if it is JavaScript or TypeScript.
    ///
    /// Blocks while building and compiling; from async code call it inside
    /// `tokio::task::spawn_blocking`.
    pub fn load(
        &self,
        runtime: &Runtime,
        name: &str,
        trigger: Trigger,
        path: &Path,
        config: impl Into<ActionConfig>,
    ) -> Result<Action, LoadFileError> {
        let component = self.component(name, trigger, path)?;
        let wasm = std::fs::read(&component).map_err(|source| LoadFileError::Read {
            name: name.to_string(),
            path: component.clone(),
            source,
        })?;
        Ok(runtime.load_action(name, trigger, &wasm, config)?)
    }
}
