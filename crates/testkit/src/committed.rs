//! Generated files that are committed (the API descriptions under `docs/api/`):
//! a test compares what the code generates with the file, and fails on any
//! difference, so a change to a route, a body or a frame shows in the diff.

use std::path::PathBuf;

/// Set to `1` to rewrite the committed files instead of comparing (`make api-docs`).
pub const UPDATE_VAR: &str = "UPDATE_API_DOCS";

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Panics unless `generated` is byte for byte the committed file at `path`
/// (relative to the workspace root); with `UPDATE_API_DOCS=1` writes it instead.
pub fn assert_matches(path: &str, generated: &str) {
    let file = workspace_root().join(path);
    if std::env::var(UPDATE_VAR).is_ok_and(|v| v == "1") {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(&file, generated).unwrap_or_else(|e| panic!("{path}: {e}"));
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    if committed == generated {
        return;
    }
    let first = committed
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
    panic!(
        "{path} is not what the code generates (first difference at line {}: committed {:?}, \
         generated {:?}). Regenerate it with `make api-docs` (or {UPDATE_VAR}=1 and this \
         test) and commit the result.",
        first + 1,
        committed.lines().nth(first).unwrap_or("<end of file>"),
        generated.lines().nth(first).unwrap_or("<end of file>"),
    );
}
