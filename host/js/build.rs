//! Lists the JavaScript SDK's files for `src/lib.rs` to compile in: the build script, the WIT,
//! every file of `guest/js/src/` (the shared `common.js`, one file per trigger world, and the
//! Node compatibility layer's shims under `node/`), and each trigger's example event from
//! `examples/events/` (the SDK parses it while a component is built, so the snapshot holds its
//! property names).
//! A new trigger's SDK file is picked up by being there; nothing here names a trigger.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("../..");
    let src = root.join("guest/js/src");
    println!("cargo::rerun-if-changed={}", src.display());
    let mut files = Vec::new();
    list(&src, "", &mut files);
    files.sort();
    let mut out = String::from("&[\n");
    let mut add = |relative: &str, from_root: &str| {
        let absolute = root.join(from_root);
        println!("cargo::rerun-if-changed={}", absolute.display());
        writeln!(
            out,
            "    ({relative:?}, include_str!({:?})),",
            absolute.display().to_string()
        )
        .expect("writing to a String");
    };
    add("build.mjs", "guest/js/build.mjs");
    for file in &files {
        add(&format!("src/{file}"), &format!("guest/js/src/{file}"));
    }
    add("wit/action.wit", "wit/action.wit");
    let events = root.join("examples/events");
    println!("cargo::rerun-if-changed={}", events.display());
    let mut samples: Vec<String> = std::fs::read_dir(&events)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", events.display()))
        .map(|entry| {
            entry
                .expect("a readable directory entry")
                .file_name()
                .into_string()
                .expect("event file names are UTF-8")
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    samples.sort();
    for name in &samples {
        add(
            &format!("events/{name}"),
            &format!("examples/events/{name}"),
        );
    }
    out.push(']');
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out_dir).join("sdk_files.rs"), out).expect("writing to OUT_DIR");
}

/// Every `.js` file under `dir`, as paths relative to `src` joined with `/`.
fn list(dir: &Path, prefix: &str, files: &mut Vec<String>) {
    println!("cargo::rerun-if-changed={}", dir.display());
    for entry in
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
    {
        let entry = entry.expect("a readable directory entry");
        let name = entry
            .file_name()
            .into_string()
            .expect("SDK file names are UTF-8");
        let relative = format!("{prefix}{name}");
        if entry.file_type().expect("a file type").is_dir() {
            list(&entry.path(), &format!("{relative}/"), files);
        } else if name.ends_with(".js") {
            files.push(relative);
        }
    }
}
