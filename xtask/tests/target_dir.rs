//! Issue 23, item 9: with `CARGO_TARGET_DIR` (or `build.target-dir`) set, `cargo xtask demo`
//! looked for its binaries under `./target` and failed. xtask takes the target directory from
//! `cargo metadata`, as cargo itself resolves it.

use std::process::Command;

fn target_dir(env: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("target-dir")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap().trim().to_owned()
}

#[test]
fn the_target_directory_is_the_one_cargo_uses() {
    let default = target_dir(&[]);
    assert!(default.ends_with("/target"), "{default}");
    assert_eq!(
        target_dir(&[("CARGO_TARGET_DIR", "/tmp/authgent-elsewhere")]),
        "/tmp/authgent-elsewhere"
    );
    assert_eq!(
        target_dir(&[("CARGO_BUILD_TARGET_DIR", "/tmp/authgent-configured")]),
        "/tmp/authgent-configured"
    );
}
