//! Library code never changes the process environment: `set_var` is
//! unsound while other threads may read the environment, and test
//! harnesses (like any program embedding vtwin) have such threads. Opening
//! the GPU used to set `XDG_RUNTIME_DIR`; now only the `vtwin` binary does,
//! first thing in `main`.

const CHILD_ENV: &str = "VTWIN_ENV_CHILD";

/// Runs itself as a child without `XDG_RUNTIME_DIR`; the child enumerates
/// the GPU adapters (what used to set the variable) and reports whether
/// the variable is still unset.
#[test]
fn opening_the_gpu_leaves_the_environment_alone() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let _ = vtwin::engine::gpu::context::adapters();
        let _ = vtwin::engine::backend::Backend::open(
            vtwin::engine::BackendChoice::Auto,
            None,
            &mut |_| {},
        );
        match std::env::var_os("XDG_RUNTIME_DIR") {
            None => println!("XDG_RUNTIME_DIR=unset"),
            Some(v) => println!("XDG_RUNTIME_DIR={}", v.to_string_lossy()),
        }
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "opening_the_gpu_leaves_the_environment_alone",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("XDG_RUNTIME_DIR=unset"),
        "the library changed the environment:\n{stdout}"
    );
}

/// The binary still gives headless machines a runtime folder: `vtwin
/// adapters` without `XDG_RUNTIME_DIR` works.
#[test]
fn the_binary_runs_without_a_runtime_dir() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .arg("models")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(out.status.success());
}
