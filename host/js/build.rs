//! Lists the JavaScript SDK's files for `src/lib.rs` to compile in: the build script, the WIT,
//! and every file of `guest/js/src/` (the shared `common.js` and one file per trigger world).
//! A new trigger's SDK file is picked up by being there; nothing here names a trigger.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("../..");
    let src = root.join("guest/js/src");
    println!("cargo::rerun-if-changed={}", src.display());
    let mut files: Vec<String> = std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", src.display()))
        .map(|entry| {
            entry
                .expect("a readable directory entry")
                .file_name()
                .into_string()
                .expect("SDK file names are UTF-8")
        })
        .filter(|name| name.ends_with(".js"))
        .collect();
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
    out.push(']');
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out_dir).join("sdk_files.rs"), out).expect("writing to OUT_DIR");
}
