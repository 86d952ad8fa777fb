//! The library's layout, checked: every module imports only from its own layer or below, as
//! the layer list in `src/lib.rs` states; no module imports another that imports it back
//! (directly or round a longer circle); and the library depends on no server, CLI or dev-tool
//! crate and has no build script. Read from the sources, so a change that breaks any of them
//! fails here.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path of a source file: `flow.rs` -> `flow`, `interfaces/http.rs` -> `interfaces::http`,
/// `store/mod.rs` -> `store`.
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap();
            out.push((module_of(rel), std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The code of a file without comments (doc links are not imports).
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Items `lib.rs` re-exports, by name, with the module that defines them.
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in lib.lines().filter(|l| l.starts_with("pub use ")) {
        let rest = line.trim_start_matches("pub use ").trim_end_matches(';');
        // A whole crate re-exported under a name (`pub use cachet_js as js;`) is no module of
        // this crate.
        if !rest.contains("::") {
            continue;
        }
        let (module, items) = match rest.split_once("::{") {
            Some((m, items)) => (m, items.trim_end_matches('}').to_string()),
            None => rest
                .rsplit_once("::")
                .map(|(m, i)| (m, i.to_string()))
                .unwrap(),
        };
        for item in items.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            map.insert(item.to_string(), module.to_string());
        }
    }
    map
}

/// The node a path inside the crate names: a module (top level, or an `interfaces` file).
fn node(path: &[&str], reexported: &BTreeMap<String, String>) -> Option<String> {
    let first = *path.first()?;
    if first.starts_with(|c: char| c.is_ascii_uppercase()) {
        return reexported.get(first).map(|m| node_of_module(m));
    }
    Some(match (first, path.get(1)) {
        ("interfaces", Some(sub)) if sub.starts_with(|c: char| c.is_ascii_lowercase()) => {
            format!("interfaces::{sub}")
        }
        _ => first.to_string(),
    })
}

fn node_of_module(module: &str) -> String {
    let parts: Vec<&str> = module.split("::").collect();
    match parts.as_slice() {
        ["interfaces", sub, ..] => format!("interfaces::{sub}"),
        [first, ..] => first.to_string(),
        [] => String::new(),
    }
}

/// Every `crate::...` path in `code`, split into segments (groups expanded one level).
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let segs: Vec<String> = item
                    .split("::")
                    .map(|s| s.trim().trim_start_matches('{').to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if !segs.is_empty() {
                    out.push(segs);
                }
            }
        } else {
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            );
        }
    }
    out
}

/// Every edge `from -> to` between the library's modules (`interfaces::x` files as their own
/// nodes), read from the `crate::` paths of each file's code.
fn import_edges() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    let lib = files.iter().find(|(m, _)| m == "lib").unwrap().1.clone();
    let reexported = reexports(&lib);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in files.iter().filter(|(m, _)| m != "lib") {
        let from = node_of_module(module);
        for path in crate_paths(&code(text)) {
            let segs: Vec<&str> = path.iter().map(String::as_str).collect();
            if let Some(to) = node(&segs, &reexported)
                && to != from
                && !(from.starts_with("store") && to == "store")
            {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    assert!(edges.len() > 8, "the scan found too few modules: {edges:?}");
    edges
}

/// The layer list of `src/lib.rs`' module docs: `//! N. \`a\`, \`b\`: ...` items, lowest
/// first, continued on indented lines. Returns each top-level module's layer number.
fn stated_layers() -> BTreeMap<String, usize> {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    // Each item's whole text (its continuation lines joined), by layer number.
    let mut items: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for line in lib.lines() {
        let doc = line.strip_prefix("//!").map(str::trim_start);
        match doc {
            Some(doc) => {
                if let Some((number, rest)) = doc.split_once(". ")
                    && let Ok(n) = number.parse::<usize>()
                {
                    items.push((n, rest.to_string()));
                    open = true;
                } else if doc.is_empty() {
                    open = false;
                } else if open && let Some((_, text)) = items.last_mut() {
                    text.push(' ');
                    text.push_str(doc);
                }
            }
            None => open = false,
        }
    }
    let mut layers = BTreeMap::new();
    for (n, text) in items {
        // Module names are the backticked words before the item's first colon.
        let names = text.split(':').next().unwrap_or("");
        for name in names.split('`').skip(1).step_by(2) {
            layers.insert(name.to_string(), n);
        }
    }
    assert!(
        layers.len() > 8,
        "src/lib.rs states too few layers: {layers:?}"
    );
    layers
}

#[test]
fn every_module_imports_only_from_its_own_layer_or_below_as_lib_rs_states() {
    let layers = stated_layers();
    let layer = |node: &str| {
        let top = node.split("::").next().unwrap();
        *layers
            .get(top)
            .unwrap_or_else(|| panic!("module `{top}` is in no layer of src/lib.rs; add it"))
    };
    let mut wrong = Vec::new();
    for (from, tos) in import_edges() {
        for to in tos {
            if layer(&to) > layer(&from) {
                wrong.push(format!(
                    "{from} (layer {}) imports {to} (layer {})",
                    layer(&from),
                    layer(&to)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports up the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_module_imports_another_that_imports_it_back() {
    let edges = import_edges();
    // Depth-first search for a back edge.
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(n) {
            return;
        }
        if let Some(at) = stack.iter().position(|s| s == n) {
            panic!("import circle: {} -> {n}", stack[at..].join(" -> "));
        }
        stack.push(n.to_string());
        for next in edges.get(n).into_iter().flatten() {
            visit(next, edges, stack, done);
        }
        stack.pop();
        done.insert(n.to_string());
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        visit(n, &edges, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_library_depends_on_no_server_cli_dev_store_backend_or_javascript_build_crate_and_has_no_build_script()
 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    for line in manifest.lines() {
        let name = line.split(['.', '=', ' ']).next().unwrap_or("");
        for banned in [
            "axum",
            "clap",
            "anyhow",
            // (`rsa` is the `crypto` interface's, as it is jsonwebtoken's: no longer dev-only.)
            "tracing-subscriber",
            "cachet-dev-idp",
            "cachet-build",
            // Building JavaScript (Node.js, npm) belongs to the loader (host/loader).
            "cachet-js",
            "cachet-loader",
            // Store backends live in crates of their own (host/store-redis).
            "redis",
            "cachet-store-redis",
        ] {
            assert_ne!(name, banned, "cachet-runtime must not depend on {banned}");
        }
    }
    assert!(!manifest.contains("build ="), "no build script");
    assert!(!dir.join("build.rs").exists(), "no build script");
}

/// The workspace's members, as the root `Cargo.toml` lists them (globs expanded): each
/// member's folder and its package name.
fn workspace_members() -> Vec<(std::path::PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let list = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .expect("the root Cargo.toml has a members list");
    let mut dirs = Vec::new();
    for entry in list.lines().map(str::trim) {
        let Some(member) = entry.strip_prefix('"').and_then(|e| e.split_once('"')) else {
            continue;
        };
        match member.0.strip_suffix("/*") {
            Some(parent) => {
                for dir in std::fs::read_dir(root.join(parent)).unwrap() {
                    let dir = dir.unwrap().path();
                    if dir.join("Cargo.toml").is_file() {
                        dirs.push(dir);
                    }
                }
            }
            None => dirs.push(root.join(member.0)),
        }
    }
    dirs.into_iter()
        .map(|dir| {
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            let name = manifest
                .lines()
                .find_map(|l| l.strip_prefix("name = \""))
                .and_then(|l| l.strip_suffix('"'))
                .expect("every member names its package")
                .to_owned();
            (dir, name)
        })
        .collect()
}

#[test]
fn every_workspace_crate_lives_in_a_folder_named_after_it() {
    let members = workspace_members();
    assert!(members.len() > 10, "found only {members:?}");
    for (dir, name) in members {
        let folder = dir.file_name().unwrap().to_str().unwrap();
        // Cachet's own crates are `cachet-<folder>`; actions (examples, test guests) are
        // named as their folder.
        assert!(
            name == format!("cachet-{folder}") || name == folder,
            "{} holds the crate {name}: name the folder after the crate",
            dir.display()
        );
    }
}
