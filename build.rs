// Records the git commit vtwin is built from (manifests, bench JSON).
// Absent git or repository: VTWIN_COMMIT is unset and manifests say null.
fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output();
    let commit = out
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(c) = commit.filter(|c| c.len() == 40) {
        println!("cargo:rustc-env=VTWIN_COMMIT={c}");
    }
}
